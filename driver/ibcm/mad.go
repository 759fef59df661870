package ibcm

import (
	"encoding/binary"
	"sync"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// grhLen is the GRH space at the head of a UD receive buffer.
const grhLen = 40

// openGSI creates QP1 with its CQs, brings it to RTS and posts the
// receive buffers; received MADs are handled on the work queue.
func (cm *CM) openGSI() error {
	var err error
	if cm.scq, err = cm.dev.NewCQ(gsiSendDepth, nil); err != nil {
		return err
	}
	if cm.rcq, err = cm.dev.NewCQ(gsiRecvDepth, cm.recvEvent); err != nil {
		return err
	}
	if cm.gsi, err = cm.dev.CreateQP(verbs.QPInitAttr{Type: verbs.UD, SendCQ: cm.scq, RecvCQ: cm.rcq,
		MaxSend: gsiSendDepth, MaxRecv: gsiRecvDepth, MaxSGE: 1, QPN: verbs.GSIQPN}); err != nil {
		return err
	}
	steps := []struct {
		a verbs.QPAttr
		m verbs.AttrMask
	}{
		{verbs.QPAttr{State: verbs.QPInit, PKeyIndex: 0, Port: 1, QKey: verbs.GSIQKey},
			verbs.AttrState | verbs.AttrPKeyIndex | verbs.AttrPort | verbs.AttrQKey},
		{verbs.QPAttr{State: verbs.QPRTR}, verbs.AttrState},
		{verbs.QPAttr{State: verbs.QPRTS}, verbs.AttrState | verbs.AttrSQPSN},
	}
	for _, s := range steps {
		if err := cm.gsi.Modify(s.a, s.m); err != nil {
			cm.gsi.Destroy()
			return err
		}
	}
	cm.lent = map[uint64][]byte{}
	cm.wcs = make([]verbs.WC, 16)
	cm.swcs = make([]verbs.WC, 16)
	cm.lend = func(wrid uint64, _ int) []byte {
		b := madBufs.get()
		cm.lentMu.Lock()
		cm.lent[wrid] = b
		cm.lentMu.Unlock()
		return b
	}
	for i := range gsiRecvDepth {
		if err := cm.gsi.PostRecv(&verbs.RecvWR{WRID: uint64(i), Lend: cm.lend, LendLen: madBufLen}); err != nil {
			cm.gsi.Destroy()
			return err
		}
	}
	cm.rcq.ReqNotify()
	return nil
}

// av is where a MAD goes (struct cm_av): the peer port's LID and the
// index of the P_Key it travels with. An ID's is its path's (the P_Key
// looked up by cm_init_av_by_path, as cm_alloc_msg sends with
// av->pkey_index); an answer to a message that has no ID goes back with
// the received one's (cm_alloc_response_msg: the completion's pkey_index).
type av struct {
	dlid      uint16
	pkeyIndex uint16
}

// post sends a MAD to QP1 of the port at av. A MAD to a port that is down
// or gone is lost on the wire, as on a fabric; the sender's timers deal
// with it.
// Caller holds cm.mu.
func (cm *CM) post(mad []byte, to av) {
	cm.sendMu.Lock()
	defer cm.sendMu.Unlock()
	for cm.scq.Poll(cm.swcs) > 0 {
	}
	// QP1's own Q_Key (bit 31 set) is the well-known GSI Q_Key.
	if cm.gsi.PostSend(&verbs.SendWR{SGL: [][]byte{mad}, AH: verbs.AH{DLID: to.dlid, DestQPN: verbs.GSIQPN, QKey: verbs.GSIQKey},
		PKeyIndex: to.pkeyIndex}) == nil {
		cm.counters.Sent[header.MAD(mad).Header().AttrID]++
	}
}

// recvEvent is QP1's receive CQ handler: it runs inside a sender's
// PostSend, so it only queues the polling.
func (cm *CM) recvEvent() {
	if cm.polling.CompareAndSwap(false, true) {
		cm.wq.add(cm.pollRecv)
	}
}

// pollRecv drains QP1's receive CQ on the work queue, handling each MAD.
func (cm *CM) pollRecv() {
	cm.polling.Store(false)
	for {
		n := cm.rcq.Poll(cm.wcs)
		for i := range cm.wcs[:n] {
			cm.receive(&cm.wcs[i])
		}
		if n > 0 {
			continue
		}
		if !cm.rcq.ReqNotify() {
			return
		}
	}
}

// receive copies one MAD out of its buffer, reposts the buffer and
// dispatches the MAD by attribute (cm_recv_handler, cm_work_handler).
func (cm *CM) receive(wc *verbs.WC) {
	cm.lentMu.Lock()
	buf := cm.lent[wc.WRID]
	delete(cm.lent, wc.WRID)
	cm.lentMu.Unlock()
	var mad header.MAD
	if wc.Status == verbs.WCSuccess && wc.ByteLen == grhLen+header.MADSize {
		mad = append(header.MAD(nil), buf[grhLen:grhLen+header.MADSize]...)
	}
	if buf != nil {
		madBufs.put(buf)
	}
	_ = cm.gsi.PostRecv(&verbs.RecvWR{WRID: wc.WRID, Lend: cm.lend, LendLen: madBufLen})
	if !mad.Valid() {
		return
	}
	from := av{dlid: wc.SLID, pkeyIndex: wc.PKeyIndex}
	h := mad.Header()
	if h.BaseVersion != header.MADBaseVersion || h.MgmtClass != header.MgmtClassCM ||
		h.ClassVersion != header.CMClassVersion || h.Method != header.MADMethodSend {
		return
	}
	switch h.AttrID {
	case header.CMAttrREQ:
		if m, ok := header.DecodeCMReq(mad); ok {
			cm.handleREQ(&m, h.TID, from)
		}
	case header.CMAttrREP:
		if m, ok := header.DecodeCMRep(mad); ok {
			cm.handleREP(&m, from)
		}
	case header.CMAttrRTU:
		if m, ok := header.DecodeCMRtu(mad); ok {
			cm.handleRTU(&m)
		}
	case header.CMAttrREJ:
		if m, ok := header.DecodeCMRej(mad); ok {
			cm.handleREJ(&m)
		}
	case header.CMAttrDREQ:
		if m, ok := header.DecodeCMDreq(mad); ok {
			cm.handleDREQ(&m, h.TID, from)
		}
	case header.CMAttrDREP:
		if m, ok := header.DecodeCMDrep(mad); ok {
			cm.handleDREP(&m)
		}
	case header.CMAttrMRA:
		if m, ok := header.DecodeCMMra(mad); ok {
			cm.handleMRA(&m)
		}
	case header.CMAttrLAP:
		if m, ok := header.DecodeCMLap(mad); ok {
			cm.handleLAP(&m, h.TID, from)
		}
	case header.CMAttrSIDRReq:
		if m, ok := header.DecodeCMSIDRReq(mad); ok {
			cm.handleSIDRReq(&m, h.TID, from)
		}
	case header.CMAttrAPR, header.CMAttrSIDRRep:
		// Answers to a LAP or SIDR_REQ, which this CM never sends: an
		// unmatched reply (cm_apr_handler, cm_sidr_rep_handler).
		cm.mu.Lock()
		cm.counters.Received[h.AttrID]++
		cm.mu.Unlock()
	}
}

func putBE64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }

// madBufLen is a QP1 receive buffer's size: a GRH and a MAD.
const madBufLen = grhLen + header.MADSize

// bufPool is a free list of QP1 receive buffers shared by every CM of
// the process: a receive WR borrows one when a MAD lands in it
// (verbs.RecvWR.Lend) and the CM gives it back once it has copied the
// MAD out, so an idle port holds none. It never shrinks.
type bufPool struct {
	mu   sync.Mutex
	free [][]byte
}

var madBufs bufPool

func (p *bufPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, madBufLen)
}

func (p *bufPool) put(b []byte) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.mu.Unlock()
}
