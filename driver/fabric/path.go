package fabric

import (
	"github.com/ibctl/ibctl/driver/header"
	"golang.org/x/sys/unix"
)

// Path is an SA PathRecord between two ports.
type Path struct {
	SGID, DGID [16]byte
	SLID, DLID uint16
	SL         uint8
	MTU        int    // IB MTU: the smaller of the two ports'
	Rate       int    // Mb/s (Port.LinkSpeed): the slower of the two ports'
	PKey       uint16 // the source port's P_Key table entry for the partition
}

// PathRecord is an SA path query from src to the port with GID dgid in
// pkey's partition. Both ports must hold the partition (low 15 bits) and
// at least one of them as a full member: two limited members cannot talk.
// The path to the port itself is a loopback path. Errors: ENODEV for an
// unknown src, ENETDOWN when src is down, ENOENT for an unknown GID or a
// destination that is down (the SM has dropped it), EINVAL for an invalid
// or unshared P_Key.
func (f *Fabric) PathRecord(src PortRef, dgid [16]byte, pkey uint16) (Path, error) {
	const op = "path record"
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.activePortLocked(op, src)
	if err != nil {
		return Path{}, err
	}
	obj := src.String()
	d := f.byGID[dgid]
	if d == nil {
		return Path{}, errorf(op, obj, unix.ENOENT, "no port with GID %s", gidString(dgid))
	}
	if d.state != StateActive {
		return Path{}, errorf(op, obj, unix.ENOENT, "%s is %s", d.ref, d.state)
	}
	if !header.PKeyValid(pkey) {
		return Path{}, errorf(op, obj, unix.EINVAL, "invalid P_Key %s", pkeyName(pkey))
	}
	st, dt := f.pkeyTableLocked(s.ref), f.pkeyTableLocked(d.ref)
	si, sok := FindPKey(st, pkey)
	di, dok := FindPKey(dt, pkey)
	switch {
	case !sok || !dok:
		return Path{}, errorf(op, obj, unix.EINVAL, "P_Key %s is not shared by %s and %s", pkeyName(header.PKeyFull(pkey)), s.ref, d.ref)
	case !header.PKeyIsFull(st[si] | dt[di]):
		return Path{}, errorf(op, obj, unix.EINVAL, "%s and %s are both limited members of P_Key %s", s.ref, d.ref, pkeyName(header.PKeyFull(pkey)))
	}
	return Path{SGID: s.gid, DGID: d.gid, SLID: s.lid, DLID: d.lid,
		MTU: min(s.spec.MTU, d.spec.MTU), Rate: min(s.spec.LinkSpeed(), d.spec.LinkSpeed()), PKey: st[si]}, nil
}
