package netns

import "testing"

// The read buffers' registry: a packet handed over in place gives its
// buffer back once, and the next read takes it; a slice the pool did not
// hand out, a pointer inside a packet, a packet released twice change
// nothing; the free list keeps at most maxFreeReadBuffers buffers.
func TestReadBufRegistry(t *testing.T) {
	const room = 4
	type pool struct {
		*readBufPool
		all [][]byte // every buffer handed out
	}
	// handOut is what ReadPacket does with a large frame: a buffer from
	// the pool, the packet in it after the virtio-net header's room.
	handOut := func(r *pool) (pkt, buf []byte) {
		buf = r.get()
		r.all = append(r.all, buf)
		pkt = buf[vnetHdrLen-room : 200]
		r.lend(pkt, buf)
		return pkt, buf
	}
	for _, c := range []struct {
		name string
		// run hands out and releases; it returns the buffer the next
		// get must return, nil for a new one.
		run      func(r *pool) []byte
		wantFree int // after that get
		wantLent int
	}{
		{"released comes back", func(r *pool) []byte {
			pkt, buf := handOut(r)
			r.release(&pkt[0])
			return buf
		}, 0, 0},
		{"foreign slice ignored", func(r *pool) []byte {
			handOut(r)
			other := make([]byte, readBufferSize)
			r.release(&other[vnetHdrLen-room])
			return nil
		}, 0, 1},
		{"inside the packet ignored", func(r *pool) []byte {
			pkt, _ := handOut(r)
			r.release(&pkt[1])
			return nil
		}, 0, 1},
		{"buffer start ignored", func(r *pool) []byte {
			_, buf := handOut(r)
			r.release(&buf[0])
			return nil
		}, 0, 1},
		{"double release ignored", func(r *pool) []byte {
			pkt, buf := handOut(r)
			r.release(&pkt[0])
			r.release(&pkt[0])
			return buf
		}, 0, 0},
		{"free list bounded", func(r *pool) []byte {
			var pkts [][]byte
			for range maxFreeReadBuffers + 3 {
				p, _ := handOut(r)
				pkts = append(pkts, p)
			}
			for _, p := range pkts {
				r.release(&p[0])
			}
			return r.all[maxFreeReadBuffers-1] // the last one kept
		}, maxFreeReadBuffers - 1, 0},
	} {
		r := &pool{readBufPool: &readBufPool{lent: map[*byte][]byte{}}}
		want := c.run(r)
		got := r.get()
		if len(got) != readBufferSize {
			t.Errorf("%s: buffer of %d bytes, want %d", c.name, len(got), readBufferSize)
		}
		if want != nil && &got[0] != &want[0] {
			t.Errorf("%s: the next get did not return the buffer released", c.name)
		}
		if want == nil {
			for _, b := range r.all {
				if &got[0] == &b[0] {
					t.Errorf("%s: the next get returned a buffer still lent", c.name)
				}
			}
		}
		if len(r.free) != c.wantFree {
			t.Errorf("%s: %d free after a get, want %d", c.name, len(r.free), c.wantFree)
		}
		if len(r.lent) != c.wantLent {
			t.Errorf("%s: %d lent, want %d", c.name, len(r.lent), c.wantLent)
		}
	}
}

// ReleaseRead of what ReadPacket did not hand over in place (an empty
// slice, a copy) leaves the package's registry as it was.
func TestReleaseReadForeign(t *testing.T) {
	for _, p := range [][]byte{nil, {}, make([]byte, 100)} {
		readBufs.mu.Lock()
		lent, free := len(readBufs.lent), len(readBufs.free)
		readBufs.mu.Unlock()
		ReleaseRead(p)
		readBufs.mu.Lock()
		if len(readBufs.lent) != lent || len(readBufs.free) != free {
			t.Errorf("ReleaseRead(%d bytes): lent %d free %d, want %d %d", len(p), len(readBufs.lent), len(readBufs.free), lent, free)
		}
		readBufs.mu.Unlock()
	}
}
