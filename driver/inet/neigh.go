package inet

import (
	"net/netip"
	"slices"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// The neighbour table (net/core/neighbour.c with arp_tbl and nd_tbl): one
// entry per on-link address an interface sent to or heard from, resolved
// by ARP (IPv4) or neighbour discovery (IPv6) with the IPoIB 20-byte
// link-layer address; output waits in an entry's queue while it resolves.

// neighbour is one ARP entry.
type neighbour struct {
	hw    header.HWAddr
	state uint16 // NUD_*
	// used is when an output last went through the resolving path
	// (neigh_event_send from neigh_resolve_output; a reachable entry's
	// connected output leaves it), confirmed when reachability was last
	// confirmed (an ARP or neighbour advertisement received), updated
	// when the state or address last changed: the kernel's neigh->used,
	// ->confirmed and ->updated.
	used, confirmed, updated time.Time
	waiters                  []*waiter
	// queue holds the locally generated datagrams waiting for the
	// address (arp_queue), qbytes their length in bytes; probes is the
	// kernel's neigh->probes: ucastProbes when a resolution starts, plus
	// one a solicitation, kept after the resolution ends; timer is the
	// retransmission timer while resolving (neigh->timer), and psrc the
	// solicitations' source.
	queue  []queued
	qbytes int
	probes int
	timer  verbs.Timer
	psrc   netip.Addr
}

// queued is a datagram in a neighbour's queue, with its GSO size: a TCP
// segment the upper stack sent whole waits whole (as an skb in arp_queue
// keeps its gso_size), and is cut, if it must be, when it goes out.
type queued struct {
	ip  []byte
	gso int
}

// unresQlenBytes is unres_qlen_bytes (SK_WMEM_MAX, 212992): the bytes a
// neighbour being resolved queues before it drops the oldest datagram.
// The driver counts datagram bytes, not skb truesize.
const unresQlenBytes = 212992

// A resolution sends mcast_probes (3) broadcast solicitations: an
// INCOMPLETE entry's probes start at ucastProbes (ucast_probes, 3) and
// it fails at maxProbes (neigh_max_probes, ucast_probes + app_probes +
// mcast_probes: 3 + 0 + 3).
const (
	ucastProbes = 3
	maxProbes   = 6
)

// Neighbour states (include/uapi/linux/neighbour.h).
const (
	nudIncomplete = 0x01
	nudReachable  = 0x02
	nudStale      = 0x04
	nudDelay      = 0x08
	nudProbe      = 0x10
	nudFailed     = 0x20
	nudValid      = nudReachable | nudStale | nudDelay | nudProbe // of the states modelled, NUD_VALID's
)

// delayProbeTime is delay_first_probe_time (5 s): how long an entry used
// while STALE waits in DELAY for a confirmation before it probes.
const delayProbeTime = 5 * time.Second

// reachableTime is base_reachable_time (30 s) before an entry goes stale.
const reachableTime = 30 * time.Second

// reachable reports whether e is REACHABLE at now: confirmed within the
// reachable time, after which the kernel's timer makes it STALE. Caller
// holds mu.
func (e *neighbour) reachable(now time.Time) bool {
	return e.state == nudReachable && now.Sub(e.confirmed) <= reachableTime
}

// neighMsg is what a received ARP or neighbour discovery message says
// of one neighbour, for neighUpdate: its link-layer address and the state
// the message asserts, with __neigh_update's flags.
type neighMsg struct {
	hw    header.HWAddr
	state uint16 // nudReachable, or nudStale for a message that does not confirm reachability
	// create makes the entry when there is none (neigh_event_ns);
	// without it only an existing entry is updated (__neigh_lookup
	// without creat, neigh_lookup).
	create bool
	// override lets a different address replace a valid entry's
	// (NEIGH_UPDATE_F_OVERRIDE); lockTime, when not zero, grants it
	// once the entry has not changed for that long (arp_process: the
	// first of back-to-back replies wins). weak makes a different
	// address without override turn a reachable entry stale, its
	// address kept (NEIGH_UPDATE_F_WEAK_OVERRIDE).
	override, weak bool
	lockTime       time.Duration
	// keepFailed leaves a FAILED entry as it is (ndisc_recv_na).
	keepFailed bool
}

// arpLockTime is arp_tbl's locktime (1 s).
const arpLockTime = time.Second

// neighUpdate applies m to the interface's entry for ip as
// __neigh_update does, and, when the entry becomes valid, wakes whoever
// waits for it and sends the datagrams queued for it on nic (the
// arp_queue flush).
func (s *Stack) neighUpdate(nic *NIC, ip netip.Addr, m neighMsg) {
	index := nic.index
	s.mu.Lock()
	e := s.neigh[index][ip]
	if e == nil && !m.create || e != nil && m.keepFailed && e.state == nudFailed {
		s.mu.Unlock()
		return
	}
	if e == nil {
		e = s.entry(index, ip)
	}
	now := s.now()
	old := e.state
	if old == nudReachable && !e.reachable(now) {
		old = nudStale // as the kernel's timer would have made it
	}
	wasValid := old&nudValid != 0
	hw, state := m.hw, m.state
	if state == nudReachable {
		e.confirmed = now // even when the address is refused below
	}
	if wasValid {
		override := m.override || m.lockTime > 0 && now.Sub(e.updated) > m.lockTime
		switch {
		case hw != e.hw && !override && m.weak && old == nudReachable:
			hw, state = e.hw, nudStale
		case hw != e.hw && !override:
			s.mu.Unlock()
			return
		case hw == e.hw && state == nudStale:
			state = old
		}
	}
	newHW := !wasValid || hw != e.hw
	if state == old && !newHW {
		s.mu.Unlock()
		return
	}
	e.updated = now
	if newHW {
		e.hw = hw
		if state != nudReachable {
			e.confirmed = now.Add(-2 * reachableTime)
		}
	}
	if state != old {
		e.state = state
		if e.timer != nil { // neigh_del_timer: no more DELAY or probes
			e.timer.Stop()
			e.timer = nil
		}
	}
	var q []queued
	if !wasValid {
		if len(e.queue) > 0 || len(e.waiters) > 0 {
			// what waited goes out through the entry
			// (n1->output): a STALE one goes to DELAY
			s.eventSendLocked(index, ip, e)
		}
		wakeWaiters(e.waiters, false)
		e.waiters = nil
		q, e.queue, e.qbytes = e.queue, nil, 0
	}
	notify, state := s.neighNotify, e.state // neigh_fill_info reads it after the flush
	s.mu.Unlock()
	s.notifyNeigh(notify, index, ip, state, hw, false)
	for _, d := range q {
		s.xmit(nic, ip, hw, d.ip, nil, d.gso)
	}
}

// SetNeighNotify has fn called with every change of a neighbour entry's
// state or address, and with every entry deleted (deleted set, the entry
// as it was), as the kernel's neigh_update and neigh_delete send
// RTM_NEWNEIGH and RTM_DELNEIGH. fn is called without the stack's lock
// held; it must not block.
func (s *Stack) SetNeighNotify(fn func(index int32, n Neighbour, deleted bool)) {
	s.mu.Lock()
	s.neighNotify = fn
	s.mu.Unlock()
}

// notifyNeigh reports an entry's change to the SetNeighNotify function,
// if any. Caller does not hold mu.
func (s *Stack) notifyNeigh(fn func(int32, Neighbour, bool), index int32, ip netip.Addr, state uint16, hw header.HWAddr, deleted bool) {
	if fn != nil {
		fn(index, Neighbour{Addr: ip, State: state, HW: hw}, deleted)
	}
}

// output sends a locally generated IPv4 or IPv6 datagram from src to the
// on-link neighbour dst (neigh_resolve_output): at once when its address
// is known; otherwise the datagram waits in the entry's queue, the
// oldest dropped beyond unres_qlen_bytes, while the entry solicits the
// address once a second (__neigh_event_send, neigh_timer_handler).
// The queue goes out when the address comes (learn) and is dropped when
// maxProbes solicitations went unanswered. It never blocks.
func (s *Stack) output(nic *NIC, src, dst netip.Addr, ip []byte) {
	s.outputFrame(nic, src, dst, ip, nil, 0)
}

// outputFrame is output for a datagram that may come in a frame with
// room for the encapsulation header in front of it (frame[IPoIBHeaderLen:]
// is ip), which the link then takes as it is when the address is known.
func (s *Stack) outputFrame(nic *NIC, src, dst netip.Addr, ip, frame []byte, gso int) {
	index := nic.index
	s.mu.Lock()
	e := s.entry(index, dst)
	if s.eventSendLocked(index, dst, e) {
		hw := e.hw
		s.mu.Unlock()
		s.xmit(nic, dst, hw, ip, frame, gso)
		return
	}
	for len(e.queue) > 0 && e.qbytes+len(ip) > unresQlenBytes {
		e.qbytes -= len(e.queue[0].ip)
		e.queue = e.queue[1:]
		nic.link.DropTx(1)
	}
	e.queue = append(e.queue, queued{ip: ip, gso: gso})
	e.qbytes += len(ip)
	start := s.startProbingLocked(index, src, dst, e)
	notify := s.neighNotify
	s.mu.Unlock()
	if start {
		s.notifyNeigh(notify, index, dst, nudIncomplete, header.HWAddr{}, false)
		s.sendProbe(nic, src, dst)
	}
}

// eventSendLocked is neigh_event_send for an output through e: the use
// is noted unless the entry is REACHABLE (whose connected output leaves
// it), and a STALE entry goes to DELAY, its timer armed for
// delayProbeTime. It reports whether the output goes at once (a valid
// entry). Caller holds mu.
func (s *Stack) eventSendLocked(index int32, dst netip.Addr, e *neighbour) bool {
	now := s.now()
	if e.reachable(now) {
		return true
	}
	e.used = now
	// a REACHABLE entry past its reachable time is STALE: the kernel's
	// timer would have made it so
	if e.state == nudStale || e.state == nudReachable {
		e.state, e.updated = nudDelay, now
		if e.timer != nil {
			e.timer.Stop()
		}
		e.timer = s.clock.AfterFunc(delayProbeTime, func() { s.neighTimer(index, dst, e) })
	}
	return e.state&nudValid != 0
}

// startProbingLocked starts resolving an entry that is not being resolved
// (INCOMPLETE, its first solicitation from src, the retransmission timer
// armed) and reports whether it did: the caller then sends that first
// solicitation, outside the lock. Caller holds mu.
func (s *Stack) startProbingLocked(index int32, src, dst netip.Addr, e *neighbour) bool {
	if e.timer != nil {
		return false
	}
	// __neigh_event_send: probes from ucast_probes, and neigh_probe's
	// increment for the first solicitation
	e.state, e.probes, e.psrc, e.updated = nudIncomplete, ucastProbes+1, src, s.now()
	e.timer = s.clock.AfterFunc(probeInterval, func() { s.neighTimer(index, dst, e) })
	return true
}

// waiter is an output waiting for an entry to resolve: an echo request
// of ping ident, or (echo false) another.
type waiter struct {
	ch    chan struct{}
	echo  bool
	ident uint16
	// together is, when the entry failed, how many echo requests of
	// the same ping failed with this one (this one included): the
	// kernel drops its queue at once, and ping reads the errors in a
	// row.
	together int
	// cancelled is a wait ended by CancelEchoes.
	cancelled bool
}

// wakeWaiters ends the waits on an entry that resolved or, with failed,
// failed. Caller holds mu.
func wakeWaiters(ws []*waiter, failed bool) {
	if failed {
		n := map[uint16]int{}
		for _, w := range ws {
			if w.echo {
				n[w.ident]++
			}
		}
		for _, w := range ws {
			if w.echo {
				w.together = n[w.ident]
			}
		}
	}
	for _, w := range ws {
		close(w.ch)
	}
}

// entry returns the interface's entry for ip, creating it. Caller holds
// mu.
func (s *Stack) entry(index int32, ip netip.Addr) *neighbour {
	t := s.neigh[index]
	if t == nil {
		t = map[netip.Addr]*neighbour{}
		s.neigh[index] = t
	}
	e := t[ip]
	if e == nil {
		// ___neigh_create: used and updated now, confirmed twice the
		// reachable time ago
		now := s.now()
		e = &neighbour{used: now, updated: now, confirmed: now.Add(-2 * reachableTime)}
		t[ip] = e
	}
	return e
}

// neighTimer is neigh_timer_handler for an entry that resolves
// (INCOMPLETE), waits for a confirmation (DELAY) or probes (PROBE). A
// DELAY entry confirmed within delayProbeTime is REACHABLE again;
// otherwise it probes: ucastProbes unicast solicitations a second apart
// at the address it has, where a resolution broadcasts. An entry that
// has sent all its solicitations unanswered is FAILED, its queue dropped
// (neigh_invalidate).
func (s *Stack) neighTimer(index int32, dst netip.Addr, e *neighbour) {
	s.mu.Lock()
	if s.neigh[index][dst] != e || e.timer == nil {
		s.mu.Unlock()
		return // resolved, confirmed, deleted, or the interface went away
	}
	notify := s.neighNotify
	now := s.now()
	if e.state == nudDelay {
		if !now.After(e.confirmed.Add(delayProbeTime)) {
			e.state, e.updated, e.timer = nudReachable, now, nil
			hw := e.hw
			s.mu.Unlock()
			s.notifyNeigh(notify, index, dst, nudReachable, hw, false)
			return
		}
		e.state, e.updated, e.probes = nudProbe, now, 0
	}
	limit := maxProbes
	if e.state == nudProbe {
		limit = ucastProbes // neigh_max_probes: mcast_reprobes is 0
	}
	if e.probes >= limit {
		queue := e.queue
		dropped := len(queue)
		e.state, e.timer, e.queue, e.qbytes, e.updated = nudFailed, nil, nil, 0, now
		wakeWaiters(e.waiters, true) // they find the entry failed
		e.waiters = nil
		s.mu.Unlock()
		s.notifyNeigh(notify, index, dst, nudFailed, header.HWAddr{}, false)
		if nic := s.nicOf(index); nic != nil {
			nic.link.DropTx(uint64(dropped))
		}
		s.unreachableUp(index, queue)
		return
	}
	e.probes++
	e.timer = s.clock.AfterFunc(probeInterval, func() { s.neighTimer(index, dst, e) })
	state, hw, src, first := e.state, e.hw, e.psrc, e.probes == 1
	if state == nudProbe {
		src = s.probeSourceLocked(index, dst)
	}
	s.mu.Unlock()
	nic := s.nicOf(index)
	switch {
	case state != nudProbe:
		if nic != nil {
			s.sendProbe(nic, src, dst)
		}
	case first:
		// PROBE is notified once, before its first solicitation
		s.notifyNeigh(notify, index, dst, nudProbe, hw, false)
		fallthrough
	default:
		if nic != nil && src.IsValid() {
			s.sendUnicastProbe(nic, src, dst, hw)
		}
	}
}

// probeSourceLocked is the source of a unicast probe, sent with no
// datagram queued to take it from: for ARP inet_select_addr's (the
// address of the interface's subnet holding dst, else its first), for
// neighbour discovery the interface's link-local address (ndisc_send_ns),
// none when it has none. Caller holds mu.
func (s *Stack) probeSourceLocked(index int32, dst netip.Addr) netip.Addr {
	if dst.Is4() {
		src, _ := s.sourceFor4Locked(index, dst)
		return src
	}
	for _, p := range s.addrs[index] {
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// sendUnicastProbe sends a PROBE entry's solicitation to the address it
// has: an ARP request with an empty target hardware address (arp_solicit)
// or a neighbour solicitation to the target itself (ndisc_solicit).
func (s *Stack) sendUnicastProbe(nic *NIC, src, dst netip.Addr, hw header.HWAddr) {
	if dst.Is4() {
		s.sendARP(nic, header.ARPRequest, src, header.HWAddr{}, dst, hw)
		return
	}
	s.solicitTo(nic, src, dst, dst, hw)
}

// sendProbe broadcasts an ARP request or sends a neighbour solicitation.
func (s *Stack) sendProbe(nic *NIC, src, dst netip.Addr) {
	if dst.Is4() {
		s.sendARP(nic, header.ARPRequest, src, header.HWAddr{}, dst, nic.link.Broadcast())
	} else {
		s.solicit(nic, src, dst)
	}
}

// Neighbour is one entry of the neighbour table as ip neigh shows it.
type Neighbour struct {
	Addr  netip.Addr
	State uint16        // NUD_*
	HW    header.HWAddr // valid when REACHABLE, STALE, DELAY or PROBE (NUD_VALID)
	Stats NeighStats    // as ip -s neigh shows them
}

// NeighStats are an entry's times and counters that neigh_fill_info
// reports (NDA_CACHEINFO, NDA_PROBES).
type NeighStats struct {
	// Used, Confirmed and Updated are the time since the entry was last
	// used to resolve an output, last confirmed reachable and last
	// changed state or address.
	Used, Confirmed, Updated time.Duration
	// Refcnt is the references held on the entry besides the table's
	// own, which neigh_fill_info leaves out: the kernel counts every
	// holder, and the one holder here is the entry's timer, armed while
	// it resolves (INCOMPLETE) or is REACHABLE, as the kernel's
	// neigh_add_timer holds one. ip -s neigh prints it as "ref".
	Refcnt uint32
	// Probes is neigh->probes: ucast_probes plus the solicitations of
	// the last resolution.
	Probes uint32
}

// Neighbours lists the interface's neighbour table, sorted by address:
// reachable entries confirmed longer than the reachable time ago read as
// stale from that time on, as the kernel's timers would make them.
func (s *Stack) Neighbours(index int32) []Neighbour {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	t := s.neigh[index]
	out := make([]Neighbour, 0, len(t))
	for ip, e := range t {
		st, updated := e.state, e.updated
		if st == nudReachable && !e.reachable(now) {
			st = nudStale
			if at := e.confirmed.Add(reachableTime); at.After(updated) {
				updated = at
			}
		}
		var ref uint32
		if e.timer != nil || st == nudReachable {
			ref = 1
		}
		out = append(out, Neighbour{Addr: ip, State: st, HW: e.hw, Stats: NeighStats{
			Used: now.Sub(e.used), Confirmed: now.Sub(e.confirmed), Updated: now.Sub(updated),
			Refcnt: ref, Probes: uint32(e.probes)}})
	}
	slices.SortFunc(out, func(a, b Neighbour) int { return a.Addr.Compare(b.Addr) })
	return out
}

// DelNeighbour removes the interface's entry for ip (neigh_delete, as
// RTM_DELNEIGH does): its retransmission timer stops, datagrams waiting
// for the address are dropped and whoever waits for it finds it failed.
// It reports whether there was such an entry.
func (s *Stack) DelNeighbour(index int32, ip netip.Addr) bool {
	s.mu.Lock()
	e := s.neigh[index][ip]
	if e == nil {
		s.mu.Unlock()
		return false
	}
	delete(s.neigh[index], ip)
	if e.timer != nil {
		e.timer.Stop()
	}
	queue := e.queue
	dropped := len(queue)
	wasFailed := e.state == nudFailed
	e.state, e.timer, e.queue, e.qbytes, e.probes = nudFailed, nil, nil, 0, 0
	wakeWaiters(e.waiters, true)
	e.waiters = nil
	notify := s.neighNotify
	s.mu.Unlock()
	// neigh_delete: neigh_update to NUD_FAILED (notified when the state
	// changes), then the deletion
	if !wasFailed {
		s.notifyNeigh(notify, index, ip, nudFailed, header.HWAddr{}, false)
	}
	s.notifyNeigh(notify, index, ip, nudFailed, header.HWAddr{}, true)
	if nic := s.nicOf(index); nic != nil && dropped > 0 {
		nic.link.DropTx(uint64(dropped))
	}
	// __neigh_update to NUD_FAILED from INCOMPLETE: neigh_invalidate
	s.unreachableUp(index, queue)
	return true
}
