package netlinkx

import (
	"fmt"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// putEntry adds one dump message holding the attributes fn encodes,
// nested under typ.
type putEntry func(typ uint16, fn func(*netlink.AttributeEncoder))

// ibctlDump serves a dump command of the ibctl family.
func ibctlDump(b Backend, node Node, m netlink.Message, cmd uint8, rest []byte, path, dev string) ([][]byte, error) {
	var out [][]byte
	put := func(typ uint16, fn func(*netlink.AttributeEncoder)) {
		ae := netlink.NewAttributeEncoder()
		wire.EncodeNested(ae, typ, fn)
		out = append(out, wire.Reply(m.Header, wire.FamilyIbctl, netlink.Multi, append(wire.GenlHeader(cmd), wire.Encode(ae)...)))
	}
	var err error
	switch cmd {
	case wire.CmdSysList:
		var entries []SysEntry
		if entries, err = node.SysList(path); err == nil {
			for _, e := range entries {
				put(wire.AttrEntry, func(n *netlink.AttributeEncoder) { wire.EncodeSysEntry(n, e) })
			}
		}
	case wire.CmdStats:
		var st []Stat
		if st, err = node.Stats(dev); err == nil {
			for _, s := range st {
				put(wire.AttrStat, func(n *netlink.AttributeEncoder) { wire.EncodeStat(n, s) })
			}
		}
	case wire.CmdPartList:
		for _, p := range b.Partitions() {
			for _, part := range splitPartition(p) {
				put(wire.AttrEntry, func(n *netlink.AttributeEncoder) { wire.EncodePartition(n, part) })
			}
		}
	case wire.CmdGroups:
		for _, g := range b.Groups() {
			for _, part := range splitGroup(g) {
				put(wire.AttrEntry, func(n *netlink.AttributeEncoder) { wire.EncodeGroup(n, part) })
			}
		}
	case wire.CmdDmesg:
		err = dmesgRequest(node, rest, put)
	case wire.CmdMaddr:
		err = maddrRequest(node, rest, put)
	case wire.CmdRouteList:
		err = routeListRequest(node, put)
	default:
		err = withMsg(unix.EOPNOTSUPP, fmt.Sprintf("unknown ibctl dump %d", cmd))
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// dump runs a dump command of the ibctl family and calls each with the
// attributes nested under typ in every message of the reply.
func (c *Client) dump(cmd uint8, typ uint16, fn func(*netlink.AttributeEncoder), each func(*netlink.AttributeDecoder)) error {
	ae := netlink.NewAttributeEncoder()
	if fn != nil {
		fn(ae)
	}
	msgs, err := c.Execute(wire.FamilyIbctl, netlink.Dump, append(wire.GenlHeader(cmd), wire.Encode(ae)...))
	if err != nil {
		return err
	}
	for _, m := range msgs {
		_, rest, err := wire.ParseGenl(m.Data)
		if err != nil {
			return err
		}
		ad, err := netlink.NewAttributeDecoder(rest)
		if err != nil {
			return fmt.Errorf("%w: %v", wire.ErrMalformed, err)
		}
		for ad.Next() {
			if ad.Type() == typ {
				ad.Nested(func(n *netlink.AttributeDecoder) error { each(n); return nil })
			}
		}
		if err := ad.Err(); err != nil {
			return fmt.Errorf("%w: %v", wire.ErrMalformed, err)
		}
	}
	return nil
}

// partSize bounds the members' attributes in one group or partition
// message, well below the 64 KiB an attribute (and a datagram) can hold.
const partSize = 16 << 10

// splitPartition cuts a partition with many explicit members into parts
// of at most partSize bytes of members, each with the partition's
// attributes; the client joins consecutive parts of a partition.
func splitPartition(p Partition) []Partition {
	// nest + node string + port + full flag
	runs := splitMembers(p.Members, func(m PartitionMember) int { return 4 + wire.Align(4+len(m.Node)+1) + 8 + 4 })
	parts := make([]Partition, len(runs))
	for i, r := range runs {
		parts[i] = p
		parts[i].Members = r
	}
	return parts
}

// splitGroup cuts a group with many members (a broadcast group of a large
// fabric) into parts of at most partSize bytes of members, each with
// the group's attributes; the client joins consecutive parts of a group.
func splitGroup(g Group) []Group {
	// nest + node string + port + join state
	runs := splitMembers(g.Members, func(m GroupMember) int { return 4 + wire.Align(4+len(m.Node)+1) + 8 + 8 })
	parts := make([]Group, len(runs))
	for i, r := range runs {
		parts[i] = g
		parts[i].Members = r
	}
	return parts
}

// splitMembers cuts members into runs whose encoded sizes add up to at
// most partSize (a member larger than that gets a run of its own); no
// members make one empty run, so that the entry is still sent.
func splitMembers[M any](members []M, size func(M) int) [][]M {
	runs := [][]M{nil}
	total := 0
	for _, m := range members {
		sz := size(m)
		if last := len(runs) - 1; len(runs[last]) > 0 && total+sz > partSize {
			runs = append(runs, nil)
			total = 0
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], m)
		total += sz
	}
	return runs
}
