package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// showsPerOp is how many processes one op of the show benchmarks runs,
// so that even -benchtime 1x gives a stable per-process figure (ms/show).
const showsPerOp = 25

// BenchmarkLinkShow runs `ibctl link show` processes against a running
// driver; BenchmarkIPLinkShow runs `ip -d link show` on this machine, so
// one run gives the ratio of their ms/show.
func BenchmarkLinkShow(b *testing.B) {
	e := newEnv(b)
	e.ok("link", "show") // start the driver outside the timing
	b.ResetTimer()
	for range b.N {
		for range showsPerOp {
			if r := e.run("", "link", "show"); r.code != 0 {
				b.Fatalf("%v", r)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*showsPerOp), "ms/show")
}

func BenchmarkIPLinkShow(b *testing.B) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		b.Skip("ip not installed")
	}
	for range b.N {
		for range showsPerOp {
			if out, err := exec.Command(ip, "-d", "link", "show").CombinedOutput(); err != nil {
				b.Fatalf("ip -d link show: %v\n%s", err, out)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*showsPerOp), "ms/show")
}

// BenchmarkEthtoolFeatures runs `ibctl ethtool -k ib0` processes against
// a running driver; BenchmarkRealEthtoolFeatures runs the real `ethtool -k`
// on a dummy device (ifb where the kernel has no dummy) in a network
// namespace of its own, so one run gives the ratio of their ms/show.
func BenchmarkEthtoolFeatures(b *testing.B) {
	e := newEnv(b)
	e.ok("ethtool", "-k", "ib0") // start the driver outside the timing
	b.ResetTimer()
	for range b.N {
		for range showsPerOp {
			if r := e.run("", "ethtool", "-k", "ib0"); r.code != 0 {
				b.Fatalf("%v", r)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*showsPerOp), "ms/show")
}

func BenchmarkRealEthtoolFeatures(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("ethtool on a dummy device needs root: it makes a network namespace")
	}
	ethtool, err := exec.LookPath("ethtool")
	if err != nil {
		b.Skip("ethtool not installed")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		b.Skip("ip not installed")
	}
	runs, ready := make(chan int), make(chan error, 1)
	done := make(chan error)
	defer close(runs)
	go func() {
		// Never unlocked: the thread ends with this goroutine, and the
		// namespace and its device with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("unshare: %w", err)
			return
		}
		// Processes started from this thread are in its namespace.
		dev, err := "", errors.New("no dummy or ifb device")
		for _, kind := range []string{"dummy", "ifb"} {
			out, aerr := exec.Command(ip, "link", "add", "bench0", "type", kind).CombinedOutput()
			if aerr == nil {
				dev, err = "bench0", nil
				break
			}
			err = fmt.Errorf("%w; ip link add type %s: %v: %s", err, kind, aerr, strings.TrimSpace(string(out)))
		}
		ready <- err
		if err != nil {
			return
		}
		for n := range runs {
			var err error
			for range n {
				if out, rerr := exec.Command(ethtool, "-k", dev).CombinedOutput(); rerr != nil {
					err = fmt.Errorf("ethtool -k %s: %v\n%s", dev, rerr, out)
					break
				}
			}
			done <- err
		}
	}()
	if err := <-ready; err != nil {
		b.Skipf("no device for ethtool: %v", err)
	}
	b.ResetTimer()
	runs <- b.N * showsPerOp
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N*showsPerOp), "ms/show")
}

// batchChildren is the number of children the batch benchmarks create.
const batchChildren = 4096

// writeBatches writes the batch files creating and deleting c0..c4095,
// with P_Keys from 0x0001 up, skipping 0x7fff.
func writeBatches(b *testing.B) (create, del string) {
	dir := b.TempDir()
	var cb, db strings.Builder
	pkey := 0
	for i := range batchChildren {
		pkey++
		if pkey == 0x7fff {
			pkey++
		}
		fmt.Fprintf(&cb, "link add link ib0 name c%d type ipoib pkey 0x%04x\n", i, pkey)
		fmt.Fprintf(&db, "link del c%d\n", i)
	}
	create, del = filepath.Join(dir, "create.batch"), filepath.Join(dir, "delete.batch")
	if err := os.WriteFile(create, []byte(cb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(del, []byte(db.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return create, del
}

// batch runs `ibctl -b file` and fails the benchmark unless it succeeds
// silently.
func (e *env) batch(file string) {
	e.t.Helper()
	if r := e.run("", "-b", file); r.code != 0 || r.stdout != "" || r.stderr != "" {
		e.t.Fatalf("%v", r)
	}
}

// BenchmarkBatchCreate4096 is one `ibctl -b FILE` adding 4096 children.
func BenchmarkBatchCreate4096(b *testing.B) {
	e := newEnv(b)
	create, del := writeBatches(b)
	e.ok("link", "show")
	b.ResetTimer()
	for range b.N {
		e.batch(create)
		b.StopTimer()
		e.batch(del)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
}

// BenchmarkBatchDelete4096 is one `ibctl -b FILE` deleting 4096 children.
func BenchmarkBatchDelete4096(b *testing.B) {
	e := newEnv(b)
	create, del := writeBatches(b)
	e.ok("link", "show")
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		e.batch(create)
		b.StartTimer()
		e.batch(del)
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/batch")
}

// BenchmarkDriverRSS4096 reports the driver's resident set size with 4096
// children, in MiB (and before them, MiB-idle). Each op creates them.
func BenchmarkDriverRSS4096(b *testing.B) {
	e := newEnv(b)
	create, del := writeBatches(b)
	e.ok("link", "show")
	pid := e.driverPID()
	idle := vmRSS(b, pid)
	b.ResetTimer()
	for i := range b.N {
		if i > 0 {
			b.StopTimer()
			e.batch(del)
			b.StartTimer()
		}
		e.batch(create)
	}
	b.StopTimer()
	if n := len(e.links()); n != batchChildren+2 {
		b.Fatalf("%d links, want %d", n, batchChildren+2)
	}
	if got := e.driverPID(); got != pid {
		b.Fatalf("driver pid %d, want %d", got, pid)
	}
	b.ReportMetric(float64(vmRSS(b, pid))/1024, "MiB")
	b.ReportMetric(float64(idle)/1024, "MiB-idle")
}

// allChildren is how many children ib0 can have: one per P_Key
// 0x0001-0x7fff written to create_child.
const allChildren = 0x7fff

// BenchmarkDriverRSS32767 reports the driver's resident set size after
// `link show` of 32767 children, in MiB (issue 12's row, as e2e/scale.sh
// rss32767 measures it). Each op creates every child ib0 can have with
// one batch of create_child writes and lists the links; the deletions
// between ops are not timed.
func BenchmarkDriverRSS32767(b *testing.B) {
	e := newEnv(b)
	var cb, db strings.Builder
	for pkey := 1; pkey <= allChildren; pkey++ {
		fmt.Fprintf(&cb, "sys write class/net/ib0/create_child 0x%04x\n", pkey)
		fmt.Fprintf(&db, "sys write class/net/ib0/delete_child 0x%04x\n", pkey|0x8000)
	}
	dir := b.TempDir()
	create, del := filepath.Join(dir, "create.batch"), filepath.Join(dir, "delete.batch")
	for f, s := range map[string]string{create: cb.String(), del: db.String()} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	e.ok("link", "show")
	pid := e.driverPID()
	b.ResetTimer()
	var shown int
	for i := range b.N {
		if i > 0 {
			b.StopTimer()
			e.batch(del)
			b.StartTimer()
		}
		e.batch(create)
		shown = strings.Count(e.ok("link", "show"), "link/infiniband")
	}
	b.StopTimer()
	if shown != allChildren+2 {
		b.Fatalf("link show listed %d links, want %d", shown, allChildren+2)
	}
	if got := e.driverPID(); got != pid {
		b.Fatalf("driver pid %d, want %d", got, pid)
	}
	b.ReportMetric(float64(vmRSS(b, pid))/1024, "MiB")
}

// vmRSS is VmRSS of /proc/pid/status in KiB.
func vmRSS(b *testing.B, pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				b.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb
		}
	}
	b.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
