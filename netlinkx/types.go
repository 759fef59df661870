// Package netlinkx is the control protocol between the ibctl CLI and an IPoIB
// driver: netlink-format messages (rtnetlink links, ethtool-netlink features,
// coalescing and link info, and an ibctl family for sysfs and driver control)
// over a SOCK_SEQPACKET unix socket. Requests get replies plus an ack carrying
// an errno and an extended-ack text, as from the kernel.
//
// This package holds the client, the server, the streams and the Backend
// interfaces a driver implements. The message types they exchange (Link,
// Addr, Feature, ...) are aliases of the types of netlinkx/internal/wire,
// which encodes them next to the table of the protocol's numbers; `go doc
// ./netlinkx/internal/wire Link` shows a type's fields.
//
// It imports no package of this module but its own internal one: the CLI,
// sysfs and the driver all build on it.
package netlinkx

import "github.com/ibctl/ibctl/netlinkx/internal/wire"

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
type IPoIB = wire.IPoIB

// Stats are the generic interface counters (a subset of rtnl_link_stats64).
type Stats = wire.Stats

// Link is one network device as RTM_NEWLINK describes it.
type Link = wire.Link

// LinkRequest is RTM_NEWLINK (create or change) or RTM_SETLINK.
type LinkRequest = wire.LinkRequest

// Feature is one netdev feature as ethtool-netlink FEATURES_GET reports it.
type Feature = wire.Feature

// FeatureBit is one feature of a FEATURES_SET reply: its index in the
// feature list, its name and its value.
type FeatureBit = wire.FeatureBit

// FeaturesChange is the FEATURES_SET reply, as ethnl_set_features builds
// it from the states just before and just after the change: Wanted has
// the requested features that did not end as requested (the value
// requested), Active the features the change turned on or off (the new
// value), both in kernel order.
type FeaturesChange = wire.FeaturesChange

// Coalesce holds interrupt moderation parameters. From the driver,
// Supported lists the ETHTOOL_A_COALESCE_* attributes it accepts; from a
// COALESCE_GET reply, the attributes the reply carried: the supported
// ones and any other whose value is not zero (coalesce_fill_reply).
type Coalesce = wire.Coalesce

// CoalesceSet is a COALESCE_SET request: attribute type → value.
type CoalesceSet = wire.CoalesceSet

// Rings holds ring sizes as RINGS_GET reports them: the maximums and the
// current RX and TX sizes (IPoIB has no mini or jumbo rings).
type Rings = wire.Rings

// RingsSet is a RINGS_SET request: attribute type → value.
type RingsSet = wire.RingsSet

// Channels holds channel counts as CHANNELS_GET reports them: the
// maximums and current counts of RX, TX, other and combined channels.
type Channels = wire.Channels

// ChannelsSet is a CHANNELS_SET request: attribute type → value.
type ChannelsSet = wire.ChannelsSet

// LinkSettings is what `ethtool DEV` shows, in mdlayher/ethtool's types.
type LinkSettings = wire.LinkSettings

// DriverInfo is `ethtool -i`.
type DriverInfo = wire.DriverInfo

// Stat is one `ethtool -S` counter.
type Stat = wire.Stat

// SysEntry is one file or directory under a sysfs path.
type SysEntry = wire.SysEntry

// SysDir marks a directory in SysEntry.Mode.
const SysDir uint32 = 0x80000000

// Status describes the running driver.
type Status = wire.Status

// HCA is one node's host channel adapter as ibstat shows it.
type HCA = wire.HCA

// HCAPort is one HCA port.
type HCAPort = wire.HCAPort

// Partition is one entry of the subnet manager's partition table.
type Partition = wire.Partition

// PartitionMember is one port's membership.
type PartitionMember = wire.PartitionMember

// Group is one multicast group of the subnet manager.
type Group = wire.Group

// GroupMember is one port's membership of a group.
type GroupMember = wire.GroupMember

// Addr is one interface address (RTM_NEWADDR, struct ifaddrmsg + IFA_*).
type Addr = wire.Addr

// Neigh is one neighbour table entry (RTM_NEWNEIGH, struct ndmsg + NDA_*).
type Neigh = wire.Neigh

// Maddr is one interface's multicast list as ip maddr shows it.
type Maddr = wire.Maddr

// Route is `ip route get`'s answer, or a route of the table.
type Route = wire.Route

// SMInfo describes the subnet manager.
type SMInfo = wire.SMInfo

// PingRequest asks the node's IP stack to send one ICMP echo request.
type PingRequest = wire.PingRequest

// PingReply is the outcome of one echo request.
type PingReply = wire.PingReply

// PerfRequest asks for an iperf-like stream from the node to Dst.
type PerfRequest = wire.PerfRequest

// PerfReply is what the receiver got.
type PerfReply = wire.PerfReply

// LogRecord is one kernel message of a node.
type LogRecord = wire.LogRecord

// CaptureRequest asks for the packets of one interface, or of several
// fabric ports.
type CaptureRequest = wire.CaptureRequest

// CapturedPacket is one packet an interface sent, received or dropped.
type CapturedPacket = wire.CapturedPacket

// CaptureEnd says why a capture ended.
type CaptureEnd = wire.CaptureEnd

// CaptureStats end a capture.
type CaptureStats = wire.CaptureStats

// MonitorEvent is one change: Kind (one of the groups) says which field
// holds it. A Group event holds the group with the one member that
// joined, changed its join state or (Deleted) left; a Partition event
// holds no members.
type MonitorEvent = wire.MonitorEvent
