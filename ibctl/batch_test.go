package ibctl

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/daemon"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestBatchLinesIndependent: a batch runs every line with one command
// tree, and nothing a line gives (a global or a command's flag, --help,
// having run) reaches the next: two lines in one batch print, fail and
// exit as the two command lines run one after the other do.
func TestBatchLinesIndependent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines [2]string
	}{
		{"global -j", [2]string{"-j link show ib0", "link show ib0"}},
		{"global -p", [2]string{"-j -p link show ib0", "-j link show ib0"}},
		{"global -n", [2]string{"-n node1 link show", "link show"}},
		{"counted -s", [2]string{"link show -s -s ib0", "link show -s ib0"}},
		{"-s then none", [2]string{"link show -s ib0", "link show ib0"}},
		{"ethtool letter", [2]string{"ethtool -i ib0", "ethtool -k ib0"}},
		{"ethtool -C then -c", [2]string{"ethtool -C ib0 rx-usecs 10", "ethtool -c ib0"}},
		{"ping -c", [2]string{"ping -c abc 10.0.0.9", "ping -W 0 10.0.0.9"}},
		{"ping --node", [2]string{"ping --node nosuch -s 70000 10.0.0.9", "ping -W 0 10.0.0.9"}},
		{"--help", [2]string{"link show --help", "link show ib0"}},
		{"ran, then a usage error", [2]string{"link", "link nosuch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alone := newEnv(t)
			var wantOut, wantErr strings.Builder
			want := 0
			for i, l := range tc.lines {
				out, errs, st := alone.run(l)
				wantOut.WriteString(out)
				if msg, ok := strings.CutPrefix(errs, "ibctl: "); ok {
					errs = "ibctl: -:" + string(rune('1'+i)) + ": " + msg
				}
				wantErr.WriteString(errs)
				want = max(want, st)
			}
			if want != 0 {
				want = max(want, ExitFailure)
			}
			out, errs, st := newEnv(t).run("-b - --force", tc.lines[0]+"\n"+tc.lines[1]+"\n")
			if out != wantOut.String() || errs != wantErr.String() || st != want {
				t.Errorf("batch: status %d, stdout\n%s\nstderr %q\nwant status %d, stdout\n%s\nstderr %q",
					st, out, errs, want, wantOut.String(), wantErr.String())
			}
		})
	}
}

// TestResetTree: every flag of the tree, whatever its type, is back at
// its default and unchanged after resetTree, and no command is marked as
// having run. A flag of a new type must be added here.
func TestResetTree(t *testing.T) {
	values := map[string]string{"bool": "true", "int": "3", "count": "3", "string": "x", "float64": "2.5", "stringArray": "a=1", "FAMILY": "inet6"}
	root := NewRootCmd(&Factory{IO: &IOStreams{}, Globals: &Globals{}})
	var walk func(c *cobra.Command, fn func(*pflag.Flag))
	walk = func(c *cobra.Command, fn func(*pflag.Flag)) {
		c.Flags().VisitAll(fn)
		c.PersistentFlags().VisitAll(fn)
		for _, sub := range c.Commands() {
			walk(sub, fn)
		}
	}
	n := 0
	walk(root, func(fl *pflag.Flag) {
		v, ok := values[fl.Value.Type()]
		if !ok {
			t.Fatalf("flag --%s: no test value for type %q", fl.Name, fl.Value.Type())
		}
		if err := fl.Value.Set(v); err != nil {
			t.Fatalf("flag --%s: set %q: %v", fl.Name, v, err)
		}
		fl.Changed = true
		n++
	})
	root.Annotations = map[string]string{"ran": "yes"}
	resetTree(root)
	walk(root, func(fl *pflag.Flag) {
		if got := fl.Value.String(); got != fl.DefValue || fl.Changed {
			t.Errorf("flag --%s after reset: %q (changed %v), want %q", fl.Name, got, fl.Changed, fl.DefValue)
		}
	})
	if _, ok := root.Annotations["ran"]; ok {
		t.Error("root still marked as having run")
	}
	if n < 30 {
		t.Fatalf("only %d flags visited", n)
	}
}

// BenchmarkBatchLine is one line of a -b batch against an in-process
// driver: create_child and delete_child of one P_Key in turn.
func BenchmarkBatchLine(b *testing.B) {
	e := newEnv(b)
	var script strings.Builder
	for i := range b.N {
		if i%2 == 0 {
			script.WriteString("sys write class/net/ib0/create_child 0x8001\n")
		} else {
			script.WriteString("sys write class/net/ib0/delete_child 0x8001\n")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if out, errs, st := e.run("-b -", script.String()); st != 0 {
		b.Fatalf("batch: %d %q %q", st, out, errs)
	}
}

// TestBatchStopsAtFirstFailure: lines that run ahead (sys write, link add,
// link delete) stop the batch at the first failing line as lines run one
// by one do: no later line runs, prints or fails, whatever its kind; with
// --force every line runs and each failure is reported in line order.
// Output, errors, status and the links after the batch are those of the
// lines run alone, one after the other, up to the first failure (all of
// them with --force).
func TestBatchStopsAtFirstFailure(t *testing.T) {
	const (
		c1     = "sys write class/net/ib0/create_child 0x8001"
		c2     = "sys write class/net/ib0/create_child 0x8002"
		exists = "ibctl: -:2: write error: Name not unique on network\n"
	)
	for _, tc := range []struct {
		name    string
		force   bool
		lines   []string
		wantErr string // stderr, exactly
		status  int
	}{
		{"sys write", false, []string{c1, c1, c2}, exists, 1},
		{"sys write --force", true, []string{c1, c1, c2}, exists, 1},
		{"delete_child", false, []string{c1, "sys write class/net/ib0/delete_child 0x8005", c2},
			"ibctl: -:2: write error: No such device\n", 1},
		{"then a show", false, []string{c1, c1, "link show"}, exists, 1},
		{"then a show --force", true, []string{c1, c1, "link show"}, exists, 1},
		{"then --help", false, []string{c1, c1, "link show --help"}, exists, 1},
		{"then a usage error", false, []string{c1, c1, "link add link ib0 type ipoib pkey zz"}, exists, 1},
		{"then a usage error --force", true, []string{c1, c1, "link add link ib0 type ipoib pkey zz"},
			exists + "ibctl: -:3: link add: argument \"zz\" is wrong: pkey is invalid\n", 2},
		{"then another node", false, []string{c1, c1, "-n node1 sys write class/net/ib1/create_child 0x8001"}, exists, 1},
		{"then another node --force", true, []string{c1, c1, "-n node1 sys write class/net/ib1/create_child 0x8001", c2}, exists, 1},
		{"then a failing show", true, []string{c1, c1, "link show nosuch", c2},
			exists + "ibctl: -:3: Device \"nosuch\" does not exist.\n", 1},
		{"link add", false, []string{"link add link ib0 name a type ipoib pkey 0x8001", "link add link ib0 name a type ipoib pkey 0x8002",
			"link add link ib0 name b type ipoib pkey 0x8003"}, "ibctl: -:2: link add: File exists\n", 1},
		{"link add of a missing parent", false, []string{c1, "link add link ib9 name a type ipoib pkey 0x8002", c2},
			"ibctl: -:2: Cannot find device \"ib9\"\n", 1},
		{"link delete", false, []string{c1, "link delete ib0.8001", "link delete ib0.8001", c2},
			"ibctl: -:3: Cannot find device \"ib0.8001\"\n", 1},
		{"link delete --force", true, []string{c1, "link delete nosuch", "link delete ib0.8001", c2, "link delete ib0.8001"},
			"ibctl: -:2: Cannot find device \"nosuch\"\nibctl: -:5: Cannot find device \"ib0.8001\"\n", 1},
		{"a line fails in the driver, the next in the client", false, []string{c1, c1, "sys write"}, exists, 1},
		{"every line succeeds", false, []string{c1, c2, "link add link ib0 name a type ipoib pkey 0x8003", "link delete ib0.8001", "link show"}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alone := newEnv(t)
			var wantOut, wantErr, wantBoth strings.Builder
			want := 0
			for i, l := range tc.lines {
				out, errs, st := alone.run(l)
				wantOut.WriteString(out)
				if msg, ok := strings.CutPrefix(errs, "ibctl: "); ok {
					errs = fmt.Sprintf("ibctl: -:%d: %s", i+1, msg)
				}
				wantErr.WriteString(errs)
				wantBoth.WriteString(out + errs)
				want = max(want, st)
				if st != 0 && !tc.force {
					break
				}
			}
			if want != 0 {
				want = max(want, ExitFailure)
			}
			if wantErr.String() != tc.wantErr || want != tc.status {
				t.Fatalf("the lines run alone: status %d, stderr %q; the table says %d, %q", want, wantErr.String(), tc.status, tc.wantErr)
			}
			e := newEnv(t)
			args := "-b -"
			if tc.force {
				args += " --force"
			}
			out, errs, st := e.run(args, strings.Join(tc.lines, "\n")+"\n")
			if out != wantOut.String() || errs != tc.wantErr || st != tc.status {
				t.Errorf("batch: status %d, stdout\n%s\nstderr %q\nwant status %d, stdout\n%s\nstderr %q",
					st, out, errs, tc.status, wantOut.String(), tc.wantErr)
			}
			// Each line's output and error in line order, on one stream.
			var both bytes.Buffer
			Run(newEnv(t).factory(&IOStreams{In: strings.NewReader(strings.Join(tc.lines, "\n") + "\n"), Out: &both, ErrOut: &both}),
				strings.Fields(args))
			if both.String() != wantBoth.String() {
				t.Errorf("batch, stdout and stderr on one stream:\n%s\nwant:\n%s", both.String(), wantBoth.String())
			}
			for _, node := range []string{"node0", "node1"} {
				got, _, _ := e.run("-n " + node + " link show")
				want, _, _ := alone.run("-n " + node + " link show")
				if got != want {
					t.Errorf("%s's links after the batch:\n%s\nwant, as after the lines run alone:\n%s", node, got, want)
				}
			}
		})
	}
}

// holdBackend holds the first sysfs write in the driver until release is
// closed, or for 10 s; ahead says whether release came first.
type holdBackend struct {
	netlinkx.Backend
	release chan struct{}
	once    sync.Once
	ahead   atomic.Bool
}

func (b *holdBackend) Node(name string) (netlinkx.Node, error) {
	n, err := b.Backend.Node(name)
	if err != nil {
		return nil, err
	}
	return &holdNode{Node: n, b: b}, nil
}

type holdNode struct {
	netlinkx.Node
	b *holdBackend
}

func (n *holdNode) Deferred() netlinkx.Node {
	if d, ok := n.Node.(netlinkx.Deferrer); ok {
		return &holdNode{Node: d.Deferred(), b: n.b}
	}
	return n
}

func (n *holdNode) SysWrite(path string, data []byte) (int, error) {
	n.b.once.Do(func() {
		select {
		case <-n.b.release:
			n.b.ahead.Store(true)
		case <-time.After(10 * time.Second):
		}
	})
	return n.Node.SysWrite(path, data)
}

// TestBatchRunsAhead: a batch line that runs ahead does not wait for its
// reply: the next line connects (and sends its own request) while the
// driver still holds the first line's write.
func TestBatchRunsAhead(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprintf("force=%v", force), func(t *testing.T) {
			d, err := driver.New(driver.Options{KernelRelease: "6.18.0-test"})
			if err != nil {
				t.Fatal(err)
			}
			b := &holdBackend{Backend: daemon.Backend(d), release: make(chan struct{})}
			c, err := netlinkx.Pipe(b)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			var out, errs bytes.Buffer
			script := "sys write class/net/ib0/create_child 0x8001\nsys write class/net/ib0/create_child 0x8002\nsys write class/net/ib0/create_child 0x8003\n"
			f := &Factory{IO: &IOStreams{In: strings.NewReader(script), Out: &out, ErrOut: &errs}, Globals: &Globals{},
				Executable: func() (string, error) { return "", os.ErrNotExist }}
			connects := 0
			f.Connect = func(g *Globals) (*netlinkx.Client, error) {
				if connects++; connects == 2 {
					close(b.release)
				}
				return c, nil
			}
			args := []string{"-b", "-"}
			if force {
				args = append(args, "--force")
			}
			if st := Run(f, args); st != 0 || out.String() != "" || errs.String() != "" {
				t.Fatalf("batch: status %d, stdout %q, stderr %q", st, out.String(), errs.String())
			}
			if !b.ahead.Load() {
				t.Error("line 2 started only after line 1's reply")
			}
			e := &env{t: t, client: c, drv: d}
			got, _, _ := e.run("-br link show")
			if n := strings.Count(got, "ib0.800"); n != 3 {
				t.Errorf("%d children after the batch, want 3:\n%s", n, got)
			}
		})
	}
}
