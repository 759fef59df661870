package driver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/store"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Store keys: "topology", "params" (load-time module parameters),
// "<node>/meta", "<node>/params" and "<node>/dev/<ifindex>".

// devRecord is what survives a restart of one device.
type devRecord struct {
	Index    int32    `json:"index"`
	Name     devName  `json:"name"`
	Port     int      `json:"port"`
	Parent   int32    `json:"parent,omitempty"`
	Legacy   bool     `json:"legacy,omitempty"`
	PKey     uint16   `json:"pkey"`
	QPN      uint32   `json:"qpn"`
	Mode     uint16   `json:"mode"`
	Umcast   bool     `json:"umcast,omitempty"`
	Up       bool     `json:"up,omitempty"`
	Active   bool     `json:"active,omitempty"`
	MTU      uint32   `json:"mtu"`
	AdminMTU uint32   `json:"admin_mtu"`
	McastMTU uint32   `json:"mcast_mtu"`
	NumTxQ   uint32   `json:"num_tx_queues"`
	TxQLen   *uint32  `json:"tx_queue_len,omitempty"` // absent: the default
	Wanted   []string `json:"wanted"`
	RxUsecs  uint16   `json:"rx_usecs,omitempty"`
	RxFrames uint16   `json:"rx_frames,omitempty"`
	SendQ    uint32   `json:"sendq_size,omitempty"` // absent: the module parameter
	RecvQ    uint32   `json:"recvq_size,omitempty"`
	Channels uint32   `json:"channels,omitempty"` // absent: one per CPU
	Addrs    []string `json:"addrs,omitempty"`
	// Brd maps an IPv4 address added with a broadcast address to it.
	Brd map[string]string `json:"brd,omitempty"`
	// Moder is an enhanced interface's interrupt moderation; absent: the
	// default.
	Moder *mlx5Moder `json:"mlx5_coalesce,omitempty"`
}

// StoreDict is the dictionary (store.Options.Dict) for a store that
// the driver saves to: the fragments of a device record in the order
// devRecord writes them, so that the record of a child as created takes
// under 48 bytes of memory instead of some 260.
func StoreDict() []string {
	return []string{
		`{"index":`, `,"name":"`, `","port":`, `,"parent":`, `,"legacy":true,"pkey":`, `,"pkey":`, `,"qpn":`,
		`,"mode":0,"mtu":`, `,"mode":`, `,"mtu":`, `4092`, `2044`, `,"admin_mtu":`, `,"mcast_mtu":`,
		`,"num_tx_queues":1,"wanted":[`, `,"num_tx_queues":`, `,"wanted":[`,
		`"tx-checksum-ipv4"`, `"tx-generic-segmentation"`, `"rx-gro"`, `"tx-tcp-segmentation"`, `"rx-checksum"`,
		`"tx-scatter-gather"`, `]}`, `,"up":true,"active":true`, `,"active":true`, `,"addrs":[`, `,"tx_queue_len":`,
		`,"umcast":true`,
	}
}

// devName is a device name saved byte for byte: the kernel accepts any
// bytes but '/', ':' and blanks, and a JSON string holds only UTF-8. A
// valid UTF-8 name is a JSON string, any other {"bytes": base64}.
type devName string

func (n devName) MarshalJSON() ([]byte, error) {
	if utf8.ValidString(string(n)) {
		return json.Marshal(string(n))
	}
	return json.Marshal(struct {
		Bytes []byte `json:"bytes"`
	}{[]byte(n)})
}

func (n *devName) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*n = devName(s)
		return nil
	}
	var raw struct {
		Bytes *[]byte `json:"bytes"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Bytes == nil {
		return fmt.Errorf("device name: want a string or {\"bytes\": base64}, have %s", b)
	}
	*n = devName(*raw.Bytes)
	return nil
}

type nodeMeta struct {
	NextIndex int32  `json:"next_index"`
	NextQPN   uint32 `json:"next_qpn"`
}

func (nd *Netdev) record() devRecord {
	r := devRecord{Index: nd.index, Name: devName(nd.name), Port: nd.port, Legacy: nd.legacy, PKey: nd.pkey, QPN: nd.qpn,
		Mode: nd.mode, Umcast: nd.umcast, Up: nd.up, Active: nd.active, MTU: nd.mtu, AdminMTU: nd.adminMTU, McastMTU: nd.mcastMTU,
		NumTxQ: nd.numTxQ, RxUsecs: nd.rxUsecs, RxFrames: nd.rxFrames, SendQ: nd.sendQ, RecvQ: nd.recvQ, Channels: nd.channels, Wanted: []string{}}
	if nd.moder != nil {
		m := *nd.moder
		r.Moder = &m
	}
	if def := uint32(2 * nd.node.params.get("send_queue_size")); nd.txQLen != def {
		q := nd.txQLen
		r.TxQLen = &q
	}
	if nd.parent != nil {
		r.Parent = nd.parent.index
	}
	for i, name := range featureNames {
		if nd.wanted&(1<<i) != 0 {
			r.Wanted = append(r.Wanted, name)
		}
	}
	for _, p := range nd.node.ip.ConfiguredAddrs(nd.index) { // the automatic one is derived again at start
		r.Addrs = append(r.Addrs, p.String())
		if b, ok := nd.brd[p]; ok {
			if r.Brd == nil {
				r.Brd = map[string]string{}
			}
			r.Brd[p.String()] = b.String()
		}
	}
	return r
}

func devKey(node string, index int32) string { return fmt.Sprintf("%s/dev/%08d", node, index) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("driver: marshal %T: %v", v, err))
	}
	return b
}

// persist writes the devices and the node's allocators in one batch;
// once that holds, the devices' kernel netdevs follow (kernelnet.go).
func (n *Node) persist(devs ...*Netdev) error {
	if n.d.st != nil {
		var b store.Batch
		for _, nd := range devs {
			b.Put(devKey(n.name, nd.index), mustJSON(nd.record()))
		}
		b.Put(n.name+"/meta", mustJSON(nodeMeta{NextIndex: n.nextIndex, NextQPN: n.nextQPN}))
		if err := n.apply(b); err != nil {
			return err
		}
	}
	for _, nd := range devs {
		n.syncKernel(nd)
	}
	return nil
}

// persistDelete forgets a removed device, and removes its kernel netdev.
func (n *Node) persistDelete(nd *Netdev) error {
	if n.d.st != nil {
		var b store.Batch
		b.Delete(devKey(n.name, nd.index))
		if err := n.apply(b); err != nil {
			return err
		}
	}
	n.syncKernel(nd)
	return nil
}

func (n *Node) persistParams() error {
	if n.d.st == nil {
		return nil
	}
	var b store.Batch
	b.Put(n.name+"/params", mustJSON(n.params))
	return n.apply(b)
}

// apply writes a batch. A failure is logged in full and answered with
// the errno of its cause when the caller can act on it (ENOSPC, EDQUOT,
// EROFS, EFBIG), else EIO, as a failed write to a file system is.
func (n *Node) apply(b store.Batch) error {
	apply := n.d.st.Apply
	if n.deferSync {
		apply = n.d.st.ApplyLazy
	}
	if err := apply(b); err != nil {
		n.d.log(n.name + " save state: " + err.Error())
		errno := unix.EIO
		var e unix.Errno
		if errors.As(err, &e) && (e == unix.ENOSPC || e == unix.EDQUOT || e == unix.EROFS || e == unix.EFBIG) {
			errno = e
		}
		return &Error{Op: "save state", Err: errno}
	}
	return nil
}

// loadTopology picks the topology: the one given, else the saved one,
// else the default; the choice is saved, with netns (driver start
// --netns) set in it so that a driver started again keeps its
// namespaces.
func (d *Driver) loadTopology(given *fabric.Topology, netns bool) (*fabric.Topology, error) {
	t := given
	if t == nil && d.st != nil {
		if b, ok := d.st.Get("topology"); ok {
			t = &fabric.Topology{}
			if err := json.Unmarshal(b, t); err != nil {
				return nil, fmt.Errorf("saved topology: %w", err)
			}
		}
	}
	if t == nil {
		t = fabric.DefaultTopology()
	}
	if netns && !t.Netns {
		c := *t
		c.Netns = true
		t = &c
	}
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	if d.st != nil {
		if err := d.st.Put("topology", mustJSON(t)); err != nil {
			return nil, fmt.Errorf("save topology: %w", err)
		}
	}
	return t, nil
}

// loadParams merges defaults, the saved load-time parameters and the
// ones given at start (which win and are saved), with the module's
// load-time rounding applied.
func (d *Driver) loadParams(given map[string]int) (params, error) {
	if err := checkStartParams(given); err != nil {
		return nil, err
	}
	p := defaultParams()
	if d.st != nil {
		if b, ok := d.st.Get("params"); ok {
			if err := json.Unmarshal(b, &p); err != nil {
				return nil, fmt.Errorf("saved params: %w", err)
			}
		}
	}
	for name, v := range given {
		p[name] = v
	}
	for name, s := range paramSpecs() {
		if s.fix != nil {
			p[name] = s.fix(p[name])
		}
	}
	if d.st != nil {
		if err := d.st.Put("params", mustJSON(p)); err != nil {
			return nil, fmt.Errorf("save params: %w", err)
		}
	}
	return p, nil
}

// restore applies the saved state of the node: runtime parameters,
// allocators, parents' settings and children.
func (n *stack) restore() error {
	if n.d.st == nil {
		return nil
	}
	if b, ok := n.d.st.Get(n.name + "/params"); ok {
		var saved params
		if err := json.Unmarshal(b, &saved); err != nil {
			return fmt.Errorf("params: %w", err)
		}
		for name, v := range saved {
			if s, ok := paramSpecs()[name]; ok && s.perm&0200 != 0 {
				n.params[name] = v
			}
		}
		n.host.DataDebug.Store(int32(n.params.get("data_debug_level")))
		n.host.Debug.Store(int32(n.params.get("debug_level")))
		n.host.McastDebug.Store(int32(n.params.get("mcast_debug_level")))
	}
	if b, ok := n.d.st.Get(n.name + "/meta"); ok {
		var m nodeMeta
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("meta: %w", err)
		}
		n.nextIndex, n.nextQPN = max(n.nextIndex, m.NextIndex), max(n.nextQPN, m.NextQPN)
	}
	var records []devRecord
	for _, key := range n.d.st.Keys(n.name + "/dev/") {
		b, _ := n.d.st.Get(key)
		var r devRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("saved device %s: %w", key, err)
		}
		if key != devKey(n.name, r.Index) {
			return fmt.Errorf("saved device %s: holds ifindex %d", key, r.Index)
		}
		records = append(records, r)
	}
	if err := n.checkRecords(records); err != nil {
		return err
	}
	// Parents first (they exist already), then children in index order.
	var ups []*Netdev
	for _, r := range records {
		if r.Parent != 0 {
			continue
		}
		nd := n.order.get(r.Index)
		if nd == nil || nd.name != string(r.Name) || nd.port != r.Port {
			continue // the topology changed: that port is gone
		}
		nd.load(r)
		if r.Up {
			ups = append(ups, nd)
		}
	}
	for _, r := range records {
		if r.Parent == 0 {
			continue
		}
		p := n.order.get(r.Parent)
		c := &Netdev{node: n, index: r.Index, name: string(r.Name), port: p.port, parent: p, legacy: r.Legacy, qpn: r.QPN}
		c.load(r)
		n.insert(c)
		if r.Up {
			ups = append(ups, c)
		}
	}
	// Bring devices up as they were, without the parent's propagation
	// deciding for children that were down; their link-local addresses
	// come back as the link gets ready.
	for _, nd := range ups {
		nd.up, nd.active = true, true
		nd.mcUp()
		nd.join()
	}
	// Then the configured addresses, as if added again in the order they
	// were: IPv4 as listed, IPv6 oldest first (the list has the newest
	// first within a scope), so that each lands where it was.
	for _, r := range records {
		nd := n.order.get(r.Index)
		if nd == nil || nd.name != string(r.Name) || nd.port != r.Port {
			continue
		}
		nd.loadAddrs(r.Addrs)
		for a, b := range r.Brd {
			p, err1 := netip.ParsePrefix(a)
			ip, err2 := netip.ParseAddr(b)
			if err1 == nil && err2 == nil {
				nd.setBroadcast(p, ip)
			}
		}
	}
	n.syncMcastAll()
	return nil
}

// checkRecords refuses saved devices that a live request could not have
// made: the name rules of dev_valid_name, unique names and ifindexes, a
// child's parent that is a parent, a valid P_Key (for a sysfs child, the
// one its name was written with, not stored by an earlier sysfs
// sibling), a known mode (connected only where the HCA
// can), the MTU bounds of dev_set_mtu and ipoib_change_mtu, coalescing
// and queue counts in range, known features and parseable addresses.
// Parents that the topology no longer has are skipped, as restore does.
func (n *stack) checkRecords(records []devRecord) error {
	names := map[string]int32{}
	for name, nd := range n.byName {
		names[name] = nd.index
	}
	type legacyKey struct {
		parent int32
		pkey   uint16
	}
	legacy := map[legacyKey]int32{}
	for _, r := range records {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("saved device %s (%s): %s", devKey(n.name, r.Index), strconv.Quote(string(r.Name)), fmt.Sprintf(format, args...))
		}
		var port int
		if r.Parent == 0 {
			nd := n.order.get(r.Index)
			if nd == nil || nd.name != string(r.Name) || nd.port != r.Port {
				continue
			}
			port = nd.port
		} else {
			if r.Index <= 0 {
				return bad("invalid ifindex %d", r.Index)
			}
			if nd := n.order.get(r.Index); nd != nil {
				return bad("ifindex %d is %s's", r.Index, nd.name)
			}
			if !validName(string(r.Name)) {
				return bad("invalid device name")
			}
			if idx, ok := names[string(r.Name)]; ok {
				return bad("name already used by ifindex %d", idx)
			}
			names[string(r.Name)] = r.Index
			p := n.order.get(r.Parent)
			if p == nil || p.parent != nil {
				return bad("parent ifindex %d is not a parent device", r.Parent)
			}
			port = p.port
			if !ValidPKey(r.PKey) {
				return bad("invalid P_Key 0x%04x", r.PKey)
			}
			if r.Legacy {
				// create_child named the child after the P_Key as
				// written, stored it with the full-member bit, and
				// refused it when an earlier sysfs sibling had stored
				// it (records come in ifindex order: creation order).
				// 0x0001 after 0x8001 and 0x7fff under a parent of
				// 0xffff are both possible, and the parent's P_Key can
				// have changed since.
				w, ok := writtenPKey(p.name, string(r.Name))
				if !ok || header.PKeyFull(w) != r.PKey {
					return bad("P_Key 0x%04x is not the one its name was written with", r.PKey)
				}
				if idx, ok := legacy[legacyKey{r.Parent, w}]; ok {
					return bad("P_Key 0x%04x already used by ifindex %d", w, idx)
				}
				if _, ok := legacy[legacyKey{r.Parent, r.PKey}]; !ok {
					legacy[legacyKey{r.Parent, r.PKey}] = r.Index
				}
			}
			if r.NumTxQ < 1 || r.NumTxQ > 128 {
				return bad("invalid number of TX queues %d", r.NumTxQ)
			}
		}
		// dev_set_mtu and ipoib_change_mtu: up to IPOIB_CM_MTU in
		// connected mode, up to the largest IB MTU (4096) less the
		// encapsulation in datagram mode, whatever the topology says now.
		maxDatagram := uint32(4096 - encapLen)
		switch r.Mode {
		case netlinkx.ModeConnected:
			if !n.portSpec(port).Caps.Connected {
				return bad("connected mode not supported by the port")
			}
			if r.MTU > cmMaxMTU {
				return bad("mtu %d above the maximum %d", r.MTU, cmMaxMTU)
			}
		case netlinkx.ModeDatagram:
			if r.MTU > maxDatagram {
				return bad("mtu %d above the datagram maximum %d", r.MTU, maxDatagram)
			}
		default:
			return bad("invalid mode %d", r.Mode)
		}
		if r.AdminMTU < minDatagramMTU || r.AdminMTU > maxDatagram {
			return bad("admin mtu %d out of range %d-%d", r.AdminMTU, minDatagramMTU, maxDatagram)
		}
		if r.McastMTU > maxDatagram {
			return bad("multicast mtu %d above the datagram maximum %d", r.McastMTU, maxDatagram)
		}
		if r.Channels > emulatedCPUs {
			return bad("%d channels, above the maximum %d", r.Channels, emulatedCPUs)
		}
		if m := r.Moder; m != nil && (m.RxUsecs > mlx5MaxCoalTime || m.TxUsecs > mlx5MaxCoalTime) {
			return bad("coalesce time %d/%d usecs above the maximum %d", m.RxUsecs, m.TxUsecs, mlx5MaxCoalTime)
		}
		for _, f := range r.Wanted {
			if _, ok := featureIndex()[f]; !ok {
				return bad("unknown feature %q", f)
			}
		}
		for _, a := range r.Addrs {
			if _, err := netip.ParsePrefix(a); err != nil {
				return bad("address: %v", err)
			}
		}
		for a, b := range r.Brd {
			p, err := netip.ParsePrefix(a)
			if err != nil || !slices.Contains(r.Addrs, a) || !p.Addr().Is4() {
				return bad("broadcast of %q: no such IPv4 address", a)
			}
			if ip, err := netip.ParseAddr(b); err != nil || !ip.Is4() {
				return bad("broadcast %q of %s: not an IPv4 address", b, a)
			}
		}
	}
	return nil
}

// writtenPKey is the P_Key written to create_child that named a child
// of parent name: the inverse of legacyName.
func writtenPKey(parent, name string) (uint16, bool) {
	i := len(name) - len(".0000")
	if i < 0 {
		return 0, false
	}
	v, err := strconv.ParseUint(name[i+1:], 16, 16)
	if err != nil || legacyName(parent, uint16(v)) != name || !ValidPKey(uint16(v)) {
		return 0, false
	}
	return uint16(v), true
}

// loadAddrs adds saved addresses (see restore); unparsable ones are
// skipped (checkRecords refuses them first).
func (nd *Netdev) loadAddrs(saved []string) {
	var list []netip.Prefix
	for _, a := range saved {
		if p, err := netip.ParsePrefix(a); err == nil {
			list = append(list, p)
		}
	}
	nd.node.ip.LoadAddrs(nd.index, list)
}

// load applies a record's settings; up/carrier and addresses are handled
// by restore.
func (nd *Netdev) load(r devRecord) {
	nd.pkey, nd.mode, nd.umcast, nd.active = r.PKey, r.Mode, r.Umcast, r.Active
	nd.mtu, nd.adminMTU, nd.mcastMTU = r.MTU, r.AdminMTU, r.McastMTU
	// The queues follow from how the device was allocated: a record of an
	// enhanced port saved before they did says 1.
	nd.numTxQ, nd.numRxQ = nd.allocQueues()
	nd.rxUsecs, nd.rxFrames = r.RxUsecs, r.RxFrames
	nd.channels = r.Channels
	nd.moder = nil
	if r.Moder != nil {
		m := *r.Moder
		nd.moder = &m
	}
	nd.sendQ, nd.recvQ = r.SendQ, r.RecvQ
	nd.mcRegister() // registered with the saved MTU
	nd.txQLen = uint32(2 * nd.node.params.get("send_queue_size"))
	if r.TxQLen != nil {
		nd.txQLen = *r.TxQLen
	}
	nd.wanted = 0
	for _, name := range r.Wanted {
		if i, ok := featureIndex()[name]; ok {
			nd.wanted |= 1 << i
		}
	}
}
