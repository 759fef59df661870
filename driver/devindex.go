package driver

import "slices"

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
