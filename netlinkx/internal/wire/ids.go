package wire

import "github.com/mdlayher/netlink"

// This file is the one table of the protocol's numbers: the generic
// netlink families served on the ibctl socket, the commands of the ibctl
// family, and its attributes. A number is never reused.

// Generic netlink family IDs served on the ibctl socket. A kernel assigns
// these dynamically (resolved through the genl controller); the emulated
// driver fixes them.
const (
	FamilyEthtool netlink.HeaderType = 0x20
	FamilyIbctl   netlink.HeaderType = 0x21
)

// Batch modes, CmdBatch's AttrValue. BatchOff syncs and ends a batch;
// BatchOn starts deferred syncing (changes acknowledged before they are
// synced); BatchStop is BatchOn where the first failed request makes the
// session answer every later one ECANCELED without running it, until
// the mode is set again. The driver answers BatchStop with a message
// carrying AttrValue BatchStop before the ack, so a client tells a
// driver that knows it from one that took it as BatchOn.
const (
	BatchOff  uint8 = 0
	BatchOn   uint8 = 1
	BatchStop uint8 = 2
)

// Commands of the ibctl family.
const (
	CmdBind     uint8 = 1 // select the node this connection talks to
	CmdStatus   uint8 = 2
	CmdStop     uint8 = 3
	CmdSysRead  uint8 = 4
	CmdSysWrite uint8 = 5
	CmdSysList  uint8 = 6 // dump
	CmdDrvInfo  uint8 = 7
	CmdStats    uint8 = 8 // dump
	CmdBatch    uint8 = 9 // AttrValue u8: a Batch mode

	// The HCA and the subnet manager.
	CmdHCA      uint8 = 10
	CmdPartList uint8 = 11 // dump
	CmdPartAdd  uint8 = 12
	CmdPartDel  uint8 = 13
	CmdGroups   uint8 = 14 // dump

	CmdPing     uint8 = 15 // send one echo request
	CmdDmesg    uint8 = 16 // dump: a node's kernel messages after AttrSeq
	CmdPerf     uint8 = 17 // run a perf stream
	CmdMaddr    uint8 = 18 // dump: the multicast lists (iproute2 reads them from /proc/net/dev_mcast and /proc/net/igmp)
	CmdSMShow   uint8 = 19
	CmdRouteGet uint8 = 20 // the route to AttrDst

	// CmdCapture streams an interface's packets: one NLM_F_MULTI message
	// per packet, a last one with AttrEnd, then NLMSG_DONE. Any request
	// the client sends meanwhile (CmdCaptureStop) ends the stream.
	CmdCapture     uint8 = 21
	CmdCaptureStop uint8 = 22

	// CmdDmesgClear clears a node's kernel messages up to AttrSeq, as
	// syslog(2)'s SYSLOG_ACTION_CLEAR does for the ring dmesg reads.
	CmdDmesgClear uint8 = 23

	CmdRouteList uint8 = 24 // dump: the main routing table

	// CmdMonitor streams a node's events, as an rtnetlink socket bound
	// to multicast groups reads them: RTM_NEWLINK, RTM_DELLINK,
	// RTM_NEWADDR, RTM_DELADDR, RTM_NEWNEIGH, RTM_DELNEIGH messages as
	// the kernel sends them, and messages of this family for routes and
	// the subnet manager's partitions and groups; NLMSG_DONE ends it when
	// the driver stops. Any request the client sends meanwhile ends the
	// stream, as CmdCaptureStop does a capture.
	CmdMonitor uint8 = 25
)

// IsDump reports whether cmd answers with a dump, as a generic netlink
// family's dumpit does: one NLM_F_MULTI message per entry, then
// NLMSG_DONE, so that a listing of any length crosses the socket in
// datagrams of whole messages. Dumps need NLM_F_DUMP, and the other
// commands refuse it (genl_family_rcv_msg: EOPNOTSUPP without a handler).
func IsDump(cmd uint8) bool {
	switch cmd {
	case CmdSysList, CmdStats, CmdPartList, CmdGroups, CmdDmesg, CmdMaddr, CmdRouteList:
		return true
	}
	return false
}

// Attributes of the ibctl family.
const (
	AttrNode     uint16 = 1
	AttrPath     uint16 = 2
	AttrData     uint16 = 3
	AttrWritten  uint16 = 4
	AttrEntry    uint16 = 5 // nested: AttrName, AttrMode, or a dump's entry
	AttrDev      uint16 = 6
	AttrDriver   uint16 = 7
	AttrVersion  uint16 = 8
	AttrFirmware uint16 = 9
	AttrBusInfo  uint16 = 10
	AttrNStats   uint16 = 11
	AttrStat     uint16 = 12 // nested: AttrName, AttrValue
	AttrPID      uint16 = 13
	AttrSocket   uint16 = 14
	AttrStateDir uint16 = 15
	AttrUptime   uint16 = 16
	AttrStarted  uint16 = 105 // u64, the driver's start in Unix nanoseconds
	AttrComm     uint16 = 107 // string: the reading program's name, for a sysfs read
	AttrLinks    uint16 = 17
	AttrName     uint16 = 18
	AttrMode     uint16 = 19
	AttrValue    uint16 = 20

	// HCA, partition and group messages (nested under AttrEntry where a
	// list is sent).
	AttrHCAName   uint16 = 30
	AttrHCAType   uint16 = 31
	AttrNodeGUID  uint16 = 32
	AttrSysGUID   uint16 = 33
	AttrPort      uint16 = 34 // nested port
	AttrPortNum   uint16 = 35
	AttrState     uint16 = 36
	AttrPhysState uint16 = 37
	AttrRate      uint16 = 38
	AttrLID       uint16 = 39
	AttrSMLID     uint16 = 40
	AttrPortGUID  uint16 = 41
	AttrWidth     uint16 = 42
	AttrSpeed     uint16 = 43
	AttrMTU       uint16 = 44
	AttrPKey      uint16 = 45 // u16, repeated for a table
	AttrAll       uint16 = 46
	AttrMember    uint16 = 47 // nested: AttrNode, AttrPortNum, AttrFull / AttrJoinState
	AttrFull      uint16 = 48
	AttrMGID      uint16 = 49
	AttrMLID      uint16 = 50
	AttrQKey      uint16 = 51
	AttrBroadcast uint16 = 52
	AttrJoinState uint16 = 53
	AttrHWVersion uint16 = 54
	AttrCapMask   uint16 = 55
	AttrPKeyCap   uint16 = 56

	// Ping messages; dmesg records use AttrSeq too.
	AttrDst     uint16 = 60
	AttrSize    uint16 = 61
	AttrIdent   uint16 = 62
	AttrSeq     uint16 = 63
	AttrTimeout uint16 = 64
	AttrDF      uint16 = 65
	AttrStatus  uint16 = 66
	AttrSrc     uint16 = 67
	AttrFrom    uint16 = 68
	AttrTTL     uint16 = 69
	AttrBytes   uint16 = 70
	AttrRTT     uint16 = 71
	AttrTime    uint16 = 72 // a kernel message's time in nanoseconds

	// Perf messages.
	AttrDuration    uint16 = 80
	AttrSent        uint16 = 81
	AttrReceived    uint16 = 82
	AttrElapsed     uint16 = 83
	AttrEvents      uint16 = 84
	AttrCompletions uint16 = 85

	// Multicast lists: a list's link-layer and IPv4 addresses.
	AttrLink uint16 = 90
	AttrInet uint16 = 91

	// Route answers, besides the ping attributes.
	AttrExpires  uint16 = 92 // a route exception's remaining life in seconds
	AttrTable    uint16 = 93
	AttrProtocol uint16 = 94
	AttrMetric   uint16 = 95

	// Capture messages: a packet's AttrTime, AttrSrc, AttrDst and AttrData,
	// and these.
	AttrPktType  uint16 = 96  // u8, sll_pkttype
	AttrOrigLen  uint16 = 97  // u32, the packet's length before the snapshot length cut it
	AttrDrop     uint16 = 98  // string, why the driver dropped the packet
	AttrRC       uint16 = 99  // u8, 1 when carried over a connection
	AttrSnaplen  uint16 = 100 // u32
	AttrCaptured uint16 = 101 // u64, packets the capture point saw
	AttrLost     uint16 = 102 // u64, packets lost because the reader fell behind
	AttrEnd      uint16 = 103 // u8, why the stream ended (CaptureEnd)
	AttrFabric   uint16 = 104 // u8, 1: capture a fabric port's link, as IB packets
	AttrIface    uint16 = 106 // u32, which of the request's AttrDev saw the packet (0: the first)

	// A table's route, a monitor's events.
	AttrFamily   uint16 = 108 // u8, AF_INET or AF_INET6
	AttrDstLen   uint16 = 109 // u8, the destination's prefix length
	AttrIndex    uint16 = 110 // u32, an ifindex
	AttrScope    uint16 = 111 // u8, rtm_scope
	AttrFlags    uint16 = 112 // u32, RTNH_F_*
	AttrDeleted  uint16 = 113 // flag: the event is a deletion
	AttrGroups   uint16 = 114 // u32, the monitor's event groups (MonitorGroups)
	AttrConnect  uint16 = 115 // flag: a ping request that only picks the route
	AttrTogether uint16 = 116 // u32: the requests of a ping that failed at once
	AttrCancel   uint16 = 117 // flag: end the waits of a ping's requests
)
