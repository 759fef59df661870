package verbs

// ring is a single-lock queue in the style of rxe_queue.h: the backing
// array has a power-of-two number of slots, indices are kept masked, and
// one slot always stays empty so that prod == cons means empty. limit is
// the depth the user asked for (at most len(buf)-1); the ring is full
// when it holds limit entries, so a caller sees exactly the depth it
// requested while the array keeps rxe's shape.
//
// A ring made by newRing has all its slots from the start. One made by
// newLazyRing starts with a few and doubles when they fill, up to the
// same number, laying its entries out again: its memory follows what it
// held at most, not its depth (a completion queue of thousands of entries
// that holds a handful). Only a ring nobody keeps a cursor or a slot
// pointer into across a push may be lazy.
//
// A ring is not safe for concurrent use; its owner's mutex guards it.
type ring[T any] struct {
	buf   []T
	mask  uint32
	limit uint32
	slots uint32 // len(buf) at full size
	prod  uint32 // next slot to fill
	cons  uint32 // oldest filled slot
}

// newRing returns a ring holding up to depth entries in
// roundup_pow_of_two(depth+1) slots.
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

// slotsFor is roundup_pow_of_two(depth+1).
func slotsFor(depth int) int {
	slots := 1
	for slots < depth+1 {
		slots <<= 1
	}
	return slots
}

// grow doubles the slots of a ring whose slots are all filled but the
// empty one, its entries laid out again from slot 0.
func (r *ring[T]) grow() {
	n := r.count()
	buf := make([]T, 2*len(r.buf))
	for i := range n {
		buf[i] = r.buf[(r.cons+i)&r.mask]
	}
	r.buf, r.mask, r.cons, r.prod = buf, uint32(len(buf)-1), 0, n
}

// count is the number of filled slots.
func (r *ring[T]) count() uint32 { return (r.prod - r.cons) & r.mask }

func (r *ring[T]) empty() bool { return r.prod == r.cons }

func (r *ring[T]) full() bool { return r.count() >= r.limit }

// producer is the slot the next push fills; valid only when !full().
// A lazy ring may grow here, moving its slots.
func (r *ring[T]) producer() *T {
	if r.count() == r.mask && uint32(len(r.buf)) < r.slots {
		r.grow()
	}
	return &r.buf[r.prod]
}

func (r *ring[T]) advanceProducer() { r.prod = (r.prod + 1) & r.mask }

// consumer is the oldest entry; valid only when !empty().
func (r *ring[T]) consumer() *T { return &r.buf[r.cons] }

func (r *ring[T]) advanceConsumer() { r.cons = (r.cons + 1) & r.mask }

// at returns the slot of a (masked) index taken from prod, cons or a
// cursor between them.
func (r *ring[T]) at(i uint32) *T { return &r.buf[i&r.mask] }

// next advances a cursor by one slot.
func (r *ring[T]) next(i uint32) uint32 { return (i + 1) & r.mask }

// reset empties the ring without touching the slots.
func (r *ring[T]) reset() { r.prod, r.cons = 0, 0 }
