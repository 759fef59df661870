package driver

import (
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// perfPort is the UDP port perf streams go to (iperf3's).
const perfPort = 5201

// Perf streams UDP datagrams of r.Size bytes to r.Dst for r.DurationMs
// (an iperf-like throughput test) over the interface's transport — UD in
// datagram mode, the RC connection in connected mode — and reports what
// the receiver got: bytes, packets, and receive-CQ events per packet.
// The sender keeps at most half the receiver's queue in flight, as a
// flow-controlled stream would.
func (n *Node) Perf(r netlinkx.PerfRequest) (netlinkx.PerfReply, error) {
	return n.PerfContext(context.Background(), r)
}

// PerfContext is Perf that stops sending, and fails with ECANCELED, once
// ctx is done (its client went away).
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
	hw, ok := n.ip.Resolve(rt.index, src, dst, time.Now().Add(3*time.Second))
	if !ok {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.EHOSTUNREACH, "")
	}
	peer := n.d.endpoints.Lookup(ipoib.Key{GID: hw.GID(), QPN: hw.QPN()})
	if peer == nil {
		return netlinkx.PerfReply{}, errorf("perf", name, unix.ECONNREFUSED, "no receiver at %s", dst)
	}
	pkt := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+8+size)
	header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
	ip := pkt[header.IPoIBHeaderLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: unix.IPPROTO_UDP,
		Src: src.As4(), Dst: dst.As4()})
	udp := ip[header.IPv4MinHeaderLen:]
	binary.BigEndian.PutUint16(udp[0:], perfPort)
	binary.BigEndian.PutUint16(udp[2:], perfPort)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+size))

	// In connected mode the first packet sets the connection up and waits
	// on the neighbour meanwhile: send one first and wait for it, so that
	// the stream runs over the established connection.
	rxw := peer.Stats().RxPackets()
	if err := dp.WritePacket(pkt, hw); err != nil {
		return netlinkx.PerfReply{}, errorf("perf", name, netlinkx.ErrnoOf(err), "%v", err)
	}
	for warm := time.Now().Add(2 * time.Second); peer.Stats().RxPackets() == rxw && time.Now().Before(warm) && ctx.Err() == nil; {
		runtime.Gosched()
	}
	rx0 := peer.Stats().Snapshot()
	rx0p := rx0.RxPackets
	ev0 := peer.RecvCQStats()
	window := uint64(peer.RecvQueueSize() / 2)
	var sent uint64
	start := time.Now()
	end := start.Add(time.Duration(r.DurationMs) * time.Millisecond)
	for time.Now().Before(end) {
		if ctx.Err() != nil {
			return netlinkx.PerfReply{}, errorf("perf", name, unix.ECANCELED, "the client went away after %d packets", sent)
		}
		for i := 0; i < 64; i++ {
			for sent-(peer.Stats().RxPackets()-rx0p) >= window {
				runtime.Gosched()
				if time.Now().After(end.Add(time.Second)) || ctx.Err() != nil {
					break
				}
			}
			if err := dp.WritePacket(pkt, hw); err != nil {
				return netlinkx.PerfReply{}, errorf("perf", name, netlinkx.ErrnoOf(err), "%v", err)
			}
			sent++
		}
	}
	// Let the receiver drain what is in flight.
	for drain := time.Now().Add(5 * time.Second); peer.Stats().RxPackets()-rx0p < sent && time.Now().Before(drain) && ctx.Err() == nil; {
		runtime.Gosched()
	}
	elapsed := time.Since(start)
	ev1 := peer.RecvCQStats()
	rx1 := peer.Stats().Snapshot()
	return netlinkx.PerfReply{
		Sent: sent, Received: rx1.RxPackets - rx0p, Bytes: rx1.RxBytes - rx0.RxBytes,
		ElapsedNs: uint64(elapsed), Events: ev1.Events - ev0.Events, Completions: ev1.Completions - ev0.Completions,
		Mode: rt.mode,
	}, nil
}
