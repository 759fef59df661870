package ibctl

import (
	"io"
	"slices"
	"strings"
	"testing"
)

// TestSubcommandsAreTheTree checks the table of branches against the
// commands they build: each builds the command of its name, in the
// order of the table.
func TestSubcommandsAreTheTree(t *testing.T) {
	root := NewRootCmd(&Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}, Globals: &Globals{}})
	var got []string
	for _, c := range root.Commands() {
		got = append(got, c.Name())
	}
	var want []string
	for _, s := range subcommands {
		want = append(want, s.name)
	}
	slices.Sort(want) // cobra lists them sorted
	if !slices.Equal(got, want) {
		t.Errorf("tree %v, table %v", got, want)
	}
}

// TestAddCommandsBuildsTheNamedBranch checks which branches a command
// line gets: the one it names, none when the root runs itself, all when
// cobra must choose.
func TestAddCommandsBuildsTheNamedBranch(t *testing.T) {
	all := make([]string, 0, len(subcommands))
	for _, s := range subcommands {
		all = append(all, s.name)
	}
	slices.Sort(all)
	tests := []struct {
		args string
		want []string
	}{
		{"link show", []string{"link"}},
		{"-d link show", []string{"link"}},
		{"-j -p link", []string{"link"}},
		{"-jp link", []string{"link"}},
		{"--node=node1 ethtool -k ib0", []string{"ethtool"}},
		{"--node node1 ethtool -k ib0", []string{"ethtool"}},
		{"--socket /tmp/s --no-spawn addr", []string{"addr"}},
		{"-s -s link", []string{"link"}},
		{"-V", nil},
		{"--version", nil},
		{"", nil},
		{"-b /tmp/f", nil},
		{"-force -b /tmp/f", nil},
		{"-j", nil},
		{"l show", all},          // an abbreviation: cobra resolves it
		{"a", all},               // an alias
		{"lnk", all},             // unknown: cobra suggests
		{"help link", all},       // help lists the tree
		{"--help", all},          // cobra's own flag
		{"completion bash", all}, // scripts for the whole tree
		{"--bogus link", all},    // as given: ipGlobals refuses it first
		{"-x link", all},
		{"-- link", all},
		{"__complete link ", all},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			f := &Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}, Globals: &Globals{}}
			root := newRoot(f)
			args, err := ipGlobals(root, io.Discard, strings.Fields(tt.args))
			if err != nil {
				args = strings.Fields(tt.args)
			}
			addCommands(root, f, nodeBeforeCommand(root, args))
			var got []string
			for _, c := range root.Commands() {
				got = append(got, c.Name())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("branches %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkRootTree is the cost of the tree a command builds: the whole
// tree, as NewRootCmd, and link show's branch, as Run.
func BenchmarkRootTree(b *testing.B) {
	tests := []struct {
		name string
		args []string
	}{
		{"whole", nil},
		{"link-show", []string{"link", "show"}},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				f := &Factory{IO: &IOStreams{Out: io.Discard, ErrOut: io.Discard}, Globals: &Globals{}}
				if tt.args == nil {
					NewRootCmd(f)
					continue
				}
				addCommands(newRoot(f), f, tt.args)
			}
		})
	}
}
