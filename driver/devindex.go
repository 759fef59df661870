package driver

import (
	"cmp"
	"iter"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// devList is a set of devices in ifindex order: the node's devices, or
// one parent's children (the kernel's child_intfs list, which is in
// creation order and so in ifindex order). Adding a device with a higher
// ifindex than any other, the usual case since ifindexes only grow, is
// O(1); removing one is O(log n) amortized, and listing is O(n) with no
// sort. A removed device leaves a hole that keeps its ifindex, so the
// indexes stay sorted for the binary search; the holes are squeezed out
// once they are half of the list.
type devList struct {
	devs  []*Netdev // ascending ifindex; nil where a device was removed
	index []int32   // the ifindex of devs[i], kept for a hole
	holes int
}

// add inserts nd, or fills the hole it left when it was removed (a
// removal undone).
func (l *devList) add(nd *Netdev) {
	n := len(l.index)
	if n == 0 || l.index[n-1] < nd.index {
		l.devs, l.index = append(l.devs, nd), append(l.index, nd.index)
		return
	}
	i, found := slices.BinarySearch(l.index, nd.index)
	if found {
		if l.devs[i] == nil {
			l.holes--
		}
		l.devs[i] = nd
		return
	}
	l.devs, l.index = slices.Insert(l.devs, i, nd), slices.Insert(l.index, i, nd.index)
}

// remove takes nd out; a device not in the list is ignored.
func (l *devList) remove(nd *Netdev) {
	i, found := slices.BinarySearch(l.index, nd.index)
	if !found || l.devs[i] != nd {
		return
	}
	l.devs[i] = nil
	l.holes++
	if l.holes > len(l.devs)/2 {
		l.compact()
	}
}

// compact squeezes the holes out.
func (l *devList) compact() {
	j := 0
	for i, nd := range l.devs {
		if nd != nil {
			l.devs[j], l.index[j] = nd, l.index[i]
			j++
		}
	}
	clear(l.devs[j:])
	l.devs, l.index, l.holes = l.devs[:j], l.index[:j], 0
}

// get is the device with ifindex index, or nil.
func (l *devList) get(index int32) *Netdev {
	if i, found := slices.BinarySearch(l.index, index); found {
		return l.devs[i]
	}
	return nil
}

// all yields the devices in ifindex order.
func (l *devList) all() iter.Seq[*Netdev] {
	return func(yield func(*Netdev) bool) {
		for _, nd := range l.devs {
			if nd != nil && !yield(nd) {
				return
			}
		}
	}
}

// len is the number of devices.
func (l *devList) len() int { return len(l.devs) - l.holes }

// list returns the devices in ifindex order, in a new slice.
func (l *devList) list() []*Netdev {
	out := make([]*Netdev, 0, l.len())
	for _, nd := range l.devs {
		if nd != nil {
			out = append(out, nd)
		}
	}
	return out
}

// from returns at most max devices whose ifindex is index or more, in
// ifindex order.
func (l *devList) from(index int32, max int) []*Netdev {
	i, _ := slices.BinarySearch(l.index, index)
	var out []*Netdev
	for ; i < len(l.devs) && len(out) < max; i++ {
		if nd := l.devs[i]; nd != nil {
			out = append(out, nd)
		}
	}
	return out
}

// ipoibNames is the set of numbers N whose "ipoibN" is a device name:
// dev_alloc_name's bit array, kept as devices come and go instead of
// built by a walk of every name, with a summary of its full words so
// that the lowest free number is found in at most nine words.
type ipoibNames struct {
	used [maxIpoibNames / 64]uint64 // bit N: ipoibN exists
	full [maxIpoibNames / 64 / 64]uint64
}

// maxIpoibNames is how many numbers dev_alloc_name tries: the bits of
// one page (8 * PAGE_SIZE).
const maxIpoibNames = 8 * 4096

// set marks N used or free.
func (s *ipoibNames) set(n int, used bool) {
	w, bit := n/64, uint64(1)<<(n%64)
	if used {
		s.used[w] |= bit
	} else {
		s.used[w] &^= bit
	}
	if s.used[w] == ^uint64(0) {
		s.full[w/64] |= 1 << (w % 64)
	} else {
		s.full[w/64] &^= 1 << (w % 64)
	}
}

// lowestFree is the lowest N not used, or maxIpoibNames when all are.
func (s *ipoibNames) lowestFree() int {
	for i, f := range s.full {
		if f != ^uint64(0) {
			w := i*64 + bits.TrailingZeros64(^f)
			return w*64 + bits.TrailingZeros64(^s.used[w])
		}
	}
	return maxIpoibNames
}

// ipoibNumber is N when name is "ipoib%d" of N exactly, as
// __dev_alloc_name counts a name: sscanf's number printed again must
// give the name back ("ipoib07" and "ipoib+7" take no number), and N
// must be below maxIpoibNames.
func ipoibNumber(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "ipoib")
	if !ok || rest == "" || len(rest) > 1 && rest[0] == '0' {
		return 0, false
	}
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.Atoi(rest)
	if err != nil || v >= maxIpoibNames {
		return 0, false
	}
	return v, true
}

// legacyKey names a legacy child by its parent's ifindex and its P_Key,
// which neither changes while the child exists.
type legacyKey struct {
	parent int32
	pkey   uint16
}

// legacyIndex finds the legacy children of a parent with a P_Key, the
// one with the lowest ifindex first. Two children can share a key:
// create_child checks the P_Key as written, and 0x0001 after 0x8001 both
// store 0x8001. The first of each key is a map entry of 16 bytes; the
// others, rare, are listed apart.
type legacyIndex struct {
	first map[legacyKey]*Netdev
	more  map[legacyKey][]*Netdev // after the first, in ifindex order; nil until needed
}

func keyOf(nd *Netdev) legacyKey { return legacyKey{nd.parent.index, nd.pkey} }

// get is the child of parent p with P_Key pkey that has the lowest
// ifindex, or nil.
func (x *legacyIndex) get(p *Netdev, pkey uint16) *Netdev {
	return x.first[legacyKey{p.index, pkey}]
}

// add inserts the legacy child nd.
func (x *legacyIndex) add(nd *Netdev) {
	k := keyOf(nd)
	f, ok := x.first[k]
	if !ok {
		x.first[k] = nd
		return
	}
	if nd.index < f.index { // a removal undone
		x.first[k], nd = nd, f
	}
	if x.more == nil {
		x.more = map[legacyKey][]*Netdev{}
	}
	x.more[k] = insertByIndex(x.more[k], nd)
}

// remove takes the legacy child nd out; one not in the index is ignored.
func (x *legacyIndex) remove(nd *Netdev) {
	k := keyOf(nd)
	rest := x.more[k]
	if x.first[k] == nd {
		if len(rest) == 0 {
			delete(x.first, k)
			return
		}
		x.first[k], rest = rest[0], rest[1:]
	} else {
		rest = slices.DeleteFunc(slices.Clone(rest), func(c *Netdev) bool { return c == nd })
	}
	if len(rest) > 0 {
		x.more[k] = rest
	} else {
		delete(x.more, k)
	}
}

// insertByIndex adds nd to a short list kept in ifindex order.
func insertByIndex(l []*Netdev, nd *Netdev) []*Netdev {
	i, _ := slices.BinarySearchFunc(l, nd.index, func(c *Netdev, index int32) int { return cmp.Compare(c.index, index) })
	return slices.Insert(l, i, nd)
}
