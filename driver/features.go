package driver

import (
	"sync"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// featureNames are the kernel's netdev_features_strings in bit order
// (include/linux/netdev_features.h, net/ethtool/common.c); bits without a
// string (unused) are left out, so an index here is not a kernel bit.
var featureNames = []string{
	"tx-scatter-gather",
	"tx-checksum-ipv4",
	"tx-checksum-ip-generic",
	"tx-checksum-ipv6",
	"highdma",
	"tx-scatter-gather-fraglist",
	"tx-vlan-hw-insert",
	"rx-vlan-hw-parse",
	"rx-vlan-filter",
	"vlan-challenged",
	"tx-generic-segmentation",
	"rx-gro",
	"rx-lro",
	"tx-tcp-segmentation",
	"tx-gso-robust",
	"tx-tcp-ecn-segmentation",
	"tx-tcp-mangleid-segmentation",
	"tx-tcp6-segmentation",
	"tx-fcoe-segmentation",
	"tx-gre-segmentation",
	"tx-gre-csum-segmentation",
	"tx-ipxip4-segmentation",
	"tx-ipxip6-segmentation",
	"tx-udp_tnl-segmentation",
	"tx-udp_tnl-csum-segmentation",
	"tx-gso-partial",
	"tx-tunnel-remcsum-segmentation",
	"tx-sctp-segmentation",
	"tx-esp-segmentation",
	"tx-udp-segmentation",
	"tx-gso-list",
	"tx-tcp-accecn-segmentation",
	"tx-checksum-fcoe-crc",
	"tx-checksum-sctp",
	"rx-ntuple-filter",
	"rx-hashing",
	"rx-checksum",
	"tx-nocache-copy",
	"loopback",
	"rx-fcs",
	"rx-all",
	"tx-vlan-stag-hw-insert",
	"rx-vlan-stag-hw-parse",
	"rx-vlan-stag-filter",
	"l2-fwd-offload",
	"hw-tc-offload",
	"esp-hw-offload",
	"esp-tx-csum-hw-offload",
	"rx-udp_tunnel-port-offload",
	"tls-hw-tx-offload",
	"tls-hw-rx-offload",
	"rx-gro-hw",
	"tls-hw-record",
	"rx-gro-list",
	"macsec-hw-offload",
	"rx-udp-gro-forwarding",
	"hsr-tag-ins-offload",
	"hsr-tag-rm-offload",
	"hsr-fwd-offload",
	"hsr-dup-offload",
}

// featureSet is a bitmask over featureNames.
type featureSet uint64

// featureIndex maps a feature's name to its index in featureNames, built
// on first use.
var featureIndex = sync.OnceValue(func() map[string]int {
	m := make(map[string]int, len(featureNames))
	for i, n := range featureNames {
		m[n] = i
	}
	return m
})

// The features the driver sets, as constants (TestFeatureConstants
// checks each against its names), so that nothing is computed at start.
const (
	fSG          featureSet = 1 << 0  // tx-scatter-gather
	fIPCsum      featureSet = 1 << 1  // tx-checksum-ipv4
	fHWCsum      featureSet = 1 << 2  // tx-checksum-ip-generic
	fIPv6Csum    featureSet = 1 << 3  // tx-checksum-ipv6
	fRxCsum      featureSet = 1 << 36 // rx-checksum
	fTSO         featureSet = 1 << 13 // tx-tcp-segmentation
	fTSOMangleID featureSet = 1 << 16 // tx-tcp-mangleid-segmentation
	fTSO6        featureSet = 1 << 17 // tx-tcp6-segmentation
	fTSOECN      featureSet = 1 << 15 // tx-tcp-ecn-segmentation
	fLRO         featureSet = 1 << 12 // rx-lro
	fGROHW       featureSet = 1 << 51 // rx-gro-hw
	fRxHash      featureSet = 1 << 35 // rx-hashing
	// fixedOn is in features but not hw_features: SG (max_send_sge > 1),
	// HIGHDMA and VLAN_CHALLENGED, always on and not changeable.
	fixedOn featureSet = 1<<0 | 1<<4 | 1<<9 // tx-scatter-gather, highdma, vlan-challenged
	// neverChange is NETIF_F_NEVER_CHANGE.
	neverChange featureSet = 1 << 9 // vlan-challenged
	// softwareDefaults are the core's NETIF_F_SOFT_FEATURES, on at register.
	softwareDefaults featureSet = 1<<10 | 1<<11 // tx-generic-segmentation, rx-gro
	// softwareOff are changeable software features that start off
	// (NETIF_F_SOFT_FEATURES_OFF and tx-nocache-copy).
	softwareOff featureSet = 1<<53 | 1<<55 | 1<<37 // rx-gro-list, rx-udp-gro-forwarding, tx-nocache-copy
)

// enhancedHW is what mlx5i_init (mlx5/core/ipoib/ipoib.c) puts in
// hw_features of an enhanced IPoIB netdev: SG, IPv4 and IPv6 checksum,
// GRO, TSO and TSO6, receive checksum and hashing. ipoib_set_dev_features
// adds IPv4 checksum, receive checksum and TSO, which are among them.
const enhancedHW = fSG | fIPCsum | fIPv6Csum | fTSO | fTSO6 | fRxCsum | fRxHash

// fixed is what is in features but not hw_features: always on and not
// changeable. Enhanced IPoIB offers SG as a changeable feature.
func (nd *Netdev) fixed() featureSet {
	if nd.enhanced() {
		return fixedOn &^ fSG
	}
	return fixedOn
}

// hwFeatures is hw_features: what the HCA offers IPoIB plus the core's
// changeable software features (register_netdevice adds mangle-ID TSO
// where TSO is). LRO is offered on checksum-capable HCAs as
// Documentation/infiniband/ipoib.rst describes it, by the classic driver
// only.
func (nd *Netdev) hwFeatures() featureSet {
	c := nd.caps()
	hw := softwareDefaults | softwareOff
	if nd.enhanced() {
		return hw | enhancedHW | fTSOMangleID
	}
	if c.Checksum {
		hw |= fIPCsum | fRxCsum | fLRO
		if c.LSO {
			hw |= fTSO | fTSOMangleID
		}
	}
	return hw
}

// initialWanted is wanted_features after register_netdevice: what the
// driver enabled (features |= hw_features, LRO off as the old module
// parameter lro=0) plus the core's software features; the changeable
// features the core adds later (tx-nocache-copy, mangle-ID TSO, GRO list,
// UDP GRO forwarding) start off.
func (nd *Netdev) initialWanted() featureSet {
	return nd.hwFeatures()&^(fLRO|softwareOff|fTSOMangleID) | softwareDefaults
}

// activeFeatures is __netdev_update_features: wanted plus the fixed ones,
// through ipoib_fix_features and the core's netdev_fix_features.
func (nd *Netdev) activeFeatures() featureSet {
	hw := nd.hwFeatures()
	f := nd.fixed() | (nd.wanted & hw)
	// ipoib_fix_features: stateless offloads only in datagram mode.
	if nd.mode == netlinkx.ModeConnected {
		f &^= fIPCsum | fTSO | fLRO
	}
	// netdev_fix_features: TSO needs SG and a checksum feature.
	if f&fSG == 0 {
		f &^= fTSO | fTSO6 | fTSOECN | fTSOMangleID
	}
	if f&(fIPCsum|fHWCsum) == 0 {
		f &^= fTSO | fTSOECN
	}
	if f&(fIPv6Csum|fHWCsum) == 0 {
		f &^= fTSO6
	}
	if f&fTSO == 0 {
		f &^= fTSOMangleID
	}
	if f&fRxCsum == 0 {
		f &^= fGROHW
	}
	return f
}

func (nd *Netdev) features() []netlinkx.Feature {
	hw, active := nd.hwFeatures(), nd.activeFeatures()
	wanted := (nd.wanted & hw) | nd.fixed()
	out := make([]netlinkx.Feature, len(featureNames))
	for i, name := range featureNames {
		bit := featureSet(1) << i
		out[i] = netlinkx.Feature{Name: name, Available: hw&bit != 0, Wanted: wanted&bit != 0,
			Active: active&bit != 0, NoChange: neverChange&bit != 0}
	}
	return out
}

// Features is FEATURES_GET.
func (n *Node) Features(dev string) ([]netlinkx.Feature, error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("features", 0, dev)
	if err != nil {
		return nil, err
	}
	return nd.features(), nil
}

// SetFeatures is FEATURES_SET: names the kernel does not know fail with
// EINVAL; requests for features outside hw_features are dropped, as
// ethnl_set_features does, and the caller sees the result: the features
// just before and just after the change, read under the same lock.
func (n *Node) SetFeatures(dev string, want map[string]bool) (before, after []netlinkx.Feature, err error) {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	nd, err := n.lookup("features", 0, dev)
	if err != nil {
		return nil, nil, err
	}
	var on, off featureSet
	for name, v := range want {
		i, ok := featureIndex()[name]
		if !ok {
			return nil, nil, errorf("features", dev, unix.EINVAL, "unrecognized feature name %q", name)
		}
		if neverChange&(1<<i) != 0 {
			return nil, nil, errorf("features", dev, unix.EINVAL, "attempt to change non-ethtool features")
		}
		if v {
			on |= 1 << i
		} else {
			off |= 1 << i
		}
	}
	hw := nd.hwFeatures()
	before = nd.features()
	if err := n.change([]*Netdev{nd}, func() error {
		nd.wanted = (nd.wanted&^off | on) & hw
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return before, nd.features(), nil
}
