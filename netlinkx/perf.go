package netlinkx

import (
	"context"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

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
}

// Perfer is implemented by nodes that can run perf streams. A stream
// ends early, with an error, when ctx is done: the client that asked for
// it went away.
type Perfer interface {
	PerfContext(ctx context.Context, r PerfRequest) (PerfReply, error)
}

// CmdPerf runs a perf stream (ibctl family).
const CmdPerf uint8 = 17

// Attributes of perf messages.
const (
	AttrDuration    uint16 = 80
	AttrSent        uint16 = 81
	AttrReceived    uint16 = 82
	AttrElapsed     uint16 = 83
	AttrEvents      uint16 = 84
	AttrCompletions uint16 = 85
)

func perfRequest(ctx context.Context, node Node, rest []byte, ae *netlink.AttributeEncoder) error {
	p, ok := node.(Perfer)
	if !ok {
		return withMsg(unix.EOPNOTSUPP, "this node has no IP stack")
	}
	ad, err := netlink.NewAttributeDecoder(rest)
	if err != nil {
		return withMsg(unix.EINVAL, "malformed perf request")
	}
	var r PerfRequest
	for ad.Next() {
		switch ad.Type() {
		case AttrDev:
			r.Dev = ad.String()
		case AttrDst:
			r.Dst = ad.Bytes()
		case AttrSize:
			r.Size = ad.Uint32()
		case AttrDuration:
			r.DurationMs = ad.Uint32()
		}
	}
	if ad.Err() != nil {
		return withMsg(unix.EINVAL, "malformed perf request")
	}
	rep, err := p.PerfContext(ctx, r)
	if err != nil {
		return err
	}
	ae.Uint64(AttrSent, rep.Sent)
	ae.Uint64(AttrReceived, rep.Received)
	ae.Uint64(AttrBytes, rep.Bytes)
	ae.Uint64(AttrElapsed, rep.ElapsedNs)
	ae.Uint64(AttrEvents, rep.Events)
	ae.Uint64(AttrCompletions, rep.Completions)
	ae.Uint16(AttrMode, rep.Mode)
	return nil
}

// Perf runs a perf stream from the bound node.
func (c *Client) Perf(r PerfRequest) (PerfReply, error) {
	ad, err := c.ibctl(CmdPerf, func(ae *netlink.AttributeEncoder) {
		if r.Dev != "" {
			ae.String(AttrDev, r.Dev)
		}
		ae.Bytes(AttrDst, r.Dst)
		ae.Uint32(AttrSize, r.Size)
		ae.Uint32(AttrDuration, r.DurationMs)
	})
	if err != nil {
		return PerfReply{}, err
	}
	var rep PerfReply
	for ad.Next() {
		switch ad.Type() {
		case AttrSent:
			rep.Sent = ad.Uint64()
		case AttrReceived:
			rep.Received = ad.Uint64()
		case AttrBytes:
			rep.Bytes = ad.Uint64()
		case AttrElapsed:
			rep.ElapsedNs = ad.Uint64()
		case AttrEvents:
			rep.Events = ad.Uint64()
		case AttrCompletions:
			rep.Completions = ad.Uint64()
		case AttrMode:
			rep.Mode = ad.Uint16()
		}
	}
	return rep, ad.Err()
}
