package inet

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// UDPSink counts the UDP datagrams that reach one port of the stack's
// IPv4 addresses through one interface: the receiving end of a perf
// stream, which counts its own datagrams only, as a bound socket
// receives only those sent to its port (udp_rcv → __udp4_lib_lookup).
// Other traffic on the interface is not counted.
type UDPSink struct {
	s       *Stack
	index   int32
	port    uint16
	packets atomic.Uint64
	bytes   atomic.Uint64 // IPoIB bytes (encapsulation header and IP datagram), as rx_bytes counts them
	// waiting is set while Wait blocks; each datagram then pokes it
	// through arrived (one pending poke is enough).
	waiting atomic.Bool
	arrived chan struct{}
}

// ErrNoPort is no free UDP port for a sink (EADDRINUSE).
var ErrNoPort = errors.New("no free UDP port")

// OpenUDPSink binds a sink on interface index to the first free port
// from port on (iperf3's 5201, then the next for another stream).
func (s *Stack) OpenUDPSink(index int32, port uint16) (*UDPSink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp == nil {
		s.udp = map[uint16]*UDPSink{}
	}
	for p := uint32(port); p <= 0xffff; p++ {
		if _, busy := s.udp[uint16(p)]; !busy {
			u := &UDPSink{s: s, index: index, port: uint16(p), arrived: make(chan struct{}, 1)}
			s.udp[uint16(p)] = u
			return u, nil
		}
	}
	return nil, ErrNoPort
}

// Port is the sink's port.
func (u *UDPSink) Port() uint16 { return u.port }

// Counts returns the datagrams and bytes received so far.
func (u *UDPSink) Counts() (packets, bytes uint64) { return u.packets.Load(), u.bytes.Load() }

// Wait blocks until the sink has received at least n datagrams, ctx is
// done or the deadline passes, and returns the datagrams received. The
// receiving path pays one atomic load per datagram for it.
func (u *UDPSink) Wait(ctx context.Context, n uint64, deadline time.Time) uint64 {
	u.waiting.Store(true)
	defer u.waiting.Store(false)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		if got := u.packets.Load(); got >= n {
			return got
		}
		select {
		case <-u.arrived:
		case <-ctx.Done():
			return u.packets.Load()
		case <-timer.C:
			return u.packets.Load()
		}
	}
}

// Close unbinds the sink.
func (u *UDPSink) Close() {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	if u.s.udp[u.port] == u {
		delete(u.s.udp, u.port)
	}
}

// inputUDP4 counts a UDP datagram for the sink bound to its destination
// port on the interface it came in on.
func (s *Stack) inputUDP4(index int32, ip header.IPv4) {
	udp := ip.Payload()
	if len(udp) < 8 {
		return
	}
	s.mu.Lock()
	u := s.udp[binary.BigEndian.Uint16(udp[2:])]
	s.mu.Unlock()
	if u != nil && u.index == index {
		u.bytes.Add(uint64(header.IPoIBHeaderLen + int(ip.TotalLength())))
		u.packets.Add(1)
		if u.waiting.Load() {
			select {
			case u.arrived <- struct{}{}:
			default:
			}
		}
	}
}
