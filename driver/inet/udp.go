package inet

import (
	"encoding/binary"
	"errors"
	"maps"
	"sync"

	"github.com/ibctl/ibctl/driver/header"
)

// UDPSink counts the UDP datagrams that reach one port of the stack's
// IPv4 addresses through one interface: the receiving end of a perf
// stream, which counts its own datagrams only, as a bound socket
// receives only those sent to its port (udp_rcv → __udp4_lib_lookup).
// Other traffic on the interface is not counted.
type UDPSink struct {
	s     *Stack
	index int32
	port  uint16
	// mu keeps the two counts of one datagram together: a reader never
	// sees its packet without its bytes.
	mu      sync.Mutex
	packets uint64
	bytes   uint64 // IPoIB bytes (encapsulation header and IP datagram), as rx_bytes counts them
	// arrived holds a token once a datagram came after the last take,
	// so that a reader waits for progress instead of polling.
	arrived chan struct{}
}

// ErrNoPort is no free UDP port for a sink (EADDRINUSE).
var ErrNoPort = errors.New("no free UDP port")

// OpenUDPSink binds a sink on interface index to the first free port
// from port on (iperf3's 5201, then the next for another stream).
func (s *Stack) OpenUDPSink(index int32, port uint16) (*UDPSink, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old map[uint16]*UDPSink
	if m := s.udp.Load(); m != nil {
		old = *m
	}
	for p := uint32(port); p <= 0xffff; p++ {
		if _, busy := old[uint16(p)]; !busy {
			u := &UDPSink{s: s, index: index, port: uint16(p), arrived: make(chan struct{}, 1)}
			m := maps.Clone(old)
			if m == nil {
				m = map[uint16]*UDPSink{}
			}
			m[u.port] = u
			s.udp.Store(&m)
			return u, nil
		}
	}
	return nil, ErrNoPort
}

// Port is the sink's port.
func (u *UDPSink) Port() uint16 { return u.port }

// Counts returns the datagrams and bytes received so far.
func (u *UDPSink) Counts() (packets, bytes uint64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.packets, u.bytes
}

// Arrived is ready once a datagram has come since it was last received
// from: what a reader waiting for the counts to move selects on.
func (u *UDPSink) Arrived() <-chan struct{} { return u.arrived }

// Close unbinds the sink.
func (u *UDPSink) Close() {
	u.s.mu.Lock()
	defer u.s.mu.Unlock()
	if m := u.s.udp.Load(); m != nil && (*m)[u.port] == u {
		n := maps.Clone(*m)
		delete(n, u.port)
		u.s.udp.Store(&n)
	}
}

// inputUDP4 counts a UDP datagram for the sink bound to its destination
// port on the interface it came in on.
func (s *Stack) inputUDP4(index int32, ip header.IPv4) {
	udp := ip.Payload()
	if len(udp) < 8 {
		return
	}
	m := s.udp.Load()
	if m == nil {
		return
	}
	u := (*m)[binary.BigEndian.Uint16(udp[2:])]
	if u != nil && u.index == index {
		u.mu.Lock()
		u.packets++
		u.bytes += uint64(header.IPoIBHeaderLen + int(ip.TotalLength()))
		u.mu.Unlock()
		select {
		case u.arrived <- struct{}{}:
		default:
		}
	}
}
