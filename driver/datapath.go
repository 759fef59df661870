package driver

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"sync/atomic"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/ibcm"
	"github.com/ibctl/ibctl/driver/verbs"
)

// The data path, as ipoib_ib.c and ipoib_verbs.c build it: every HCA port
// is a verbs device attached to the fabric switch; an interface that has
// joined its broadcast group owns a UD QP (its address's QPN) with a send
// and a receive CQ, a ring of receive buffers, and a poller goroutine that
// the receive CQ's completion event wakes (NAPI). The data path never takes
// the driver lock: what it needs of the interface is in a snapshot that
// control operations replace.

// hcaPort is one HCA port: its verbs device, its communication manager
// and a cached P_Key table.
type hcaPort struct {
	fab   *fabric.Fabric
	ref   fabric.PortRef
	dev   *verbs.Device
	cm    *ibcm.CM
	pkeys atomic.Pointer[[]uint16]
}

// fabricWire carries a device's packets to the switch.
type fabricWire struct {
	fab  *fabric.Fabric
	ref  fabric.PortRef
	lose func(fabric.PortRef, *verbs.Packet) bool // Options.LoseFrame
}

// Transmit hands the packet to the switch, which delivers synchronously;
// receivers hold it only during delivery, so it is released here.
func (w fabricWire) Transmit(p *verbs.Packet) {
	if w.lose == nil || !w.lose(w.ref, p) {
		w.fab.Send(w.ref, p)
	}
	p.Release()
}

// Synchronous implements verbs.SyncWire: the switch delivers before Send
// returns, so RC messages travel as zero-copy trains.
func (w fabricWire) Synchronous() bool { return true }

// fabricEndpoint receives the switch's frames for a device.
type fabricEndpoint struct{ dev *verbs.Device }

// Deliver lends the frame to the device: delivery is synchronous, the
// device's Receive releases its hold and the sender's wire releases the
// packet afterwards. The device already delivered its own multicast to
// its QPs, so the switch's copy is dropped.
func (e fabricEndpoint) Deliver(f fabric.Frame) {
	p, ok := f.(*verbs.Packet)
	if !ok || (p.IsMulticast() && p.SLID == e.dev.LID()) {
		return
	}
	p.Hold()
	e.dev.Receive(p)
}

// verbsPort is the port number QPs are bound to: each HCA port is a verbs
// device of its own, with one port.
const verbsPort = 1

func mtuEnum(bytes int) verbs.MTU {
	for m := verbs.MTU256; m <= verbs.MTU4096; m++ {
		if m.Bytes() == bytes {
			return m
		}
	}
	return verbs.MTU4096
}

// newHCAPorts creates and attaches a verbs device per port of the node.
func (n *stack) newHCAPorts() error {
	for port := 1; port <= len(n.hw.Spec.Ports); port++ {
		hp := &hcaPort{fab: n.d.fab, ref: fabric.PortRef{Node: n.name, Port: port}}
		table := n.d.fab.PKeyTable(n.name, port)
		hp.pkeys.Store(&table)
		dev, err := verbs.NewDevice(verbs.DeviceOptions{
			LID: n.hw.LID(port), GID: n.hw.PortGID(port), MTU: mtuEnum(n.portSpec(port).MTU),
			PKeys:        func() []uint16 { return *hp.pkeys.Load() },
			CQModeration: true, Wire: fabricWire{fab: n.d.fab, ref: hp.ref, lose: n.d.lose},
		})
		if err != nil {
			return err
		}
		hp.dev = dev
		if hp.cm, err = ibcm.New(ibcm.Options{Device: dev, PKeys: func() []uint16 { return *hp.pkeys.Load() },
			CAGUID: n.hw.GUID, AckDelay: caAckDelay, Clock: n.d.clock}); err != nil {
			return err
		}
		if err := n.d.fab.Attach(n.name, port, fabricEndpoint{dev: dev}); err != nil {
			return err
		}
		n.ports = append(n.ports, hp)
	}
	return nil
}

// refreshPKeys re-reads a port's P_Key table after a P_Key change event.
func (n *stack) refreshPKeys(port int) {
	if port < 1 || port > len(n.ports) {
		return
	}
	table := n.d.fab.PKeyTable(n.name, port)
	n.ports[port-1].pkeys.Store(&table)
}

// devStats are an interface's counters, updated by the data path.
type devStats struct {
	rxPackets, txPackets, rxBytes, txBytes atomic.Uint64
	txErrors, rxDropped, txDropped         atomic.Uint64
	multicast                              atomic.Uint64
}

// dpConfig is what the data path reads of its interface.
type dpConfig struct {
	name      string
	mtu       uint32
	mcastMTU  uint32 // the UD MTU: larger packets cannot go over UD
	mode      uint16
	pkey      uint16
	hwaddr    header.HWAddr
	qkey      uint32
	mgid      [16]byte
	mlid      uint16
	pkeyIndex uint16
	bcast     header.HWAddr // the broadcast address, for multicast mapping
}

// dataPath is the UD transport of one interface that is up and joined.
type dataPath struct {
	port  *hcaPort
	nd    *Netdev // identity only: the data path reads cfg, never nd's fields
	cfg   atomic.Pointer[dpConfig]
	stats *devStats
	stack *ipStack

	qp       *verbs.QP
	scq, rcq *verbs.CQ
	bufs     [][]byte
	wcs      []verbs.WC
	udRepost reposts // the poller's: UD buffers to give back after a batch
	rcRepost reposts // the poller's: SRQ buffers to give back after a batch
	wake     chan struct{}
	quit     chan struct{}
	done     chan struct{}

	sendq       int // send_queue_size: the size of the send rings
	txmu        sync.Mutex
	txbuf       []byte
	txwcs       []verbs.WC
	sendErrs    []verbs.WC  // +checklocks:txmu failed RC sends to reap (sendcomp.go)
	hasSendErrs atomic.Bool // sendErrs is not empty

	pathmu sync.Mutex
	paths  map[[16]byte]fabric.Path // path records by destination GID (ipoib_path)

	mcmu       sync.Mutex                 // held across multicast joins and leaves (sendonly.go)
	sendOnly   map[[16]byte]sendOnlyGroup // +checklocks:mcmu send-only entries by MGID
	fullGroups map[[16]byte]uint16        // +checklocks:mcmu the joined full-member groups' MLIDs
	mcClosed   bool                       // +checklocks:mcmu the send-only groups were left: no more joins

	neighs neighTable // IPoIB neighbours (neigh.go)
	cm     cmState    // connected mode (cm.go)
	now    func() time.Time
	nanos  func() int64 // now in Unix ns, for the transmit path
}

const rxBufLen = 40 + header.IPoIBHeaderLen + 4092 // GRH + encapsulation + largest UD MTU

// openDataPath creates the QP (with the interface's QPN), brings it to
// RTS, attaches it to the broadcast group and starts the poller. Caller
// holds d.mu.
func (nd *Netdev) openDataPath(m fabric.MCMember) error {
	n := nd.node
	hp := n.ports[nd.port-1]
	idx, ok := fabric.FindPKey(*hp.pkeys.Load(), nd.pkey)
	if !ok {
		return errorf("open", nd.name, 0, "P_Key 0x%04x not in table", nd.pkey)
	}
	dp := &dataPath{port: hp, nd: nd, stats: nd.counters, stack: n.ip, now: n.d.now, nanos: n.d.nanos,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	recvq := n.params.get("recv_queue_size")
	sendq := n.params.get("send_queue_size")
	dp.sendq = sendq
	var err error
	if dp.scq, err = hp.dev.NewCQ(sendq, nil); err != nil {
		return err
	}
	if dp.rcq, err = hp.dev.NewCQ(recvq, dp.kick); err != nil {
		return err
	}
	_ = dp.rcq.Modify(nd.rxFrames, nd.rxUsecs)
	if dp.qp, err = hp.dev.CreateQP(verbs.QPInitAttr{Type: verbs.UD, SendCQ: dp.scq, RecvCQ: dp.rcq,
		MaxSend: sendq, MaxRecv: recvq, MaxSGE: 1, QPN: nd.qpn}); err != nil {
		return err
	}
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
		if err := dp.qp.Modify(s.attr, s.mask); err != nil {
			dp.qp.Destroy()
			return err
		}
	}
	if err := dp.qp.AttachMcast(m.MGID, m.MLID); err != nil {
		dp.qp.Destroy()
		return err
	}
	dp.bufs = make([][]byte, recvq)
	dp.wcs = make([]verbs.WC, 64)
	dp.udRepost, dp.rcRepost = newReposts(len(dp.wcs)), newReposts(len(dp.wcs))
	dp.txwcs = make([]verbs.WC, 64)
	dp.txbuf = make([]byte, header.IPoIBHeaderLen+65536)
	for i := range dp.bufs {
		dp.bufs[i] = make([]byte, rxBufLen)
		if err := dp.qp.PostRecv(&verbs.RecvWR{WRID: uint64(i), SGL: [][]byte{dp.bufs[i]}}); err != nil {
			dp.qp.Destroy()
			return err
		}
	}
	nd.dp = dp
	nd.refreshDataPath(m.QKey, m.MGID, m.MLID, uint16(idx))
	n.d.dps.add(dpKey{gid: hp.dev.GID(), qpn: nd.qpn}, dp)
	if nd.cmCapable() {
		dp.cmListen(nd.qpn)
	}
	dp.rcq.ReqNotify()
	go dp.poll()
	return nil
}

// refreshDataPath publishes the interface's settings to its data path.
func (nd *Netdev) refreshDataPath(qkey uint32, mgid [16]byte, mlid, pkeyIndex uint16) {
	if nd.dp == nil {
		return
	}
	var hw, bcast header.HWAddr
	copy(hw[:], nd.hwAddr())
	copy(bcast[:], nd.broadcast())
	nd.dp.cfg.Store(&dpConfig{name: nd.name, mtu: nd.mtu, mcastMTU: nd.mcastMTU, mode: nd.mode, pkey: nd.pkey, hwaddr: hw,
		qkey: qkey, mgid: mgid, mlid: mlid, pkeyIndex: pkeyIndex, bcast: bcast})
}

// updateDataPath republishes after an MTU or mode change.
func (nd *Netdev) updateDataPath() {
	if nd.dp == nil {
		return
	}
	c := *nd.dp.cfg.Load()
	nd.refreshDataPath(c.qkey, c.mgid, c.mlid, c.pkeyIndex)
}

// closeDataPath stops the poller and destroys the QP. Caller holds d.mu.
func (nd *Netdev) closeDataPath() {
	dp := nd.dp
	if dp == nil {
		return
	}
	nd.dp = nil
	nd.node.d.dps.remove(dpKey{gid: dp.port.dev.GID(), qpn: nd.qpn}, dp)
	close(dp.quit)
	<-dp.done
	dp.closeCM()
	dp.leaveSendOnly()
	dp.qp.Destroy()
}

// kick is the receive CQ's completion handler: it only wakes the poller.
func (dp *dataPath) kick() {
	select {
	case dp.wake <- struct{}{}:
	default:
	}
}

// poll is the NAPI loop: drain the receive CQ, handle each packet, repost
// its buffer, re-arm.
func (dp *dataPath) poll() {
	defer close(dp.done)
	for {
		select {
		case <-dp.quit:
			return
		case <-dp.wake:
		}
		for {
			n := dp.rcq.Poll(dp.wcs)
			for i := range dp.wcs[:n] {
				dp.receive(&dp.wcs[i])
			}
			dp.repost()
			if n > 0 {
				continue
			}
			if !dp.rcq.ReqNotify() {
				break
			}
		}
	}
}

// receive handles one receive completion (ipoib_ib_handle_rx_wc).
func (dp *dataPath) receive(wc *verbs.WC) {
	if wc.WRID&srqWRID != 0 {
		dp.receiveRC(wc)
		return
	}
	buf := dp.bufs[wc.WRID]
	dp.udRepost.add(wc.WRID, buf)
	if wc.Status != verbs.WCSuccess {
		dp.stats.rxDropped.Add(1)
		return
	}
	cfg := dp.cfg.Load()
	// Drop our own multicast copies: the HCA loops them back.
	if wc.SrcQP == cfg.hwaddr.QPN() && wc.SLID == dp.port.dev.LID() {
		return
	}
	pkt := buf[40:wc.ByteLen]
	if len(pkt) < header.IPoIBHeaderLen {
		dp.stats.rxDropped.Add(1)
		return
	}
	dp.stats.rxPackets.Add(1)
	dp.stats.rxBytes.Add(uint64(len(pkt)))
	if dp.nd.node.dataDebug.Load() > 0 {
		dp.nd.warnf(cfg.name, "received %d bytes, SLID 0x%04x", wc.ByteLen, wc.SLID)
	}
	if wc.GRH {
		var dgid [16]byte
		copy(dgid[:], buf[24:40])
		if dgid[0] == 0xff && dgid != cfg.mgid {
			dp.stats.multicast.Add(1)
		}
	}
	src := header.NewHWAddr(0, wc.SrcQP, wc.SGID)
	dp.stack.input(dp, src, header.IPoIB(pkt))
}

// reposts collects the receive buffers that a poll batch consumed, to
// give them back with one post per queue (as ipoib_ib_handle_rx_wc's
// reposts, batched): fewer acquisitions of the queue the sender's
// responder takes for every packet.
type reposts struct {
	srq  *verbs.SRQ // the SRQ the buffers go back to (RC buffers only)
	wrs  []verbs.RecvWR
	sgls [][1][]byte // each WR's one-buffer SGL
}

func newReposts(n int) reposts {
	return reposts{wrs: make([]verbs.RecvWR, 0, n), sgls: make([][1][]byte, n)}
}

func (r *reposts) add(wrid uint64, buf []byte) {
	i := len(r.wrs)
	r.sgls[i][0] = buf
	r.wrs = append(r.wrs, verbs.RecvWR{WRID: wrid, SGL: r.sgls[i][:]})
}

// repost gives the batch's buffers back to the UD QP and the SRQ. A
// refused post (the queue is being destroyed) drops the rest: the ring
// goes with it.
func (dp *dataPath) repost() {
	if r := &dp.udRepost; len(r.wrs) > 0 {
		_, _ = dp.qp.PostRecvList(r.wrs)
		r.wrs = r.wrs[:0]
	}
	if r := &dp.rcRepost; len(r.wrs) > 0 {
		_, _ = r.srq.PostRecvList(r.wrs)
		r.wrs = r.wrs[:0]
	}
}

// transmit sends one IPoIB packet (encapsulation header included in pkt)
// to dst: the broadcast group over UD when bcast is set; else, as
// ipoib_start_xmit, unicast ARP over UD by the path record, and anything
// else through the neighbour entry: over its RC connection when both
// ends do connected mode (queued while it is set up; see cm.go), over UD
// otherwise.
func (dp *dataPath) transmit(pkt []byte, dst header.HWAddr, bcast bool) error {
	cfg := dp.cfg.Load()
	if bcast {
		if err := dp.checkUDMTU(pkt, cfg); err != nil {
			return err
		}
		return dp.postUD(pkt, cfg, verbs.AH{DLID: cfg.mlid, GRH: true, DGID: cfg.mgid, DestQPN: 0xffffff, QKey: cfg.qkey})
	}
	var path fabric.Path
	var err error
	if t := header.IPoIB(pkt).Type(); t == header.EtherTypeARP || t == header.EtherTypeRARP {
		path, err = dp.path(dst.GID(), cfg.pkey) // unicast_arp_send
	} else {
		var n *ipoibNeigh
		if n, err = dp.neigh(dst, cfg.pkey); err == nil {
			path = n.path
			if cfg.mode == netlinkx.ModeConnected && dst.Flags()&header.HWFlagConnected != 0 {
				return dp.sendCM(n, pkt, cfg)
			}
		}
	}
	if err != nil {
		dp.stats.txDropped.Add(1)
		return err
	}
	if err := dp.checkUDMTU(pkt, cfg); err != nil {
		return err
	}
	return dp.postUD(pkt, cfg, verbs.AH{DLID: path.DLID, DestQPN: dst.QPN(), QKey: cfg.qkey})
}

// transmitMcast sends pkt to the multicast group mgid over UD, joining it
// send-only first if the interface is not a member, through the group's
// neighbour entry (ipoib_mcast_send; sendonly.go).
func (dp *dataPath) transmitMcast(pkt []byte, mgid [16]byte) error {
	cfg := dp.cfg.Load()
	if err := dp.checkUDMTU(pkt, cfg); err != nil {
		return err
	}
	mlid, ok := dp.mcastGroup(mgid)
	if !ok {
		dp.stats.txDropped.Add(1)
		return errNoGroup
	}
	dp.mcastNeigh(header.MulticastAddr(mgid), mlid)
	return dp.postUD(pkt, cfg, verbs.AH{DLID: mlid, GRH: true, DGID: mgid, DestQPN: 0xffffff, QKey: cfg.qkey})
}

// errNoGroup is a multicast send whose group could not be joined.
var errNoGroup = errors.New("multicast group not joined")

// checkUDMTU drops a packet larger than the UD MTU (ipoib_send, whose
// warning counts the 4-byte header on both sides); the caller reports
// "fragmentation needed" with the UD MTU.
func (dp *dataPath) checkUDMTU(pkt []byte, cfg *dpConfig) error {
	if n := len(pkt) - header.IPoIBHeaderLen; n > int(cfg.mcastMTU) {
		dp.stats.txDropped.Add(1)
		dp.stats.txErrors.Add(1)
		dp.nd.warnf(cfg.name, "packet len %d (> %d) too long to send, dropping", len(pkt), cfg.mcastMTU+encapLen)
		return &tooBig{mtu: cfg.mcastMTU}
	}
	return nil
}

// postUD posts one UD send.
func (dp *dataPath) postUD(pkt []byte, cfg *dpConfig, ah verbs.AH) error {
	defer dp.handleSendErrors()
	dp.txmu.Lock()
	defer dp.txmu.Unlock()
	dp.retireSendsLocked()
	if dp.nd.node.dataDebug.Load() > 0 {
		dp.nd.warnf(cfg.name, "sending packet, length=%d dlid=0x%04x dqpn=0x%06x", len(pkt), ah.DLID, ah.DestQPN)
	}
	// Counted before the post: the wire delivers inside PostSend, so the
	// receiver may answer before it returns.
	dp.countTx(len(pkt))
	if err := dp.qp.PostSend(&verbs.SendWR{SGL: [][]byte{pkt}, AH: ah}); err != nil {
		dp.uncountTx(len(pkt))
		return err
	}
	return nil
}

// countTx counts a packet handed to a QP.
func (dp *dataPath) countTx(n int) {
	dp.stats.txPackets.Add(1)
	dp.stats.txBytes.Add(uint64(n))
}

// uncountTx turns a counted packet that the QP refused into a drop.
func (dp *dataPath) uncountTx(n int) {
	dp.stats.txPackets.Add(^uint64(0))
	dp.stats.txBytes.Add(-uint64(n))
	dp.stats.txDropped.Add(1)
	dp.stats.txErrors.Add(1)
}

// snapshot reads the counters as rtnl_link_stats64.
func (c *devStats) snapshot() netlinkx.Stats {
	return netlinkx.Stats{
		RxPackets: c.rxPackets.Load(), TxPackets: c.txPackets.Load(), RxBytes: c.rxBytes.Load(), TxBytes: c.txBytes.Load(),
		TxErrors: c.txErrors.Load(), RxDropped: c.rxDropped.Load(), TxDropped: c.txDropped.Load(), Multicast: c.multicast.Load(),
	}
}

// tooBig is a packet that does not fit the UD MTU.
type tooBig struct{ mtu uint32 }

func (e *tooBig) Error() string { return fmt.Sprintf("packet too long for UD MTU %d", e.mtu) }

// path returns the cached path record to gid, querying the SA the first
// time (path_rec_start).
func (dp *dataPath) path(gid [16]byte, pkey uint16) (fabric.Path, error) {
	dp.pathmu.Lock()
	p, ok := dp.paths[gid]
	dp.pathmu.Unlock()
	if ok {
		return p, nil
	}
	p, err := dp.port.fab.PathRecord(dp.port.ref, gid, pkey)
	if err != nil {
		return p, err
	}
	dp.pathmu.Lock()
	if dp.paths == nil {
		dp.paths = map[[16]byte]fabric.Path{}
	}
	dp.paths[gid] = p
	dp.pathmu.Unlock()
	return p, nil
}

// flushPaths drops every cached path record (ipoib_flush_paths).
func (dp *dataPath) flushPaths() {
	dp.pathmu.Lock()
	clear(dp.paths)
	dp.pathmu.Unlock()
}

// receiveRC handles a completion of the shared receive queue: a packet
// from a passive connection (no GRH in RC buffers).
func (dp *dataPath) receiveRC(wc *verbs.WC) {
	idx := wc.WRID &^ srqWRID
	dp.cm.mu.Lock()
	srq, bufs := dp.cm.srq, dp.cm.bufs
	dp.cm.mu.Unlock()
	if srq == nil || int(idx) >= len(bufs) {
		return
	}
	buf := bufs[idx]
	if dp.rcRepost.srq != srq {
		dp.repost()
		dp.rcRepost.srq = srq
	}
	dp.rcRepost.add(wc.WRID, buf)
	if wc.Status != verbs.WCSuccess || wc.ByteLen < header.IPoIBHeaderLen {
		dp.stats.rxDropped.Add(1)
		return
	}
	pkt := buf[:wc.ByteLen]
	dp.stats.rxPackets.Add(1)
	dp.stats.rxBytes.Add(uint64(len(pkt)))
	dp.noteActivity(wc.QPNum)
	dp.stack.input(dp, header.HWAddr{}, header.IPoIB(pkt))
}

// dbg logs for the data path when debug_level > 0 (ipoib_dbg).
func (dp *dataPath) dbg(format string, args ...any) {
	if dp.nd.node.debugLevel.Load() > 0 {
		dp.nd.warnf(dp.cfg.Load().name, format, args...)
	}
}

// warn logs for the data path (ipoib_warn).
func (dp *dataPath) warn(format string, args ...any) {
	dp.nd.warnf(dp.cfg.Load().name, format, args...)
}
