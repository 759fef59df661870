package wire

import "github.com/mdlayher/ethtool"

// This file holds the types of netlinkx's API, which the codecs of this
// package encode; netlinkx exports each under the same name.

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

// Addr is one interface address (RTM_NEWADDR, struct ifaddrmsg + IFA_*).
type Addr struct {
	Index     int32
	Family    uint8 // unix.AF_INET or unix.AF_INET6
	PrefixLen uint8
	Scope     uint8 // RT_SCOPE_*
	Flags     uint32
	Local     []byte // IFA_LOCAL (4 or 16 bytes)
	Broadcast []byte // IFA_BROADCAST (IPv4)
	Label     string // IFA_LABEL
}

// Neigh is one neighbour table entry (RTM_NEWNEIGH, struct ndmsg + NDA_*).
type Neigh struct {
	Index  int32
	Family uint8
	State  uint16 // NUD_*
	Flags  uint8
	Dst    []byte // NDA_DST
	LLAddr []byte // NDA_LLADDR: the 20-byte IPoIB address
	// Used, Confirmed and Updated are NDA_CACHEINFO's times since the
	// entry was last used, confirmed and updated, in clock_t ticks
	// (USER_HZ, 100 a second, as jiffies_to_clock_t gives them); Refcnt
	// its ndm_refcnt, the references besides the table's.
	Used, Confirmed, Updated, Refcnt uint32
	Probes                           uint32 // NDA_PROBES
}

// Maddr is one interface's multicast list as ip maddr shows it.
type Maddr struct {
	Index int32
	Name  string
	Link  [][]byte // link-layer multicast addresses (20 bytes each)
	Inet  [][]byte // IPv4 groups
}

// Route is `ip route get`'s answer, or a route of the table.
type Route struct {
	Dst, Src   []byte
	Dev        string
	Index      int32  // the device's ifindex (a table's route)
	Family     uint8  // AF_INET, AF_INET6 (a table's route)
	DstLen     uint8  // the destination's prefix length (a table's route)
	Scope      uint8  // rtm_scope (a table's IPv4 route)
	Flags      uint32 // RTNH_F_* (a table's route): RTNH_F_LINKDOWN
	Local      bool
	MTU        uint32 // a path MTU exception; 0 when none
	ExpiresSec uint32
	// Table, Protocol and Metric are the IPv6 route's rtm_table,
	// rtm_protocol and RTA_PRIORITY; an IPv4 answer (a cached route)
	// leaves them 0.
	Table    uint8
	Protocol uint8
	Metric   uint32
}

// SMInfo describes the subnet manager.
type SMInfo struct {
	LID        uint16
	Node       string
	Port       uint32
	Partitions uint32
	Groups     uint32
}

// PingRequest asks the node's IP stack to send one ICMP echo request.
type PingRequest struct {
	Dev       string // -I; empty routes by address
	Dst       []byte
	Size      uint32 // -s: ICMP data bytes
	Ident     uint16
	Seq       uint16
	TimeoutMs uint32
	PMTUDisc  uint8 // -M: netlinkx.PMTUDiscWant (default), PMTUDiscDo, PMTUDiscDont
	// Connect asks for the route alone, as connect(2) on ping's socket:
	// nothing is sent and the reply carries Src and MTU, or the error.
	Connect bool
	// Cancel ends the waits of the requests of Ident to Dst still out,
	// as closing ping's socket leaves nobody to answer; each ends with
	// PingTimeout. Nothing is sent.
	Cancel bool
}

// PingReply is the outcome of one echo request.
type PingReply struct {
	Status uint8
	Src    []byte // the source address used
	From   []byte
	TTL    uint8
	Bytes  uint32 // ICMP bytes received
	RTTNs  uint64
	MTU    uint32 // the interface MTU
	// Together is, with PingUnreachable, how many requests of the same
	// Ident (this one included) failed at once, when the neighbour
	// entry they waited on failed.
	Together uint32
}

// PerfRequest asks for an iperf-like stream from the node to Dst.
type PerfRequest struct {
	Dev        string
	Dst        []byte
	Size       uint32 // UDP payload bytes; 0 fills the MTU
	DurationMs uint32
}

// PerfReply is what the receiver got.
type PerfReply struct {
	Sent, Received, Bytes uint64
	ElapsedNs             uint64
	Events, Completions   uint64 // the receiver's receive-CQ events and completions
	Mode                  uint16
	// LinkMbps is the emulated link rate of the sending interface's port
	// (ethtool's speed): the emulation is not bound by it.
	LinkMbps uint32
}

// LogRecord is one kernel message of a node.
type LogRecord struct {
	Seq    uint64
	TimeNs uint64 // since the driver started
	Text   string
}

// CaptureRequest asks for the packets of one interface, or of several
// fabric ports.
type CaptureRequest struct {
	Dev string // an interface; with Fabric, a fabric port NODE/PORT
	// Also are more fabric ports to capture with Dev, with Fabric: a
	// packet's Iface is 0 for Dev and i for Also[i-1].
	Also    []string
	Snaplen uint32 // bytes of each packet to copy; 0 copies all
	// Fabric asks for what crosses a fabric port, as IB packets (LRH to
	// VCRC) in CapturedPacket.Data, instead of an interface's packets.
	Fabric bool
}

// CapturedPacket is one packet an interface sent, received or dropped.
type CapturedPacket struct {
	TimeNs  int64  // Unix time in nanoseconds
	PktType uint8  // sll_pkttype: netlinkx.PacketHost, PacketBroadcast, ...
	Src     []byte // 20-byte IPoIB address of the sender; zero over a connection
	Dst     []byte // 20-byte IPoIB address of the destination
	RC      bool   // carried over a connection
	Iface   uint32 // which of the request's ports saw it: 0 for Dev, i for Also[i-1]
	Drop    string // the kernel's drop reason when the driver dropped it
	OrigLen uint32 // the IPoIB packet's length, its 4-byte header included
	Data    []byte // the first bytes of the IPoIB packet, up to the snapshot length
}

// CaptureEnd says why a capture ended (netlinkx.CaptureStopped, ...).
type CaptureEnd uint8

// CaptureStats end a capture.
type CaptureStats struct {
	Captured uint64 // packets the capture point saw
	Lost     uint64 // packets lost because the reader fell behind
	End      CaptureEnd
}

// Monitor groups: what a monitor stream carries, as the rtnetlink
// multicast groups ip monitor binds to, and the subnet manager's
// partitions and multicast groups.
const (
	MonitorLink uint32 = 1 << iota
	MonitorAddr
	MonitorNeigh
	MonitorRoute
	MonitorPartition
	MonitorGroup
	MonitorAll = MonitorLink | MonitorAddr | MonitorNeigh | MonitorRoute | MonitorPartition | MonitorGroup
)

// MonitorEvent is one change: Kind (one of the groups) says which field
// holds it. A Group event holds the group with the one member that
// joined, changed its join state or (Deleted) left; a Partition event
// holds no members.
type MonitorEvent struct {
	Kind      uint32
	Deleted   bool
	Link      Link
	Addr      Addr
	Neigh     Neigh
	Route     Route
	Partition Partition
	Group     Group
}
