package verbs

import (
	"testing"
)

func TestRing(t *testing.T) {
	for _, tt := range []struct{ depth, slots int }{{1, 1}, {3, 4}, {4, 4}, {7, 8}, {8, 8}} {
		r := newRing[int](tt.depth)
		if len(r.buf) != tt.slots {
			t.Errorf("depth %d: %d slots, want %d", tt.depth, len(r.buf), tt.slots)
		}
		// Start near 2^32 so that the free-running indices overflow.
		r.prod, r.cons = ^uint32(0)-2, ^uint32(0)-2
		// Fill and drain three times so the indices wrap.
		next, want := 0, 0
		for range 3 {
			for !r.full() {
				*r.producer() = next
				r.advanceProducer()
				next++
			}
			if int(r.count()) != tt.depth {
				t.Fatalf("depth %d: full at %d", tt.depth, r.count())
			}
			for !r.empty() {
				if got := *r.consumer(); got != want {
					t.Fatalf("depth %d: popped %d, want %d", tt.depth, got, want)
				}
				r.advanceConsumer()
				want++
			}
		}
	}
}

// A lazy ring starts with lazyRingSlots slots (fewer for a small depth),
// doubles them only when its entries fill them, keeps its entries in
// order across each growth, even with the indices wrapped, and ends at
// the size newRing would have made: full at exactly its depth.
func TestLazyRing(t *testing.T) {
	for _, tt := range []struct{ depth, start, slots int }{{3, 4, 4}, {15, 16, 16}, {16, 16, 16}, {17, 16, 32}, {100, 16, 128}, {4096, 16, 4096}} {
		r := newLazyRing[int](tt.depth)
		if len(r.buf) != tt.start {
			t.Errorf("depth %d: starts with %d slots, want %d", tt.depth, len(r.buf), tt.start)
		}
		next, want := 0, 0
		push := func() {
			*r.producer() = next
			r.advanceProducer()
			next++
		}
		pop := func() {
			if got := *r.consumer(); got != want {
				t.Fatalf("depth %d: popped %d, want %d", tt.depth, got, want)
			}
			r.advanceConsumer()
			want++
		}
		// A few in, a few out, so the indices are not at 0 when the
		// ring first grows; it holds at most 3 and does not grow.
		for range 2 * len(r.buf) {
			push()
			if r.count() == 3 || r.full() {
				pop()
			}
		}
		if tt.start == lazyRingSlots && len(r.buf) != tt.start {
			t.Errorf("depth %d: grew to %d slots holding at most 3", tt.depth, len(r.buf))
		}
		for !r.full() {
			push()
		}
		if int(r.count()) != tt.depth || len(r.buf) != tt.slots {
			t.Errorf("depth %d: full at %d in %d slots, want %d in %d", tt.depth, r.count(), len(r.buf), tt.depth, tt.slots)
		}
		for !r.empty() {
			pop()
		}
		if want != next {
			t.Errorf("depth %d: popped %d of %d", tt.depth, want, next)
		}
	}
}

// An index into a lazy ring stays valid when it grows: a cursor between
// cons and prod still names the same entry, and one at prod is still at
// prod (the send queue's requester cursor, req.next).
func TestLazyRingCursors(t *testing.T) {
	r := newLazyRing[int](100)
	var mid, end uint32
	next := 0
	push := func() {
		*r.producer() = next
		r.advanceProducer()
		next++
	}
	for range 10 { // wrap the indices first
		push()
		r.advanceConsumer()
	}
	for range 8 {
		push()
	}
	mid = r.cons // then the fourth entry
	for range 3 {
		mid = r.next(mid)
	}
	want := *r.at(mid)
	for len(r.buf) < 64 {
		end = r.prod
		push()
		if *r.at(mid) != want {
			t.Fatalf("after growing to %d slots the cursor names %d, want %d", len(r.buf), *r.at(mid), want)
		}
		if r.next(end) != r.prod {
			t.Fatalf("a cursor at the last entry moved away from it: %d then prod %d", end, r.prod)
		}
	}
}

func TestPacketPool(t *testing.T) {
	pl := newPool(256, 2)
	if pl.total != 0 {
		t.Fatalf("new pool made %d packets, want none before traffic", pl.total)
	}
	p := pl.get()
	pl.put(p)
	if q := pl.get(); q != p || pl.total != 1 {
		t.Fatalf("a packet put back is not reused: total %d", pl.total)
	}
	pl.put(p)
	a, b := pl.get(), pl.get()
	c := pl.get() // the pool grows when empty
	if pl.total != 3 || len(c.buf) != 256 || cap(c.buf) != 256 {
		t.Errorf("total %d, buf %d", pl.total, len(c.buf))
	}
	a.Payload = append(a.buf[:0], 1, 2, 3)
	a.DLID, a.Opcode = 0xC001, OpUDSendOnlyImm
	d := a.Clone()
	if d == a || &d.buf[0] == &a.buf[0] {
		t.Fatal("clone shares the packet or its buffer")
	}
	if diff := diff([]byte{1, 2, 3}, d.Payload); diff != "" || d.DLID != 0xC001 || !d.IsMulticast() {
		t.Errorf("clone %+v", d)
	}
	for _, p := range []*Packet{a, b, c, d} {
		p.Release()
	}
	if len(pl.free) != 4 {
		t.Errorf("free %d, want 4", len(pl.free))
	}
	if p := pl.get(); p.DLID != 0 || p.Opcode != 0 || p.Payload != nil {
		t.Errorf("recycled packet not cleared: %+v", p)
	}
	// A held packet goes back to the pool at its last Release.
	h := pl.get()
	free := len(pl.free)
	h.Hold()
	h.Hold()
	for i, want := range []int{free, free, free + 1} {
		h.Release()
		if got := len(pl.free); got != want {
			t.Errorf("after Release %d of a packet held twice: %d free, want %d", i+1, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("double release did not panic")
		}
	}()
	a.Release()
}
