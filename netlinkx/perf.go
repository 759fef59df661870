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
	r := wire.DecodePerfRequest(ad)
	if ad.Err() != nil {
		return withMsg(unix.EINVAL, "malformed perf request")
	}
	rep, err := p.PerfContext(ctx, r)
	if err != nil {
		return err
	}
	wire.EncodePerfReply(ae, rep)
	return nil
}

// Perf runs a perf stream from the bound node.
func (c *Client) Perf(r PerfRequest) (PerfReply, error) {
	ad, err := c.ibctl(wire.CmdPerf, func(ae *netlink.AttributeEncoder) { wire.EncodePerfRequest(ae, r) })
	if err != nil {
		return PerfReply{}, err
	}
	rep := wire.DecodePerfReply(ad)
	return rep, ad.Err()
}
