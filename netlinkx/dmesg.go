package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Logger is implemented by nodes with a kernel message ring.
type Logger interface {
	Log(after uint64) ([]LogRecord, error)
}

// LogClearer is implemented by nodes whose kernel message ring can be
// cleared.
type LogClearer interface {
	// ClearLog drops the messages up to sequence number upto.
	ClearLog(upto uint64) error
}

func dmesgClearRequest(node Node, rest []byte, _ *netlink.AttributeEncoder) error {
	l, ok := node.(LogClearer)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node keeps no kernel log")
	}
	var upto uint64
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return withMsg(unix.EINVAL, "malformed dmesg request")
	}
	for ad.Next() {
		if ad.Type() == wire.AttrSeq {
			upto = ad.Uint64()
		}
	}
	if ad.Err() != nil {
		return withMsg(unix.EINVAL, "malformed dmesg request")
	}
	return l.ClearLog(upto)
}

func dmesgRequest(node Node, rest []byte, put putEntry) error {
	l, ok := node.(Logger)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node keeps no kernel log")
	}
	var after uint64
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return withMsg(unix.EINVAL, "malformed dmesg request")
	}
	for ad.Next() {
		if ad.Type() == wire.AttrSeq {
			after = ad.Uint64()
		}
	}
	if ad.Err() != nil {
		return withMsg(unix.EINVAL, "malformed dmesg request")
	}
	recs, err := l.Log(after)
	if err != nil {
		return err
	}
	for _, r := range recs {
		put(wire.AttrEntry, func(n *netlink.AttributeEncoder) { wire.EncodeLogRecord(n, r) })
	}
	return nil
}

// DmesgClear clears the bound node's kernel messages up to sequence
// upto: dmesg -c clears what it read, and a message logged meanwhile
// stays.
func (c *Client) DmesgClear(upto uint64) error {
	_, err := c.ibctl(wire.CmdDmesgClear, func(ae *netlink.AttributeEncoder) { ae.Uint64(wire.AttrSeq, upto) })
	return err
}

// Dmesg returns the bound node's kernel messages after sequence after.
func (c *Client) Dmesg(after uint64) ([]LogRecord, error) {
	var out []LogRecord
	err := c.dump(wire.CmdDmesg, wire.AttrEntry, func(ae *netlink.AttributeEncoder) { ae.Uint64(wire.AttrSeq, after) }, func(n *netlink.AttributeDecoder) {
		out = append(out, wire.DecodeLogRecord(n))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
