package ibctl

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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
		"{SQPN0}", "0x00"+hexa(hw0)[2:8], "{SQPN1}", "0x00"+hexa(hw1)[2:8],
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
	for i := 0; i < len(fields); i++ {
		if fields[i] == "-o" { // a preference
			args = append(args, "-o", fields[i+1])
			i++
			continue
		}
		args = append(args, "-e", fields[i])
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
		{"capture --fabric -i node9/1", "ibctl: capture: node9/1: No such device exists\n", 1},
		{"capture --fabric -i node0/3", "ibctl: capture: node0/3: No such device exists\n", 1},
		{"capture --fabric -i ib0", "ibctl: capture: ib0: a fabric port is NODE/PORT\n", 1},
		{"capture --fabric -i node0/1 arp", "ibctl: capture: --fabric takes no filter expression\n", 2},
		{"capture --fabric -i node0/1 -y IPOIB", "ibctl: capture: node0/1: data link type IPOIB not supported (INFINIBAND, ERF, EN10MB)\n", 2},
		{"capture --fabric --roce -i node0/1 -y INFINIBAND", "ibctl: capture: node0/1: data link type INFINIBAND not supported with --roce (EN10MB)\n", 2},
		{"capture --roce -i ib0", "ibctl: capture: --roce needs --fabric: RoCEv2 carries the fabric's packets\n", 2},
		{"capture -i ib0 -i ib1", "ibctl: capture: ib1: one interface only; several -i take fabric ports (--fabric)\n", 2},
		{"capture --fabric -i node0/1 -i node1/1 -i node0/1", "ibctl: capture: node0/1: port given twice\n", 2},
		{"capture -i ib0 --pcapng", "ibctl: capture: --pcapng writes a file: give one with -w FILE\n", 2},
		{"capture --fabric -i node0/1 -i node9/1", "ibctl: capture: node9/1: No such device exists\n", 1},
		{"capture --fabric -i node0/1 -i node1", "ibctl: capture: node1: a fabric port is NODE/PORT\n", 1},
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

// TestCaptureFabricTshark captures node0's port 1 link during a ping and
// an RC exchange and reads the file with Wireshark's InfiniBand dissector
// (tshark 4.0 reads link type 247 only as a user DLT: the test rewrites
// it to DLT_USER0, 147).
//
// With -y ERF each packet is in an ERF record of type InfiniBand, which
// tshark reads as it is.
func TestCaptureFabricTshark(t *testing.T) {
	tshark(t)
	for _, erf := range []bool{false, true} {
		t.Run(fmt.Sprintf("erf=%t", erf), func(t *testing.T) { testCaptureFabricTshark(t, erf) })
	}
}

func testCaptureFabricTshark(t *testing.T, erf bool) {
	e, vars := captureEnv(t, false)
	file := filepath.Join(t.TempDir(), "port.pcap")
	args := "--fabric -i node0/1 -c 4 -w " + file
	if erf {
		args += " -y ERF"
	}
	r := e.startCapture("", args)
	e.run("ping -c 1 10.0.0.2")
	r.wait(t)
	if r.status != 0 {
		t.Fatalf("capture: status %d: %s", r.status, r.errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	read, opts := file, []string{"-o", userDLT0}
	if erf {
		if lt := binary.LittleEndian.Uint32(b[20:24]); lt != linktypeERF {
			t.Fatalf("link type %d, want 197", lt)
		}
		opts = nil
	} else {
		if lt := binary.LittleEndian.Uint32(b[20:24]); lt != linktypeInfiniband {
			t.Fatalf("link type %d, want 247", lt)
		}
		checkCRCs(t, b)
		binary.LittleEndian.PutUint32(b[20:24], 147)
		read = filepath.Join(t.TempDir(), "user0.pcap")
		if err := os.WriteFile(read, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := tsharkFields(t, read, append(opts, "infiniband.lrh.slid", "infiniband.lrh.dlid", "infiniband.lrh.lnh", "infiniband.grh.dgid", "infiniband.bth.opcode",
		"infiniband.bth.p_key", "infiniband.bth.destqp", "infiniband.deth.q_key", "infiniband.deth.srcqp",
		"arp.src.proto_ipv4", "icmp.type")...)
	// LIDs 1 and 3 (node0/1, node1/1), the broadcast group's MLID 0xc000
	// and MGID, LNH 3 (GRH) for multicast and 2 for unicast, UD SEND Only
	// (100), the partition 0xffff, its Q_Key 0xb1b, ib0's QPNs
	want := []string{
		"1|49152|0x03|ff12:401b:ffff::ffff:ffff|100|65535|0xffffff|0x0000000000000b1b|{SQPN0}|10.0.0.1|",
		"3|1|0x02||100|65535|{QPN0}|0x0000000000000b1b|{SQPN1}|10.0.0.2|",
		"1|3|0x02||100|65535|{QPN1}|0x0000000000000b1b|{SQPN0}||8",
		"3|1|0x02||100|65535|{QPN0}|0x0000000000000b1b|{SQPN1}||0",
	}
	for i := range want {
		w := vars.Replace(want[i])
		if i >= len(got) || got[i] != w {
			t.Errorf("packet %d: tshark decodes\n%q\nwant\n%q", i+1, got, w)
			break
		}
	}
}

// TestCaptureFabricConnected captures node0's port link while a ping in
// connected mode sets up both connections: tshark decodes the CM REQ and
// REP MADs with IPoIB's private data (the UD QPN and receive size) and
// the RC train as the packets it stands for.
func TestCaptureFabricConnected(t *testing.T) {
	tshark(t)
	e, vars := captureEnv(t, false)
	e.ok("sys write class/net/ib0/mode connected", "-n node1 sys write class/net/ib0/mode connected")
	file := filepath.Join(t.TempDir(), "port.pcap")
	r := e.startCapture("", "--fabric -i node0/1 -c 16 -w "+file)
	e.run("ping -c 1 -s 10000 10.0.0.2")
	r.wait(t)
	if r.status != 0 {
		t.Fatalf("capture: status %d: %s", r.status, r.errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	checkCRCs(t, b)
	binary.LittleEndian.PutUint32(b[20:24], 147)
	user := filepath.Join(t.TempDir(), "user0.pcap")
	if err := os.WriteFile(user, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got := tsharkFields(t, user, "-o", userDLT0,
		"infiniband.bth.opcode", "infiniband.mad.mgmtclass", "infiniband.mad.attributeid", "infiniband.cm.req.serviceid",
		"infiniband.cm.req.pkey", "infiniband.cm.req.private", "infiniband.cm.rep.private")
	// opcodes: 100 UD SEND Only, 0/1/2 RC SEND First/Middle/Last, 17
	// ACKNOWLEDGE; CM (class 7) REQ 0x0010, REP 0x0013, RTU 0x0014; the
	// service ID 0x1000000000000000 | QPN; private data: QPN, receive size
	// 65524, as ipoib_cm_dev_init writes it
	priv := func(qpn string, n int) string { return "00" + qpn[2:] + "0000fff4" + strings.Repeat("00", n-8) }
	sid := func(qpn string) string { return "0x1000000000" + qpn[2:] }
	q0, q1 := vars.Replace("{QPN0}"), vars.Replace("{QPN1}")
	want := []string{
		"100||||||", "100||||||",
		"100|0x07|0x0010|" + sid(q1) + "|0xffff|" + priv(q0, 92) + "|", // REQ: 92 bytes of private data
		"100|0x07|0x0013||||" + priv(q1, 196),                          // REP: 196
		"0||||||", "1||||||", "2||||||", "17||||||",
		"100|0x07|0x0014||||",
		"100|0x07|0x0010|" + sid(q0) + "|0xffff|" + priv(q1, 92) + "|",
		"100|0x07|0x0013||||" + priv(q0, 196),
		"0||||||", "1||||||", "2||||||", "17||||||",
		"100|0x07|0x0014||||",
	}
	// The two connections are set up concurrently (the echo reply opens
	// the second while the first's RTU may still be on its way), so
	// their packets may interleave: compare what was decoded, not in
	// which order.
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tshark decodes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// checkCRCs verifies the ICRC and VCRC of every packet of a link type
// 247 file (Wireshark does not): the VCRC covers the packet up to it,
// the ICRC what the IBA's rules leave invariant.
func checkCRCs(t *testing.T, file []byte) {
	t.Helper()
	le := binary.LittleEndian
	for off, i := 24, 1; off < len(file); i++ {
		n := int(le.Uint32(file[off+8:]))
		pkt := file[off+16 : off+16+n]
		off += 16 + n
		if got, want := le.Uint16(pkt[n-2:]), vcrc16(pkt[:n-2]); got != want {
			t.Errorf("packet %d: VCRC %04x, want %04x", i, got, want)
		}
		if got, want := le.Uint32(pkt[n-6:]), icrc32(pkt[:n-6]); got != want {
			t.Errorf("packet %d: ICRC %08x, want %08x", i, got, want)
		}
	}
}

// vcrc16 is the VCRC computed bit by bit: polynomial 0x100B, bits least
// significant first, seeded with ones and inverted.
func vcrc16(b []byte) uint16 {
	c := uint16(0xffff)
	for _, x := range b {
		for i := range 8 {
			fb := (c ^ uint16(x>>i)) & 1
			c >>= 1
			if fb != 0 {
				c ^= 0xd008
			}
		}
	}
	return ^c
}

// icrc32 is the ICRC: CRC-32 over the packet with the LRH, the GRH's
// traffic class, flow label and hop limit and the BTH's resv8a set to
// ones.
func icrc32(pkt []byte) uint32 {
	m := bytes.Clone(pkt)
	for i := range 8 {
		m[i] = 0xff
	}
	bth := 8
	if pkt[1]&3 == 3 {
		m[8] |= 0x0f
		m[9], m[10], m[11], m[15] = 0xff, 0xff, 0xff, 0xff
		bth += 40
	}
	m[bth+4] = 0xff
	return crc32.ChecksumIEEE(m)
}

// captureFabric runs a fabric capture with args (a -w FILE is added)
// while run runs on node0, and returns the file's path.
func captureFabric(t *testing.T, e *env, args string, run func()) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "port.pcapng")
	r := e.startCapture("", args+" -w "+file)
	run()
	r.wait(t)
	if r.status != 0 {
		t.Fatalf("capture %s: status %d: %s", args, r.status, r.errs)
	}
	return file
}

// userDLT0 is the preference that has tshark dissect DLT_USER0 (147) as
// InfiniBand. Wireshark maps no link type to InfiniBand: 247 is missing
// from wiretap's pcap_to_wtap_map (pcap-common.c), which pcapng's
// interface descriptions go through too.
const userDLT0 = `uat:user_dlts:"User 0 (DLT=147)","infiniband","0","","0",""`

// pcapngUser0 rewrites the link type 247 of a pcapng file's interfaces to
// DLT_USER0 and returns the new file's path.
func pcapngUser0(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	for off := 0; off+12 <= len(b); off += int(le.Uint32(b[off+4:])) {
		if le.Uint32(b[off:]) == pcapngIDB {
			if lt := le.Uint16(b[off+8:]); lt != linktypeInfiniband {
				t.Fatalf("interface link type %d, want 247", lt)
			}
			le.PutUint16(b[off+8:], 147)
		}
	}
	user := filepath.Join(t.TempDir(), "user0.pcapng")
	if err := os.WriteFile(user, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return user
}

// TestCaptureFabricPcapng captures both ends of the link between node0
// and node1 into one pcapng file, one interface per port, which tshark
// reads: each packet leaves one port and reaches the other.
func TestCaptureFabricPcapng(t *testing.T) {
	tshark(t)
	e, vars := captureEnv(t, false)
	file := captureFabric(t, e, "--fabric -i node0/1 -i node1/1 -c 8", func() { e.run("ping -c 1 10.0.0.2") })
	got := tsharkFields(t, pcapngUser0(t, file), "-o", userDLT0, "frame.interface_id", "frame.interface_name", "infiniband.lrh.slid", "infiniband.lrh.dlid",
		"infiniband.bth.opcode", "infiniband.bth.destqp", "arp.opcode", "icmp.type")
	want := []string{
		"0|node0/1|1|49152|100|0xffffff|1|", // ARP request, out of node0/1
		"1|node1/1|1|49152|100|0xffffff|1|", // into node1/1
		"1|node1/1|3|1|100|{QPN0}|2|",       // ARP reply
		"0|node0/1|3|1|100|{QPN0}|2|",
		"0|node0/1|1|3|100|{QPN1}||8", // echo request
		"1|node1/1|1|3|100|{QPN1}||8",
		"1|node1/1|3|1|100|{QPN0}||0", // echo reply
		"0|node0/1|3|1|100|{QPN0}||0",
	}
	for i := range want {
		w := vars.Replace(want[i])
		if i >= len(got) || got[i] != w {
			t.Errorf("packet %d: tshark decodes\n%q\nwant\n%q", i+1, got, w)
			break
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// the file's interfaces: link type 247, the snapshot length, ns
	for i, name := range []string{"node0/1", "node1/1"} {
		idb := "f700" + "0000" + "00000400" + "0200" + "0700" + hex.EncodeToString([]byte(name)) + "00" + "0900" + "0100" + "09000000"
		if !strings.Contains(hex.EncodeToString(b), idb) {
			t.Errorf("interface %d: no description %s", i, idb)
		}
	}
}

// TestCaptureFabricRoCE captures node0's port twice at once while a ping
// in connected mode sets up both connections: as IB packets and as
// RoCEv2 frames. tshark decodes the RoCEv2 frames as RRoCE with the BTH,
// DETH and CM fields of the IB packets, over IPv6 between the port GIDs
// and UDP to 4791; every frame's ICRC is the RoCEv2 one.
func TestCaptureFabricRoCE(t *testing.T) {
	tshark(t)
	e, vars := captureEnv(t, false)
	e.ok("sys write class/net/ib0/mode connected", "-n node1 sys write class/net/ib0/mode connected")
	ibFile := filepath.Join(t.TempDir(), "ib.pcapng")
	ib := e.startCapture("", "--fabric -i node0/1 -c 16 --pcapng -w "+ibFile)
	roceFile := captureFabric(t, e, "--fabric --roce -i node0/1 -c 16", func() { e.run("ping -c 1 -s 10000 10.0.0.2") })
	ib.wait(t)
	if ib.status != 0 {
		t.Fatalf("capture: status %d: %s", ib.status, ib.errs)
	}
	bth := []string{"infiniband.bth.opcode", "infiniband.bth.se", "infiniband.bth.m", "infiniband.bth.padcnt",
		"infiniband.bth.p_key", "infiniband.bth.destqp", "infiniband.bth.a", "infiniband.bth.psn", "infiniband.deth.q_key",
		"infiniband.deth.srcqp", "infiniband.cm.req.startpsn", "infiniband.cm.rep.startpsn", "icmp.type"}
	wantIB := tsharkFields(t, pcapngUser0(t, ibFile), append([]string{"-o", userDLT0}, bth...)...)
	got := tsharkFields(t, roceFile, append([]string{"frame.protocols", "eth.type", "ipv6.src", "ipv6.dst", "ipv6.nxt",
		"udp.dstport"}, bth...)...)
	if len(got) != 16 || len(wantIB) != 16 {
		t.Fatalf("%d RoCEv2 and %d IB packets, want 16:\n%s\n%s", len(got), len(wantIB), strings.Join(got, "\n"), strings.Join(wantIB, "\n"))
	}
	gid0, gid1 := vars.Replace("{GID0}"), vars.Replace("{GID1}")
	for i := range got {
		fields := strings.SplitN(got[i], "|", 7)
		if fields[0] != "eth:ethertype:ipv6:udp:infiniband" && !strings.HasPrefix(fields[0], "eth:ethertype:ipv6:udp:infiniband:") {
			t.Errorf("packet %d: protocols %s", i+1, fields[0])
		}
		addrs := fields[2] + " " + fields[3]
		if fields[1] != "0x86dd" || (addrs != gid0+" "+gid1 && addrs != gid1+" "+gid0 &&
			addrs != gid0+" ff12:401b:ffff::ffff:ffff") || fields[4] != "17" || fields[5] != "4791" {
			t.Errorf("packet %d: %s", i+1, got[i])
		}
		if fields[6] != wantIB[i] {
			t.Errorf("packet %d: RoCEv2 BTH and after\n%s\nIB\n%s", i+1, fields[6], wantIB[i])
		}
	}
	b, err := os.ReadFile(roceFile)
	if err != nil {
		t.Fatal(err)
	}
	if lt := binary.LittleEndian.Uint32(b[20:24]); lt != linktypeEthernet {
		t.Errorf("link type %d, want 1", lt)
	}
	le := binary.LittleEndian
	for off, i := 24, 1; off < len(b); i++ {
		n := int(le.Uint32(b[off+8:]))
		frame := b[off+16 : off+16+n]
		off += 16 + n
		if got, want := le.Uint32(frame[n-4:]), roceICRCSpec(frame[14:n-4]); got != want {
			t.Errorf("packet %d: ICRC %08x, want %08x", i, got, want)
		}
	}
}

// TestCaptureFabricConnectedPSN follows the kernel's IPoIB CM: the REQ
// carries starting PSN 0 (ipoib_cm_send_req's "req.starting_psn = 0; /*
// FIXME */"), the REP the passive side's receive PSN, which the active
// side's QP sends from (cm_rep_handler sets its sq_psn): each
// connection's first RC packet has the REP's PSN, the next ones follow,
// and the ACK acknowledges the last.
func TestCaptureFabricConnectedPSN(t *testing.T) {
	tshark(t)
	e, _ := captureEnv(t, false)
	e.ok("sys write class/net/ib0/mode connected", "-n node1 sys write class/net/ib0/mode connected")
	file := captureFabric(t, e, "--fabric -i node0/1 --pcapng -c 16", func() { e.run("ping -c 1 -s 10000 10.0.0.2") })
	got := tsharkFields(t, pcapngUser0(t, file), "-o", userDLT0, "infiniband.bth.opcode", "infiniband.bth.destqp", "infiniband.bth.psn",
		"infiniband.cm.req.startpsn", "infiniband.cm.rep.localqpn", "infiniband.cm.rep.startpsn")
	reqs, reps := 0, map[string]string{} // the REPs' QPNs and PSNs
	next := map[string]uint64{}          // a connection's next PSN
	for i, line := range got {
		f := strings.Split(line, "|")
		switch {
		case f[3] != "":
			reqs++
			if f[3] != "0x000000" {
				t.Errorf("packet %d: REQ starting PSN %s, want 0", i+1, f[3])
			}
		case f[4] != "":
			reps[f[4]] = f[5]
		case f[0] == "0" || f[0] == "1" || f[0] == "2" || f[0] == "17":
			psn, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				t.Fatalf("packet %d: PSN %q", i+1, f[2])
			}
			if f[0] == "0" {
				start, ok := reps[f[1]]
				if !ok {
					t.Fatalf("packet %d: RC SEND First to %s before its REP", i+1, f[1])
				}
				if want, _ := strconv.ParseUint(start, 0, 32); psn != want {
					t.Errorf("packet %d: first PSN %d, the REP's %s", i+1, psn, start)
				}
			} else if f[0] != "17" && psn != next[f[1]] {
				t.Errorf("packet %d: PSN %d, want %d", i+1, psn, next[f[1]])
			}
			if f[0] != "17" {
				next[f[1]] = psn + 1
			}
		}
	}
	if reqs != 2 || len(reps) != 2 || len(next) != 2 {
		t.Errorf("%d REQs, %d REPs, %d connections with RC packets, want 2 each:\n%s", reqs, len(reps), len(next), strings.Join(got, "\n"))
	}
}

// TestCaptureFabricText prints the lines of a fabric capture: with
// several ports each names its port, with --roce the IPv6 addresses and
// UDP ports stand for the LIDs.
func TestCaptureFabricText(t *testing.T) {
	psn := regexp.MustCompile(`PSN \d+`)
	tests := []struct {
		name, args       string
		wantOut, wantErr string
	}{
		{"two ports", "--fabric -i node0/1 -i node1/1 -c 2",
			"T node0/1 Out LID 0x0001 > 0xc000, UD_SEND_ONLY, P_Key 0xffff, QP 0xffffff, PSN P, length 134\n" +
				"T node1/1  In LID 0x0001 > 0xc000, UD_SEND_ONLY, P_Key 0xffff, QP 0xffffff, PSN P, length 134\n",
			"listening on node0/1, link-type INFINIBAND (InfiniBand), snapshot length 262144 bytes\n" +
				"listening on node1/1, link-type INFINIBAND (InfiniBand), snapshot length 262144 bytes\n"},
		// 14 + 40 + 8 + BTH 12, DETH 8, ARP 60, ICRC 4
		{"roce", "--fabric --roce -i node0/1 -c 1",
			"T Out IP6 {GID0}.{SPORT} > ff12:401b:ffff::ffff:ffff.4791: RoCEv2 UD_SEND_ONLY, P_Key 0xffff, QP 0xffffff, PSN P, length 146\n",
			"listening on node0/1, link-type EN10MB (Ethernet), snapshot length 262144 bytes\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, vars := captureEnv(t, false)
			qpn, err := strconv.ParseUint(vars.Replace("{QPN0}"), 0, 32)
			if err != nil {
				t.Fatal(err)
			}
			sport := strconv.Itoa(int(roceSourcePort(0, uint32(qpn), 0xffffff)))
			r := e.startCapture("", tt.args)
			e.run("ping -c 1 10.0.0.2")
			r.wait(t)
			got := psn.ReplaceAllString(captureStampRE.ReplaceAllString(r.out.String(), "T "), "PSN P")
			if want := strings.ReplaceAll(vars.Replace(tt.wantOut), "{SPORT}", sport); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			if errs := r.errs.String(); !strings.HasPrefix(errs, tt.wantErr) || r.status != 0 {
				t.Errorf("stderr %q status %d, want %q... 0", errs, r.status, tt.wantErr)
			}
		})
	}
}
