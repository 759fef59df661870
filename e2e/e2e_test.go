package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/mdlayher/netlink"
)

// TestConcurrentChildren runs 8 batch processes that each add 100 children
// of their own and delete them (all, or every other one), next to two
// processes doing the same through sysfs create_child/delete_child. The
// links left are exactly the expected ones and the driver still answers.
func TestConcurrentChildren(t *testing.T) {
	t.Run("DeleteAll", func(t *testing.T) { testConcurrentChildren(t, false) })
	t.Run("KeepOdd", func(t *testing.T) { testConcurrentChildren(t, true) })
}

func testConcurrentChildren(t *testing.T, keepOdd bool) {
	const procs, children = 8, 100
	e := newEnv(t)
	e.ok("link", "show") // start the driver
	kept := func(i int) bool { return keepOdd && i%2 == 1 }
	want := []string{"ib0 0xffff", "ib1 0xffff"}
	var scripts []string
	for p := range procs {
		var b strings.Builder
		for i := range children {
			fmt.Fprintf(&b, "link add link ib0 name c%d_%d type ipoib pkey 0x%04x\n", p, i, 0x1000+p*0x100+i)
		}
		for i := range children {
			if kept(i) {
				// The full-member bit is forced on registration.
				want = append(want, fmt.Sprintf("c%d_%d@ib0 0x%04x", p, i, (0x1000+p*0x100+i)|0x8000))
				continue
			}
			fmt.Fprintf(&b, "link del c%d_%d\n", p, i)
		}
		scripts = append(scripts, b.String())
	}
	// The legacy path, one process per parent: children named
	// <parent>.<pkey as written>.
	for s, parent := range []string{"ib0", "ib1"} {
		var b strings.Builder
		for i := range children {
			fmt.Fprintf(&b, "sys write class/net/%s/create_child 0x%04x\n", parent, 0x9800+s*0x100+i)
		}
		for i := range children {
			pkey := 0x9800 + s*0x100 + i
			if kept(i) {
				want = append(want, fmt.Sprintf("%s.%04x@%s 0x%04x", parent, pkey, parent, pkey))
				continue
			}
			fmt.Fprintf(&b, "sys write class/net/%s/delete_child 0x%04x\n", parent, pkey)
		}
		scripts = append(scripts, b.String())
	}
	slices.Sort(want)

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	type running struct {
		wait      func() error
		out, errb *bytes.Buffer
	}
	var rs []running
	for _, s := range scripts {
		cmd, out, errb := e.command(ctx, s, "-b", "-")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, running{cmd.Wait, out, errb})
	}
	for i, r := range rs {
		res := finish([]string{"-b", "-"}, r.wait(), r.out, r.errb)
		if res.code != 0 || res.stdout != "" || res.stderr != "" {
			t.Errorf("batch process %d: %v", i, res)
		}
	}

	node0 := e.links()
	if diff := cmp.Diff(want, linkIDs(node0)); diff != "" {
		t.Errorf("links after the batches (-want +got):\n%s", diff)
	}
	node1 := e.links("-n", "node1")
	if diff := cmp.Diff([]string{"ib0 0xffff", "ib1 0xffff"}, linkIDs(node1)); diff != "" {
		t.Errorf("node1 links (-want +got):\n%s", diff)
	}
	st, err := e.status()
	if err != nil {
		t.Fatal(err)
	}
	if !st.Running || st.Links != len(node0)+len(node1) || st.Socket != e.sock || st.StateDir != e.state {
		t.Errorf("driver status = %+v, want running with %d links on %s, state dir %s",
			st, len(node0)+len(node1), e.sock, e.state)
	}
	// The batches' exit 0 acknowledged their changes: they survive a kill.
	e.kill(st.PID)
	if diff := cmp.Diff(want, linkIDs(e.links())); diff != "" {
		t.Errorf("links after SIGKILL and restart (-want +got):\n%s", diff)
	}
}

// killRestartChanges are 50 changes of every kind the store must keep.
func killRestartChanges() [][]string {
	var cs [][]string
	add := func(format string, args ...any) { cs = append(cs, strings.Fields(fmt.Sprintf(format, args...))) }
	for i := range 16 {
		parent := "ib0"
		if i%4 == 3 {
			parent = "ib1"
		}
		add("link add link %s name k%d type ipoib pkey 0x%04x", parent, i, 0x2000+i)
	}
	for i := 1; i <= 8; i++ {
		add("sys write class/net/ib0/create_child 0x%04x", 0xb000+i)
	}
	add("sys write class/net/ib1/create_child 0xb001")
	add("link set ib0 up")
	add("link set ib0 mtu 1500")
	add("link set k1 type ipoib mode connected")
	add("link set k2 type ipoib mode connected")
	add("ethtool -K ib0 gro off")
	add("ethtool -C ib0 rx-frames 16")
	add("sys write module/ib_ipoib/parameters/debug_level 2")
	add("sys write class/net/ib0.b001/mode connected")
	add("sys write class/net/ib0.b002/umcast 1")
	add("link set k4 up")
	add("link set k5 mtu 2000")
	add("link del k6")
	add("sys write class/net/ib0/delete_child 0xb003")
	add("ethtool -K k7 tso off")
	add("ethtool -C k8 rx-usecs 8")
	add("link set ib1 up")
	add("link set k9 type ipoib umcast 1")
	add("link add link ib0 name k16 mtu 1400 up type ipoib pkey 0x2100 mode connected")
	add("link set ib0.b004 down")
	add("sys write module/ib_ipoib/parameters/mcast_debug_level 1")
	add("ethtool -K ib1 gro off")
	add("-n node1 link add link ib0 name n1c type ipoib pkey 0x2222")
	add("-n node1 link set ib0 up")
	add("link set k10 type ipoib mode connected")
	add("link set k10 mtu 9000")
	return cs
}

// snapshot captures what a restart must preserve: links of both nodes
// (text and JSON), features and coalescing of every device, module
// parameters and the legacy children's sysfs files.
func (e *env) snapshot() map[string]string {
	e.t.Helper()
	s := map[string]string{}
	get := func(args ...string) { s[strings.Join(args, " ")] = e.ok(args...) }
	get("-j", "link", "show") // first: after a kill, this spawns the driver
	get("link", "show")
	get("-n", "node1", "-j", "link", "show")
	for _, node := range []string{"node0", "node1"} {
		for _, l := range e.links("-n", node) {
			get("-n", node, "-j", "ethtool", "-k", l.Name)
			get("-n", node, "-j", "ethtool", "-c", l.Name)
			if strings.Contains(l.Name, ".") {
				get("-n", node, "sys", "read", "class/net/"+l.Name+"/mode")
				get("-n", node, "sys", "read", "class/net/"+l.Name+"/umcast")
			}
		}
	}
	get("ethtool", "-k", "ib0")
	get("ethtool", "-c", "ib0")
	for _, p := range []string{"debug_level", "mcast_debug_level"} {
		get("sys", "read", "module/ib_ipoib/parameters/"+p)
	}
	return s
}

// TestKillRestart makes 50 acknowledged changes, SIGKILLs the driver and
// checks that the driver the next command spawns shows exactly the same.
func TestKillRestart(t *testing.T) {
	e := newEnv(t)
	changes := killRestartChanges()
	if len(changes) != 50 {
		t.Fatalf("%d changes, want 50", len(changes))
	}
	for _, c := range changes {
		e.ok(c...)
	}
	// The changes took effect: the links are exactly those expected.
	want := []string{"ib0 0xffff", "ib1 0xffff", "k16@ib0 0xa100", "ib1.b001@ib1 0xb001"}
	for i := range 16 {
		parent := map[bool]string{false: "ib0", true: "ib1"}[i%4 == 3]
		if i != 6 {
			want = append(want, fmt.Sprintf("k%d@%s 0x%04x", i, parent, 0xa000+i))
		}
	}
	for i := 1; i <= 8; i++ {
		if i != 3 {
			want = append(want, fmt.Sprintf("ib0.b00%d@ib0 0xb00%d", i, i))
		}
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, linkIDs(e.links())); diff != "" {
		t.Fatalf("links after the changes (-want +got):\n%s", diff)
	}
	before := e.snapshot()
	if got := before["sys read module/ib_ipoib/parameters/debug_level"]; got != "2\n" {
		t.Fatalf("debug_level = %q before the kill, want \"2\\n\"", got)
	}
	pid := e.driverPID()
	e.kill(pid)
	after := e.snapshot()
	if npid := e.driverPID(); npid == pid {
		t.Fatalf("driver pid %d unchanged after SIGKILL", pid)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("state after SIGKILL and restart (-before +after):\n%s", diff)
	}
}

// TestKillDuringWrites adds 300 children, one process each, and SIGKILLs
// the driver at a random moment. Every acknowledged add survives; the add
// in flight may or may not; the next command restarts the driver.
func TestKillDuringWrites(t *testing.T) {
	const n = 300
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	killAfter := 1 + rng.IntN(n-2) // acknowledged adds before the kill
	jitter := time.Duration(rng.IntN(3000)) * time.Microsecond
	t.Logf("E2E_SEED=%d: kill after %d acks + %v", seed, killAfter, jitter)

	e := newEnv(t)
	e.ok("link", "show")
	pid := e.driverPID()

	var acks atomic.Int32
	var killed atomic.Bool
	dead := make(chan struct{})
	type outcome struct {
		acked      []string
		inflight   string
		inflightR  result
		unexpected []result
	}
	done := make(chan outcome, 1)
	var abort atomic.Bool
	finished := make(chan struct{})
	// Should the test fail early, stop the writer before the env's
	// cleanup, so it spawns no driver behind it.
	t.Cleanup(func() {
		abort.Store(true)
		<-finished
	})
	go func() {
		defer close(finished)
		var o outcome
		for i := range n {
			if abort.Load() {
				return
			}
			name := fmt.Sprintf("w%d", i)
			r := e.run("", "link", "add", "link", "ib0", "name", name, "type", "ipoib", "pkey", fmt.Sprintf("0x%04x", 0x3000+i))
			switch {
			case r.code == 0 && r.stderr == "":
				o.acked = append(o.acked, name)
				acks.Add(1)
			case killed.Load() && o.inflight == "":
				// The command the kill interrupted: go on once the
				// old driver is gone.
				o.inflight, o.inflightR = name, r
				select {
				case <-dead:
				case <-time.After(cmdTimeout):
				}
			default:
				o.unexpected = append(o.unexpected, r)
			}
		}
		done <- o
	}()
	if !waitFor(cmdTimeout, func() bool { return int(acks.Load()) >= killAfter }) {
		t.Fatalf("only %d adds acknowledged after %v", acks.Load(), cmdTimeout)
	}
	time.Sleep(jitter) // land inside a command, not between two
	killed.Store(true)
	func() {
		defer close(dead)
		e.kill(pid)
	}()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("writer did not finish")
	}
	for _, r := range o.unexpected {
		t.Errorf("unexpected failure: %v", r)
	}
	if len(o.acked) < n-1 {
		t.Errorf("%d adds acknowledged, want at least %d", len(o.acked), n-1)
	}

	npid := e.driverPID()
	if npid == pid {
		t.Fatalf("driver pid %d unchanged after SIGKILL", pid)
	}
	all := e.links()
	var got []string
	for _, l := range all {
		if strings.HasPrefix(l.Name, "w") {
			got = append(got, l.Name)
		}
	}
	want := slices.Clone(o.acked)
	if o.inflight != "" && slices.Contains(got, o.inflight) {
		want = append(want, o.inflight)
	}
	t.Logf("%d acknowledged; in flight at the kill: %q (kept: %v) %s", len(o.acked), o.inflight, slices.Contains(got, o.inflight), o.inflightR.stderr)
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("children after restart (-acknowledged[+in flight] +got):\n%s", diff)
	}

	// What the restarted driver acknowledged survives a second kill.
	e.kill(npid)
	if diff := cmp.Diff(linkIDs(all), linkIDs(e.links())); diff != "" {
		t.Errorf("links after a second SIGKILL (-before +after):\n%s", diff)
	}
}

// TestKillDuringBatch SIGKILLs the driver while one batch adds children.
// Batch lines are acknowledged before they are synced, but each is written
// to the journal first: what survives is exactly a prefix of the batch, at
// least every line the driver had applied before the kill, and the batch
// fails unless it had already finished.
func TestKillDuringBatch(t *testing.T) {
	const n = 2000
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, 1))
	killAt := 1 + rng.IntN(n/2) // children applied before the kill
	t.Logf("E2E_SEED=%d: kill after %d children", seed, killAt)

	e := newEnv(t)
	e.ok("link", "show")
	pid := e.driverPID()
	base := e.status0().Links
	var script strings.Builder
	for i := range n {
		fmt.Fprintf(&script, "link add link ib0 name b%d type ipoib pkey 0x%04x\n", i, 0x4000+i)
	}
	c, err := netlinkx.Dial(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd, out, errb := e.command(ctx, script.String(), "-b", "-")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	seen := 0
	var werr error
	finished := false
	for deadline := time.Now().Add(cmdTimeout); seen < killAt; {
		st, err := c.Status()
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		seen = int(st.Links) - int(base)
		select {
		case werr = <-exited:
			finished = true
		default:
		}
		if finished || time.Now().After(deadline) {
			break
		}
	}
	c.Close()
	e.kill(pid)
	if !finished {
		werr = <-exited
	}
	r := finish([]string{"-b", "-"}, werr, out, errb)

	var got []string
	for _, l := range e.links() {
		if strings.HasPrefix(l.Name, "b") {
			got = append(got, l.Name)
		}
	}
	m := len(got)
	want := make([]string, m)
	for i := range m {
		want[i] = fmt.Sprintf("b%d", i)
	}
	slices.Sort(got)
	slices.Sort(want)
	t.Logf("%d children seen before the kill, %d after the restart; batch: exit %d, %s", seen, m, r.code, r.stderr)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("children after restart are not a prefix of the batch (-prefix +got):\n%s", diff)
	}
	switch {
	case r.code == 0 && m != n:
		t.Errorf("batch exited 0 but only %d of %d children survived", m, n)
	case r.code != 0 && r.code != 1:
		t.Errorf("batch: %v", r)
	case m < seen:
		t.Errorf("%d children survived, fewer than the %d applied before the kill", m, seen)
	}
}

// TestSpawnRace starts 8 commands at once with no driver running: all
// succeed and exactly one driver remains, the one holding the state lock.
func TestSpawnRace(t *testing.T) {
	const n = 8
	e := newEnv(t)
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			results[i] = e.run("", "link", "show")
		})
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		if r.code != 0 || r.stderr != "" || r.stdout == "" || r.stdout != results[0].stdout {
			t.Errorf("process %d: %v", i, r)
		}
	}
	pid := e.driverPID()
	// Drivers that lost the race for the state lock exit by themselves.
	if !waitFor(10*time.Second, func() bool { return len(e.drivers()) <= 1 }) {
		t.Fatalf("driver processes 10s after the race: %v", e.drivers())
	}
	if got := pidsOf(e.drivers()); !slices.Equal(got, []int{pid}) {
		t.Errorf("driver processes = %v, want [%d] (the one driver status names)", got, pid)
	}
	if log, err := os.ReadFile(filepath.Join(e.state, "driver.log")); err == nil && len(log) > 0 {
		t.Logf("driver.log:\n%s", log)
	}
	lock, err := os.ReadFile(filepath.Join(e.state, "lock"))
	if err != nil || string(lock) != fmt.Sprintf("%d\n", pid) {
		t.Errorf("state lock = %q, %v; want %q", lock, err, fmt.Sprintf("%d\n", pid))
	}
}

// TestNoSpawn: with no driver, --no-spawn fails with one line and starts
// nothing.
func TestNoSpawn(t *testing.T) {
	e := newEnv(t)
	r := e.run("", "--no-spawn", "link", "show")
	prefix := "ibctl: driver: not running at " + e.sock
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, prefix) ||
		strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("got %v\nwant exit 1 and one line on stderr starting %q", r, prefix)
	}
	if d := e.drivers(); len(d) != 0 {
		t.Errorf("driver started despite --no-spawn: %v", d)
	}
	for _, p := range []string{e.sock, e.state} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists after --no-spawn (%v)", p, err)
		}
	}
}

// TestSocketAndStatePerms: the socket is 0600 and the state directory
// 0700, whatever the umask and even when the directory existed with wider
// permissions.
func TestSocketAndStatePerms(t *testing.T) {
	for _, tc := range []struct {
		name     string
		umask    int
		preexist os.FileMode // 0: the driver creates the state dir
	}{
		{"Fresh", 0o022, 0},
		{"Umask0", 0, 0},
		{"Existing0755", 0o022, 0o755},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.preexist != 0 {
				if err := os.Mkdir(e.state, tc.preexist); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(e.state, tc.preexist); err != nil {
					t.Fatal(err)
				}
			}
			old := syscall.Umask(tc.umask) // inherited by the CLI and the driver it spawns
			r := e.run("", "link", "show")
			syscall.Umask(old)
			if r.code != 0 {
				t.Fatalf("%v", r)
			}
			for _, c := range []struct {
				path string
				typ  os.FileMode
				perm os.FileMode
			}{
				{e.sock, os.ModeSocket, 0o600},
				{e.state, os.ModeDir, 0o700},
				{filepath.Join(e.state, "store"), os.ModeDir, 0o700},
				{filepath.Join(e.state, "lock"), 0, 0o600},
				{filepath.Join(e.state, "driver.log"), 0, 0o600},
			} {
				fi, err := os.Lstat(c.path)
				if err != nil {
					t.Errorf("%v", err)
					continue
				}
				if fi.Mode().Type() != c.typ || fi.Mode().Perm() != c.perm {
					t.Errorf("%s: mode %v, want %v", c.path, fi.Mode(), c.typ|c.perm)
				}
			}
		})
	}
}

// nlmsghdr encodes a netlink header.
func nlmsghdr(length uint32, typ, flags uint16, seq, pid uint32) []byte {
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:], length)
	binary.LittleEndian.PutUint16(b[4:], typ)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], seq)
	binary.LittleEndian.PutUint32(b[12:], pid)
	return b
}

// garbageFrame is a datagram the driver must answer with one NLMSG_ERROR.
type garbageFrame struct {
	name string
	data []byte
	// What the error reply echoes and says.
	typ   uint16
	seq   uint32
	errno int32
	msg   string
}

func garbageFrames() []garbageFrame {
	const (
		rtmGetlink = 18
		request    = 0x1
		dump       = 0x300
	)
	var fs []garbageFrame
	// Random datagrams whose length field never fits the datagram.
	rng := rand.New(rand.NewChaCha8([32]byte{'i', 'b', 'c', 't', 'l'}))
	for i := range 16 {
		n := 1 + rng.IntN(200)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		f := garbageFrame{name: fmt.Sprintf("random%d/%dB", i, n), data: b, errno: -22,
			msg: "malformed message: truncated netlink header"}
		if n >= 16 {
			l := binary.LittleEndian.Uint32(b)
			if l >= 16 && (uint64(l)+3)&^3 <= uint64(n) {
				l = uint32(n) + 1
				binary.LittleEndian.PutUint32(b, l)
			}
			f.typ = binary.LittleEndian.Uint16(b[4:])
			f.seq = binary.LittleEndian.Uint32(b[8:])
			f.msg = fmt.Sprintf("malformed message: bad message length %d", l)
		}
		fs = append(fs, f)
	}
	fs = append(fs,
		garbageFrame{name: "truncated header", data: nlmsghdr(16, rtmGetlink, request|dump, 70, 0)[:10],
			errno: -22, msg: "malformed message: truncated netlink header"},
		garbageFrame{name: "huge length", data: append(nlmsghdr(0xfffffff0, rtmGetlink, request|dump, 71, 0), make([]byte, 16)...),
			typ: rtmGetlink, seq: 71, errno: -22, msg: "malformed message: bad message length 4294967280"},
		garbageFrame{name: "length below header", data: append(nlmsghdr(8, rtmGetlink, request, 72, 0), 0, 0, 0, 0),
			typ: rtmGetlink, seq: 72, errno: -22, msg: "malformed message: bad message length 8"},
		garbageFrame{name: "truncated ifinfomsg", data: append(nlmsghdr(20, rtmGetlink, request, 73, 0), 0, 0, 0, 0),
			typ: rtmGetlink, seq: 73, errno: -22, msg: "malformed message: ifinfomsg truncated"},
		// Last: its reply must be the next datagram, so no earlier frame
		// got a second reply.
		garbageFrame{name: "not a request", data: append(nlmsghdr(32, rtmGetlink, 0, 74, 0), make([]byte, 16)...),
			typ: rtmGetlink, seq: 74, errno: -22, msg: "not a request"},
	)
	return fs
}

// checkErrorReply checks that b is one NLMSG_ERROR answering f.
func checkErrorReply(b []byte, f garbageFrame) error {
	le := binary.LittleEndian
	if len(b) < 36 {
		return fmt.Errorf("reply of %d bytes: %x", len(b), b)
	}
	if l, typ, seq := le.Uint32(b[0:]), le.Uint16(b[4:]), le.Uint32(b[8:]); l != uint32(len(b)) || typ != 2 || seq != f.seq {
		return fmt.Errorf("reply header len %d type %d seq %d, want len %d type 2 (NLMSG_ERROR) seq %d", l, typ, seq, len(b), f.seq)
	}
	if errno := int32(le.Uint32(b[16:])); errno != f.errno {
		return fmt.Errorf("errno %d, want %d", errno, f.errno)
	}
	if l, typ, seq := le.Uint32(b[20:]), le.Uint16(b[24:]), le.Uint32(b[28:]); l != 16 || typ != f.typ || seq != f.seq {
		return fmt.Errorf("echoed header len %d type %d seq %d, want len 16 type %d seq %d", l, typ, seq, f.typ, f.seq)
	}
	ad, err := netlink.NewAttributeDecoder(b[36:])
	if err != nil {
		return fmt.Errorf("ext ack: %v", err)
	}
	var msg string
	for ad.Next() {
		if ad.Type() == 1 { // NLMSGERR_ATTR_MSG
			msg = ad.String()
		}
	}
	if err := ad.Err(); err != nil || msg != f.msg {
		return fmt.Errorf("ext ack %q (%v), want %q", msg, err, f.msg)
	}
	return nil
}

// TestGarbageOnSocket writes malformed datagrams to the socket: each gets
// one NLMSG_ERROR with EINVAL, the connection stays usable and other
// clients are served during and after.
func TestGarbageOnSocket(t *testing.T) {
	e := newEnv(t)
	baseline := e.ok("link", "show")
	pid := e.driverPID()
	c, err := net.Dial("unixpacket", e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	conn := c.(*net.UnixConn)
	buf := make([]byte, 1<<16)
	for i, f := range garbageFrames() {
		if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(f.data); err != nil {
			t.Fatalf("%s: write: %v", f.name, err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%s: read: %v", f.name, err)
		}
		if err := checkErrorReply(buf[:n], f); err != nil {
			t.Errorf("%s: %v", f.name, err)
		}
		if i%8 == 0 {
			if got := e.ok("link", "show"); got != baseline {
				t.Errorf("link show during garbage:\n%s\nwant:\n%s", got, baseline)
			}
		}
	}
	// The connection still serves well-formed requests.
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	st, err := netlinkx.NewClient(conn).Status()
	if err != nil || st.PID != uint32(pid) {
		t.Errorf("status on the garbage connection: %+v, %v; want pid %d", st, err, pid)
	}
	conn.Close()
	if got := e.ok("link", "show"); got != baseline {
		t.Errorf("link show after garbage:\n%s\nwant:\n%s", got, baseline)
	}
	if got := e.driverPID(); got != pid {
		t.Errorf("driver pid %d after garbage, want %d (no restart)", got, pid)
	}
}

// TestStopWithOpenConnection: once `driver stop` has succeeded, the driver
// is gone and the next command starts a new one, even while another client
// (say an interactive `ibctl -b -`) still holds a connection: the stopping
// driver closes every connection instead of serving it on.
func TestStopWithOpenConnection(t *testing.T) {
	e := newEnv(t)
	e.ok("link", "show")
	pid := e.driverPID()
	c, err := netlinkx.Dial(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Status(); err != nil {
		t.Fatal(err)
	}
	e.ok("driver", "stop")
	if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
		t.Errorf("driver %d still running 5s after driver stop succeeded", pid)
	}
	if _, err := c.SysWrite("class/net/ib0/create_child", []byte("0x7001\n")); err == nil {
		t.Errorf("the stopped driver acknowledged create_child 0x7001")
	}
	if r := e.run("", "link", "show"); r.code != 0 {
		t.Errorf("first command after driver stop: %v", r)
	}
}

// TestKilledPerfClient kills `ibctl perf` in the middle of an hour-long
// stream: the driver stops sending at once, and `driver stop` returns.
func TestKilledPerfClient(t *testing.T) {
	e := newEnv(t)
	e.ok("link", "set", "ib0", "up")
	e.ok("-n", "node1", "link", "set", "ib0", "up")
	e.ok("addr", "add", "10.0.0.1/24", "dev", "ib0")
	e.ok("-n", "node1", "addr", "add", "10.0.0.2/24", "dev", "ib0")
	rxPackets := func() string {
		for _, l := range strings.Split(e.ok("-n", "node1", "ethtool", "-S", "ib0"), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "rx_packets: "); ok {
				return v
			}
		}
		t.Fatal("ethtool -S: no rx_packets")
		return ""
	}
	before := rxPackets()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	perf, _, _ := e.command(ctx, "", "perf", "-t", "3600", "10.0.0.2")
	if err := perf.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool { return rxPackets() != before }) {
		t.Fatal("the stream did not start")
	}
	if err := perf.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = perf.Wait()
	// Two readings in a row that agree: nothing was sent in between.
	prev := rxPackets()
	if !waitFor(10*time.Second, func() bool { cur := rxPackets(); same := cur == prev; prev = cur; return same }) {
		t.Fatalf("the driver still sends 10s after its client was killed")
	}
	pid := e.driverPID()
	if r := e.run("", "driver", "stop"); r.code != 0 {
		t.Fatalf("%v", r)
	}
	if !waitFor(5*time.Second, func() bool { return !alive(pid) }) {
		t.Errorf("driver %d still running 5s after driver stop succeeded", pid)
	}
}
