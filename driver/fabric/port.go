package fabric

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// State is a port's logical state, numbered as in PortInfo and sysfs
// (ibstat prints the names).
type State uint8

const (
	StateDown   State = 1 // IB_PORT_DOWN
	StateActive State = 4 // IB_PORT_ACTIVE
)

func (s State) String() string {
	switch s {
	case StateDown:
		return "Down"
	case StateActive:
		return "Active"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// PhysState is a port's physical state, numbered as in PortInfo.
type PhysState uint8

const (
	PhysDisabled PhysState = 3
	PhysLinkUp   PhysState = 5
)

func (s PhysState) String() string {
	switch s {
	case PhysDisabled:
		return "Disabled"
	case PhysLinkUp:
		return "LinkUp"
	}
	return fmt.Sprintf("PhysState(%d)", uint8(s))
}

// phys is the physical state that goes with a logical one: the emulated
// link is either up and active or disabled and down.
func (s State) phys() PhysState {
	if s == StateActive {
		return PhysLinkUp
	}
	return PhysDisabled
}

// PortInfo is what the SM knows of a port, as ibstat shows it.
type PortInfo struct {
	Port      PortRef
	Spec      Port // width, speed, IB MTU, capabilities
	GUID      uint64
	GID       [16]byte
	LID       uint16
	SMLID     uint16
	State     State
	PhysState PhysState
}

// PortInfo describes a port; ok is false when the fabric lacks it.
func (f *Fabric) PortInfo(node string, port int) (PortInfo, bool) {
	p := f.byRef[PortRef{node, port}]
	if p == nil {
		return PortInfo{}, false
	}
	f.mu.Lock()
	st := p.state
	f.mu.Unlock()
	return PortInfo{Port: p.ref, Spec: p.spec, GUID: p.guid, GID: p.gid, LID: p.lid, SMLID: f.SMLID(),
		State: st, PhysState: st.phys()}, true
}

// PortState is the port's logical state; 0 for a port the fabric lacks.
func (f *Fabric) PortState(node string, port int) State {
	p := f.byRef[PortRef{node, port}]
	if p == nil {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return p.state
}

// SetPortState brings the port's link up (StateActive, physical LinkUp) or
// disables it (StateDown, physical Disabled), for tests and for commands
// that emulate cable pulls. A change emits PortActive or PortDown; setting
// the current state does nothing. Going down bumps LinkDowned and, as the
// SM drops a vanished port, removes the port from every multicast group
// (a group left empty disappears unless it is a broadcast group); its
// endpoint stays attached, and the port neither sends nor receives until
// it is Active again. Errors: ENODEV for an unknown port, EINVAL for
// another state.
func (f *Fabric) SetPortState(node string, port int, s State) error {
	const op = "set port state"
	ref := PortRef{node, port}
	return f.change(func() ([]Event, error) {
		p := f.byRef[ref]
		if p == nil {
			return nil, errorf(op, ref.String(), unix.ENODEV, "no such port")
		}
		if s != StateActive && s != StateDown {
			return nil, errorf(op, ref.String(), unix.EINVAL, "invalid state %d", uint8(s))
		}
		if p.state == s {
			return nil, nil
		}
		p.state = s
		p.syncFwdLocked()
		if s == StateActive {
			return []Event{{Kind: PortActive, Node: node, Port: port}}, nil
		}
		p.ctr.linkDowned.Add(1)
		for _, g := range f.groups {
			delete(g.members, p)
			g.setReceiverLocked(p)
			if len(g.members) == 0 && !g.broadcast {
				f.deleteGroupLocked(g)
			}
		}
		return []Event{{Kind: PortDown, Node: node, Port: port}}, nil
	})
}

// GIDOfLID is the GID of the port with unicast LID lid; ok is false when
// no port has it. LIDs are assigned in port order from 1 and never change.
func (f *Fabric) GIDOfLID(lid uint16) (gid [16]byte, ok bool) {
	if lid == 0 || int(lid) > len(f.ports) {
		return gid, false
	}
	return f.ports[lid-1].gid, true
}
