package verbs

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// WCStatus is a work completion status: the values of enum ib_wc_status
// that the emulation produces, numbered in its own order (see IBValue).
type WCStatus uint8

// Work completion statuses.
const (
	WCSuccess        WCStatus = iota // success
	WCLocLenErr                      // local length error: message larger than MTU or buffer
	WCLocQPOpErr                     // local QP operation error
	WCLocProtErr                     // local protection error
	WCWRFlushErr                     // flushed because the QP is in the Error state
	WCRemInvReqErr                   // the responder NAKed an invalid request
	WCRemAccessErr                   // the responder NAKed a remote access error
	WCRemOpErr                       // the responder NAKed a remote operational error
	WCRetryExcErr                    // transport retry counter exceeded
	WCRNRRetryExcErr                 // RNR retry counter exceeded
)

// ibWCStatus maps each status to its enum ib_wc_status value.
var ibWCStatus = [...]int{
	WCSuccess: 0, WCLocLenErr: 1, WCLocQPOpErr: 2, WCLocProtErr: 4, WCWRFlushErr: 5,
	WCRemInvReqErr: 9, WCRemAccessErr: 10, WCRemOpErr: 11, WCRetryExcErr: 12, WCRNRRetryExcErr: 13,
}

// IBValue is the status's value in the kernel's enum ib_wc_status, as
// drivers print it.
func (s WCStatus) IBValue() int {
	if int(s) < len(ibWCStatus) {
		return ibWCStatus[s]
	}
	return -1
}

var wcStatusNames = [...]string{
	WCSuccess:        "success",
	WCLocLenErr:      "local length error",
	WCLocQPOpErr:     "local QP operation error",
	WCLocProtErr:     "local protection error",
	WCWRFlushErr:     "WR flushed",
	WCRemInvReqErr:   "invalid request error",
	WCRemAccessErr:   "remote access error",
	WCRemOpErr:       "remote operation error",
	WCRetryExcErr:    "transport retry counter exceeded",
	WCRNRRetryExcErr: "RNR retry counter exceeded",
}

// String returns the kernel's ib_wc_status_msg text.
func (s WCStatus) String() string { return enumName(wcStatusNames[:], int(s), "WCStatus") }

// WCOpcode says which queue a completion comes from.
type WCOpcode uint8

// Completion opcodes.
const (
	WCSend WCOpcode = iota // a send WR completed
	WCRecv                 // a receive WR completed
)

var wcOpcodeNames = [...]string{WCSend: "SEND", WCRecv: "RECV"}

// String returns "SEND" or "RECV".
func (o WCOpcode) String() string { return enumName(wcOpcodeNames[:], int(o), "WCOpcode") }

// WC is a work completion (struct ib_wc). For a receive on a UD QP,
// ByteLen includes the 40 bytes of GRH space at the head of the buffer.
type WC struct {
	WRID      uint64
	Status    WCStatus
	Opcode    WCOpcode
	ByteLen   uint32
	QPNum     uint32   // the local QP the work request was posted to (or that took the SRQ WQE)
	SrcQP     uint32   // receive: the sender's QPN
	SLID      uint16   // receive: the sender's LID
	GRH       bool     // receive: a GRH was present (UD)
	SGID      [16]byte // receive: the GRH source GID, when GRH
	PKeyIndex uint16   // receive: the QP's P_Key index; on QP1 the index of the packet's P_Key
	WithImm   bool     // receive: Imm is valid
	Imm       uint32
}

// CQStats are a CQ's counters. Events/Completions is the number of
// completion events (interrupts) per completion.
type CQStats struct {
	Completions uint64 // completions queued
	Events      uint64 // times the handler was called
	Overflows   uint64 // completions lost because the CQ was full or in error
}

// CQ is a completion queue with one-shot arming (ib_req_notify_cq
// IB_CQ_NEXT_COMP) and event moderation (rdma_set_cq_moderation).
//
// Event rule: every completion counts as unreported until the next event.
// When the CQ is armed and a completion arrives, the handler is called if
// the moderation count is 0 or 1 and the period is 0, or if the count is
// N > 0 and at least N completions are unreported; otherwise, when the
// period is P > 0 and no period timer is running, a timer is started for P
// microseconds and, when it expires with the CQ still armed and
// completions unreported, the handler is called. An event disarms the CQ,
// clears the unreported count and stops the timer. A completion that
// arrives while the CQ is not armed is only counted; arming does not by
// itself raise an event (ReqNotify reports missed completions instead).
//
// The handler runs with no verbs lock held, on the goroutine that queued
// the completion (a poster, the wire's delivery goroutine or a timer); it
// may call Poll, ReqNotify and post work.
type CQ struct {
	dev     *Device
	handler func()

	mu        sync.Mutex
	ring      ring[WC]  // guarded by mu
	armed     bool      // guarded by mu
	unrep     uint32    // guarded by mu
	modCount  uint16    // guarded by mu
	modPeriod uint16    // guarded by mu
	timer     Timer     // guarded by mu
	timerOn   bool      // guarded by mu
	deadline  time.Time // guarded by mu
	err       error     // guarded by mu
	stats     CQStats   // guarded by mu
	fireTimer func()    // c.onTimer, bound once
}

// NewCQ creates a CQ holding up to depth completions. handler is the
// completion event handler (the interrupt); nil counts events only.
func (d *Device) NewCQ(depth int, handler func()) (*CQ, error) {
	if depth <= 0 || depth > maxQueueDepth {
		return nil, newError("create_cq", unix.EINVAL, "depth out of range")
	}
	c := &CQ{dev: d, handler: handler, ring: newLazyRing[WC](depth)}
	c.fireTimer = c.onTimer
	return c, nil
}

// Pending reports whether completions wait that an event was raised for:
// the CQ holds some and is not armed, so its handler has run, or its
// consumer has not re-armed it yet. Completions of an armed CQ wait for
// its moderation (a count or a period) and are not pending.
func (c *CQ) Pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.ring.empty() && !c.armed
}

// Depth is the number of completions the CQ holds.
func (c *CQ) Depth() int { return int(c.ring.limit) }

// Poll moves up to len(wcs) completions, oldest first, into wcs and returns
// how many it moved. It never allocates.
func (c *CQ) Poll(wcs []WC) int {
	c.mu.Lock()
	n := 0
	for n < len(wcs) && !c.ring.empty() {
		wcs[n] = *c.ring.consumer()
		c.ring.advanceConsumer()
		n++
	}
	c.mu.Unlock()
	return n
}

// ReqNotify arms the CQ for one event (IB_CQ_NEXT_COMP). It reports
// whether completions are already queued (IB_CQ_REPORT_MISSED_EVENTS), in
// which case the caller should poll again rather than wait.
func (c *CQ) ReqNotify() (missed bool) {
	c.mu.Lock()
	c.armed = true
	missed = !c.ring.empty()
	c.mu.Unlock()
	return missed
}

// Modify sets event moderation, as ethtool -C rx-frames/rx-usecs reach
// rdma_set_cq_moderation: count completions or periodUsec microseconds
// after the first unreported one, whichever comes first. 0 and 0 means an
// event for every completion. It returns EOPNOTSUPP when the device was
// created without CQModeration.
func (c *CQ) Modify(count, periodUsec uint16) error {
	if !c.dev.opts.CQModeration {
		return newError("modify_cq", unix.EOPNOTSUPP, "CQ moderation not supported")
	}
	c.mu.Lock()
	c.modCount, c.modPeriod = count, periodUsec
	if c.timerOn && periodUsec == 0 {
		c.timer.Stop()
		c.timerOn = false
	}
	c.mu.Unlock()
	return nil
}

// Moderation returns the values set by Modify.
func (c *CQ) Moderation() (count, periodUsec uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.modCount, c.modPeriod
}

// Stats returns the CQ's counters.
func (c *CQ) Stats() CQStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Err returns nil, or the overflow error once the CQ has overflowed. An
// overflowed CQ stays in error (IB_EVENT_CQ_ERR): every later completion
// is lost and counted in Overflows, while queued ones can still be polled.
func (c *CQ) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// post queues wc (rxe_cq_post). On overflow the completion is lost, the CQ
// enters the error state and errCQOverflow (EBUSY) is returned. It reports
// whether the caller must call the handler, which it does after releasing
// its own locks (see notifier).
func (c *CQ) post(wc *WC) (event bool, err error) {
	c.mu.Lock()
	if c.err != nil || c.ring.full() {
		c.err = errCQOverflow
		c.stats.Overflows++
		c.mu.Unlock()
		return false, errCQOverflow
	}
	*c.ring.producer() = *wc
	c.ring.advanceProducer()
	c.stats.Completions++
	c.unrep++
	if c.armed {
		switch {
		case c.modCount <= 1 && c.modPeriod == 0,
			c.modCount > 0 && c.unrep >= uint32(c.modCount):
			event = c.fireLocked()
		case c.modPeriod > 0 && !c.timerOn:
			c.startTimerLocked()
		}
	}
	c.mu.Unlock()
	return event, nil
}

// Caller holds c.mu.
func (c *CQ) fireLocked() bool {
	c.armed = false
	c.unrep = 0
	if c.timerOn {
		c.timer.Stop()
		c.timerOn = false
	}
	c.stats.Events++
	return true
}

// Caller holds c.mu.
func (c *CQ) startTimerLocked() {
	d := time.Duration(c.modPeriod) * time.Microsecond
	clk := c.dev.clock
	c.deadline = clk.Now().Add(d)
	if c.timer == nil {
		c.timer = clk.AfterFunc(d, c.fireTimer)
	} else {
		c.timer.Reset(d)
	}
	c.timerOn = true
}

// onTimer is the moderation period expiring.
func (c *CQ) onTimer() {
	c.mu.Lock()
	// A callback from a timer that was stopped or restarted after it had
	// already fired is stale: ignore it.
	if !c.timerOn || c.dev.clock.Now().Before(c.deadline) {
		c.mu.Unlock()
		return
	}
	c.timerOn = false
	event := false
	if c.armed && c.unrep > 0 {
		event = c.fireLocked()
	}
	c.mu.Unlock()
	if event {
		c.notify()
	}
}

// notify calls the handler; no lock may be held.
func (c *CQ) notify() {
	if c.handler != nil {
		c.handler()
	}
}

// notifier collects the events and SRQ limit events raised while a QP's
// lock is held, to be delivered after it is released (as gVisor's loopback
// delivers after unlocking). A CQ is armed one-shot, so it raises at most
// one event per locked section; a QP uses at most two CQs.
type notifier struct {
	cqs [2]*CQ
	srq *SRQ
}

func (n *notifier) add(c *CQ) {
	switch {
	case n.cqs[0] == nil || n.cqs[0] == c:
		n.cqs[0] = c
	default:
		n.cqs[1] = c
	}
}

// run delivers the collected events and resets n.
func (n *notifier) run() {
	cq0, cq1, srq := n.cqs[0], n.cqs[1], n.srq
	*n = notifier{}
	if cq0 != nil {
		cq0.notify()
	}
	if cq1 != nil {
		cq1.notify()
	}
	if srq != nil {
		srq.notifyLimit()
	}
}
