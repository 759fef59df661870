// Package verbs emulates InfiniBand verbs with real queues for the
// emulated IPoIB data path: UD QPs for datagram mode, RC QPs with an SRQ
// for connected mode, completion queues with one-shot arming and event
// moderation.
//
// The design follows the kernel's soft-RoCE driver (drivers/infiniband/sw/
// rxe): one object per file (cq.go, srq.go, qp.go), power-of-two rings
// with one slot kept empty (ring.go, rxe_queue.h), and three engines per
// QP, each an enum state machine with a name table: the requester turns
// send WQEs into packets (req.go), the responder turns request packets
// into receive completions and ACKs (resp.go), the completer turns ACKs
// into send completions (comp.go). recv.go routes incoming packets and
// checks keys as rxe_recv.c does.
//
// Steady-state traffic allocates nothing: work queues and CQs are
// preallocated rings, and packets come from a per-device free list. A
// send copies the payload from the send SGEs into a packet buffer, and a
// receive copies it from the packet into the posted buffers. On a
// synchronous wire an RC message whose payload is one SGE goes instead as
// one packet train that lends the send buffer to the wire, as an HCA
// reads send buffers by DMA while it transmits: the receive copy is the
// only one, and per-packet work is done once per message.
//
// Locks: QP.mu, then SRQ.mu, then CQ.mu; Device.mu guards only the QP and
// multicast tables and is never held while a QP is locked. No lock is held
// while a packet is given to the Wire or a CQ/SRQ handler is called.
//
// A UD send may be a large send offload (WRLSO), which the requester
// sends as a series of datagrams, fixing up each one's IP and TCP headers
// as an IPoIB HCA's LSO engine does. For that alone it imports the wire
// formats (driver/header), and no other package of this module.
package verbs

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// MTU is an IB MTU (enum ib_mtu).
type MTU uint8

// IB MTUs.
const (
	MTU256  MTU = 1
	MTU512  MTU = 2
	MTU1024 MTU = 3
	MTU2048 MTU = 4
	MTU4096 MTU = 5
)

var mtuNames = [...]string{MTU256: "256", MTU512: "512", MTU1024: "1024", MTU2048: "2048", MTU4096: "4096"}

// String returns the MTU in bytes, such as "4096".
func (m MTU) String() string { return enumName(mtuNames[:], int(m), "MTU") }

// Bytes is the MTU in bytes, or 0 for an invalid value.
func (m MTU) Bytes() int {
	if m < MTU256 || m > MTU4096 {
		return 0
	}
	return 128 << m
}

// Limits of the emulated HCA (ib_device_attr).
const (
	maxQueueDepth = 1 << 16 // max_qp_wr, max_cqe, max_srq_wr
	maxSGEs       = 32      // max_send_sge, max_recv_sge
	maxMessage    = 1 << 31 // max_msg_sz
	firstQPN      = 0x48    // QPNs below are reserved (0 = SMI, 1 = GSI)
	maxQPN        = 0xFFFFFE
	psnMask       = 0xFFFFFF
	grhBytes      = 40
)

// DeviceOptions configure a Device: one HCA with one port.
type DeviceOptions struct {
	LID uint16   // port LID
	GID [16]byte // port GID 0
	// MTU is the port's active MTU; it sizes packet buffers and bounds
	// UD messages and RC path MTUs. 0 means MTU4096.
	MTU MTU
	// PKeys returns the port's P_Key table (index = P_Key index). It is
	// called on the data path with verbs locks held, so it must not block
	// on a lock held around verbs calls, must not call into this package
	// and should return a stored slice (not a fresh copy). nil means a
	// table holding only the default P_Key 0xFFFF.
	PKeys func() []uint16
	// CQModeration says whether CQ.Modify is supported
	// (IB_DEVICE_CQ_MODERATION).
	CQModeration bool
	// Wire carries the device's outgoing packets; nil drops them (counted
	// in Stats.TxDropped). A synchronous SyncWire gets RC messages as
	// zero-copy packet trains.
	Wire Wire
	// Clock drives the RNR and CQ moderation timers; nil means the
	// system clock.
	Clock Clock
	// Packets is how many free packets the pool has room for at first
	// (default 256). Packets are made when traffic needs them and kept
	// for reuse.
	Packets int
}

// Stats are a device's packet counters.
type Stats struct {
	TxPackets     uint64 // packets sent (to the wire or looped back)
	TxDropped     uint64 // packets dropped because the device has no Wire
	RxPackets     uint64 // packets passed to Receive
	DropNoQP      uint64 // no QP with that QPN, or no QP attached to the MGID
	DropBadDLID   uint64 // unicast DLID is not the port's LID
	DropBadPKey   uint64 // P_Key mismatch, or both ends limited members
	DropBadQKey   uint64 // UD Q_Key differs from the QP's
	DropNoRecv    uint64 // UD packet with no receive WR posted
	DropQPState   uint64 // QP not in RTR/RTS, or wrong opcode for its type
	DropSequence  uint64 // RC packet out of sequence (dropped after a NAK or RNR NAK)
	RNRNaksSent   uint64 // RC responder answered receiver-not-ready
	RNRRetries    uint64 // RC requester resent after an RNR NAK
	Retries       uint64 // RC requester resent after an ACK timeout or a sequence NAK
	RetryExceeded uint64 // RC WQEs failed with RETRY_EXC_ERR
}

type stats struct {
	txPackets, txDropped, rxPackets                 atomic.Uint64
	dropNoQP, dropBadDLID, dropBadPKey, dropBadQKey atomic.Uint64
	dropNoRecv, dropQPState, dropSequence           atomic.Uint64
	rnrNaksSent, rnrRetries                         atomic.Uint64
	retries, retryExceeded                          atomic.Uint64
}

var defaultPKeys = []uint16{0xFFFF}

// Device is an emulated HCA port: it creates CQs, SRQs and QPs, sends
// their packets on its Wire and routes received packets to them.
type Device struct {
	opts  DeviceOptions
	mtu   int
	clock Clock
	pkeys func() []uint16
	pool  *pool
	st    stats
	// trains: the wire is synchronous, so RC messages go as zero-copy
	// trains.
	trains bool

	mu      sync.RWMutex
	qps     map[uint32]*QP     // guarded by mu
	mcast   map[[16]byte][]*QP // guarded by mu;: slices are copy-on-write
	nextQPN uint32             // guarded by mu
}

// NewDevice creates a device.
func NewDevice(opts DeviceOptions) (*Device, error) {
	if opts.MTU == 0 {
		opts.MTU = MTU4096
	}
	if opts.MTU.Bytes() == 0 {
		return nil, newError("create_device", unix.EINVAL, "invalid MTU")
	}
	if opts.Packets <= 0 {
		opts.Packets = 256
	}
	d := &Device{
		opts:    opts,
		mtu:     opts.MTU.Bytes(),
		clock:   opts.Clock,
		pkeys:   opts.PKeys,
		qps:     make(map[uint32]*QP),
		mcast:   make(map[[16]byte][]*QP),
		nextQPN: firstQPN,
	}
	if d.clock == nil {
		d.clock = SystemClock{}
	}
	if d.pkeys == nil {
		d.pkeys = func() []uint16 { return defaultPKeys }
	}
	d.pool = newPool(d.mtu, opts.Packets)
	if w, ok := opts.Wire.(SyncWire); ok && w.Synchronous() {
		d.trains = true
	}
	return d, nil
}

// LID is the port LID.
func (d *Device) LID() uint16 { return d.opts.LID }

// GID is the port GID.
func (d *Device) GID() [16]byte { return d.opts.GID }

// MTU is the port's active MTU.
func (d *Device) MTU() MTU { return d.opts.MTU }

// NewPacket takes an empty packet from the device's pool, for a wire or a
// test that injects packets; its owner must Release it or pass it on.
func (d *Device) NewPacket() *Packet {
	p := d.pool.get()
	p.Payload = p.buf[:0]
	return p
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	s := &d.st
	return Stats{
		TxPackets:     s.txPackets.Load(),
		TxDropped:     s.txDropped.Load(),
		RxPackets:     s.rxPackets.Load(),
		DropNoQP:      s.dropNoQP.Load(),
		DropBadDLID:   s.dropBadDLID.Load(),
		DropBadPKey:   s.dropBadPKey.Load(),
		DropBadQKey:   s.dropBadQKey.Load(),
		DropNoRecv:    s.dropNoRecv.Load(),
		DropQPState:   s.dropQPState.Load(),
		DropSequence:  s.dropSequence.Load(),
		RNRNaksSent:   s.rnrNaksSent.Load(),
		RNRRetries:    s.rnrRetries.Load(),
		Retries:       s.retries.Load(),
		RetryExceeded: s.retryExceeded.Load(),
	}
}

// pkey returns the P_Key at index i of the port's table.
func (d *Device) pkey(i uint16) (uint16, bool) {
	t := d.pkeys()
	if int(i) >= len(t) {
		return 0, false
	}
	return t[i], true
}

// allocQPN returns the next free QPN, wrapping from 0xFFFFFE back to 0x48.
// Caller holds d.mu.
func (d *Device) allocQPN() (uint32, bool) {
	for range maxQPN - firstQPN + 1 {
		n := d.nextQPN
		d.nextQPN++
		if d.nextQPN > maxQPN {
			d.nextQPN = firstQPN
		}
		if _, used := d.qps[n]; !used {
			return n, true
		}
	}
	return 0, false
}

// send puts a packet built by an engine on its way; no lock may be held.
// Unicast to the port's own LID is looped back; a multicast packet is
// also delivered to this device's attached QPs, then sent.
func (d *Device) send(p *Packet) {
	d.st.txPackets.Add(uint64(p.Packets()))
	if p.DLID == d.opts.LID && !p.IsMulticast() {
		d.Receive(p)
		return
	}
	if p.IsMulticast() && p.GRH && d.hasMcastMembers(p.DGID) {
		d.Receive(p.Clone())
	}
	if d.opts.Wire == nil {
		d.st.txDropped.Add(1)
		p.Release()
		return
	}
	d.opts.Wire.Transmit(p)
}
