package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Path MTU discovery modes (IP_PMTUDISC_*), as ping -M sets them.
const (
	PMTUDiscWant uint8 = 0
	PMTUDiscDo   uint8 = 1
	PMTUDiscDont uint8 = 2
)

// Ping outcomes.
const (
	PingReplied     uint8 = 0
	PingTimeout     uint8 = 1
	PingUnreachable uint8 = 2 // ARP got no answer
	PingFragNeeded  uint8 = 3 // ICMP fragmentation needed, MTU in PingReply.MTU
	PingTooLong     uint8 = 4 // larger than the interface MTU: not sent (EMSGSIZE)
	// PingReasmTimeout is an ICMP time exceeded in fragment reassembly
	// (IPv4 type 11 code 1, IPv6 type 3 code 1) from PingReply.From: the
	// peer gave up reassembling the request.
	PingReasmTimeout uint8 = 5
)

// Pinger is implemented by nodes that can send ICMP echo requests.
type Pinger interface {
	Ping(r PingRequest) (PingReply, error)
}

func pingRequest(node Node, rest []byte, ae *netlink.AttributeEncoder) error {
	p, ok := node.(Pinger)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node has no IP stack")
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return withMsg(unix.EINVAL, "malformed ping request")
	}
	var r PingRequest
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrDev:
			r.Dev = ad.String()
		case wire.AttrDst:
			r.Dst = ad.Bytes()
		case wire.AttrSize:
			r.Size = ad.Uint32()
		case wire.AttrIdent:
			r.Ident = ad.Uint16()
		case wire.AttrSeq:
			r.Seq = ad.Uint16()
		case wire.AttrTimeout:
			r.TimeoutMs = ad.Uint32()
		case wire.AttrDF:
			r.PMTUDisc = ad.Uint8()
		}
	}
	if ad.Err() != nil {
		return withMsg(unix.EINVAL, "malformed ping request")
	}
	rep, err := p.Ping(r)
	if err != nil {
		return err
	}
	ae.Uint8(wire.AttrStatus, rep.Status)
	ae.Bytes(wire.AttrSrc, rep.Src)
	if rep.From != nil {
		ae.Bytes(wire.AttrFrom, rep.From)
	}
	ae.Uint8(wire.AttrTTL, rep.TTL)
	ae.Uint32(wire.AttrBytes, rep.Bytes)
	ae.Uint64(wire.AttrRTT, rep.RTTNs)
	ae.Uint32(wire.AttrMTU, rep.MTU)
	return nil
}

// Ping sends one echo request through the bound node's IP stack.
func (c *Client) Ping(r PingRequest) (PingReply, error) {
	ad, err := c.ibctl(wire.CmdPing, func(ae *netlink.AttributeEncoder) {
		if r.Dev != "" {
			ae.String(wire.AttrDev, r.Dev)
		}
		ae.Bytes(wire.AttrDst, r.Dst)
		ae.Uint32(wire.AttrSize, r.Size)
		ae.Uint16(wire.AttrIdent, r.Ident)
		ae.Uint16(wire.AttrSeq, r.Seq)
		ae.Uint32(wire.AttrTimeout, r.TimeoutMs)
		ae.Uint8(wire.AttrDF, r.PMTUDisc)
	})
	if err != nil {
		return PingReply{}, err
	}
	var rep PingReply
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrStatus:
			rep.Status = ad.Uint8()
		case wire.AttrSrc:
			rep.Src = ad.Bytes()
		case wire.AttrFrom:
			rep.From = ad.Bytes()
		case wire.AttrTTL:
			rep.TTL = ad.Uint8()
		case wire.AttrBytes:
			rep.Bytes = ad.Uint32()
		case wire.AttrRTT:
			rep.RTTNs = ad.Uint64()
		case wire.AttrMTU:
			rep.MTU = ad.Uint32()
		}
	}
	return rep, ad.Err()
}
