// Package ibcm is the InfiniBand communication manager of the emulated HCA
// ports (drivers/infiniband/core/cm.c): it sets up and tears down
// connections with the CM messages REQ, MRA, REP, RTU, REJ, DREQ and DREP,
// carried as MADs between the ports' general services QPs (QP1) over the
// fabric. Consumers such as IPoIB's connected mode (the ULP, as
// ipoib_cm.c) listen on service IDs, connect, and get each
// communication ID's events through a Handler.
//
// One CM serves one port (cm_port). A communication ID (ID) follows the
// kernel's state machine (enum ib_cm_state); a message that expects an
// answer (REQ, REP, DREQ) is resent when its timeout passes without one,
// up to the ID's CM retries, and then fails the ID (REQ_ERROR, REP_ERROR,
// DREQ_ERROR); a disconnected ID stays in time-wait for the path's ACK
// timeout before TIMEWAIT_EXIT. Timers run on an injectable clock.
//
// The fabric delivers synchronously: a MAD reaches the receiving port
// inside the sender's PostSend. So, as the kernel's cm.wq, each CM
// handles received MADs, timer expiries and its consumers' handlers on
// an ordered work queue, never in the caller's stack. A consumer may call
// the methods from any goroutine and most of them from its handler, but
// not Destroy on the handler's own ID (return an error to have the CM
// destroy it, as ib_cm does) nor Flush, which waits for the queue the
// handler runs on.
//
// Each MAD leaves with a P_Key index (ib_ud_wr.pkey_index): an ID's with
// its path's P_Key (cm_alloc_msg, av->pkey_index, looked up by
// ib_find_cached_pkey), an answer to a message that has no ID with the
// received one's (cm_alloc_response_msg). So connections on a full
// partition set up while the default partition is limited.
//
// A consumer that needs more time to answer a REQ or REP sends an MRA
// (SendMRA, ib_send_cm_mra), sent again for a duplicate of the message;
// a received MRA stretches the wait for the answer it names
// (cm_mra_handler: MRA_REQ_RCVD, MRA_REP_RCVD). IPoIB sends none.
// Alternate paths and SIDR are not modelled, but their requests
// are answered so that a peer is not left waiting: a LAP on an
// established ID with an APR of status UNSUPPORTED, a SIDR_REQ with a
// SIDR_REP of status UNSUPPORTED (cm_reject_sidr_req); received APRs and
// SIDR_REPs are unmatched replies. Stale-connection detection by remote
// QPN is not modelled.
//
// It may import driver/verbs, driver/fabric and driver/header.
package ibcm

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ibctl/ibctl/driver/verbs"
	"golang.org/x/sys/unix"
)

// Options configure a CM.
type Options struct {
	// Device is the HCA port; New creates its QP1.
	Device *verbs.Device
	// PKeys returns the port's P_Key table, in which a connection's
	// P_Key is looked up (ib_find_cached_pkey). Called without CM locks.
	PKeys func() []uint16
	// CAGUID is the node GUID, sent as the Local CA GUID.
	CAGUID uint64
	// AckDelay is the HCA's local CA ACK delay (ib_device_attr
	// local_ca_ack_delay), sent as the REP's target ACK delay.
	AckDelay uint8
	// Clock drives the retransmission and time-wait timers; nil means
	// the system clock.
	Clock verbs.Clock
}

// QP1's queue depths, the MAD layer's defaults (mad_priv.h,
// IB_MAD_QP_SEND_SIZE and IB_MAD_QP_RECV_SIZE): what arrives while every
// receive buffer is taken is lost, as on a real port.
const (
	gsiSendDepth = 128
	gsiRecvDepth = 512
)

// hiTID is the high half of the transaction IDs this CM's messages carry
// (the MAD agent's hi_tid).
const hiTID = 1

// CM is the communication manager of one port.
type CM struct {
	dev      *verbs.Device
	pkeys    func() []uint16
	guid     uint64
	ackDelay uint8
	clock    verbs.Clock
	wq       *workQueue

	gsi      *verbs.QP
	scq, rcq *verbs.CQ
	// lent are the buffers QP1's receive WRs hold a MAD in, by WRID,
	// from the lend that gave one to the WR's completion: a handful at
	// most, where an array for all 512 WRs of every port would cost a
	// large fabric more than its MADs do. Guarded by lentMu: the HCA
	// lends, the work queue takes back.
	lentMu  sync.Mutex
	lent    map[uint64][]byte
	lend    func(uint64, int) []byte // borrows lent[wrid] (mad.go)
	wcs     []verbs.WC               // used by the work queue only
	polling atomic.Bool
	sendMu  sync.Mutex
	swcs    []verbs.WC // guarded by sendMu

	mu       sync.Mutex
	listens  map[uint64]*ID    // guarded by mu: listeners by service ID
	ids      map[uint32]*ID    // guarded by mu: by local communication ID
	remote   map[remoteKey]*ID // guarded by mu: by the peer's ID, for duplicates
	nextID   uint32            // guarded by mu
	counters Counters          // guarded by mu
	running  *ID               // guarded by mu: the ID whose handler runs
	handled  sync.Cond         // signalled when a handler returns
}

// remoteKey names a peer's communication ID (remote_id_table).
type remoteKey struct {
	commID uint32
	caGUID uint64
}

// Counters are a port's CM message counters by attribute ID, as the
// kernel's cm_tx_msgs, cm_tx_retries, cm_rx_msgs and cm_rx_duplicates.
type Counters struct {
	Sent, Retries, Received, Duplicates map[uint16]uint64
}

// New creates the CM of a port: its QP1 in RTS with receive buffers
// posted.
func New(opts Options) (*CM, error) {
	cm := &CM{dev: opts.Device, pkeys: opts.PKeys, guid: opts.CAGUID, ackDelay: opts.AckDelay, clock: opts.Clock,
		wq: newWorkQueue(), listens: map[uint64]*ID{}, ids: map[uint32]*ID{}, remote: map[remoteKey]*ID{},
		counters: Counters{Sent: map[uint16]uint64{}, Retries: map[uint16]uint64{}, Received: map[uint16]uint64{},
			Duplicates: map[uint16]uint64{}}}
	cm.handled.L = &cm.mu
	if cm.clock == nil {
		cm.clock = verbs.SystemClock{}
	}
	if cm.pkeys == nil {
		cm.pkeys = func() []uint16 { return []uint16{0xFFFF} }
	}
	if err := cm.openGSI(); err != nil {
		return nil, err
	}
	return cm, nil
}

// Flush waits until the CM's work queue is idle and returns how many
// work items (received MADs, timer expiries) ran meanwhile. Tests call
// it after sending or advancing a manual clock; it must not be called
// from a handler.
func (cm *CM) Flush() int { return cm.wq.flush() }

// Counters returns a copy of the message counters.
func (cm *CM) Counters() Counters {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	cp := func(m map[uint16]uint64) map[uint16]uint64 {
		out := make(map[uint16]uint64, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	c := cm.counters
	return Counters{Sent: cp(c.Sent), Retries: cp(c.Retries), Received: cp(c.Received), Duplicates: cp(c.Duplicates)}
}

// Listen creates a listening ID for serviceID (ib_create_cm_id +
// ib_cm_listen, exact match): REQs for it create new IDs whose events go
// to h with ctx as their context. EBUSY when the service ID is taken.
func (cm *CM) Listen(serviceID uint64, h Handler, ctx any) (*ID, error) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if cm.listens[serviceID] != nil {
		return nil, &Error{Op: "listen", Err: unix.EBUSY}
	}
	id := cm.newIDLocked(h, ctx)
	id.state = Listen
	id.serviceID = serviceID
	cm.listens[serviceID] = id
	return id, nil
}

// NewID creates an idle ID whose events go to h (ib_create_cm_id).
func (cm *CM) NewID(h Handler, ctx any) *ID {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	id := cm.newIDLocked(h, ctx)
	cm.ids[id.localID] = id
	return id
}

// Caller holds cm.mu.
func (cm *CM) newIDLocked(h Handler, ctx any) *ID {
	cm.nextID++
	return &ID{cm: cm, handler: h, context: ctx, localID: cm.nextID}
}

// Time conversions of cm.c.

// convertToDuration is cm_convert_to_ms: 4.096 µs × 2^iba_time,
// approximated as 2^(iba_time−8) ms.
func convertToDuration(ibaTime uint8) time.Duration {
	return time.Duration(1<<max(int(ibaTime)-8, 0)) * time.Millisecond
}

// ackTimeout is cm_ack_timeout: the local ACK timeout for a CA ACK delay
// and a packet life time, both as IBA times.
func ackTimeout(caAckDelay, packetLifeTime uint8) uint8 {
	t := int(packetLifeTime) + 1
	d := int(caAckDelay)
	if t >= d {
		if d >= t-1 {
			t++
		}
	} else {
		t = d
		if int(packetLifeTime)+1 >= d-1 {
			t++
		}
	}
	return uint8(min(31, t))
}

// Error is a refused CM call; it unwraps to the errno the kernel's CM
// returns (EINVAL for a call in the wrong state, EBUSY for a taken
// service ID).
type Error struct {
	Op  string
	Err unix.Errno
	Msg string
}

func (e *Error) Error() string {
	s := "ibcm: " + e.Op + ": " + e.Err.Error()
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Err }

// be64 reads the first 8 bytes of b.
func be64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
