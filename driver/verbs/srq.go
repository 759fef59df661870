package verbs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// RecvWR is a receive work request: the buffers a message lands in.
type RecvWR struct {
	WRID uint64
	SGL  [][]byte // scatter list; filled in order
	// Lend, with an empty SGL, supplies the buffer when a message lands
	// in the WR instead: n is the message's length (with the GRH on UD),
	// which the buffer must hold. LendLen is the WR's length as the
	// length check sees it. The memory is bound to the queue only while
	// it holds a message, as an HCA with on-demand paging works without
	// pinning its whole ring. Lend runs on the sender's goroutine with
	// the QP locked: it must not call the QP.
	Lend    func(wrid uint64, n int) []byte
	LendLen int
}

// recvWQE is a posted receive as kept in an RQ or SRQ slot (and in the
// responder while a message is in progress). sgl has a preallocated
// backing array of the queue's max SGE, so posting copies slice headers
// only.
type recvWQE struct {
	wrid   uint64
	sgl    [][]byte
	length int
	lend   func(wrid uint64, n int) []byte // RecvWR.Lend; nil with an SGL
}

func (w *recvWQE) set(wr *RecvWR) {
	w.wrid = wr.WRID
	w.sgl = append(w.sgl[:0], wr.SGL...)
	w.length = 0
	for _, s := range wr.SGL {
		w.length += len(s)
	}
	w.lend = nil
	if len(wr.SGL) == 0 && wr.Lend != nil {
		w.lend, w.length = wr.Lend, wr.LendLen
	}
}

func (w *recvWQE) copyFrom(o *recvWQE) {
	w.wrid = o.wrid
	w.sgl = append(w.sgl[:0], o.sgl...)
	w.length = o.length
	w.lend = o.lend
}

// borrow takes a lent buffer for an n-byte message when the WQE has
// none yet.
func (w *recvWQE) borrow(n int) {
	if w.lend != nil && len(w.sgl) == 0 {
		w.sgl = append(w.sgl, w.lend(w.wrid, n))
	}
}

// clear drops the references to the caller's buffers.
func (w *recvWQE) clear() {
	clear(w.sgl)
	w.sgl = w.sgl[:0]
	w.lend = nil
}

// SRQ is a shared receive queue: RC QPs created with it take their receive
// WQEs from it (IPoIB connected mode).
type SRQ struct {
	maxSGE int

	mu         sync.Mutex
	ring       ring[recvWQE] // guarded by mu
	limit      int           // guarded by mu
	limitFn    func()        // guarded by mu
	limitArmed bool          // guarded by mu
	destroyed  bool          // guarded by mu
}

// NewSRQ creates an SRQ holding up to depth receive WRs of up to maxSGE
// buffers each.
func (d *Device) NewSRQ(depth, maxSGE int) (*SRQ, error) {
	if depth <= 0 || depth > maxQueueDepth || maxSGE <= 0 || maxSGE > maxSGEs {
		return nil, newError("create_srq", unix.EINVAL, "depth or max SGE out of range")
	}
	return &SRQ{maxSGE: maxSGE, ring: newRing[recvWQE](depth)}, nil
}

// PostRecv queues a receive WR. It returns ENOMEM when the SRQ is full and
// EINVAL when wr has more than maxSGE buffers.
func (s *SRQ) PostRecv(wr *RecvWR) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.postLocked(wr)
}

// PostRecvList posts wrs in order under one acquisition of the SRQ, as a
// chained ibv_post_srq_recv does, and returns how many it posted: it
// stops at the first WR that PostRecv would refuse, returning that error.
func (s *SRQ) PostRecvList(wrs []RecvWR) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range wrs {
		if err := s.postLocked(&wrs[i]); err != nil {
			return i, err
		}
	}
	return len(wrs), nil
}

// postLocked queues one receive WR (see PostRecv).
// Caller holds s.mu.
func (s *SRQ) postLocked(wr *RecvWR) error {
	if s.destroyed {
		return errSRQDestroyed
	}
	if len(wr.SGL) > s.maxSGE {
		return errSRQTooManySGE
	}
	if s.ring.full() {
		return errSRQFull
	}
	s.ring.producer().set(wr)
	s.ring.advanceProducer()
	return nil
}

// Destroy is ibv_destroy_srq: the posted WRs are dropped, with the
// references to their buffers, and QPs still attached take nothing more
// from it; a later post fails with EINVAL.
func (s *SRQ) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroyed = true
	for i := range s.ring.buf {
		s.ring.buf[i].clear()
	}
	s.ring.reset()
}

// Len is the number of posted receive WRs not yet taken.
func (s *SRQ) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.ring.count())
}

// ArmLimit arms the SRQ limit event (IB_EVENT_SRQ_LIMIT_REACHED): handler
// is called once, with no verbs lock held, when taking a WQE leaves fewer
// than limit posted. Arm again to get another event.
func (s *SRQ) ArmLimit(limit int, handler func()) {
	s.mu.Lock()
	s.limit, s.limitFn, s.limitArmed = limit, handler, true
	s.mu.Unlock()
}

// take moves the oldest WQE into w. It reports false when the SRQ is empty.
// A limit event to deliver is added to n.
func (s *SRQ) take(w *recvWQE, n *notifier) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ring.empty() {
		return false
	}
	slot := s.ring.consumer()
	w.copyFrom(slot)
	slot.clear()
	s.ring.advanceConsumer()
	if s.limitArmed && int(s.ring.count()) < s.limit {
		s.limitArmed = false
		n.srq = s
	}
	return true
}

func (s *SRQ) notifyLimit() {
	s.mu.Lock()
	fn := s.limitFn
	s.mu.Unlock()
	if fn != nil {
		fn()
	}
}
