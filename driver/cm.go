package driver

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
const cmRecvSize = maxMTU + encapLen

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
	dp *dataPath
	// startMu is held while the connection starts (ipoib_cm_tx_init),
	// which its CM handler waits for.
	startMu sync.Mutex
	id      *ibcm.ID
	qp      *verbs.QP
	mtu     int         // the peer's receive size − 4, set by the REP
	up      atomic.Bool // IPOIB_FLAG_OPER_UP: the REP was handled
	// sent counts the sends (tx_head; sends complete as they are posted
	// on the lossless wire, so tx_tail is the same).
	sent atomic.Uint32

	// Guarded by dp.cm.mu.
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
	srq    *verbs.SRQ
	bufs   [][]byte
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
func (dp *dataPath) cmListen(qpn uint32) {
	id, err := dp.port.cm.Listen(cmServiceID(qpn), dp.cmRxHandler, nil)
	if err != nil {
		dp.nd.warnf(dp.cfg.Load().name, "failed to listen on ID 0x%x", cmServiceID(qpn))
		return
	}
	dp.cm.mu.Lock()
	dp.cm.listen = id
	dp.cm.mu.Unlock()
}

func (dp *dataPath) newRCQP(srq *verbs.SRQ) (*verbs.QP, error) {
	return dp.port.dev.CreateQP(verbs.QPInitAttr{Type: verbs.RC, SendCQ: dp.scq, RecvCQ: dp.rcq, SRQ: srq,
		MaxSend: dp.sendq, MaxSGE: 1}) // max_send_wr = ipoib_sendq_size
}

// ensureSRQ creates the shared receive queue on first use and returns it.
func (dp *dataPath) ensureSRQ() (*verbs.SRQ, error) {
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	if dp.cm.closed {
		return nil, errCMClosing
	}
	if dp.cm.srq != nil {
		return dp.cm.srq, nil
	}
	depth := len(dp.bufs)
	srq, err := dp.port.dev.NewSRQ(depth, 1)
	if err != nil {
		return nil, err
	}
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, cmRecvSize)
		if err := srq.PostRecv(&verbs.RecvWR{WRID: srqWRID | uint64(i), SGL: [][]byte{bufs[i]}}); err != nil {
			return nil, err
		}
	}
	dp.cm.srq, dp.cm.bufs = srq, bufs
	return srq, nil
}

// srqWRID marks receive WRs of the SRQ (the UD ring uses small indexes).
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
func (dp *dataPath) cmRxHandler(id *ibcm.ID, ev *ibcm.Event) error {
	switch ev.Type {
	case ibcm.REQReceived:
		return dp.cmAccept(id, ev.REQ)
	case ibcm.DREQReceived:
		_ = id.SendDREP(nil)
		fallthrough
	case ibcm.REJReceived:
		// The QP goes to error and the connection is reaped, its ID
		// after the handler.
		if rx, ok := id.Context().(*cmRx); ok {
			dp.removeRx(rx)
			return errCMReap
		}
	}
	return nil
}

// cmAccept is ipoib_cm_req_handler: a QP on the SRQ, brought to RTS
// towards the requester, and the REP. An error makes the CM reject the
// REQ (CONSUMER_DEFINED).
func (dp *dataPath) cmAccept(id *ibcm.ID, req *header.CMReq) error {
	dp.dbg("REQ arrived")
	srq, err := dp.ensureSRQ()
	if err != nil {
		return err
	}
	qp, err := dp.newRCQP(srq)
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
		dp.warn("failed to %v", err)
		qp.Destroy()
		return err
	}
	rx := &cmRx{id: id, qp: qp}
	rx.last.Store(dp.now().UnixNano())
	id.SetContext(rx)
	dp.cm.mu.Lock()
	if dp.cm.closed {
		dp.cm.mu.Unlock()
		qp.Destroy()
		return errCMClosing
	}
	if dp.cm.rx == nil {
		dp.cm.rx = map[uint32]*cmRx{}
	}
	dp.cm.rx[qp.Num()] = rx
	dp.cm.mu.Unlock()
	err = id.SendREP(ibcm.REPParam{QPN: qp.Num(), StartingPSN: psn, PrivateData: cmData(dp.cfg.Load().hwaddr.QPN()),
		RNRRetryCount: req.RNRRetryCount, SRQ: true})
	if err != nil {
		dp.warn("failed to send REP: %v", err)
		dp.removeRx(rx)
		return err
	}
	return nil
}

// removeRx takes a passive connection off the interface and destroys its
// QP; its CM ID is left to the caller.
func (dp *dataPath) removeRx(rx *cmRx) {
	dp.cm.mu.Lock()
	if dp.cm.rx[rx.qp.Num()] == rx {
		delete(dp.cm.rx, rx.qp.Num())
	}
	dp.cm.mu.Unlock()
	rx.qp.Destroy()
}

// dropRx destroys a passive connection: its QP, then its CM ID, which
// disconnects an established peer (ipoib_cm_free_rx_reap_list). Not for
// the ID's own handler.
func (dp *dataPath) dropRx(rx *cmRx) {
	dp.removeRx(rx)
	rx.id.Destroy()
}

// The active side.

// sendCM sends pkt over the neighbour's connection, setting it up the
// first time, or queues it while the connection is being set up.
func (dp *dataPath) sendCM(n *ipoibNeigh, pkt []byte, cfg *dpConfig) error {
	tx := n.cm.Load()
	if tx == nil {
		if tx = dp.createTx(n, cfg); tx == nil {
			dp.stats.txDropped.Add(1)
			return nil
		}
	}
	if tx.up.Load() {
		return dp.transmitRC(tx, pkt, cfg)
	}
	n.qmu.Lock()
	if tx.up.Load() {
		n.qmu.Unlock()
		return dp.transmitRC(tx, pkt, cfg)
	}
	// A neighbour freed meanwhile (the REJ handler's txFailed, a flush)
	// has dropped its queue already: what would be queued now is lost,
	// so it is dropped here and counted.
	if n.dead || len(n.queue) >= maxPathRecQueue {
		n.qmu.Unlock()
		dp.stats.txDropped.Add(1)
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
func (dp *dataPath) createTx(n *ipoibNeigh, cfg *dpConfig) *cmTx {
	dp.cm.mu.Lock()
	if dp.cm.closed || n.freed {
		dp.cm.mu.Unlock()
		return nil
	}
	if tx := n.cm.Load(); tx != nil {
		dp.cm.mu.Unlock()
		return tx
	}
	tx := &cmTx{dp: dp, neigh: n}
	tx.startMu.Lock()
	n.cm.Store(tx)
	dp.cm.mu.Unlock()
	err := dp.startTx(tx, n, cfg)
	tx.startMu.Unlock()
	if err != nil {
		dp.warn("%v", err)
		if dp.txFailed(tx) && tx.id != nil {
			tx.id.Destroy()
		}
		return nil
	}
	return tx
}

// startTx is ipoib_cm_tx_init: the QP, the CM ID, INIT, the REQ.
func (dp *dataPath) startTx(tx *cmTx, n *ipoibNeigh, cfg *dpConfig) error {
	srq, err := dp.ensureSRQ()
	if err != nil {
		return fmt.Errorf("failed to create tx qp: %w", err)
	}
	if tx.qp, err = dp.newRCQP(srq); err != nil {
		return fmt.Errorf("failed to create tx qp: %w", err)
	}
	tx.id = dp.port.cm.NewID(tx.handle, tx)
	// ipoib_cm_modify_tx_init: the interface's P_Key index.
	if err := tx.qp.Modify(verbs.QPAttr{State: verbs.QPInit, PKeyIndex: cfg.pkeyIndex, Port: verbsPort},
		verbs.AttrState|verbs.AttrPKeyIndex|verbs.AttrPort); err != nil {
		return fmt.Errorf("failed to modify tx qp to rtr: %w", err)
	}
	dst, path := n.daddr, n.path
	err = tx.id.SendREQ(ibcm.REQParam{
		Path: ibcm.Path{SGID: dp.port.dev.GID(), DGID: path.DGID, SLID: path.SLID, DLID: path.DLID, PKey: cfg.pkey,
			MTU: mtuEnum(path.MTU), SL: path.SL, Rate: ibRate(path.Rate), PacketLifeTime: saPacketLifeTime},
		ServiceID: cmServiceID(dst.QPN()), QPN: tx.qp.Num(), StartingPSN: 0, PrivateData: cmData(cfg.hwaddr.QPN()),
		ResponderResources: cmResponderResources, RemoteCMResponseTimeout: cmResponseTimeout,
		LocalCMResponseTimeout: cmResponseTimeout, RetryCount: 0, RNRRetryCount: 0, MaxCMRetries: cmMaxCMRetries, SRQ: true,
	})
	if err != nil {
		return fmt.Errorf("failed to send cm req: %w", err)
	}
	dp.dbg("Request connection 0x%x for gid %s qpn 0x%x", tx.qp.Num(), pI6(dst.GID()), dst.QPN())
	return nil
}

// handle is the active connection's CM handler (ipoib_cm_tx_handler).
func (tx *cmTx) handle(id *ibcm.ID, ev *ibcm.Event) error {
	dp := tx.dp
	tx.startMu.Lock() // the start, its debug message included, is over
	tx.startMu.Unlock()
	switch ev.Type {
	case ibcm.DREQReceived:
		dp.dbg("DREQ received.")
		_ = id.SendDREP(nil)
	case ibcm.REPReceived:
		dp.dbg("REP received.")
		if err := dp.cmConnected(tx, id, ev); err != nil {
			_ = id.SendREJ(header.CMRejConsumerDefined, nil, nil)
		}
	case ibcm.REQError, ibcm.REJReceived, ibcm.TimewaitExit:
		dp.dbg("CM error %d.", ev.Type)
		if dp.txFailed(tx) {
			return errCMReap
		}
	}
	return nil
}

// cmConnected is ipoib_cm_rep_handler: the QP to RTS, the connection up,
// the queued packets sent, the RTU.
func (dp *dataPath) cmConnected(tx *cmTx, id *ibcm.ID, ev *ibcm.Event) error {
	data, _ := header.DecodeIPoIBCMData(ev.PrivateData)
	if data.MTU <= encapLen {
		dp.warn("Rejecting connection: mtu %d <= %d", data.MTU, encapLen)
		return errCMMTU
	}
	tx.mtu = int(data.MTU) - encapLen
	err := modifyFromID(tx.qp, id, verbs.QPRTR, func(a *verbs.QPAttr) { a.RQPSN, a.MinRNRTimer = 0, cmMinRNRTimer })
	if err == nil {
		err = modifyFromID(tx.qp, id, verbs.QPRTS, func(a *verbs.QPAttr) { a.RNRRetry = cmRNRRetry })
	}
	if err != nil {
		dp.warn("failed to %v", err)
		return err
	}
	dp.cm.mu.Lock()
	n := tx.neigh
	dp.cm.mu.Unlock()
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
	cfg := dp.cfg.Load()
	for _, pkt := range queued {
		_ = dp.transmitRC(tx, pkt, cfg)
	}
	if err := id.SendRTU(nil); err != nil {
		dp.warn("failed to send RTU: %v", err)
		return err
	}
	return nil
}

// txFailed ends a connection whose exchange failed or that the peer
// disconnected: its neighbour is freed (with the packets queued on it)
// and its QP destroyed. It reports whether the caller must destroy the
// CM ID (false when the connection was reaped already).
func (dp *dataPath) txFailed(tx *cmTx) bool {
	reap := dp.detachTx(tx)
	if reap {
		dp.destroyTxQP(tx)
	}
	return reap
}

// detachTx takes a failed connection off its neighbour and frees the
// neighbour (with the packets queued on it); it reports whether the
// caller is the one to reap the connection (false when it was reaped
// already).
func (dp *dataPath) detachTx(tx *cmTx) bool {
	dp.cm.mu.Lock()
	n := tx.neigh
	tx.neigh = nil
	reap := !tx.reaped
	tx.reaped = true
	tx.up.Store(false)
	dp.cm.mu.Unlock()
	if n != nil && n.cm.CompareAndSwap(tx, nil) && dp.removeNeigh(n) {
		dp.freeNeigh(n)
	}
	return reap
}

// destroyTx is ipoib_cm_tx_destroy: the CM ID (a DREQ if the connection
// was established, a REJ if it was being set up), then the QP. Not for
// the ID's own handler. A neighbour freed while its connection starts
// (createTx publishes the connection before startTx creates its QP and
// ID) waits here for the start to end, so that what it made is
// destroyed.
func (dp *dataPath) destroyTx(tx *cmTx) {
	tx.startMu.Lock()
	tx.startMu.Unlock()
	dp.logDestroy(tx)
	if tx.id != nil {
		tx.id.Destroy()
	}
	if tx.qp != nil {
		tx.qp.Destroy()
	}
}

// destroyTxQP destroys the QP only, from the connection's handler, which
// has the CM destroy the ID after it.
func (dp *dataPath) destroyTxQP(tx *cmTx) {
	dp.logDestroy(tx)
	if tx.qp != nil {
		tx.qp.Destroy()
	}
}

func (dp *dataPath) logDestroy(tx *cmTx) {
	var qpn uint32
	if tx.qp != nil {
		qpn = tx.qp.Num()
	}
	n := tx.sent.Load()
	dp.dbg("Destroy active connection 0x%x head 0x%x tail 0x%x", qpn, n, n)
}

// transmitRC sends over a connection (ipoib_cm_send): larger than the
// peer's receive size is dropped (the warning counts the 4-byte header)
// and answered, as ipoib_cm_skb_reap does, with fragmentation-needed
// carrying the UD MTU.
func (dp *dataPath) transmitRC(c *cmTx, pkt []byte, cfg *dpConfig) error {
	if n := len(pkt) - header.IPoIBHeaderLen; n > c.mtu {
		dp.stats.txDropped.Add(1)
		dp.stats.txErrors.Add(1)
		dp.nd.warnf(cfg.name, "packet len %d (> %d) too long to send, dropping", len(pkt), c.mtu+encapLen)
		return &tooBig{mtu: cfg.mcastMTU}
	}
	defer dp.handleSendErrors()
	dp.txmu.Lock()
	dp.retireSendsLocked()
	dp.countTx(len(pkt))
	head := c.sent.Add(1) - 1
	err := c.qp.PostSend(&verbs.SendWR{WRID: opCM | uint64(head)&uint64(dp.sendq-1), SGL: [][]byte{pkt}})
	dp.txmu.Unlock()
	if err != nil {
		c.sent.Add(^uint32(0))
		dp.uncountTx(len(pkt))
		return err
	}
	return nil
}

// Teardown.

// closeCM ends connected mode when the interface goes down: its
// neighbours and their connections (ipoib_ib_dev_down flushes the paths),
// then the listener and the passive connections (ipoib_cm_dev_stop).
func (dp *dataPath) closeCM() {
	dp.cm.mu.Lock()
	dp.cm.closed = true
	listen, rxs := dp.cm.listen, dp.cm.rx
	dp.cm.listen, dp.cm.rx = nil, nil
	dp.cm.mu.Unlock()
	dp.flushNeighs()
	if listen != nil {
		listen.Destroy()
	}
	for _, rx := range rxs {
		rx.qp.Destroy()
		rx.id.Destroy()
	}
	// Let handlers already running for this interface finish.
	dp.port.cm.Flush()
}

// cmCounts reports the connections, active (set up or being set up) and
// passive.
func (dp *dataPath) cmCounts() (tx, rx int) {
	dp.neighs.mu.Lock()
	for _, n := range dp.neighs.m {
		if n.cm.Load() != nil {
			tx++
		}
	}
	dp.neighs.mu.Unlock()
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	return tx, len(dp.cm.rx)
}

// noteActivity refreshes a passive connection's activity time.
func (dp *dataPath) noteActivity(qpn uint32) {
	dp.cm.mu.Lock()
	c := dp.cm.rx[qpn]
	dp.cm.mu.Unlock()
	if c == nil {
		return
	}
	now := dp.now().UnixNano()
	if now-c.last.Load() >= int64(cmActivityRefresh) {
		c.last.Store(now)
	}
}

// reapStale destroys the passive connections idle for more than
// cmRxTimeout (ipoib_cm_stale_task): each CM ID's DREQ disconnects the
// active end. It returns how many it reaped.
func (dp *dataPath) reapStale() int {
	now := dp.now().UnixNano()
	dp.cm.mu.Lock()
	var gone []*cmRx
	for _, c := range dp.cm.rx {
		if now-c.last.Load() > int64(cmRxTimeout) {
			gone = append(gone, c)
		}
	}
	dp.cm.mu.Unlock()
	for _, c := range gone {
		dp.dropRx(c)
	}
	return len(gone)
}

// ReapStaleConnections runs the stale-connection scan on every interface
// of every node; the daemon calls it every cmStaleScan.
func (d *Driver) ReapStaleConnections() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, s := range d.nodes {
		for _, nd := range s.devs {
			if nd.dp == nil {
				continue
			}
			if r := nd.dp.reapStale(); r > 0 {
				nd.dbg("reaped %d stale connection(s)", r)
				n += r
			}
		}
	}
	return n
}

// StaleScanInterval is how often the daemon should call
// ReapStaleConnections.
const StaleScanInterval = cmStaleScan

// ibRate is the path rate as enum ib_rate (0, IB_RATE_PORT_CURRENT, for
// an unlisted one).
func ibRate(mbps int) uint8 {
	rates := map[int]uint8{2500: 2, 5000: 5, 10000: 3, 20000: 6, 30000: 4, 40000: 7, 60000: 8, 80000: 9, 120000: 10,
		14000: 11, 56000: 12, 112000: 13, 168000: 14, 25000: 15, 100000: 16, 200000: 17, 300000: 18, 28000: 19,
		50000: 20, 400000: 21, 600000: 22}
	return rates[mbps]
}
