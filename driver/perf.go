package driver

import (
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/ibctl/ibctl/driver/header"
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
	nd, src, dp, mtu := rt.nd, rt.src, rt.dp, rt.mtu
	if dp == nil {
		return netlinkx.PerfReply{}, errorf("perf", nd.name, unix.ENETDOWN, "")
	}
	size := int(r.Size)
	if size <= 0 {
		size = int(mtu) - header.IPv4MinHeaderLen - 8
	}
	if header.IPv4MinHeaderLen+8+size > int(mtu) {
		return netlinkx.PerfReply{}, errorf("perf", nd.name, unix.EMSGSIZE, "datagram of %d bytes exceeds the MTU %d", size, mtu)
	}
	hw, ok := n.ip.resolve(dp, src, dst, time.Now().Add(3*time.Second))
	if !ok {
		return netlinkx.PerfReply{}, errorf("perf", nd.name, unix.EHOSTUNREACH, "")
	}
	peer := n.d.dps.lookup(dpKey{gid: hw.GID(), qpn: hw.QPN()})
	if peer == nil {
		return netlinkx.PerfReply{}, errorf("perf", nd.name, unix.ECONNREFUSED, "no receiver at %s", dst)
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
	rxw := peer.stats.rxPackets.Load()
	if err := dp.transmit(pkt, hw, false); err != nil {
		return netlinkx.PerfReply{}, errorf("perf", nd.name, netlinkx.ErrnoOf(err), "%v", err)
	}
	for warm := time.Now().Add(2 * time.Second); peer.stats.rxPackets.Load() == rxw && time.Now().Before(warm) && ctx.Err() == nil; {
		runtime.Gosched()
	}
	rx0p, rx0b := peer.stats.rxPackets.Load(), peer.stats.rxBytes.Load()
	ev0 := peer.rcq.Stats()
	window := uint64(len(peer.bufs) / 2)
	var sent uint64
	start := time.Now()
	end := start.Add(time.Duration(r.DurationMs) * time.Millisecond)
	for time.Now().Before(end) {
		if ctx.Err() != nil {
			return netlinkx.PerfReply{}, errorf("perf", nd.name, unix.ECANCELED, "the client went away after %d packets", sent)
		}
		for i := 0; i < 64; i++ {
			for sent-(peer.stats.rxPackets.Load()-rx0p) >= window {
				runtime.Gosched()
				if time.Now().After(end.Add(time.Second)) || ctx.Err() != nil {
					break
				}
			}
			if err := dp.transmit(pkt, hw, false); err != nil {
				return netlinkx.PerfReply{}, errorf("perf", nd.name, netlinkx.ErrnoOf(err), "%v", err)
			}
			sent++
		}
	}
	// Let the receiver drain what is in flight.
	for drain := time.Now().Add(5 * time.Second); peer.stats.rxPackets.Load()-rx0p < sent && time.Now().Before(drain) && ctx.Err() == nil; {
		runtime.Gosched()
	}
	elapsed := time.Since(start)
	ev1 := peer.rcq.Stats()
	return netlinkx.PerfReply{
		Sent: sent, Received: peer.stats.rxPackets.Load() - rx0p, Bytes: peer.stats.rxBytes.Load() - rx0b,
		ElapsedNs: uint64(elapsed), Events: ev1.Events - ev0.Events, Completions: ev1.Completions - ev0.Completions,
		Mode: nd.mode,
	}, nil
}

// dpKey identifies an interface's data path: its port GID and UD QPN.
type dpKey struct {
	gid [16]byte
	qpn uint32
}

// dpTable maps interface addresses to running data paths, for perf to
// read its receiver's counters.
type dpTable struct {
	mu sync.Mutex
	m  map[dpKey]*dataPath
}

func (l *dpTable) add(k dpKey, dp *dataPath) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[dpKey]*dataPath{}
	}
	l.m[k] = dp
}

func (l *dpTable) remove(k dpKey, dp *dataPath) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m[k] == dp {
		delete(l.m, k)
	}
}

func (l *dpTable) lookup(k dpKey) *dataPath {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[k]
}
