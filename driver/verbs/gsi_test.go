package verbs

import "testing"

// gsiQP creates and brings to RTS a device's QP1 with its own CQ, sending
// with the P_Key at pkeyIndex.
func gsiQP(t *testing.T, d *Device, pkeyIndex uint16) *end {
	t.Helper()
	e := &end{dev: d}
	var err error
	if e.rcq, err = d.NewCQ(16, nil); err != nil {
		t.Fatal(err)
	}
	e.scq = e.rcq
	e.qp, err = d.CreateQP(QPInitAttr{Type: UD, SendCQ: e.rcq, RecvCQ: e.rcq, MaxSend: 4, MaxRecv: 4, MaxSGE: 1, QPN: GSIQPN})
	if err != nil {
		t.Fatal(err)
	}
	mustModify(t, e.qp, QPAttr{State: QPInit, PKeyIndex: pkeyIndex, Port: 1, QKey: GSIQKey}, AttrState|AttrPKeyIndex|AttrPort|AttrQKey)
	mustModify(t, e.qp, QPAttr{State: QPRTR}, AttrState)
	mustModify(t, e.qp, QPAttr{State: QPRTS}, AttrState|AttrSQPSN)
	return e
}

// TestGSIAcceptsEveryTablePKey sends from A's QP1 (P_Key index 0) with
// each P_Key of A's table, given per WR as ib_ud_wr.pkey_index gives it,
// to B's QP1 and to an ordinary UD QP of B: QP1 takes any P_Key in B's
// table and reports the index it matched, the other QP only one matching
// the P_Key at its index.
func TestGSIAcceptsEveryTablePKey(t *testing.T) {
	tests := []struct {
		name      string
		pkeyIndex uint16 // A's index: 0xFFFF, 0x8001, 0x0001, 0x8002
		gsi, ud   bool   // delivered to B's QP1, to B's UD QP at index 0
		wcIndex   uint16 // B's QP1 completion's P_Key index
	}{
		{"default partition", 0, true, true, 0},
		{"full member of another partition", 1, true, false, 1},
		{"limited member of another partition", 2, true, false, 1},
		{"P_Key not in B's table", 3, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, fabricOpts{})
			f.pkeyB = []uint16{0xFFFF, 0x8001} // no 0x8002
			s := gsiQP(t, f.a, 0)
			g := gsiQP(t, f.b, 0)
			u := newEnd(t, f.b, endOpts{typ: UD})
			udRTS(t, u.qp, 0)
			for _, r := range []*end{g, u} {
				if err := r.qp.PostRecv(&RecvWR{WRID: 1, SGL: [][]byte{make([]byte, 296)}}); err != nil {
					t.Fatal(err)
				}
			}
			mad := pattern(256, 3)
			// QP1's own Q_Key, GSIQKey, goes out for a Q_Key with bit
			// 31 set: the well-known Q_Key reaches QP1.
			if err := s.qp.PostSend(&SendWR{SGL: [][]byte{mad}, AH: AH{DLID: lidB, DestQPN: GSIQPN, QKey: GSIQKey}, PKeyIndex: tt.pkeyIndex}); err != nil {
				t.Fatal(err)
			}
			if err := s.qp.PostSend(&SendWR{SGL: [][]byte{mad}, AH: AH{DLID: lidB, DestQPN: u.qp.Num(), QKey: qkey}, PKeyIndex: tt.pkeyIndex}); err != nil {
				t.Fatal(err)
			}
			wcs := poll(g, g.rcq)
			if got := len(wcs) == 1; got != tt.gsi {
				t.Errorf("QP1 received: %v, want %v", got, tt.gsi)
			} else if got && wcs[0].PKeyIndex != tt.wcIndex {
				t.Errorf("QP1 completion's P_Key index %d, want %d", wcs[0].PKeyIndex, tt.wcIndex)
			}
			if got := len(poll(u, u.rcq)) == 1; got != tt.ud {
				t.Errorf("UD QP received: %v, want %v", got, tt.ud)
			}
			want := uint64(0)
			for _, ok := range []bool{tt.gsi, tt.ud} {
				if !ok {
					want++
				}
			}
			if st := f.b.Stats(); st.DropBadPKey != want || st.DropBadQKey != 0 {
				t.Errorf("DropBadPKey, DropBadQKey = %d, %d, want %d, 0", st.DropBadPKey, st.DropBadQKey, want)
			}
		})
	}
}
