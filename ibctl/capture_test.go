package ibctl

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/daemon"
	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/netlinkx"
)

// signalWriter is a stderr that closes ready when "listening on" was
// written: the capture point is attached.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), "listening on") {
		w.once.Do(func() { close(w.ready) })
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// capturing is a capture running on its own connection.
type capturing struct {
	out    bytes.Buffer
	errs   *signalWriter
	status int
	done   chan struct{}
	cancel context.CancelFunc
}

// startCapture runs "capture ARGS" on node's own connection (a capture
// holds its connection) and returns once it listens, or once it failed.
func (e *env) startCapture(node, args string) *capturing {
	e.t.Helper()
	c, err := netlinkx.Pipe(daemon.Backend(e.drv))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if node != "" {
		if err := c.Bind(node); err != nil {
			e.t.Fatal(err)
		}
	}
	r := &capturing{errs: &signalWriter{ready: make(chan struct{})}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	f := &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: &r.out, ErrOut: r.errs}, Globals: &Globals{},
		Executable: func() (string, error) { return "", os.ErrNotExist }}
	f.Connect = func(*Globals) (*netlinkx.Client, error) { return c, nil }
	cmd := NewCmdCapture(f, func(o *CaptureOptions) error {
		o.loc = time.UTC
		return o.capture(ctx, c)
	})
	argv, err := splitLine(args)
	if err != nil {
		e.t.Fatal(err)
	}
	go func() {
		defer close(r.done)
		cmd.SetArgs(argv)
		cmd.SetOut(&r.out)
		cmd.SetErr(r.errs)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.Execute()
		var se *SilentError
		if err != nil && !errors.As(err, &se) {
			r.errs.Write([]byte("ibctl: " + err.Error() + "\n"))
		}
		r.status = ExitStatus(err)
	}()
	select {
	case <-r.errs.ready:
	case <-r.done:
	}
	return r
}

// wait waits for the capture to end by itself.
func (r *capturing) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("capture did not end")
	}
}

// captureStampRE matches tcpdump's timestamps.
var captureStampRE = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{6} `)

// captureEnv is two nodes whose ib0 are up with 10.0.0.1 and 10.0.0.2,
// and the values the expected lines use.
// With udPeer, node1's ports have no connected mode.
func captureEnv(t *testing.T, udPeer bool) (*env, *strings.Replacer) {
	var opts driver.Options
	if udPeer {
		topo := fabric.DefaultTopology()
		caps := &fabric.Capabilities{Checksum: true, LSO: true}
		for i := range topo.Nodes[1].Ports {
			topo.Nodes[1].Ports[i].Caps = caps
		}
		opts.Topology = topo
	}
	e := newEnvWith(t, opts)
	e.ok("link set ib0 up", "-n node1 link set ib0 up")
	e.addAddr("node0", "ib0", "10.0.0.1/24")
	e.addAddr("node1", "ib0", "10.0.0.2/24")
	hw := func(node string) string {
		out, errs, st := e.run("-n " + node + " sys read class/net/ib0/address")
		if st != 0 {
			t.Fatalf("address: %s", errs)
		}
		return strings.TrimSpace(out)
	}
	hw0, hw1 := hw("node0"), hw("node1")
	ll := func(a string) string {
		b, err := hex.DecodeString(strings.ReplaceAll(a, ":", ""))
		if err != nil {
			t.Fatal(err)
		}
		var ip [16]byte
		ip[0], ip[1] = 0xfe, 0x80
		copy(ip[8:], b[12:20])
		ip[8] |= 2
		return netip.AddrFrom16(ip).String()
	}
	gid := func(a string) string {
		b, _ := hex.DecodeString(strings.ReplaceAll(a, ":", ""))
		return netip.AddrFrom16([16]byte(b[4:20])).String()
	}
	hexa := func(a string) string { return strings.ReplaceAll(a, ":", "") }
	id := uint16(os.Getpid())
	return e, strings.NewReplacer("{HW0}", hw0, "{HW1}", hw1, "{GID0}", gid(hw0), "{GID1}", gid(hw1),
		"{HEX0}", hexa(hw0), "{HEX1}", hexa(hw1), "{QPN0}", "0x"+hexa(hw0)[2:8], "{QPN1}", "0x"+hexa(hw1)[2:8],
		"{ZERO}", strings.Repeat("00", 20), "{IDHEX}", fmt.Sprintf("0x%04x", id), "{LL0}", ll(hw0), "{LL1}", ll(hw1),
		"{ID}", strconv.Itoa(int(id)))
}

func TestCaptureText(t *testing.T) {
	tests := []struct {
		name, setup, args, run string
		udPeer                 bool
		want                   string
		node                   string // where capture runs; node0 by default
	}{
		{"broadcast received", "", "-e -i ib0 -c 2 arp", "ping -c 1 10.0.0.2", false,
			"T   B ethertype ARP (0x0806), length 72: Request who-has 10.0.0.2 tell 10.0.0.1, length 56\n" +
				"T Out ethertype ARP (0x0806), length 72: Reply 10.0.0.2 is-at {HW1}, length 56\n", "node1"},
		{"connected", "sys write class/net/ib0/mode connected;-n node1 sys write class/net/ib0/mode connected",
			"-i ib0 -c 2 icmp", "ping -c 1 -s 4000 10.0.0.2", false,
			"T IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id {ID}, seq 1, length 4008\n" +
				"T IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id {ID}, seq 1, length 4008\n", ""},
		{"arp and echo", "", "-i ib0 -c 4", "ping -c 1 10.0.0.2", false,
			"T ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 56\n" +
				"T ARP, Reply 10.0.0.2 is-at {HW1}, length 56\n" +
				"T IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id {ID}, seq 1, length 64\n" +
				"T IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id {ID}, seq 1, length 64\n", ""},
		{"link header", "", "-e -i ib0 -c 4", "ping -c 1 10.0.0.2", false,
			"T Out ethertype ARP (0x0806), length 72: Request who-has 10.0.0.2 tell 10.0.0.1, length 56\n" +
				"T  In ethertype ARP (0x0806), length 72: Reply 10.0.0.2 is-at {HW1}, length 56\n" +
				"T Out ethertype IPv4 (0x0800), length 100: IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id {ID}, seq 1, length 64\n" +
				"T  In ethertype IPv4 (0x0800), length 100: IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id {ID}, seq 1, length 64\n", ""},
		{"filter icmp", "", "-i ib0 -c 2 icmp", "ping -c 1 10.0.0.2", false,
			"T IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id {ID}, seq 1, length 64\n" +
				"T IP 10.0.0.2 > 10.0.0.1: ICMP echo reply, id {ID}, seq 1, length 64\n", ""},
		{"filter not arp and host", "", "-i ib0 -c 1 not arp and host 10.0.0.2 and ( icmp or ip6 )", "ping -c 1 10.0.0.2", false,
			"T IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id {ID}, seq 1, length 64\n", ""},
		{"neighbour discovery", "", "-i ib0 -c 4 ip6", "ping -c 1 -I ib0 {LL1}", false,
			"T IP6 {LL0} > ff02::1:ff00:2001: ICMP6, neighbor solicitation, who has {LL1}, length 48\n" +
				"T IP6 {LL1} > {LL0}: ICMP6, neighbor advertisement, tgt is {LL1}, length 48\n" +
				"T IP6 {LL0} > {LL1}: ICMP6, echo request, id {ID}, seq 1, length 64\n" +
				"T IP6 {LL1} > {LL0}: ICMP6, echo reply, id {ID}, seq 1, length 64\n", ""},
		{"dropped", "sys write class/net/ib0/mode connected", "-e -i ib0 -c 3", "ping -c 1 -s 4000 10.0.0.2", true,
			"T Out ethertype ARP (0x0806), length 72: Request who-has 10.0.0.2 tell 10.0.0.1, length 56\n" +
				"T  In ethertype ARP (0x0806), length 72: Reply 10.0.0.2 is-at {HW1}, length 56\n" +
				"T Out ethertype IPv4 (0x0800), length 4044: IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id {ID}, seq 1, length 4008 [dropped: PKT_TOO_BIG]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, vars := captureEnv(t, tt.udPeer)
			if tt.setup != "" {
				e.ok(strings.Split(tt.setup, ";")...)
			}
			r := e.startCapture(tt.node, tt.args)
			e.run(vars.Replace(tt.run))
			r.wait(t)
			got := captureStampRE.ReplaceAllString(r.out.String(), "T ")
			if want := vars.Replace(tt.want); got != want {
				t.Errorf("got\n%s\nwant\n%s\nstderr %s", got, want, r.errs)
			}
			n := strings.Count(tt.want, "\n")
			wantErr := fmt.Sprintf("listening on ib0, link-type LINUX_SLL (Linux cooked v1), snapshot length 262144 bytes\n"+
				"%d packets captured\n%d packets received by filter\n0 packets dropped by kernel\n", n, n)
			if n == 1 {
				wantErr = strings.ReplaceAll(wantErr, "1 packets", "1 packet")
			}
			if r.errs.String() != wantErr || r.status != 0 {
				t.Errorf("stderr %q status %d, want %q 0", r.errs, r.status, wantErr)
			}
		})
	}
}

// tshark returns the path of tshark, skipping the test without it.
func tshark(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: the files the driver writes are checked against Wireshark's dissectors with it")
	}
	return p
}

// tsharkFields runs tshark on a file and returns one line per packet of
// the fields asked for, separated by "|".
func tsharkFields(t *testing.T, file string, fields ...string) []string {
	t.Helper()
	args := []string{"-r", file, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(tshark(t), args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user preferences
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("tshark: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("tshark: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// captureFile captures COUNT packets of what run does on node0's ib0 to a
// file with the given extra options, and returns its path.
func captureFile(t *testing.T, e *env, vars *strings.Replacer, opts, run string, count int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "ib0.pcap")
	r := e.startCapture("", fmt.Sprintf("-i ib0 -c %d -w %s %s", count, file, opts))
	e.run(vars.Replace(run))
	r.wait(t)
	if r.status != 0 {
		t.Fatalf("capture: status %d: %s", r.status, r.errs)
	}
	return file
}

// TestCaptureFileTshark reads the files the driver wrote with tshark and
// compares the fields Wireshark's dissectors decode with what the driver
// used: its addresses, the ping's identifier and sequence.
func TestCaptureFileTshark(t *testing.T) {
	tshark(t)
	tests := []struct {
		name, opts, run string
		fields          []string
		want            []string
	}{
		{"sll arp and echo", "", "ping -c 1 10.0.0.2",
			[]string{"sll.pkttype", "sll.hatype", "sll.halen", "sll.etype", "arp.hw.type", "arp.hw.size", "arp.opcode",
				"arp.src.hw", "arp.src.proto_ipv4", "arp.dst.hw", "arp.dst.proto_ipv4", "ip.src", "ip.dst", "icmp.type", "icmp.ident", "icmp.seq"},
			[]string{
				"4|32|0|0x0806|32|20|1|{HEX0}|10.0.0.1|{ZERO}|10.0.0.2|||||",
				"0|32|0|0x0806|32|20|2|{HEX1}|10.0.0.2|{HEX0}|10.0.0.1|||||",
				"4|32|0|0x0800||||||||10.0.0.1|10.0.0.2|8|{ID}|1",
				"0|32|0|0x0800||||||||10.0.0.2|10.0.0.1|0|{ID}|1",
			}},
		{"ipoib arp and echo", "-y IPOIB", "ping -c 1 10.0.0.2",
			[]string{"ipoib.daddr.qpn", "ipoib.dgid", "ipoib.type", "arp.hw.type", "arp.hw.size", "arp.src.hw", "arp.dst.hw", "icmp.type", "icmp.ident"},
			[]string{
				"0xffffff|ff12:401b:ffff::ffff:ffff|0x0806|32|20|{HEX0}|{ZERO}||",
				"{QPN0}|{GID0}|0x0806|32|20|{HEX1}|{HEX0}||",
				"{QPN1}|{GID1}|0x0800|||||8|{ID}",
				"{QPN0}|{GID0}|0x0800|||||0|{ID}",
			}},
		{"sll neighbour discovery", "", "ping -c 1 -I ib0 {LL1}",
			[]string{"sll.pkttype", "sll.etype", "ipv6.src", "ipv6.dst", "icmpv6.type", "icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address",
				"icmpv6.opt.linkaddr", "icmpv6.echo.identifier", "icmpv6.echo.sequence_number"},
			[]string{
				"4|0x86dd|{LL0}|ff02::1:ff00:2001|135|{LL1}||0000{HEX0}||",
				"0|0x86dd|{LL1}|{LL0}|136||{LL1}|0000{HEX1}||",
				"4|0x86dd|{LL0}|{LL1}|128||||{IDHEX}|1",
				"0|0x86dd|{LL1}|{LL0}|129||||{IDHEX}|1",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, vars := captureEnv(t, false)
			file := captureFile(t, e, vars, tt.opts, tt.run, len(tt.want))
			got := tsharkFields(t, file, tt.fields...)
			for i := range tt.want {
				want := vars.Replace(tt.want[i])
				if i >= len(got) || got[i] != want {
					t.Errorf("packet %d: tshark decodes\n%q\nwant\n%q", i+1, got, want)
					break
				}
			}
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	e, _ := captureEnv(t, false)
	before := e.state()
	tests := []struct {
		cmd, stderr string
		status      int
	}{
		{"capture", "ibctl: capture: no interface: give one with -i DEV\n", 2},
		{"-j capture -i ib0", "ibctl: capture: -j: capture has no JSON output\n", 2},
		{"capture -i ib9", "ibctl: capture: ib9: No such device exists\n", 1},
		{"capture -i ib1", "ibctl: capture: ib1: That device is not up\n", 1},
		{"capture -i ib0 -c 0", "ibctl: capture: invalid packet count 0\n", 2},
		{"capture -i ib0 -c x", "ibctl: capture: invalid packet count x\n", 2},
		{"capture -i ib0 -s 262145", "ibctl: capture: invalid snaplen 262145\n", 2},
		{"capture -i ib0 -s -1", "ibctl: capture: invalid snaplen -1\n", 2},
		{"capture -i ib0 -y EN10MB", "ibctl: capture: ib0: data link type EN10MB not supported (LINUX_SLL, IPOIB)\n", 2},
		{"capture -i ib0 tcp port 80", "ibctl: capture: filter: \"tcp\" is not supported (only " + filterWords + ")\n", 2},
		{"capture -i ib0 arp and", "ibctl: capture: can't parse filter expression: syntax error\n", 2},
		{"capture -i ib0 ( arp", "ibctl: capture: can't parse filter expression: syntax error\n", 2},
		{"capture -i ib0 arp ip", "ibctl: capture: can't parse filter expression: syntax error\n", 2},
		{"capture -i ib0 host", "ibctl: capture: can't parse filter expression: syntax error\n", 2},
		{"capture -i ib0 host nowhere", "ibctl: capture: can't parse filter expression: unknown host 'nowhere'\n", 2},
	}
	for _, tt := range tests {
		out, errs, st := e.run(tt.cmd)
		if out != "" || errs != tt.stderr || st != tt.status {
			t.Errorf("%s: stdout %q stderr %q status %d, want %q %d", tt.cmd, out, errs, st, tt.stderr, tt.status)
		}
	}
	if after := e.state(); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
}

func TestCaptureFilter(t *testing.T) {
	arp := []byte{0, 32, 8, 0, 20, 4, 0, 1}
	arp = append(append(append(arp, make([]byte, 20)...), 10, 0, 0, 1), make([]byte, 20)...)
	arp = append(arp, 10, 0, 0, 2)
	ip4 := make([]byte, 20)
	ip4[0], ip4[9] = 0x45, 1
	copy(ip4[12:], []byte{10, 0, 0, 1, 10, 0, 0, 3})
	ip6 := make([]byte, 40)
	ip6[0], ip6[6] = 0x60, 58
	ip6[8], ip6[9], ip6[23] = 0xfe, 0x80, 1
	pkts := map[string]struct {
		typ uint16
		l3  []byte
	}{"arp": {etherARP, arp}, "ip4": {etherIPv4, ip4}, "ip6": {etherIPv6, ip6}}
	tests := []struct {
		expr string
		want string // the packets that match, in the order arp ip4 ip6
	}{
		{"", "arp ip4 ip6"},
		{"arp", "arp"},
		{"ip", "ip4"},
		{"ip6", "ip6"},
		{"icmp", "ip4"},
		{"icmp6", "ip6"},
		{"not arp", "ip4 ip6"},
		{"!arp", "ip4 ip6"},
		{"host 10.0.0.2", "arp"},
		{"host 10.0.0.1", "arp ip4"},
		{"host fe80::1", "ip6"},
		{"arp or icmp6", "arp ip6"},
		{"arp||icmp6", "arp ip6"},
		{"host 10.0.0.1 and not arp", "ip4"},
		{"host 10.0.0.1&&!(arp)", "ip4"},
		{"not arp and ip or ip6", "ip4 ip6"},
		{"not (arp or ip) and ip6", "ip6"},
		{"ip or arp and host 10.0.0.3", "ip4"}, // left to right: (ip or arp) and host
	}
	for _, tt := range tests {
		f, err := parseFilter(tt.expr)
		if err != nil {
			t.Errorf("%q: %v", tt.expr, err)
			continue
		}
		var got []string
		for _, name := range []string{"arp", "ip4", "ip6"} {
			if p := pkts[name]; f(p.typ, p.l3) {
				got = append(got, name)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%q matches %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// TestCaptureEnds checks the three ends of a capture without -c: an
// interrupt, the interface going down, the interface deleted.
func TestCaptureEnds(t *testing.T) {
	stats := "0 packets captured\n0 packets received by filter\n0 packets dropped by kernel\n"
	tests := []struct {
		name, dev, end, stderr string
		status                 int
	}{
		{"interrupt", "ib0", "", "\n" + stats, 0},
		{"down", "ib0", "link set ib0 down", "ibctl: capture: ib0: The interface went down\n" + stats, 1},
		{"deleted", "ib0.7fff", "link del ib0.7fff",
			"ibctl: capture: ib0.7fff: The interface disappeared\n" + stats, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.ok("link set ib0 up", "link add link ib0 name ib0.7fff up type ipoib pkey 0x7fff")
			r := e.startCapture("", "-i "+tt.dev+" arp")
			if tt.end == "" {
				r.cancel()
			} else {
				e.ok(tt.end)
			}
			r.wait(t)
			want := "listening on " + tt.dev + ", link-type LINUX_SLL (Linux cooked v1), snapshot length 262144 bytes\n" + tt.stderr
			if got := r.errs.String(); got != want || r.status != tt.status || r.out.Len() != 0 {
				t.Errorf("stderr %q status %d stdout %q, want %q %d", got, r.status, r.out.String(), want, tt.status)
			}
		})
	}
}
