package driver

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/ibctl/ibctl/driver/header"
	"strconv"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Port events from the subnet manager reach the driver as the kernel's
// ipoib_event does: P_Key table changes cause a heavy flush of every
// interface on the port, port state changes a normal flush. The fabric
// delivers events synchronously after its own lock is released; the
// handler only queues them, and the driver operation that changed the
// fabric runs the flushes under the driver lock before it returns, so a
// command's effect is complete when it is acknowledged.

// onEvent queues a fabric event.
func (d *Driver) onEvent(ev fabric.Event) {
	d.evmu.Lock()
	d.pending = append(d.pending, ev)
	d.evmu.Unlock()
}

// drainEvents runs the flushes for queued events. Caller holds d.mu.
func (d *Driver) drainEvents() error {
	d.evmu.Lock()
	evs := d.pending
	d.pending = nil
	d.evmu.Unlock()
	var first error
	for _, ev := range evs {
		n, ok := d.nodes[ev.Node]
		if !ok {
			continue
		}
		if err := (&Node{stack: n}).flushPort(ev); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// flushPort re-evaluates every interface on the event's port and saves
// what changed (MTU follows a new broadcast group, a parent adopts a new
// P_Key at index 0).
func (n *Node) flushPort(ev fabric.Event) error {
	if ev.Kind == fabric.PKeyChange {
		n.refreshPKeys(ev.Port)
	}
	var changed []*Netdev
	for _, nd := range n.order.list() {
		if nd.port != ev.Port {
			continue
		}
		before := mustJSON(nd.record())
		switch ev.Kind {
		case fabric.PKeyChange:
			nd.flushHeavy()
		case fabric.PortActive, fabric.PortDown, fabric.LIDChange, fabric.SMReregister:
			nd.restart()
		}
		if !bytes.Equal(before, mustJSON(nd.record())) {
			changed = append(changed, nd)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	return n.persist(changed...)
}

// flushHeavy is the P_Key part of ipoib_ib_dev_flush_heavy: a parent
// re-reads index 0 of the table and adopts a changed value; a child
// re-checks its P_Key; an interface that is up restarts and rejoins.
func (nd *Netdev) flushHeavy() {
	if nd.parent == nil {
		if key := nd.node.portPKey(nd.port); key != nd.pkey {
			nd.dbg("P_Key 0x%04x changed to 0x%04x", nd.pkey, key)
			nd.leave()
			nd.pkey = key
		}
	}
	nd.restart()
}

// restart takes carrier down, leaves and joins again, as a flush of an
// interface that is up does.
func (nd *Netdev) restart() {
	if !nd.up {
		return
	}
	nd.setCarrier(false)
	nd.leave()
	nd.join()
}

// checkPKeyArg validates a P_Key given to the subnet manager.
func checkPKeyArg(op string, pkey uint16) error {
	if !ValidPKey(pkey) {
		return errorf(op, "", unix.EINVAL, "invalid P_Key 0x%04x", pkey)
	}
	return nil
}

// Partitions lists the subnet manager's partition table.
func (d *Driver) Partitions() []netlinkx.Partition {
	var out []netlinkx.Partition
	for _, p := range d.fab.Partitions() {
		v, _ := strconv.ParseUint(p.PKey, 0, 16)
		np := netlinkx.Partition{PKey: header.PKeyFull(uint16(v)), MTU: uint32(p.MTU), All: p.All}
		for _, m := range p.Members {
			np.Members = append(np.Members, netlinkx.PartitionMember{Node: m.Node, Port: uint32(m.Port), Full: m.Full})
		}
		out = append(out, np)
	}
	return out
}

// AddPartition adds a partition to the subnet manager and saves the
// partition table; interfaces waiting for the P_Key come up.
func (d *Driver) AddPartition(p netlinkx.Partition) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := checkPKeyArg("partition add", p.PKey); err != nil {
		return err
	}
	fp := fabric.Partition{PKey: fmt.Sprintf("0x%04x", header.PKeyFull(p.PKey)), MTU: int(p.MTU), All: p.All}
	for _, m := range p.Members {
		fp.Members = append(fp.Members, fabric.Member{Node: m.Node, Port: int(m.Port), Full: m.Full})
	}
	if err := d.fab.AddPartition(fp); err != nil {
		return fabricError("partition add", err)
	}
	return d.afterSMChange()
}

// DelPartition removes a partition; interfaces on it lose carrier.
func (d *Driver) DelPartition(pkey uint16) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := checkPKeyArg("partition del", pkey); err != nil {
		return err
	}
	if err := d.fab.DeletePartition(pkey); err != nil {
		return fabricError("partition del", err)
	}
	return d.afterSMChange()
}

// afterSMChange saves the partition table with the topology and runs the
// flushes the change caused. Caller holds d.mu.
func (d *Driver) afterSMChange() error {
	ferr := d.drainEvents()
	if d.st != nil {
		t := *d.fab.Topology()
		t.Partitions = d.fab.Partitions()
		if err := d.st.Put("topology", mustJSON(&t)); err != nil {
			return &Error{Op: "save state", Err: unix.EIO, Msg: err.Error()}
		}
	}
	return ferr
}

// fabricError carries the fabric's errno and message to the caller.
func fabricError(op string, err error) error {
	var fe *fabric.Error
	if errors.As(err, &fe) {
		return &Error{Op: op, Err: fe.Err, Msg: fe.Msg}
	}
	return &Error{Op: op, Err: netlinkx.ErrnoOf(err), Msg: err.Error()}
}

// Groups lists the subnet manager's multicast groups.
func (d *Driver) Groups() []netlinkx.Group {
	var out []netlinkx.Group
	for _, g := range d.fab.Groups() {
		ng := netlinkx.Group{MGID: g.MGID, MLID: g.MLID, PKey: g.PKey, QKey: g.QKey, MTU: uint32(g.MTU),
			Rate: uint32(g.Rate), Broadcast: g.Broadcast}
		for _, m := range g.Members {
			ng.Members = append(ng.Members, netlinkx.GroupMember{Node: m.Port.Node, Port: uint32(m.Port.Port), JoinState: uint8(m.JoinState)})
		}
		out = append(out, ng)
	}
	return out
}

// capIsSM is PortInfo:CapabilityMask's IsSM bit (IBA 14.2.5.6).
const capIsSM = 1 << 1

// HCA is what ibstat shows for the node's HCA.
func (n *Node) HCA() (netlinkx.HCA, error) {
	spec := n.hw.Spec
	id := spec.Identity()
	h := netlinkx.HCA{Name: id.Name, Type: id.Type, Firmware: spec.Firmware, HWVersion: id.HWVer, PartitionCap: id.PartitionCap, NodeGUID: n.hw.GUID,
		SysImageGUID: n.hw.GUID + uint64(len(spec.Ports)) + 1}
	for port := 1; port <= len(spec.Ports); port++ {
		pi, ok := n.d.fab.PortInfo(n.name, port)
		if !ok {
			continue
		}
		capMask := id.CapMask
		if pi.LID != 0 && pi.LID == pi.SMLID {
			capMask |= capIsSM // the SM runs on this port
		}
		h.Ports = append(h.Ports, netlinkx.HCAPort{
			Num: uint32(port), State: pi.State.String(), PhysState: pi.PhysState.String(), Rate: pi.Spec.RateString(),
			LID: pi.LID, SMLID: pi.SMLID, CapMask: capMask, PortGUID: pi.GUID, Width: pi.Spec.Width, Speed: pi.Spec.Speed,
			MTU: uint32(pi.Spec.MTU), PKeys: n.d.fab.PKeyTable(n.name, port),
		})
	}
	return h, nil
}

// SMInfo describes the subnet manager: it runs on the port whose LID is
// the SM LID.
func (d *Driver) SMInfo() netlinkx.SMInfo {
	info := netlinkx.SMInfo{LID: d.fab.SMLID(), Partitions: uint32(len(d.fab.Partitions())), Groups: uint32(len(d.fab.Groups()))}
	for _, name := range d.fab.NodeNames() {
		ns, _ := d.fab.Node(name)
		for port := 1; port <= len(ns.Spec.Ports); port++ {
			if pi, ok := d.fab.PortInfo(name, port); ok && pi.LID == info.LID {
				info.Node, info.Port = name, uint32(port)
				return info
			}
		}
	}
	return info
}
