package fabric

import (
	"github.com/ibctl/ibctl/driver/header"
	"slices"

	"golang.org/x/sys/unix"
)

// The SM's runtime partition management. Every change re-programs the
// P_Key tables (computed from the partition table by pkeyTableLocked),
// drops multicast memberships a port's new table no longer allows,
// refreshes the broadcast groups' rates and sends one PKeyChange event per
// port whose table changed, in port order (topology order, then port
// number). A refused change leaves everything as it was.

// AddPartition adds p to the partition table and creates its broadcast
// group. The P_Key's bit 15 is ignored; the IB MTU defaults to 2048.
// Errors: EINVAL for an invalid entry (the Validate rules), EEXIST when the
// partition exists, ENOSPC when no multicast LID is left.
func (f *Fabric) AddPartition(p Partition) error {
	const op = "add partition"
	p = clonePartition(p)
	return f.change(func() ([]Event, error) {
		key, err := checkPartition(&p, f.nports)
		if err != nil {
			return nil, errorf(op, p.PKey, unix.EINVAL, "%v", err)
		}
		if f.findPartitionLocked(key) >= 0 {
			return nil, errorf(op, p.PKey, unix.EEXIST, "partition %s exists", pkeyName(header.PKeyFull(key)))
		}
		mlid, ok := f.freeMLIDLocked()
		if !ok {
			return nil, errorf(op, p.PKey, unix.ENOSPC, "no free multicast LID")
		}
		before := f.pkeyTablesLocked()
		f.partitions = append(f.partitions, partition{key: key, spec: p})
		f.addBroadcastLocked(key, p.MTU, mlid)
		f.resyncLocked()
		return f.pkeyEventsLocked(before), nil
	})
}

// DeletePartition removes the partition with pkey's low 15 bits and every
// multicast group of it, its broadcast group included. Errors: EINVAL for
// an invalid P_Key, ENOENT when there is no such partition.
func (f *Fabric) DeletePartition(pkey uint16) error {
	const op = "delete partition"
	return f.change(func() ([]Event, error) {
		i, err := f.partitionLocked(op, pkey)
		if err != nil {
			return nil, err
		}
		before := f.pkeyTablesLocked()
		key := f.partitions[i].key
		f.partitions = slices.Delete(f.partitions, i, i+1)
		for _, g := range f.groups {
			if header.PKeyBase(g.pkey) == key {
				f.deleteGroupLocked(g)
			}
		}
		f.resyncLocked()
		return f.pkeyEventsLocked(before), nil
	})
}

// SetMembership makes m's port a full or limited member of the partition,
// adding it or changing its membership. An explicit member overrides the
// partition's "all" rule for that port. Errors: EINVAL for an invalid
// P_Key, ENOENT for an unknown partition, ENODEV for an unknown port.
func (f *Fabric) SetMembership(pkey uint16, m Member) error {
	const op = "set membership"
	return f.change(func() ([]Event, error) {
		i, err := f.partitionLocked(op, pkey)
		if err != nil {
			return nil, err
		}
		ref := PortRef{m.Node, m.Port}
		if f.byRef[ref] == nil {
			return nil, errorf(op, pkeyName(pkey), unix.ENODEV, "no port %s", ref)
		}
		before := f.pkeyTablesLocked()
		spec := &f.partitions[i].spec
		j := slices.IndexFunc(spec.Members, func(x Member) bool { return x.Node == m.Node && x.Port == m.Port })
		if j >= 0 {
			spec.Members[j].Full = m.Full
		} else {
			spec.Members = append(spec.Members, m)
		}
		f.resyncLocked()
		return f.pkeyEventsLocked(before), nil
	})
}

// RemoveMember takes ref's port out of the partition. When the partition
// has an "all" rule, the rule is first expanded into explicit members (every
// port, explicit entries keeping their membership), since a port cannot be
// excluded from "all". Errors: EINVAL for an invalid P_Key, ENOENT for an
// unknown partition or when the port is not a member, ENODEV for an
// unknown port.
func (f *Fabric) RemoveMember(pkey uint16, ref PortRef) error {
	const op = "remove member"
	return f.change(func() ([]Event, error) {
		i, err := f.partitionLocked(op, pkey)
		if err != nil {
			return nil, err
		}
		if f.byRef[ref] == nil {
			return nil, errorf(op, pkeyName(pkey), unix.ENODEV, "no port %s", ref)
		}
		spec := &f.partitions[i].spec
		if _, ok := membership(*spec, ref.Node, ref.Port); !ok {
			return nil, errorf(op, pkeyName(pkey), unix.ENOENT, "%s is not a member of %s", ref, pkeyName(header.PKeyFull(f.partitions[i].key)))
		}
		before := f.pkeyTablesLocked()
		if spec.All != "" {
			var members []Member
			for _, p := range f.ports {
				full, _ := membership(*spec, p.ref.Node, p.ref.Port)
				members = append(members, Member{Node: p.ref.Node, Port: p.ref.Port, Full: full})
			}
			spec.Members, spec.All = members, ""
		}
		spec.Members = slices.DeleteFunc(spec.Members, func(x Member) bool { return x.Node == ref.Node && x.Port == ref.Port })
		f.resyncLocked()
		return f.pkeyEventsLocked(before), nil
	})
}

// Reregister is an SM hand-over: the new SM has no multicast state, so
// every membership is dropped (groups other than the broadcast groups
// disappear), and every Active port is asked to re-register (SMReregister,
// IB_EVENT_CLIENT_REREGISTER), upon which IPoIB rejoins its groups.
func (f *Fabric) Reregister() {
	_ = f.change(func() ([]Event, error) {
		for _, g := range f.groups {
			clear(g.members)
			g.clearReceiversLocked()
			if !g.broadcast {
				f.deleteGroupLocked(g)
			}
		}
		var evs []Event
		for _, p := range f.ports {
			if p.state == StateActive {
				evs = append(evs, Event{Kind: SMReregister, Node: p.ref.Node, Port: p.ref.Port})
			}
		}
		return evs, nil
	})
}

// SMLID is the LID of the port the subnet manager runs on: the first
// node's port 1.
func (f *Fabric) SMLID() uint16 { return f.ports[0].lid }

// partitionLocked finds the partition for a P_Key given to an operation.
//
// Caller holds f.mu.
func (f *Fabric) partitionLocked(op string, pkey uint16) (int, error) {
	if !header.PKeyValid(pkey) {
		return -1, errorf(op, pkeyName(pkey), unix.EINVAL, "invalid P_Key")
	}
	i := f.findPartitionLocked(pkey)
	if i < 0 {
		return -1, errorf(op, pkeyName(pkey), unix.ENOENT, "no partition %s", pkeyName(header.PKeyFull(pkey)))
	}
	return i, nil
}

// Caller holds f.mu.
func (f *Fabric) findPartitionLocked(pkey uint16) int {
	return slices.IndexFunc(f.partitions, func(p partition) bool { return p.key == header.PKeyBase(pkey) })
}

// pkeyTablesLocked is every port's P_Key table, in port order.
//
// Caller holds f.mu.
func (f *Fabric) pkeyTablesLocked() [][]uint16 {
	tables := make([][]uint16, len(f.ports))
	for i, p := range f.ports {
		tables[i] = f.pkeyTableLocked(p.ref)
	}
	return tables
}

// resyncLocked brings the multicast state in line with the partition
// table: a member whose port no longer holds the group's partition is
// dropped (a group left empty disappears unless it is a broadcast group),
// and each broadcast group's rate becomes the slowest rate of the
// partition's member ports (0 while it has none).
//
// Caller holds f.mu.
func (f *Fabric) resyncLocked() {
	for _, g := range f.groups {
		for p := range g.members {
			if _, ok := FindPKey(f.pkeyTableLocked(p.ref), g.pkey); !ok {
				delete(g.members, p)
				g.setReceiverLocked(p)
			}
		}
		if len(g.members) == 0 && !g.broadcast {
			f.deleteGroupLocked(g)
		}
	}
	for _, pt := range f.partitions {
		g := f.broadcastLocked(pt.key)
		if g == nil {
			continue
		}
		g.rate = 0
		for _, p := range f.ports {
			if _, ok := membership(pt.spec, p.ref.Node, p.ref.Port); ok && (g.rate == 0 || p.spec.LinkSpeed() < g.rate) {
				g.rate = p.spec.LinkSpeed()
			}
		}
	}
}

// pkeyEventsLocked is a PKeyChange event for every port whose P_Key table
// differs from before (pkeyTablesLocked), in port order.
//
// Caller holds f.mu.
func (f *Fabric) pkeyEventsLocked(before [][]uint16) []Event {
	var evs []Event
	for i, p := range f.ports {
		if !slices.Equal(before[i], f.pkeyTableLocked(p.ref)) {
			evs = append(evs, Event{Kind: PKeyChange, Node: p.ref.Node, Port: p.ref.Port})
		}
	}
	return evs
}
