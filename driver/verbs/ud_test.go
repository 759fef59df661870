package verbs

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUDRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		grh     bool
		imm     bool
		sendSGL []int // sizes
		recvSGL []int
	}{
		{"no GRH", false, false, []int{2044}, []int{2048 + 40}},
		{"GRH", true, false, []int{2044}, []int{2048 + 40}},
		{"GRH split buffers", true, true, []int{10, 1000, 1034}, []int{24, 1000, 2000}},
		{"empty payload", true, false, nil, []int{40}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{})
			s := newEnd(t, f.a, endOpts{typ: UD, sigAll: true})
			r := newEnd(t, f.b, endOpts{typ: UD})
			udRTS(t, s.qp, 0)
			udRTS(t, r.qp, 0)
			var payload []byte
			var sgl [][]byte
			for i, n := range tt.sendSGL {
				b := pattern(n, byte(i+1))
				sgl = append(sgl, b)
				payload = append(payload, b...)
			}
			var rsgl [][]byte
			for _, n := range tt.recvSGL {
				b := make([]byte, n)
				for i := range b {
					b[i] = 0xEE
				}
				rsgl = append(rsgl, b)
			}
			if err := r.qp.PostRecv(&RecvWR{WRID: 77, SGL: rsgl}); err != nil {
				t.Fatal(err)
			}
			wr := SendWR{WRID: 5, SGL: sgl, AH: AH{DLID: lidB, GRH: tt.grh, DGID: gidB, DestQPN: r.qp.Num(), QKey: qkey}}
			if tt.imm {
				wr.Opcode, wr.Imm = WRSendWithImm, 0xCAFE
			}
			if err := s.qp.PostSend(&wr); err != nil {
				t.Fatal(err)
			}

			wantSend := []WC{{WRID: 5, Status: WCSuccess, Opcode: WCSend, ByteLen: uint32(len(payload)), QPNum: s.qp.Num()}}
			if diff := diff(wantSend, poll(s, s.scq)); diff != "" {
				t.Errorf("send CQ (-want +got):\n%s", diff)
			}
			wantRecv := WC{
				WRID: 77, Status: WCSuccess, Opcode: WCRecv, ByteLen: uint32(40 + len(payload)),
				QPNum: r.qp.Num(), SrcQP: s.qp.Num(), SLID: lidA,
			}
			if tt.grh {
				wantRecv.GRH, wantRecv.SGID = true, gidA
			}
			if tt.imm {
				wantRecv.WithImm, wantRecv.Imm = true, 0xCAFE
			}
			if diff := diff([]WC{wantRecv}, poll(r, r.rcq)); diff != "" {
				t.Errorf("recv CQ (-want +got):\n%s", diff)
			}

			var got []byte
			for _, b := range rsgl {
				got = append(got, b...)
			}
			var grh [40]byte
			if tt.grh {
				payLen := 24 + len(payload)
				if tt.imm {
					payLen += 4
				}
				grh[0] = 0x60
				binary.BigEndian.PutUint16(grh[4:], uint16(payLen))
				grh[6], grh[7] = 0x1B, 0xFF
				copy(grh[8:], gidA[:])
				copy(grh[24:], gidB[:])
			}
			equalBytes(t, "GRH", got[:40], grh[:])
			equalBytes(t, "payload", got[40:40+len(payload)], payload)
			for i, c := range got[40+len(payload):] {
				if c != 0xEE {
					t.Fatalf("byte %d past the message was written", 40+len(payload)+i)
				}
			}
			want := Stats{TxPackets: 1}
			if diff := diff(want, f.a.Stats()); diff != "" {
				t.Errorf("sender stats (-want +got):\n%s", diff)
			}
			if diff := diff(Stats{RxPackets: 1}, f.b.Stats()); diff != "" {
				t.Errorf("receiver stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUDDrops(t *testing.T) {
	type setup struct {
		sendPKeyIndex, recvPKeyIndex uint16
		qkey                         uint32
		noRecv                       bool
		destQPN                      uint32 // 0: the receiver
		recvInit                     bool   // receiver left in INIT
	}
	// P_Key tables: 0 = 0xFFFF, 1 = 0x8001 (full), 2 = 0x0001 (limited), 3 = 0x8002.
	tests := []struct {
		name      string
		s         setup
		delivered bool
		want      Stats // receiver
	}{
		{"delivered", setup{qkey: qkey}, true, Stats{RxPackets: 1}},
		{"no receive posted", setup{qkey: qkey, noRecv: true}, false, Stats{RxPackets: 1, DropNoRecv: 1}},
		{"bad Q_Key", setup{qkey: qkey + 1}, false, Stats{RxPackets: 1, DropBadQKey: 1}},
		{"QP's own Q_Key", setup{qkey: 0x80000000}, true, Stats{RxPackets: 1}},
		{"P_Key mismatch", setup{qkey: qkey, sendPKeyIndex: 1, recvPKeyIndex: 3}, false, Stats{RxPackets: 1, DropBadPKey: 1}},
		{"limited to limited", setup{qkey: qkey, sendPKeyIndex: 2, recvPKeyIndex: 2}, false, Stats{RxPackets: 1, DropBadPKey: 1}},
		{"full to limited", setup{qkey: qkey, sendPKeyIndex: 1, recvPKeyIndex: 2}, true, Stats{RxPackets: 1}},
		{"limited to full", setup{qkey: qkey, sendPKeyIndex: 2, recvPKeyIndex: 1}, true, Stats{RxPackets: 1}},
		{"unknown QPN", setup{qkey: qkey, destQPN: 0x1234}, false, Stats{RxPackets: 1, DropNoQP: 1}},
		{"receiver in INIT", setup{qkey: qkey, recvInit: true}, false, Stats{RxPackets: 1, DropQPState: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{})
			s := newEnd(t, f.a, endOpts{typ: UD})
			r := newEnd(t, f.b, endOpts{typ: UD})
			udRTS(t, s.qp, tt.s.sendPKeyIndex)
			if tt.s.recvInit {
				mustModify(t, r.qp, QPAttr{State: QPInit, PKeyIndex: tt.s.recvPKeyIndex, Port: 1, QKey: qkey}, AttrState|AttrPKeyIndex|AttrPort|AttrQKey)
			} else {
				udRTS(t, r.qp, tt.s.recvPKeyIndex)
			}
			if !tt.s.noRecv {
				if err := r.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 256)}}); err != nil {
					t.Fatal(err)
				}
			}
			dest := r.qp.Num()
			if tt.s.destQPN != 0 {
				dest = tt.s.destQPN
			}
			if err := s.qp.PostSend(&SendWR{WRID: 9, Signaled: true, SGL: [][]byte{make([]byte, 100)}, AH: AH{DLID: lidB, DestQPN: dest, QKey: tt.s.qkey}}); err != nil {
				t.Fatal(err)
			}
			// The sender completes either way: UD is unreliable.
			if got := poll(s, s.scq); len(got) != 1 || got[0].Status != WCSuccess {
				t.Errorf("send CQ = %+v", got)
			}
			if diff := diff(tt.want, f.b.Stats()); diff != "" {
				t.Errorf("receiver stats (-want +got):\n%s", diff)
			}
			wantRecv := 0
			if tt.delivered {
				wantRecv = 1
			}
			if got := len(poll(r, r.rcq)); got != wantRecv {
				t.Errorf("receive completions = %d, want %d", got, wantRecv)
			}
		})
	}
}

func TestUDLengthErrors(t *testing.T) {
	f := newFabric(t, fabricOpts{mtu: MTU2048})
	s := newEnd(t, f.a, endOpts{typ: UD})
	r := newEnd(t, f.b, endOpts{typ: UD})
	udRTS(t, s.qp, 0)
	udRTS(t, r.qp, 0)
	for i := range 2 {
		if err := r.qp.PostRecv(&RecvWR{WRID: uint64(100 + i), SGL: [][]byte{make([]byte, 40+2048)}}); err != nil {
			t.Fatal(err)
		}
	}
	ah := AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}
	// 2049 bytes exceed the 2048-byte MTU: a local length error, nothing sent.
	if err := s.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{make([]byte, 2000), make([]byte, 49)}, AH: ah}); err != nil {
		t.Fatal(err)
	}
	// Exactly the MTU goes through, unsignaled.
	if err := s.qp.PostSend(&SendWR{WRID: 2, SGL: [][]byte{make([]byte, 2048)}, AH: ah}); err != nil {
		t.Fatal(err)
	}
	want := []WC{{WRID: 1, Status: WCLocLenErr, Opcode: WCSend, ByteLen: 2049, QPNum: s.qp.Num()}}
	if diff := diff(want, poll(s, s.scq)); diff != "" {
		t.Errorf("send CQ (-want +got):\n%s", diff)
	}
	if got := f.a.Stats().TxPackets; got != 1 {
		t.Errorf("TxPackets = %d, want 1", got)
	}
	if got := s.qp.State(); got != QPRTS {
		t.Errorf("state after LocLenErr = %v, want RTS", got)
	}
	// A receive buffer too small for GRH + payload: LocLenErr on the receiver.
	if err := r.qp.Modify(QPAttr{State: QPReset}, AttrState); err != nil {
		t.Fatal(err)
	}
	udRTS(t, r.qp, 0)
	if err := r.qp.PostRecv(&RecvWR{WRID: 200, SGL: [][]byte{make([]byte, 40+99)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.qp.PostSend(&SendWR{WRID: 3, SGL: [][]byte{make([]byte, 100)}, AH: ah}); err != nil {
		t.Fatal(err)
	}
	wantRecv := []WC{
		{WRID: 100, Status: WCSuccess, Opcode: WCRecv, ByteLen: 40 + 2048, QPNum: r.qp.Num(), SrcQP: s.qp.Num(), SLID: lidA},
		// (WRID 101 was dropped by the reset.)
	}
	got := poll(r, r.rcq)
	if diff := diff(wantRecv, got[:1]); diff != "" {
		t.Errorf("recv CQ (-want +got):\n%s", diff)
	}
	if diff := diff([]WC{{WRID: 200, Status: WCLocLenErr, Opcode: WCRecv, QPNum: r.qp.Num()}}, got[1:]); diff != "" {
		t.Errorf("recv CQ length error (-want +got):\n%s", diff)
	}
	if got := r.qp.State(); got != QPRTS {
		t.Errorf("receiver state = %v, want RTS", got)
	}
}

func TestMulticast(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	s := newEnd(t, f.a, endOpts{typ: UD})
	r1 := newEnd(t, f.b, endOpts{typ: UD})
	r2 := newEnd(t, f.b, endOpts{typ: UD})
	gone := newEnd(t, f.b, endOpts{typ: UD})
	for _, e := range []*end{s, r1, r2, gone} {
		udRTS(t, e.qp, 0)
		if err := e.qp.PostRecv(&RecvWR{WRID: uint64(e.qp.Num()), SGL: [][]byte{make([]byte, 2048)}}); err != nil {
			t.Fatal(err)
		}
		if err := e.qp.AttachMcast(mgidBcast, mlid); err != nil {
			t.Fatal(err)
		}
	}
	if err := r1.qp.AttachMcast(mgidBcast, mlid); err != nil {
		t.Errorf("second attach: %v", err)
	}
	if err := gone.qp.DetachMcast(mgidBcast, mlid); err != nil {
		t.Fatal(err)
	}
	wantErrno(t, gone.qp.DetachMcast(mgidBcast, mlid), unix.EINVAL)
	wantErrno(t, gone.qp.AttachMcast(mgidBcast, 0x10), unix.EINVAL)

	payload := pattern(300, 3)
	if err := s.qp.PostSend(&SendWR{WRID: 1, SGL: [][]byte{payload}, AH: AH{DLID: mlid, GRH: true, DGID: mgidBcast, DestQPN: multicastQPN, QKey: qkey}}); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*end{s, r1, r2} {
		want := []WC{{
			WRID: uint64(e.qp.Num()), Status: WCSuccess, Opcode: WCRecv, ByteLen: 340,
			QPNum: e.qp.Num(), SrcQP: s.qp.Num(), SLID: lidA, GRH: true, SGID: gidA,
		}}
		if diff := diff(want, poll(e, e.rcq)); diff != "" {
			t.Errorf("QP %#x recv CQ (-want +got):\n%s", e.qp.Num(), diff)
		}
	}
	if got := gone.rcq.Stats().Completions; got != 0 {
		t.Errorf("detached QP got %d completions", got)
	}
	// One packet on the wire; the sender's copy is looped back inside A.
	if diff := diff(Stats{TxPackets: 1, RxPackets: 1}, f.a.Stats()); diff != "" {
		t.Errorf("sender stats (-want +got):\n%s", diff)
	}
	if diff := diff(Stats{RxPackets: 1}, f.b.Stats()); diff != "" {
		t.Errorf("receiver stats (-want +got):\n%s", diff)
	}
	if got := f.lb.Dropped(); got != 0 {
		t.Errorf("loopback dropped %d", got)
	}

	// Without members the packet is counted as DropNoQP; RC QPs cannot attach.
	for _, e := range []*end{r1, r2} {
		if err := e.qp.DetachMcast(mgidBcast, mlid); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.qp.PostSend(&SendWR{WRID: 2, SGL: [][]byte{payload}, AH: AH{DLID: mlid, GRH: true, DGID: mgidBcast, DestQPN: multicastQPN, QKey: qkey}}); err != nil {
		t.Fatal(err)
	}
	if got := f.b.Stats().DropNoQP; got != 1 {
		t.Errorf("DropNoQP = %d, want 1", got)
	}
	rc := newEnd(t, f.b, endOpts{typ: RC})
	wantErrno(t, rc.qp.AttachMcast(mgidBcast, mlid), unix.EINVAL)
}

func TestUDLoopbackToOwnLID(t *testing.T) {
	f := newFabric(t, fabricOpts{})
	s := newEnd(t, f.a, endOpts{typ: UD})
	r := newEnd(t, f.a, endOpts{typ: UD})
	udRTS(t, s.qp, 0)
	udRTS(t, r.qp, 0)
	if err := r.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 100)}}); err != nil {
		t.Fatal(err)
	}
	if err := s.qp.PostSend(&SendWR{SGL: [][]byte{make([]byte, 60)}, AH: AH{DLID: lidA, DestQPN: r.qp.Num(), QKey: qkey}}); err != nil {
		t.Fatal(err)
	}
	if got := poll(r, r.rcq); len(got) != 1 || got[0].ByteLen != 100 {
		t.Errorf("recv CQ = %+v", got)
	}
	if got := f.b.Stats().RxPackets; got != 0 {
		t.Errorf("device B saw %d packets", got)
	}
	// A device without a wire drops what it cannot loop back.
	d, err := NewDevice(DeviceOptions{LID: 9})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnd(t, d, endOpts{typ: UD})
	udRTS(t, e.qp, 0)
	if err := e.qp.PostSend(&SendWR{SGL: [][]byte{make([]byte, 60)}, AH: AH{DLID: 3, DestQPN: 0x50, QKey: qkey}}); err != nil {
		t.Fatal(err)
	}
	if diff := diff(Stats{TxPackets: 1, TxDropped: 1}, d.Stats()); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// A receive WR with Lend and no SGL takes its buffer when a message lands
// in it, sized for the message (GRH included); a message beyond LendLen
// fails the length check without a buffer; a WR flushed by the QP's
// error state borrows none.
func TestUDRecvLend(t *testing.T) {
	tests := []struct {
		name    string
		size    int
		lendLen int
		flush   bool
		wantWC  WCStatus
		wantN   []int // Lend's n per call
	}{
		{"small", 56, 4136, false, WCSuccess, []int{96}},
		{"full", 4096, 4136, false, WCSuccess, []int{4136}},
		{"beyond LendLen", 2044, 2000, false, WCLocLenErr, nil},
		{"flushed", 56, 4136, true, WCWRFlushErr, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{})
			s := newEnd(t, f.a, endOpts{typ: UD, sigAll: true})
			r := newEnd(t, f.b, endOpts{typ: UD})
			udRTS(t, s.qp, 0)
			udRTS(t, r.qp, 0)
			var lent [][]byte
			var ns []int
			lend := func(wrid uint64, n int) []byte {
				if wrid != 77 {
					t.Errorf("Lend for WR %d", wrid)
				}
				ns = append(ns, n)
				b := make([]byte, n)
				lent = append(lent, b)
				return b
			}
			if err := r.qp.PostRecv(&RecvWR{WRID: 77, Lend: lend, LendLen: tt.lendLen}); err != nil {
				t.Fatal(err)
			}
			if tt.flush {
				if err := r.qp.Modify(QPAttr{State: QPError}, AttrState); err != nil {
					t.Fatal(err)
				}
			} else {
				payload := pattern(tt.size, 7)
				wr := SendWR{WRID: 5, SGL: [][]byte{payload}, AH: AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}}
				if err := s.qp.PostSend(&wr); err != nil {
					t.Fatal(err)
				}
				poll(s, s.scq)
			}
			wcs := poll(r, r.rcq)
			if len(wcs) != 1 || wcs[0].WRID != 77 || wcs[0].Status != tt.wantWC {
				t.Fatalf("recv CQ %+v, want WR 77 %v", wcs, tt.wantWC)
			}
			if diff := diff(tt.wantN, ns); diff != "" {
				t.Fatalf("Lend calls (-want +got):\n%s", diff)
			}
			if tt.wantWC == WCSuccess {
				if diff := diff(pattern(tt.size, 7), lent[0][40:]); diff != "" {
					t.Errorf("lent buffer (-want +got):\n%s", diff)
				}
			}
		})
	}
}
