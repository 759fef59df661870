package ibctl

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := newRoot(f)
	for _, s := range subcommands {
		root.AddCommand(s.build(f))
	}
	return root
}

// subcommands are the objects under the root, in the order of the tree,
// each with the function that builds its branch. tree marks those that
// need the whole tree (completion writes scripts for all of it).
var subcommands = [...]struct {
	name  string
	tree  bool
	build func(*Factory) *cobra.Command
}{
	{"link", false, func(f *Factory) *cobra.Command { return NewCmdLink(f, nil) }},
	{"addr", false, func(f *Factory) *cobra.Command { return NewCmdAddr(f, nil) }},
	{"neigh", false, func(f *Factory) *cobra.Command { return NewCmdNeigh(f, nil) }},
	{"sys", false, func(f *Factory) *cobra.Command { return NewCmdSys(f, nil) }},
	{"ethtool", false, func(f *Factory) *cobra.Command { return NewCmdEthtool(f, nil) }},
	{"hca", false, func(f *Factory) *cobra.Command { return NewCmdHCA(f, nil) }},
	{"sm", false, func(f *Factory) *cobra.Command { return NewCmdSM(f, nil) }},
	{"ping", false, func(f *Factory) *cobra.Command { return NewCmdPing(f, nil) }},
	{"dmesg", false, func(f *Factory) *cobra.Command { return NewCmdDmesg(f, nil) }},
	{"perf", false, func(f *Factory) *cobra.Command { return NewCmdPerf(f, nil) }},
	{"maddr", false, func(f *Factory) *cobra.Command { return NewCmdMaddr(f, nil) }},
	{"route", false, func(f *Factory) *cobra.Command { return NewCmdRoute(f, nil) }},
	{"monitor", false, func(f *Factory) *cobra.Command { return NewCmdMonitor(f, nil) }},
	{"exec", false, func(f *Factory) *cobra.Command { return NewCmdExec(f, nil) }},
	{"capture", false, func(f *Factory) *cobra.Command { return NewCmdCapture(f, nil) }},
	{"driver", false, func(f *Factory) *cobra.Command { return NewCmdDriver(f, nil) }},
	{"completion", true, func(f *Factory) *cobra.Command { return NewCmdCompletion(f, nil) }},
	{"version", false, NewCmdVersion},
}

// addCommands adds to root the branches that args (the command line
// after the global options were read) can reach: none when they name no
// command (the root runs itself: -V, --batch, or the missing command's
// error), only the named object's when its name is spelled out, and every
// one otherwise (an abbreviation or alias, help, a shell's completion
// request, an option the root does not know), so that cobra answers as it
// would with the whole tree.
func addCommands(root *cobra.Command, f *Factory, args []string) {
	word, ok := commandWord(root, args)
	if ok && word == "" {
		return
	}
	for _, s := range subcommands {
		if ok && s.name == word && !s.tree {
			root.AddCommand(s.build(f))
			return
		}
	}
	for _, s := range subcommands {
		root.AddCommand(s.build(f))
	}
}

// commandWord is the first word of args that is neither one of the
// root's options nor an option's value: the command's name ("" when
// there is none). ok is false when an argument is not an option the root
// has, or is "-" or "--", so that which command runs is cobra's to say.
func commandWord(root *cobra.Command, args []string) (word string, ok bool) {
	lookup := func(name string) *pflag.Flag {
		if fl := root.PersistentFlags().Lookup(name); fl != nil {
			return fl
		}
		return root.Flags().Lookup(name)
	}
	shorthand := func(c string) *pflag.Flag {
		if fl := root.PersistentFlags().ShorthandLookup(c); fl != nil {
			return fl
		}
		return root.Flags().ShorthandLookup(c)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-" || a == "--":
			return "", false
		case !strings.HasPrefix(a, "-"):
			return a, true
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			fl := lookup(name)
			if fl == nil {
				return "", false
			}
			if !hasValue && fl.NoOptDefVal == "" {
				i++
			}
		default:
			// a group of shorthands: -jp, -nNODE, -jn NODE
			for j := 1; j < len(a); j++ {
				fl := shorthand(a[j : j+1])
				if fl == nil {
					return "", false
				}
				if fl.NoOptDefVal == "" {
					if j+1 == len(a) {
						i++
					}
					break
				}
			}
		}
	}
	return "", true
}

// newRoot builds the root command, its options and none of its
// subcommands.
func newRoot(f *Factory) *cobra.Command {
	g := f.Globals
	root := &cobra.Command{
		Use:   "ibctl",
		Short: "Configure IP-over-InfiniBand interfaces of an emulated ib_ipoib driver",
		Long: `ibctl configures IP-over-InfiniBand (IPoIB) interfaces the way the kernel's ib_ipoib
driver is configured: sysfs files (create_child, delete_child, mode, umcast, ...),
ip link (type ipoib) and ethtool. Behind it runs an emulated IPoIB driver with its
own InfiniBand fabric; the first command that needs it starts it in the background.

Options before the command are ip's global options, abbreviated as ip 6.1 reads them:
  -s[tatistics] -d[etails] -o[neline] -br[ief] -4 -6 -0 -f[amily] {inet|inet6|link}
  -j[son] -p[retty] -n[etns] NODE -b[atch] FILE -force -V[ersion] -h[elp] -color=never
(-br is brief, -b batch; colour output and ip's other options are refused).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if v, _ := cmd.Flags().GetBool("version"); v {
				return printVersion(f)
			}
			if g.Batch != "" {
				f.batchGlobals = globalArgs(cmd.Root())
				return runBatch(f, g.Batch)
			}
			return usagef("missing command (try \"ibctl --help\")")
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	pf := root.PersistentFlags()
	pf.StringVarP(&g.Node, "node", "n", "", "node of the fabric to act on (default: the first, node0)")
	pf.StringVar(&g.Socket, "socket", "", "driver socket (default $IBCTL_SOCKET, $XDG_RUNTIME_DIR/ibctl/ibctl.sock or /run/ibctl/ibctl.sock)")
	pf.StringVar(&g.StateDir, "state-dir", "", "driver state directory used when spawning (default $IBCTL_STATE_DIR, /var/lib/ibctl or ~/.local/state/ibctl)")
	pf.BoolVar(&g.NoSpawn, "no-spawn", false, "fail instead of starting a driver when none answers")
	pf.BoolVarP(&g.JSON, "json", "j", false, "print JSON")
	pf.BoolVarP(&g.Pretty, "pretty", "p", false, "indent JSON output")
	addIPFlags(pf, g)
	root.Flags().StringVarP(&g.Batch, "batch", "b", "", "read commands from FILE (- for standard input), one per line")
	root.Flags().BoolVar(&g.Force, "force", false, "with --batch: go on after a failing line")
	root.Flags().BoolP("version", "V", false, "print the version and the revision ibctl was built from")
	_ = root.RegisterFlagCompletionFunc("node", completeNodes(f))
	_ = root.RegisterFlagCompletionFunc("socket", completeFiles)
	_ = root.RegisterFlagCompletionFunc("state-dir", completeDirs)
	_ = root.RegisterFlagCompletionFunc("batch", completeFiles)
	_ = root.RegisterFlagCompletionFunc("family", cobra.FixedCompletions([]string{"inet", "inet6", "link"}, cobra.ShellCompDirectiveNoFileComp))
	// Devices, features, nodes, sys paths, addresses and numbers are no
	// file names: only what completes to a file (completeFiles) offers them.
	root.CompletionOptions.SetDefaultShellCompDirective(cobra.ShellCompDirectiveNoFileComp)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Msg: err.Error()} })
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	return root
}

// rootMan is the page text of ibctl(8).
var rootMan = ManDoc{
	Synopsis: []string{
		"ibctl [ OPTIONS ] OBJECT { COMMAND | help }",
		"ibctl [ -force ] -b[atch] FILE",
		"ibctl -V[ersion]",
		"OBJECT := { link | addr | neigh | maddr | route | ethtool | sys | hca | sm | ping | perf | capture | dmesg | exec | driver | completion | version }",
		"OPTIONS := { -s[tatistics] | -d[etails] | -o[neline] | -br[ief] | -4 | -6 | -0 | -f[amily] { inet | inet6 | link } | -j[son] | -p[retty] | -n[etns] NODE | -h[elp] | -color=never | --socket PATH | --state-dir DIR | --no-spawn }",
	},
	Examples: []ManItem{
		{"ibctl link add link ib0 name ib0.8001 type ipoib pkey 0x8001", "Creates a child interface of ib0 in partition 0x8001; the driver is started first if none runs."},
		{"ibctl -br addr", "Shows each interface's state and addresses on one line."},
		{"ibctl -n node1 -j -p link", "Shows the links of node1 of the fabric as indented JSON."},
		{"ibctl -b - <<EOF\nlink set ib0 up\naddr add 10.0.0.1/24 dev ib0\nEOF", "Runs commands from standard input, stopping at the first that fails."},
		{"ibctl sys write class/net/ib0/mode connected", "Switches ib0 to connected mode through its sysfs file."},
	},
	SeeAlso: []string{"ibctl-link(8)", "ibctl-addr(8)", "ibctl-neigh(8)", "ibctl-maddr(8)", "ibctl-route(8)", "ibctl-ethtool(8)", "ibctl-sys(8)",
		"ibctl-hca(8)", "ibctl-sm(8)", "ibctl-ping(8)", "ibctl-perf(8)", "ibctl-capture(8)", "ibctl-dmesg(8)", "ibctl-exec(8)",
		"ibctl-driver(8)", "ibctl-completion(8)", "ibctl-version(8)", "ip(8)", "ethtool(8)"},
}

// Run executes args and returns the exit status, printing any error as
// one line "ibctl: <what>: <reason>".
func Run(f *Factory, args []string) int {
	if len(args) > 0 && args[0] == execChildArg {
		return execChild(f.IO, args[1:])
	}
	// Only the branch the command line names is built: the whole tree
	// costs a command more than its own work.
	root := newRoot(f)
	args, err := ipGlobals(root, f.IO.Out, args)
	if err == nil {
		args = nodeBeforeCommand(root, args)
		addCommands(root, f, args)
		root.SetArgs(args)
		err = execute(root)
	}
	if err != nil {
		var se *SilentError
		if !errors.As(err, &se) {
			fmt.Fprintf(f.IO.ErrOut, "ibctl: %s\n", err)
		}
	}
	return ExitStatus(err)
}

// nodeBeforeCommand rewrites a -n NODE given before the command's name as
// --node=NODE, so that the node reaches a command that has an -n of its
// own (ping, whose -n is iputils' numeric output). Anything else is left
// as it is, for cobra to parse or refuse.
func nodeBeforeCommand(root *cobra.Command, args []string) []string {
	lookup := func(short string) *pflag.Flag {
		if fl := root.PersistentFlags().ShorthandLookup(short); fl != nil {
			return fl
		}
		return root.Flags().ShorthandLookup(short)
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			return append(out, args[i:]...)
		}
		if strings.HasPrefix(a, "--") {
			out = append(out, a)
			name, _, hasValue := strings.Cut(a[2:], "=")
			fl := root.PersistentFlags().Lookup(name)
			if fl == nil {
				fl = root.Flags().Lookup(name)
			}
			if fl != nil && !hasValue && fl.NoOptDefVal == "" && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		// a group of shorthands: -j, -jp, -n NODE, -nNODE, -jn NODE
		kept := a
		for j := 1; j < len(a); j++ {
			fl := lookup(a[j : j+1])
			if fl == nil {
				break // cobra refuses it
			}
			if fl.NoOptDefVal != "" {
				continue // a flag without a value
			}
			value, next := a[j+1:], false
			if value == "" && i+1 < len(args) {
				value, next = args[i+1], true
			}
			if fl.Name == "node" && (value != "" || next) {
				kept = ""
				if j > 1 {
					out = append(out, a[:j])
				}
				out = append(out, "--node="+value)
				if next {
					i++
				}
			} else if next {
				out = append(out, a)
				kept = ""
				i++
				out = append(out, args[i])
			}
			break
		}
		if kept != "" {
			out = append(out, kept)
		}
	}
	return out
}

// execute runs the command tree, turning cobra's own argument errors
// (unknown command, wrong arity) into usage errors and panics into
// failures.
func execute(root *cobra.Command) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	cmd, err := root.ExecuteC()
	if err == nil {
		return nil
	}
	var ue *UsageError
	var se *SilentError
	if errors.As(err, &ue) || errors.As(err, &se) {
		return err
	}
	if cmd == nil {
		return &UsageError{Msg: oneLine(err.Error())}
	}
	if cmd.Annotations["ran"] != "yes" {
		return &UsageError{Msg: oneLine(err.Error())}
	}
	return err
}

// runOr calls runF with o when one was given (tests check the parsed
// options that way, without a driver), else run.
func runOr[O any](o *O, runF, run func(*O) error) error {
	if runF != nil {
		return runF(o)
	}
	return run(o)
}

// runE marks that the command got past argument parsing, so its errors are
// operation failures rather than usage errors.
func runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if cmd.Annotations == nil {
			cmd.Annotations = map[string]string{}
		}
		cmd.Annotations["ran"] = "yes"
		return fn(cmd, args)
	}
}

// NewFactory returns the production factory, with d to run a driver in
// the foreground.
func NewFactory(d Daemon) *Factory {
	conn := &Connector{Executable: os.Executable}
	return &Factory{IO: System(), Globals: &Globals{}, Connect: conn.Client, Executable: os.Executable, Daemon: d}
}

// connector is the Client of a command's options: it connects with f's
// globals as the command line set them, when the command runs.
func connector(f *Factory) func() (*netlinkx.Client, error) {
	return func() (*netlinkx.Client, error) { return f.Connect(f.Globals) }
}
