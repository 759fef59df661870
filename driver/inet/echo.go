package inet

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"golang.org/x/sys/unix"
)

// The echo core of ping: an ICMP or ICMPv6 echo request sent the way a
// ping socket's is, and its answer.

// pendingPing is an echo request waiting for its answer.
type pendingPing struct {
	dst netip.Addr
	ch  chan pingResult
}

// deliverReply hands an echo reply to the ping waiting for it.
func (s *Stack) deliverReply(ident, seq uint16, r pingResult) {
	key := uint32(ident)<<16 | uint32(seq)
	s.mu.Lock()
	p, ok := s.pings[key]
	delete(s.pings, key)
	s.mu.Unlock()
	if ok {
		p.ch <- r
	}
}

// resolve returns the neighbour's hardware address, waiting until the
// deadline while the entry resolves as any output to it would make it
// (startProbingLocked, probe): a solicitation a second, NUD_FAILED after
// maxProbes unanswered ones, which ends every wait at once. An entry
// that failed before starts a new resolution (__neigh_event_send). w
// says who waits; failed tells the entry failed from the deadline
// passing first.
func (s *Stack) resolve(nic *NIC, src, dst netip.Addr, deadline time.Time, w *waiter) (hw header.HWAddr, ok, failed bool) {
	s.mu.Lock()
	e := s.entry(nic.index, dst)
	if s.eventSendLocked(nic.index, dst, e) {
		hw := e.hw
		s.mu.Unlock()
		return hw, true, false
	}
	w.ch = make(chan struct{})
	e.waiters = append(e.waiters, w)
	start := s.startProbingLocked(nic.index, src, dst, e)
	notify := s.neighNotify
	s.mu.Unlock()
	if start {
		s.notifyNeigh(notify, nic.index, dst, nudIncomplete, header.HWAddr{}, false)
		s.sendProbe(nic, src, dst)
	}
	expired, stop := s.after(deadline)
	defer stop()
	select {
	case <-w.ch:
	case <-expired:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e.waiters = slices.DeleteFunc(e.waiters, func(o *waiter) bool { return o == w })
	if e.state&nudValid != 0 {
		return e.hw, true, false
	}
	// woken under mu: a failure that came with the deadline counts
	select {
	case <-w.ch:
		return header.HWAddr{}, false, !w.cancelled
	default:
		return header.HWAddr{}, false, false
	}
}

// CancelEchoes ends the waits of ping ident's echo requests to dst, on
// the neighbour entry or for the reply, as closing ping's socket leaves
// nobody to answer: each ends as if its deadline had passed.
func (s *Stack) CancelEchoes(ident uint16, dst netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, p := range s.pings {
		if uint16(key>>16) == ident && p.dst == dst {
			delete(s.pings, key)
			p.ch <- pingResult{} // buffered: the only send once deleted
		}
	}
	for _, t := range s.neigh {
		e := t[dst]
		if e == nil {
			continue
		}
		e.waiters = slices.DeleteFunc(e.waiters, func(w *waiter) bool {
			if !w.echo || w.ident != ident {
				return false
			}
			w.cancelled = true
			close(w.ch)
			return true
		})
	}
}

// pingResult is the outcome of one echo request.
type pingResult struct {
	reply bool
	// reasmTimeout is an ICMP time exceeded in reassembly about the
	// request, from the address from.
	reasmTimeout bool
	ttl          uint8
	bytes        int
	from         netip.Addr
}

// echo sends one echo request and waits for its reply.
func (s *Stack) echo(nic *NIC, src, dst netip.Addr, hw header.HWAddr, ident, seq uint16, size int, df bool, mtu int, deadline time.Time) (pingResult, error) {
	ch := make(chan pingResult, 1)
	key := uint32(ident)<<16 | uint32(seq)
	s.mu.Lock()
	s.pings[key] = pendingPing{dst: dst, ch: ch}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pings, key)
		s.mu.Unlock()
	}()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	if dst.Is4() {
		ip := make([]byte, header.IPv4MinHeaderLen+header.ICMPv4MinHeaderLen+size)
		f := header.IPv4Fields{TTL: 64, Src: src.As4(), Dst: dst.As4(), ID: seq}
		if df {
			f.Flags = header.IPv4FlagDontFragment
		}
		if header.EncodeICMPv4Echo(ip, f, header.ICMPv4Echo, ident, seq, data) == 0 {
			return pingResult{}, unix.EMSGSIZE
		}
		if err := s.sendIPv4(nic, header.IPv4(ip), nil, hw, mtu); err != nil {
			return pingResult{}, err
		}
	} else {
		ip := make([]byte, header.IPv6HeaderLen+header.ICMPv6MinHeaderLen+size)
		if header.EncodeICMPv6Echo(ip, header.IPv6Fields{HopLimit: 64, Src: src.As16(), Dst: dst.As16()},
			header.ICMPv6EchoRequest, ident, seq, data) == 0 {
			return pingResult{}, unix.EMSGSIZE
		}
		if err := s.sendIPv6(nic, header.IPv6(ip), nil, hw, mtu); err != nil {
			return pingResult{}, err
		}
	}
	expired, stop := s.after(deadline)
	defer stop()
	select {
	case r := <-ch:
		return r, nil
	case <-expired:
		return pingResult{}, nil
	}
}

// after returns a channel that is closed at the deadline, on the stack's
// clock, and a function that cancels its timer. A deadline that has
// passed gives a closed channel.
func (s *Stack) after(deadline time.Time) (<-chan struct{}, func()) {
	c := make(chan struct{})
	d := deadline.Sub(s.clock.Now())
	if d <= 0 {
		close(c)
		return c, func() {}
	}
	t := s.clock.AfterFunc(d, func() { close(c) })
	return c, func() { t.Stop() }
}

// PMTUDisc is a socket's path MTU discovery setting (IP_MTU_DISCOVER,
// IPV6_MTU_DISCOVER).
type PMTUDisc uint8

// The settings ping's -M takes.
const (
	PMTUDiscDont PMTUDisc = iota // IP_PMTUDISC_DONT: fragment, DF clear
	PMTUDiscWant                 // IP_PMTUDISC_WANT: DF set when it fits
	PMTUDiscDo                   // IP_PMTUDISC_DO: refuse what does not fit
)

// EchoRequest is one echo request to send.
type EchoRequest struct {
	Index      int32 // the interface it goes out on
	Src, Dst   netip.Addr
	Ident, Seq uint16
	Size       int // bytes of data after the ICMP header
	PMTUDisc   PMTUDisc
	Deadline   time.Time // on the stack's clock (Now)
}

// EchoStatus is how an echo request ended.
type EchoStatus uint8

// Echo outcomes, as ping reports them.
const (
	EchoReplied      EchoStatus = iota + 1 // an echo reply came
	EchoTimeout                            // nothing came before the deadline
	EchoUnreachable                        // the neighbour did not resolve
	EchoFragNeeded                         // the link answered "fragmentation needed" / "packet too big"
	EchoTooLong                            // refused locally: larger than the path MTU with PMTUDiscDo
	EchoReasmTimeout                       // ICMP time exceeded in reassembly about the request
)

// EchoReply is the outcome of an echo request.
type EchoReply struct {
	Status EchoStatus
	TTL    uint8 // the reply's TTL or hop limit
	Bytes  int   // the ICMP message's length
	From   netip.Addr
	MTU    uint32 // the path MTU, with EchoFragNeeded and EchoTooLong only
	RTT    time.Duration
	// Together is, with EchoUnreachable, how many requests of the same
	// ident (this one included) failed at once with the entry.
	Together int
}

// ErrNoLink is an interface without a link attached (down, or not joined
// to its partition).
var ErrNoLink = errors.New("interface has no link")

// Echo sends one echo request and waits for its answer until the
// deadline. The path MTU is the link's, lowered by a cached exception:
// PMTUDiscDo refuses what exceeds it (ip_append_data, __ip6_append_data);
// otherwise IPv4 sets DF for PMTUDiscWant when it fits and fragments what
// does not, and IPv6, which has no DF bit, fragments at the source. A
// "fragmentation needed" from the link lowers the path MTU.
func (s *Stack) Echo(r EchoRequest) (EchoReply, error) {
	nic := s.nicOf(r.Index)
	if nic == nil {
		return EchoReply{}, ErrNoLink
	}
	eff := s.mtuTo(r.Dst, nic.link.MTU())
	size := header.IPv4MinHeaderLen + header.ICMPv4MinHeaderLen + r.Size
	if r.Dst.Is6() {
		size = header.IPv6HeaderLen + header.ICMPv6MinHeaderLen + r.Size
	}
	df := false
	switch {
	case size > int(eff) && r.PMTUDisc == PMTUDiscDo:
		return EchoReply{Status: EchoTooLong, MTU: eff}, nil
	case r.Dst.Is6():
	case r.PMTUDisc == PMTUDiscDo:
		df = true
	case r.PMTUDisc == PMTUDiscWant:
		df = size <= int(eff)
	}
	start := s.clock.Now()
	w := &waiter{echo: true, ident: r.Ident}
	hw, ok, failed := s.resolve(nic, r.Src, r.Dst, r.Deadline, w)
	switch {
	case failed:
		// neigh_invalidate: every request queued on the entry fails
		// with host unreachable at once
		return EchoReply{Status: EchoUnreachable, From: r.Src, Together: w.together}, nil
	case !ok:
		// the caller gave up first; the request would still wait on
		// the entry
		return EchoReply{Status: EchoTimeout}, nil
	}
	res, err := s.echo(nic, r.Src, r.Dst, hw, r.Ident, r.Seq, r.Size, df, int(eff), r.Deadline)
	var tb TooBig
	switch {
	case errors.As(err, &tb):
		s.setPMTU(r.Dst, tb.TooBigMTU(), eff)
		return EchoReply{Status: EchoFragNeeded, From: r.Src, MTU: tb.TooBigMTU()}, nil
	case err != nil:
		return EchoReply{}, err
	case res.reasmTimeout:
		return EchoReply{Status: EchoReasmTimeout, From: res.from}, nil
	case !res.reply:
		return EchoReply{Status: EchoTimeout}, nil
	}
	return EchoReply{Status: EchoReplied, TTL: res.ttl, Bytes: res.bytes, From: res.from, RTT: s.clock.Now().Sub(start)}, nil
}

// Resolve returns dst's hardware address on the interface, soliciting it
// from src until it answers or the deadline, on the stack's clock (Now),
// passes.
func (s *Stack) Resolve(index int32, src, dst netip.Addr, deadline time.Time) (header.HWAddr, bool) {
	nic := s.nicOf(index)
	if nic == nil {
		return header.HWAddr{}, false
	}
	hw, ok, _ := s.resolve(nic, src, dst, deadline, &waiter{})
	return hw, ok
}
