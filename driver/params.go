package driver

import (
	"fmt"
	"math/bits"
	"sort"
	"sync"

	"github.com/ibctl/ibctl/sysfs"
	"golang.org/x/sys/unix"
)

// paramSpec is one ib_ipoib module parameter.
type paramSpec struct {
	perm  uint32
	def   int
	fix   func(int) int // the module's load-time rounding and bounds
	usage string
}

// paramSpecs are the module parameters under module/ib_ipoib/parameters,
// built on first use.
var paramSpecs = sync.OnceValue(func() map[string]paramSpec {
	return map[string]paramSpec{
		"send_queue_size":     {0444, 128, fixSendQueue, "Number of descriptors in send queue"},
		"recv_queue_size":     {0444, 256, fixRecvQueue, "Number of descriptors in receive queue"},
		"max_nonsrq_conn_qp":  {0444, 128, func(v int) int { return min(max(v, 0), 4096) }, "Max number of connected-mode QPs per interface (applied only if shared receive queue is not available)"},
		"debug_level":         {0644, 0, nil, "Enable debug tracing if > 0"},
		"mcast_debug_level":   {0644, 0, nil, "Enable multicast debug tracing if > 0"},
		"data_debug_level":    {0644, 0, nil, "Enable data path debug tracing if > 0"},
		"cm_data_debug_level": {0644, 0, nil, "Enable data path debug tracing for connected mode if > 0"},
	}
})

func roundupPow2(v int) int {
	if v <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(v-1))
}

// fixSendQueue: rounded up to a power of two, at most 8192, at least
// 2 × MAX_SEND_CQE (128).
func fixSendQueue(v int) int { return max(min(roundupPow2(v), 8192), 128) }

// fixRecvQueue: rounded up to a power of two, within [2, 8192].
func fixRecvQueue(v int) int { return max(min(roundupPow2(v), 8192), 2) }

// params holds a node's module parameter values.
type params map[string]int

func (p params) get(name string) int { return p[name] }

func defaultParams() params {
	p := params{}
	for name, s := range paramSpecs() {
		p[name] = s.def
	}
	return p
}

// ParamNames lists the module parameters in name order.
func ParamNames() []string {
	names := make([]string, 0, len(paramSpecs()))
	for n := range paramSpecs() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// checkStartParams validates --param values: known names, values the
// module would accept at load time.
func checkStartParams(in map[string]int) error {
	for name, v := range in {
		s, ok := paramSpecs()[name]
		if !ok {
			return fmt.Errorf("unknown module parameter %q", name)
		}
		if s.fix != nil && v < 1 && name != "max_nonsrq_conn_qp" {
			return fmt.Errorf("parameter %s: invalid value %d: must be positive", name, v)
		}
	}
	return nil
}

// Params lists the node's module parameters in name order.
func (n *Node) Params() []sysfs.Param {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	out := make([]sysfs.Param, 0, len(paramSpecs()))
	for _, name := range ParamNames() {
		out = append(out, sysfs.Param{Name: name, Perm: paramSpecs()[name].perm, Value: n.params[name]})
	}
	return out
}

// SetParam sets a writable module parameter.
func (n *Node) SetParam(name string, value int) error {
	n.d.mu.Lock()
	defer n.d.mu.Unlock()
	s, ok := paramSpecs()[name]
	if !ok {
		return errorf("set param", name, unix.ENOENT, "")
	}
	if s.perm&0200 == 0 {
		return errorf("set param", name, unix.EACCES, "")
	}
	old := n.params[name]
	n.params[name] = value
	if err := n.persistParams(); err != nil {
		n.params[name] = old
		return err
	}
	switch name {
	case "data_debug_level":
		n.host.DataDebug.Store(int32(value))
	case "debug_level":
		n.host.Debug.Store(int32(value))
	case "mcast_debug_level":
		n.host.McastDebug.Store(int32(value))
	}
	return nil
}

// dbg logs when debug_level > 0 (ipoib_dbg).
func (nd *Netdev) dbg(format string, args ...any) {
	if nd.node.params.get("debug_level") > 0 {
		nd.warn(format, args...)
	}
}

// mcastDbg logs when mcast_debug_level > 0 (ipoib_dbg_mcast).
func (nd *Netdev) mcastDbg(format string, args ...any) {
	if nd.node.params.get("mcast_debug_level") > 0 {
		nd.warn(format, args...)
	}
}
