package verbs

import (
	"time"

	"github.com/ibctl/ibctl/driver/header"
)

// reqState is a requester state (rxe_req.c): the requester turns send
// WQEs into packets.
type reqState uint8

const (
	reqGetWQE      reqState = iota // pick the next WQE to send
	reqCheckLength                 // message fits the transport
	reqBuildPacket                 // copy the next segment into a packet
	reqComplete                    // UD: the WQE is done once handed to the wire
	reqTransmit                    // hand the packet to the wire (unlocked)
	reqRNRWait                     // RC: waiting for the RNR timer
	reqError                       // the WQE failed locally
	reqDone                        // nothing to send
)

var reqStateNames = [...]string{
	reqGetWQE:      "GET_WQE",
	reqCheckLength: "CHECK_LENGTH",
	reqBuildPacket: "BUILD_PACKET",
	reqComplete:    "COMPLETE",
	reqTransmit:    "TRANSMIT",
	reqRNRWait:     "RNR_WAIT",
	reqError:       "ERROR",
	reqDone:        "DONE",
}

// String returns the rxe-style state name.
func (s reqState) String() string { return enumName(reqStateNames[:], int(s), "reqState") }

// reqInfo is the requester's part of a QP.
type reqInfo struct {
	state   reqState // last state, for debugging and tests
	running bool     // a goroutine is running the requester
	next    uint32   // SQ index of the next WQE to send; cons..next are sent, unacked
	offset  int      // bytes of WQE next already sent
	psn     uint32   // next PSN to send
	rnrWait bool     // RC: stopped by an RNR NAK until the timer fires
	// lending: a train borrowing a send WQE's buffer is being
	// transmitted. Until it is delivered, the send queue is not flushed
	// (flushPending records a flush to do afterwards) and Modify to
	// Reset and Destroy wait (lent is signalled), so that no buffer goes
	// back to its owner while the wire reads it.
	lending      bool
	flushPending bool
	// resend: the completer rewound the requester after a sequence NAK;
	// the receive path runs it once the ACK is handled.
	resend bool
}

// runRequesterLocked runs the requester until it has nothing to send. It
// is entered with qp.mu held and returns with it released. Only one
// goroutine runs the requester of a QP at a time (as rxe's task); a caller
// that finds it running leaves the work to the runner, which re-reads the
// SQ after every packet. Packets are handed to the wire, and events
// delivered, with the lock released. It returns the first CQ overflow
// that this run caused.
func (qp *QP) runRequesterLocked() error {
	if qp.req.running {
		qp.mu.Unlock()
		return nil
	}
	qp.req.running = true
	var n notifier
	var firstErr error
	for {
		p, err := qp.requester(&n)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if p == nil {
			qp.req.running = false
			qp.mu.Unlock()
			n.run()
			return firstErr
		}
		lent := p.Segments > 0
		qp.req.lending = lent
		qp.mu.Unlock()
		n.run()
		qp.dev.send(p)
		qp.mu.Lock()
		if lent {
			qp.req.lending = false
			if qp.req.flushPending {
				qp.req.flushPending = false
				qp.flushSendLocked(&n)
			}
			qp.lent.Broadcast()
		}
	}
}

// requester is the state machine: it returns the next packet to transmit,
// or nil when there is none, and any CQ overflow it hit.
// Caller holds qp.mu.
func (qp *QP) requester(n *notifier) (*Packet, error) {
	var (
		w   *sendWQE
		p   *Packet
		err error
	)
	state := reqGetWQE
	for {
		qp.req.state = state
		switch state {
		case reqGetWQE:
			switch {
			case qp.state != QPRTS:
				state = reqDone
			case qp.req.rnrWait:
				state = reqRNRWait
			case qp.req.next == qp.sq.prod:
				state = reqDone
			default:
				w = qp.sq.at(qp.req.next)
				state = reqCheckLength
			}

		case reqCheckLength:
			state = reqBuildPacket
			switch {
			case w.opcode == WRLSO:
				if len(w.hdr)+w.mss > qp.dev.mtu || w.length > maxMessage {
					w.status = WCLocLenErr
					state = reqError
				} else if _, _, ok := header.TCPHeaderLens(w.hdr[header.IPoIBHeaderLen:]); !ok {
					w.status = WCLocQPOpErr // a header the engine cannot parse
					state = reqError
				}
			case qp.typ == UD && w.length > qp.dev.mtu || w.length > maxMessage:
				w.status = WCLocLenErr
				state = reqError
			}

		case reqBuildPacket:
			p, state = qp.buildPacket(w)

		case reqComplete:
			// UD: the payload is in the packet, so the WQE is done
			// when the packet is handed to the wire.
			qp.req.next = qp.sq.next(qp.req.next)
			if e := qp.completeSend(w, n); e != nil {
				err = e
			}
			state = reqTransmit

		case reqTransmit:
			return p, err

		case reqRNRWait, reqDone:
			return nil, err

		case reqError:
			if qp.typ == RC {
				// The QP fails: earlier unacknowledged WQEs flush,
				// then w completes with its status.
				qp.enterErrorLocked(n)
				state = reqDone
				break
			}
			// UD: only this WR fails (the send-queue-error state is
			// not modelled); cons == next for UD.
			qp.req.next = qp.sq.next(qp.req.next)
			if e := qp.completeSend(w, n); e != nil {
				err = e
			}
			state = reqGetWQE
		}
	}
}

// buildPacket makes the next packet of w and advances the requester.
// Caller holds qp.mu.
func (qp *QP) buildPacket(w *sendWQE) (*Packet, reqState) {
	d := qp.dev
	idx := qp.attr.PKeyIndex
	if qp.num == GSIQPN {
		idx = w.pkeyIdx
	}
	pkey, ok := d.pkey(idx)
	if !ok {
		w.status = WCLocQPOpErr
		return nil, reqError
	}
	p := d.pool.get()
	p.SLID = d.opts.LID
	p.SrcQPN = qp.num
	p.PKey = pkey
	p.PSN = qp.req.psn
	qp.req.psn = (qp.req.psn + 1) & psnMask

	if qp.typ == UD {
		p.DLID = w.ah.DLID
		p.GRH, p.DGID = w.ah.GRH, w.ah.DGID
		p.DestQPN = w.ah.DestQPN
		p.QKey = w.ah.QKey
		if p.QKey&0x80000000 != 0 {
			p.QKey = qp.attr.QKey
		}
		p.Opcode = OpUDSendOnly
		if w.opcode == WRSendWithImm {
			p.Opcode, p.Imm = OpUDSendOnlyImm, w.imm
		}
		if p.GRH {
			p.SGID = d.opts.GID
		}
		if w.opcode == WRLSO {
			return p, qp.buildLSO(p, w)
		}
		p.Payload = p.buf[:w.length]
		gather(p.Payload, w.sgl, 0)
		w.firstPSN, w.lastPSN = p.PSN, p.PSN
		return p, reqComplete
	}

	a := &qp.attr
	p.DLID, p.GRH, p.DGID, p.DestQPN = a.DLID, a.GRH, a.DGID, a.DestQPN
	if p.GRH {
		p.SGID = d.opts.GID
	}
	mtu := a.PathMTU.Bytes()
	first := qp.req.offset == 0
	rest := w.length - qp.req.offset
	last := rest <= mtu
	size := min(rest, mtu)
	imm := w.opcode == WRSendWithImm
	switch {
	case first && last && imm:
		p.Opcode = OpRCSendOnlyImm
	case first && last:
		p.Opcode = OpRCSendOnly
	case first:
		p.Opcode = OpRCSendFirst
	case last && imm:
		p.Opcode = OpRCSendLastImm
	case last:
		p.Opcode = OpRCSendLast
	default:
		p.Opcode = OpRCSendMiddle
	}
	if imm && last {
		p.Imm = w.imm
	}
	if first {
		// The completer needs the WQE's PSN range as soon as its first
		// packet is out: a NAK may come back before the last one.
		w.firstPSN = p.PSN
		w.lastPSN = (p.PSN + uint32(max(1, (w.length+mtu-1)/mtu)) - 1) & psnMask
	}
	if d.trains && len(w.sgl) == 1 {
		qp.buildTrain(p, w, mtu, imm)
		return p, reqTransmit
	}
	p.Payload = p.buf[:size]
	gather(p.Payload, w.sgl, qp.req.offset)
	qp.req.offset += size
	if last {
		// Ask for an ACK at the end of each message; the completer
		// completes every WQE up to the acknowledged PSN.
		p.AckReq = true
		qp.armAckTimerLocked()
		qp.req.next = qp.sq.next(qp.req.next)
		qp.req.offset = 0
	}
	return p, reqTransmit
}

// lsoMinHeader is the shortest LSO header: the IPoIB encapsulation
// header, an IPv4 header and a TCP header.
const lsoMinHeader = header.IPoIBHeaderLen + header.IPv4MinHeaderLen + 20

// buildLSO makes p the next datagram of an LSO WQE, as an IPoIB HCA's
// LSO engine cuts the message: the WQE's header, then the next mss bytes
// of its SGL, with the IP and TCP fields fixed up for that place in the
// message (header.SetTCPSegment). The WQE stays the requester's next
// until its last datagram is built, which completes it (reqComplete).
// Caller holds qp.mu.
func (qp *QP) buildLSO(p *Packet, w *sendWQE) reqState {
	hl := len(w.hdr)
	total := w.length - hl
	off := qp.req.offset
	end := min(off+w.mss, total)
	p.Payload = p.buf[:hl+end-off]
	copy(p.Payload, w.hdr)
	gather(p.Payload[hl:], w.sgl, off)
	ip := p.Payload[header.IPoIBHeaderLen:]
	ipLen, _, _ := header.TCPHeaderLens(ip) // checked in reqCheckLength
	header.SetTCPSegment(ip, ipLen, off, w.mss, total)
	if off == 0 {
		w.firstPSN = p.PSN
	}
	if end < total {
		qp.req.offset = end
		return reqTransmit
	}
	qp.req.offset = 0
	w.lastPSN = p.PSN
	return reqComplete
}

// buildTrain makes p the rest of w's message as one train whose payload
// is the WQE's single send buffer, and advances the requester past it.
// p has the first packet's headers, opcode and PSN already.
// Caller holds qp.mu.
func (qp *QP) buildTrain(p *Packet, w *sendWQE, mtu int, imm bool) {
	rest := w.length - qp.req.offset
	p.Payload = w.sgl[0][qp.req.offset:w.length:w.length]
	p.Segments = max(1, (rest+mtu-1)/mtu)
	p.LastOpcode = p.Opcode
	if p.Segments > 1 {
		p.LastOpcode = OpRCSendLast
		if imm {
			p.LastOpcode, p.Imm = OpRCSendLastImm, w.imm
		}
	}
	// The first packet took its PSN; the others follow it.
	qp.req.psn = (p.PSN + uint32(p.Segments)) & psnMask
	p.AckReq = true
	qp.armAckTimerLocked()
	qp.req.next = qp.sq.next(qp.req.next)
	qp.req.offset = 0
}

// rnrTimeouts maps an RNR timer code to its duration in microseconds
// (IBA table 45).
var rnrTimeouts = [32]uint32{
	655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920,
	2560, 3840, 5120, 7680, 10240, 15360, 20480, 30720, 40960, 61440, 81920,
	122880, 163840, 245760, 327680, 491520,
}

// RNRTimeout is the time an RNR timer code (QPAttr.MinRNRTimer) stands for.
func RNRTimeout(code uint8) time.Duration {
	return time.Duration(rnrTimeouts[code&31]) * time.Microsecond
}

// startRNRLocked stops the requester until the RNR timer, with the
// duration the responder asked for, fires.
// Caller holds qp.mu.
func (qp *QP) startRNRLocked(code uint8) {
	d := RNRTimeout(code)
	clk := qp.dev.clock
	qp.req.rnrWait = true
	qp.stopAckTimerLocked() // the RNR timer governs until the resend
	qp.rnrAt = clk.Now().Add(d)
	if qp.rnrTimer == nil {
		qp.rnrTimer = clk.AfterFunc(d, qp.rnrFn)
	} else {
		qp.rnrTimer.Reset(d)
	}
}

// onRNRTimer resumes the requester after an RNR wait: it resends from the
// first unacknowledged WQE, whose PSN the completer rewound to.
func (qp *QP) onRNRTimer() {
	qp.mu.Lock()
	if !qp.req.rnrWait || qp.dev.clock.Now().Before(qp.rnrAt) {
		qp.mu.Unlock() // stopped, or a stale callback of a restarted timer
		return
	}
	qp.req.rnrWait = false
	qp.dev.st.rnrRetries.Add(1)
	_ = qp.runRequesterLocked() // a CQ overflow is recorded in the CQ
}
