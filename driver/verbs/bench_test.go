package verbs

import (
	"fmt"
	"testing"
)

// Steady-state benchmarks: queues and packets are preallocated, so every
// iteration must report 0 allocs/op. The wire is the synchronous
// Loopback, so one PostSend runs the whole exchange.

func BenchmarkUDSendRecv(b *testing.B) {
	f := newFabric(b, fabricOpts{mtu: MTU2048})
	s := newEnd(b, f.a, endOpts{typ: UD, sigAll: true, maxSGE: 1})
	r := newEnd(b, f.b, endOpts{typ: UD, maxSGE: 1})
	udRTS(b, s.qp, 0)
	udRTS(b, r.qp, 0)
	payload := pattern(2044, 1)
	buf := make([]byte, 40+2048)
	send := SendWR{SGL: [][]byte{payload}, AH: AH{DLID: lidB, DestQPN: r.qp.Num(), QKey: qkey}}
	recv := RecvWR{SGL: [][]byte{buf}}
	var wcs [4]WC
	step := func() {
		if err := r.qp.PostRecv(&recv); err != nil {
			b.Fatal(err)
		}
		if err := s.qp.PostSend(&send); err != nil {
			b.Fatal(err)
		}
		if s.scq.Poll(wcs[:]) != 1 || r.rcq.Poll(wcs[:]) != 1 || wcs[0].ByteLen != 40+2044 {
			b.Fatalf("bad completion %+v", wcs[0])
		}
	}
	step() // warm up
	b.SetBytes(2044)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

func BenchmarkRCSend64K(b *testing.B) {
	f := newFabric(b, fabricOpts{})
	srq, err := f.b.NewSRQ(64, 16)
	if err != nil {
		b.Fatal(err)
	}
	x := newEnd(b, f.a, endOpts{typ: RC, sigAll: true, maxSGE: 1})
	y := newEnd(b, f.b, endOpts{typ: RC, srq: srq})
	rcConnect(b, x.qp, y.qp, MTU4096, 7)
	msg := pattern(64<<10, 2)
	bufs := make([][]byte, 16)
	for i := range bufs {
		bufs[i] = make([]byte, 4096)
	}
	send := SendWR{SGL: [][]byte{msg}}
	recv := RecvWR{SGL: bufs}
	var wcs [4]WC
	step := func() {
		if err := srq.PostRecv(&recv); err != nil {
			b.Fatal(err)
		}
		if err := x.qp.PostSend(&send); err != nil {
			b.Fatal(err)
		}
		if x.scq.Poll(wcs[:]) != 1 || y.rcq.Poll(wcs[:]) != 1 || wcs[0].ByteLen != 64<<10 {
			b.Fatalf("bad completion %+v", wcs[0])
		}
	}
	step()
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		step()
	}
}

// BenchmarkMemcpy64K is the baseline for BenchmarkRCSend64K, which copies
// every byte twice (send buffer to packet, packet to receive buffer).
func BenchmarkMemcpy64K(b *testing.B) {
	src := pattern(64<<10, 3)
	dst := make([]byte, 64<<10)
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	for range b.N {
		copy(dst, src)
	}
}

// BenchmarkCQEvents reports completion events per received packet with
// rx-frames 1 and 16 (no rx-usecs), the handler polling and re-arming.
func BenchmarkCQEvents(b *testing.B) {
	for _, frames := range []uint16{1, 16} {
		b.Run(fmt.Sprintf("rx-frames=%d", frames), func(b *testing.B) {
			f := newFabric(b, fabricOpts{moderation: true})
			s := newEnd(b, f.a, endOpts{typ: UD, maxSGE: 1})
			n := &napi{}
			rcq, err := f.b.NewCQ(1024, n.handler)
			if err != nil {
				b.Fatal(err)
			}
			n.cq = rcq
			scq, _ := f.b.NewCQ(16, nil)
			qp, err := f.b.CreateQP(QPInitAttr{Type: UD, SendCQ: scq, RecvCQ: rcq, MaxSend: 16, MaxRecv: 64, MaxSGE: 1})
			if err != nil {
				b.Fatal(err)
			}
			udRTS(b, s.qp, 0)
			udRTS(b, qp, 0)
			if err := rcq.Modify(frames, 0); err != nil {
				b.Fatal(err)
			}
			rcq.ReqNotify()
			buf := make([]byte, 2048)
			send := SendWR{SGL: [][]byte{make([]byte, 512)}, AH: AH{DLID: lidB, DestQPN: qp.Num(), QKey: qkey}}
			recv := RecvWR{SGL: [][]byte{buf}}
			for range 32 {
				if err := qp.PostRecv(&recv); err != nil {
					b.Fatal(err)
				}
			}
			before := rcq.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := s.qp.PostSend(&send); err != nil {
					b.Fatal(err)
				}
				if err := qp.PostRecv(&recv); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			st := rcq.Stats()
			b.ReportMetric(float64(st.Events-before.Events)/float64(st.Completions-before.Completions), "events/pkt")
		})
	}
}
