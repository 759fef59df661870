package verbs

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// reach drives a new QP to state s along the legal path.
func reach(t *testing.T, qp *QP, s QPState) {
	t.Helper()
	rcPeer := func(qp *QP) {
		mustModify(t, qp, QPAttr{State: QPRTR, DLID: lidB, PathMTU: MTU2048, DestQPN: 0x99, RQPSN: 1, MinRNRTimer: 1}, rcRTRMask)
	}
	steps := map[QPState][]QPState{
		QPReset: nil,
		QPInit:  {QPInit},
		QPRTR:   {QPInit, QPRTR},
		QPRTS:   {QPInit, QPRTR, QPRTS},
		QPError: {QPInit, QPError},
	}
	for _, st := range steps[s] {
		switch {
		case st == QPInit && qp.Type() == UD:
			mustModify(t, qp, QPAttr{State: QPInit, Port: 1, QKey: qkey}, AttrState|AttrPKeyIndex|AttrPort|AttrQKey)
		case st == QPInit:
			mustModify(t, qp, QPAttr{State: QPInit, Port: 1}, AttrState|AttrPKeyIndex|AttrPort)
		case st == QPRTR && qp.Type() == UD:
			mustModify(t, qp, QPAttr{State: QPRTR}, AttrState)
		case st == QPRTR:
			rcPeer(qp)
		case st == QPRTS && qp.Type() == UD:
			mustModify(t, qp, QPAttr{State: QPRTS, SQPSN: 5}, AttrState|AttrSQPSN)
		case st == QPRTS:
			mustModify(t, qp, QPAttr{State: QPRTS, SQPSN: 5, Timeout: 14, RetryCnt: 7, RNRRetry: 7}, rcRTSMask)
		case st == QPError:
			mustModify(t, qp, QPAttr{State: QPError}, AttrState)
		}
	}
	if got := qp.State(); got != s {
		t.Fatalf("reached %v, want %v", got, s)
	}
}

func TestModifyTransitions(t *testing.T) {
	udInit := AttrState | AttrPKeyIndex | AttrPort | AttrQKey
	rcInit := AttrState | AttrPKeyIndex | AttrPort
	rtr := QPAttr{State: QPRTR, DLID: lidB, PathMTU: MTU2048, DestQPN: 0x77, RQPSN: 9, MinRNRTimer: 3}
	rts := QPAttr{State: QPRTS, SQPSN: 3, Timeout: 14, RetryCnt: 7, RNRRetry: 7}
	tests := []struct {
		name string
		typ  QPType
		from QPState
		attr QPAttr
		mask AttrMask
		want QPState // state after the call
		err  string  // "" for success, else the *Error text
	}{
		// Legal transitions.
		{"UD reset-reset", UD, QPReset, QPAttr{State: QPReset}, AttrState, QPReset, ""},
		{"UD reset-init", UD, QPReset, QPAttr{State: QPInit, Port: 1, QKey: 1}, udInit, QPInit, ""},
		{"RC reset-init", RC, QPReset, QPAttr{State: QPInit, Port: 1}, rcInit, QPInit, ""},
		{"UD init-init qkey", UD, QPInit, QPAttr{QKey: 7}, AttrQKey, QPInit, ""},
		{"UD init-rtr", UD, QPInit, QPAttr{State: QPRTR}, AttrState, QPRTR, ""},
		{"UD init-rtr with qkey", UD, QPInit, QPAttr{State: QPRTR, QKey: 7}, AttrState | AttrQKey, QPRTR, ""},
		{"RC init-rtr", RC, QPInit, rtr, rcRTRMask, QPRTR, ""},
		{"UD rtr-rts", UD, QPRTR, QPAttr{State: QPRTS, SQPSN: 1}, AttrState | AttrSQPSN, QPRTS, ""},
		{"RC rtr-rts", RC, QPRTR, rts, rcRTSMask, QPRTS, ""},
		{"UD rts-rts qkey", UD, QPRTS, QPAttr{State: QPRTS, QKey: 8}, AttrState | AttrQKey, QPRTS, ""},
		{"RC rts-rts rnr timer", RC, QPRTS, QPAttr{MinRNRTimer: 5}, AttrMinRNRTimer, QPRTS, ""},
		{"UD init-err", UD, QPInit, QPAttr{State: QPError}, AttrState, QPError, ""},
		{"RC rtr-err", RC, QPRTR, QPAttr{State: QPError}, AttrState, QPError, ""},
		{"RC rts-err", RC, QPRTS, QPAttr{State: QPError}, AttrState, QPError, ""},
		{"UD err-err", UD, QPError, QPAttr{State: QPError}, AttrState, QPError, ""},
		{"UD init-reset", UD, QPInit, QPAttr{State: QPReset}, AttrState, QPReset, ""},
		{"RC rtr-reset", RC, QPRTR, QPAttr{State: QPReset}, AttrState, QPReset, ""},
		{"UD rts-reset", UD, QPRTS, QPAttr{State: QPReset}, AttrState, QPReset, ""},
		{"RC err-reset", RC, QPError, QPAttr{State: QPReset}, AttrState, QPReset, ""},

		// Illegal transitions.
		{"UD reset-rtr", UD, QPReset, QPAttr{State: QPRTR}, AttrState, QPReset,
			"verbs: modify_qp: invalid argument (RESET->RTR not allowed)"},
		{"UD reset-rts", UD, QPReset, QPAttr{State: QPRTS, SQPSN: 1}, AttrState | AttrSQPSN, QPReset,
			"verbs: modify_qp: invalid argument (RESET->RTS not allowed)"},
		{"UD reset-err", UD, QPReset, QPAttr{State: QPError}, AttrState, QPReset,
			"verbs: modify_qp: invalid argument (RESET->ERR not allowed)"},
		{"UD init-rts", UD, QPInit, QPAttr{State: QPRTS, SQPSN: 1}, AttrState | AttrSQPSN, QPInit,
			"verbs: modify_qp: invalid argument (INIT->RTS not allowed)"},
		{"RC rtr-init", RC, QPRTR, QPAttr{State: QPInit}, AttrState, QPRTR,
			"verbs: modify_qp: invalid argument (RTR->INIT not allowed)"},
		{"RC rtr-rtr", RC, QPRTR, QPAttr{State: QPRTR}, AttrState, QPRTR,
			"verbs: modify_qp: invalid argument (RTR->RTR not allowed)"},
		{"UD rts-rtr", UD, QPRTS, QPAttr{State: QPRTR}, AttrState, QPRTS,
			"verbs: modify_qp: invalid argument (RTS->RTR not allowed)"},
		{"UD err-rts", UD, QPError, QPAttr{State: QPRTS}, AttrState, QPError,
			"verbs: modify_qp: invalid argument (ERR->RTS not allowed)"},
		{"UD err-init", UD, QPError, QPAttr{State: QPInit}, AttrState, QPError,
			"verbs: modify_qp: invalid argument (ERR->INIT not allowed)"},
		{"UD bad state value", UD, QPInit, QPAttr{State: 4}, AttrState, QPInit,
			"verbs: modify_qp: invalid argument (INIT->QPState(4) not allowed)"},

		// Missing required attributes.
		{"UD init without qkey", UD, QPReset, QPAttr{State: QPInit, Port: 1}, rcInit, QPReset,
			"verbs: modify_qp: invalid argument (RESET->INIT UD requires QKEY)"},
		{"RC rtr without dest", RC, QPInit, rtr, rcRTRMask &^ (AttrDestQPN | AttrRQPSN), QPInit,
			"verbs: modify_qp: invalid argument (INIT->RTR RC requires RQ_PSN|DEST_QPN)"},
		{"RC rtr without av", RC, QPInit, rtr, rcRTRMask &^ AttrAV, QPInit,
			"verbs: modify_qp: invalid argument (INIT->RTR RC requires AV)"},
		{"RC rts without retries", RC, QPRTR, rts, rcRTSMask &^ (AttrRetryCnt | AttrRNRRetry), QPRTR,
			"verbs: modify_qp: invalid argument (RTR->RTS RC requires RETRY_CNT|RNR_RETRY)"},
		{"UD rts without sq psn", UD, QPRTR, QPAttr{State: QPRTS}, AttrState, QPRTR,
			"verbs: modify_qp: invalid argument (RTR->RTS UD requires SQ_PSN)"},

		// Attributes not allowed for the transition.
		{"UD rtr with sq psn", UD, QPInit, QPAttr{State: QPRTR}, AttrState | AttrSQPSN, QPInit,
			"verbs: modify_qp: invalid argument (SQ_PSN not allowed for UD INIT->RTR)"},
		{"RC init with qkey", RC, QPReset, QPAttr{State: QPInit, Port: 1}, rcInit | AttrQKey, QPReset,
			"verbs: modify_qp: invalid argument (QKEY not allowed for RC RESET->INIT)"},
		{"RC rts-rts path mtu", RC, QPRTS, QPAttr{PathMTU: MTU1024}, AttrPathMTU, QPRTS,
			"verbs: modify_qp: invalid argument (PATH_MTU not allowed for RC RTS->RTS)"},

		// Values out of range.
		{"port 2", UD, QPReset, QPAttr{State: QPInit, Port: 2}, udInit, QPReset,
			"verbs: modify_qp: invalid argument (invalid port)"},
		{"pkey index", UD, QPReset, QPAttr{State: QPInit, Port: 1, PKeyIndex: 4}, udInit, QPReset,
			"verbs: modify_qp: invalid argument (P_Key index out of range)"},
		{"path mtu above port", RC, QPInit, func() QPAttr { a := rtr; a.PathMTU = MTU4096; return a }(), rcRTRMask, QPInit,
			"verbs: modify_qp: invalid argument (invalid path MTU)"},
		{"multicast dlid", RC, QPInit, func() QPAttr { a := rtr; a.DLID = 0xC000; return a }(), rcRTRMask, QPInit,
			"verbs: modify_qp: invalid argument (invalid DLID)"},
		{"rnr retry 8", RC, QPRTR, func() QPAttr { a := rts; a.RNRRetry = 8; return a }(), rcRTSMask, QPRTR,
			"verbs: modify_qp: invalid argument (invalid retry count)"},
		{"psn 25 bits", UD, QPRTR, QPAttr{State: QPRTS, SQPSN: 1 << 24}, AttrState | AttrSQPSN, QPRTR,
			"verbs: modify_qp: invalid argument (invalid PSN)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{mtu: MTU2048})
			e := newEnd(t, f.a, endOpts{typ: tt.typ})
			reach(t, e.qp, tt.from)
			before := e.qp.Query()
			err := e.qp.Modify(tt.attr, tt.mask)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
			} else {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("Modify error = %v, want %q", err, tt.err)
				}
				wantErrno(t, err, unix.EINVAL)
				if diff := diff(before, e.qp.Query()); diff != "" {
					t.Errorf("attributes changed after a failed Modify (-before +after):\n%s", diff)
				}
			}
			if got := e.qp.State(); got != tt.want {
				t.Errorf("state = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestModifyAppliesAttributes(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	x := newEnd(t, f.a, endOpts{typ: RC})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU1024, 5)
	want := QPAttr{
		State: QPRTS, Port: 1, DLID: lidB, PathMTU: MTU1024, DestQPN: y.qp.Num(),
		RQPSN: psnOf(y.qp), SQPSN: psnOf(x.qp), MinRNRTimer: rnrCode, Timeout: 14, RetryCnt: 7, RNRRetry: 5,
	}
	if diff := diff(want, x.qp.Query()); diff != "" {
		t.Errorf("Query (-want +got):\n%s", diff)
	}
	mustModify(t, x.qp, QPAttr{State: QPReset}, AttrState)
	if diff := diff(QPAttr{}, x.qp.Query()); diff != "" {
		t.Errorf("Query after reset (-want +got):\n%s", diff)
	}
}

func TestPostInWrongState(t *testing.T) {
	for _, typ := range []QPType{UD, RC} {
		for _, st := range []QPState{QPReset, QPInit, QPRTR} {
			t.Run(typ.String()+"/"+st.String(), func(t *testing.T) {
				f := newFabric(t, fabricOpts{})
				e := newEnd(t, f.a, endOpts{typ: typ})
				reach(t, e.qp, st)
				err := e.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{make([]byte, 10)}, AH: AH{DLID: lidB, DestQPN: 0x48, QKey: qkey}})
				want := "verbs: post_send: invalid argument (QP in state " + st.String() + ")"
				if err == nil || err.Error() != want {
					t.Fatalf("PostSend = %v, want %q", err, want)
				}
				wantErrno(t, err, unix.EINVAL)
				if s := f.a.Stats(); s.TxPackets != 0 {
					t.Errorf("TxPackets = %d, want 0", s.TxPackets)
				}
				if got := e.scq.Stats().Completions; got != 0 {
					t.Errorf("send completions = %d, want 0", got)
				}
				if got := e.qp.State(); got != st {
					t.Errorf("state = %v, want %v", got, st)
				}
				err = e.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{make([]byte, 100)}})
				if st == QPReset {
					wantErrno(t, err, unix.EINVAL)
				} else if err != nil {
					t.Errorf("PostRecv in %v: %v", st, err)
				}
			})
		}
	}
}

func TestErrorStateFlushes(t *testing.T) {
	f := newFabric(t, fabricOpts{queued: true})
	x := newEnd(t, f.a, endOpts{typ: RC})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	for i := range 3 {
		if err := x.qp.PostRecv(&RecvWR{WRID: uint64(10 + i), SGL: [][]byte{make([]byte, 64)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Two sends go out but stay unacknowledged in the queued wire.
	for i := range 2 {
		if err := x.qp.PostSend(&SendWR{WRID: uint64(20 + i), Signaled: true, SGL: [][]byte{make([]byte, 100)}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.lb.Pending(); got != 2 {
		t.Fatalf("pending packets = %d, want 2", got)
	}
	mustModify(t, x.qp, QPAttr{State: QPError}, AttrState)
	if err := x.qp.PostSend(&SendWR{WRID: 30, SGL: [][]byte{make([]byte, 8)}}); err != nil {
		t.Fatalf("PostSend in ERR: %v", err)
	}
	if err := x.qp.PostRecv(&RecvWR{WRID: 31}); err != nil {
		t.Fatalf("PostRecv in ERR: %v", err)
	}
	q := x.qp.Num()
	wantSend := []WC{
		{WRID: 20, Status: WCWRFlushErr, Opcode: WCSend, QPNum: q},
		{WRID: 21, Status: WCWRFlushErr, Opcode: WCSend, QPNum: q},
		{WRID: 30, Status: WCWRFlushErr, Opcode: WCSend, QPNum: q},
	}
	wantRecv := []WC{
		{WRID: 10, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: q},
		{WRID: 11, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: q},
		{WRID: 12, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: q},
		{WRID: 31, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: q},
	}
	if diff := diff(wantSend, poll(x, x.scq)); diff != "" {
		t.Errorf("send CQ (-want +got):\n%s", diff)
	}
	if diff := diff(wantRecv, poll(x, x.rcq)); diff != "" {
		t.Errorf("recv CQ (-want +got):\n%s", diff)
	}
	// The peer's ACKs reach a QP in ERR and are dropped.
	if err := y.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	if err := y.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	f.lb.Flush()
	if got := f.a.Stats().DropQPState; got != 2 {
		t.Errorf("DropQPState = %d, want 2 (ACKs to a QP in ERR)", got)
	}
	if got := x.scq.Stats().Completions; got != 3 {
		t.Errorf("send completions = %d, want 3", got)
	}
}

func TestQueueLimits(t *testing.T) {
	f := newFabric(t, fabricOpts{queued: true})
	x := newEnd(t, f.a, endOpts{typ: RC, maxSend: 2, maxRecv: 2, maxSGE: 2})
	y := newEnd(t, f.b, endOpts{typ: RC})
	rcConnect(t, x.qp, y.qp, MTU4096, 7)
	buf := make([]byte, 16)
	for i := range 2 {
		if err := x.qp.PostSend(&SendWR{WRID: uint64(i), SGL: [][]byte{buf}}); err != nil {
			t.Fatal(err)
		}
		if err := x.qp.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{buf}}); err != nil {
			t.Fatal(err)
		}
	}
	err := x.qp.PostSend(&SendWR{WRID: 2, SGL: [][]byte{buf}})
	wantErrno(t, err, unix.ENOMEM)
	if err.Error() != "verbs: post_send: cannot allocate memory (send queue full)" {
		t.Errorf("error text %q", err)
	}
	wantErrno(t, x.qp.PostRecv(&RecvWR{WRID: 2, SGL: [][]byte{buf}}), unix.ENOMEM)
	wantErrno(t, x.qp.PostSend(&SendWR{SGL: [][]byte{buf, buf, buf}}), unix.EINVAL)
	wantErrno(t, x.qp.PostRecv(&RecvWR{SGL: [][]byte{buf, buf, buf}}), unix.EINVAL)
	if got := f.lb.Pending(); got != 2 {
		t.Errorf("pending = %d, want 2", got)
	}
	// Once acknowledged, the SQ has room again.
	if err := y.qp.PostRecv(&RecvWR{SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	if err := y.qp.PostRecv(&RecvWR{SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	f.lb.Flush()
	if err := x.qp.PostSend(&SendWR{WRID: 3, SGL: [][]byte{buf}}); err != nil {
		t.Errorf("PostSend after ACK: %v", err)
	}

	srq, err := f.b.NewSRQ(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := srq.PostRecv(&RecvWR{SGL: [][]byte{buf}}); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, srq.PostRecv(&RecvWR{SGL: [][]byte{buf}}), unix.ENOMEM)
	wantErrno(t, srq.PostRecv(&RecvWR{SGL: [][]byte{buf, buf}}), unix.EINVAL)
	z := newEnd(t, f.b, endOpts{typ: RC, srq: srq})
	wantErrno(t, z.qp.PostRecv(&RecvWR{SGL: [][]byte{buf}}), unix.EINVAL)
	// a destroyed SRQ drops its WRs and their buffers and takes no more
	srq.Destroy()
	if n := srq.Len(); n != 0 {
		t.Errorf("destroyed SRQ holds %d WRs", n)
	}
	for _, b := range srq.ring.buf[0].sgl[:cap(srq.ring.buf[0].sgl)] {
		if b != nil {
			t.Error("destroyed SRQ keeps a buffer")
		}
	}
	wantErrno(t, srq.PostRecv(&RecvWR{SGL: [][]byte{buf}}), unix.EINVAL)
}

func TestCreateErrors(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	cq, _ := f.a.NewCQ(4, nil)
	tests := []struct {
		name string
		init QPInitAttr
		msg  string
	}{
		{"type", QPInitAttr{Type: 3, SendCQ: cq, RecvCQ: cq, MaxSend: 1, MaxRecv: 1, MaxSGE: 1}, "unsupported QP type"},
		{"no cq", QPInitAttr{Type: UD, SendCQ: cq, MaxSend: 1, MaxRecv: 1, MaxSGE: 1}, "send and receive CQs are required"},
		{"send depth", QPInitAttr{Type: UD, SendCQ: cq, RecvCQ: cq, MaxRecv: 1, MaxSGE: 1}, "max_send_wr out of range"},
		{"recv depth", QPInitAttr{Type: UD, SendCQ: cq, RecvCQ: cq, MaxSend: 1, MaxSGE: 1}, "max_recv_wr out of range"},
		{"sge", QPInitAttr{Type: UD, SendCQ: cq, RecvCQ: cq, MaxSend: 1, MaxRecv: 1, MaxSGE: 33}, "max_sge out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.a.CreateQP(tt.init)
			wantErrno(t, err, unix.EINVAL)
			var ve *Error
			errors.As(err, &ve)
			if ve.Op != "create_qp" || ve.Msg != tt.msg {
				t.Errorf("error = %+v, want op create_qp msg %q", ve, tt.msg)
			}
		})
	}
	if _, err := f.a.NewCQ(0, nil); !errors.Is(err, unix.EINVAL) {
		t.Errorf("NewCQ(0) = %v", err)
	}
	if _, err := f.a.NewSRQ(4, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("NewSRQ(4, 0) = %v", err)
	}
	if _, err := NewDevice(DeviceOptions{MTU: 9}); !errors.Is(err, unix.EINVAL) {
		t.Errorf("NewDevice(MTU 9) = %v", err)
	}
}

func TestQPNumbers(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	var nums []uint32
	var ends []*end
	for range 3 {
		e := newEnd(t, f.b, endOpts{typ: UD})
		udRTS(t, e.qp, 0)
		ends = append(ends, e)
		nums = append(nums, e.qp.Num())
	}
	if diff := diff([]uint32{0x48, 0x49, 0x4a}, nums); diff != "" {
		t.Errorf("QPNs (-want +got):\n%s", diff)
	}
	ends[1].qp.Destroy()
	if got := ends[1].qp.State(); got != QPReset {
		t.Errorf("destroyed QP state = %v", got)
	}
	s := newEnd(t, f.a, endOpts{typ: UD})
	udRTS(t, s.qp, 0)
	if err := s.qp.PostSend(&SendWR{SGL: [][]byte{{1}}, AH: AH{DLID: lidB, DestQPN: 0x49, QKey: qkey}}); err != nil {
		t.Fatal(err)
	}
	if got := f.b.Stats().DropNoQP; got != 1 {
		t.Errorf("DropNoQP = %d, want 1", got)
	}
	// The next QPN continues upward rather than reusing 0x49 at once.
	if e := newEnd(t, f.b, endOpts{typ: UD}); e.qp.Num() != 0x4b {
		t.Errorf("next QPN = %#x, want 0x4b", e.qp.Num())
	}
}

func TestStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{QPReset.String(), "RESET"}, {QPInit.String(), "INIT"}, {QPRTR.String(), "RTR"},
		{QPRTS.String(), "RTS"}, {QPError.String(), "ERR"}, {QPState(5).String(), "QPState(5)"},
		{UD.String(), "UD"}, {RC.String(), "RC"}, {QPType(9).String(), "QPType(9)"},
		{WCSuccess.String(), "success"}, {WCWRFlushErr.String(), "WR flushed"},
		{WCRNRRetryExcErr.String(), "RNR retry counter exceeded"}, {WCLocLenErr.String(), "local length error"},
		{WCStatus(99).String(), "WCStatus(99)"},
		{WCSend.String(), "SEND"}, {WCRecv.String(), "RECV"},
		{WRSendWithImm.String(), "SEND_WITH_IMM"},
		{OpUDSendOnly.String(), "UD_SEND_ONLY"}, {OpRCSendFirst.String(), "RC_SEND_FIRST"},
		{OpRCRNRNak.String(), "RC_RNR_NAK"}, {OpRCNak.String(), "RC_NAK"},
		{Opcode(11).String(), "Opcode(11)"}, {Opcode(200).String(), "Opcode(200)"},
		{NakInvalidReq.String(), "INVALID_REQ"},
		{MTU4096.String(), "4096"}, {MTU(0).String(), "MTU(0)"},
		{(AttrState | AttrQKey | AttrDestQPN).String(), "STATE|QKEY|DEST_QPN"},
		{AttrMask(0).String(), "0"}, {AttrMask(1 << 20).String(), "AttrMask(0x100000)"},
		{reqRNRWait.String(), "RNR_WAIT"}, {respErrRNR.String(), "ERR_RNR"}, {compRNRRetry.String(), "RNR_RETRY"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	for m, want := range map[MTU]int{MTU256: 256, MTU512: 512, MTU1024: 1024, MTU2048: 2048, MTU4096: 4096, 6: 0} {
		if got := m.Bytes(); got != want {
			t.Errorf("%v.Bytes() = %d, want %d", m, got, want)
		}
	}
}

func TestCreateQPWithNumber(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	cq, err := f.a.NewCQ(16, nil)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(n uint32) (*QP, error) {
		return f.a.CreateQP(QPInitAttr{Type: UD, SendCQ: cq, RecvCQ: cq, MaxSend: 4, MaxRecv: 4, MaxSGE: 1, QPN: n})
	}
	qp, err := mk(0x208)
	if err != nil || qp.Num() != 0x208 {
		t.Fatalf("QPN 0x208: %v %v", qp, err)
	}
	if _, err := mk(0x208); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second 0x208: %v", err)
	}
	// Below 0x48 only QP1 (the GSI QP, a UD QP) can be had.
	if _, err := mk(2); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("QPN 2: %v", err)
	}
	if qp, err := mk(GSIQPN); err != nil || qp.Num() != 1 {
		t.Fatalf("QPN 1: %v %v", qp, err)
	}
	if _, err := f.a.CreateQP(QPInitAttr{Type: RC, SendCQ: cq, RecvCQ: cq, MaxSend: 4, MaxRecv: 4, MaxSGE: 1, QPN: GSIQPN}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("RC QPN 1: %v", err)
	}
}

// PostRecvList posts in order and stops at the first WR PostRecv would
// refuse: too many SGEs, a full queue; in Error each WR flushes.
func TestPostRecvList(t *testing.T) {
	buf := make([]byte, 16)
	wrs := func(ids ...uint64) []RecvWR {
		out := make([]RecvWR, len(ids))
		for i, id := range ids {
			out[i] = RecvWR{WRID: id, SGL: [][]byte{buf}}
		}
		return out
	}
	f := newFabric(t, fabricOpts{})
	x := newEnd(t, f.a, endOpts{typ: UD, maxRecv: 4, maxSGE: 1})
	mustModify(t, x.qp, QPAttr{State: QPInit, Port: 1, QKey: 1}, AttrState|AttrPKeyIndex|AttrPort|AttrQKey)
	bad := wrs(1, 2, 3)
	bad[1].SGL = [][]byte{buf, buf}
	n, err := x.qp.PostRecvList(bad)
	if n != 1 {
		t.Errorf("posted %d before the WR with too many SGEs, want 1", n)
	}
	wantErrno(t, err, unix.EINVAL)
	n, err = x.qp.PostRecvList(wrs(4, 5, 6, 7))
	if n != 3 {
		t.Errorf("posted %d into 3 free slots", n)
	}
	wantErrno(t, err, unix.ENOMEM)
	mustModify(t, x.qp, QPAttr{State: QPError}, AttrState)
	poll(x, x.rcq)
	if n, err := x.qp.PostRecvList(wrs(8, 9)); n != 2 || err != nil {
		t.Fatalf("in Error: %d, %v", n, err)
	}
	want := []WC{{WRID: 8, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: x.qp.Num()}, {WRID: 9, Status: WCWRFlushErr, Opcode: WCRecv, QPNum: x.qp.Num()}}
	if d := diff(want, poll(x, x.rcq)); d != "" {
		t.Errorf("recv CQ (-want +got):\n%s", d)
	}

	srq, err := f.b.NewSRQ(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	n, err = srq.PostRecvList(wrs(1, 2, 3))
	if n != 2 || srq.Len() != 2 {
		t.Errorf("SRQ: posted %d (Len %d) into 2 slots", n, srq.Len())
	}
	wantErrno(t, err, unix.ENOMEM)
	y := newEnd(t, f.b, endOpts{typ: RC, srq: srq})
	if _, err := y.qp.PostRecvList(wrs(1)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("PostRecvList on a QP with an SRQ: %v, want EINVAL", err)
	}
}

// Modify takes each attribute up to its limit and refuses one beyond it
// with EINVAL, changing nothing: a unicast DLID (not 0, not 0xC000-0xFFFE),
// a path MTU the port supports, the IBA's field widths (24-bit QPNs and
// PSNs, 5-bit timer codes, 3-bit retry counts), port 1 and a P_Key index
// inside the table (4 entries here).
func TestModifyValueBounds(t *testing.T) {
	rtr := QPAttr{State: QPRTR, DLID: lidB, PathMTU: MTU2048, DestQPN: 0x77, RQPSN: 9, MinRNRTimer: 3}
	rts := QPAttr{State: QPRTS, SQPSN: 3, Timeout: 14, RetryCnt: 7, RNRRetry: 7}
	initRC := QPAttr{State: QPInit, Port: 1}
	const initMask = AttrState | AttrPKeyIndex | AttrPort
	tests := []struct {
		name string
		from QPState
		base QPAttr
		mask AttrMask
		set  func(a *QPAttr)
		err  string // "" when accepted
	}{
		{"P_Key index 3", QPReset, initRC, initMask, func(a *QPAttr) { a.PKeyIndex = 3 }, ""},
		{"port 0", QPReset, initRC, initMask, func(a *QPAttr) { a.Port = 0 }, "invalid port"},
		{"DLID 0", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.DLID = 0 }, "invalid DLID"},
		{"DLID 0xBFFF", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.DLID = 0xBFFF }, ""},
		{"DLID 0xFFFE", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.DLID = 0xFFFE }, "invalid DLID"},
		{"path MTU 256", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.PathMTU = MTU256 }, ""},
		{"path MTU 0", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.PathMTU = 0 }, "invalid path MTU"},
		{"dest QPN 0xFFFFFF", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.DestQPN = 0xFFFFFF }, ""},
		{"dest QPN 2^24", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.DestQPN = 1 << 24 }, "invalid destination QPN"},
		{"RQ PSN 0xFFFFFF", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.RQPSN = 0xFFFFFF }, ""},
		{"RQ PSN 2^24", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.RQPSN = 1 << 24 }, "invalid PSN"},
		{"RNR timer 31", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.MinRNRTimer = 31 }, ""},
		{"RNR timer 32", QPInit, rtr, rcRTRMask, func(a *QPAttr) { a.MinRNRTimer = 32 }, "invalid timer value"},
		{"SQ PSN 0xFFFFFF", QPRTR, rts, rcRTSMask, func(a *QPAttr) { a.SQPSN = 0xFFFFFF }, ""},
		{"timeout 31", QPRTR, rts, rcRTSMask, func(a *QPAttr) { a.Timeout = 31 }, ""},
		{"timeout 32", QPRTR, rts, rcRTSMask, func(a *QPAttr) { a.Timeout = 32 }, "invalid timer value"},
		{"retry count 8", QPRTR, rts, rcRTSMask, func(a *QPAttr) { a.RetryCnt = 8 }, "invalid retry count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{mtu: MTU2048})
			e := newEnd(t, f.a, endOpts{typ: RC})
			reach(t, e.qp, tt.from)
			before := e.qp.Query()
			a := tt.base
			tt.set(&a)
			err := e.qp.Modify(a, tt.mask)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Modify: %v", err)
				}
				// Query holds the value set: setting it again
				// changes nothing.
				got := e.qp.Query()
				want := got
				tt.set(&want)
				if got != want || got.State != a.State {
					t.Errorf("Query = %+v, want state %v and %s", got, a.State, tt.name)
				}
				return
			}
			if want := "verbs: modify_qp: invalid argument (" + tt.err + ")"; err == nil || err.Error() != want {
				t.Fatalf("Modify = %v, want %q", err, want)
			}
			if d := diff(before, e.qp.Query()); d != "" {
				t.Errorf("attributes changed after a refused Modify (-before +after):\n%s", d)
			}
		})
	}
}
