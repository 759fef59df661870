package verbs

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// A sender goroutine posts UD sends while another goroutine drains the
// queued wire; the receive CQ handler reposts buffers as IPoIB does.
func TestConcurrentUD(t *testing.T) {
	const n = 3000
	f := newFabric(t, fabricOpts{queued: true})
	s := newEnd(t, f.a, endOpts{typ: UD, cqDepth: n})
	var rcq *CQ
	var qp *QP
	var got, badLen atomic.Int64
	bufs := make([][]byte, 128)
	handler := func() {
		var wcs [16]WC
		for {
			k := rcq.Poll(wcs[:])
			for _, wc := range wcs[:k] {
				got.Add(1)
				if wc.Status != WCSuccess || wc.ByteLen != 40+1000 {
					badLen.Add(1)
				}
				if err := qp.PostRecv(&RecvWR{WRID: wc.WRID, SGL: [][]byte{bufs[wc.WRID]}}); err != nil {
					t.Error(err)
				}
			}
			if k == 0 && !rcq.ReqNotify() {
				return
			}
		}
	}
	rcq, _ = f.b.NewCQ(256, handler)
	scq, _ := f.b.NewCQ(16, nil)
	qp, _ = f.b.CreateQP(QPInitAttr{Type: UD, SendCQ: scq, RecvCQ: rcq, MaxSend: 16, MaxRecv: 128, MaxSGE: 1})
	udRTS(t, s.qp, 0)
	udRTS(t, qp, 0)
	for i := range bufs {
		bufs[i] = make([]byte, 2048)
		if err := qp.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{bufs[i]}}); err != nil {
			t.Fatal(err)
		}
	}
	rcq.ReqNotify()

	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		payload := make([]byte, 1000)
		for range n {
			// Keep at most 64 packets in flight so receives never run out.
			for f.lb.Pending() > 64 {
				runtime.Gosched() // wait for the wire goroutine
			}
			if err := s.qp.PostSend(&SendWR{SGL: [][]byte{payload}, AH: AH{DLID: lidB, DestQPN: qp.Num(), QKey: qkey}}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for !done.Load() || f.lb.Pending() > 0 {
			f.lb.Flush()
		}
	}()
	wg.Wait()
	if got.Load() != n || badLen.Load() != 0 {
		t.Errorf("received %d (%d bad), want %d", got.Load(), badLen.Load(), n)
	}
	if st := f.b.Stats(); st.RxPackets != n || st.DropNoRecv != 0 {
		t.Errorf("receiver stats %+v", st)
	}
}

// Two RC QPs send to each other from two goroutines over a synchronous
// wire: requests, ACKs and completions cross in both directions.
func TestConcurrentRCBothWays(t *testing.T) {
	const n = 300
	f := newFabric(t, fabricOpts{})
	type side struct {
		e     *end
		srq   *SRQ
		bufs  [][]byte
		recvd atomic.Int64
		bad   atomic.Int64
	}
	mk := func(d *Device) *side {
		sd := &side{bufs: make([][]byte, 32)}
		var err error
		if sd.srq, err = d.NewSRQ(32, 1); err != nil {
			t.Fatal(err)
		}
		sd.e = newEnd(t, d, endOpts{typ: RC, srq: sd.srq, sigAll: true, cqDepth: 1024})
		for i := range sd.bufs {
			sd.bufs[i] = make([]byte, 10000)
			if err := sd.srq.PostRecv(&RecvWR{WRID: uint64(i), SGL: [][]byte{sd.bufs[i]}}); err != nil {
				t.Fatal(err)
			}
		}
		return sd
	}
	x, y := mk(f.a), mk(f.b)
	rcConnect(t, x.e.qp, y.e.qp, MTU4096, 7)
	var mu sync.Mutex // serialises each side's receive CQ consumers
	drain := func(sd *side) {
		mu.Lock()
		defer mu.Unlock()
		var wcs [16]WC
		for {
			k := sd.e.rcq.Poll(wcs[:])
			if k == 0 {
				return
			}
			for _, wc := range wcs[:k] {
				sd.recvd.Add(1)
				if wc.Status != WCSuccess || wc.ByteLen != 10000 || sd.bufs[wc.WRID][9999] != 0x5A {
					sd.bad.Add(1)
				}
				sd.bufs[wc.WRID][9999] = 0
				if err := sd.srq.PostRecv(&RecvWR{WRID: wc.WRID, SGL: [][]byte{sd.bufs[wc.WRID]}}); err != nil {
					t.Error(err)
				}
			}
		}
	}
	send := func(from, to *side, wg *sync.WaitGroup) {
		defer wg.Done()
		msg := make([]byte, 10000)
		msg[9999] = 0x5A
		var wcs [16]WC
		for i := 0; i < n; {
			err := from.e.qp.PostSend(&SendWR{WRID: uint64(i), SGL: [][]byte{msg}})
			if errors.Is(err, unix.ENOMEM) {
				from.e.scq.Poll(wcs[:])
				continue
			}
			if err != nil {
				t.Error(err)
				return
			}
			i++
			from.e.scq.Poll(wcs[:])
			drain(to)
		}
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go send(x, y, &wg)
	go send(y, x, &wg)
	wg.Wait()
	drain(x)
	drain(y)
	for _, sd := range []*side{x, y} {
		if sd.recvd.Load() != n || sd.bad.Load() != 0 {
			t.Errorf("QP %#x received %d (%d bad), want %d", sd.e.qp.Num(), sd.recvd.Load(), sd.bad.Load(), n)
		}
		if got := sd.e.scq.Stats().Completions; got != n {
			t.Errorf("QP %#x send completions %d, want %d", sd.e.qp.Num(), got, n)
		}
		if sd.e.qp.State() != QPRTS {
			t.Errorf("QP %#x in %v", sd.e.qp.Num(), sd.e.qp.State())
		}
	}
	if st := f.a.Stats(); st.RNRNaksSent != 0 || st.DropSequence != 0 {
		t.Errorf("stats %+v", st)
	}
}
