package driver

import (
	"fmt"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/inet"
	"github.com/ibctl/ibctl/driver/ipoib"
	"github.com/ibctl/ibctl/driver/netns"
	"github.com/ibctl/ibctl/netlinkx"
)

// The wiring of the layers: every HCA port of a node is an ipoib.Port;
// an interface that is up and joined to its broadcast group owns an
// ipoib.Endpoint, attached to the node's IP stack as an inet.NIC. This
// file is the only place where the two meet.

var (
	_ inet.Link        = (*ipoib.Endpoint)(nil)
	_ inet.GSOLink     = (*ipoib.Endpoint)(nil)
	_ inet.TooBig      = (*ipoib.TooBigError)(nil)
	_ ipoib.Dispatcher = (*inet.NIC)(nil)
)

// newHCAPorts creates the node's IPoIB ports, one per HCA port.
func (n *stack) newHCAPorts() error {
	for port := 1; port <= len(n.hw.Spec.Ports); port++ {
		p, err := ipoib.NewPort(n.host, ipoib.PortOptions{Ref: fabric.PortRef{Node: n.name, Port: port},
			LID: n.hw.LID(port), GID: n.hw.PortGID(port), MTU: n.portSpec(port).MTU, CAGUID: n.hw.GUID})
		if err != nil {
			return fmt.Errorf("port %d: %w", port, err)
		}
		n.ports = append(n.ports, p)
	}
	return nil
}

// refreshPKeys re-reads a port's P_Key table after a P_Key change event.
func (n *stack) refreshPKeys(port int) {
	if port >= 1 && port <= len(n.ports) {
		n.ports[port-1].RefreshPKeys()
	}
}

// endpointConfig is what the interface's endpoint reads of it.
func (nd *Netdev) endpointConfig() ipoib.Config {
	var hw, bcast header.HWAddr
	copy(hw[:], nd.hwAddr())
	copy(bcast[:], nd.broadcast())
	return ipoib.Config{Name: nd.name, MTU: nd.mtu, UDMTU: nd.mcastMTU, Connected: nd.mode == netlinkx.ModeConnected,
		PKey: nd.pkey, HWAddr: hw, Broadcast: bcast, TxQueueLen: nd.txQLen}
}

// openDataPath opens the interface's endpoint on the broadcast group m
// and attaches it to the IP stack. Caller holds d.mu.
func (nd *Netdev) openDataPath(m fabric.MCMember) error {
	n := nd.node
	if nd.counters == nil {
		nd.counters = &ipoib.Stats{}
	}
	rxFrames, rxUsecs := nd.rxModeration()
	o := ipoib.OpenOptions{Config: nd.endpointConfig(), QPN: nd.qpn, Group: m,
		SendQueue: int(nd.sendqSize()), RecvQueue: int(nd.recvqSize()),
		RxFrames: rxFrames, RxUsecs: rxUsecs, ListenCM: nd.cmCapable(), Stats: nd.counters,
		Joiner: nd.joiner()}
	if n.kern != nil {
		// The large packets read from the node's TUN are its read
		// buffers: each goes back when its send completes
		// (readKernel).
		o.SendDone = netns.ReleaseRead
	}
	ep, err := ipoib.Open(n.ports[nd.port-1], o)
	if err != nil {
		return err
	}
	nd.dp = ep
	nd.nic = n.ip.Attach(nd.index, ep)
	ep.Attach(nd.nic)
	return nil
}

// sendqSize is priv->sendq_size: the module parameter's value until
// ethtool -G changes it for this interface.
func (nd *Netdev) sendqSize() uint32 {
	if nd.sendQ != 0 {
		return nd.sendQ
	}
	if nd.enhanced() {
		return mlx5iDefaultSQ
	}
	return uint32(nd.node.params.get("send_queue_size"))
}

// recvqSize is priv->recvq_size, as sendqSize.
func (nd *Netdev) recvqSize() uint32 {
	if nd.recvQ != 0 {
		return nd.recvQ
	}
	if nd.enhanced() {
		return mlx5iDefaultRQ
	}
	return uint32(nd.node.params.get("recv_queue_size"))
}

// updateDataPath republishes the interface's settings to its endpoint
// after an MTU or mode change.
func (nd *Netdev) updateDataPath() {
	if nd.dp != nil {
		nd.dp.Update(nd.endpointConfig())
	}
}

// closeDataPath detaches the endpoint from the IP stack and closes it.
// Caller holds d.mu.
func (nd *Netdev) closeDataPath() {
	ep := nd.dp
	if ep == nil {
		return
	}
	nd.node.ip.Detach(nd.nic)
	ep.Attach(nil)
	nd.dp, nd.nic = nil, nil
	ep.Close()
}

// ReapNeighbours runs the neighbour scan on every interface of every node
// (ipoib_reap_neigh) and returns how many entries it freed; the daemon
// calls it every NeighReapInterval.
func (d *Driver) ReapNeighbours() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	for _, name := range d.order {
		for _, nd := range d.nodes[name].order.list() {
			if nd.dp != nil {
				total += nd.dp.ReapNeighbours()
			}
		}
	}
	return total
}

// ReapStaleConnections runs the stale-connection scan on every interface
// of every node; the daemon calls it every StaleScanInterval.
func (d *Driver) ReapStaleConnections() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	for _, s := range d.nodes {
		for nd := range s.order.all() {
			if nd.dp == nil {
				continue
			}
			if r := nd.dp.ReapStale(); r > 0 {
				nd.dbg("reaped %d stale connection(s)", r)
				total += r
			}
		}
	}
	return total
}

// NeighReapInterval is how often the daemon should call ReapNeighbours.
const NeighReapInterval = ipoib.NeighReapInterval

// StaleScanInterval is how often the daemon should call
// ReapStaleConnections.
const StaleScanInterval = ipoib.StaleScanInterval

// stats reads the interface's counters as rtnl_link_stats64: zero
// until the interface is first opened.
func (nd *Netdev) stats() netlinkx.Stats {
	if nd.counters == nil {
		return netlinkx.Stats{}
	}
	c := nd.counters.Snapshot()
	return netlinkx.Stats{RxPackets: c.RxPackets, TxPackets: c.TxPackets, RxBytes: c.RxBytes, TxBytes: c.TxBytes,
		TxErrors: c.TxErrors, RxDropped: c.RxDropped, TxDropped: c.TxDropped, Multicast: c.Multicast}
}

// hcaPorts lists every node's HCA ports, in node order.
func (d *Driver) hcaPorts() []*ipoib.Port {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ports []*ipoib.Port
	for _, name := range d.order {
		ports = append(ports, d.nodes[name].ports...)
	}
	return ports
}

// Settle runs the communication managers' queued work (received MADs,
// expired timers and their handlers) on every port until none is left.
// It must not be called from a CM handler.
func (d *Driver) Settle() {
	ports := d.hcaPorts()
	for {
		n := 0
		for _, p := range ports {
			n += p.FlushCM()
		}
		if n == 0 {
			return
		}
	}
}

// Busy is how many open endpoints have receive work in hand
// (ipoib.Registry.Busy): the fabric delivers synchronously, but the
// receiving end handles its completions in its own goroutine.
func (d *Driver) Busy() int { return d.endpoints.Busy() }

// Unacked is how many connected QPs of every HCA port have a send that
// awaits its acknowledgement (ipoib.Port.Unacked). The fabric delivers
// synchronously, so it is zero unless a send is under way in some
// goroutine or a message was lost.
func (d *Driver) Unacked() int {
	n := 0
	for _, p := range d.hcaPorts() {
		n += p.Unacked()
	}
	return n
}
