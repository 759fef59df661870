package verbs

// compState is a completer state (rxe_comp.c): the completer turns
// acknowledgements into send completions.
type compState uint8

const (
	compGetWQE   compState = iota // oldest sent, unacknowledged WQE
	compCheckPSN                  // does the ACK cover the WQE?
	compCheckAck                  // what kind of acknowledgement
	compCompWQE                   // complete the WQE successfully
	compRNRRetry                  // RNR NAK: wait and resend, or give up
	compError                     // complete the WQE with an error; QP fails
	compDone                      // ACK consumed
)

var compStateNames = [...]string{
	compGetWQE:   "GET_WQE",
	compCheckPSN: "CHECK_PSN",
	compCheckAck: "CHECK_ACK",
	compCompWQE:  "COMP_WQE",
	compRNRRetry: "RNR_RETRY",
	compError:    "ERROR",
	compDone:     "DONE",
}

// String returns the rxe-style state name.
func (s compState) String() string { return enumName(compStateNames[:], int(s), "compState") }

// compInfo is the completer's part of a QP.
type compInfo struct {
	state     compState // last state, for debugging and tests
	rnrLeft   uint8     // RNR retries left for the oldest WQE (RNRRetry 7: unlimited)
	retryLeft uint8     // transport retries left (retry.go)
}

// completer runs the state machine for acknowledgement p.
// Caller holds qp.mu.
func (qp *QP) completer(p *Packet, n *notifier) {
	var w *sendWQE
	state := compGetWQE
	for {
		qp.comp.state = state
		switch state {
		case compGetWQE:
			// The oldest WQE counts once its first packet is out.
			state = compDone
			if qp.req.next != qp.sq.cons || qp.req.offset > 0 {
				w = qp.sq.consumer()
				state = compCheckPSN
			}

		case compCheckPSN:
			// An ACK covers the WQE if it acknowledges its last PSN
			// or later; a NAK implicitly acknowledges every PSN
			// before its own.
			state = compCheckAck
			diff := psnCompare(p.PSN, w.lastPSN)
			if p.Opcode == OpRCAck && diff >= 0 || p.Opcode != OpRCAck && diff > 0 {
				state = compCompWQE
			}

		case compCheckAck:
			switch p.Opcode {
			case OpRCAck:
				state = compDone // acknowledges part of the WQE
			case OpRCRNRNak:
				state = compRNRRetry
			default:
				if NakCode(p.Syndrome) == NakPSNSeqErr {
					// Go back to the oldest unacknowledged
					// message, or fail when out of retries.
					if qp.retryLocked(n) {
						qp.req.resend = true
					}
					state = compDone
					break
				}
				switch NakCode(p.Syndrome) {
				case NakInvalidReq:
					w.status = WCRemInvReqErr
				case NakRemAccess:
					w.status = WCRemAccessErr
				default:
					w.status = WCRemOpErr
				}
				state = compError
			}

		case compCompWQE:
			// Progress resets the retry counts.
			qp.comp.rnrLeft, qp.comp.retryLeft = qp.attr.RNRRetry, qp.attr.RetryCnt
			w.status = WCSuccess
			_ = qp.completeSend(w, n) // an overflow fails the QP
			state = compGetWQE
			if qp.state != QPRTS {
				state = compDone
			}

		case compRNRRetry:
			if qp.comp.rnrLeft == 0 {
				w.status = WCRNRRetryExcErr
				state = compError
				break
			}
			if qp.attr.RNRRetry != 7 {
				qp.comp.rnrLeft--
			}
			// Rewind the requester to the NAKed WQE (the oldest
			// unacknowledged one) and wait.
			qp.req.next, qp.req.offset, qp.req.psn = qp.sq.cons, 0, w.firstPSN
			qp.startRNRLocked(p.Syndrome)
			state = compDone

		case compError:
			qp.enterErrorLocked(n)
			state = compDone

		case compDone:
			if !qp.unackedLocked() {
				qp.clearAckDeadlineLocked()
			}
			return
		}
	}
}
