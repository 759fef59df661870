package verbs

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	gidA = [16]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xc9, 0x03, 0, 0, 0, 0x01}
	gidB = [16]byte{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x02, 0xc9, 0x03, 0, 0, 0, 0x02}
	// IPoIB broadcast MGID for P_Key 0xffff.
	mgidBcast = [16]byte{0xff, 0x12, 0x40, 0x1b, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
)

const (
	lidA    = 1
	lidB    = 2
	mlid    = 0xC001
	qkey    = 0x0B1B
	epoch   = 1_700_000_000
	rnrCode = 14 // 1.28 ms
)

// fabric is two devices on a Loopback with a manual clock.
type fabric struct {
	lb    *Loopback
	clk   *ManualClock
	a, b  *Device
	pkeyA []uint16
	pkeyB []uint16
}

type fabricOpts struct {
	queued     bool
	moderation bool
	mtu        MTU
}

func newFabric(t testing.TB, o fabricOpts) *fabric {
	t.Helper()
	f := &fabric{
		lb:    NewLoopback(o.queued),
		clk:   NewManualClock(time.Unix(epoch, 0)),
		pkeyA: []uint16{0xFFFF, 0x8001, 0x0001, 0x8002},
		pkeyB: []uint16{0xFFFF, 0x8001, 0x0001, 0x8002},
	}
	mk := func(lid uint16, gid [16]byte, pk *[]uint16) *Device {
		d, err := NewDevice(DeviceOptions{
			LID: lid, GID: gid, MTU: o.mtu, PKeys: func() []uint16 { return *pk },
			CQModeration: o.moderation, Wire: f.lb, Clock: f.clk, Packets: 16,
		})
		if err != nil {
			t.Fatal(err)
		}
		f.lb.Attach(d)
		return d
	}
	f.a = mk(lidA, gidA, &f.pkeyA)
	f.b = mk(lidB, gidB, &f.pkeyB)
	return f
}

// end is a QP with its own CQs.
type end struct {
	qp       *QP
	scq, rcq *CQ
	sEv, rEv int // handler calls
	wc       [64]WC
	dev      *Device
	srq      *SRQ
}

type endOpts struct {
	typ     QPType
	cqDepth int
	maxSend int
	maxRecv int
	maxSGE  int
	srq     *SRQ
	sigAll  bool
}

func newEnd(t testing.TB, d *Device, o endOpts) *end {
	t.Helper()
	if o.cqDepth == 0 {
		o.cqDepth = 256
	}
	if o.maxSend == 0 {
		o.maxSend = 64
	}
	if o.maxRecv == 0 {
		o.maxRecv = 64
	}
	if o.maxSGE == 0 {
		o.maxSGE = 4
	}
	e := &end{dev: d, srq: o.srq}
	var err error
	if e.scq, err = d.NewCQ(o.cqDepth, func() { e.sEv++ }); err != nil {
		t.Fatal(err)
	}
	if e.rcq, err = d.NewCQ(o.cqDepth, func() { e.rEv++ }); err != nil {
		t.Fatal(err)
	}
	e.qp, err = d.CreateQP(QPInitAttr{
		Type: o.typ, SendCQ: e.scq, RecvCQ: e.rcq, SRQ: o.srq,
		MaxSend: o.maxSend, MaxRecv: o.maxRecv, MaxSGE: o.maxSGE, SigAll: o.sigAll,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// udRTS brings a UD QP to RTS.
func udRTS(t testing.TB, qp *QP, pkeyIndex uint16) {
	t.Helper()
	mustModify(t, qp, QPAttr{State: QPInit, PKeyIndex: pkeyIndex, Port: 1, QKey: qkey}, AttrState|AttrPKeyIndex|AttrPort|AttrQKey)
	mustModify(t, qp, QPAttr{State: QPRTR}, AttrState)
	mustModify(t, qp, QPAttr{State: QPRTS, SQPSN: 0x100}, AttrState|AttrSQPSN)
}

const rcRTRMask = AttrState | AttrAV | AttrPathMTU | AttrDestQPN | AttrRQPSN | AttrMinRNRTimer
const rcRTSMask = AttrState | AttrSQPSN | AttrTimeout | AttrRetryCnt | AttrRNRRetry

// rcConnect brings two RC QPs to RTS, connected to each other.
func rcConnect(t testing.TB, x, y *QP, mtu MTU, rnrRetry uint8) {
	t.Helper()
	for _, p := range [2][2]*QP{{x, y}, {y, x}} {
		l, r := p[0], p[1]
		mustModify(t, l, QPAttr{State: QPInit, Port: 1}, AttrState|AttrPKeyIndex|AttrPort)
		mustModify(t, l, QPAttr{
			State: QPRTR, DLID: r.dev.LID(), PathMTU: mtu, DestQPN: r.Num(),
			RQPSN: psnOf(r), MinRNRTimer: rnrCode,
		}, rcRTRMask)
		mustModify(t, l, QPAttr{State: QPRTS, SQPSN: psnOf(l), Timeout: 14, RetryCnt: 7, RNRRetry: rnrRetry}, rcRTSMask)
	}
}

// psnOf gives each QP a distinct start PSN near the 24-bit wrap, so that
// PSN arithmetic wraps during the tests.
func psnOf(qp *QP) uint32 { return psnMask - 4 - qp.Num()&3 }

func mustModify(t testing.TB, qp *QP, a QPAttr, m AttrMask) {
	t.Helper()
	if err := qp.Modify(a, m); err != nil {
		t.Fatalf("modify %v: %v", m, err)
	}
}

func poll(e *end, c *CQ) []WC {
	n := c.Poll(e.wc[:])
	return append([]WC(nil), e.wc[:n]...)
}

func wantErrno(t testing.TB, err error, want unix.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var ve *Error
	if !errors.As(err, &ve) {
		t.Fatalf("err %T is not *Error", err)
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7) + byte(i>>8)
	}
	return b
}

func equalBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: differ at byte %d (len got %d, want %d)", what, i, len(got), len(want))
	}
}

// diff returns "" when want and got are deeply equal, else both values
// printed with field names ("-" want, "+" got).
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("- %+v\n+ %+v", want, got)
}
