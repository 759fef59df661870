package verbs

// ring is a single-lock queue in the style of rxe_queue.h: the backing
// array has a power-of-two number of slots, and an entry's slot is its
// index masked. Indices run free (they wrap at 2^32, which the slot count
// divides), so prod - cons is the number of entries and a cursor between
// them stays valid whatever the array's size. limit is the depth the user
// asked for; the ring is full when it holds limit entries, so a caller
// sees exactly the depth it requested.
//
// A ring made by newRing has all its slots from the start. One made by
// newLazyRing starts with a few and doubles when they fill, up to the
// same number: its memory follows what it held at most, not its depth (a
// completion queue of thousands of entries that holds a handful). No slot
// pointer may be kept across a push into a lazy ring.
//
// A ring is not safe for concurrent use; its owner's mutex guards it.
type ring[T any] struct {
	buf   []T
	mask  uint32
	limit uint32
	slots uint32 // len(buf) at full size
	prod  uint32 // index of the next entry to fill
	cons  uint32 // index of the oldest entry
}

// newRing returns a ring holding up to depth entries in
// roundup_pow_of_two(depth) slots.
func newRing[T any](depth int) ring[T] {
	slots := slotsFor(depth)
	return ring[T]{buf: make([]T, slots), mask: uint32(slots - 1), limit: uint32(depth), slots: uint32(slots)}
}

// lazyRingSlots is how many slots a lazy ring starts with.
const lazyRingSlots = 16

// newLazyRing is newRing whose slots are made as entries need them.
func newLazyRing[T any](depth int) ring[T] {
	slots := slotsFor(depth)
	n := min(slots, lazyRingSlots)
	return ring[T]{buf: make([]T, n), mask: uint32(n - 1), limit: uint32(depth), slots: uint32(slots)}
}

// slotsFor is roundup_pow_of_two(depth).
func slotsFor(depth int) int {
	slots := 1
	for slots < depth {
		slots <<= 1
	}
	return slots
}

// grow doubles the slots of a ring whose slots are all filled; every
// entry keeps its index.
func (r *ring[T]) grow() {
	buf := make([]T, 2*len(r.buf))
	mask := uint32(len(buf) - 1)
	for i := r.cons; i != r.prod; i++ {
		buf[i&mask] = r.buf[i&r.mask]
	}
	r.buf, r.mask = buf, mask
}

// count is the number of entries.
func (r *ring[T]) count() uint32 { return r.prod - r.cons }

func (r *ring[T]) empty() bool { return r.prod == r.cons }

func (r *ring[T]) full() bool { return r.count() >= r.limit }

// producer is the slot the next push fills; valid only when !full().
// A lazy ring may grow here, moving its slots.
func (r *ring[T]) producer() *T {
	if r.count() == uint32(len(r.buf)) {
		r.grow()
	}
	return &r.buf[r.prod&r.mask]
}

func (r *ring[T]) advanceProducer() { r.prod++ }

// consumer is the oldest entry; valid only when !empty().
func (r *ring[T]) consumer() *T { return &r.buf[r.cons&r.mask] }

func (r *ring[T]) advanceConsumer() { r.cons++ }

// at returns the slot of an index taken from prod, cons or a cursor
// between them.
func (r *ring[T]) at(i uint32) *T { return &r.buf[i&r.mask] }

// next advances a cursor by one entry.
func (r *ring[T]) next(i uint32) uint32 { return i + 1 }

// reset empties the ring without touching the slots.
func (r *ring[T]) reset() { r.prod, r.cons = 0, 0 }
