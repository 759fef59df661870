package ipoib

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/ibcm"
	"github.com/ibctl/ibctl/driver/verbs"
)

// Connected mode (ipoib_cm.c, RFC 4755): a unicast packet to a neighbour
// whose address has the RC flag, from an interface in connected mode,
// goes over an RC connection to that neighbour. Multicast, and peers
// without the flag, keep using UD.
//
// The port's communication manager (driver/ibcm, the IB core's cm.c) sets
// connections up with CM MADs over the fabric; this file is the ULP's
// side. An interface whose address has the RC flag listens on service ID
// 0x1000000000000000 | its UD QPN (ipoib_cm_dev_open, in either mode).
// The first packet to a neighbour creates its active connection
// (ipoib_cm_create_tx): an RC QP on the interface's SRQ, taken to INIT,
// and a REQ whose private data is the UD QPN and the receive size 65524
// (struct ipoib_cm_data). The passive side (ipoib_cm_req_handler) creates
// its QP on the SRQ, takes it to RTS and answers with a REP carrying the
// same private data; the REP (ipoib_cm_rep_handler) takes the active QP
// to RTS, marks the connection up, sends what waited and an RTU. The
// connection's MTU is the peer's receive size minus the 4-byte
// encapsulation header.
//
// Transmit never waits for the exchange. Until the connection is up, a
// packet is queued on the neighbour, at most IPOIB_MAX_PATH_REC_QUEUE (3)
// of them, as ipoib_start_xmit does; a fourth is dropped and counted in
// tx_dropped, and so are the queued ones if the connection fails. A REJ
// (nobody listens: INVALID_SERVICE_ID; the peer refuses:
// CONSUMER_DEFINED), a REQ that times out after its 15 retries, and the
// end of time-wait after the peer's DREQ all free the neighbour and
// destroy the connection ("CM error N."); the next packet starts over.
// Destroying an established connection sends a DREQ, so the passive end
// goes too (ipoib_cm_rx_handler).
//
// Deliberate differences: the RC QPs retry RNR forever (RNR retry 7, RNR
// timer 14) although the REQ asks for 0 retries, so that a full SRQ slows
// the sender instead of breaking the connection on a lossless wire; the
// passive side's starting PSN is derived from its QPN instead of random.

// cmRecvSize is what IPoIB advertises: IPOIB_CM_BUF_SIZE, IPOIB_CM_MTU +
// the header.
const cmRecvSize = MaxMTU + encapLen

// cmServiceID is the IETF-range service ID IPoIB listens on.
func cmServiceID(qpn uint32) uint64 { return 0x1000000000000000 | uint64(qpn) }

// The REQ's parameters (ipoib_cm_send_req) and the path's.
const (
	cmResponderResources = 4
	cmResponseTimeout    = 20 // remote and local CM response timeouts: 4.096 µs × 2^20
	cmMaxCMRetries       = 15
	saPacketLifeTime     = 0x12 // OpenSM's default packet_life_time, which its path records carry
	caAckDelay           = 15   // local_ca_ack_delay of the emulated HCA (rxe's and mlx4's)
	cmMinRNRTimer        = 14   // 1.28 ms
	cmRNRRetry           = 7    // infinite
	maxPathRecQueue      = 3    // IPOIB_MAX_PATH_REC_QUEUE
)

// cmTx is an active connection (struct ipoib_cm_tx).
type cmTx struct {
	ep *Endpoint
	// started is closed when the connection's start (ipoib_cm_tx_init)
	// is over, its debug message included; its CM handler, destroyTx and
	// txByQPN wait for it before they read what the start made.
	started chan struct{}
	id      *ibcm.ID
	qp      *verbs.QP
	mtu     int         // the peer's receive size − 4, set by the REP
	up      atomic.Bool // IPOIB_FLAG_OPER_UP: the REP was handled
	// sent counts the sends (tx_head; sends complete as they are posted
	// on the lossless wire, so tx_tail is the same).
	sent atomic.Uint32
	// neighAddr is the peer's address, for the capture point.
	neighAddr header.HWAddr

	// Guarded by ep.cm.mu.
	neigh  *ipoibNeigh // the neighbour it serves, until one lets go
	reaped bool        // destroyed or being destroyed (IPOIB_FLAG_INITIALIZED clear)
}

// cmRx is a passive connection (struct ipoib_cm_rx).
type cmRx struct {
	id *ibcm.ID
	qp *verbs.QP
	// last is when the connection last received, refreshed at most every
	// cmActivityRefresh (ipoib_cm_handle_rx_wc).
	last atomic.Int64
}

// Passive connection timers (ipoib_cm.c): activity is noted at most every
// 256 s, a connection idle for more than 512 s is reaped, and the stale
// scan runs every 768 s while passive connections exist.
const (
	cmActivityRefresh = 256 * time.Second
	cmRxTimeout       = 512 * time.Second
	cmStaleScan       = 768 * time.Second
)

// cmState is an interface's connected-mode state (struct
// ipoib_cm_dev_priv). The active connections hang off the neighbours
// (neigh.go).
type cmState struct {
	mu     sync.Mutex
	closed bool
	listen *ibcm.ID         // the listener, while the interface is up
	rx     map[uint32]*cmRx // passive connections by QPN
	// srq is the passive connections' shared receive queue, with its
	// recv_queue_size WRs, from the first passive connection until the
	// last is gone. Each WR borrows a buffer of cmRecvSize bytes when a
	// message lands in it (lend), held in bufs until the poller gives it
	// back; gen tells the WRs of one SRQ from those of an earlier one in
	// the WR IDs. txSRQ is the SRQ of the active connections' QPs, which
	// receive nothing (a connection carries one direction), so it holds
	// no buffers.
	srq   *verbs.SRQ
	bufs  [][]byte
	lend  func(wrid uint64, n int) []byte
	gen   uint64
	txSRQ *verbs.SRQ
}

var (
	errCMClosing = errors.New("interface closing")
	errCMMTU     = errors.New("REP receive size too small")
	// errCMReap, returned by a handler, makes the CM destroy the ID
	// once the handler is done (the reap work of ipoib_cm.c).
	errCMReap = errors.New("connection reaped")
)

// cmData is IPoIB's REQ and REP private data for the UD QPN.
func cmData(qpn uint32) []byte {
	b := make([]byte, header.IPoIBCMDataLen)
	header.IPoIBCMData{QPN: qpn, MTU: cmRecvSize}.Encode(b)
	return b
}

// cmListen registers the interface's listener (ipoib_cm_dev_open).
func (ep *Endpoint) cmListen(qpn uint32) {
	id, err := ep.port.cm.Listen(cmServiceID(qpn), ep.cmRxHandler, nil)
	if err != nil {
		ep.host.logf(ep.cfg.Load().Name, "failed to listen on ID 0x%x", cmServiceID(qpn))
		return
	}
	ep.cm.mu.Lock()
	ep.cm.listen = id
	ep.cm.mu.Unlock()
}

func (ep *Endpoint) newRCQP(srq *verbs.SRQ) (*verbs.QP, error) {
	return ep.port.dev.CreateQP(verbs.QPInitAttr{Type: verbs.RC, SendCQ: ep.scq, RecvCQ: ep.rcq, SRQ: srq,
		MaxSend: ep.sendq, MaxSGE: 1, SigAll: true}) // max_send_wr = ipoib_sendq_size, IB_SIGNAL_ALL_WR
}

// ensureSRQ creates the passive connections' shared receive queue on
// first use and returns it. The kernel allocates it with the interface
// (ipoib_cm_dev_init): recv_queue_size buffers of 64 KiB, 16 MiB per
// interface. Since the driver runs every node of the fabric, it creates
// it only for an interface that receives connections, frees it when its
// last passive connection is gone (removeRx), and its WRs borrow their
// buffers from a pool shared by every endpoint when a message lands
// (rxbuf.go): memory follows the messages in flight, not the queue's
// depth, which, with its receiver-not-ready behaviour, is the kernel's.
func (ep *Endpoint) ensureSRQ() (*verbs.SRQ, error) {
	ep.cm.mu.Lock()
	defer ep.cm.mu.Unlock()
	if ep.cm.closed {
		return nil, errCMClosing
	}
	if ep.cm.srq != nil {
		return ep.cm.srq, nil
	}
	depth := len(ep.bufs)
	srq, err := ep.port.dev.NewSRQ(depth, 1)
	if err != nil {
		return nil, err
	}
	ep.cm.gen++
	bufs := make([][]byte, depth)
	lend := func(wrid uint64, _ int) []byte {
		b := rxCM.get()
		bufs[wrid&0xffffffff] = b
		return b
	}
	for i := range bufs {
		if err := srq.PostRecv(&verbs.RecvWR{WRID: srqWRID | ep.cm.gen<<32 | uint64(i), Lend: lend, LendLen: cmRecvSize}); err != nil {
			return nil, err
		}
	}
	ep.cm.srq, ep.cm.bufs, ep.cm.lend = srq, bufs, lend
	return srq, nil
}

// ensureTxSRQ creates the active connections' SRQ, without buffers, on
// first use and returns it.
func (ep *Endpoint) ensureTxSRQ() (*verbs.SRQ, error) {
	ep.cm.mu.Lock()
	defer ep.cm.mu.Unlock()
	if ep.cm.closed {
		return nil, errCMClosing
	}
	if ep.cm.txSRQ == nil {
		srq, err := ep.port.dev.NewSRQ(1, 1)
		if err != nil {
			return nil, err
		}
		ep.cm.txSRQ = srq
	}
	return ep.cm.txSRQ, nil
}

// srqWRID marks receive WRs of the SRQ (the UD ring uses small indexes);
// bits 32 to 61 hold the SRQ's generation, the low 32 the buffer.
const srqWRID = 1 << 62

// modifyFromID takes qp to state with the attributes the CM ID gives
// (ib_cm_init_qp_attr), adjusted by fix.
func modifyFromID(qp *verbs.QP, id *ibcm.ID, state verbs.QPState, fix func(*verbs.QPAttr)) error {
	attr, mask, err := id.InitQPAttr(state)
	if err != nil {
		return fmt.Errorf("init QP attr for %v: %w", state, err)
	}
	if fix != nil {
		fix(&attr)
	}
	if err := qp.Modify(attr, mask); err != nil {
		return fmt.Errorf("modify QP to %v: %w", state, err)
	}
	return nil
}

// The passive side.

// cmRxHandler is the listener's and the passive connections' CM handler
// (ipoib_cm_rx_handler).
func (ep *Endpoint) cmRxHandler(id *ibcm.ID, ev *ibcm.Event) error {
	switch ev.Type {
	case ibcm.REQReceived:
		return ep.cmAccept(id, ev.REQ)
	case ibcm.DREQReceived:
		_ = id.SendDREP(nil)
		fallthrough
	case ibcm.REJReceived:
		// The QP goes to error and the connection is reaped, its ID
		// after the handler.
		if rx, ok := id.Context().(*cmRx); ok {
			ep.removeRx(rx)
			return errCMReap
		}
	}
	return nil
}

// cmAccept is ipoib_cm_req_handler: a QP on the SRQ, brought to RTS
// towards the requester, and the REP. An error makes the CM reject the
// REQ (CONSUMER_DEFINED).
func (ep *Endpoint) cmAccept(id *ibcm.ID, req *header.CMReq) error {
	ep.dbg("REQ arrived")
	srq, err := ep.ensureSRQ()
	if err != nil {
		return err
	}
	qp, err := ep.newRCQP(srq)
	if err != nil {
		return err
	}
	psn := (qp.Num() * 2654435761) & 0xFFFFFF // prandom_u32() & 0xffffff
	err = modifyFromID(qp, id, verbs.QPInit, nil)
	if err == nil {
		err = modifyFromID(qp, id, verbs.QPRTR, func(a *verbs.QPAttr) { a.RQPSN, a.MinRNRTimer = psn, cmMinRNRTimer })
	}
	if err == nil {
		err = modifyFromID(qp, id, verbs.QPRTS, func(a *verbs.QPAttr) { a.RNRRetry = cmRNRRetry })
	}
	if err != nil {
		ep.warn("failed to %v", err)
		qp.Destroy()
		return err
	}
	rx := &cmRx{id: id, qp: qp}
	rx.last.Store(ep.host.Now().UnixNano())
	id.SetContext(rx)
	ep.cm.mu.Lock()
	if ep.cm.closed {
		ep.cm.mu.Unlock()
		qp.Destroy()
		return errCMClosing
	}
	if ep.cm.srq != srq {
		// the last passive connection went meanwhile, and the SRQ
		// with it: reject, the peer retries
		ep.cm.mu.Unlock()
		qp.Destroy()
		return errCMClosing
	}
	if ep.cm.rx == nil {
		ep.cm.rx = map[uint32]*cmRx{}
	}
	ep.cm.rx[qp.Num()] = rx
	ep.cm.mu.Unlock()
	err = id.SendREP(ibcm.REPParam{QPN: qp.Num(), StartingPSN: psn, PrivateData: cmData(ep.cfg.Load().HWAddr.QPN()),
		RNRRetryCount: req.RNRRetryCount, SRQ: true})
	if err != nil {
		ep.warn("failed to send REP: %v", err)
		ep.removeRx(rx)
		return err
	}
	return nil
}

// removeRx takes a passive connection off the interface and destroys its
// QP; its CM ID is left to the caller.
func (ep *Endpoint) removeRx(rx *cmRx) {
	var srq *verbs.SRQ
	ep.cm.mu.Lock()
	if ep.cm.rx[rx.qp.Num()] == rx {
		delete(ep.cm.rx, rx.qp.Num())
		if len(ep.cm.rx) == 0 {
			// the last one: free the SRQ's buffers (ensureSRQ)
			srq = ep.cm.srq
			ep.cm.srq, ep.cm.bufs, ep.cm.lend = nil, nil, nil
		}
	}
	ep.cm.mu.Unlock()
	rx.qp.Destroy()
	if srq != nil {
		srq.Destroy()
	}
}

// dropRx destroys a passive connection: its QP, then its CM ID, which
// disconnects an established peer (ipoib_cm_free_rx_reap_list). Not for
// the ID's own handler.
func (ep *Endpoint) dropRx(rx *cmRx) {
	ep.removeRx(rx)
	rx.id.Destroy()
}

// The active side.

// sendCM sends pkt over the neighbour's connection, setting it up the
// first time, or queues it while the connection is being set up.
func (ep *Endpoint) sendCM(n *ipoibNeigh, pkt []byte, cfg *config, fromQdisc bool) error {
	tx := n.cm.Load()
	if tx == nil {
		if tx = ep.createTx(n, cfg); tx == nil {
			ep.stats.txDropped.Add(1)
			ep.tapOut(pkt, n.daddr, true, DropNeighDead)
			return nil
		}
	}
	if tx.up.Load() {
		return ep.transmitRC(tx, pkt, cfg, fromQdisc)
	}
	n.qmu.Lock()
	if tx.up.Load() {
		n.qmu.Unlock()
		return ep.transmitRC(tx, pkt, cfg, fromQdisc)
	}
	// A neighbour freed meanwhile (the REJ handler's txFailed, a flush)
	// has dropped its queue already: what would be queued now is lost,
	// so it is dropped here and counted.
	if n.dead || len(n.queue) >= maxPathRecQueue {
		dead := n.dead
		n.qmu.Unlock()
		ep.stats.txDropped.Add(1)
		reason := DropNeighQueueFul
		if dead {
			reason = DropNeighDead
		}
		ep.tapOut(pkt, n.daddr, true, reason)
		return nil
	}
	n.queue = append(n.queue, append([]byte(nil), pkt...))
	n.qlen.Store(int32(len(n.queue)))
	n.qmu.Unlock()
	return nil
}

// createTx creates the neighbour's connection (ipoib_cm_create_tx) and
// starts it (ipoib_cm_tx_start); nil if the interface is closing, the
// neighbour was freed meanwhile, or the start failed (the neighbour is
// then freed).
func (ep *Endpoint) createTx(n *ipoibNeigh, cfg *config) *cmTx {
	ep.cm.mu.Lock()
	if ep.cm.closed || n.freed {
		ep.cm.mu.Unlock()
		return nil
	}
	if tx := n.cm.Load(); tx != nil {
		ep.cm.mu.Unlock()
		return tx
	}
	tx := &cmTx{ep: ep, neigh: n, neighAddr: n.daddr, started: make(chan struct{})}
	n.cm.Store(tx)
	ep.cm.mu.Unlock()
	err := ep.startTx(tx, n, cfg)
	close(tx.started)
	if err != nil {
		ep.warn("%v", err)
		if ep.txFailed(tx) && tx.id != nil {
			tx.id.Destroy()
		}
		return nil
	}
	return tx
}

// startTx is ipoib_cm_tx_init: the QP, the CM ID, INIT, the REQ.
func (ep *Endpoint) startTx(tx *cmTx, n *ipoibNeigh, cfg *config) error {
	srq, err := ep.ensureTxSRQ()
	if err != nil {
		return fmt.Errorf("failed to create tx qp: %w", err)
	}
	if tx.qp, err = ep.newRCQP(srq); err != nil {
		return fmt.Errorf("failed to create tx qp: %w", err)
	}
	tx.id = ep.port.cm.NewID(tx.handle, tx)
	// ipoib_cm_modify_tx_init: the interface's P_Key index.
	if err := tx.qp.Modify(verbs.QPAttr{State: verbs.QPInit, PKeyIndex: cfg.pkeyIndex, Port: verbsPort},
		verbs.AttrState|verbs.AttrPKeyIndex|verbs.AttrPort); err != nil {
		return fmt.Errorf("failed to modify tx qp to rtr: %w", err)
	}
	dst, path := n.daddr, n.path
	err = tx.id.SendREQ(ibcm.REQParam{
		Path: ibcm.Path{SGID: ep.port.dev.GID(), DGID: path.DGID, SLID: path.SLID, DLID: path.DLID, PKey: cfg.PKey,
			MTU: MTUEnum(path.MTU), SL: path.SL, Rate: ibRate(path.Rate), PacketLifeTime: saPacketLifeTime},
		ServiceID: cmServiceID(dst.QPN()), QPN: tx.qp.Num(), StartingPSN: 0, PrivateData: cmData(cfg.HWAddr.QPN()),
		ResponderResources: cmResponderResources, RemoteCMResponseTimeout: cmResponseTimeout,
		LocalCMResponseTimeout: cmResponseTimeout, RetryCount: 0, RNRRetryCount: 0, MaxCMRetries: cmMaxCMRetries, SRQ: true,
	})
	if err != nil {
		return fmt.Errorf("failed to send cm req: %w", err)
	}
	ep.dbg("Request connection 0x%x for gid %s qpn 0x%x", tx.qp.Num(), pI6(dst.GID()), dst.QPN())
	return nil
}

// handle is the active connection's CM handler (ipoib_cm_tx_handler).
func (tx *cmTx) handle(id *ibcm.ID, ev *ibcm.Event) error {
	ep := tx.ep
	<-tx.started // the start, its debug message included, is over
	switch ev.Type {
	case ibcm.DREQReceived:
		ep.dbg("DREQ received.")
		_ = id.SendDREP(nil)
	case ibcm.REPReceived:
		ep.dbg("REP received.")
		if err := ep.cmConnected(tx, id, ev); err != nil {
			_ = id.SendREJ(header.CMRejConsumerDefined, nil, nil)
		}
	case ibcm.REQError, ibcm.REJReceived, ibcm.TimewaitExit:
		ep.dbg("CM error %d.", ev.Type)
		if ep.txFailed(tx) {
			return errCMReap
		}
	}
	return nil
}

// cmConnected is ipoib_cm_rep_handler: the QP to RTS, the connection up,
// the queued packets sent, the RTU.
func (ep *Endpoint) cmConnected(tx *cmTx, id *ibcm.ID, ev *ibcm.Event) error {
	data, _ := header.DecodeIPoIBCMData(ev.PrivateData)
	if data.MTU <= encapLen {
		ep.warn("Rejecting connection: mtu %d <= %d", data.MTU, encapLen)
		return errCMMTU
	}
	tx.mtu = int(data.MTU) - encapLen
	err := modifyFromID(tx.qp, id, verbs.QPRTR, func(a *verbs.QPAttr) { a.RQPSN, a.MinRNRTimer = 0, cmMinRNRTimer })
	if err == nil {
		err = modifyFromID(tx.qp, id, verbs.QPRTS, func(a *verbs.QPAttr) { a.RNRRetry = cmRNRRetry })
	}
	if err != nil {
		ep.warn("failed to %v", err)
		return err
	}
	ep.cm.mu.Lock()
	n := tx.neigh
	ep.cm.mu.Unlock()
	var queued [][]byte
	if n != nil {
		n.qmu.Lock()
		tx.up.Store(true)
		queued, n.queue = n.queue, nil
		n.qlen.Store(0)
		n.qmu.Unlock()
	} else {
		tx.up.Store(true)
	}
	cfg := ep.cfg.Load()
	for _, pkt := range queued {
		_ = ep.transmitRC(tx, pkt, cfg, false)
	}
	if err := id.SendRTU(nil); err != nil {
		ep.warn("failed to send RTU: %v", err)
		return err
	}
	return nil
}

// txFailed ends a connection whose exchange failed or that the peer
// disconnected: its neighbour is freed (with the packets queued on it)
// and its QP destroyed. It reports whether the caller must destroy the
// CM ID (false when the connection was reaped already).
func (ep *Endpoint) txFailed(tx *cmTx) bool {
	reap := ep.detachTx(tx)
	if reap {
		ep.destroyTxQP(tx)
	}
	return reap
}

// detachTx takes a failed connection off its neighbour and frees the
// neighbour (with the packets queued on it); it reports whether the
// caller is the one to reap the connection (false when it was reaped
// already).
func (ep *Endpoint) detachTx(tx *cmTx) bool {
	ep.cm.mu.Lock()
	n := tx.neigh
	tx.neigh = nil
	reap := !tx.reaped
	tx.reaped = true
	tx.up.Store(false)
	ep.cm.mu.Unlock()
	if n != nil && n.cm.CompareAndSwap(tx, nil) && ep.removeNeigh(n) {
		ep.freeNeigh(n)
	}
	return reap
}

// destroyTx is ipoib_cm_tx_destroy: the CM ID (a DREQ if the connection
// was established, a REJ if it was being set up), then the QP. Not for
// the ID's own handler. A neighbour freed while its connection starts
// (createTx publishes the connection before startTx creates its QP and
// ID) waits here for the start to end, so that what it made is
// destroyed.
func (ep *Endpoint) destroyTx(tx *cmTx) {
	<-tx.started
	ep.logDestroy(tx)
	if tx.id != nil {
		tx.id.Destroy()
	}
	if tx.qp != nil {
		tx.qp.Destroy()
		ep.forgetSends(tx.qp.Num())
	}
}

// destroyTxQP destroys the QP only, from the connection's handler, which
// has the CM destroy the ID after it.
func (ep *Endpoint) destroyTxQP(tx *cmTx) {
	ep.logDestroy(tx)
	if tx.qp != nil {
		tx.qp.Destroy()
		ep.forgetSends(tx.qp.Num())
	}
}

func (ep *Endpoint) logDestroy(tx *cmTx) {
	var qpn uint32
	if tx.qp != nil {
		qpn = tx.qp.Num()
	}
	n := tx.sent.Load()
	ep.dbg("Destroy active connection 0x%x head 0x%x tail 0x%x", qpn, n, n)
}

// transmitRC sends over a connection (ipoib_cm_send): larger than the
// peer's receive size is dropped (the warning counts the 4-byte header)
// and answered, as ipoib_cm_skb_reap does, with fragmentation-needed
// carrying the UD MTU. A full ring, or packets waiting, holds the packet
// in the qdisc (txqueue.go).
func (ep *Endpoint) transmitRC(c *cmTx, pkt []byte, cfg *config, fromQdisc bool) error {
	if n := len(pkt) - header.IPoIBHeaderLen; n > c.mtu {
		ep.stats.txDropped.Add(1)
		ep.stats.txErrors.Add(1)
		ep.tapOut(pkt, c.neighAddr, true, DropPktTooBig)
		ep.host.logf(cfg.Name, "packet len %d (> %d) too long to send, dropping", len(pkt), c.mtu+encapLen)
		return &TooBigError{MTU: cfg.UDMTU}
	}
	defer ep.handleSendErrors()
	ep.txmu.Lock()
	if err := ep.reserveLocked(fromQdisc, c.qp.Num()); err != nil {
		err = ep.queueOrRequeueLocked(pkt, c.neighAddr, 0, fromQdisc)
		ep.txmu.Unlock()
		return err
	}
	ep.countTx(len(pkt))
	if p := ep.taps.Load(); p != nil {
		ep.tap(p, Frame{PktType: PacketOutgoing, Src: cfg.HWAddr, Dst: c.neighAddr, RC: true, Data: pkt})
	}
	head := c.sent.Add(1) - 1
	slot := uint64(head) & uint64(ep.sendq-1)
	err := c.qp.PostSend(&verbs.SendWR{WRID: opCM | slot, SGL: [][]byte{pkt}})
	if err != nil {
		ep.unreserveLocked()
		ep.txmu.Unlock()
		c.sent.Add(^uint32(0))
		ep.uncountTx(len(pkt))
		return err
	}
	if ep.rcInflight == nil {
		ep.rcInflight = map[uint32]int{}
	}
	ep.rcInflight[c.qp.Num()]++
	ep.noteRCSendLocked(c.qp.Num(), slot, pkt)
	ep.armLocked()
	ep.txmu.Unlock()
	return nil
}

// Teardown.

// closeCM ends connected mode when the interface goes down: its
// neighbours and their connections (ipoib_ib_dev_down flushes the paths),
// then the listener and the passive connections (ipoib_cm_dev_stop).
func (ep *Endpoint) closeCM() {
	ep.cm.mu.Lock()
	ep.cm.closed = true
	listen, rxs, srq := ep.cm.listen, ep.cm.rx, ep.cm.srq
	ep.cm.listen, ep.cm.rx, ep.cm.srq, ep.cm.bufs, ep.cm.lend = nil, nil, nil, nil, nil
	ep.cm.mu.Unlock()
	ep.flushNeighs()
	if listen != nil {
		listen.Destroy()
	}
	for _, rx := range rxs {
		rx.qp.Destroy()
		rx.id.Destroy()
	}
	if srq != nil {
		srq.Destroy()
	}
	// Let handlers already running for this interface finish.
	ep.port.cm.Flush()
}

// ConnCounts reports the connections, active (set up or being set up) and
// passive.
func (ep *Endpoint) ConnCounts() (tx, rx int) {
	ep.neighs.mu.Lock()
	for _, n := range ep.neighs.m {
		if n.cm.Load() != nil {
			tx++
		}
	}
	ep.neighs.mu.Unlock()
	ep.cm.mu.Lock()
	defer ep.cm.mu.Unlock()
	return tx, len(ep.cm.rx)
}

// noteActivity refreshes a passive connection's activity time.
func (ep *Endpoint) noteActivity(qpn uint32) {
	ep.cm.mu.Lock()
	c := ep.cm.rx[qpn]
	ep.cm.mu.Unlock()
	if c == nil {
		return
	}
	now := ep.host.Now().UnixNano()
	if now-c.last.Load() >= int64(cmActivityRefresh) {
		c.last.Store(now)
	}
}

// ReapStale destroys the passive connections idle for more than
// cmRxTimeout (ipoib_cm_stale_task): each CM ID's DREQ disconnects the
// active end. It returns how many it reaped.
func (ep *Endpoint) ReapStale() int {
	now := ep.host.Now().UnixNano()
	ep.cm.mu.Lock()
	var gone []*cmRx
	for _, c := range ep.cm.rx {
		if now-c.last.Load() > int64(cmRxTimeout) {
			gone = append(gone, c)
		}
	}
	ep.cm.mu.Unlock()
	for _, c := range gone {
		ep.dropRx(c)
	}
	return len(gone)
}

// StaleScanInterval is how often the netdev layer should call
// ReapStale (ipoib_cm_stale_task's period).
const StaleScanInterval = cmStaleScan

// ibRate is the path rate as enum ib_rate (0, IB_RATE_PORT_CURRENT, for
// an unlisted one).
func ibRate(mbps int) uint8 {
	rates := map[int]uint8{2500: 2, 5000: 5, 10000: 3, 20000: 6, 30000: 4, 40000: 7, 60000: 8, 80000: 9, 120000: 10,
		14000: 11, 56000: 12, 112000: 13, 168000: 14, 25000: 15, 100000: 16, 200000: 17, 300000: 18, 28000: 19,
		50000: 20, 400000: 21, 600000: 22}
	return rates[mbps]
}
