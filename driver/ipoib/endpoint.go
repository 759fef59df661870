package ipoib

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
)

// The data path, as ipoib_ib.c and ipoib_verbs.c build it: an interface
// that has joined its broadcast group owns an Endpoint, a UD QP (its
// address's QPN) with a send and a receive CQ, a ring of receive buffers,
// and a poller goroutine that the receive CQ's completion event wakes
// (NAPI). The endpoint never takes the netdev layer's lock: what it needs
// of the interface is in a snapshot (Config) that the netdev layer
// replaces with Update. Received packets go up to the Dispatcher given to
// Attach, outside every lock of the endpoint.

// Dispatcher receives the packets an endpoint takes off the wire: the
// network layer above the link (the host IP stack, or a bridge to the
// kernel's).
type Dispatcher interface {
	// DeliverPacket is called from the endpoint's poller with one
	// received IPoIB packet, its 4-byte encapsulation header included,
	// and the sender's address (zero for a packet that came over an RC
	// connection, which has no GRH). The packet's memory is the
	// endpoint's receive buffer: it is valid only during the call.
	DeliverPacket(src header.HWAddr, pkt header.IPoIB)
}

// Config is what the endpoint reads of its interface.
type Config struct {
	Name      string // the interface name, for log messages
	MTU       uint32
	UDMTU     uint32 // the broadcast group's MTU − 4: larger packets cannot go over UD
	Connected bool   // connected mode
	PKey      uint16 // with the full-member bit
	HWAddr    header.HWAddr
	Broadcast header.HWAddr
	// TxQueueLen is tx_queue_len: how many packets the qdisc holds while
	// the send queue is stopped (txqueue.go).
	TxQueueLen uint32
}

// config is the published snapshot: the interface's Config and the
// broadcast group the endpoint joined.
type config struct {
	Config
	qkey      uint32
	mgid      [16]byte
	mlid      uint16
	pkeyIndex uint16
}

// Endpoint is the UD transport of one interface that is up and joined,
// with its neighbours, path records, connections and multicast groups.
type Endpoint struct {
	port       *Port
	joiner     uint64 // the fabric joiner of the interface's multicast joins
	host       *Host
	cfg        atomic.Pointer[config]
	stats      *Stats
	dispatcher atomic.Pointer[Dispatcher]

	qp        *verbs.QP
	scq, rcq  *verbs.CQ
	bufs      [][]byte                        // UD WR's buffer while it holds a packet (lend)
	lend      func(wrid uint64, n int) []byte // borrows bufs[wrid] (rxbuf.go)
	wcs       []verbs.WC
	udRepost  reposts // the poller's: UD buffers to give back after a batch
	rcRepost  reposts // the poller's: SRQ buffers to give back after a batch
	wake      chan struct{}
	polling   atomic.Bool // the poller is handling receive completions (busy)
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once // Close's work, done once

	sendq       int // send_queue_size: the size of the send rings
	txmu        sync.Mutex
	txwcs       []verbs.WC
	sendErrs    []verbs.WC  // guarded by txmu: failed RC sends to reap (sendcomp.go)
	hasSendErrs atomic.Bool // sendErrs is not empty
	txWake      chan struct{}

	// The packets of the sends in flight, for sendDone when they
	// complete (the kernel's tx_ring, whose skbs the completions free;
	// sendcomp.go); kept only with a sendDone. Guarded by txmu.
	sendDone func(pkt []byte)
	udRing   []sentPkt            // by UD WR ID modulo sendq
	udHead   uint64               // UD sends posted (tx_head), the next one's WR ID
	rcRings  map[uint32][]sentPkt // by connection QPN, then by slot

	// The transmit queue and its qdisc (txqueue.go), guarded by txmu.
	outstanding int            // sends posted and not retired, UD and RC
	rcInflight  map[uint32]int // outstanding RC sends by QPN
	stopped     bool           // the queue is stopped: the ring is full
	draining    bool           // the poller is sending what waits
	backlog     []qdiscPkt     // the qdisc: packets waiting, oldest first
	qdiscBusy   atomic.Bool    // stopped, draining or backlog: WritePacket takes txmu

	pathmu sync.Mutex
	paths  map[[16]byte]fabric.Path // path records by destination GID (ipoib_path)

	mcmu       sync.Mutex                 // held across multicast joins and leaves (multicast.go)
	sendOnly   map[[16]byte]sendOnlyGroup // guarded by mcmu: send-only entries by MGID
	fullGroups map[[16]byte]uint16        // guarded by mcmu: the joined full-member groups' MLIDs
	mcClosed   bool                       // guarded by mcmu: the send-only groups were left: no more joins

	neighs neighTable // IPoIB neighbours (neigh.go)
	cm     cmState    // connected mode (cm.go)

	tapSet // the capture point (capture.go): ep.taps is nil when idle
}

const rxBufLen = 40 + header.IPoIBHeaderLen + 4092 // GRH + encapsulation + largest UD MTU

// OpenOptions are what an endpoint is opened with.
type OpenOptions struct {
	Config
	QPN       uint32          // the UD QP's number, the middle of HWAddr
	Group     fabric.MCMember // the broadcast group the interface joined
	SendQueue int             // send_queue_size
	RecvQueue int             // recv_queue_size
	// RxFrames and RxUsecs moderate the receive CQ (ethtool -C).
	RxFrames, RxUsecs uint16
	// ListenCM makes the endpoint accept connections: the interface's
	// address has the RC flag (ipoib_cm_dev_open).
	ListenCM bool
	// Stats are the interface's counters, kept across endpoints.
	Stats *Stats
	// Joiner names the interface's multicast joins and leaves on the
	// fabric (fabric.JoinRequest.Joiner): the one its broadcast join used.
	Joiner uint64
	// SendDone, when not nil, is called with each packet given to
	// WritePacket or WritePacketGSO that a send work request carried
	// once that request completed (successfully, in error, or flushed):
	// the endpoint, its QP and the wire no longer read it. A packet
	// whose request never completes (its QP destroyed first), and one
	// copied before it was sent (queued, cut into segments), is not
	// passed. It runs with the endpoint's send lock held and must not
	// call into the endpoint.
	SendDone func(pkt []byte)
}

// Open creates the QP (with the interface's QPN), brings it to RTS,
// attaches it to the broadcast group and starts the poller. Received
// packets are dropped until Attach gives the endpoint a dispatcher.
func Open(p *Port, o OpenOptions) (*Endpoint, error) {
	idx, ok := fabric.FindPKey(*p.pkeys.Load(), o.PKey)
	if !ok {
		return nil, fmt.Errorf("P_Key 0x%04x not in table", o.PKey)
	}
	ep := &Endpoint{port: p, host: p.host, stats: o.Stats, sendq: o.SendQueue, joiner: o.Joiner, sendDone: o.SendDone,
		wake: make(chan struct{}, 1), txWake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	var err error
	if ep.scq, err = p.dev.NewCQ(o.SendQueue, ep.kickTx); err != nil {
		return nil, err
	}
	if ep.rcq, err = p.dev.NewCQ(recvCQSize(o), ep.kick); err != nil {
		return nil, err
	}
	_ = ep.rcq.Modify(o.RxFrames, o.RxUsecs)
	if ep.qp, err = p.dev.CreateQP(verbs.QPInitAttr{Type: verbs.UD, SendCQ: ep.scq, RecvCQ: ep.rcq,
		MaxSend: o.SendQueue, MaxRecv: o.RecvQueue, MaxSGE: 1, QPN: o.QPN, SigAll: true}); err != nil {
		return nil, err
	}
	m := o.Group
	steps := []struct {
		attr verbs.QPAttr
		mask verbs.AttrMask
	}{
		{verbs.QPAttr{State: verbs.QPInit, PKeyIndex: uint16(idx), Port: verbsPort, QKey: m.QKey},
			verbs.AttrState | verbs.AttrPKeyIndex | verbs.AttrPort | verbs.AttrQKey},
		{verbs.QPAttr{State: verbs.QPRTR}, verbs.AttrState},
		{verbs.QPAttr{State: verbs.QPRTS}, verbs.AttrState | verbs.AttrSQPSN},
	}
	for _, s := range steps {
		if err := ep.qp.Modify(s.attr, s.mask); err != nil {
			ep.qp.Destroy()
			return nil, err
		}
	}
	if err := ep.qp.AttachMcast(m.MGID, m.MLID); err != nil {
		ep.qp.Destroy()
		return nil, err
	}
	ep.bufs = make([][]byte, o.RecvQueue)
	ep.wcs = make([]verbs.WC, 64)
	// The repost batches grow to a poll's size with the first traffic
	// that needs them, and are reused after.
	ep.udRepost, ep.rcRepost = reposts{}, reposts{}
	ep.txwcs = make([]verbs.WC, 64)
	ep.lend = func(wrid uint64, n int) []byte {
		b := lendRx(n)
		ep.bufs[wrid] = b
		return b
	}
	for i := range ep.bufs {
		if err := ep.qp.PostRecv(&verbs.RecvWR{WRID: uint64(i), Lend: ep.lend, LendLen: rxBufLen}); err != nil {
			ep.qp.Destroy()
			return nil, err
		}
	}
	ep.cfg.Store(&config{Config: o.Config, qkey: m.QKey, mgid: m.MGID, mlid: m.MLID, pkeyIndex: uint16(idx)})
	ep.host.Endpoints.add(ep.key(), ep)
	if o.ListenCM {
		ep.cmListen(o.QPN)
	}
	ep.rcq.ReqNotify()
	go ep.poll()
	return ep, nil
}

// recvCQSize is the receive CQ's depth, as ipoib_transport_dev_init sizes
// it: the UD ring and one more and, when the interface does connected
// mode (ipoib_cm_dev_init succeeds: its address has the RC flag), the
// send ring and the SRQ's ring and one more, since the passive
// connections' SRQ completes on it too.
func recvCQSize(o OpenOptions) int {
	n := o.RecvQueue + 1
	if o.ListenCM {
		n += o.SendQueue + o.RecvQueue + 1
	}
	return n
}

// Attach sets the dispatcher that received packets go to; nil drops them
// (gVisor's LinkEndpoint.Attach).
func (ep *Endpoint) Attach(d Dispatcher) {
	if d == nil {
		ep.dispatcher.Store(nil)
		return
	}
	ep.dispatcher.Store(&d)
}

// key is the endpoint's address in the host's registry.
func (ep *Endpoint) key() Key {
	return Key{GID: ep.port.dev.GID(), QPN: ep.cfg.Load().HWAddr.QPN()}
}

// Update publishes the interface's settings after an MTU, mode or
// address change.
func (ep *Endpoint) Update(c Config) {
	cfg := *ep.cfg.Load()
	cfg.Config = c
	ep.cfg.Store(&cfg)
}

// MTU is the interface's MTU.
func (ep *Endpoint) MTU() uint32 { return ep.cfg.Load().MTU }

// LinkAddress is the interface's 20-byte hardware address.
func (ep *Endpoint) LinkAddress() header.HWAddr { return ep.cfg.Load().HWAddr }

// Broadcast is the interface's broadcast address.
func (ep *Endpoint) Broadcast() header.HWAddr { return ep.cfg.Load().Broadcast }

// Close stops the poller, ends connected mode, leaves the send-only
// groups and destroys the QP. The netdev layer calls it with its lock
// held; a second call does nothing.
func (ep *Endpoint) Close() {
	ep.closeOnce.Do(func() {
		ep.host.Endpoints.remove(ep.key(), ep)
		close(ep.quit)
		<-ep.done
		ep.closeCM()
		ep.leaveSendOnly()
		ep.qp.Destroy()
		ep.closeTaps()
	})
}

// ModerateRx sets the receive CQ's interrupt moderation (ipoib_set_coalesce).
func (ep *Endpoint) ModerateRx(frames, usecs uint16) error { return ep.rcq.Modify(frames, usecs) }

// RxModeration is the receive CQ's moderation: frames and microseconds.
func (ep *Endpoint) RxModeration() (frames, usecs uint16) { return ep.rcq.Moderation() }

// kick is the receive CQ's completion handler: it only wakes the poller.
func (ep *Endpoint) kick() {
	select {
	case ep.wake <- struct{}{}:
	default:
	}
}

// poll is the NAPI loop: drain the receive CQ, handle each packet, repost
// its buffer, re-arm; and the send NAPI's (pollTx), when the send CQ's
// event or a waking queue calls for it.
func (ep *Endpoint) poll() {
	defer close(ep.done)
	for {
		select {
		case <-ep.quit:
			return
		case <-ep.txWake:
			ep.pollTx()
			continue
		case <-ep.wake:
		}
		ep.polling.Store(true)
		for {
			n := ep.rcq.Poll(ep.wcs)
			for i := range ep.wcs[:n] {
				ep.receive(&ep.wcs[i])
			}
			ep.repost()
			if n > 0 {
				// A stopped queue is not kept waiting by a busy
				// receive path.
				select {
				case <-ep.txWake:
					ep.pollTx()
				default:
				}
				continue
			}
			if !ep.rcq.ReqNotify() {
				break
			}
		}
		ep.polling.Store(false)
	}
}

// busy reports whether the receive path has work in hand: completions an
// event was raised for, or the poller handling some, whose packets may
// yet make others (an ARP reply, an echo reply).
func (ep *Endpoint) busy() bool { return ep.polling.Load() || ep.rcq.Pending() }

// receive handles one receive completion (ipoib_ib_handle_rx_wc).
func (ep *Endpoint) receive(wc *verbs.WC) {
	if wc.WRID&srqWRID != 0 {
		ep.receiveRC(wc)
		return
	}
	buf := ep.bufs[wc.WRID]
	ep.bufs[wc.WRID] = nil
	if wc.Status != verbs.WCSuccess {
		// The buffer is freed, not posted again (a QP in error would
		// flush it at once, for ever), and nothing is counted; a
		// failure other than a flush is reported.
		if buf != nil {
			returnRx(buf)
		}
		if wc.Status != verbs.WCWRFlushErr {
			ep.warn("failed recv event (status=%d, wrid=%d vend_err %#x)", wc.Status.IBValue(), wc.WRID, 0)
		}
		return
	}
	ep.udRepost.addLent(wc.WRID, buf, ep.lend, rxBufLen)
	cfg := ep.cfg.Load()
	// Drop our own multicast copies: the HCA loops them back.
	if wc.SrcQP == cfg.HWAddr.QPN() && wc.SLID == ep.port.dev.LID() {
		return
	}
	pkt := buf[40:wc.ByteLen]
	if p := ep.taps.Load(); p != nil {
		ep.tapIn(p, wc, buf, cfg)
	}
	if len(pkt) < header.IPoIBHeaderLen {
		ep.stats.rxDropped.Add(1)
		return
	}
	ep.stats.rxPackets.Add(1)
	ep.stats.rxBytes.Add(uint64(len(pkt)))
	if ep.host.DataDebug.Load() > 0 {
		ep.host.logf(cfg.Name, "received %d bytes, SLID 0x%04x", wc.ByteLen, wc.SLID)
	}
	if wc.GRH {
		var dgid [16]byte
		copy(dgid[:], buf[24:40])
		if dgid[0] == 0xff && dgid != cfg.mgid {
			ep.stats.multicast.Add(1)
		}
	}
	ep.deliver(header.NewHWAddr(0, wc.SrcQP, wc.SGID), header.IPoIB(pkt))
}

// reposts collects the receive buffers that a poll batch consumed, to
// give them back with one post per queue (as ipoib_ib_handle_rx_wc's
// reposts, batched): fewer acquisitions of the queue the sender's
// responder takes for every packet.
type reposts struct {
	srq  *verbs.SRQ // the SRQ the buffers go back to (RC buffers only)
	wrs  []verbs.RecvWR
	lent [][]byte // UD: the borrowed buffers to return (rxbuf.go)
}

// addLent queues a WR of length n for reposting with lend, its borrowed
// buffer (nil when a flushed WR had none) to go back to its pool first.
func (r *reposts) addLent(wrid uint64, buf []byte, lend func(uint64, int) []byte, n int) {
	if buf != nil {
		r.lent = append(r.lent, buf)
	}
	r.wrs = append(r.wrs, verbs.RecvWR{WRID: wrid, Lend: lend, LendLen: n})
}

// repost gives the batch's buffers back to the UD QP and the SRQ. A
// refused post (the queue is being destroyed) drops the rest: the ring
// goes with it.
func (ep *Endpoint) repost() {
	if r := &ep.udRepost; len(r.wrs) > 0 {
		for i, b := range r.lent {
			returnRx(b)
			r.lent[i] = nil
		}
		r.lent = r.lent[:0]
		_, _ = ep.qp.PostRecvList(r.wrs)
		r.wrs = r.wrs[:0]
	}
	if r := &ep.rcRepost; len(r.wrs) > 0 {
		for i, b := range r.lent {
			returnRx(b)
			r.lent[i] = nil
		}
		r.lent = r.lent[:0]
		_, _ = r.srq.PostRecvList(r.wrs)
		// the SRQ too: one freed since (removeRx) can go
		r.wrs, r.srq = r.wrs[:0], nil
	}
}

// WritePacket sends one IPoIB packet, its 4-byte encapsulation header
// included, to dst, as ipoib_start_xmit does: a multicast address goes to
// its group over UD (the broadcast group, or another one through
// transmitMcast); a unicast ARP goes over UD by the path record
// (unicast_arp_send); anything else through the neighbour entry, over its
// RC connection when both ends do connected mode (queued while it is set
// up; see cm.go), over UD otherwise. A packet too large for the transport
// fails with a *TooBigError carrying the MTU to use. While the send
// queue is stopped, the packet waits in the qdisc, or is dropped with
// ErrQdiscDrop when tx_queue_len packets wait (txqueue.go).
func (ep *Endpoint) WritePacket(pkt []byte, dst header.HWAddr) error {
	return ep.WritePacketGSO(pkt, dst, 0)
}

// WritePacketGSO is WritePacket for a TCP segment of up to 64 KiB (a GSO
// packet) to be sent in datagrams of at most mss bytes of TCP payload: it
// goes over UD as one LSO work request (ipoib_send with a GSO skb, for an
// HCA with IB_DEVICE_UD_TSO), the UD MTU check skipped, counted as one
// packet of its TCP payload's bytes (tx_bytes counts skb->len after
// ipoib_send pulled the headers). It waits in the qdisc whole. Where it
// cannot go over UD (a multicast group, a connection) it is cut into
// packets here first, as the kernel's validate_xmit_skb does for a
// device without the offload. mss 0 is WritePacket.
func (ep *Endpoint) WritePacketGSO(pkt []byte, dst header.HWAddr, mss int) error {
	if ep.qdiscBusy.Load() {
		ep.txmu.Lock()
		if ep.qdiscActiveLocked() {
			err := ep.enqueueLocked(pkt, dst, mss)
			ep.txmu.Unlock()
			return err
		}
		ep.txmu.Unlock()
	}
	return ep.xmit(pkt, dst, mss, false)
}

// xmit is ipoib_start_xmit for a packet that the queue lets through:
// WritePacket's, or one the qdisc held (fromQdisc); mss is a GSO
// packet's.
func (ep *Endpoint) xmit(pkt []byte, dst header.HWAddr, mss int, fromQdisc bool) error {
	cfg := ep.cfg.Load()
	if dst.IsMulticast() {
		if mss > 0 {
			return ep.xmitSegments(pkt, dst, mss, fromQdisc)
		}
		if mgid := dst.GID(); mgid != cfg.mgid {
			return ep.transmitMcast(pkt, dst, fromQdisc)
		}
		if err := ep.checkUDMTU(pkt, dst, cfg); err != nil {
			return err
		}
		return ep.postUD(pkt, dst, cfg, verbs.AH{DLID: cfg.mlid, GRH: true, DGID: cfg.mgid, DestQPN: header.MulticastQPN, QKey: cfg.qkey}, 0, fromQdisc)
	}
	var path fabric.Path
	var err error
	if t := header.IPoIB(pkt).Type(); t == header.EtherTypeARP || t == header.EtherTypeRARP {
		path, err = ep.path(dst.GID(), cfg.PKey) // unicast_arp_send
	} else {
		var n *ipoibNeigh
		if n, err = ep.neigh(dst, cfg.PKey); err == nil {
			path = n.path
			if cfg.Connected && dst.Flags()&header.HWFlagConnected != 0 {
				if mss > 0 {
					return ep.xmitSegments(pkt, dst, mss, fromQdisc)
				}
				return ep.sendCM(n, pkt, cfg, fromQdisc)
			}
		}
	}
	if err != nil {
		ep.stats.txDropped.Add(1)
		ep.tapOut(pkt, dst, false, DropNeighFailed)
		return err
	}
	if mss == 0 {
		if err := ep.checkUDMTU(pkt, dst, cfg); err != nil {
			return err
		}
	}
	return ep.postUD(pkt, dst, cfg, verbs.AH{DLID: path.DLID, DestQPN: dst.QPN(), QKey: cfg.qkey}, mss, fromQdisc)
}

// xmitSegments cuts a GSO packet into packets of mss bytes of TCP
// payload and sends each (skb_gso_segment in validate_xmit_skb): for
// where an LSO cannot go.
func (ep *Endpoint) xmitSegments(pkt []byte, dst header.HWAddr, mss int, fromQdisc bool) error {
	segs, ok := header.SegmentTCP(pkt[header.IPoIBHeaderLen:], mss, header.IPoIBHeaderLen)
	if !ok {
		ep.stats.txDropped.Add(1)
		ep.stats.txErrors.Add(1)
		return errBadGSO
	}
	var first error
	for _, s := range segs {
		copy(s, pkt[:header.IPoIBHeaderLen])
		if err := ep.xmit(s, dst, 0, fromQdisc); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// errBadGSO is a GSO packet that is not a TCP segment.
var errBadGSO = errors.New("GSO packet without TCP headers")

// transmitMcast sends pkt to the multicast group mgid over UD, joining it
// send-only first if the interface is not a member, through the group's
// neighbour entry (ipoib_mcast_send; multicast.go).
func (ep *Endpoint) transmitMcast(pkt []byte, dst header.HWAddr, fromQdisc bool) error {
	cfg := ep.cfg.Load()
	if err := ep.checkUDMTU(pkt, dst, cfg); err != nil {
		return err
	}
	mgid := dst.GID()
	mlid, ok := ep.mcastGroup(mgid)
	if !ok {
		ep.stats.txDropped.Add(1)
		ep.tapOut(pkt, dst, false, DropNoGroup)
		return errNoGroup
	}
	ep.mcastNeigh(header.MulticastAddr(mgid), mlid)
	return ep.postUD(pkt, dst, cfg, verbs.AH{DLID: mlid, GRH: true, DGID: mgid, DestQPN: 0xffffff, QKey: cfg.qkey}, 0, fromQdisc)
}

// errNoGroup is a multicast send whose group could not be joined.
var errNoGroup = errors.New("multicast group not joined")

// checkUDMTU drops a packet larger than the UD MTU (ipoib_send, whose
// warning counts the 4-byte header on both sides); the caller reports
// "fragmentation needed" with the UD MTU.
func (ep *Endpoint) checkUDMTU(pkt []byte, dst header.HWAddr, cfg *config) error {
	if n := len(pkt) - header.IPoIBHeaderLen; n > int(cfg.UDMTU) {
		ep.stats.txDropped.Add(1)
		ep.stats.txErrors.Add(1)
		ep.tapOut(pkt, dst, false, DropPktTooBig)
		ep.host.logf(cfg.Name, "packet len %d (> %d) too long to send, dropping", len(pkt), cfg.UDMTU+encapLen)
		return &TooBigError{MTU: cfg.UDMTU}
	}
	return nil
}

// postUD posts one UD send to dst (ipoib_send), or holds it in the qdisc
// when the ring is full or packets wait. A GSO packet (mss > 0) is one
// LSO work request whose header is the encapsulation, IP and TCP headers
// (hlen, skb_tcp_all_headers counted from the encapsulation header); it
// counts as one packet of its bytes after the headers.
func (ep *Endpoint) postUD(pkt []byte, dst header.HWAddr, cfg *config, ah verbs.AH, mss int, fromQdisc bool) error {
	wr := verbs.SendWR{SGL: [][]byte{pkt}, AH: ah}
	counted := len(pkt)
	if mss > 0 {
		ipLen, tcpLen, ok := header.TCPHeaderLens(pkt[header.IPoIBHeaderLen:])
		if !ok {
			// ipoib_send: "linear data too small"
			ep.stats.txDropped.Add(1)
			ep.stats.txErrors.Add(1)
			ep.warn("linear data too small")
			return errBadGSO
		}
		hlen := header.IPoIBHeaderLen + ipLen + tcpLen
		wr.Opcode, wr.Header, wr.MSS, wr.SGL[0] = verbs.WRLSO, pkt[:hlen], mss, pkt[hlen:]
		counted = len(pkt) - hlen
	}
	defer ep.handleSendErrors()
	ep.txmu.Lock()
	defer ep.txmu.Unlock()
	if err := ep.reserveLocked(fromQdisc, 0); err != nil {
		return ep.queueOrRequeueLocked(pkt, dst, mss, fromQdisc)
	}
	if ep.host.DataDebug.Load() > 0 {
		ep.host.logf(cfg.Name, "sending packet, length=%d dlid=0x%04x dqpn=0x%06x", len(pkt), ah.DLID, ah.DestQPN)
	}
	// Counted before the post: the wire delivers inside PostSend, so the
	// receiver may answer before it returns.
	ep.countTx(counted)
	if p := ep.taps.Load(); p != nil {
		ep.tap(p, Frame{PktType: PacketOutgoing, Src: cfg.HWAddr, Dst: dst, Data: pkt})
	}
	wr.WRID = ep.udHead &^ opCM
	if err := ep.qp.PostSend(&wr); err != nil {
		ep.unreserveLocked()
		ep.uncountTx(counted)
		return err
	}
	ep.udHead++
	ep.noteUDSendLocked(wr.WRID, pkt)
	ep.armLocked()
	return nil
}

// countTx counts a packet handed to a QP.
func (ep *Endpoint) countTx(n int) {
	ep.stats.txPackets.Add(1)
	ep.stats.txBytes.Add(uint64(n))
}

// uncountTx turns a counted packet that the QP refused into a drop.
func (ep *Endpoint) uncountTx(n int) {
	ep.stats.txPackets.Add(^uint64(0))
	ep.stats.txBytes.Add(-uint64(n))
	ep.stats.txDropped.Add(1)
	ep.stats.txErrors.Add(1)
}

// TooBigError is a packet that does not fit the transport: larger than
// the UD MTU, or than the peer's receive size on a connection. MTU is
// what the sender should use, the UD MTU (the MTU that ICMP "fragmentation
// needed" or "packet too big" would carry).
type TooBigError struct{ MTU uint32 }

func (e *TooBigError) Error() string { return fmt.Sprintf("packet too long for UD MTU %d", e.MTU) }

// TooBigMTU returns the MTU to use.
func (e *TooBigError) TooBigMTU() uint32 { return e.MTU }

// deliver hands a received packet to the dispatcher, if there is one.
func (ep *Endpoint) deliver(src header.HWAddr, pkt header.IPoIB) {
	if d := ep.dispatcher.Load(); d != nil {
		(*d).DeliverPacket(src, pkt)
	}
}

// receiveRC handles a completion of the shared receive queue: a packet
// from a passive connection (no GRH in RC buffers).
func (ep *Endpoint) receiveRC(wc *verbs.WC) {
	idx, gen := wc.WRID&0xffffffff, (wc.WRID&^srqWRID)>>32
	ep.cm.mu.Lock()
	srq, bufs, lend, cur := ep.cm.srq, ep.cm.bufs, ep.cm.lend, ep.cm.gen
	ep.cm.mu.Unlock()
	if srq == nil || gen != cur || int(idx) >= len(bufs) {
		return // a buffer of an SRQ freed since (removeRx)
	}
	buf := bufs[idx]
	bufs[idx] = nil
	if ep.rcRepost.srq != nil && ep.rcRepost.srq != srq {
		ep.repost()
	}
	ep.rcRepost.srq = srq
	ep.rcRepost.addLent(wc.WRID, buf, lend, cmRecvSize)
	if wc.Status != verbs.WCSuccess || wc.ByteLen < header.IPoIBHeaderLen {
		ep.stats.rxDropped.Add(1)
		return
	}
	pkt := buf[:wc.ByteLen]
	if p := ep.taps.Load(); p != nil {
		ep.tapRC(p, pkt)
	}
	ep.stats.rxPackets.Add(1)
	ep.stats.rxBytes.Add(uint64(len(pkt)))
	ep.noteActivity(wc.QPNum)
	ep.deliver(header.HWAddr{}, header.IPoIB(pkt))
}

// dbg logs for the data path when debug_level > 0 (ipoib_dbg).
func (ep *Endpoint) dbg(format string, args ...any) {
	if ep.host.Debug.Load() > 0 {
		ep.host.logf(ep.cfg.Load().Name, format, args...)
	}
}

// warn logs for the data path (ipoib_warn).
func (ep *Endpoint) warn(format string, args ...any) {
	ep.host.logf(ep.cfg.Load().Name, format, args...)
}

// Constants of ipoib.h.
const (
	encapLen = header.IPoIBHeaderLen
	// MaxMTU is IPOIB_CM_MTU (0x10000 − 0x10), the connected-mode MTU
	// limit.
	MaxMTU = 65520
)

// FlushPaths frees the neighbours of unicast addresses and with them the
// active connections, and the path records, as a mode switch flushes all
// paths (ipoib_flush_paths): the next packet to a peer queries the SA
// again. Multicast neighbours stay.
func (ep *Endpoint) FlushPaths() {
	ep.flushPathNeighs()
	ep.flushPaths()
}
