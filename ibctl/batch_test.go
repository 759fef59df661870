package ibctl

import (
	"strings"
	"testing"

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
