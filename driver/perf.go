package driver

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// perfPort is the first UDP port perf streams go to (iperf3's); another
// stream to the same receiver takes the next free one.
const perfPort = 5201

// PerfContext streams UDP datagrams of r.Size bytes to r.Dst for r.DurationMs
// (an iperf-like throughput test) over the interface's transport — UD in
// datagram mode, the RC connection in connected mode — and reports what
// the receiver got: the bytes and packets of the stream's own datagrams
// (those to its UDP port on the receiving interface), receive-CQ events
// per packet, and the emulated link rate beside them. The sender keeps at
// most half the receiver's queue in flight, as a flow-controlled stream
// would, and fails with ENETUNREACH once its route or link goes away.
// It stops sending, and fails with ECANCELED, once ctx is done (its
// client went away). Resolving the peer runs on the driver's clock, as
// ping does; the stream itself runs on wall time, which is what a
// throughput measures: its duration, pacing and drain are the system's
// time, not the driver's clock.
func (n *Node) PerfContext(ctx context.Context, r netlinkx.PerfRequest) (netlinkx.PerfReply, error) {
	dst, ok := netip.AddrFromSlice(r.Dst)
	if !ok || !dst.Is4() {
		return netlinkx.PerfReply{}, errorf("perf", "", unix.EAFNOSUPPORT, "only IPv4 is emulated")
	}
	rt, err := n.routeTo(r.Dev, dst)
	if err != nil {
		return netlinkx.PerfReply{}, err
	}
	name, src, dp, mtu := rt.name, rt.src, rt.dp, rt.mtu
	if dp == nil {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.ENETDOWN, "")
	}
	size := int(r.Size)
	if size <= 0 {
		size = int(mtu) - header.IPv4MinHeaderLen - 8
	}
	if header.IPv4MinHeaderLen+8+size > int(mtu) {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.EMSGSIZE, "datagram of %d bytes exceeds the MTU %d", size, mtu)
	}
	hw, ok := n.ip.Resolve(rt.index, src, dst, n.ip.Now().Add(3*time.Second))
	if !ok {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.EHOSTUNREACH, "")
	}
	peer := n.d.endpoints.Lookup(ipoib.Key{GID: hw.GID(), QPN: hw.QPN()})
	rstack, rdev := n.d.netdevOf(peer)
	if rstack == nil {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.ECONNREFUSED, "no receiver at %s", dst)
	}
	// The receiver counts the stream's own datagrams, those to its port
	// on its interface, as a bound socket would: other traffic to the
	// interface is not the stream's.
	sink, err := rstack.ip.OpenUDPSink(rdev, perfPort)
	if err != nil {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.EADDRINUSE, "%v", err)
	}
	defer sink.Close()
	received := func() uint64 { p, _ := sink.Counts(); return p }
	// wait blocks until a datagram of the stream arrives, ctx is done or
	// d has passed: the sender waits for the receiver's progress, which
	// is also what frees its send queue, without taking a CPU from it.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(d time.Duration) {
		timer.Reset(d)
		select {
		case <-sink.Arrived():
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
	}
	pkt := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+8+size)
	header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
	ip := pkt[header.IPoIBHeaderLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: unix.IPPROTO_UDP,
		Src: src.As4(), Dst: dst.As4()})
	udp := ip[header.IPv4MinHeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], sink.Port())
	binary.BigEndian.PutUint16(udp[2:], sink.Port())
	binary.BigEndian.PutUint16(udp[4:], uint16(8+size))

	// The stream stops with an error once its route or its link goes
	// away (the address deleted, the interface down, the partition
	// deleted or the port limited): a socket's sendmsg would fail with
	// ENETUNREACH, and a stream that only waited would report nothing
	// the link carried.
	var sent uint64
	lastCheck := time.Now()
	check := func(force bool) error {
		if !force && time.Since(lastCheck) < perfRouteCheck {
			return nil
		}
		lastCheck = time.Now()
		now, err := n.routeTo(r.Dev, dst)
		switch {
		case err != nil:
			return errorf("perf", name, unix.ENETUNREACH, "the route to %s went away after %d packets", dst, sent)
		case now.index != rt.index || now.dp != dp:
			return errorf("perf", name, unix.ENETUNREACH, "the link of %s went away after %d packets", name, sent)
		}
		return nil
	}

	// send writes one datagram. While the send queue is stopped the
	// stream waits for it to wake, as a socket whose send buffer is full
	// blocks (a 64 KiB datagram fills most of the default one), instead
	// of filling the qdisc with copies; a full qdisc (another writer
	// filled it) refuses it with ENOBUFS, and the stream waits for room
	// until the time given and writes it again: what the stream counts
	// as sent is what the link took.
	send := func(until time.Time) error {
		for {
			for dp.QueueStopped() && time.Now().Before(until) && ctx.Err() == nil {
				if err := check(false); err != nil {
					return err
				}
				wait(time.Millisecond)
			}
			err := dp.WritePacket(pkt, hw)
			if err == nil {
				return nil
			}
			if !errors.Is(err, ipoib.ErrQdiscDrop) || time.Now().After(until) || ctx.Err() != nil {
				// The link may have gone with the route (its QP
				// reset under the send): say that first.
				if cerr := check(true); cerr != nil {
					return cerr
				}
				return errorf("perf", name, netlinkx.ErrnoOf(err), "%v", err)
			}
			if err := check(false); err != nil {
				return err
			}
			wait(time.Millisecond)
		}
	}
	// In connected mode the first packet sets the connection up and waits
	// on the neighbour meanwhile: send one first and wait for it, so that
	// the stream runs over the established connection.
	if err := send(time.Now().Add(2 * time.Second)); err != nil {
		return netlinkx.PerfReply{}, err
	}
	for warm := time.Now().Add(2 * time.Second); received() == 0 && time.Now().Before(warm) && ctx.Err() == nil; {
		wait(time.Until(warm))
	}
	rx0p, rx0b := sink.Counts()
	ev0 := peer.RecvCQStats()
	window := uint64(peer.RecvQueueSize() / 2)
	start := time.Now()
	end := start.Add(time.Duration(r.DurationMs) * time.Millisecond)
	for time.Now().Before(end) {
		if ctx.Err() != nil {
			return netlinkx.PerfReply{}, errorf("perf", name, unix.ECANCELED, "the client went away after %d packets", sent)
		}
		if err := check(false); err != nil {
			return netlinkx.PerfReply{}, err
		}
		for i := 0; i < 64; i++ {
			for sent-(received()-rx0p) >= window {
				wait(perfRouteCheck)
				if err := check(false); err != nil {
					return netlinkx.PerfReply{}, err
				}
				if time.Now().After(end.Add(time.Second)) || ctx.Err() != nil {
					break
				}
			}
			if err := send(end.Add(time.Second)); err != nil {
				return netlinkx.PerfReply{}, err
			}
			sent++
		}
	}
	// Let the receiver drain what is in flight.
	for drain := time.Now().Add(5 * time.Second); received()-rx0p < sent && time.Now().Before(drain) && ctx.Err() == nil; {
		wait(perfRouteCheck)
		if err := check(false); err != nil {
			return netlinkx.PerfReply{}, err
		}
	}
	elapsed := time.Since(start)
	ev1 := peer.RecvCQStats()
	rx1p, rx1b := sink.Counts()
	return netlinkx.PerfReply{
		Sent: sent, Received: rx1p - rx0p, Bytes: rx1b - rx0b,
		ElapsedNs: uint64(elapsed), Events: ev1.Events - ev0.Events, Completions: ev1.Completions - ev0.Completions,
		Mode: rt.mode, LinkMbps: uint32(n.linkSpeed(rt.index)),
	}, nil
}

// perfRouteCheck is how often a perf stream looks its route up again.
const perfRouteCheck = 10 * time.Millisecond

// netdevOf finds the node and interface whose endpoint ep is: a perf
// stream's receiver.
func (d *Driver) netdevOf(ep *ipoib.Endpoint) (*stack, int32) {
	if ep == nil {
		return nil, 0
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range d.nodes {
		for nd := range n.order.all() {
			if nd.dp == ep {
				return n, nd.index
			}
		}
	}
	return nil, 0
}

// linkSpeed is the emulated link rate of the interface's HCA port in
// Mb/s (what ethtool reports as its speed), 0 when it is gone.
func (n *Node) linkSpeed(index int32) int {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	if nd := n.order.get(index); nd != nil {
		return n.portSpec(nd.port).LinkSpeed()
	}
	return 0
}
