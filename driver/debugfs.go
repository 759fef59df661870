package driver

import (
	"bytes"
	"sort"
	"time"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/sysfs"
)

var _ sysfs.Debugfs = (*Node)(nil)

// Emulated kernel tick: HZ 250, jiffies starting at INITIAL_JIFFIES
// (-300 s worth, as an unsigned 32-bit value) when the driver starts.
const (
	hz             = 250
	initialJiffies = int64(1<<32 - 300*hz)
)

// jiffies is the emulated kernel's tick count.
func (d *Driver) jiffies() int64 {
	return initialJiffies + int64(d.now().Sub(d.started)/(time.Second/hz))
}

// McastGroups lists <dev>_mcg: the multicast groups the interface joined
// (the broadcast group while the interface is up and joined) and its
// send-only entries, each with the jiffies of its creation.
func (n *Node) McastGroups(dev string) ([]sysfs.MCG, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("debugfs", 0, dev)
	if err != nil {
		return nil, err
	}
	if !nd.joined {
		return nil, nil
	}
	out := append(nd.mcgRecords(), sysfs.MCG{GID: fabric.BroadcastMGID(nd.pkey), Created: nd.mcCreated, Complete: true})
	if dp := nd.dp; dp != nil {
		for _, g := range dp.SendOnlyGroups() {
			out = append(out, sysfs.MCG{GID: g.MGID, Created: g.Created, Complete: true, SendOnly: true})
		}
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].GID[:], out[j].GID[:]) < 0 })
	return out, nil
}

// Paths lists <dev>_path: the path records the interface looked up,
// sorted by GID.
func (n *Node) Paths(dev string) ([]sysfs.Path, error) {
	n.d.mu.Lock()
	nd, err := n.lookup("debugfs", 0, dev)
	var dp *ipoib.Endpoint
	if err == nil {
		dp = nd.dp
	}
	n.d.mu.Unlock()
	if err != nil || dp == nil {
		return nil, err
	}
	var out []sysfs.Path
	for _, p := range dp.Paths() {
		out = append(out, sysfs.Path{GID: p.GID, Complete: p.DLID != 0, DLID: p.DLID, SL: p.SL, RateMbps: p.Rate})
	}
	return out, nil
}
