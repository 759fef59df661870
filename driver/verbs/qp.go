package verbs

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// QPType is the transport service of a QP.
type QPType uint8

// QP types (enum ib_qp_type values).
const (
	RC QPType = 2 // reliable connected: IPoIB connected mode
	UD QPType = 4 // unreliable datagram: IPoIB datagram mode
)

var qpTypeNames = [...]string{RC: "RC", UD: "UD"}

// String returns "RC" or "UD".
func (t QPType) String() string { return enumName(qpTypeNames[:], int(t), "QPType") }

// QPInitAttr are the creation attributes of a QP (ib_qp_init_attr).
type QPInitAttr struct {
	Type   QPType
	SendCQ *CQ
	RecvCQ *CQ
	// SRQ, when set, supplies the receive WRs; the QP then has no
	// receive queue and PostRecv fails with EINVAL.
	SRQ     *SRQ
	MaxSend int // send queue depth; a full SQ makes PostSend return ENOMEM
	MaxRecv int // receive queue depth (ignored with an SRQ)
	MaxSGE  int // max SGEs per send or receive WR
	// SigAll makes every send WR complete with a WC (IB_SIGNAL_ALL_WR);
	// otherwise only SendWR.Signaled ones do. Errors always complete.
	SigAll bool
	// QPN asks for a specific QP number (one a driver saved and restores,
	// or GSIQPN for a UD QP: see gsi.go); 0 allocates the next free one.
	// A number in use gives EBUSY.
	QPN uint32
}

// AH is the address of a UD destination, given with each UD send: the
// address vector plus the remote QPN and Q_Key that the IBA puts in the
// UD work request.
type AH struct {
	DLID    uint16
	GRH     bool
	DGID    [16]byte // destination GID (an MGID for multicast)
	DestQPN uint32   // 0xFFFFFF for multicast
	// QKey is sent in the DETH; a value with bit 31 set means "use the
	// QP's own Q_Key", as in the IBA.
	QKey uint32
}

// WROpcode is a send work request opcode.
type WROpcode uint8

// Send opcodes.
const (
	WRSend        WROpcode = iota // SEND
	WRSendWithImm                 // SEND with immediate data
	WRLSO                         // large send offload (IB_WR_LSO): UD only, see SendWR
)

var wrOpcodeNames = [...]string{WRSend: "SEND", WRSendWithImm: "SEND_WITH_IMM", WRLSO: "LSO"}

// String returns the work request opcode name.
func (o WROpcode) String() string { return enumName(wrOpcodeNames[:], int(o), "WROpcode") }

// SendWR is a send work request. The buffers in SGL must stay untouched
// until the send completes (UD: when the packet is handed to the wire; RC:
// when the message is acknowledged).
type SendWR struct {
	WRID     uint64
	Opcode   WROpcode
	Signaled bool // request a WC on success (see QPInitAttr.SigAll)
	SGL      [][]byte
	Imm      uint32
	AH       AH // UD only
	// PKeyIndex is the P_Key index a send on QP1 goes with
	// (ib_ud_wr.pkey_index, used for GSI QPs only): a MAD travels with
	// the P_Key of what it is about, such as a CM message with its
	// connection's. Other QPs send with the P_Key at their own index.
	PKeyIndex uint16
	// Header and MSS are an LSO's (opcode WRLSO on a UD QP; ib_ud_wr's
	// header, hlen and mss): the HCA sends the message as UD datagrams
	// of Header followed by at most MSS bytes of the SGL's data each, as
	// the LSO engine of an IPoIB HCA (IB_DEVICE_UD_TSO) does. Header is
	// the 4-byte IPoIB encapsulation header, then an IPv4 or IPv6 header
	// and a TCP header; the engine fixes up each datagram's IP and TCP
	// fields (header.SetTCPSegment). The WR completes once, after its
	// last datagram, and fails with WCLocLenErr when Header and MSS
	// bytes exceed the port MTU.
	Header []byte
	MSS    int
}

// sendWQE is a posted send as kept in an SQ slot.
type sendWQE struct {
	wrid     uint64
	opcode   WROpcode
	signaled bool
	imm      uint32
	ah       AH
	pkeyIdx  uint16 // QP1 only
	sgl      [][]byte
	hdr      []byte // LSO: the header in front of each datagram
	mss      int    // LSO: the most SGL bytes a datagram carries
	length   int    // bytes of the message, an LSO's header included
	firstPSN uint32
	lastPSN  uint32
	status   WCStatus
}

// QP is a queue pair. Its methods may be called from any goroutine.
type QP struct {
	dev    *Device
	num    uint32
	typ    QPType
	sendCQ *CQ
	recvCQ *CQ
	srq    *SRQ
	maxSGE int
	sigAll bool
	rnrFn  func() // qp.onRNRTimer, bound once
	ackFn  func() // qp.onAckTimer, bound once

	mu       sync.Mutex
	state    QPState       // guarded by mu
	attr     QPAttr        // guarded by mu
	sq       ring[sendWQE] // guarded by mu
	rq       ring[recvWQE] // guarded by mu
	req      reqInfo       // guarded by mu
	resp     respInfo      // guarded by mu
	comp     compInfo      // guarded by mu
	rnrTimer Timer         // guarded by mu
	rnrAt    time.Time     // guarded by mu
	ackTimer Timer         // guarded by mu;: the local ACK timeout (retry.go)
	ackAt    time.Time     // guarded by mu;: the ACK deadline; zero when none
	ackArmed bool          // guarded by mu;: ackTimer is pending
	lent     sync.Cond     // L is &mu; signalled when a lent train is delivered

	mgids [][16]byte // guarded by dev.mu
}

// CreateQP creates a QP in the Reset state with the next free QPN.
func (d *Device) CreateQP(init QPInitAttr) (*QP, error) {
	const op = "create_qp"
	switch {
	case init.Type != UD && init.Type != RC:
		return nil, newError(op, unix.EINVAL, "unsupported QP type")
	case init.SendCQ == nil || init.RecvCQ == nil:
		return nil, newError(op, unix.EINVAL, "send and receive CQs are required")
	case init.MaxSend <= 0 || init.MaxSend > maxQueueDepth:
		return nil, newError(op, unix.EINVAL, "max_send_wr out of range")
	case init.SRQ == nil && (init.MaxRecv <= 0 || init.MaxRecv > maxQueueDepth):
		return nil, newError(op, unix.EINVAL, "max_recv_wr out of range")
	case init.MaxSGE <= 0 || init.MaxSGE > maxSGEs:
		return nil, newError(op, unix.EINVAL, "max_sge out of range")
	}
	qp := &QP{
		dev:    d,
		typ:    init.Type,
		sendCQ: init.SendCQ,
		recvCQ: init.RecvCQ,
		srq:    init.SRQ,
		maxSGE: init.MaxSGE,
		sigAll: init.SigAll,
	}
	qp.rnrFn = qp.onRNRTimer
	qp.ackFn = qp.onAckTimer
	qp.lent.L = &qp.mu
	// A WQE's SGL is made by its first post and reused after: an SGL
	// array for every slot of every queue would cost a large fabric
	// more than its queues do.
	qp.sq = newLazyRing[sendWQE](init.MaxSend)
	respSGE := init.MaxSGE
	if init.SRQ != nil {
		respSGE = max(respSGE, init.SRQ.maxSGE)
	} else {
		qp.rq = newRing[recvWQE](init.MaxRecv)
	}
	qp.resp.wqe.sgl = make([][]byte, 0, respSGE)

	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := init.QPN, true
	switch {
	case n == 0:
		if n, ok = d.allocQPN(); !ok {
			return nil, newError(op, unix.ENOMEM, "out of QP numbers")
		}
	case n < firstQPN && !fixedQPNAllowed(n, init.Type) || n > maxQPN:
		return nil, newError(op, unix.EINVAL, "QPN out of range")
	default:
		if _, used := d.qps[n]; used {
			return nil, newError(op, unix.EBUSY, "QPN in use")
		}
	}
	qp.num = n
	d.qps[n] = qp
	return qp, nil
}

// Num is the QP number.
func (qp *QP) Num() uint32 { return qp.num }

// Type is the QP type.
func (qp *QP) Type() QPType { return qp.typ }

// State is the QP's current state.
func (qp *QP) State() QPState {
	qp.mu.Lock()
	defer qp.mu.Unlock()
	return qp.state
}

// Query returns the QP's state and the attributes set so far.
func (qp *QP) Query() QPAttr {
	qp.mu.Lock()
	defer qp.mu.Unlock()
	a := qp.attr
	a.State = qp.state
	return a
}

// Destroy moves the QP to Reset (dropping outstanding work without
// completions), detaches it from its multicast groups and frees its QPN.
// Packets for it are then counted as DropNoQP.
func (qp *QP) Destroy() {
	d := qp.dev
	d.mu.Lock()
	for _, g := range qp.mgids {
		d.removeMember(g, qp)
	}
	qp.mgids = nil
	delete(d.qps, qp.num)
	d.mu.Unlock()
	qp.mu.Lock()
	qp.state = QPReset
	qp.resetLocked()
	qp.mu.Unlock()
}

// PostSend queues a send WR and runs the requester. Sends are accepted
// only in RTS; in Reset, Init and RTR it returns EINVAL and nothing is
// queued. In Error the WR completes with WRFlushErr: at once, or after
// the earlier WQEs when their flush waits for a lent train (see
// reqInfo.lending). A full send queue returns ENOMEM and too many SGEs
// EINVAL. If a completion that
// this call generated overflowed the send CQ, it returns that error
// (EBUSY) and the QP moves to Error.
func (qp *QP) PostSend(wr *SendWR) error {
	if len(wr.SGL) > qp.maxSGE {
		return errSendTooManySGE
	}
	if wr.Opcode == WRLSO && (qp.typ != UD || wr.MSS <= 0 || len(wr.Header) < lsoMinHeader) {
		return errSendBadLSO
	}
	qp.mu.Lock()
	switch qp.state {
	case QPRTS:
	case QPError:
		if qp.req.flushPending {
			// Earlier WQEs flush when the lent train is delivered;
			// this one completes after them, in order.
			if qp.sq.full() {
				qp.mu.Unlock()
				return errSendQueueFull
			}
			qp.enqueueSendLocked(wr)
			qp.mu.Unlock()
			return nil
		}
		var n notifier
		wc := WC{WRID: wr.WRID, Status: WCWRFlushErr, Opcode: WCSend, QPNum: qp.num}
		err := qp.postCQ(qp.sendCQ, &wc, &n)
		qp.mu.Unlock()
		n.run()
		return err
	default:
		st := qp.state
		qp.mu.Unlock()
		return newError("post_send", unix.EINVAL, "QP in state "+st.String())
	}
	if qp.sq.full() {
		qp.mu.Unlock()
		return errSendQueueFull
	}
	qp.enqueueSendLocked(wr)
	return qp.runRequesterLocked()
}

// enqueueSendLocked copies wr into the next SQ slot; the caller checked
// that the SQ is not full.
// Caller holds qp.mu.
func (qp *QP) enqueueSendLocked(wr *SendWR) {
	w := qp.sq.producer()
	w.wrid, w.opcode, w.imm, w.ah, w.pkeyIdx = wr.WRID, wr.Opcode, wr.Imm, wr.AH, wr.PKeyIndex
	w.signaled = wr.Signaled || qp.sigAll
	w.sgl = append(w.sgl[:0], wr.SGL...)
	w.hdr, w.mss = nil, 0
	if wr.Opcode == WRLSO {
		w.hdr, w.mss = wr.Header, wr.MSS
	}
	w.length = len(w.hdr)
	for _, s := range wr.SGL {
		w.length += len(s)
	}
	w.status = WCSuccess
	qp.sq.advanceProducer()
}

// PostRecv queues a receive WR. Receives are accepted in Init, RTR and
// RTS; in Reset it returns EINVAL, and in Error the WR completes at once
// with WRFlushErr. A full receive queue returns ENOMEM; a QP with an SRQ
// returns EINVAL (post to the SRQ instead).
func (qp *QP) PostRecv(wr *RecvWR) error {
	if qp.srq != nil {
		return errRecvHasSRQ
	}
	var n notifier
	qp.mu.Lock()
	err := qp.postRecvLocked(wr, &n)
	qp.mu.Unlock()
	n.run()
	return err
}

// PostRecvList posts wrs in order under one acquisition of the QP, as a
// chained ibv_post_recv does, and returns how many it posted: it stops
// at the first WR that PostRecv would refuse, returning that error.
func (qp *QP) PostRecvList(wrs []RecvWR) (int, error) {
	if qp.srq != nil {
		return 0, errRecvHasSRQ
	}
	var n notifier
	qp.mu.Lock()
	posted := 0
	var err error
	for i := range wrs {
		if err = qp.postRecvLocked(&wrs[i], &n); err != nil {
			break
		}
		posted++
	}
	qp.mu.Unlock()
	n.run()
	return posted, err
}

// postRecvLocked queues one receive WR (see PostRecv).
// Caller holds qp.mu.
func (qp *QP) postRecvLocked(wr *RecvWR, n *notifier) error {
	if len(wr.SGL) > qp.maxSGE {
		return errRecvTooManySGE
	}
	switch qp.state {
	case QPInit, QPRTR, QPRTS:
	case QPError:
		wc := WC{WRID: wr.WRID, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: qp.num}
		return qp.postCQ(qp.recvCQ, &wc, n)
	default:
		return newError("post_recv", unix.EINVAL, "QP in state "+qp.state.String())
	}
	if qp.rq.full() {
		return errRecvQueueFull
	}
	qp.rq.producer().set(wr)
	qp.rq.advanceProducer()
	return nil
}

// postCQ queues a completion and records the event to deliver. A CQ
// overflow is returned; the caller decides whether the QP fails.
// Caller holds qp.mu.
func (qp *QP) postCQ(c *CQ, wc *WC, n *notifier) error {
	ev, err := c.post(wc)
	if ev {
		n.add(c)
	}
	return err
}

// completeSend posts the send completion of w if it is signaled or failed
// (IBA 10.7.3.1: errors always complete) and frees its SQ slot, which must
// be the consumer. A CQ overflow moves the QP to Error.
// Caller holds qp.mu.
func (qp *QP) completeSend(w *sendWQE, n *notifier) error {
	var err error
	if w.signaled || w.status != WCSuccess {
		wc := WC{WRID: w.wrid, Status: w.status, Opcode: WCSend, ByteLen: uint32(w.length), QPNum: qp.num}
		err = qp.postCQ(qp.sendCQ, &wc, n)
	}
	clear(w.sgl)
	w.sgl, w.hdr = w.sgl[:0], nil
	qp.sq.advanceConsumer()
	if err != nil {
		qp.enterErrorLocked(n)
	}
	return err
}

// getRecv takes the next receive WQE, from the SRQ or the RQ, into the
// responder.
// Caller holds qp.mu.
func (qp *QP) getRecv(n *notifier) bool {
	w := &qp.resp.wqe
	if qp.srq != nil {
		return qp.srq.take(w, n)
	}
	if qp.rq.empty() {
		return false
	}
	slot := qp.rq.consumer()
	w.copyFrom(slot)
	slot.clear()
	qp.rq.advanceConsumer()
	return true
}

// enterErrorLocked moves the QP to Error and flushes every outstanding
// WQE with WRFlushErr: the send queue (sent or not), the receive WQE in
// progress and the receive queue. SRQ WQEs not yet taken stay in the SRQ.
// Caller holds qp.mu.
func (qp *QP) enterErrorLocked(n *notifier) {
	qp.state = QPError
	qp.stopRNRLocked()
	qp.stopAckTimerLocked()
	if qp.req.lending {
		// A train still reads a send buffer: flush once it is
		// delivered (runRequesterLocked).
		qp.req.flushPending = true
	} else {
		qp.flushSendLocked(n)
	}
	if qp.resp.inMsg {
		qp.flushRecv(&qp.resp.wqe, n)
		qp.resp.inMsg = false
	}
	for !qp.rq.empty() {
		qp.flushRecv(qp.rq.consumer(), n)
		qp.rq.advanceConsumer()
	}
}

// flushSendLocked completes every send WQE, sent or not, with its error
// status or WRFlushErr.
// Caller holds qp.mu.
func (qp *QP) flushSendLocked(n *notifier) {
	for !qp.sq.empty() {
		w := qp.sq.consumer()
		if w.status == WCSuccess {
			w.status = WCWRFlushErr
		}
		qp.completeSendNoFail(w, n)
	}
	qp.req.next, qp.req.offset = qp.sq.prod, 0
}

// Caller holds qp.mu.
func (qp *QP) completeSendNoFail(w *sendWQE, n *notifier) {
	wc := WC{WRID: w.wrid, Status: w.status, Opcode: WCSend, QPNum: qp.num}
	_ = qp.postCQ(qp.sendCQ, &wc, n) // lost if the CQ overflows; counted there
	clear(w.sgl)
	w.sgl, w.hdr = w.sgl[:0], nil
	qp.sq.advanceConsumer()
}

// Caller holds qp.mu.
func (qp *QP) flushRecv(w *recvWQE, n *notifier) {
	wc := WC{WRID: w.wrid, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: qp.num}
	_ = qp.postCQ(qp.recvCQ, &wc, n)
	w.clear()
}

// resetLocked drops all work without completions (modify to Reset). If a
// train lends a send buffer to the wire, it first waits (releasing mu)
// until the train is delivered: the caller may reuse its buffers as soon
// as the reset returns.
// Caller holds qp.mu.
func (qp *QP) resetLocked() {
	qp.state = QPReset // the requester stops after the current train
	for qp.req.lending {
		qp.lent.Wait()
	}
	qp.req.flushPending = false
	qp.stopRNRLocked()
	qp.stopAckTimerLocked()
	for i := range qp.sq.buf {
		clear(qp.sq.buf[i].sgl)
		qp.sq.buf[i].sgl, qp.sq.buf[i].hdr = qp.sq.buf[i].sgl[:0], nil
	}
	qp.sq.reset()
	for i := range qp.rq.buf {
		qp.rq.buf[i].clear()
	}
	qp.rq.reset()
	qp.resp.wqe.clear()
	wqe := qp.resp.wqe
	// A runner still handing its last packet to the wire keeps the
	// requester; it stops when it sees the new state.
	qp.req = reqInfo{running: qp.req.running}
	qp.resp = respInfo{wqe: wqe}
	qp.comp = compInfo{}
	qp.attr = QPAttr{}
}

// Caller holds qp.mu.
func (qp *QP) stopRNRLocked() {
	qp.req.rnrWait = false
	if qp.rnrTimer != nil {
		qp.rnrTimer.Stop()
	}
}

// gather copies from the concatenation of sgl, starting off bytes in,
// into dst.
func gather(dst []byte, sgl [][]byte, off int) {
	for _, s := range sgl {
		if off >= len(s) {
			off -= len(s)
			continue
		}
		n := copy(dst, s[off:])
		dst = dst[n:]
		off = 0
		if len(dst) == 0 {
			return
		}
	}
}

// scatter copies src into the concatenation of sgl, starting off bytes in.
// The caller has checked that it fits.
func scatter(sgl [][]byte, off int, src []byte) {
	for _, s := range sgl {
		if off >= len(s) {
			off -= len(s)
			continue
		}
		n := copy(s[off:], src)
		src = src[n:]
		off = 0
		if len(src) == 0 {
			return
		}
	}
}

// psnCompare compares two 24-bit PSNs modulo 2^24: <0, 0 or >0 as a is
// before, equal to or after b.
func psnCompare(a, b uint32) int32 { return int32((a - b) << 8) }
