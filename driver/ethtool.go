package driver

import (
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/mdlayher/ethtool"
	"golang.org/x/sys/unix"
)

// Coalescing parameters IPoIB supports (ipoib_ethtool.c).
var coalesceSupported = []uint16{unix.ETHTOOL_A_COALESCE_RX_USECS, unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES}

// Coalesce is COALESCE_GET.
func (n *Node) Coalesce(dev string) (netlinkx.Coalesce, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("coalesce", 0, dev)
	if err != nil {
		return netlinkx.Coalesce{}, err
	}
	return netlinkx.Coalesce{RxUsecs: uint32(nd.rxUsecs), RxFrames: uint32(nd.rxFrames), Supported: coalesceSupported}, nil
}

// SetCoalesce is COALESCE_SET: ethtool-netlink's
// ethnl_set_coalesce_validate (net/ethtool/coalesce.c) refuses a parameter
// outside the supported set with EINVAL and an extack message (the
// EOPNOTSUPP of the old ioctl path is not what ethtool 6.1 sees);
// ipoib_set_coalesce refuses values above 0xffff (EINVAL, no message),
// then applies them to the RX CQ and stores them.
func (n *Node) SetCoalesce(dev string, set netlinkx.CoalesceSet) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("coalesce", 0, dev)
	if err != nil {
		return err
	}
	for typ := range set {
		if typ != unix.ETHTOOL_A_COALESCE_RX_USECS && typ != unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES {
			return errorf("coalesce", dev, unix.EINVAL, "cannot modify an unsupported parameter")
		}
	}
	usecs, frames := uint32(nd.rxUsecs), uint32(nd.rxFrames)
	if v, ok := set[unix.ETHTOOL_A_COALESCE_RX_USECS]; ok {
		usecs = v
	}
	if v, ok := set[unix.ETHTOOL_A_COALESCE_RX_MAX_FRAMES]; ok {
		frames = v
	}
	if usecs > 0xffff || frames > 0xffff {
		return errorf("coalesce", dev, unix.EINVAL, "")
	}
	return n.change([]*Netdev{nd}, func() error {
		nd.rxUsecs, nd.rxFrames = uint16(usecs), uint16(frames)
		if nd.dp != nil {
			// ipoib_set_coalesce applies the values to the receive CQ.
			_ = nd.dp.ModerateRx(nd.rxFrames, nd.rxUsecs)
		}
		return nil
	})
}

// LinkSettings is ipoib_get_link_ksettings plus the carrier test.
func (n *Node) LinkSettings(dev string) (netlinkx.LinkSettings, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("link settings", 0, dev)
	if err != nil {
		return netlinkx.LinkSettings{}, err
	}
	// A netdev starts with carrier "ok"; IPoIB first turns it off in
	// ipoib_open, so a device never opened reports the link's speed while
	// "Link detected" (running and carrier) is no.
	if !nd.carrier && nd.active {
		return netlinkx.LinkSettings{Duplex: ethtool.Unknown}, nil
	}
	return netlinkx.LinkSettings{
		Port: ethtool.Other, SpeedMegabits: n.portSpec(nd.port).LinkSpeed(), Duplex: ethtool.Full,
		Autoneg: ethtool.AutonegOn, PHYAddress: 255, Link: nd.up && nd.carrier,
	}, nil
}

// statNames are ipoib_gstrings_stats in order.
var statNames = []string{"rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "tx_errors", "rx_dropped", "tx_dropped", "multicast"}

// DriverInfo is ipoib_get_drvinfo.
func (n *Node) DriverInfo(dev string) (netlinkx.DriverInfo, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	if _, err := n.lookup("drvinfo", 0, dev); err != nil {
		return netlinkx.DriverInfo{}, err
	}
	return netlinkx.DriverInfo{Driver: "ib_ipoib", Version: n.d.release, Firmware: n.hw.Spec.Firmware,
		BusInfo: n.hw.Spec.BusInfo, NStats: uint32(len(statNames))}, nil
}

// defaultRelease is the driver version reported when none is configured.
const defaultRelease = "6.18.0"

// Stats is ipoib_get_ethtool_stats.
func (n *Node) Stats(dev string) ([]netlinkx.Stat, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("stats", 0, dev)
	if err != nil {
		return nil, err
	}
	s := nd.stats()
	vals := []uint64{s.RxPackets, s.TxPackets, s.RxBytes, s.TxBytes, s.TxErrors, s.RxDropped, s.TxDropped, s.Multicast}
	out := make([]netlinkx.Stat, len(statNames))
	for i, name := range statNames {
		out[i] = netlinkx.Stat{Name: name, Value: vals[i]}
	}
	return out, nil
}
