package netlinkx

import (
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// LinkPager is implemented by nodes that give their links a page at a
// time, so that a link dump is sent as it is read instead of built whole
// (the kernel's dump callbacks resume from cb->args the same way).
type LinkPager interface {
	// LinksFrom returns at most max links whose ifindex is index or
	// more, in ifindex order.
	LinksFrom(index int32, max int) ([]Link, error)
}

// linkPage is how many links a streamed dump reads at a time.
const linkPage = 64

// packer packs reply messages into datagrams of up to packLimit bytes,
// as the kernel fills a dump skb with as many messages as fit, and
// writes each datagram once it is full.
type packer struct {
	write func([]byte) error
	buf   []byte
	err   error // the first failed write: nothing is written after it
}

// add queues one message, writing the datagram before it when the message
// does not fit.
func (p *packer) add(msg []byte) error {
	if len(p.buf) > 0 && len(p.buf)+len(msg) > packLimit {
		p.flush()
	}
	if p.err == nil {
		p.buf = append(p.buf, msg...)
	}
	return p.err
}

// flush writes what is queued.
func (p *packer) flush() error {
	if len(p.buf) > 0 && p.err == nil {
		p.err = p.write(p.buf)
	}
	p.buf = p.buf[:0]
	return p.err
}

// streamLinks sends the link dump a page at a time through emit and
// returns what ends it: NLMSG_DONE, or the error of the page that failed.
func streamLinks(m netlink.Message, p LinkPager, emit func([]byte) error) [][]byte {
	next := int32(0)
	for {
		links, err := p.LinksFrom(next, linkPage)
		if err != nil {
			return [][]byte{wire.ErrorReply(m.Header, ErrnoOf(err), extAckOf(err))}
		}
		for _, l := range links {
			r := wire.Reply(m.Header, unix.RTM_NEWLINK, netlink.Multi, wire.MarshalLink(l))
			if len(r) > maxDatagram {
				return [][]byte{wire.ErrorReply(m.Header, unix.EMSGSIZE, "link message exceeds the datagram")}
			}
			if emit(r) != nil {
				return nil // the connection is gone
			}
			next = l.Index + 1
		}
		if len(links) < linkPage {
			return [][]byte{wire.DoneReply(m.Header)}
		}
	}
}
