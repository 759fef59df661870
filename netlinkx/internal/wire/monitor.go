package wire

import (
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// MarshalEvent encodes one event as a message of the stream answering h.
func MarshalEvent(h netlink.Header, ev MonitorEvent) []byte {
	del := func(newType, delType netlink.HeaderType) netlink.HeaderType {
		if ev.Deleted {
			return delType
		}
		return newType
	}
	switch ev.Kind {
	case MonitorLink:
		return Reply(h, del(unix.RTM_NEWLINK, unix.RTM_DELLINK), netlink.Multi, MarshalLink(ev.Link))
	case MonitorAddr:
		return Reply(h, del(unix.RTM_NEWADDR, unix.RTM_DELADDR), netlink.Multi, MarshalAddr(ev.Addr))
	case MonitorNeigh:
		return Reply(h, del(unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH), netlink.Multi, MarshalNeigh(ev.Neigh))
	}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(AttrGroups, ev.Kind)
	if ev.Deleted {
		ae.Flag(AttrDeleted, true)
	}
	EncodeNested(ae, AttrEntry, func(n *netlink.AttributeEncoder) {
		switch ev.Kind {
		case MonitorRoute:
			EncodeRoute(n, ev.Route)
		case MonitorPartition:
			EncodePartition(n, ev.Partition)
		case MonitorGroup:
			EncodeGroup(n, ev.Group)
		}
	})
	return Reply(h, FamilyIbctl, netlink.Multi, append(GenlHeader(CmdMonitor), Encode(ae)...))
}

// DecodeEvent decodes one message of a monitor stream; start reports the
// message that says the driver subscribed.
func DecodeEvent(m netlink.Message) (ev MonitorEvent, start bool, err error) {
	switch m.Header.Type {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK:
		ev.Kind, ev.Deleted = MonitorLink, m.Header.Type == unix.RTM_DELLINK
		ev.Link, err = UnmarshalLink(m.Data)
		return ev, false, err
	case unix.RTM_NEWADDR, unix.RTM_DELADDR:
		ev.Kind, ev.Deleted = MonitorAddr, m.Header.Type == unix.RTM_DELADDR
		ev.Addr, err = UnmarshalAddr(m.Data)
		return ev, false, err
	case unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH:
		ev.Kind, ev.Deleted = MonitorNeigh, m.Header.Type == unix.RTM_DELNEIGH
		ev.Neigh, err = UnmarshalNeigh(m.Data)
		return ev, false, err
	}
	_, rest, err := ParseGenl(m.Data)
	if err != nil {
		return ev, false, err
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return ev, false, err
	}
	start = true
	for ad.Next() {
		switch ad.Type() {
		case AttrGroups:
			ev.Kind = ad.Uint32()
		case AttrDeleted:
			ev.Deleted = true
		case AttrEntry:
			start = false
			ad.Nested(func(n *netlink.AttributeDecoder) error {
				switch ev.Kind {
				case MonitorRoute:
					ev.Route = DecodeRoute(n)
				case MonitorPartition:
					ev.Partition = DecodePartition(n)
				case MonitorGroup:
					ev.Group = DecodeGroup(n)
				}
				return nil
			})
		}
	}
	return ev, start, ad.Err()
}

// MarshalMonitorStart encodes the message of a monitor stream that says
// the driver subscribed to groups; a CmdMonitor request asking for
// groups is encoded the same.
func MarshalMonitorStart(groups uint32) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(AttrGroups, groups)
	return append(GenlHeader(CmdMonitor), Encode(ae)...)
}
