package ipoib

import (
	"github.com/ibctl/ibctl/driver/verbs"
)

// Send completions (ipoib_ib_handle_tx_wc, ipoib_cm_handle_tx_wc). UD and
// RC sends share the interface's send CQ; RC work requests carry opCM in
// their ID, as IPOIB_OP_CM marks them, with the connection's ring slot (its
// send count modulo send_queue_size, a power of two) in the low bits.
// Every send is signaled; finished sends are retired before each post and
// by the poller when the stopped queue armed the CQ (txqueue.go). An RC send
// that fails (its QP ran out of transport retries: the peer is gone) frees
// the connection's neighbour and reaps the connection, so the next packet
// resolves and connects again.

// opCM marks the work request IDs of RC sends (IPOIB_OP_CM).
const opCM = 1 << 30

// retireSendsLocked polls the send CQ empty, retires each send from the
// outstanding ones (which may wake the queue: txqueue.go) and notes
// failed RC sends for handleSendErrors. Caller holds txmu.
func (ep *Endpoint) retireSendsLocked() {
	for {
		n := ep.scq.Poll(ep.txwcs)
		if n == 0 {
			return
		}
		for i := range ep.txwcs[:n] {
			wc := &ep.txwcs[i]
			if wc.WRID&opCM != 0 {
				if ep.rcInflight[wc.QPNum]--; ep.rcInflight[wc.QPNum] <= 0 {
					delete(ep.rcInflight, wc.QPNum)
				}
			}
			ep.sentLocked(wc)
			ep.retiredLocked()
			if wc.WRID&opCM != 0 && wc.Status != verbs.WCSuccess && wc.Status != verbs.WCWRFlushErr {
				ep.sendErrs = append(ep.sendErrs, *wc)
				ep.hasSendErrs.Store(true)
			}
		}
	}
}

// handleSendErrors reaps the connections whose sends failed; it runs after
// txmu is released, since reaping destroys QPs.
func (ep *Endpoint) handleSendErrors() {
	if !ep.hasSendErrs.Load() {
		return
	}
	ep.txmu.Lock()
	errs := ep.sendErrs
	ep.sendErrs = nil
	ep.hasSendErrs.Store(false)
	ep.txmu.Unlock()
	for i := range errs {
		ep.cmSendFailed(&errs[i])
	}
}

// cmSendFailed is ipoib_cm_handle_tx_wc's error branch: a retry-exceeded
// failure is part of a connection's life (a debug message), others are
// warnings; the connection's neighbour is freed and the connection
// reaped (ipoib_cm_tx_reap: its CM ID, which disconnects, and its QP).
func (ep *Endpoint) cmSendFailed(wc *verbs.WC) {
	tx := ep.txByQPN(wc.QPNum)
	if tx == nil {
		return // reaped already
	}
	const msg = "ipoib_cm_handle_tx_wc: failed cm send event (status=%d, wrid=%d vend_err %#x)"
	if wc.Status == verbs.WCRetryExcErr || wc.Status == verbs.WCRNRRetryExcErr {
		ep.dbg(msg, wc.Status.IBValue(), wc.WRID&^opCM, 0)
	} else {
		ep.warn(msg, wc.Status.IBValue(), wc.WRID&^opCM, 0)
	}
	if ep.detachTx(tx) {
		ep.destroyTx(tx)
	}
}

// txByQPN finds the active connection whose QP is qpn. A connection that
// is starting is waited for (started), outside the table's lock.
func (ep *Endpoint) txByQPN(qpn uint32) *cmTx {
	t := &ep.neighs
	t.mu.Lock()
	var txs []*cmTx
	for _, n := range t.m {
		if tx := n.cm.Load(); tx != nil {
			txs = append(txs, tx)
		}
	}
	t.mu.Unlock()
	for _, tx := range txs {
		<-tx.started
		qp := tx.qp
		if qp != nil && qp.Num() == qpn {
			return tx
		}
	}
	return nil
}

// sentPkt is a ring slot: the packet of a send in flight and its WR ID.
type sentPkt struct {
	wrid uint64
	pkt  []byte
}

// noteUDSendLocked remembers the packet of the UD send just posted with
// wrid, for sendDone. Caller holds txmu.
func (ep *Endpoint) noteUDSendLocked(wrid uint64, pkt []byte) {
	if ep.sendDone == nil {
		return
	}
	if ep.udRing == nil {
		ep.udRing = make([]sentPkt, ep.sendq)
	}
	noteSend(&ep.udRing[wrid%uint64(len(ep.udRing))], wrid, pkt)
}

// noteRCSendLocked remembers the packet of the RC send just posted on
// the connection's QP qpn in slot, for sendDone. Caller holds txmu.
func (ep *Endpoint) noteRCSendLocked(qpn uint32, slot uint64, pkt []byte) {
	if ep.sendDone == nil {
		return
	}
	ring := ep.rcRings[qpn]
	if ring == nil {
		if ep.rcRings == nil {
			ep.rcRings = map[uint32][]sentPkt{}
		}
		ring = make([]sentPkt, ep.sendq)
		ep.rcRings[qpn] = ring
	}
	noteSend(&ring[slot], opCM|slot, pkt)
}

// noteSend fills a ring slot. A slot still taken (which the rings' size,
// the bound on the sends in flight, rules out) is emptied instead: neither
// packet is ever passed to sendDone, so that no completion can give back
// a packet whose send has not completed.
func noteSend(s *sentPkt, wrid uint64, pkt []byte) {
	if s.pkt != nil {
		*s = sentPkt{}
		return
	}
	*s = sentPkt{wrid: wrid, pkt: pkt}
}

// sentLocked passes the packet of a completed send to sendDone and
// empties its slot (ipoib_ib_handle_tx_wc's and ipoib_cm_handle_tx_wc's
// dev_kfree_skb_any). Caller holds txmu.
func (ep *Endpoint) sentLocked(wc *verbs.WC) {
	if ep.sendDone == nil {
		return
	}
	var ring []sentPkt
	if wc.WRID&opCM != 0 {
		ring = ep.rcRings[wc.QPNum]
	} else {
		ring = ep.udRing
	}
	if len(ring) == 0 {
		return
	}
	s := &ring[(wc.WRID&^opCM)%uint64(len(ring))]
	if s.pkt == nil || s.wrid != wc.WRID {
		return
	}
	pkt := s.pkt
	*s = sentPkt{}
	ep.sendDone(pkt)
}
