package ipoib

import (
	"encoding/binary"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver/clocktest"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/header"
	"github.com/ibctl/ibctl/driver/verbs"
	"golang.org/x/sys/unix"
)

// GIDs of port 1 of node0 and node1 as %pI6 prints them.
const (
	pI6Node0 = "fe80:0000:0000:0000:0002:c903:0000:1001"
	pI6Node1 = "fe80:0000:0000:0000:0002:c903:0000:2001"
)

// testLog is a node's kernel log.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(dev, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, dev+": "+msg)
}

// since returns the lines after the first n, and the count.
func (l *testLog) since(n int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines[n:]), len(l.lines)
}

// counter is a dispatcher that counts what it is given.
type counter struct{ n atomic.Int64 }

func (c *counter) DeliverPacket(header.HWAddr, header.IPoIB) { c.n.Add(1) }

// testNode is port 1 of a node of the default fabric with an endpoint
// open on the default partition, as an interface ib0 with QPN 0x48.
type testNode struct {
	host *Host
	port *Port
	ep   *Endpoint
	hw   header.HWAddr
	log  *testLog
	rx   *counter
	// lose, when set, is the port's Host.LoseFrame.
	lose atomic.Pointer[func(*verbs.Packet) bool]
}

// testPair is node0 and node1 of the default fabric, on a manual clock,
// with debug_level 1.
type testPair struct {
	t      *testing.T
	fab    *fabric.Fabric
	clk    *clocktest.Clock
	n0, n1 *testNode
}

func newTestPair(t *testing.T, connected bool) *testPair {
	t.Helper()
	return newTestPairRings(t, connected, 128, 256, 256)
}

// newTestPairRings is newTestPair with send rings of sendq, recvq
// receive buffers and a tx_queue_len of txqlen.
func newTestPairRings(t *testing.T, connected bool, sendq, recvq int, txqlen uint32) *testPair {
	t.Helper()
	fab, err := fabric.New(fabric.DefaultTopology())
	if err != nil {
		t.Fatal(err)
	}
	tp := &testPair{t: t, fab: fab, clk: clocktest.New(t)}
	tp.clk.Watch(tp)
	reg := &Registry{}
	for i, name := range []string{"node0", "node1"} {
		tn := &testNode{log: &testLog{}, rx: &counter{}}
		tn.host = &Host{Fabric: fab, Log: tn.log.add, Now: tp.clk.Now, Nanos: func() int64 { return tp.clk.Now().UnixNano() },
			Jiffies: func() int64 { return 0 }, Clock: tp.clk, Endpoints: reg}
		tn.host.Debug.Store(1)
		tn.host.LoseFrame = func(_ fabric.PortRef, p *verbs.Packet) bool {
			if f := tn.lose.Load(); f != nil {
				return (*f)(p)
			}
			return false
		}
		ns, _ := fab.Node(name)
		ref := fabric.PortRef{Node: name, Port: 1}
		if tn.port, err = NewPort(tn.host, PortOptions{Ref: ref, LID: ns.LID(1), GID: ns.PortGID(1),
			MTU: ns.Spec.Ports[0].MTU, CAGUID: ns.GUID}); err != nil {
			t.Fatal(err)
		}
		pkey := fab.PKeyTable(name, 1)[0] | 0x8000
		m, err := fab.Join(ref, fabric.JoinRequest{MGID: fabric.BroadcastMGID(pkey), PKey: pkey, JoinState: fabric.FullMember})
		if err != nil {
			t.Fatal(err)
		}
		tn.hw = header.NewHWAddr(0x80, 0x48, ns.PortGID(1))
		mtu := uint32(m.MTU - encapLen)
		if connected {
			mtu = MaxMTU
		}
		if tn.ep, err = Open(tn.port, OpenOptions{Config: Config{Name: "ib0", MTU: mtu, UDMTU: uint32(m.MTU - encapLen),
			Connected: connected, PKey: pkey, HWAddr: tn.hw, Broadcast: header.BroadcastAddr(pkey), TxQueueLen: txqlen},
			QPN: 0x48, Group: m, SendQueue: sendq, RecvQueue: recvq, ListenCM: true, Stats: &Stats{}}); err != nil {
			t.Fatal(err)
		}
		tn.ep.Attach(tn.rx)
		t.Cleanup(tn.ep.Close)
		if i == 0 {
			tp.n0 = tn
		} else {
			tp.n1 = tn
		}
	}
	return tp
}

// Settle runs both ports' CM work until none is left
// (clocktest.DataPath).
func (tp *testPair) Settle() {
	for tp.n0.port.FlushCM()+tp.n1.port.FlushCM() > 0 {
	}
}

// Unacked is how many connected QPs of both ports await an
// acknowledgement (clocktest.DataPath).
func (tp *testPair) Unacked() int { return tp.n0.port.Unacked() + tp.n1.port.Unacked() }

// Busy is how many of the two endpoints have receive work in hand
// (clocktest.DataPath).
func (tp *testPair) Busy() int {
	n := 0
	for _, tn := range []*testNode{tp.n0, tp.n1} {
		if tn.ep.busy() {
			n++
		}
	}
	return n
}

// advance moves the clock by d once both ports are quiet (clocktest) and
// runs the CM work that its timers queued.
func (tp *testPair) advance(d time.Duration) {
	tp.t.Helper()
	tp.clk.Advance(d)
	tp.Settle()
}

// send writes n UDP datagrams of 100 bytes from node0 to node1.
func (tp *testPair) send(n int) {
	tp.t.Helper()
	for range n {
		if err := tp.n0.ep.WritePacket(udpPacket(100), tp.n1.hw); err != nil {
			tp.t.Fatal(err)
		}
	}
}

// connect sends one datagram from node0 to node1 and runs the CM
// exchange to its end: node0's connection is up.
func (tp *testPair) connect() {
	tp.t.Helper()
	tp.send(1)
	tp.Settle()
	if tx, _ := tp.n0.ep.ConnCounts(); tx != 1 {
		tp.t.Fatalf("node0: %d active connections, want 1", tx)
	}
}

// udpPacket is an IPoIB packet carrying a UDP datagram of size bytes from
// 10.0.0.1 to 10.0.0.2.
func udpPacket(size int) []byte {
	pkt := make([]byte, header.IPoIBHeaderLen+header.IPv4MinHeaderLen+8+size)
	header.IPoIB(pkt).Encode(header.EtherTypeIPv4)
	ip := pkt[header.IPoIBHeaderLen:]
	header.EncodeIPv4(ip, header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: unix.IPPROTO_UDP,
		Src: [4]byte{10, 0, 0, 1}, Dst: [4]byte{10, 0, 0, 2}})
	binary.BigEndian.PutUint16(ip[header.IPv4MinHeaderLen+4:], uint16(8+size))
	return pkt
}

// waitRx waits until the node's poller has delivered n packets (it runs
// on its own goroutine) and returns how many it delivered, giving up
// after a generous bound.
func (tn *testNode) waitRx(n int64) int64 { return tn.waitRxFor(n, 10*time.Second) }

// waitRxFor is waitRx giving up after d.
func (tn *testNode) waitRxFor(n int64, d time.Duration) int64 {
	for deadline := time.Now().Add(d); tn.rx.n.Load() < n && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	return tn.rx.n.Load()
}
