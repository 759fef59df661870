package verbs

// Receive is called by the wire to deliver a packet to the device; it
// takes ownership of p and releases it before returning (the packet's
// bytes have been copied into a receive buffer, or it was dropped).
//
// Routing follows rxe_recv.c: a multicast DLID goes to every QP attached
// to the GRH's DGID; a unicast DLID must be the port's LID and goes to the
// QP named by DestQPN. Each QP then checks its state, the P_Key and (UD)
// the Q_Key; requests go to the responder, acknowledgements to the
// completer. Drops are counted in Stats.
func (d *Device) Receive(p *Packet) {
	d.st.rxPackets.Add(uint64(p.Packets()))
	switch {
	case p.IsMulticast():
		var members []*QP
		if p.GRH {
			members = d.mcastMembers(p.DGID)
		}
		if len(members) == 0 {
			d.st.dropNoQP.Add(1)
		}
		for _, qp := range members {
			qp.receive(p)
		}
	case p.DLID != d.opts.LID:
		d.st.dropBadDLID.Add(1)
	default:
		d.mu.RLock()
		qp := d.qps[p.DestQPN]
		d.mu.RUnlock()
		if qp == nil {
			d.st.dropNoQP.Add(1)
			break
		}
		qp.receive(p)
	}
	p.Release()
}

// receive checks p against the QP and runs the responder or completer.
func (qp *QP) receive(p *Packet) {
	var n notifier
	var reply *Packet
	qp.mu.Lock()
	if qp.checkPacket(p) {
		if p.Opcode.isAck() {
			qp.completer(p, &n)
		} else {
			reply = qp.responder(p, &n)
		}
	}
	if qp.req.resend {
		qp.req.resend = false
		_ = qp.runRequesterLocked() // unlocks; an overflow is recorded in the CQ
	} else {
		qp.mu.Unlock()
	}
	n.run()
	if reply != nil {
		qp.dev.send(reply)
	}
}

// checkPacket is rxe_recv.c's header check: QP state and opcode class,
// P_Key, and for UD the Q_Key; for RC the source must be the connected
// peer. Failures are counted and drop the packet.
// Caller holds qp.mu.
func (qp *QP) checkPacket(p *Packet) bool {
	st := &qp.dev.st
	ok := false
	switch {
	case qp.typ == UD:
		ok = p.Opcode.isUD() && (qp.state == QPRTR || qp.state == QPRTS)
	case p.Opcode.isRequest():
		ok = (qp.state == QPRTR || qp.state == QPRTS) && !p.IsMulticast() && p.SrcQPN == qp.attr.DestQPN
	case p.Opcode.isAck():
		ok = qp.state == QPRTS && p.SrcQPN == qp.attr.DestQPN
	}
	if !ok {
		st.dropQPState.Add(1)
		return false
	}
	if !qp.pkeyAccepted(p.PKey) {
		st.dropBadPKey.Add(1)
		return false
	}
	if qp.typ == UD && p.QKey != qp.attr.QKey {
		st.dropBadQKey.Add(1)
		return false
	}
	return true
}

// pkeyMatch is the IBA P_Key check: the low 15 bits must be equal and
// valid, and at least one side must be a full member (bit 15 set).
func pkeyMatch(a, b uint16) bool {
	return a&0x7FFF == b&0x7FFF && a&0x7FFF != 0 && (a|b)&0x8000 != 0
}
