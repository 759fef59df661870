package ipoib

import "sync"

// rxSmallLen is the size of the small receive buffers: a GRH and an ARP,
// neighbour discovery or small ICMP packet fit.
const rxSmallLen = 256

// rxPool is a free list of receive buffers of one size, shared by every
// endpoint of the process: a UD receive queue borrows a buffer when a
// packet lands in it (verbs.RecvWR.Lend) and the endpoint gives it back
// when it reposts the WR. Memory follows the packets in flight, not the
// rings' sizes, and a broadcast to a large partition reuses the buffers
// of the last one instead of allocating per member. It never shrinks.
type rxPool struct {
	mu   sync.Mutex
	size int
	free [][]byte
}

var (
	rxSmall = &rxPool{size: rxSmallLen}
	rxLarge = &rxPool{size: rxBufLen}
	rxCM    = &rxPool{size: cmRecvSize} // the SRQ's (cm.go)
)

func (p *rxPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, p.size)
}

func (p *rxPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b[:p.size])
	p.mu.Unlock()
}

// lendRx is a buffer for an n-byte message (GRH included).
func lendRx(n int) []byte {
	if n <= rxSmallLen {
		return rxSmall.get()
	}
	return rxLarge.get()
}

// returnRx gives back a buffer lendRx or the SRQ's lend made.
func returnRx(b []byte) {
	switch cap(b) {
	case rxSmallLen:
		rxSmall.put(b)
	case cmRecvSize:
		rxCM.put(b)
	default:
		rxLarge.put(b)
	}
}
