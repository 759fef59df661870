package verbs

import "time"

// Transport retries (IBA 9.7.6.1.3; rxe's retransmit timer): an RC
// requester expects an acknowledgement within the local ACK timeout,
// 4.096 µs × 2^Timeout (code 0: never), of the last request that asked
// for one. When the timer expires with messages unacknowledged, or a NAK
// reports a PSN sequence error, the requester resends from the oldest
// unacknowledged message, at most RetryCnt times in a row; then that WQE
// completes with RETRY_EXC_ERR and the QP fails, which is how a sender
// learns that its peer is gone. An acknowledgement that makes progress
// restores the count. The responder acknowledges a duplicate request
// that asks for an ACK with the last PSN it received, so that a resend
// after a lost ACK completes.

// AckTimeout is the local ACK timeout a QPAttr.Timeout code stands for;
// 0 for code 0 (no timeout).
func AckTimeout(code uint8) time.Duration {
	if code == 0 || code > 31 {
		return 0
	}
	return time.Duration(4096<<code) * time.Nanosecond
}

// armAckTimerLocked restarts the ACK timeout for a request just built
// with the ACK-request bit. The timer is lazy: each request only moves
// the deadline, and a timer that fires early re-arms itself for the
// rest, so steady traffic costs no timer operation per message.
// Caller holds qp.mu.
func (qp *QP) armAckTimerLocked() {
	d := AckTimeout(qp.attr.Timeout)
	if d == 0 {
		return
	}
	clk := qp.dev.clock
	qp.ackAt = clk.Now().Add(d)
	switch {
	case qp.ackArmed:
	case qp.ackTimer == nil:
		qp.ackTimer, qp.ackArmed = clk.AfterFunc(d, qp.ackFn), true
	default:
		qp.ackTimer.Reset(d)
		qp.ackArmed = true
	}
}

// clearAckDeadlineLocked ends the ACK timeout once everything sent is
// acknowledged; a pending timer finds no deadline when it fires.
// Caller holds qp.mu.
func (qp *QP) clearAckDeadlineLocked() {
	qp.ackAt = time.Time{}
}

// stopAckTimerLocked cancels the ACK timeout and its timer (QP error or
// reset, RNR wait).
// Caller holds qp.mu.
func (qp *QP) stopAckTimerLocked() {
	qp.ackAt = time.Time{}
	if qp.ackArmed {
		qp.ackTimer.Stop()
		qp.ackArmed = false
	}
}

// unackedLocked reports whether a sent message awaits its ACK.
// Caller holds qp.mu.
func (qp *QP) unackedLocked() bool {
	return qp.req.next != qp.sq.cons || qp.req.offset > 0
}

// onAckTimer is the ACK timer's callback.
func (qp *QP) onAckTimer() {
	qp.mu.Lock()
	qp.ackArmed = false
	now := qp.dev.clock.Now()
	switch {
	case qp.ackAt.IsZero():
		// stopped
	case now.Before(qp.ackAt):
		// the deadline moved on: wait for the rest
		qp.ackTimer.Reset(qp.ackAt.Sub(now))
		qp.ackArmed = true
	case qp.state != QPRTS || qp.req.rnrWait || !qp.unackedLocked():
		qp.ackAt = time.Time{}
	default:
		qp.ackAt = time.Time{}
		var n notifier
		if qp.retryLocked(&n) {
			_ = qp.runRequesterLocked() // unlocks; an overflow is recorded in the CQ
			n.run()
			return
		}
		qp.mu.Unlock()
		n.run()
		return
	}
	qp.mu.Unlock()
}

// retryLocked resends from the oldest unacknowledged message if a retry
// is left, and reports whether it did; otherwise that message completes
// with RETRY_EXC_ERR and the QP fails. The caller then runs the
// requester.
// Caller holds qp.mu.
func (qp *QP) retryLocked(n *notifier) bool {
	w := qp.sq.consumer()
	if qp.comp.retryLeft == 0 {
		w.status = WCRetryExcErr
		qp.dev.st.retryExceeded.Add(1)
		qp.enterErrorLocked(n)
		return false
	}
	qp.comp.retryLeft--
	qp.dev.st.retries.Add(1)
	qp.req.next, qp.req.offset, qp.req.psn = qp.sq.cons, 0, w.firstPSN
	return true
}

// Unacked is how many of the device's connected QPs have sent a message
// that awaits its acknowledgement under a running ACK timeout (an RNR
// wait is not counted: only its timer ends it). On a synchronous wire an
// acknowledgement is back before the send returns, so a count above
// zero is a send still under way in some goroutine, or a lost message.
func (d *Device) Unacked() int {
	d.mu.RLock()
	qps := make([]*QP, 0, len(d.qps))
	for _, qp := range d.qps {
		if qp.typ == RC {
			qps = append(qps, qp)
		}
	}
	d.mu.RUnlock()
	n := 0
	for _, qp := range qps {
		qp.mu.Lock()
		if qp.state == QPRTS && !qp.req.rnrWait && !qp.ackAt.IsZero() && qp.unackedLocked() {
			n++
		}
		qp.mu.Unlock()
	}
	return n
}
