package driver

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

var _ netlinkx.Capturer = (*Node)(nil)

// captureQueue is how many packets a capture holds for a reader that
// falls behind (the packet socket's receive buffer): more are lost and
// counted, as "dropped by kernel".
const captureQueue = 4096

// defaultSnaplen is tcpdump's default snapshot length.
const defaultSnaplen = 262144

// Capture streams what the interface's capture point sees (ipoib.Tap),
// or what crosses the links of the fabric ports asked for, to emit until ctx is done, emit fails, or the interface goes down or is
// deleted. An interface that is not up and joined has no data path:
// capturing on it fails with ENETDOWN, as libpcap's "That device is not
// up".
func (n *Node) Capture(ctx context.Context, r netlinkx.CaptureRequest, emit func([]netlinkx.CapturedPacket) error) (netlinkx.CaptureStats, error) {
	snap := int(r.Snaplen)
	if snap <= 0 || snap > defaultSnaplen {
		snap = defaultSnaplen
	}
	var captured, lost atomic.Uint64
	ch := make(chan netlinkx.CapturedPacket, captureQueue)
	newTap := func(iface uint32) *ipoib.Tap {
		return ipoib.NewTap(func(f *ipoib.Frame) {
			captured.Add(1)
			p := netlinkx.CapturedPacket{TimeNs: f.Time.UnixNano(), PktType: f.PktType, Src: f.Src[:], Dst: f.Dst[:],
				RC: f.RC, Iface: iface, Drop: f.Drop, OrigLen: uint32(len(f.Data)),
				Data: append([]byte(nil), f.Data[:min(len(f.Data), snap)]...)}
			if f.RC {
				p.Src = make([]byte, len(f.Src))
			}
			select {
			case ch <- p:
			default:
				lost.Add(1)
			}
		})
	}
	var index int32
	var gone <-chan struct{} // a fabric port never goes
	if r.Fabric {
		// every port is found before any is captured
		names := append([]string{r.Dev}, r.Also...)
		ports := make([]*ipoib.Port, len(names))
		for i, name := range names {
			p, err := n.fabricPort(name)
			if err != nil {
				return netlinkx.CaptureStats{}, err
			}
			ports[i] = p
		}
		for i, p := range ports {
			tap := newTap(uint32(i))
			p.AddWireTap(tap)
			defer p.RemoveWireTap(tap)
		}
	} else {
		if len(r.Also) > 0 {
			return netlinkx.CaptureStats{}, errorf("capture", r.Also[0], unix.EINVAL, "only fabric ports can be captured together")
		}
		tap := newTap(0)
		n.d.mu.Lock()
		nd, err := n.lookup("capture", 0, r.Dev)
		if err != nil {
			n.d.mu.Unlock()
			return netlinkx.CaptureStats{}, err
		}
		ep := nd.dp
		if ep == nil {
			n.d.mu.Unlock()
			return netlinkx.CaptureStats{}, errorf("capture", r.Dev, unix.ENETDOWN, "That device is not up")
		}
		index, gone = nd.index, tap.Gone()
		ep.AddTap(tap)
		n.d.mu.Unlock()
		defer ep.RemoveTap(tap)
	}
	if err := emit(nil); err != nil {
		return netlinkx.CaptureStats{}, nil
	}

	stats := func(end netlinkx.CaptureEnd) netlinkx.CaptureStats {
		return netlinkx.CaptureStats{Captured: captured.Load(), Lost: lost.Load(), End: end}
	}
	batch := make([]netlinkx.CapturedPacket, 0, 64)
	// drain sends what is queued, in batches.
	drain := func(first netlinkx.CapturedPacket) error {
		batch = append(batch[:0], first)
		for len(batch) < cap(batch) {
			select {
			case p := <-ch:
				batch = append(batch, p)
				continue
			default:
			}
			break
		}
		return emit(batch)
	}
	for {
		select {
		case <-ctx.Done():
			return stats(netlinkx.CaptureStopped), nil
		case p := <-ch:
			if err := drain(p); err != nil {
				return stats(netlinkx.CaptureStopped), nil
			}
		case <-gone:
			for {
				select {
				case p := <-ch:
					if err := drain(p); err != nil {
						return stats(netlinkx.CaptureStopped), nil
					}
					continue
				default:
				}
				break
			}
			n.d.mu.Lock()
			exists := n.order.get(index) != nil
			n.d.mu.Unlock()
			if !exists {
				return stats(netlinkx.CaptureDisappeared), nil
			}
			return stats(netlinkx.CaptureWentDown), nil
		}
	}
}

// fabricPort finds the HCA port NODE/PORT ("node1/2"); any node of the
// fabric may be named. The error's message starts with the name, so that
// a capture of several ports says which one is wrong.
func (n *Node) fabricPort(name string) (*ipoib.Port, error) {
	node, num, ok := strings.Cut(name, "/")
	port, err := strconv.Atoi(num)
	if !ok || err != nil {
		return nil, errorf("capture", name, unix.EINVAL, "%s: a fabric port is NODE/PORT", name)
	}
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	s, ok := n.d.nodes[node]
	if !ok || port < 1 || port > len(s.ports) {
		return nil, errorf("capture", name, unix.ENODEV, "%s: no such fabric port", name)
	}
	return s.ports[port-1], nil
}
