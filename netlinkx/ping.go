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
	r := wire.DecodePingRequest(ad)
	if ad.Err() != nil {
		return withMsg(unix.EINVAL, "malformed ping request")
	}
	rep, err := p.Ping(r)
	if err != nil {
		return err
	}
	wire.EncodePingReply(ae, rep)
	return nil
}

// Ping sends one echo request through the bound node's IP stack.
func (c *Client) Ping(r PingRequest) (PingReply, error) {
	ad, err := c.ibctl(wire.CmdPing, func(ae *netlink.AttributeEncoder) { wire.EncodePingRequest(ae, r) })
	if err != nil {
		return PingReply{}, err
	}
	rep := wire.DecodePingReply(ad)
	return rep, ad.Err()
}
