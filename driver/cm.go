package driver

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
)

// Connected mode (ipoib_cm.c, RFC 4755): a unicast packet to a neighbour
// whose address has the RC flag, from an interface in connected mode, goes
// over an RC connection to that neighbour, set up on first use with the
// CM's REQ / REP / RTU exchange. The passive side's QP receives into the
// interface's shared receive queue; REQ and REP carry the receive size
// (65524) as private data, and the connection's MTU is the peer's size
// minus the 4-byte encapsulation header. Multicast, and peers without
// the flag, keep using UD.
//
// The CM messages are exchanged in-process through the driver's listener
// table (service ID 0x1000000000000000 | UD QPN, keyed by port GID), which
// stands for the CM MADs a fabric would carry.

// cmRecvSize is what IPoIB advertises: IPOIB_CM_MTU + the header.
const cmRecvSize = maxMTU + encapLen

// cmServiceID is the IETF-range service ID IPoIB listens on.
func cmServiceID(qpn uint32) uint64 { return 0x1000000000000000 | uint64(qpn) }

// cmKey identifies a listener: the port GID and the service ID.
type cmKey struct {
	gid     [16]byte
	service uint64
}

// dpTable maps interface addresses (port GID and the service ID of the
// UD QPN) to running data paths: the CM's listeners, and the receivers
// perf reads.
type dpTable struct {
	mu sync.Mutex
	m  map[cmKey]*dataPath
}

func (l *dpTable) listen(k cmKey, dp *dataPath) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[cmKey]*dataPath{}
	}
	l.m[k] = dp
}

func (l *dpTable) unlisten(k cmKey, dp *dataPath) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m[k] == dp {
		delete(l.m, k)
	}
}

func (l *dpTable) lookup(k cmKey) *dataPath {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[k]
}

// cmConn is one RC connection: ipoib_cm_tx on the active side, ipoib_cm_rx
// on the passive side.
type cmConn struct {
	qp  *verbs.QP
	mtu int // the peer's receive size − 4
	// last is when a passive connection last received, refreshed at most
	// every cmActivityRefresh (ipoib_cm_handle_rx_wc).
	last atomic.Int64
	// sent counts an active connection's sends (tx_head; sends complete
	// as they are posted on the lossless wire, so tx_tail is the same).
	sent atomic.Uint32
	// peer and peerQPN identify the other end, which a disconnect (DREQ)
	// reaches: a passive connection's active end, or an active
	// connection's passive end.
	peer    *dataPath
	peerQPN uint32
}

// Passive connection timers (ipoib_cm.c): activity is noted at most every
// 256 s, a connection idle for more than 512 s is reaped, and the stale
// scan runs every 768 s while passive connections exist.
const (
	cmActivityRefresh = 256 * time.Second
	cmRxTimeout       = 512 * time.Second
	cmStaleScan       = 768 * time.Second
)

// cmState is an interface's connected-mode state.
type cmState struct {
	// connectMu serialises this interface's connection set-ups; it is
	// held across the exchange with the peer, mu only briefly, so two
	// interfaces connecting to each other cannot deadlock.
	connectMu sync.Mutex
	mu        sync.Mutex
	closed    bool
	rx        map[uint32]*cmConn // passive connections by QPN
	srq       *verbs.SRQ
	bufs      [][]byte
	// The active connections hang off the neighbour table (neigh.go).
}

// cmReq is the REQ's content; cmRep the REP's.
type cmReq struct {
	lid      uint16
	qpn, psn uint32
	recvSize uint32
	pathMTU  verbs.MTU // from the path record the REQ was built with
}

type cmRep = cmReq

const cmPSN = 0x100

// rcAttrs brings an RC QP to RTS towards the peer.
func rcConnect(qp *verbs.QP, port uint8, pkeyIndex uint16, peer cmReq, mtu verbs.MTU) error {
	steps := []struct {
		a verbs.QPAttr
		m verbs.AttrMask
	}{
		{verbs.QPAttr{State: verbs.QPInit, PKeyIndex: pkeyIndex, Port: port}, verbs.AttrState | verbs.AttrPKeyIndex | verbs.AttrPort},
		{verbs.QPAttr{State: verbs.QPRTR, DLID: peer.lid, PathMTU: mtu, DestQPN: peer.qpn, RQPSN: peer.psn, MinRNRTimer: 14},
			verbs.AttrState | verbs.AttrAV | verbs.AttrPathMTU | verbs.AttrDestQPN | verbs.AttrRQPSN | verbs.AttrMinRNRTimer},
		// RFC 4755 / ipoib_cm: retry 0, RNR retry 0 in the REQ; the
		// emulated wire loses nothing, and RNR is retried forever (7) so
		// a full SRQ slows the sender instead of failing the connection.
		{verbs.QPAttr{State: verbs.QPRTS, SQPSN: cmPSN, Timeout: 20, RetryCnt: 0, RNRRetry: 7},
			verbs.AttrState | verbs.AttrSQPSN | verbs.AttrTimeout | verbs.AttrRetryCnt | verbs.AttrRNRRetry},
	}
	for _, s := range steps {
		if err := qp.Modify(s.a, s.m); err != nil {
			return err
		}
	}
	return nil
}

func (dp *dataPath) newRCQP(srq *verbs.SRQ) (*verbs.QP, error) {
	return dp.port.dev.CreateQP(verbs.QPInitAttr{Type: verbs.RC, SendCQ: dp.scq, RecvCQ: dp.rcq, SRQ: srq,
		MaxSend: 64, MaxSGE: 1})
}

// ensureSRQ creates the shared receive queue on first use.
// Caller holds dp.cm.mu.
func (dp *dataPath) ensureSRQ() error {
	if dp.cm.srq != nil {
		return nil
	}
	depth := len(dp.bufs)
	srq, err := dp.port.dev.NewSRQ(depth, 1)
	if err != nil {
		return err
	}
	bufs := make([][]byte, depth)
	for i := range bufs {
		bufs[i] = make([]byte, cmRecvSize)
		if err := srq.PostRecv(&verbs.RecvWR{WRID: srqWRID | uint64(i), SGL: [][]byte{bufs[i]}}); err != nil {
			return err
		}
	}
	dp.cm.srq, dp.cm.bufs = srq, bufs
	return nil
}

// srqWRID marks receive WRs of the SRQ (the UD ring uses small indexes).
const srqWRID = 1 << 62

// accept is the passive side's REQ handler (ipoib_cm_req_handler): a new
// RC QP on the SRQ, brought to RTS towards the requester; its REP.
func (dp *dataPath) accept(req cmReq, from *dataPath) (cmRep, error) {
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	if dp.cm.closed {
		return cmRep{}, fmt.Errorf("listener closed")
	}
	if err := dp.ensureSRQ(); err != nil {
		return cmRep{}, err
	}
	qp, err := dp.newRCQP(dp.cm.srq)
	if err != nil {
		return cmRep{}, err
	}
	cfg := dp.cfg.Load()
	if err := rcConnect(qp, uint8(dp.port.ref.Port), cfg.pkeyIndex, req, req.pathMTU); err != nil {
		qp.Destroy()
		return cmRep{}, err
	}
	c := &cmConn{qp: qp, mtu: int(req.recvSize) - encapLen, peer: from, peerQPN: req.qpn}
	c.last.Store(dp.now().UnixNano())
	if dp.cm.rx == nil {
		dp.cm.rx = map[uint32]*cmConn{}
	}
	dp.cm.rx[qp.Num()] = c
	return cmRep{lid: dp.port.dev.LID(), qpn: qp.Num(), psn: cmPSN, recvSize: cmRecvSize, pathMTU: req.pathMTU}, nil
}

// connection returns the neighbour's RC connection, setting it up with
// the REQ/REP/RTU exchange the first time (ipoib_cm_create_tx,
// ipoib_cm_tx_init).
func (dp *dataPath) connection(n *ipoibNeigh) (*cmConn, error) {
	if c := n.cm.Load(); c != nil {
		return c, nil
	}
	dp.cm.connectMu.Lock()
	defer dp.cm.connectMu.Unlock()
	dp.cm.mu.Lock()
	c, closed := n.cm.Load(), dp.cm.closed
	dp.cm.mu.Unlock()
	switch {
	case c != nil:
		return c, nil
	case closed:
		return nil, fmt.Errorf("interface closing")
	}
	cfg := dp.cfg.Load()
	dst, path := n.daddr, n.path
	peer := dp.listeners.lookup(cmKey{gid: dst.GID(), service: cmServiceID(dst.QPN())})
	if peer == nil {
		return nil, fmt.Errorf("REQ to %v: rejected (no listener)", dst)
	}
	// The send QP shares the SRQ too, as ipoib_cm_create_tx_qp does.
	dp.cm.mu.Lock()
	err := dp.ensureSRQ()
	srq := dp.cm.srq
	dp.cm.mu.Unlock()
	if err != nil {
		return nil, err
	}
	qp, err := dp.newRCQP(srq)
	if err != nil {
		return nil, err
	}
	mtu := mtuEnum(path.MTU)
	rep, err := peer.accept(cmReq{lid: dp.port.dev.LID(), qpn: qp.Num(), psn: cmPSN, recvSize: cmRecvSize, pathMTU: mtu}, dp)
	if err == nil && rep.recvSize <= encapLen {
		err = fmt.Errorf("REP receive size %d too small", rep.recvSize)
	}
	if err == nil {
		rep.lid = path.DLID
		err = rcConnect(qp, uint8(dp.port.ref.Port), cfg.pkeyIndex, rep, mtu)
	}
	if err != nil {
		qp.Destroy()
		return nil, err
	}
	c = &cmConn{qp: qp, mtu: int(rep.recvSize) - encapLen, peer: peer, peerQPN: rep.qpn}
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	if dp.cm.closed {
		qp.Destroy()
		return nil, fmt.Errorf("interface closing")
	}
	n.cm.Store(c)
	return c, nil
}

// detachTx takes the neighbour's connection off it.
func (dp *dataPath) detachTx(n *ipoibNeigh) *cmConn { return n.cm.Swap(nil) }

// destroyTx destroys an active connection (ipoib_cm_tx_destroy): its CM
// ID goes first, which disconnects the passive end (DREQ), then its QP.
func (dp *dataPath) destroyTx(c *cmConn) {
	if c.peer != nil {
		c.peer.dropRx(c.peerQPN)
	}
	c.qp.Destroy()
}

// dropRx destroys the passive connection whose QP is qpn: its active end
// disconnected (ipoib_cm_rx_handler on a DREQ).
func (dp *dataPath) dropRx(qpn uint32) {
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	if c := dp.cm.rx[qpn]; c != nil {
		c.qp.Destroy()
		delete(dp.cm.rx, qpn)
	}
}

// closeCM destroys every connection (ipoib_ib_dev_down flushes the
// paths and their neighbours, ipoib_cm_dev_stop the passive connections)
// and returns the neighbours it freed.
func (dp *dataPath) closeCM() []freedNeigh {
	dp.cm.mu.Lock()
	dp.cm.closed = true
	dp.cm.mu.Unlock()
	freed := dp.flushNeighs()
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	for _, c := range dp.cm.rx {
		c.qp.Destroy()
	}
	dp.cm.rx = nil
	return freed
}

// cmCounts reports the open connections, active and passive.
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

// reapStale destroys passive connections idle for more than cmRxTimeout
// (ipoib_cm_stale_task) and returns them.
func (dp *dataPath) reapStale() []*cmConn {
	dp.cm.mu.Lock()
	defer dp.cm.mu.Unlock()
	now := dp.now().UnixNano()
	var gone []*cmConn
	for qpn, c := range dp.cm.rx {
		if now-c.last.Load() > int64(cmRxTimeout) {
			c.qp.Destroy()
			delete(dp.cm.rx, qpn)
			gone = append(gone, c)
		}
	}
	return gone
}

// dropTx frees the neighbour whose active connection has QP qpn: the
// passive end disconnected (a DREQ), so the neighbour and its connection
// go and the next packet connects anew.
func (dp *dataPath) dropTx(qpn uint32) []freedNeigh {
	ns := dp.takeNeighs(func(n *ipoibNeigh) bool {
		c := n.cm.Load()
		return c != nil && c.qp.Num() == qpn
	})
	return dp.freeNeighs(ns)
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
			gone := nd.dp.reapStale()
			if len(gone) == 0 {
				continue
			}
			nd.dbg("reaped %d stale connection(s)", len(gone))
			n += len(gone)
			// The DREQ: each active end drops its neighbour and
			// will connect anew on its next packet.
			for _, c := range gone {
				if c.peer != nil {
					c.peer.nd.logFreed(c.peer.dropTx(c.peerQPN))
				}
			}
		}
	}
	return n
}

// StaleScanInterval is how often the daemon should call
// ReapStaleConnections.
const StaleScanInterval = cmStaleScan
