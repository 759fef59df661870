package netlinkx

import (
	"context"

	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Perfer is implemented by nodes that can run perf streams. A stream
// ends early, with an error, when ctx is done: the client that asked for
// it went away.
type Perfer interface {
	PerfContext(ctx context.Context, r PerfRequest) (PerfReply, error)
}

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
		case wire.AttrDev:
			r.Dev = ad.String()
		case wire.AttrDst:
			r.Dst = ad.Bytes()
		case wire.AttrSize:
			r.Size = ad.Uint32()
		case wire.AttrDuration:
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
	ae.Uint64(wire.AttrSent, rep.Sent)
	ae.Uint64(wire.AttrReceived, rep.Received)
	ae.Uint64(wire.AttrBytes, rep.Bytes)
	ae.Uint64(wire.AttrElapsed, rep.ElapsedNs)
	ae.Uint64(wire.AttrEvents, rep.Events)
	ae.Uint64(wire.AttrCompletions, rep.Completions)
	ae.Uint16(wire.AttrMode, rep.Mode)
	ae.Uint32(wire.AttrSpeed, rep.LinkMbps)
	return nil
}

// Perf runs a perf stream from the bound node.
func (c *Client) Perf(r PerfRequest) (PerfReply, error) {
	ad, err := c.ibctl(wire.CmdPerf, func(ae *netlink.AttributeEncoder) {
		if r.Dev != "" {
			ae.String(wire.AttrDev, r.Dev)
		}
		ae.Bytes(wire.AttrDst, r.Dst)
		ae.Uint32(wire.AttrSize, r.Size)
		ae.Uint32(wire.AttrDuration, r.DurationMs)
	})
	if err != nil {
		return PerfReply{}, err
	}
	var rep PerfReply
	for ad.Next() {
		switch ad.Type() {
		case wire.AttrSent:
			rep.Sent = ad.Uint64()
		case wire.AttrReceived:
			rep.Received = ad.Uint64()
		case wire.AttrBytes:
			rep.Bytes = ad.Uint64()
		case wire.AttrElapsed:
			rep.ElapsedNs = ad.Uint64()
		case wire.AttrEvents:
			rep.Events = ad.Uint64()
		case wire.AttrCompletions:
			rep.Completions = ad.Uint64()
		case wire.AttrMode:
			rep.Mode = ad.Uint16()
		case wire.AttrSpeed:
			rep.LinkMbps = ad.Uint32()
		}
	}
	return rep, ad.Err()
}
