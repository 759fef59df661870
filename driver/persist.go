package driver

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/driver/store"
	"golang.org/x/sys/unix"
)

// Store keys: "topology", "params" (load-time module parameters),
// "<node>/meta", "<node>/params" and "<node>/dev/<ifindex>".

// devRecord is what survives a restart of one device.
type devRecord struct {
	Index    int32    `json:"index"`
	Name     string   `json:"name"`
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
	Wanted   []string `json:"wanted"`
	RxUsecs  uint16   `json:"rx_usecs,omitempty"`
	RxFrames uint16   `json:"rx_frames,omitempty"`
	Addrs    []string `json:"addrs,omitempty"`
}

type nodeMeta struct {
	NextIndex int32  `json:"next_index"`
	NextQPN   uint32 `json:"next_qpn"`
}

func (nd *Netdev) record() devRecord {
	r := devRecord{Index: nd.index, Name: nd.name, Port: nd.port, Legacy: nd.legacy, PKey: nd.pkey, QPN: nd.qpn,
		Mode: nd.mode, Umcast: nd.umcast, Up: nd.up, Active: nd.active, MTU: nd.mtu, AdminMTU: nd.adminMTU, McastMTU: nd.mcastMTU,
		NumTxQ: nd.numTxQ, RxUsecs: nd.rxUsecs, RxFrames: nd.rxFrames, Wanted: []string{}}
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

// persist writes the devices and the node's allocators in one batch.
func (n *Node) persist(devs ...*Netdev) error {
	if n.d.st == nil {
		return nil
	}
	var b store.Batch
	for _, nd := range devs {
		b.Put(devKey(n.name, nd.index), mustJSON(nd.record()))
	}
	b.Put(n.name+"/meta", mustJSON(nodeMeta{NextIndex: n.nextIndex, NextQPN: n.nextQPN}))
	return n.apply(b)
}

func (n *Node) persistDelete(nd *Netdev) error {
	if n.d.st == nil {
		return nil
	}
	var b store.Batch
	b.Delete(devKey(n.name, nd.index))
	return n.apply(b)
}

func (n *Node) persistParams() error {
	if n.d.st == nil {
		return nil
	}
	var b store.Batch
	b.Put(n.name+"/params", mustJSON(n.params))
	return n.apply(b)
}

func (n *Node) apply(b store.Batch) error {
	apply := n.d.st.Apply
	if n.deferSync {
		apply = n.d.st.ApplyLazy
	}
	if err := apply(b); err != nil {
		return &Error{Op: "save state", Err: unix.EIO, Msg: err.Error()}
	}
	return nil
}

// loadTopology picks the topology: the one given, else the saved one,
// else the default; the choice is saved.
func (d *Driver) loadTopology(given *fabric.Topology) (*fabric.Topology, error) {
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
	for name, s := range paramSpecs {
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
			if s, ok := paramSpecs[name]; ok && s.perm&0200 != 0 {
				n.params[name] = v
			}
			if name == "data_debug_level" {
				n.host.DataDebug.Store(int32(v))
			}
		}
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
			return fmt.Errorf("%s: %w", key, err)
		}
		records = append(records, r)
	}
	// Parents first (they exist already), then children in index order.
	var ups []*Netdev
	for _, r := range records {
		if r.Parent != 0 {
			continue
		}
		nd, ok := n.devs[r.Index]
		if !ok || nd.name != r.Name || nd.port != r.Port {
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
		p, ok := n.devs[r.Parent]
		if !ok || p.parent != nil || strings.TrimSpace(r.Name) == "" {
			continue
		}
		c := &Netdev{node: n, index: r.Index, name: r.Name, port: p.port, parent: p, legacy: r.Legacy, qpn: r.QPN,
			counters: &ipoib.Stats{}}
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
		nd.join()
	}
	// Then the configured addresses, as if added again in the order they
	// were: IPv4 as listed, IPv6 oldest first (the list has the newest
	// first within a scope), so that each lands where it was.
	for _, r := range records {
		nd, ok := n.devs[r.Index]
		if !ok || nd.name != r.Name || nd.port != r.Port {
			continue
		}
		nd.loadAddrs(r.Addrs)
	}
	n.syncMcastAll()
	return nil
}

// loadAddrs adds saved addresses (see restore); unparsable ones are
// skipped.
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
	nd.numTxQ, nd.rxUsecs, nd.rxFrames = r.NumTxQ, r.RxUsecs, r.RxFrames
	nd.wanted = 0
	for _, name := range r.Wanted {
		if i, ok := featureIndex[name]; ok {
			nd.wanted |= 1 << i
		}
	}
}
