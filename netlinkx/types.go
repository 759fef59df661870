// Package netlinkx is the control protocol between the ibctl CLI and an IPoIB
// driver: netlink-format messages (rtnetlink links, ethtool-netlink features,
// coalescing and link info, and an ibctl family for sysfs and driver control)
// over a SOCK_SEQPACKET unix socket. Requests get replies plus an ack carrying
// an errno and an extended-ack text, as from the kernel.
// It imports no package of this module: the CLI, sysfs and the driver all
// build on it.
package netlinkx

import "github.com/mdlayher/ethtool"

// IPoIB modes as carried in IFLA_IPOIB_MODE.
const (
	ModeDatagram  uint16 = 0
	ModeConnected uint16 = 1
)

// ModeName is the name iproute2 prints for an IFLA_IPOIB_MODE value.
func ModeName(m uint16) string {
	switch m {
	case ModeDatagram:
		return "datagram"
	case ModeConnected:
		return "connected"
	}
	return "unknown"
}

// IPoIB is the kind-specific part of a link (IFLA_INFO_DATA for kind ipoib).
type IPoIB struct {
	PKey   uint16
	Mode   uint16
	Umcast uint16
}

// Stats are the generic interface counters (a subset of rtnl_link_stats64).
type Stats struct {
	RxPackets, TxPackets uint64
	RxBytes, TxBytes     uint64
	RxErrors, TxErrors   uint64
	RxDropped, TxDropped uint64
	Multicast            uint64
	Collisions           uint64
	RxOverErrors         uint64
	RxCRCErrors          uint64
	RxFrameErrors        uint64
	RxFIFOErrors         uint64
	RxMissedErrors       uint64
	TxAbortedErrors      uint64
	TxCarrierErrors      uint64
	TxFIFOErrors         uint64
	TxHeartbeatErrors    uint64
	TxWindowErrors       uint64
	RxNoHandler          uint64
}

// Link is one network device as RTM_NEWLINK describes it.
type Link struct {
	Index     int32
	Type      uint16 // ARPHRD_INFINIBAND
	Flags     uint32 // IFF_* including IFF_RUNNING and IFF_LOWER_UP
	Name      string
	MTU       uint32
	MinMTU    uint32
	MaxMTU    uint32
	TxQLen    uint32
	Qdisc     string // IFLA_QDISC
	Operstate uint8  // IF_OPER_*
	Carrier   bool
	// CarrierChanges is IFLA_CARRIER_CHANGES.
	CarrierChanges uint32
	Address        []byte
	Broadcast      []byte
	ParentIndex    int32 // IFLA_LINK; 0 when the device has no parent
	NumTxQ         uint32
	NumRxQ         uint32
	GSOMaxSize     uint32
	GSOMaxSegs     uint32
	TSOMaxSize     uint32
	TSOMaxSegs     uint32
	GROMaxSize     uint32
	ParentBus      string // IFLA_PARENT_DEV_BUS_NAME
	ParentDev      string // IFLA_PARENT_DEV_NAME
	Kind           string
	IPoIB          *IPoIB
	Stats          Stats
}

// LinkRequest is RTM_NEWLINK (create or change) or RTM_SETLINK.
type LinkRequest struct {
	Index       int32
	Name        string // device to change; the new name when creating
	ParentIndex int32  // IFLA_LINK when creating
	Up          *bool
	MTU         *uint32
	Kind        string // "ipoib" when IFLA_LINKINFO is present
	PKey        *uint16
	Mode        *uint16
	Umcast      *uint16
}

// Feature is one netdev feature as ethtool-netlink FEATURES_GET reports it.
type Feature struct {
	Name      string
	Available bool // in hw_features: the user may change it
	Wanted    bool
	Active    bool
	NoChange  bool // fixed
}

// FeatureBit is one feature of a FEATURES_SET reply: its index in the
// feature list, its name and its value.
type FeatureBit struct {
	Index uint32
	Name  string
	Value bool
}

// FeaturesChange is the FEATURES_SET reply, as ethnl_set_features builds
// it from the states just before and just after the change: Wanted has
// the requested features that did not end as requested (the value
// requested), Active the features the change turned on or off (the new
// value), both in kernel order.
type FeaturesChange struct {
	Wanted, Active []FeatureBit
}

// Coalesce holds interrupt moderation parameters. From the driver,
// Supported lists the ETHTOOL_A_COALESCE_* attributes it accepts; from a
// COALESCE_GET reply, the attributes the reply carried: the supported
// ones and any other whose value is not zero (coalesce_fill_reply).
type Coalesce struct {
	RxUsecs    uint32
	RxFrames   uint32
	TxUsecs    uint32
	TxFrames   uint32
	AdaptiveRx bool
	AdaptiveTx bool
	CQEModeRx  bool
	CQEModeTx  bool
	Supported  []uint16
}

// CoalesceSet is a COALESCE_SET request: attribute type → value.
type CoalesceSet map[uint16]uint32

// Rings holds ring sizes as RINGS_GET reports them: the maximums and the
// current RX and TX sizes (IPoIB has no mini or jumbo rings).
type Rings struct {
	RxMax, TxMax uint32
	Rx, Tx       uint32
}

// RingsSet is a RINGS_SET request: attribute type → value.
type RingsSet map[uint16]uint32

// Channels holds channel counts as CHANNELS_GET reports them: the
// maximums and current counts of RX, TX, other and combined channels.
type Channels struct {
	RxMax, TxMax, OtherMax, CombinedMax uint32
	Rx, Tx, Other, Combined             uint32
}

// ChannelsSet is a CHANNELS_SET request: attribute type → value.
type ChannelsSet map[uint16]uint32

// LinkSettings is what `ethtool DEV` shows, in mdlayher/ethtool's types.
type LinkSettings struct {
	Port          ethtool.Port
	SpeedMegabits int // 0 when unknown
	Duplex        ethtool.Duplex
	Autoneg       ethtool.Autoneg
	PHYAddress    uint8
	Link          bool
}

// DriverInfo is `ethtool -i`.
type DriverInfo struct {
	Driver, Version, Firmware, BusInfo string
	NStats                             uint32
}

// Stat is one `ethtool -S` counter.
type Stat struct {
	Name  string
	Value uint64
}

// SysEntry is one file or directory under a sysfs path.
type SysEntry struct {
	Name string
	Mode uint32 // permission bits; directories have 0x80000000 set
}

// SysDir marks a directory in SysEntry.Mode.
const SysDir uint32 = 0x80000000

// Status describes the running driver.
type Status struct {
	PID      uint32
	Socket   string
	StateDir string
	Nodes    []string
	Links    uint32
	Uptime   uint64 // seconds
	// StartedNs is when the driver started (its nodes' boot), wall clock
	// in Unix nanoseconds: what dmesg -T adds a message's time to.
	StartedNs int64
}

// HCA is one node's host channel adapter as ibstat shows it.
type HCA struct {
	Name, Type, Firmware   string
	HWVersion              string
	PartitionCap           uint32 // NodeInfo:PartitionCap, the P_Key table's size
	NodeGUID, SysImageGUID uint64
	Ports                  []HCAPort
}

// HCAPort is one HCA port.
type HCAPort struct {
	Num              uint32
	State, PhysState string
	Rate             string // Gb/s as ibstat prints it
	LID, SMLID       uint16
	CapMask          uint32 // PortInfo:CapabilityMask
	PortGUID         uint64
	Width, Speed     string
	MTU              uint32 // port IB MTU
	PKeys            []uint16
}

// Partition is one entry of the subnet manager's partition table.
type Partition struct {
	PKey    uint16 // full-member form
	MTU     uint32 // broadcast group IB MTU
	All     string // "full", "limited" or "" (members only)
	Members []PartitionMember
}

// PartitionMember is one port's membership.
type PartitionMember struct {
	Node string
	Port uint32
	Full bool
}

// Group is one multicast group of the subnet manager.
type Group struct {
	MGID      [16]byte
	MLID      uint16
	PKey      uint16
	QKey      uint32
	MTU       uint32
	Rate      uint32 // Mb/s
	Broadcast bool
	Members   []GroupMember
}

// GroupMember is one port's membership of a group.
type GroupMember struct {
	Node      string
	Port      uint32
	JoinState uint8
}
