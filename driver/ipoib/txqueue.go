package ipoib

import (
	"errors"

	"github.com/ibctl/ibctl/driver/header"
	"golang.org/x/sys/unix"
)

// The netdev transmit queue and its qdisc (ipoib_send, ipoib_cm_send,
// ipoib_ib_handle_tx_wc, ipoib_cm_handle_tx_wc). Every send, UD or RC, is
// signaled and counted outstanding until its completion is polled (the
// interface's global_tx_head − global_tx_tail). The send that makes
// send_queue_size sends outstanding stops the queue ("TX ring full,
// stopping kernel net queue") and arms the send CQ; the completions that
// bring the outstanding sends down to half the ring wake it. The rings
// are never overrun, so a full ring is never a tx_dropped or a tx_error.
//
// While the queue is stopped, the packets handed to WritePacket wait in
// a FIFO of at most tx_queue_len packets (pfifo_fast's limit); one over
// the limit is dropped and counted in the qdisc's drops (tc -s qdisc), not
// in the interface's counters, and WritePacket returns ErrQdiscDrop. The
// poller, woken by the send CQ's event (the send NAPI), sends what waits,
// in order, until the queue stops again. A packet that finds packets
// waiting queues behind them, so that one destination's packets keep
// their order.

// ErrQdiscDrop is a packet that the stopped queue's qdisc had no room for
// (NET_XMIT_DROP, which a socket sees as ENOBUFS).
var ErrQdiscDrop error = qdiscDrop{}

// qdiscDrop is ErrQdiscDrop's type, a constant that wraps ENOBUFS.
type qdiscDrop struct{}

func (qdiscDrop) Error() string { return "transmit queue full: " + unix.ENOBUFS.Error() }
func (qdiscDrop) Unwrap() error { return unix.ENOBUFS }

// QueueStopped reports whether the transmit queue is stopped, or packets
// wait in its qdisc (netif_queue_stopped): a writer that can wait, as a
// socket whose send buffer is full does, waits for it to wake rather
// than queue copies.
func (ep *Endpoint) QueueStopped() bool { return ep.qdiscBusy.Load() }

// qdiscPkt is a packet that waits in the qdisc: a copy, since the
// caller's buffer goes back to it when WritePacket returns.
type qdiscPkt struct {
	pkt []byte
	dst header.HWAddr
	mss int // a GSO packet's, which waits whole
}

// errRingFull is a post that found the ring full: the packet is queued
// in the qdisc instead (never returned by WritePacket).
var errRingFull = errors.New("send ring full")

// qdiscActiveLocked reports whether a packet must go through the qdisc:
// the queue is stopped, or packets wait, or the poller is sending them.
// Caller holds txmu.
func (ep *Endpoint) qdiscActiveLocked() bool {
	return ep.stopped || ep.draining || len(ep.backlog) > 0
}

// enqueueLocked queues a copy of pkt at the tail of the qdisc, or drops
// it when tx_queue_len packets wait. Caller holds txmu.
func (ep *Endpoint) enqueueLocked(pkt []byte, dst header.HWAddr, mss int) error {
	if len(ep.backlog) >= int(ep.cfg.Load().TxQueueLen) {
		ep.stats.qdiscDrops.Add(1)
		return ErrQdiscDrop
	}
	ep.backlog = append(ep.backlog, qdiscPkt{pkt: append([]byte(nil), pkt...), dst: dst, mss: mss})
	ep.qdiscBusy.Store(true)
	return nil
}

// reserveLocked takes a ring slot for a send about to be posted: it stops
// the queue if this send fills the ring. It returns errRingFull when the
// ring is full already (a sender that raced the stop) or, for a sender
// other than the poller's drain, when packets wait before it. rcQPN is
// the connection's QP, 0 for a UD send. Caller holds txmu.
func (ep *Endpoint) reserveLocked(fromQdisc bool, rcQPN uint32) error {
	ep.retireSendsLocked()
	if ep.outstanding >= ep.sendq || (!fromQdisc && ep.qdiscActiveLocked()) {
		return errRingFull
	}
	if ep.outstanding == ep.sendq-1 {
		if rcQPN != 0 {
			ep.dbg("TX ring 0x%x full, stopping kernel net queue", rcQPN) // ipoib_cm_send
		} else {
			ep.dbg("TX ring full, stopping kernel net queue")
		}
		ep.stopped = true
		ep.qdiscBusy.Store(true)
	}
	ep.outstanding++
	return nil
}

// unreserveLocked gives back the slot of a send that the QP refused,
// waking the queue if the send had stopped it (ipoib_send's error path).
// Caller holds txmu.
func (ep *Endpoint) unreserveLocked() {
	ep.outstanding--
	if ep.stopped {
		ep.stopped = false
		ep.wakeLocked()
	}
}

// armLocked arms the send CQ for the completion that wakes the stopped
// queue, or wakes the poller at once if completions wait already.
// Caller holds txmu.
func (ep *Endpoint) armLocked() {
	if ep.stopped && ep.scq.ReqNotify() {
		ep.kickTx()
	}
}

// wakeLocked is netif_wake_queue: packets waiting in the qdisc are sent
// by the poller. Caller holds txmu.
func (ep *Endpoint) wakeLocked() {
	if len(ep.backlog) > 0 {
		ep.kickTx()
	} else if !ep.draining {
		ep.qdiscBusy.Store(false)
	}
}

// retiredLocked accounts for one polled send completion and wakes the
// queue once half the ring is free. Caller holds txmu.
func (ep *Endpoint) retiredLocked() {
	ep.outstanding--
	if ep.stopped && ep.outstanding <= ep.sendq>>1 {
		ep.stopped = false
		ep.wakeLocked()
	}
}

// kickTx is the send CQ's completion handler, and the queue's wake: it
// only wakes the poller, since it may run inside a sender's PostSend.
func (ep *Endpoint) kickTx() {
	select {
	case ep.txWake <- struct{}{}:
	default:
	}
}

// pollTx is the send NAPI (ipoib_tx_poll): it retires the finished sends
// and, while the queue runs, sends what waits in the qdisc, in order.
func (ep *Endpoint) pollTx() {
	defer ep.handleSendErrors()
	ep.txmu.Lock()
	ep.retireSendsLocked()
	if ep.stopped || ep.draining {
		ep.armLocked()
		ep.txmu.Unlock()
		return
	}
	ep.draining = true
	for !ep.stopped && len(ep.backlog) > 0 {
		q := ep.backlog[0]
		ep.backlog[0] = qdiscPkt{}
		ep.backlog = ep.backlog[1:]
		ep.txmu.Unlock()
		_ = ep.xmit(q.pkt, q.dst, q.mss, true)
		ep.handleSendErrors()
		ep.txmu.Lock()
	}
	ep.draining = false
	if len(ep.backlog) == 0 {
		ep.backlog = nil
		if !ep.stopped {
			ep.qdiscBusy.Store(false)
		}
	}
	ep.armLocked()
	ep.txmu.Unlock()
}

// requeueLocked puts a packet that the poller could not post back at the
// head of the qdisc. Caller holds txmu.
func (ep *Endpoint) requeueLocked(pkt []byte, dst header.HWAddr, mss int) {
	ep.backlog = append([]qdiscPkt{{pkt: pkt, dst: dst, mss: mss}}, ep.backlog...)
	ep.qdiscBusy.Store(true)
}

// queueOrRequeueLocked holds a packet whose post found the ring full or
// packets waiting: at the head of the qdisc if it came from it, at its
// tail otherwise. Caller holds txmu.
func (ep *Endpoint) queueOrRequeueLocked(pkt []byte, dst header.HWAddr, mss int, fromQdisc bool) error {
	if fromQdisc {
		ep.requeueLocked(pkt, dst, mss)
		return nil
	}
	err := ep.enqueueLocked(pkt, dst, mss)
	if !ep.stopped && !ep.draining {
		ep.kickTx()
	}
	return err
}

// forgetSends drops the outstanding sends of an RC QP just destroyed:
// destroying it dropped its work requests without completions. The
// completions it made before are retired first.
func (ep *Endpoint) forgetSends(qpn uint32) {
	ep.txmu.Lock()
	ep.retireSendsLocked()
	n := ep.rcInflight[qpn]
	delete(ep.rcInflight, qpn)
	delete(ep.rcRings, qpn) // its packets go to the garbage collector
	for range n {
		ep.retiredLocked()
	}
	ep.txmu.Unlock()
}

// QdiscStats are the qdisc's drops (tc -s qdisc: "dropped") and the
// packets waiting in it (its backlog).
func (ep *Endpoint) QdiscStats() (drops uint64, backlog int) {
	ep.txmu.Lock()
	defer ep.txmu.Unlock()
	return ep.stats.qdiscDrops.Load(), len(ep.backlog)
}
