package verbs

import (
	"testing"
	"time"
)

// A queued Loopback holds packets until Flush, which delivers them in
// order and counts down Pending as it goes; packets sent while it
// delivers are delivered by the same Flush.
func TestLoopbackQueuedPending(t *testing.T) {
	f := newFabric(t, fabricOpts{queued: true})
	s := newEnd(t, f.a, endOpts{typ: UD})
	var seen []int // Pending at each receive completion
	var rcq *CQ
	rcq, err := f.b.NewCQ(8, func() {
		seen = append(seen, f.lb.Pending())
		rcq.ReqNotify()
	})
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.b.CreateQP(QPInitAttr{Type: UD, SendCQ: rcq, RecvCQ: rcq, MaxSend: 1, MaxRecv: 4, MaxSGE: 1})
	if err != nil {
		t.Fatal(err)
	}
	udRTS(t, s.qp, 0)
	udRTS(t, r, 0)
	rcq.ReqNotify()
	for i := range 3 {
		if err := r.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{make([]byte, 100)}}); err != nil {
			t.Fatal(err)
		}
		if err := s.qp.PostSend(&SendWR{SGL: [][]byte{{byte(i)}}, AH: AH{DLID: lidB, DestQPN: r.Num(), QKey: qkey}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.lb.Pending(); got != 3 {
		t.Fatalf("Pending = %d before Flush, want 3", got)
	}
	if got := f.lb.Flush(); got != 3 {
		t.Errorf("Flush delivered %d, want 3", got)
	}
	if d := diff([]int{2, 1, 0}, seen); d != "" {
		t.Errorf("Pending during Flush (-want +got):\n%s", d)
	}
	if got := f.lb.Pending(); got != 0 {
		t.Errorf("Pending = %d after Flush", got)
	}
}

// A packet that no attached device takes, a unicast to a LID no device
// has or a multicast with no device besides its sender's, is released and
// counted in Dropped. A sender with no QP of its own in the group loops
// no copy back: its only counter is TxPackets.
func TestLoopbackDrops(t *testing.T) {
	tests := []struct {
		name    string
		ah      AH
		dropped uint64
	}{
		{"unicast to an unknown LID", AH{DLID: 7, DestQPN: 0x48, QKey: qkey}, 1},
		{"multicast, no other device", AH{DLID: mlid, GRH: true, DGID: mgidBcast, DestQPN: multicastQPN, QKey: qkey}, 1},
		{"unicast to an attached LID", AH{DLID: 3, DestQPN: 0x48, QKey: qkey}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lb := NewLoopback(false)
			clk := NewManualClock(time.Unix(epoch, 0))
			d, err := NewDevice(DeviceOptions{LID: lidA, GID: gidA, Wire: lb, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			other, err := NewDevice(DeviceOptions{LID: 3, Wire: lb, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			lb.Attach(d)
			s := newEnd(t, d, endOpts{typ: UD})
			udRTS(t, s.qp, 0)
			if tt.ah.DLID == 3 {
				lb.Attach(other)
			}
			if err := s.qp.PostSend(&SendWR{SGL: [][]byte{make([]byte, 10)}, AH: tt.ah}); err != nil {
				t.Fatal(err)
			}
			if got := lb.Dropped(); got != tt.dropped {
				t.Errorf("Dropped = %d, want %d", got, tt.dropped)
			}
			if d := diff(Stats{TxPackets: 1}, d.Stats()); d != "" {
				t.Errorf("sender stats (-want +got):\n%s", d)
			}
			if got := len(d.pool.free); got != 1 {
				t.Errorf("%d packets back in the sender's pool, want 1", got)
			}
		})
	}
}
