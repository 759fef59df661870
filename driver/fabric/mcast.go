package fabric

import (
	"bytes"
	"fmt"
	"github.com/ibctl/ibctl/driver/header"
	"slices"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The subnet administrator's multicast groups, with MCMemberRecord
// semantics as IPoIB uses them (ipoib_multicast.c: the broadcast group is
// joined without create components and IPoIB adopts its Q_Key, MTU and
// rate; other groups are joined or created with the broadcast group's).

// BroadcastQKey is the Q_Key of the broadcast groups the SM creates:
// OpenSM's default (OSM_IPOIB_BROADCAST_MGRP_QKEY). The kernel sets no
// Q_Key of its own: it takes the one the SA returns for the broadcast group
// (priv->qkey in ipoib_mcast_join_finish).
const BroadcastQKey = 0x00000b1b

// JoinState is an MCMemberRecord JoinState bit set.
type JoinState uint8

const (
	FullMember         JoinState = 1
	NonMember          JoinState = 2
	SendOnlyNonMember  JoinState = 4
	SendOnlyFullMember JoinState = 8 // IPoIB's send-only joins
)

// receives reports whether a member with this join state gets the
// group's traffic: send-only members only send.
func (j JoinState) receives() bool { return j&(FullMember|NonMember) != 0 }

// creates reports whether a join with this state may create the group:
// only full members (send-only full members included) can.
func (j JoinState) creates() bool { return j&(FullMember|SendOnlyFullMember) != 0 }

// Selector is an SA component selector (ib_sa.h IB_SA_GT…IB_SA_BEST).
type Selector uint8

const (
	SelectGT      Selector = iota // greater than the value
	SelectLT                      // less than the value
	SelectEQ                      // exactly the value
	SelectLargest                 // the largest available; the value is ignored
)

// JoinRequest is an SA MCMemberRecord Set (join) as a port sends it. Zero
// QKey, MTU and Rate mean the component is not given.
type JoinRequest struct {
	// Joiner names the client on the port that joins, such as one IPoIB
	// interface (the kernel's ib_sa_join_multicast caller): the SA keeps
	// the port a member while any joiner's join stands, and Leave takes
	// back only the named joiner's.
	Joiner    uint64
	MGID      [16]byte
	PKey      uint16 // must be in the port's P_Key table (low 15 bits)
	JoinState JoinState
	Create    bool // the request carries the create components
	QKey      uint32

	MTUSelector Selector
	MTU         int // IB MTU in bytes

	RateSelector Selector
	Rate         int // Mb/s, as Port.LinkSpeed
}

// MCMember is the SA's answer to a join: the group's record as seen by the
// joining port.
type MCMember struct {
	MGID      [16]byte
	PortGID   [16]byte
	MLID      uint16
	QKey      uint32
	PKey      uint16 // the group's P_Key, full-member form
	MTU       int    // IB MTU in bytes
	Rate      int    // Mb/s
	SL        uint8
	JoinState JoinState // the port's join state after the join
}

// Group is one multicast group as Groups lists it.
type Group struct {
	MGID      [16]byte
	MLID      uint16
	PKey      uint16 // full-member form
	QKey      uint32
	MTU       int
	Rate      int  // Mb/s
	Broadcast bool // a partition's broadcast group, owned by the SM
	Members   []GroupMember
}

// GroupMember is one port's membership of a group.
type GroupMember struct {
	Port      PortRef
	GID       [16]byte
	JoinState JoinState
}

type group struct {
	mgid      [16]byte
	mlid      uint16
	pkey      uint16 // bit 15 set
	qkey      uint32
	mtu, rate int
	broadcast bool
	// members holds each member port's joins by joiner; the port's join
	// state is their union, as the kernel's multicast.c keeps one
	// mcast_member per join and sends the SA the union of their states.
	members map[*port]map[uint64]JoinState
	// recv is what Send reads without locking: the member ports whose
	// join state receives (FullMember or NonMember), in port order. It
	// is changed under Fabric.mu by setReceiverLocked only.
	recv atomic.Pointer[[]*port]
}

// newGroup is a group with no members.
func newGroup(g *group) *group {
	g.members = map[*port]map[uint64]JoinState{}
	g.recv.Store(&[]*port{})
	return g
}

// setReceiverLocked publishes whether p receives g's packets after a
// change of its join state, in time linear in the receivers at worst and
// constant when p comes after every receiver (ports joining in order, as
// a fabric coming up does). A published slice is never written within
// its length: a port appended at the end goes into the spare capacity
// beyond it, which no reader sees, and any other change makes a new
// array.
//
// Caller holds Fabric.mu.
func (g *group) setReceiverLocked(p *port) {
	cur := *g.recv.Load()
	i, found := slices.BinarySearchFunc(cur, p.idx, func(q *port, idx int) int { return q.idx - idx })
	want := g.state(p).receives()
	var next []*port
	switch {
	case want == found:
		return
	case want && i == len(cur) && len(cur) < cap(cur):
		next = cur[:i+1]
		next[i] = p
	case want:
		next = make([]*port, 0, 2*len(cur)+4)
		next = append(append(append(next, cur[:i]...), p), cur[i:]...)
	default:
		next = make([]*port, 0, cap(cur))
		next = append(append(next, cur[:i]...), cur[i+1:]...)
	}
	g.recv.Store(&next)
}

// clearReceiversLocked publishes that no port receives g's packets.
//
// Caller holds Fabric.mu.
func (g *group) clearReceiversLocked() { g.recv.Store(&[]*port{}) }

// state is a port's join state in g: the union of its joiners'.
func (g *group) state(p *port) JoinState {
	var js JoinState
	for _, j := range g.members[p] {
		js |= j
	}
	return js
}

// BroadcastMGID is the IPoIB broadcast group of a partition:
// ff12:401b:PPPP:0:0:0:ffff:ffff with the P_Key's bit 15 set.
func BroadcastMGID(pkey uint16) [16]byte {
	pkey = header.PKeyFull(pkey)
	return [16]byte{0xff, 0x12, 0x40, 0x1b, byte(pkey >> 8), byte(pkey), 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}
}

// Join is an SA join (MCMemberRecord Set) from ref's port:
//   - the port must exist (ENODEV) and be Active (ENETDOWN);
//   - JoinState must be a non-empty set of the four bits (EINVAL);
//   - the P_Key must be valid and in the port's P_Key table, as full or
//     limited member (EINVAL);
//   - an existing group must have the request's P_Key, and Q_Key, MTU and
//     rate when given (EINVAL); the port's IB MTU and rate must reach the
//     group's (EINVAL); the join states add up;
//   - a missing group is created only when Create is set and the join is a
//     full or send-only full member one (else ENOENT). It takes the
//     requested Q_Key, MTU and rate (selectors applied within the port's
//     own MTU and rate) or, when not given, the partition's broadcast
//     group's, and the lowest free MLID (ENOSPC).
func (f *Fabric) Join(ref PortRef, req JoinRequest) (MCMember, error) {
	const op = "join"
	var rec MCMember
	err := f.change(func() ([]Event, error) {
		p, err := f.activePortLocked(op, ref)
		if err != nil {
			return nil, err
		}
		obj := ref.String()
		if req.JoinState == 0 || req.JoinState&^0xf != 0 {
			return nil, errorf(op, obj, unix.EINVAL, "invalid join state 0x%x", uint8(req.JoinState))
		}
		if !header.PKeyValid(req.PKey) {
			return nil, errorf(op, obj, unix.EINVAL, "invalid P_Key %s", pkeyName(req.PKey))
		}
		if _, ok := FindPKey(f.pkeyTableLocked(ref), req.PKey); !ok {
			return nil, errorf(op, obj, unix.EINVAL, "%s is not a member of P_Key %s", ref, pkeyName(header.PKeyFull(req.PKey)))
		}
		if req.MGID[0] != 0xff {
			return nil, errorf(op, obj, unix.EINVAL, "%s is not a multicast GID", gidString(req.MGID))
		}
		g := f.groups[req.MGID]
		if g == nil {
			if g, err = f.createGroupLocked(op, p, req); err != nil {
				return nil, err
			}
		} else if err := checkJoin(g, p, req); err != nil {
			return nil, errorf(op, obj, unix.EINVAL, "%s: %v", gidString(g.mgid), err)
		}
		if g.members[p] == nil {
			g.members[p] = map[uint64]JoinState{}
		}
		g.members[p][req.Joiner] |= req.JoinState
		g.setReceiverLocked(p)
		rec = MCMember{MGID: g.mgid, PortGID: p.gid, MLID: g.mlid, QKey: g.qkey, PKey: g.pkey,
			MTU: g.mtu, Rate: g.rate, JoinState: g.state(p)}
		return nil, nil
	})
	return rec, err
}

// checkJoin checks a join of an existing group.
func checkJoin(g *group, p *port, req JoinRequest) error {
	switch {
	case header.PKeyBase(g.pkey) != header.PKeyBase(req.PKey):
		return fmt.Errorf("group P_Key is %s, not %s", pkeyName(g.pkey), pkeyName(header.PKeyFull(req.PKey)))
	case req.QKey != 0 && req.QKey != g.qkey:
		return fmt.Errorf("group Q_Key is 0x%08x, not 0x%08x", g.qkey, req.QKey)
	case req.MTU != 0 && !req.MTUSelector.accepts(req.MTU, g.mtu):
		return fmt.Errorf("group MTU %d does not match %s %d", g.mtu, req.MTUSelector, req.MTU)
	case req.Rate != 0 && !req.RateSelector.accepts(req.Rate, g.rate):
		return fmt.Errorf("group rate %d does not match %s %d", g.rate, req.RateSelector, req.Rate)
	}
	return portCarries(p, g.mtu, g.rate)
}

// portCarries checks that the port's IB MTU and rate reach a group's.
func portCarries(p *port, mtu, rate int) error {
	if p.spec.MTU < mtu {
		return fmt.Errorf("port IB MTU %d is below the group's %d", p.spec.MTU, mtu)
	}
	if p.spec.LinkSpeed() < rate {
		return fmt.Errorf("port rate %d is below the group's %d", p.spec.LinkSpeed(), rate)
	}
	return nil
}

// Caller holds f.mu.
func (f *Fabric) createGroupLocked(op string, p *port, req JoinRequest) (*group, error) {
	obj := p.ref.String()
	if !req.Create || !req.JoinState.creates() {
		return nil, errorf(op, obj, unix.ENOENT, "no multicast group %s", gidString(req.MGID))
	}
	g := newGroup(&group{mgid: req.MGID, pkey: header.PKeyFull(req.PKey), qkey: BroadcastQKey, mtu: 2048})
	if b := f.broadcastLocked(header.PKeyBase(req.PKey)); b != nil {
		g.qkey, g.mtu, g.rate = b.qkey, b.mtu, b.rate
	}
	if req.QKey != 0 {
		g.qkey = req.QKey
	}
	var ok bool
	if req.MTU != 0 {
		if g.mtu, ok = req.MTUSelector.pickMTU(req.MTU, p.spec.MTU); !ok {
			return nil, errorf(op, obj, unix.EINVAL, "no IB MTU %s %d within the port's %d", req.MTUSelector, req.MTU, p.spec.MTU)
		}
	}
	if req.Rate != 0 {
		if g.rate, ok = req.RateSelector.pickRate(req.Rate, p.spec.LinkSpeed()); !ok {
			return nil, errorf(op, obj, unix.EINVAL, "no rate %s %d within the port's %d", req.RateSelector, req.Rate, p.spec.LinkSpeed())
		}
	}
	if err := portCarries(p, g.mtu, g.rate); err != nil {
		return nil, errorf(op, obj, unix.EINVAL, "%s: %v", gidString(req.MGID), err)
	}
	if g.mlid, ok = f.freeMLIDLocked(); !ok {
		return nil, errorf(op, obj, unix.ENOSPC, "no free multicast LID")
	}
	f.addGroupLocked(g)
	return g, nil
}

// Leave is an SA leave (MCMemberRecord Delete) of joiner's join: it
// clears joinState's bits from that join. The port's membership is the
// union of its joiners' (multicast.c: a leave reaches the SA only for the
// bits no other join on the port holds), so a port stays a member while
// another join stands; a port left with none is no member, and a group
// left without members disappears unless it is a broadcast group.
// Errors: ENODEV for an unknown port, EINVAL for an invalid join state,
// ENOENT when the group does not exist or the joiner holds none of the
// bits.
func (f *Fabric) Leave(ref PortRef, joiner uint64, mgid [16]byte, joinState JoinState) error {
	const op = "leave"
	return f.change(func() ([]Event, error) {
		p := f.byRef[ref]
		obj := ref.String()
		switch {
		case p == nil:
			return nil, errorf(op, obj, unix.ENODEV, "no such port")
		case joinState == 0 || joinState&^0xf != 0:
			return nil, errorf(op, obj, unix.EINVAL, "invalid join state 0x%x", uint8(joinState))
		}
		g := f.groups[mgid]
		if g == nil {
			return nil, errorf(op, obj, unix.ENOENT, "no multicast group %s", gidString(mgid))
		}
		js, ok := g.members[p][joiner]
		if !ok || js&joinState == 0 {
			return nil, errorf(op, obj, unix.ENOENT, "not a member of %s with join state 0x%x", gidString(mgid), uint8(joinState))
		}
		if js &^= joinState; js != 0 {
			g.members[p][joiner] = js
			g.setReceiverLocked(p)
			return nil, nil
		}
		delete(g.members[p], joiner)
		if len(g.members[p]) > 0 {
			g.setReceiverLocked(p)
			return nil, nil
		}
		delete(g.members, p)
		g.setReceiverLocked(p)
		if len(g.members) == 0 && !g.broadcast {
			f.deleteGroupLocked(g)
		}
		return nil, nil
	})
}

// Groups lists the multicast groups sorted by MGID bytes, members in port
// order.
func (f *Fabric) Groups() []Group {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Group, 0, len(f.groups))
	for _, g := range f.groups {
		gr := Group{MGID: g.mgid, MLID: g.mlid, PKey: g.pkey, QKey: g.qkey, MTU: g.mtu, Rate: g.rate, Broadcast: g.broadcast}
		for _, p := range f.membersLocked(g) {
			gr.Members = append(gr.Members, GroupMember{Port: p.ref, GID: p.gid, JoinState: g.state(p)})
		}
		out = append(out, gr)
	}
	slices.SortFunc(out, func(a, b Group) int { return bytes.Compare(a.MGID[:], b.MGID[:]) })
	return out
}

// MulticastMembers lists, in port order, the ports the switch forwards the
// MLID's traffic to: the group's members with a FullMember or NonMember
// join state (send-only members do not receive). It is nil when no group
// has the MLID.
func (f *Fabric) MulticastMembers(mlid uint16) []PortRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.mlids[mlid]
	if g == nil {
		return nil
	}
	out := []PortRef{}
	for _, p := range f.receiversLocked(g) {
		out = append(out, p.ref)
	}
	return out
}

// Caller holds f.mu.
func (f *Fabric) membersLocked(g *group) []*port {
	ps := make([]*port, 0, len(g.members))
	for p := range g.members {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *port) int { return a.idx - b.idx })
	return ps
}

// Caller holds f.mu.
func (f *Fabric) receiversLocked(g *group) []*port {
	return slices.DeleteFunc(f.membersLocked(g), func(p *port) bool { return !g.state(p).receives() })
}

// addBroadcastLocked creates a partition's broadcast group (rate is set
// by resyncLocked).
//
// Caller holds f.mu.
func (f *Fabric) addBroadcastLocked(key uint16, mtu int, mlid uint16) {
	f.addGroupLocked(newGroup(&group{mgid: BroadcastMGID(key), mlid: mlid, pkey: header.PKeyFull(key), qkey: BroadcastQKey,
		mtu: mtu, broadcast: true}))
}

// addGroupLocked enters g in the SA's tables and the switch's.
//
// Caller holds f.mu.
func (f *Fabric) addGroupLocked(g *group) {
	f.groups[g.mgid] = g
	f.mlids[g.mlid] = g
	f.mroutes[g.mlid-MulticastLIDBase].Store(g)
}

// broadcastLocked is the broadcast group of a partition number, or nil.
//
// Caller holds f.mu.
func (f *Fabric) broadcastLocked(key uint16) *group {
	if g := f.groups[BroadcastMGID(key)]; g != nil && g.broadcast {
		return g
	}
	return nil
}

// Caller holds f.mu.
func (f *Fabric) deleteGroupLocked(g *group) {
	delete(f.groups, g.mgid)
	delete(f.mlids, g.mlid)
	f.mroutes[g.mlid-MulticastLIDBase].Store(nil)
	f.mlidFree = min(f.mlidFree, g.mlid-MulticastLIDBase)
}

// freeMLIDLocked is the lowest multicast LID no group has. Every MLID
// below mlidFree is taken, so a fabric creating groups one after another
// does not scan the taken ones again.
//
// Caller holds f.mu.
func (f *Fabric) freeMLIDLocked() (uint16, bool) {
	for i := f.mlidFree; i <= MaxMulticastLID-MulticastLIDBase; i++ {
		if mlid := MulticastLIDBase + i; f.mlids[mlid] == nil {
			f.mlidFree = i
			return mlid, true
		}
	}
	f.mlidFree = MaxMulticastLID - MulticastLIDBase + 1
	return 0, false
}

// activePortLocked finds the port an SA request comes from.
//
// Caller holds f.mu.
func (f *Fabric) activePortLocked(op string, ref PortRef) (*port, error) {
	p := f.byRef[ref]
	if p == nil {
		return nil, errorf(op, ref.String(), unix.ENODEV, "no such port")
	}
	if p.state != StateActive {
		return nil, errorf(op, ref.String(), unix.ENETDOWN, "port is %s", p.state)
	}
	return p, nil
}

var selectorNames = [...]string{SelectGT: ">", SelectLT: "<", SelectEQ: "=", SelectLargest: "largest"}

func (s Selector) String() string {
	if int(s) < len(selectorNames) {
		return selectorNames[s]
	}
	return fmt.Sprintf("Selector(%d)", uint8(s))
}

// accepts reports whether an existing value have satisfies "s want".
func (s Selector) accepts(want, have int) bool {
	switch s {
	case SelectGT:
		return have > want
	case SelectLT:
		return have < want
	case SelectEQ:
		return have == want
	case SelectLargest:
		return true
	}
	return false
}

// pickMTU chooses a new group's IB MTU for "s want" within the port's.
func (s Selector) pickMTU(want, port int) (int, bool) {
	switch s {
	case SelectEQ:
		return want, validIBMTU(want) && want <= port
	case SelectGT:
		return port, port > want
	case SelectLT:
		for m := min(port, 4096); m >= 256; m /= 2 {
			if m < want {
				return m, true
			}
		}
		return 0, false
	case SelectLargest:
		return port, true
	}
	return 0, false
}

// pickRate chooses a new group's rate for "s want" within the port's.
func (s Selector) pickRate(want, port int) (int, bool) {
	switch s {
	case SelectEQ:
		return want, want <= port
	case SelectGT:
		return port, port > want
	case SelectLT:
		return port, port < want
	case SelectLargest:
		return port, true
	}
	return 0, false
}

// gidString formats a GID as the kernel's debugfs files do: eight
// unpadded hex groups, no "::" compression.
func gidString(g [16]byte) string {
	return fmt.Sprintf("%x:%x:%x:%x:%x:%x:%x:%x",
		uint16(g[0])<<8|uint16(g[1]), uint16(g[2])<<8|uint16(g[3]), uint16(g[4])<<8|uint16(g[5]),
		uint16(g[6])<<8|uint16(g[7]), uint16(g[8])<<8|uint16(g[9]), uint16(g[10])<<8|uint16(g[11]),
		uint16(g[12])<<8|uint16(g[13]), uint16(g[14])<<8|uint16(g[15]))
}
