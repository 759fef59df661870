package ibcm

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"golang.org/x/sys/unix"
)

var (
	gidA = [16]byte{0xfe, 0x80, 9: 0x02, 10: 0xc9, 11: 0x03, 14: 0x10, 15: 0x01}
	gidB = [16]byte{0xfe, 0x80, 9: 0x02, 10: 0xc9, 11: 0x03, 14: 0x20, 15: 0x01}
)

const (
	lidA, lidB   = 1, 3
	guidA, guidB = 0x0002c90300001000, 0x0002c90300002000
	serviceID    = 0x1000000000000048
	ackDelay     = 15
)

// tap records the MADs a device sends and passes every packet on.
type tap struct {
	next  verbs.Wire
	mu    sync.Mutex
	mads  [][]byte
	pkeys []uint16 // each MAD's BTH P_Key
}

func (w *tap) Transmit(p *verbs.Packet) {
	if p.DestQPN == verbs.GSIQPN {
		w.mu.Lock()
		w.mads = append(w.mads, append([]byte(nil), p.Payload...))
		w.pkeys = append(w.pkeys, p.PKey)
		w.mu.Unlock()
	}
	w.next.Transmit(p)
}

// sentPKeys lists the attribute and BTH P_Key of each MAD sent.
func (w *tap) sentPKeys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for i, m := range w.mads {
		out = append(out, fmt.Sprintf("%#x %#04x", header.MAD(m).Header().AttrID, w.pkeys[i]))
	}
	return out
}

func (w *tap) sent(attr uint16) [][]byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [][]byte
	for _, m := range w.mads {
		if header.MAD(m).Header().AttrID == attr {
			out = append(out, m)
		}
	}
	return out
}

// env is two ports, A and B, on a queued loopback, each with a CM on a
// manual clock. B is attached only when attachB is set.
type env struct {
	t      *testing.T
	lb     *verbs.Loopback
	clk    *verbs.ManualClock
	a, b   *CM
	wa, wb *tap
	pkeysA []uint16
	pkeysB []uint16
}

func newEnv(t *testing.T, attachB bool) *env {
	t.Helper()
	e := &env{t: t, lb: verbs.NewLoopback(true), clk: verbs.NewManualClock(time.Unix(1_700_000_000, 0)),
		pkeysA: []uint16{0xFFFF, 0x8001, 0x8002}, pkeysB: []uint16{0xFFFF, 0x8001}}
	e.wa, e.wb = &tap{next: e.lb}, &tap{next: e.lb}
	mk := func(lid uint16, gid [16]byte, guid uint64, w *tap, pkeys *[]uint16, attach bool) *CM {
		d, err := verbs.NewDevice(verbs.DeviceOptions{LID: lid, GID: gid, Wire: w, PKeys: func() []uint16 { return *pkeys }})
		if err != nil {
			t.Fatal(err)
		}
		if attach {
			e.lb.Attach(d)
		}
		cm, err := New(Options{Device: d, PKeys: func() []uint16 { return *pkeys }, CAGUID: guid, AckDelay: ackDelay, Clock: e.clk})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	e.a = mk(lidA, gidA, guidA, e.wa, &e.pkeysA, true)
	e.b = mk(lidB, gidB, guidB, e.wb, &e.pkeysB, attachB)
	return e
}

// settle delivers queued packets and runs both CMs' work until nothing
// moves.
func (e *env) settle() {
	for e.lb.Flush()+e.a.Flush()+e.b.Flush() > 0 {
	}
}

// advance moves the clock in steps of at most step, settling after each.
func (e *env) advance(d, step time.Duration) {
	for d > 0 {
		s := min(d, step)
		e.clk.Advance(s)
		e.settle()
		d -= s
	}
}

// recorder records the events of its IDs and reacts as set.
type recorder struct {
	mu     sync.Mutex
	events []string
	ids    []*ID
	react  func(id *ID, ev *Event) error
}

func (r *recorder) handle(id *ID, ev *Event) error {
	r.mu.Lock()
	r.events = append(r.events, ev.Type.String())
	if ev.Type == REQReceived {
		r.ids = append(r.ids, id)
	}
	react := r.react
	r.mu.Unlock()
	if react != nil {
		return react(id, ev)
	}
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func (r *recorder) id(t *testing.T) *ID {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ids) != 1 {
		t.Fatalf("%d IDs from REQs, want 1", len(r.ids))
	}
	return r.ids[0]
}

var ipoibPrivate = []byte{0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0xff, 0xf4}

// reqParam is what IPoIB sends (ipoib_cm_send_req) for QP 0x49 on a
// 2048-byte path with OpenSM's packet life time.
func reqParam(pkey uint16) REQParam {
	return REQParam{
		Path:      Path{SGID: gidA, DGID: gidB, SLID: lidA, DLID: lidB, PKey: pkey, MTU: verbs.MTU2048, Rate: 16, PacketLifeTime: 18},
		ServiceID: serviceID, QPN: 0x49, StartingPSN: 0, PrivateData: ipoibPrivate, ResponderResources: 4,
		RemoteCMResponseTimeout: 20, LocalCMResponseTimeout: 20, MaxCMRetries: 15, SRQ: true,
	}
}

var repParam = REPParam{QPN: 0x4a, StartingPSN: 0x123456, PrivateData: ipoibPrivate, SRQ: true}

// passive answers REQs with a REP and DREQs with a DREP.
func passive(id *ID, ev *Event) error {
	switch ev.Type {
	case REQReceived:
		return id.SendREP(repParam)
	case DREQReceived:
		return id.SendDREP(nil)
	}
	return nil
}

// active completes a REP with an RTU and answers DREQs.
func active(id *ID, ev *Event) error {
	switch ev.Type {
	case REPReceived:
		return id.SendRTU(nil)
	case DREQReceived:
		return id.SendDREP(nil)
	}
	return nil
}

func TestConnectAndDisconnect(t *testing.T) {
	e := newEnv(t, true)
	var ra, rb recorder
	ra.react = active
	var gotREQ header.CMReq
	rb.react = func(id *ID, ev *Event) error {
		if ev.Type == REQReceived {
			gotREQ = *ev.REQ
		}
		return passive(id, ev)
	}
	if _, err := e.b.Listen(serviceID, rb.handle, "listener"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Listen(serviceID, rb.handle, nil); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second listen: %v", err)
	}
	a := e.a.NewID(ra.handle, nil)
	if err := a.SendREQ(reqParam(0xffff)); err != nil {
		t.Fatal(err)
	}
	if err := a.SendREQ(reqParam(0xffff)); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("second REQ: %v", err)
	}
	e.settle()
	b := rb.id(t)
	if a.State() != Established || b.State() != Established || b.Context() != "listener" {
		t.Fatalf("states %v %v, context %v", a.State(), b.State(), b.Context())
	}
	if gotREQ.ServiceID != serviceID || gotREQ.LocalQPN != 0x49 || gotREQ.Primary.LocalLID != lidA ||
		gotREQ.LocalCAGUID != guidA || !bytes.Equal(gotREQ.PrivateData[:8], ipoibPrivate) || gotREQ.Primary.LocalACKTimeout != 19 {
		t.Errorf("REQ received: %+v", gotREQ)
	}
	// The QP attributes each end gets from its ID.
	for _, tt := range []struct {
		id    *ID
		state verbs.QPState
		want  verbs.QPAttr
	}{
		{a, verbs.QPInit, verbs.QPAttr{State: verbs.QPInit, Port: 1}},
		{a, verbs.QPRTR, verbs.QPAttr{State: verbs.QPRTR, DLID: lidB, PathMTU: verbs.MTU2048, DestQPN: 0x4a, RQPSN: 0}},
		{a, verbs.QPRTS, verbs.QPAttr{State: verbs.QPRTS, SQPSN: 0x123456, Timeout: 19}},
		{b, verbs.QPRTR, verbs.QPAttr{State: verbs.QPRTR, DLID: lidA, PathMTU: verbs.MTU2048, DestQPN: 0x49, RQPSN: 0x123456}},
		{b, verbs.QPRTS, verbs.QPAttr{State: verbs.QPRTS, SQPSN: 0, Timeout: 19}},
	} {
		got, _, err := tt.id.InitQPAttr(tt.state)
		if err != nil || got != tt.want {
			t.Errorf("InitQPAttr(%v) = %+v %v, want %+v", tt.state, got, err, tt.want)
		}
	}

	if err := a.SendDREQ(nil); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if a.State() != Timewait || b.State() != Timewait {
		t.Fatalf("after DREQ/DREP: %v %v", a.State(), b.State())
	}
	// Time-wait lasts the ACK timeout: 4.096 µs × 2^19, 2048 ms.
	e.advance(2047*time.Millisecond, time.Second)
	if a.State() != Timewait || b.State() != Timewait {
		t.Fatalf("after 2047 ms: %v %v", a.State(), b.State())
	}
	e.advance(time.Millisecond, time.Millisecond)
	if a.State() != Idle || b.State() != Idle {
		t.Fatalf("after 2048 ms: %v %v", a.State(), b.State())
	}
	if diff := cmp.Diff([]string{"REP_RECEIVED", "DREP_RECEIVED", "TIMEWAIT_EXIT"}, ra.got()); diff != "" {
		t.Errorf("active events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"REQ_RECEIVED", "RTU_RECEIVED", "DREQ_RECEIVED", "TIMEWAIT_EXIT"}, rb.got()); diff != "" {
		t.Errorf("passive events (-want +got):\n%s", diff)
	}
	wantA := map[uint16]uint64{header.CMAttrREQ: 1, header.CMAttrRTU: 1, header.CMAttrDREQ: 1}
	wantB := map[uint16]uint64{header.CMAttrREP: 1, header.CMAttrDREP: 1}
	if ca, cb := e.a.Counters(), e.b.Counters(); !cmp.Equal(ca.Sent, wantA) || !cmp.Equal(cb.Sent, wantB) || len(ca.Retries)+len(cb.Retries) != 0 {
		t.Errorf("counters A %+v, B %+v", ca, cb)
	}
	// The REP on the wire.
	rep := e.wb.sent(header.CMAttrREP)
	if len(rep) != 1 {
		t.Fatalf("%d REPs", len(rep))
	}
	m, _ := header.DecodeCMRep(rep[0])
	if m.LocalCommID != b.LocalID() || m.RemoteCommID != a.LocalID() || m.LocalQPN != 0x4a || m.StartingPSN != 0x123456 ||
		m.TargetACKDelay != ackDelay || !m.SRQ || m.LocalCAGUID != guidB || header.MAD(rep[0]).Header().TID != 1<<32|uint64(a.LocalID()) {
		t.Errorf("REP %+v", m)
	}
}

func TestReject(t *testing.T) {
	refuse := func(id *ID, ev *Event) error {
		if ev.Type == REQReceived {
			return fmt.Errorf("no QP")
		}
		return nil
	}
	refuseREP := func(id *ID, ev *Event) error {
		if ev.Type == REPReceived {
			return id.SendREJ(header.CMRejConsumerDefined, nil, nil)
		}
		return nil
	}
	tests := []struct {
		name             string
		listen           bool
		passive, active  func(*ID, *Event) error
		pkey             uint16
		reason           uint16
		rejected         uint8
		ari              []byte
		activeEvents     []string
		passiveEvents    []string
		activeState      State
		passiveRejecting bool // the passive side sent the REJ
	}{
		{name: "nobody listens", pkey: 0xffff, reason: header.CMRejInvalidServiceID, rejected: header.CMMsgREQ,
			activeEvents: []string{"REJ_RECEIVED"}, passiveRejecting: true},
		{name: "the listener refuses", listen: true, passive: refuse, pkey: 0xffff,
			reason: header.CMRejConsumerDefined, rejected: header.CMMsgREQ,
			activeEvents: []string{"REJ_RECEIVED"}, passiveEvents: []string{"REQ_RECEIVED"}, passiveRejecting: true},
		{name: "the requester refuses the REP", listen: true, passive: passive, active: refuseREP, pkey: 0xffff,
			reason: header.CMRejConsumerDefined, rejected: header.CMMsgREP,
			activeEvents: []string{"REP_RECEIVED"}, passiveEvents: []string{"REQ_RECEIVED", "REJ_RECEIVED"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, true)
			var ra, rb recorder
			rb.react, ra.react = tt.passive, tt.active
			if tt.listen {
				if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
					t.Fatal(err)
				}
			}
			a := e.a.NewID(ra.handle, nil)
			if err := a.SendREQ(reqParam(tt.pkey)); err != nil {
				t.Fatal(err)
			}
			e.settle()
			if diff := cmp.Diff(tt.activeEvents, ra.got()); diff != "" {
				t.Errorf("active events (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.passiveEvents, rb.got()); diff != "" {
				t.Errorf("passive events (-want +got):\n%s", diff)
			}
			from := e.wb
			if !tt.passiveRejecting {
				from = e.wa
			}
			rejs := from.sent(header.CMAttrREJ)
			if len(rejs) != 1 {
				t.Fatalf("%d REJs", len(rejs))
			}
			rej, _ := header.DecodeCMRej(rejs[0])
			if rej.Reason != tt.reason || rej.MessageRejected != tt.rejected || int(rej.RejectedInfoLength) != len(tt.ari) ||
				!bytes.Equal(rej.ARI[:len(tt.ari)], tt.ari) {
				t.Errorf("REJ %+v", rej)
			}
			if tt.passiveRejecting && (rej.RemoteCommID != a.LocalID() || rej.LocalCommID != 0) {
				t.Errorf("REJ of a REQ: local %d remote %d", rej.LocalCommID, rej.RemoteCommID)
			}
			if a.State() != Idle {
				t.Errorf("active state %v", a.State())
			}
		})
	}
}

// TestPKeyOfMADs follows cm_alloc_msg, which sends an ID's MADs with its
// path's P_Key index (av->pkey_index), and cm_alloc_response_msg, which
// answers a message that has no ID with the received one's: with the
// default partition limited on both ports, a connection on 0x8001 is set
// up and torn down, and a REQ for nobody rejected, all on 0x8001. Two
// limited members cannot talk: a MAD with the P_Key at index 0 would be
// dropped by the peer's QP1.
func TestPKeyOfMADs(t *testing.T) {
	e := newEnv(t, true)
	e.pkeysA, e.pkeysB = []uint16{0x7fff, 0x8001}, []uint16{0x7fff, 0x8001}
	var ra, rb recorder
	ra.react, rb.react = active, passive
	if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
		t.Fatal(err)
	}
	a := e.a.NewID(ra.handle, nil)
	if err := a.SendREQ(reqParam(0x8001)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	b := rb.id(t)
	if a.State() != Established || b.State() != Established {
		t.Fatalf("states %v %v", a.State(), b.State())
	}
	for _, id := range []*ID{a, b} {
		if got, _, err := id.InitQPAttr(verbs.QPInit); err != nil || got.PKeyIndex != 1 {
			t.Errorf("INIT attributes %+v %v, want P_Key index 1", got, err)
		}
	}
	if err := a.SendDREQ(nil); err != nil {
		t.Fatal(err)
	}
	e.settle()
	nobody := e.a.NewID(ra.handle, nil)
	p := reqParam(0x8001)
	p.ServiceID++
	if err := nobody.SendREQ(p); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if diff := cmp.Diff([]string{"0x10 0x8001", "0x14 0x8001", "0x15 0x8001", "0x10 0x8001"}, e.wa.sentPKeys()); diff != "" {
		t.Errorf("A's MADs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"0x13 0x8001", "0x16 0x8001", "0x12 0x8001"}, e.wb.sentPKeys()); diff != "" {
		t.Errorf("B's MADs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"REP_RECEIVED", "DREP_RECEIVED", "REJ_RECEIVED"}, ra.got()); diff != "" {
		t.Errorf("active events (-want +got):\n%s", diff)
	}
}

// TestREQOnPartitionPeerLacks: a REQ travels with its connection's P_Key,
// so a peer whose table lacks it never gets it (its QP1 drops the MAD);
// the requester is left to its timeout.
func TestREQOnPartitionPeerLacks(t *testing.T) {
	e := newEnv(t, true) // A's table has 0x8002, B's not
	var ra, rb recorder
	if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
		t.Fatal(err)
	}
	a := e.a.NewID(ra.handle, nil)
	if err := a.SendREQ(reqParam(0x8002)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if got := e.b.dev.Stats().DropBadPKey; got != 1 || len(ra.got())+len(rb.got()) != 0 || a.State() != REQSent {
		t.Errorf("B dropped %d, events %v %v, state %v", got, ra.got(), rb.got(), a.State())
	}
}

// TestRejectNoListenerBytes checks the whole REJ a REQ for an unknown
// service ID gets, against bytes computed from IBA table 108.
func TestRejectNoListenerBytes(t *testing.T) {
	e := newEnv(t, true)
	a := e.a.NewID(func(*ID, *Event) error { return nil }, nil)
	if err := a.SendREQ(reqParam(0xffff)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	rejs := e.wb.sent(header.CMAttrREJ)
	want := make([]byte, header.MADSize)
	copy(want, []byte{
		0x01, 0x07, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
		0x00, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x00, 0x00, 0x00, 0x08,
	})
	if len(rejs) != 1 || !bytes.Equal(rejs[0], want) {
		t.Fatalf("REJ:\n got % x\nwant % x", rejs, want)
	}
}

func TestREQTimeout(t *testing.T) {
	e := newEnv(t, false) // B's port is not on the fabric: every MAD is lost
	var ra recorder
	a := e.a.NewID(ra.handle, nil)
	if err := a.SendREQ(reqParam(0xffff)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	// 2 × 4.096 µs × 2^18 + 4.096 µs × 2^20: 6144 ms per try, 1 + 15
	// tries.
	const try = 6144 * time.Millisecond
	e.advance(15*try, try)
	if got := e.a.Counters().Sent[header.CMAttrREQ]; got != 16 || len(ra.got()) != 0 || a.State() != REQSent {
		t.Fatalf("after 15 timeouts: %d REQs, events %v, state %v", got, ra.got(), a.State())
	}
	e.advance(try-time.Millisecond, try)
	if len(ra.got()) != 0 {
		t.Fatalf("events before the 16th timeout: %v", ra.got())
	}
	e.advance(time.Millisecond, time.Millisecond)
	if diff := cmp.Diff([]string{"REQ_ERROR"}, ra.got()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	c := e.a.Counters()
	if a.State() != Idle || c.Sent[header.CMAttrREQ] != 16 || c.Retries[header.CMAttrREQ] != 15 || e.lb.Dropped() != 16 {
		t.Errorf("state %v, counters %+v, dropped %d", a.State(), c, e.lb.Dropped())
	}
}

func TestDuplicateREQ(t *testing.T) {
	e := newEnv(t, true)
	var rb recorder // B does not answer: A resends its REQ
	if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
		t.Fatal(err)
	}
	a := e.a.NewID(func(*ID, *Event) error { return nil }, nil)
	if err := a.SendREQ(reqParam(0xffff)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	e.advance(6144*time.Millisecond, time.Second)
	if c := e.b.Counters(); c.Received[header.CMAttrREQ] != 2 || c.Duplicates[header.CMAttrREQ] != 1 {
		t.Errorf("B counters %+v", c)
	}
	if diff := cmp.Diff([]string{"REQ_RECEIVED"}, rb.got()); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestDestroy(t *testing.T) {
	tests := []struct {
		name      string
		establish bool
		// what B gets when A destroys its ID
		attr          uint16
		passiveEvents []string
		reason        uint16
		activeEvents  []string
		passiveState  State // right after the message is handled
	}{
		{"established: DREQ", true, header.CMAttrDREQ, []string{"REQ_RECEIVED", "RTU_RECEIVED", "DREQ_RECEIVED"}, 0,
			[]string{"REP_RECEIVED"}, Timewait},
		{"REQ pending: REJ TIMEOUT", false, header.CMAttrREJ, []string{"REQ_RECEIVED", "REJ_RECEIVED"}, header.CMRejTimeout, nil, Idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, true)
			var ra, rb recorder
			rb.react, ra.react = passive, active
			if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
				t.Fatal(err)
			}
			a := e.a.NewID(ra.handle, nil)
			if err := a.SendREQ(reqParam(0xffff)); err != nil {
				t.Fatal(err)
			}
			if tt.establish {
				e.settle()
			}
			a.Destroy()
			e.settle()
			if diff := cmp.Diff(tt.passiveEvents, rb.got()); diff != "" {
				t.Errorf("passive events (-want +got):\n%s", diff)
			}
			if b := rb.id(t); b.State() != tt.passiveState {
				t.Errorf("passive state %v, want %v", b.State(), tt.passiveState)
			}
			sent := e.wa.sent(tt.attr)
			if len(sent) != 1 {
				t.Fatalf("%d messages %#x from A", len(sent), tt.attr)
			}
			if tt.attr == header.CMAttrREJ {
				rej, _ := header.DecodeCMRej(sent[0])
				if rej.Reason != tt.reason || rej.MessageRejected != header.CMMsgOther || be64(rej.ARI[:]) != guidA {
					t.Errorf("REJ %+v", rej)
				}
			}
			// A destroyed ID gets nothing more, and its DREP (if any)
			// is dropped.
			e.advance(3*time.Second, time.Second)
			if diff := cmp.Diff(tt.activeEvents, ra.got()); diff != "" {
				t.Errorf("active events (-want +got):\n%s", diff)
			}
			if err := a.SendDREQ(nil); !errors.Is(err, unix.EINVAL) {
				t.Errorf("SendDREQ on a destroyed ID: %v", err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{REQSent.String(), "REQ_SENT"}, {Timewait.String(), "TIMEWAIT"}, {State(20).String(), "State(20)"},
		{TimewaitExit.String(), "TIMEWAIT_EXIT"}, {REJReceived.String(), "REJ_RECEIVED"}, {EventType(30).String(), "EventType(30)"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if uint8(TimewaitExit) != 9 || uint8(REJReceived) != 11 || uint8(Established) != 10 {
		t.Error("values differ from the kernel's enums")
	}
	for _, tt := range []struct {
		ibaTime uint8
		want    time.Duration
	}{{18, 1024 * time.Millisecond}, {19, 2048 * time.Millisecond}, {20, 4096 * time.Millisecond}, {3, time.Millisecond}} {
		if got := convertToDuration(tt.ibaTime); got != tt.want {
			t.Errorf("convertToDuration(%d) = %v, want %v", tt.ibaTime, got, tt.want)
		}
	}
	for _, tt := range []struct{ delay, plt, want uint8 }{{15, 18, 19}, {18, 18, 20}, {20, 10, 20}, {20, 18, 21}, {0, 31, 31}} {
		if got := ackTimeout(tt.delay, tt.plt); got != tt.want {
			t.Errorf("ackTimeout(%d, %d) = %d, want %d", tt.delay, tt.plt, got, tt.want)
		}
	}
}

// inject sends a raw MAD from cm's QP1, as a peer's CM would.
func inject(cm *CM, mad []byte, to av) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	cm.post(mad, to)
}

// TestMRA: a passive side that needs more time for a REQ sends an MRA
// (ib_send_cm_mra), and the requester then waits the MRA's service
// timeout plus the path's ACK timeout before resending (cm_mra_handler),
// in MRA_REQ_RCVD; the resent REQ, a duplicate, gets the MRA again
// (cm_dup_req_handler), counted as a duplicate; a REP still completes the
// exchange.
func TestMRA(t *testing.T) {
	e := newEnv(t, true)
	var ra, rb recorder
	ra.react = active
	rb.react = func(id *ID, ev *Event) error {
		if ev.Type == REQReceived {
			return id.SendMRA(24, []byte{0xab})
		}
		return nil
	}
	if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
		t.Fatal(err)
	}
	a := e.a.NewID(ra.handle, nil)
	if err := a.SendREQ(reqParam(0xffff)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	b := rb.id(t)
	if a.State() != MRAREQRcvd || b.State() != MRAREQSent {
		t.Fatalf("states after the MRA: %v %v", a.State(), b.State())
	}
	if err := a.SendMRA(24, nil); !errors.Is(err, unix.EINVAL) {
		t.Errorf("SendMRA in MRA_REQ_RCVD: %v", err)
	}
	mras := e.wb.sent(header.CMAttrMRA)
	if len(mras) != 1 {
		t.Fatalf("%d MRAs", len(mras))
	}
	mra, _ := header.DecodeCMMra(mras[0])
	want := header.CMMra{LocalCommID: b.LocalID(), RemoteCommID: a.LocalID(), MessageMRAed: header.CMMsgREQ, ServiceTimeout: 24}
	want.PrivateData[0] = 0xab
	if mra != want {
		t.Errorf("MRA %+v", mra)
	}
	// 4.096 µs × 2^24 + 4.096 µs × 2^19: 65536 + 2048 ms, instead of
	// the REQ's 6144 ms.
	e.advance(67583*time.Millisecond, time.Second)
	if got := e.a.Counters().Sent[header.CMAttrREQ]; got != 1 {
		t.Fatalf("%d REQs before the stretched timeout", got)
	}
	e.advance(time.Millisecond, time.Millisecond)
	if c := e.a.Counters(); c.Sent[header.CMAttrREQ] != 2 || c.Retries[header.CMAttrREQ] != 1 {
		t.Fatalf("counters after the stretched timeout: %+v", c)
	}
	if err := b.SendREP(repParam); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if a.State() != Established || b.State() != Established {
		t.Errorf("states %v %v", a.State(), b.State())
	}
	if diff := cmp.Diff([]string{"MRA_RECEIVED", "REP_RECEIVED"}, ra.got()); diff != "" {
		t.Errorf("active events (-want +got):\n%s", diff)
	}
	if c := e.a.Counters(); c.Received[header.CMAttrMRA] != 2 || c.Duplicates[header.CMAttrMRA] != 1 {
		t.Errorf("A counters %+v", c)
	}
	if c := e.b.Counters(); c.Sent[header.CMAttrMRA] != 2 || c.Duplicates[header.CMAttrREQ] != 1 {
		t.Errorf("B counters %+v", c)
	}
}

// TestLAPAndSIDRAnswered: a LAP on an established connection gets an APR
// of status UNSUPPORTED (IPoIB loads no alternate path) and a SIDR_REQ a
// SIDR_REP of status UNSUPPORTED (cm_reject_sidr_req), each with the
// request's transaction ID and back on the request's P_Key; APR and
// SIDR_REP, answers to requests never sent, are only counted.
func TestLAPAndSIDRAnswered(t *testing.T) {
	e := newEnv(t, true)
	var ra, rb recorder
	ra.react, rb.react = active, passive
	if _, err := e.b.Listen(serviceID, rb.handle, nil); err != nil {
		t.Fatal(err)
	}
	a := e.a.NewID(ra.handle, nil)
	if err := a.SendREQ(reqParam(0x8001)); err != nil {
		t.Fatal(err)
	}
	e.settle()
	b := rb.id(t)
	const tid = 0x0000000100000077
	lap := header.CMLap{LocalCommID: a.LocalID(), RemoteCommID: b.LocalID()}
	mad := make([]byte, header.MADSize)
	lap.Encode(mad, tid)
	inject(e.a, mad, av{dlid: lidB, pkeyIndex: 1})
	sidr := header.CMSIDRReq{RequestID: 9, PKey: 0x8001, ServiceID: serviceID}
	mad = make([]byte, header.MADSize)
	sidr.Encode(mad, tid)
	inject(e.a, mad, av{dlid: lidB, pkeyIndex: 1})
	e.settle()
	if diff := cmp.Diff([]string{"0x13 0x8001", "0x1a 0x8001", "0x18 0x8001"}, e.wb.sentPKeys()); diff != "" {
		t.Fatalf("B's MADs (-want +got):\n%s", diff)
	}
	apr, _ := header.DecodeCMApr(e.wb.sent(header.CMAttrAPR)[0])
	if want := (header.CMApr{LocalCommID: b.LocalID(), RemoteCommID: a.LocalID(), Status: header.CMAPRUnsupported}); apr != want {
		t.Errorf("APR %+v, want %+v", apr, want)
	}
	rep, _ := header.DecodeCMSIDRRep(e.wb.sent(header.CMAttrSIDRRep)[0])
	if want := (header.CMSIDRRep{RequestID: 9, Status: header.CMSIDRUnsupported, ServiceID: serviceID}); rep != want {
		t.Errorf("SIDR_REP %+v, want %+v", rep, want)
	}
	if got := header.MAD(e.wb.sent(header.CMAttrAPR)[0]).Header().TID; got != tid {
		t.Errorf("APR TID %#x", got)
	}
	if got := header.MAD(e.wb.sent(header.CMAttrSIDRRep)[0]).Header().TID; got != tid {
		t.Errorf("SIDR_REP TID %#x", got)
	}
	if c := e.a.Counters(); c.Received[header.CMAttrAPR] != 1 || c.Received[header.CMAttrSIDRRep] != 1 {
		t.Errorf("A counters %+v", c)
	}
	if a.State() != Established || b.State() != Established || len(rb.got()) != 2 {
		t.Errorf("states %v %v, passive events %v", a.State(), b.State(), rb.got())
	}
}

// A CM's QP1 holds no receive buffer until a MAD lands: its receive WRs
// borrow one each when used and give it back once the MAD is copied out.
func TestIdleCMHoldsNoRecvBuffers(t *testing.T) {
	e := newEnv(t, true)
	for name, cm := range map[string]*CM{"A": e.a, "B": e.b} {
		cm.lentMu.Lock()
		held := len(cm.lent)
		cm.lentMu.Unlock()
		if held != 0 {
			t.Errorf("%s: %d receive WRs hold a buffer; want none", name, held)
		}
		// all gsiRecvDepth WRs are posted: the queue takes no more
		if err := cm.gsi.PostRecv(&verbs.RecvWR{WRID: gsiRecvDepth, Lend: cm.lend, LendLen: madBufLen}); !errors.Is(err, unix.ENOMEM) {
			t.Errorf("%s: one more receive WR: %v, want ENOMEM (a full queue)", name, err)
		}
	}
}
