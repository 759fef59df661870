package verbs

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// napi is a receive CQ consumer in the style of IPoIB's NAPI poll: each
// event polls everything and re-arms.
type napi struct {
	cq     *CQ
	wc     [64]WC
	polled int
}

func (n *napi) handler() {
	for {
		k := n.cq.Poll(n.wc[:])
		n.polled += k
		if k == 0 && !n.cq.ReqNotify() {
			return
		}
	}
}

func TestCQModeration(t *testing.T) {
	tests := []struct {
		name         string
		count        uint16
		period       uint16
		arm          bool
		events       uint64 // after 1000 completions
		afterPeriod  uint64 // after period-1 µs, then after 1 more µs
		afterPeriod2 uint64
		polled       int // completions the handler polled
	}{
		{"default", 0, 0, true, 1000, 1000, 1000, 1000},
		{"rx-frames 1", 1, 0, true, 1000, 1000, 1000, 1000},
		// 16, 32, ..., 992: the last 8 completions stay unreported.
		{"rx-frames 16", 16, 0, true, 62, 62, 62, 992},
		// The period timer, started by completion 993, reports them.
		{"rx-frames 16 rx-usecs 100", 16, 100, true, 62, 62, 63, 1000},
		{"rx-frames 1000", 1000, 0, true, 1, 1, 1, 1000},
		{"rx-usecs 100 only", 0, 100, true, 0, 0, 1, 1000},
		{"not armed", 16, 100, false, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{moderation: true})
			s := newEnd(t, f.a, endOpts{typ: UD})
			n := &napi{}
			rcq, err := f.b.NewCQ(1024, func() { n.handler() })
			if err != nil {
				t.Fatal(err)
			}
			n.cq = rcq
			scq, _ := f.b.NewCQ(16, nil)
			qp, err := f.b.CreateQP(QPInitAttr{Type: UD, SendCQ: scq, RecvCQ: rcq, MaxSend: 16, MaxRecv: 1024, MaxSGE: 1})
			if err != nil {
				t.Fatal(err)
			}
			udRTS(t, s.qp, 0)
			udRTS(t, qp, 0)
			if err := rcq.Modify(tt.count, tt.period); err != nil {
				t.Fatal(err)
			}
			if c, p := rcq.Moderation(); c != tt.count || p != tt.period {
				t.Errorf("Moderation() = %d, %d", c, p)
			}
			if tt.arm && rcq.ReqNotify() {
				t.Fatal("ReqNotify reported missed completions on an empty CQ")
			}
			buf := make([]byte, 2048)
			payload := make([]byte, 100)
			for i := range 1000 {
				if err := qp.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{buf}}); err != nil {
					t.Fatal(err)
				}
				if err := s.qp.PostSend(&SendWR{SGL: [][]byte{payload}, AH: AH{DLID: lidB, DestQPN: qp.Num(), QKey: qkey}}); err != nil {
					t.Fatal(err)
				}
			}
			st := rcq.Stats()
			if st.Completions != 1000 || st.Events != tt.events {
				t.Errorf("completions %d events %d, want 1000 and %d", st.Completions, st.Events, tt.events)
			}
			if tt.period > 0 {
				f.clk.Advance(time.Duration(tt.period-1) * time.Microsecond)
				if got := rcq.Stats().Events; got != tt.afterPeriod {
					t.Errorf("events at period-1µs = %d, want %d", got, tt.afterPeriod)
				}
				f.clk.Advance(time.Microsecond)
				if got := rcq.Stats().Events; got != tt.afterPeriod2 {
					t.Errorf("events at period = %d, want %d", got, tt.afterPeriod2)
				}
			}
			if n.polled != tt.polled {
				t.Errorf("handler polled %d, want %d", n.polled, tt.polled)
			}
		})
	}
}

func TestCQArmingAndMissed(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	events := 0
	cq, _ := f.a.NewCQ(8, func() { events++ })
	wc := WC{WRID: 1}
	post := func() {
		t.Helper()
		ev, err := cq.post(&wc)
		if err != nil {
			t.Fatal(err)
		}
		if ev {
			cq.notify()
		}
	}
	post() // not armed
	if events != 0 {
		t.Fatalf("event without arming")
	}
	if !cq.ReqNotify() {
		t.Errorf("ReqNotify did not report the queued completion")
	}
	post()
	post() // one-shot: the second completion raises nothing
	if events != 1 {
		t.Errorf("events = %d, want 1", events)
	}
	var out [8]WC
	if n := cq.Poll(out[:2]); n != 2 {
		t.Errorf("Poll(2) = %d", n)
	}
	if n := cq.Poll(out[:]); n != 1 {
		t.Errorf("Poll = %d, want 1", n)
	}
	if cq.ReqNotify() {
		t.Errorf("ReqNotify reported missed events on an empty CQ")
	}
	wantErrno(t, cq.Modify(16, 10), unix.EOPNOTSUPP)
}

func TestCQOverflow(t *testing.T) {
	t.Run("send CQ", func(t *testing.T) {
		f := newFabric(t, fabricOpts{})
		s := newEnd(t, f.a, endOpts{typ: UD, cqDepth: 4, sigAll: true})
		r := newEnd(t, f.b, endOpts{typ: UD})
		udRTS(t, s.qp, 0)
		udRTS(t, r.qp, 0)
		ah := AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}
		for i := range 4 {
			if err := s.qp.PostSend(&SendWR{WRID: uint64(i), SGL: [][]byte{{1}}, AH: ah}); err != nil {
				t.Fatal(err)
			}
		}
		err := s.qp.PostSend(&SendWR{WRID: 4, SGL: [][]byte{{1}}, AH: ah})
		wantErrno(t, err, unix.EBUSY)
		if err.Error() != "verbs: cq_post: device or resource busy (completion queue overflow)" {
			t.Errorf("error text %q", err)
		}
		if !errors.Is(s.scq.Err(), unix.EBUSY) {
			t.Errorf("CQ Err = %v", s.scq.Err())
		}
		if got := s.qp.State(); got != QPError {
			t.Errorf("QP state = %v, want ERR", got)
		}
		// The packet itself went out; later posts flush into the dead CQ.
		if got := f.a.Stats().TxPackets; got != 5 {
			t.Errorf("TxPackets = %d, want 5", got)
		}
		wantErrno(t, s.qp.PostSend(&SendWR{WRID: 5, AH: ah}), unix.EBUSY)
		if diff := diff(CQStats{Completions: 4, Overflows: 2}, s.scq.Stats()); diff != "" {
			t.Errorf("CQ stats (-want +got):\n%s", diff)
		}
		// What was queued can still be polled.
		if got := poll(s, s.scq); len(got) != 4 || got[3].WRID != 3 {
			t.Errorf("polled %+v", got)
		}
	})
	// A UD WR that fails locally completes with its error; if that
	// completion overflows the send CQ, PostSend returns EBUSY too.
	t.Run("send CQ, local error", func(t *testing.T) {
		f := newFabric(t, fabricOpts{})
		s := newEnd(t, f.a, endOpts{typ: UD, cqDepth: 1, sigAll: true})
		udRTS(t, s.qp, 0)
		ah := AH{DLID: lidB, DestQPN: 0x48, QKey: qkey}
		if err := s.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{{1}}, AH: ah}); err != nil {
			t.Fatal(err)
		}
		err := s.qp.PostSend(&SendWR{WRID: 2, SGL: [][]byte{make([]byte, 4097)}, AH: ah})
		wantErrno(t, err, unix.EBUSY)
		if got := s.qp.State(); got != QPError {
			t.Errorf("QP state = %v, want ERR", got)
		}
		if diff := diff(CQStats{Completions: 1, Overflows: 1}, s.scq.Stats()); diff != "" {
			t.Errorf("CQ stats (-want +got):\n%s", diff)
		}
		if got := f.a.Stats().TxPackets; got != 1 {
			t.Errorf("TxPackets = %d, want 1", got)
		}
	})
	t.Run("recv CQ", func(t *testing.T) {
		f := newFabric(t, fabricOpts{})
		s := newEnd(t, f.a, endOpts{typ: UD})
		r := newEnd(t, f.b, endOpts{typ: UD, cqDepth: 2})
		udRTS(t, s.qp, 0)
		udRTS(t, r.qp, 0)
		for i := range 4 {
			if err := r.qp.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{make([]byte, 64)}}); err != nil {
				t.Fatal(err)
			}
		}
		for range 3 {
			if err := s.qp.PostSend(&SendWR{SGL: [][]byte{{1}}, AH: AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}}); err != nil {
				t.Fatal(err)
			}
		}
		if !errors.Is(r.rcq.Err(), unix.EBUSY) || r.qp.State() != QPError {
			t.Errorf("CQ err %v, QP state %v", r.rcq.Err(), r.qp.State())
		}
		// Third receive lost, then WQE 3 flushed into the dead CQ: both lost.
		if diff := diff(CQStats{Completions: 2, Overflows: 2}, r.rcq.Stats()); diff != "" {
			t.Errorf("CQ stats (-want +got):\n%s", diff)
		}
	})
	t.Run("RC recv CQ", func(t *testing.T) {
		f := newFabric(t, fabricOpts{})
		x := newEnd(t, f.a, endOpts{typ: RC, sigAll: true})
		y := newEnd(t, f.b, endOpts{typ: RC, cqDepth: 1})
		rcConnect(t, x.qp, y.qp, MTU4096, 7)
		for i := range 2 {
			if err := y.qp.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{make([]byte, 64)}}); err != nil {
				t.Fatal(err)
			}
			if err := x.qp.PostSend(&SendWR{WRID: uint64(10 + i), SGL: [][]byte{{1}}}); err != nil {
				t.Fatal(err)
			}
		}
		q := x.qp.Num()
		want := []WC{
			{WRID: 10, Status: WCSuccess, Opcode: WCSend, ByteLen: 1, QPNum: q},
			{WRID: 11, Status: WCRemOpErr, Opcode: WCSend, QPNum: q},
		}
		if diff := diff(want, poll(x, x.scq)); diff != "" {
			t.Errorf("send CQ (-want +got):\n%s", diff)
		}
		if x.qp.State() != QPError || y.qp.State() != QPError {
			t.Errorf("states %v, %v", x.qp.State(), y.qp.State())
		}
	})
}

func TestManualClock(t *testing.T) {
	clk := NewManualClock(time.Unix(0, 0))
	var fired []int
	a := clk.AfterFunc(30*time.Microsecond, func() { fired = append(fired, 30) })
	clk.AfterFunc(10*time.Microsecond, func() { fired = append(fired, 10) })
	clk.Advance(20 * time.Microsecond)
	if diff := diff([]int{10}, fired); diff != "" {
		t.Errorf("fired (-want +got):\n%s", diff)
	}
	if !a.Reset(5 * time.Microsecond) {
		t.Error("Reset of a pending timer reported false")
	}
	clk.Advance(5 * time.Microsecond)
	if diff := diff([]int{10, 30}, fired); diff != "" {
		t.Errorf("fired (-want +got):\n%s", diff)
	}
	if a.Stop() {
		t.Error("Stop of a fired timer reported true")
	}
	if got := clk.Now(); !got.Equal(time.Unix(0, 25000)) {
		t.Errorf("Now = %v", got)
	}
}

// A moderation change while the period timer runs: a period of 0 stops
// the timer, so the unreported completion waits for the next one; a
// new non-zero period leaves the running timer to report it at its
// deadline.
func TestCQModifyWhileTimerRuns(t *testing.T) {
	tests := []struct {
		name          string
		count, period uint16 // the second Modify
		pending       int    // armed timers after it
		events        uint64 // after the first period has passed
	}{
		{"period 0 stops the timer", 16, 0, 0, 0},
		{"count and period 0 stop it", 0, 0, 0, 0},
		{"a new period keeps it", 16, 50, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, cq := moderatedCQ(t)
			if err := cq.Modify(16, 100); err != nil {
				t.Fatal(err)
			}
			cq.ReqNotify()
			if ev, err := cq.post(&WC{WRID: 1}); ev || err != nil {
				t.Fatalf("post = %v, %v; want no event yet", ev, err)
			}
			if got := f.clk.Pending(); got != 1 {
				t.Fatalf("armed timers = %d, want the period timer", got)
			}
			if err := cq.Modify(tt.count, tt.period); err != nil {
				t.Fatal(err)
			}
			if got := f.clk.Pending(); got != tt.pending {
				t.Errorf("armed timers after Modify(%d, %d) = %d, want %d", tt.count, tt.period, got, tt.pending)
			}
			f.clk.Advance(100 * time.Microsecond)
			if got := cq.Stats().Events; got != tt.events {
				t.Errorf("events = %d, want %d", got, tt.events)
			}
		})
	}
}

// IBValue is the status's number in the kernel's enum ib_wc_status
// (include/rdma/ib_verbs.h), which drivers print; a value outside the
// emulation's statuses has none.
func TestWCStatusIBValue(t *testing.T) {
	tests := []struct {
		s    WCStatus
		want int
	}{
		{WCSuccess, 0},         // IB_WC_SUCCESS
		{WCLocLenErr, 1},       // IB_WC_LOC_LEN_ERR
		{WCLocQPOpErr, 2},      // IB_WC_LOC_QP_OP_ERR
		{WCLocProtErr, 4},      // IB_WC_LOC_PROT_ERR
		{WCWRFlushErr, 5},      // IB_WC_WR_FLUSH_ERR
		{WCRemInvReqErr, 9},    // IB_WC_REM_INV_REQ_ERR
		{WCRemAccessErr, 10},   // IB_WC_REM_ACCESS_ERR
		{WCRemOpErr, 11},       // IB_WC_REM_OP_ERR
		{WCRetryExcErr, 12},    // IB_WC_RETRY_EXC_ERR
		{WCRNRRetryExcErr, 13}, // IB_WC_RNR_RETRY_EXC_ERR
		{WCRNRRetryExcErr + 1, -1},
		{255, -1},
	}
	for _, tt := range tests {
		if got := tt.s.IBValue(); got != tt.want {
			t.Errorf("%v.IBValue() = %d, want %d", tt.s, got, tt.want)
		}
	}
}

// Pending reports completions that an event was raised for, or that a
// consumer has not re-armed the CQ for yet; completions of an armed CQ
// wait for its moderation and are not pending.
func TestCQPending(t *testing.T) {
	wc := WC{WRID: 1}
	tests := []struct {
		name string
		run  func(t *testing.T, cq *CQ)
		want bool
	}{
		{"empty", func(t *testing.T, cq *CQ) {}, false},
		{"empty and armed", func(t *testing.T, cq *CQ) { cq.ReqNotify() }, false},
		{"not armed", func(t *testing.T, cq *CQ) { mustPost(t, cq, &wc) }, true},
		{"event raised", func(t *testing.T, cq *CQ) {
			cq.ReqNotify()
			if ev := mustPost(t, cq, &wc); !ev {
				t.Fatal("no event")
			}
		}, true},
		{"waiting for its moderation", func(t *testing.T, cq *CQ) {
			if err := cq.Modify(4, 100); err != nil {
				t.Fatal(err)
			}
			cq.ReqNotify()
			if ev := mustPost(t, cq, &wc); ev {
				t.Fatal("event before the moderation's count or period")
			}
		}, false},
		{"polled empty", func(t *testing.T, cq *CQ) {
			mustPost(t, cq, &wc)
			var out [1]WC
			cq.Poll(out[:])
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cq := moderatedCQ(t)
			tt.run(t, cq)
			if got := cq.Pending(); got != tt.want {
				t.Errorf("Pending() = %v, want %v", got, tt.want)
			}
		})
	}
}

// moderatedCQ is a CQ of 8 completions without a handler on a device of
// a fabric that supports moderation.
func moderatedCQ(t *testing.T) (*fabric, *CQ) {
	t.Helper()
	f := newFabric(t, fabricOpts{moderation: true})
	cq, err := f.a.NewCQ(8, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, cq
}

// mustPost posts wc on cq and returns whether that raised an event.
func mustPost(t *testing.T, cq *CQ, wc *WC) bool {
	t.Helper()
	ev, err := cq.post(wc)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Next is the earliest armed timer's time: stopped and fired timers do
// not count.
func TestManualClockNext(t *testing.T) {
	start := time.Unix(0, 0)
	clk := NewManualClock(start)
	if _, ok := clk.Next(); ok {
		t.Fatal("Next with no timer reported one")
	}
	late := clk.AfterFunc(3*time.Second, func() {})
	clk.AfterFunc(2*time.Second, func() {})
	early := clk.AfterFunc(time.Second, func() {})
	for _, step := range []struct {
		do   func()
		want time.Duration // -1: none
	}{
		{func() {}, time.Second},
		{func() { early.Stop() }, 2 * time.Second},
		{func() { clk.Advance(2 * time.Second) }, 3 * time.Second},
		{func() { late.Stop() }, -1},
	} {
		step.do()
		when, ok := clk.Next()
		if step.want < 0 {
			if ok {
				t.Errorf("Next = %v, want none", when.Sub(start))
			}
			continue
		}
		if !ok || !when.Equal(start.Add(step.want)) {
			t.Errorf("Next = %v %v, want %v", when.Sub(start), ok, step.want)
		}
	}
}
