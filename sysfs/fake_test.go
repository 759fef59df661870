package sysfs

import (
	"fmt"
	"sort"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// fakeDriver is an in-memory Driver following the reference rules closely
// enough for the sysfs front end: parent pkey 0xffff, create_child stores
// pkey|0x8000 under the name "%.10s.%04x" of the value as written,
// ENOTUNIQ against the parent and legacy children, EEXIST on a name clash,
// EINVAL for a zero partition; delete_child matches legacy children by
// stored pkey, else ENODEV.
type fakeDriver struct {
	devs    []*fakeDev // ifindex order
	params  []Param    // name order
	next    int32
	modeErr error    // returned by SetMode after it applied the mode
	calls   []string // mutating calls, in order
}

type fakeDev struct {
	name, parent string
	index        int32
	port         uint16 // parents: 1-based HCA port
	legacy       bool
	pkey         uint16 // with the full-member bit
	mode         uint16
	umcast       bool
	up, carrier  bool
	oper         uint8 // IF_OPER_* while up
	cm           bool  // hardware address byte 0 has 0x80
	mtu          uint32
	txqlen       *uint32 // nil: 256
	stats        netlinkx.Stats
}

// fakeErr is how a driver reports a failure: an errno plus a message that
// netlink would carry as extended ack.
type fakeErr struct {
	op    string
	errno unix.Errno
}

func (e *fakeErr) Error() string         { return e.op + ": " + e.errno.Error() }
func (e *fakeErr) Unwrap() error         { return e.errno }
func (e *fakeErr) ExtAck() string        { return "fake " + e.op }
func fail(op string, e unix.Errno) error { return &fakeErr{op, e} }

// newFake returns a node with parent ib0 (port 1, down, connected-mode
// capable) and the ib_ipoib parameters plus "hidden", which has no
// permission bits and so no file.
func newFake() *fakeDriver {
	f := &fakeDriver{next: 2, params: []Param{
		{Name: "cm_data_debug_level", Perm: 0o644},
		{Name: "data_debug_level", Perm: 0o644},
		{Name: "debug_level", Perm: 0o644},
		{Name: "hidden", Perm: 0, Value: 7},
		{Name: "max_nonsrq_conn_qp", Perm: 0o444, Value: 128},
		{Name: "mcast_debug_level", Perm: 0o644},
		{Name: "recv_queue_size", Perm: 0o444, Value: 256},
		{Name: "send_queue_size", Perm: 0o444, Value: 128},
	}}
	f.add(&fakeDev{name: "ib0", port: 1, pkey: 0xffff, cm: true})
	return f
}

// newFixture adds to newFake: ib1 (port 2, up with carrier, no connected
// mode), the legacy child ib0.8001 (ifindex 4) and the netlink-created
// child ipoib0 (ifindex 5, pkey 0x8002). The call log starts empty.
func newFixture() *fakeDriver {
	f := newFake()
	f.add(&fakeDev{name: "ib1", port: 2, pkey: 0xffff, up: true, carrier: true, oper: 6})
	if err := f.CreateChild("ib0", 0x8001); err != nil {
		panic(err)
	}
	f.add(&fakeDev{name: "ipoib0", parent: "ib0", pkey: 0x8002})
	f.calls = nil
	return f
}

func (f *fakeDriver) add(d *fakeDev) {
	d.index = f.next
	f.next++
	f.devs = append(f.devs, d)
}

func (f *fakeDriver) find(name string) *fakeDev {
	for _, d := range f.devs {
		if d.name == name {
			return d
		}
	}
	return nil
}

func (f *fakeDriver) Devices() []string {
	out := make([]string, len(f.devs))
	for i, d := range f.devs {
		out[i] = d.name
	}
	return out
}

func (f *fakeDriver) Device(name string) (Device, error) {
	d := f.find(name)
	if d == nil {
		return Device{}, fail("device", unix.ENODEV)
	}
	flags := uint32(0x1002) // BROADCAST | MULTICAST
	oper := uint8(2)        // IF_OPER_DOWN
	if d.up {
		flags |= 0x1
		oper = d.oper
		if d.carrier {
			flags |= 0x40 | 0x10000 // RUNNING | LOWER_UP
		}
	}
	qpn := 0x48 + uint32(d.index)
	addr := []byte{0, byte(qpn >> 16), byte(qpn >> 8), byte(qpn),
		0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x02, 0xc9, 0x03, 0x00, 0x0b, 0x3b, 0x51}
	if d.cm {
		addr[0] = 0x80
	}
	brd := []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0x12, 0x40, 0x1b, byte(d.pkey >> 8), byte(d.pkey),
		0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	umcast := uint16(0)
	if d.umcast {
		umcast = 1
	}
	dv := Device{
		Link: netlinkx.Link{
			Index: d.index, Type: 32, Flags: flags, Name: d.name, MTU: d.mtuOr2044(), TxQLen: d.txqlenOr256(),
			Operstate: oper, Carrier: d.up && d.carrier, Address: addr, Broadcast: brd, Kind: "ipoib",
			IPoIB: &netlinkx.IPoIB{PKey: d.pkey, Mode: d.mode, Umcast: umcast}, Stats: d.stats,
		},
		Legacy: d.legacy,
		Parent: d.parent,
	}
	if p := f.find(d.parent); p != nil {
		dv.Link.ParentIndex = p.index
	} else {
		dv.DevID, dv.DevPort = d.port-1, d.port-1
	}
	return dv, nil
}

func (f *fakeDriver) CreateChild(parent string, pkey uint16) error {
	f.calls = append(f.calls, fmt.Sprintf("CreateChild(%s, %#04x)", parent, pkey))
	p := f.find(parent)
	switch {
	case p == nil:
		return fail("create_child", unix.ENODEV)
	case p.parent != "":
		return fail("create_child", unix.EINVAL)
	case pkey&0x7fff == 0:
		return fail("create_child", unix.EINVAL)
	case pkey == p.pkey:
		return fail("create_child", unix.ENOTUNIQ)
	}
	for _, c := range f.devs {
		if c.parent == parent && c.legacy && c.pkey == pkey {
			return fail("create_child", unix.ENOTUNIQ)
		}
	}
	name := fmt.Sprintf("%.10s.%04x", parent, pkey)
	if f.find(name) != nil {
		return fail("create_child", unix.EEXIST)
	}
	f.add(&fakeDev{name: name, parent: parent, legacy: true, pkey: pkey | 0x8000, cm: p.cm})
	return nil
}

func (f *fakeDriver) DeleteChild(parent string, pkey uint16) error {
	f.calls = append(f.calls, fmt.Sprintf("DeleteChild(%s, %#04x)", parent, pkey))
	if f.find(parent) == nil {
		return fail("delete_child", unix.ENODEV)
	}
	for i, c := range f.devs {
		if c.parent == parent && c.legacy && c.pkey == pkey {
			f.devs = append(f.devs[:i:i], f.devs[i+1:]...)
			return nil
		}
	}
	return fail("delete_child", unix.ENODEV)
}

func (f *fakeDriver) SetMode(dev string, mode uint16) error {
	f.calls = append(f.calls, fmt.Sprintf("SetMode(%s, %d)", dev, mode))
	d := f.find(dev)
	switch {
	case d == nil:
		return fail("mode", unix.ENODEV)
	case mode == netlinkx.ModeConnected && !d.cm:
		return fail("mode", unix.EINVAL)
	}
	d.mode = mode
	return f.modeErr
}

func (d *fakeDev) mtuOr2044() uint32 {
	if d.mtu == 0 {
		return 2044
	}
	return d.mtu
}

func (f *fakeDriver) SetMTU(dev string, mtu uint32) error {
	f.calls = append(f.calls, fmt.Sprintf("SetMTU(%s, %d)", dev, mtu))
	d := f.find(dev)
	if d == nil {
		return fail("mtu", unix.ENODEV)
	}
	if mtu < 72 || mtu > 65520 {
		return fail("mtu", unix.EINVAL)
	}
	d.mtu = mtu
	return nil
}

func (d *fakeDev) txqlenOr256() uint32 {
	if d.txqlen == nil {
		return 256
	}
	return *d.txqlen
}

func (f *fakeDriver) SetTxQueueLen(dev string, qlen uint32) error {
	f.calls = append(f.calls, fmt.Sprintf("SetTxQueueLen(%s, %d)", dev, qlen))
	d := f.find(dev)
	if d == nil {
		return fail("tx_queue_len", unix.ENODEV)
	}
	d.txqlen = &qlen
	return nil
}

func (f *fakeDriver) SetUmcast(dev string, on bool) error {
	f.calls = append(f.calls, fmt.Sprintf("SetUmcast(%s, %t)", dev, on))
	d := f.find(dev)
	if d == nil {
		return fail("umcast", unix.ENODEV)
	}
	d.umcast = on
	return nil
}

func (f *fakeDriver) Params() []Param { return append([]Param(nil), f.params...) }

func (f *fakeDriver) SetParam(name string, value int) error {
	f.calls = append(f.calls, fmt.Sprintf("SetParam(%s, %d)", name, value))
	for i := range f.params {
		if f.params[i].Name == name {
			if f.params[i].Perm&0o200 == 0 {
				return fail("set param", unix.EACCES)
			}
			f.params[i].Value = value
			return nil
		}
	}
	return fail("set param", unix.ENOENT)
}

// state is everything the Driver shows, for "unchanged after a failure".
type state struct {
	Devices []Device
	Params  []Param
}

func snapshot(d Driver) state {
	var s state
	names := d.Devices()
	sort.Strings(names)
	for _, n := range names {
		dv, err := d.Device(n)
		if err != nil {
			panic(err)
		}
		s.Devices = append(s.Devices, dv)
	}
	s.Params = d.Params()
	return s
}

var _ Driver = (*fakeDriver)(nil)

func (f *fakeDriver) McastGroups(dev string) ([]MCG, error) {
	if dev != "ib0" {
		return nil, nil
	}
	return []MCG{
		{GID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0xff, 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}, Created: 123456, Complete: true},
		{GID: [16]byte{0xff, 0x12, 0x60, 0x1b, 0xff, 0xff, 15: 1}, Created: 123999, QueueLen: 3, SendOnly: true},
	}, nil
}

func (f *fakeDriver) Paths(dev string) ([]Path, error) {
	if dev != "ib0" {
		return nil, nil
	}
	gid := func(last byte) [16]byte {
		return [16]byte{0xfe, 0x80, 8: 0, 9: 0x02, 10: 0xc9, 11: 0x03, 12: 0, 13: 0x0b, 14: 0x3b, 15: last}
	}
	return []Path{
		{GID: gid(0x51), Complete: true, DLID: 2, RateMbps: 56250},
		{GID: gid(0x52)},
		{GID: gid(0x53), Complete: true, DLID: 0x11, SL: 3, RateMbps: 14062},
	}, nil
}

// ibFake is the fake's HCA: mlx5_0 with port 1 active (the SM's port,
// LID 1, two P_Keys) and port 2 down, tables of 8 GIDs and 4 P_Keys.
func ibFake() IBDevice {
	gid := [16]byte{0xfe, 0x80, 8: 0x00, 9: 0x02, 10: 0xc9, 11: 0x03, 12: 0x00, 13: 0x0b, 14: 0x3b, 15: 0x51}
	p1 := IBPort{Num: 1, State: 4, PhysState: 5, ActiveWidth: IBWidth4X, ActiveSpeed: IBSpeedEDR, LID: 1, SMLID: 1,
		SMSL: 0, LMC: 0, CapMask: 0x2651e84a, GIDs: make([][16]byte, 8), PKeys: []uint16{0xffff, 0x8001, 0, 0}}
	p1.GIDs[0] = gid
	p2 := IBPort{Num: 2, State: 1, PhysState: 3, ActiveWidth: IBWidth4X, ActiveSpeed: IBSpeedEDR, LID: 0x1a, SMLID: 1,
		SMSL: 3, LMC: 2, CapMask: 0x2651e848, GIDs: make([][16]byte, 8), PKeys: []uint16{0x7fff, 0, 0, 0}}
	return IBDevice{Name: "mlx5_0", NodeType: 1, NodeGUID: 0x0002c90300001000, SysImageGUID: 0x0002c90300001003,
		FWVer: "12.28.2006", HWRev: 0x1b, HCAType: "MT4115", BoardID: "MT_2190110032", NodeDesc: "node0 mlx5_0",
		Ports: []IBPort{p1, p2}}
}

// ibDriver is the fake with RDMA devices; ibErr, when set, is what
// IBDevice returns.
type ibDriver struct {
	*fakeDriver
	devs  []IBDevice
	ibErr error
}

func newIBFixture() *ibDriver { return &ibDriver{fakeDriver: newFixture(), devs: []IBDevice{ibFake()}} }

func (f *ibDriver) IBDevices() []string {
	var out []string
	for _, d := range f.devs {
		out = append(out, d.Name)
	}
	return out
}

func (f *ibDriver) IBDevice(name string) (IBDevice, error) {
	if f.ibErr != nil {
		return IBDevice{}, f.ibErr
	}
	for _, d := range f.devs {
		if d.Name == name {
			return d, nil
		}
	}
	return IBDevice{}, fail("infiniband", unix.ENODEV)
}

var _ InfiniBand = (*ibDriver)(nil)
