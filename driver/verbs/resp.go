package verbs

import "encoding/binary"

// respState is a responder state (rxe_resp.c): the responder turns
// request packets into receive completions and acknowledgements.
type respState uint8

const (
	respCheckPSN       respState = iota // RC: PSN is the expected one
	respCheckOpSeq                      // RC: FIRST/ONLY starts, MIDDLE/LAST continue
	respCheckResource                   // take a receive WQE at the start of a message
	respCheckLength                     // the message fits the receive buffers
	respExecute                         // copy the payload into the buffers
	respComplete                        // post the receive completion (end of message)
	respAcknowledge                     // RC: ACK if asked
	respDone                            // packet consumed
	respDrop                            // packet dropped and counted
	respErrRNR                          // RC: no receive WQE: RNR NAK
	respErrPSNOutOfSeq                  // RC: NAK sequence error
	respErrOpSeq                        // RC: opcode out of sequence: NAK invalid request
	respErrLength                       // message longer than the buffers
	respErrCQOverflow                   // the receive CQ overflowed
)

var respStateNames = [...]string{
	respCheckPSN:       "CHK_PSN",
	respCheckOpSeq:     "CHK_OP_SEQ",
	respCheckResource:  "CHK_RESOURCE",
	respCheckLength:    "CHK_LENGTH",
	respExecute:        "EXECUTE",
	respComplete:       "COMPLETE",
	respAcknowledge:    "ACKNOWLEDGE",
	respDone:           "DONE",
	respDrop:           "DROP",
	respErrRNR:         "ERR_RNR",
	respErrPSNOutOfSeq: "ERR_PSN_OUT_OF_SEQ",
	respErrOpSeq:       "ERR_OP_SEQ",
	respErrLength:      "ERR_LENGTH",
	respErrCQOverflow:  "ERR_CQ_OVERFLOW",
}

// String returns the rxe-style state name.
func (s respState) String() string { return enumName(respStateNames[:], int(s), "respState") }

// respInfo is the responder's part of a QP.
type respInfo struct {
	state    respState // last state, for debugging and tests
	epsn     uint32    // RC: next expected PSN
	inMsg    bool      // a message is in progress and wqe holds its WQE
	wqe      recvWQE   // the receive WQE being filled
	offset   int       // bytes of wqe filled
	rnrNaked bool      // an RNR NAK was sent for epsn: drop later PSNs silently
	nakSent  bool      // a sequence NAK was sent for epsn: drop later PSNs silently
}

// responder runs the state machine for request packet p, which recv has
// checked against the QP. It returns an ACK or NAK to send, if any.
// Caller holds qp.mu.
func (qp *QP) responder(p *Packet, n *notifier) *Packet {
	d := qp.dev
	isRC := qp.typ == RC
	state := respCheckPSN
	for {
		qp.resp.state = state
		switch state {
		case respCheckPSN:
			state = respCheckOpSeq
			if !isRC {
				break
			}
			switch diff := psnCompare(p.PSN, qp.resp.epsn); {
			case diff > 0 && (qp.resp.rnrNaked || qp.resp.nakSent):
				// Packets behind one we NAKed: the requester
				// resends from the NAKed PSN.
				d.st.dropSequence.Add(uint64(p.Packets()))
				state = respDone
			case diff > 0:
				state = respErrPSNOutOfSeq
			case diff < 0:
				// A duplicate, resent after a lost ACK: not
				// executed again, but acknowledged with the last
				// PSN received when it asks for an ACK.
				d.st.dropSequence.Add(uint64(p.Packets()))
				if p.AckReq {
					return qp.ackPacket(OpRCAck, (qp.resp.epsn-1)&psnMask, 0)
				}
				state = respDone
			}

		case respCheckOpSeq:
			switch {
			case !isRC:
				state = respCheckResource
			case qp.resp.inMsg && p.Opcode.starts(), !qp.resp.inMsg && !p.Opcode.starts():
				state = respErrOpSeq
			case p.Opcode.starts():
				state = respCheckResource
			default:
				state = respCheckLength
			}

		case respCheckResource:
			if !qp.getRecv(n) {
				if isRC {
					state = respErrRNR
				} else {
					d.st.dropNoRecv.Add(1)
					state = respDrop
				}
				break
			}
			qp.resp.inMsg = true
			qp.resp.offset = 0
			qp.resp.rnrNaked, qp.resp.nakSent = false, false
			state = respCheckLength

		case respCheckLength:
			need := qp.resp.offset + len(p.Payload)
			if !isRC {
				need += grhBytes
			}
			state = respExecute
			if need > qp.resp.wqe.length || isRC && len(p.Payload) > p.Packets()*qp.attr.PathMTU.Bytes() {
				state = respErrLength
			}

		case respExecute:
			w := &qp.resp.wqe
			if !isRC {
				w.borrow(grhBytes + len(p.Payload))
			} else {
				w.borrow(w.length)
			}
			if !isRC {
				var grh [grhBytes]byte
				if p.GRH {
					writeGRH(&grh, p)
				}
				scatter(w.sgl, 0, grh[:])
				qp.resp.offset = grhBytes
			}
			scatter(w.sgl, qp.resp.offset, p.Payload)
			qp.resp.offset += len(p.Payload)
			if isRC {
				qp.resp.epsn = (qp.resp.epsn + uint32(p.Packets())) & psnMask
			}
			state = respAcknowledge
			if p.last().ends() {
				state = respComplete
			}

		case respComplete:
			wc := WC{
				WRID:      qp.resp.wqe.wrid,
				Status:    WCSuccess,
				Opcode:    WCRecv,
				ByteLen:   uint32(qp.resp.offset),
				QPNum:     qp.num,
				SrcQP:     p.SrcQPN,
				SLID:      p.SLID,
				PKeyIndex: qp.recvPKeyIndex(p.PKey),
				WithImm:   p.last().hasImm(),
				Imm:       p.Imm,
			}
			if !isRC && p.GRH {
				wc.GRH, wc.SGID = true, p.SGID
			}
			qp.resp.inMsg = false
			qp.resp.wqe.clear()
			state = respAcknowledge
			if qp.postCQ(qp.recvCQ, &wc, n) != nil {
				state = respErrCQOverflow
			}

		case respAcknowledge:
			if isRC && p.AckReq {
				return qp.ackPacket(OpRCAck, p.lastPSN(), 0)
			}
			return nil

		case respDone, respDrop:
			return nil

		case respErrRNR:
			// Receiver not ready: the requester waits MinRNRTimer and
			// resends from this PSN, which stays expected.
			qp.resp.rnrNaked = true
			d.st.rnrNaksSent.Add(1)
			// The rest of a train is behind the NAKed PSN.
			d.st.dropSequence.Add(uint64(p.Packets() - 1))
			return qp.ackPacket(OpRCRNRNak, p.PSN, qp.attr.MinRNRTimer)

		case respErrPSNOutOfSeq:
			qp.resp.nakSent = true
			d.st.dropSequence.Add(uint64(p.Packets() - 1))
			return qp.ackPacket(OpRCNak, qp.resp.epsn, uint8(NakPSNSeqErr))

		case respErrOpSeq:
			qp.enterErrorLocked(n)
			return qp.ackPacket(OpRCNak, p.PSN, uint8(NakInvalidReq))

		case respErrLength:
			// The WQE completes with a local length error. UD: only
			// this receive fails. RC: the QP fails and the requester
			// gets an invalid-request NAK.
			wc := WC{WRID: qp.resp.wqe.wrid, Status: WCLocLenErr, Opcode: WCRecv, QPNum: qp.num}
			qp.resp.inMsg = false
			qp.resp.wqe.clear()
			err := qp.postCQ(qp.recvCQ, &wc, n)
			if !isRC {
				if err != nil {
					qp.enterErrorLocked(n)
				}
				return nil
			}
			qp.enterErrorLocked(n)
			return qp.ackPacket(OpRCNak, p.PSN, uint8(NakInvalidReq))

		case respErrCQOverflow:
			// The completion is lost and the QP fails (rxe: class G).
			qp.enterErrorLocked(n)
			if isRC {
				return qp.ackPacket(OpRCNak, p.PSN, uint8(NakRemOpErr))
			}
			return nil
		}
	}
}

// ackPacket builds an acknowledgement to the connected peer.
// Caller holds qp.mu.
func (qp *QP) ackPacket(op Opcode, psn uint32, syndrome uint8) *Packet {
	d := qp.dev
	a := &qp.attr
	p := d.pool.get()
	p.SLID, p.DLID = d.opts.LID, a.DLID
	p.GRH, p.DGID = a.GRH, a.DGID
	if p.GRH {
		p.SGID = d.opts.GID
	}
	p.DestQPN, p.SrcQPN = a.DestQPN, qp.num
	p.PKey, _ = d.pkey(a.PKeyIndex)
	p.Opcode, p.PSN, p.Syndrome = op, psn, syndrome
	p.Payload = p.buf[:0]
	return p
}

// writeGRH fills the 40-byte GRH that a UD receive buffer starts with:
// IP version 6, traffic class and flow label 0, PayLen (BTH + DETH
// [+ ImmDt] + payload + ICRC), NxtHdr 0x1B, HopLmt 0xFF, SGID, DGID.
func writeGRH(b *[grhBytes]byte, p *Packet) {
	b[0] = 6 << 4
	payLen := 12 + 8 + len(p.Payload) + 4
	if p.Opcode.hasImm() {
		payLen += 4
	}
	binary.BigEndian.PutUint16(b[4:6], uint16(payLen))
	b[6] = 0x1B
	b[7] = 0xFF
	copy(b[8:24], p.SGID[:])
	copy(b[24:40], p.DGID[:])
}
