package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// needRoot skips a test that makes namespaces and devices.
func needRoot(t *testing.T) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skip("needs what Check asks for: " + err.Error())
	}
}

// testName is a namespace name of this test's own.
func testName(t *testing.T) string {
	name := fmt.Sprintf("ibctl-test-%d-%s", os.Getpid(), strings.ToLower(t.Name()))
	t.Cleanup(func() { Remove(name) })
	return name
}

// A namespace is created and registered as ip netns add does, refused
// when the name is taken unless reclaimed, and removed.
func TestCreateRefuseReclaimRemove(t *testing.T) {
	needRoot(t)
	name := testName(t)
	ns, err := Create(name, false)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	if out, err := exec.Command("ip", "-n", name, "-o", "link", "show", "lo").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "state UNKNOWN") || !strings.Contains(string(out), "LOOPBACK,UP") {
		t.Errorf("lo in %s: %s %v", name, out, err)
	}
	if b, err := exec.Command("ip", "netns", "exec", name, "sysctl", "-n", "net.ipv4.conf.all.accept_local").Output(); err == nil && strings.TrimSpace(string(b)) != "1" {
		t.Errorf("accept_local is %q, want 1", b)
	}
	if _, err := Create(name, false); !errors.Is(err, ErrNotOurs) {
		t.Errorf("second create: %v, want ErrNotOurs", err)
	}
	ns, err = Create(name, true)
	if err != nil {
		t.Fatalf("reclaim: %v", err)
	}
	ns.Close()
	if err := Remove(name); err != nil || Exists(name) {
		t.Errorf("remove: %v, exists %v", err, Exists(name))
	}
	if err := Remove(name); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	for _, bad := range []string{"", ".", "..", "a/b"} {
		if _, err := Create(bad, false); err == nil || !strings.Contains(err.Error(), "invalid name") {
			t.Errorf("Create(%q): %v", bad, err)
		}
		if _, err := Open(bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
		if err := Remove(bad); err == nil {
			t.Errorf("Remove(%q) succeeded", bad)
		}
	}
}

// tunNamespace makes a namespace named for the test with a watcher, a
// TUN device ib0 set up with MTU 2044 (carrier off) and a connection,
// all gone at the end of the test. It returns the namespace's name and
// the watcher's events.
func tunNamespace(t *testing.T) (string, *TUN, *Conn, chan Event) {
	t.Helper()
	needRoot(t)
	name := testName(t)
	ns, err := Create(name, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	events := make(chan Event, 100)
	stop, err := ns.Watch(func(e Event) { events <- e })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	tun, err := ns.NewTUN("ib0", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tun.Close() })
	c, err := ns.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetLink(tun.Index, true, 2044); err != nil {
		t.Fatal(err)
	}
	return name, tun, c, events
}

// A TUN device has the link type of InfiniBand and follows what the
// connection sets; the watcher reports changes made by anyone.
func TestTUNAndConn(t *testing.T) {
	name, tun, c, events := tunNamespace(t)
	out, _ := exec.Command("ip", "-n", name, "-o", "link", "show", "ib0").CombinedOutput()
	for _, want := range []string{"link/infiniband", "mtu 2044", "NO-CARRIER"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("ip link show ib0 lacks %q: %s", want, out)
		}
	}
	if err := tun.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("ip", "-n", name, "-o", "link", "show", "ib0").CombinedOutput()
	if !strings.Contains(string(out), "LOWER_UP") {
		t.Errorf("carrier on: %s", out)
	}
	if err := c.SetTxQueueLen(tun.Index, 256); err != nil {
		t.Fatal(err)
	}
	l, err := c.Link(tun.Index)
	if err != nil || l != (Link{Index: tun.Index, Name: "ib0", Up: true, MTU: 2044, TxQLen: 256}) {
		t.Errorf("Link: %+v %v", l, err)
	}
	p4, p6 := netip.MustParsePrefix("10.3.0.1/24"), netip.MustParsePrefix("fe80::1/64")
	for _, p := range []netip.Prefix{p4, p6, p4} {
		if err := c.AddAddr(Addr{Index: tun.Index, Prefix: p}); err != nil {
			t.Fatal(err)
		}
	}
	have, err := c.Addrs(tun.Index)
	if err != nil || !slices.Contains(have, p4) || !slices.Contains(have, p6) || len(have) != 2 {
		t.Errorf("Addrs: %v %v", have, err)
	}
	out, _ = exec.Command("ip", "-n", name, "-o", "-4", "addr", "show", "ib0").CombinedOutput()
	// as with ip, no broadcast address unless one is given
	if !strings.Contains(string(out), "inet 10.3.0.1/24 scope global ib0") {
		t.Errorf("ip addr: %s", out)
	}
	p24b := netip.MustParsePrefix("10.3.1.1/24")
	if err := c.AddAddr(Addr{Index: tun.Index, Prefix: p24b, Broadcast: netip.MustParseAddr("10.3.1.255")}); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("ip", "-n", name, "-o", "-4", "addr", "show", "ib0").CombinedOutput()
	if !strings.Contains(string(out), "inet 10.3.1.1/24 brd 10.3.1.255 scope global ib0") {
		t.Errorf("the broadcast address given: %s", out)
	}
	if err := c.DelAddr(Addr{Index: tun.Index, Prefix: p24b}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.DelAddr(Addr{Index: tun.Index, Prefix: p4}); err != nil {
			t.Fatal(err)
		}
	}
	if have, _ := c.Addrs(tun.Index); !slices.Equal(have, []netip.Prefix{p6}) {
		t.Errorf("after delete: %v", have)
	}
	// Someone else's change, seen by the watcher.
	if out, err := exec.Command("ip", "-n", name, "addr", "add", "10.4.0.1/16", "dev", "ib0").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	want := Addr{Index: tun.Index, Prefix: netip.MustParsePrefix("10.4.0.1/16")}
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case e := <-events:
			seen = e.Addr != nil && *e.Addr == want && !e.Deleted
		case <-deadline:
			t.Fatal("no event for 10.4.0.1/16")
		}
	}
	if out, err := exec.Command("ip", "-n", name, "addr", "del", "10.4.0.1/16", "dev", "ib0").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for seen := false; !seen; {
		select {
		case e := <-events:
			seen = e.Addr != nil && *e.Addr == want && e.Deleted
		case <-deadline:
			t.Fatal("no deletion event for 10.4.0.1/16")
		}
	}
	tun.Close()
	if _, err := c.Link(tun.Index); !errors.Is(err, unix.ENODEV) {
		t.Errorf("the device closed: %v, want ENODEV", err)
	}
}

// A namespace opened while standard input is closed gets no fd 0, which
// netlink would read as the current namespace.
func TestOpenNeverFDZero(t *testing.T) {
	needRoot(t)
	name := testName(t)
	ns, err := Create(name, false)
	if err != nil {
		t.Fatal(err)
	}
	ns.Close()
	saved, err := unix.Dup(0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { unix.Dup2(saved, 0); unix.Close(saved) }()
	unix.Close(0)
	ns, err = Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if ns.FD() == 0 {
		t.Fatal("the namespace's handle is fd 0")
	}
}

// What WritePackets gives the kernel arrives on the device as written: a
// merged run as one segment of the run's bytes (its pieces written
// together), a packet that joins nothing as it is. A packet socket on the
// device sees both.
func TestWritePacketsArrive(t *testing.T) {
	needRoot(t)
	name := testName(t)
	ns, err := Create(name, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	tun, err := ns.NewTUN("ib0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tun.Close()
	c, err := ns.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetLink(tun.Index, true, 2044); err != nil {
		t.Fatal(err)
	}
	if err := tun.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	var sock int
	err = ns.Do(func() error {
		var err error
		sock, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(sock, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: int(tun.Index)})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sock)
	if err := unix.SetsockoptTimeval(sock, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10}); err != nil {
		t.Fatal(err)
	}
	run := [][]byte{tcpPacket(false, 100, tcpACK, payloadOf(1000)), tcpPacket(false, 1100, tcpACK, payloadOf(1000)),
		tcpPacket(false, 2100, tcpACK|tcpPSH, payloadOf(600))}
	lone := tcpPacket(true, 7, tcpACK|tcpFIN, payloadOf(10))
	pkts := append(slices.Clone(run), lone)
	var want [][]byte
	for _, f := range joined(coalesce(framesOf(pkts))) {
		want = append(want, f[vnetHdrLen:])
	}
	if len(want) != 2 || len(want[0]) != 52+2600 {
		t.Fatalf("coalesce: %d frames", len(want))
	}
	if err := tun.WritePackets(framesOf(pkts)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 70000)
	for i, w := range want {
		n, _, err := unix.Recvfrom(sock, buf, 0)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], w) {
			t.Errorf("packet %d: %d bytes %x\nwant %d bytes %x", i, n, buf[:min(n, 80)], len(w), w[:min(len(w), 80)])
		}
	}
}

// htons is a 16-bit value in network byte order, as packet sockets take
// their protocol.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// A TUN takes the ifindex it is asked for (TUNSETIFINDEX), and one the
// kernel picks when another device of the namespace has that index
// (register_netdevice's EBUSY).
func TestTUNIndex(t *testing.T) {
	needRoot(t)
	name := testName(t)
	ns, err := Create(name, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	for _, c := range []struct {
		dev          string
		ask, want    uint32
		wantAnything bool
	}{
		{dev: "ib0", ask: 7, want: 7},
		{dev: "ib1", ask: 7, wantAnything: true}, // 7 is ib0's
		{dev: "ib2", ask: 1, wantAnything: true}, // 1 is lo's
		{dev: "ib3", ask: 9, want: 9},
	} {
		tun, err := ns.NewTUN(c.dev, c.ask)
		if err != nil {
			t.Fatalf("%s: %v", c.dev, err)
		}
		defer tun.Close()
		switch {
		case c.wantAnything && (tun.Index == 0 || tun.Index == c.ask):
			t.Errorf("%s asked for the taken ifindex %d: got %d", c.dev, c.ask, tun.Index)
		case !c.wantAnything && tun.Index != c.want:
			t.Errorf("%s: ifindex %d, want %d", c.dev, tun.Index, c.want)
		}
		out, _ := exec.Command("ip", "-n", name, "-o", "link", "show", c.dev).CombinedOutput()
		if !strings.HasPrefix(string(out), fmt.Sprintf("%d: %s:", tun.Index, c.dev)) {
			t.Errorf("%s: Index %d, ip says %s", c.dev, tun.Index, out)
		}
	}
}

// Routes lists the main table's unicast routes through each device: the
// prefix route of an address, a gateway, the default route, IPv6, and
// each next hop of a multipath route; local and other tables' routes are
// not listed, and a route change is announced to a watcher.
func TestRoutes(t *testing.T) {
	name, tun, c, events := tunNamespace(t)
	if err := tun.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"10.3.0.1/24", "fd00::1/64"} {
		if err := c.AddAddr(Addr{Index: tun.Index, Prefix: netip.MustParsePrefix(p)}); err != nil {
			t.Fatal(err)
		}
	}
	for len(events) > 0 {
		<-events
	}
	for _, args := range [][]string{
		{"route", "add", "10.9.0.0/16", "via", "10.3.0.2"},
		{"route", "add", "default", "via", "10.3.0.3"},
		{"route", "add", "10.8.0.0/16", "nexthop", "via", "10.3.0.4", "nexthop", "via", "10.3.0.5"},
		{"route", "add", "10.7.0.0/16", "dev", "ib0"},
		{"route", "add", "10.6.0.0/16", "via", "10.3.0.6", "table", "100"},
		{"-6", "route", "add", "2001:db8::/32", "via", "fd00::2"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	for routeEvent := false; !routeEvent; {
		select {
		case e := <-events:
			routeEvent = e.Route
		case <-time.After(10 * time.Second):
			t.Fatal("no route event")
		}
	}
	all, err := c.Routes()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range all[tun.Index] {
		if r.Index != tun.Index {
			t.Errorf("route %+v listed under %d", r, tun.Index)
		}
		s := r.Dst.String()
		if r.Via.IsValid() {
			s += " via " + r.Via.String()
		}
		got[s] = true
	}
	for _, want := range []string{"10.3.0.0/24", "10.9.0.0/16 via 10.3.0.2", "0.0.0.0/0 via 10.3.0.3",
		"10.8.0.0/16 via 10.3.0.4", "10.8.0.0/16 via 10.3.0.5", "10.7.0.0/16", "fd00::/64", "2001:db8::/32 via fd00::2"} {
		if !got[want] {
			t.Errorf("no route %q in %v", want, got)
		}
		delete(got, want)
	}
	for r := range got {
		if !strings.HasPrefix(r, "fe80::/64") { // the kernel's own link-local prefix route
			t.Errorf("unexpected route %q", r)
		}
	}
}

// RouteGet answers as `ip route get DST from SRC oif DEV tos TOS`: a rule
// on the source or the traffic class sends the lookup to its table, no
// rule leaves it to the main table, a datagram the namespace forwards is
// asked as from lo, and a rule that refuses the flow is an error (IPv6)
// or, for IPv4 with its output device given, the kernel's "assume on
// link". Rules and routes of other tables are announced as Policy
// events, main-table routes as Route ones.
func TestRouteGet(t *testing.T) {
	name, tun, c, events := tunNamespace(t)
	if err := tun.SetCarrier(true); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"10.3.0.1/24", "10.3.0.11/24", "10.3.0.12/24", "fd00::1/64", "fd00::11/64", "fd00::12/64"} {
		if err := c.AddAddr(Addr{Index: tun.Index, Prefix: netip.MustParsePrefix(p)}); err != nil {
			t.Fatal(err)
		}
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", append([]string{"-n", name}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	if out, err := exec.Command("ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v: %s", err, out)
	}
	ip("route", "add", "10.9.0.0/16", "via", "10.3.0.2")
	ip("-6", "route", "add", "2001:db8::/32", "via", "fd00::2")
	// What the setup announced ends with this link change.
	if err := c.SetTxQueueLen(tun.Index, 77); err != nil {
		t.Fatal(err)
	}
	for marked := false; !marked; {
		select {
		case e := <-events:
			marked = e.Link != nil && e.Link.TxQLen == 77
		case <-time.After(10 * time.Second):
			t.Fatal("no link event")
		}
	}
	ip("route", "add", "10.9.0.0/16", "via", "10.3.0.100", "table", "100")
	ip("route", "add", "10.9.0.0/16", "via", "10.3.0.101", "table", "101")
	ip("-6", "route", "add", "2001:db8::/32", "via", "fd00::100", "table", "100")
	ip("rule", "add", "from", "10.3.0.11", "table", "100")
	ip("rule", "add", "from", "10.5.5.5", "table", "100")
	ip("rule", "add", "tos", "0x10", "table", "101")
	ip("rule", "add", "from", "10.3.0.12", "prohibit")
	ip("-6", "rule", "add", "from", "fd00::11", "table", "100")
	ip("-6", "rule", "add", "from", "fd00::12", "prohibit")
	var route, policy int
	for policy < 9 {
		select {
		case e := <-events:
			if e.Route {
				route++
			}
			if e.Policy {
				policy++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d policy events, want 9", policy)
		}
	}
	if route != 0 {
		t.Errorf("%d main-table route events for other tables' routes and rules", route)
	}
	a := netip.MustParseAddr
	for _, c2 := range []struct {
		src, dst string
		tos      uint8
		via      string // "" on link
		err      bool
	}{
		{src: "10.3.0.1", dst: "10.9.0.1", via: "10.3.0.2"},
		{src: "10.3.0.11", dst: "10.9.0.1", via: "10.3.0.100"},
		{src: "10.3.0.11", dst: "10.3.0.50"},
		{src: "10.3.0.1", dst: "10.9.0.1", tos: 0x10, via: "10.3.0.101"},
		{src: "10.5.5.5", dst: "10.9.0.1", via: "10.3.0.100"},
		{src: "10.5.5.6", dst: "10.9.0.1", via: "10.3.0.2"},
		{src: "10.3.0.12", dst: "10.9.0.1"},
		{src: "fd00::1", dst: "2001:db8::1", via: "fd00::2"},
		{src: "fd00::11", dst: "2001:db8::1", via: "fd00::100"},
		{src: "fd00::11", dst: "fd00::50"},
		{src: "fd00::12", dst: "2001:db8::1", err: true},
	} {
		h, err := c.RouteGet(a(c2.src), a(c2.dst), c2.tos, tun.Index)
		if c2.err {
			if err == nil {
				t.Errorf("from %s to %s: %+v, want an error", c2.src, c2.dst, h)
			}
			continue
		}
		want := Hop{Index: tun.Index}
		if c2.via != "" {
			want.Via = a(c2.via)
		}
		if err != nil || h != want {
			t.Errorf("from %s to %s tos %#x: %+v %v, want %+v", c2.src, c2.dst, c2.tos, h, err, want)
		}
	}
}
