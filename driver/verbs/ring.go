package verbs

// ring is a preallocated single-lock queue in the style of rxe_queue.h:
// the backing array has a power-of-two number of slots, indices are kept
// masked, and one slot always stays empty so that prod == cons means empty.
// limit is the depth the user asked for (at most len(buf)-1); the ring is
// full when it holds limit entries, so a caller sees exactly the depth it
// requested while the array keeps rxe's shape.
//
// A ring is not safe for concurrent use; its owner's mutex guards it.
type ring[T any] struct {
	buf   []T
	mask  uint32
	limit uint32
	prod  uint32 // next slot to fill
	cons  uint32 // oldest filled slot
}

// newRing returns a ring holding up to depth entries in
// roundup_pow_of_two(depth+1) slots.
func newRing[T any](depth int) ring[T] {
	slots := 1
	for slots < depth+1 {
		slots <<= 1
	}
	return ring[T]{buf: make([]T, slots), mask: uint32(slots - 1), limit: uint32(depth)}
}

// count is the number of filled slots.
func (r *ring[T]) count() uint32 { return (r.prod - r.cons) & r.mask }

func (r *ring[T]) empty() bool { return r.prod == r.cons }

func (r *ring[T]) full() bool { return r.count() >= r.limit }

// producer is the slot the next push fills; valid only when !full().
func (r *ring[T]) producer() *T { return &r.buf[r.prod] }

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
