package verbs

import "golang.org/x/sys/unix"

// AttachMcast attaches a UD QP to the multicast group mgid with LID mlid
// (ib_attach_mcast): packets sent to the group, including this device's
// own, are delivered to the QP. Attaching twice is not an error. It
// returns EINVAL for an RC QP or a unicast mlid.
func (qp *QP) AttachMcast(mgid [16]byte, mlid uint16) error {
	if qp.typ != UD {
		return newError("attach_mcast", unix.EINVAL, "not a UD QP")
	}
	if !isMulticastLID(mlid) {
		return newError("attach_mcast", unix.EINVAL, "not a multicast LID")
	}
	d := qp.dev
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.mcast[mgid]
	for _, m := range old {
		if m == qp {
			return nil
		}
	}
	// Copy on write: Receive iterates a slice without the lock.
	members := make([]*QP, len(old), len(old)+1)
	copy(members, old)
	d.mcast[mgid] = append(members, qp)
	qp.mgids = append(qp.mgids, mgid)
	return nil
}

// DetachMcast detaches the QP from mgid (ib_detach_mcast); it returns
// EINVAL if the QP is not attached.
func (qp *QP) DetachMcast(mgid [16]byte, mlid uint16) error {
	d := qp.dev
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, g := range qp.mgids {
		if g == mgid {
			qp.mgids = append(qp.mgids[:i], qp.mgids[i+1:]...)
			d.removeMember(mgid, qp)
			return nil
		}
	}
	return newError("detach_mcast", unix.EINVAL, "QP not attached to the group")
}

// removeMember drops qp from the group's member list.
// Caller holds d.mu.
func (d *Device) removeMember(mgid [16]byte, qp *QP) {
	old := d.mcast[mgid]
	members := make([]*QP, 0, len(old))
	for _, m := range old {
		if m != qp {
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		delete(d.mcast, mgid)
		return
	}
	d.mcast[mgid] = members
}

// mcastMembers returns the QPs attached to mgid; the slice is never
// modified, so it may be used after the lock is released.
func (d *Device) mcastMembers(mgid [16]byte) []*QP {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.mcast[mgid]
}

func (d *Device) hasMcastMembers(mgid [16]byte) bool { return len(d.mcastMembers(mgid)) > 0 }
