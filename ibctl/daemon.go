package ibctl

import (
	"context"
	"errors"
)

// Daemon is the driver's service side as the commands see it: how to run
// it in the foreground (`driver start --foreground`, and the process a
// spawn starts). cmd/ibctl injects the emulated driver's; the commands
// themselves link no driver package, and a nil Daemon makes `driver start
// --foreground` fail.
type Daemon interface {
	// CheckTopology loads a topology file and reports what is wrong with
	// it, before a driver is spawned with it.
	CheckTopology(path string) error
	// Run serves on o.Socket until a client stops it or ctx ends. It
	// fails with an error wrapping ErrDriverRunning when another driver
	// holds o.StateDir.
	Run(ctx context.Context, o DaemonOptions) error
}

// DaemonOptions are what `driver start` passes to Daemon.Run.
type DaemonOptions struct {
	Socket   string
	StateDir string
	Topology string // a topology file; "" for the default fabric
	Params   map[string]int
	Recover  bool
	// Netns gives every node a network namespace with its interfaces as
	// kernel netdevs.
	Netns bool
	// Log receives the driver's messages, one line each.
	Log func(string)
}

// ErrDriverRunning is another driver holding the state directory.
var ErrDriverRunning = errors.New("another driver is running with this state directory")
