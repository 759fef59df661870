// Command ibctl configures the IPoIB interfaces of an emulated ib_ipoib
// driver with sysfs, ip link and ethtool semantics.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/ibctl/ibctl/driver/daemon"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/ibctl"
)

func main() {
	os.Exit(ibctl.Run(ibctl.NewFactory(emulated{}), os.Args[1:]))
}

// emulated runs the emulated driver (driver/daemon) for `driver start`.
type emulated struct{}

func (emulated) CheckTopology(path string) error {
	_, err := fabric.LoadTopology(path)
	return err
}

func (emulated) Run(ctx context.Context, o ibctl.DaemonOptions) error {
	var topo *fabric.Topology
	if o.Topology != "" {
		var err error
		if topo, err = fabric.LoadTopology(o.Topology); err != nil {
			return err
		}
	}
	err := daemon.Run(ctx, daemon.Options{Socket: o.Socket, StateDir: o.StateDir, Topology: topo, Params: o.Params,
		Recover: o.Recover, Netns: o.Netns, Log: o.Log})
	if errors.Is(err, daemon.ErrRunning) {
		return ibctl.ErrDriverRunning
	}
	return err
}
