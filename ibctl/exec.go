package ibctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"

	"github.com/ibctl/ibctl/internal/sysfsfuse"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// execChildArg is the first argument of the process exec starts in the
// node's namespaces: not a command, so it is in no help or completion.
const execChildArg = "\x01exec-child"

// ExecOptions are exec's inputs.
type ExecOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Args   []string // the command and its arguments

	// Where exec looks for what it needs; the defaults in production.
	NetnsDir   string     // "/run/netns", where `ip netns add` registers
	FuseDevice string     // "/dev/fuse"
	Euid       func() int // os.Geteuid
}

// netnsName is the name of the network namespace of node, registered
// under /run/netns by `driver start --netns`.
func netnsName(node string) string { return "ibctl-" + node }

// NewCmdExec is `ibctl exec`: a program run on the node's emulated host;
// runF, when not nil, gets the parsed options instead of running.
func NewCmdExec(f *Factory, runF func(*ExecOptions) error) *cobra.Command {
	o := &ExecOptions{F: f, Client: connector(f), NetnsDir: "/run/netns", FuseDevice: "/dev/fuse", Euid: os.Geteuid}
	cmd := &cobra.Command{
		Use:                   "exec [-n NODE] [--] CMD [ARG]...",
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completeFiles, // CMD and its arguments
		Short:                 "Run a program on the node's emulated host: its network namespace and sysfs",
		Long: `Run CMD in the node's network namespace, ibctl-NODE (made by "driver start --netns"),
as "ip netns exec" does, with the driver's sysfs files where programs look for them:
/sys is a sysfs of that namespace, and /sys/devices/virtual/net (the node's IPoIB
interfaces beside lo, linked from /sys/class/net as in the kernel's class directory),
/sys/class/infiniband (the node's HCA, as ibstat and ibstatus read it),
/sys/module/ib_ipoib/parameters and /sys/kernel/debug/ipoib are served by the driver
through FUSE, so "echo 0x8001 > /sys/class/net/ib0/create_child" creates a
child and a bad value fails with the driver's errno ("write error: Invalid argument").
Files of /etc/netns/ibctl-NODE are bound over those of /etc, as "ip netns exec"
binds them. The mounts are private to CMD and what it runs.

Standard input, output and error and the terminal pass through: "ibctl exec -- bash"
is a shell on the node. SIGINT and SIGQUIT from the terminal go to CMD alone; SIGTERM
and SIGHUP sent to ibctl are passed on to CMD. The exit status is CMD's, or as a
shell's: 127 when CMD is not found, 126 when it cannot be run, 128+N when signal N
killed it. Needs root and /dev/fuse.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("exec: missing command")
			}
			return nil
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o.Args = args
			return runOr(o, runF, execRun)
		}),
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func execRun(o *ExecOptions) error {
	if o.Euid() != 0 {
		return errors.New("exec: needs root (to enter a network namespace and mount sysfs and FUSE)")
	}
	if _, err := os.Stat(o.FuseDevice); err != nil {
		return fmt.Errorf("exec: no FUSE device %s: %s", o.FuseDevice, reason(err))
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	node := o.F.Globals.Node
	if node == "" {
		st, err := c.Status()
		if err != nil {
			return opError("exec: driver status", err)
		}
		if len(st.Nodes) == 0 {
			return errors.New("exec: the driver has no node")
		}
		node = st.Nodes[0]
	}
	ns := netnsName(node)
	nsf, err := os.Open(filepath.Join(o.NetnsDir, ns))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("exec: network namespace %s not found: start the driver with --netns", ns)
	}
	if err != nil {
		return fmt.Errorf("exec: network namespace %s: %s", ns, reason(err))
	}
	defer nsf.Close()

	args := append([]string{"ibctl", execChildArg, o.F.Globals.socketPath(), node, "--"}, o.Args...)
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: args, Stdin: o.F.IO.In, Stdout: o.F.IO.Out, Stderr: o.F.IO.ErrOut,
		SysProcAttr: &syscall.SysProcAttr{Unshareflags: unix.CLONE_NEWNS}}
	// Go's threads share the network namespace, and a multithreaded
	// process cannot unshare its mounts: the child is forked from a
	// thread that alone entered the namespace, and unshares its mounts
	// itself. The thread is never unlocked, so it ends with the
	// goroutine.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(nsf.Fd()), unix.CLONE_NEWNET); err != nil {
			started <- fmt.Errorf("enter network namespace %s: %s", ns, reason(err))
			return
		}
		started <- cmd.Start()
	}()
	// The terminal sends SIGINT and SIGQUIT to the whole foreground
	// group, CMD included: ibctl only survives them.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP)
	defer signal.Stop(sigs)
	if err := <-started; err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			if s == unix.SIGTERM || s == unix.SIGHUP {
				_ = cmd.Process.Signal(s)
			}
		case <-done:
			if st := exitStatus(cmd.ProcessState); st != 0 {
				return &SilentError{Status: st}
			}
			return nil
		}
	}
}

// exitStatus is a shell's $? for a finished process: its exit status, or
// 128+N when signal N killed it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// execChild runs in the node's network namespace, with mounts of its
// own (args: SOCKET NODE -- CMD [ARG]...): it mounts the node's sysfs,
// serves the driver's files over it, runs CMD and exits with CMD's
// status.
func execChild(ios *IOStreams, args []string) int {
	fail := func(err error) int {
		fmt.Fprintf(ios.ErrOut, "ibctl: exec: %s\n", err)
		return ExitFailure
	}
	if len(args) < 4 || args[2] != "--" {
		return fail(errors.New("internal: bad arguments"))
	}
	// Never touch the mounts of the namespace it was started from.
	if same, err := sameMountNamespace(os.Getppid()); err != nil || same {
		return fail(errors.New("internal: not in a mount namespace of its own"))
	}
	sock, node, argv := args[0], args[1], args[3:]
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGHUP)
	c, err := netlinkx.Dial(sock)
	if err != nil {
		return fail(fmt.Errorf("driver: %w", err))
	}
	defer c.Close()
	if err := c.Bind(node); err != nil {
		return fail(opError("node "+node, err))
	}
	unmount, err := mountSys(c, netnsName(node))
	if err != nil {
		unmount()
		return fail(err)
	}
	defer unmount()
	for _, err := range bindEtc(netnsName(node)) {
		fmt.Fprintf(ios.ErrOut, "ibctl: exec: %s\n", err)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ios.In, ios.Out, ios.ErrOut
	if err := cmd.Start(); err != nil {
		st, why := startFailure(err)
		fmt.Fprintf(ios.ErrOut, "ibctl: exec: %s: %s\n", argv[0], why)
		return st
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for {
		select {
		case s := <-sigs:
			if s == unix.SIGTERM || s == unix.SIGHUP {
				_ = cmd.Process.Signal(s)
			}
		case <-done:
			return exitStatus(cmd.ProcessState)
		}
	}
}

// startFailure is a shell's status and message for a command that could
// not be started: 127 when it is not there, 126 when it cannot be run.
func startFailure(err error) (int, string) {
	if errors.Is(err, exec.ErrNotFound) {
		return 127, "command not found"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		if e == unix.ENOENT {
			return 127, Strerror(e)
		}
		return 126, Strerror(e)
	}
	return 126, err.Error()
}

// bindEtc binds each file of /etc/netns/NAME over the file of that name
// in /etc, as `ip netns exec` does (a resolv.conf or hosts of the
// node's own); it says what it could not bind and goes on.
func bindEtc(name string) []error {
	dir := filepath.Join("/etc/netns", name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return []error{fmt.Errorf("%s: %s", dir, reason(err))}
	}
	var errs []error
	for _, e := range entries {
		src, dst := filepath.Join(dir, e.Name()), filepath.Join("/etc", e.Name())
		if err := unix.Mount(src, dst, "none", unix.MS_BIND, ""); err != nil {
			errs = append(errs, fmt.Errorf("bind %s on %s: %s", src, dst, reason(err)))
		}
	}
	return errs
}

// sysMount is one directory of the driver's tree mounted over /sys.
type sysMount struct {
	dir    string // where, under /sys
	prefix string // the driver's path
	under  bool   // the real directory's other entries pass through
	linkTo string // sysfsfuse.Options.LinkTo
}

// sameMountNamespace says whether process pid shares this process's
// mount namespace.
func sameMountNamespace(pid int) (bool, error) {
	var self, other unix.Stat_t
	if err := unix.Stat("/proc/self/ns/mnt", &self); err != nil {
		return false, err
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/mnt", pid), &other); err != nil {
		return false, err
	}
	return self.Dev == other.Dev && self.Ino == other.Ino, nil
}

// mountSys makes the mounts private, mounts a sysfs of the current
// network namespace on /sys as `ip netns exec` does, and the driver's
// directories over it. The returned function detaches what was mounted;
// it is to be called even on error.
func mountSys(b sysfsfuse.Backend, name string) (func(), error) {
	var mounted []string
	var open []*os.File
	undo := func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			_ = unix.Unmount(mounted[i], unix.MNT_DETACH)
		}
		for _, f := range open {
			f.Close()
		}
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return undo, fmt.Errorf("make mounts private: %s", reason(err))
	}
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil && err != unix.EINVAL {
		return undo, fmt.Errorf("unmount /sys: %s", reason(err))
	}
	if err := unix.Mount(name, "/sys", "sysfs", 0, ""); err != nil {
		return undo, fmt.Errorf("mount sysfs on /sys: %s", reason(err))
	}
	// The driver's directories a program finds under /sys. The real
	// /sys/module has no ib_ipoib (nor an unmounted debugfs an ipoib),
	// nor /sys/class an infiniband: the driver's entries are mounted over
	// the directory above, beside the real ones.
	// The interfaces' directories are where the kernel keeps a
	// virtual netdev's (/sys/devices/virtual/net, the TUN's own there
	// hidden), and /sys/class/net links to them, as it links lo; it is
	// mounted over the driver's /sys/class, whose infiniband is a plain
	// directory.
	sysMounts := []sysMount{
		{dir: "/sys/devices/virtual/net", prefix: "class/net", under: true},
		{dir: "/sys/class", prefix: "class", under: true},
		{dir: "/sys/class/net", prefix: "class/net", under: true, linkTo: "../../devices/virtual/net"},
		{dir: "/sys/module", prefix: "module", under: true},
		{dir: "/sys/kernel/debug", prefix: "kernel/debug"},
	}
	// The real directories stay reachable through their descriptors
	// once the mounts hide them: all are opened before the first mount,
	// which may hide one below it.
	unders := make([]string, len(sysMounts))
	for i, m := range sysMounts {
		if !m.under {
			continue
		}
		f, err := os.Open(m.dir)
		if err != nil {
			return undo, fmt.Errorf("open %s: %s", m.dir, reason(err))
		}
		open = append(open, f)
		unders[i] = fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	}
	for i, m := range sysMounts {
		o := sysfsfuse.Options{Prefix: m.prefix, LinkTo: m.linkTo, Under: unders[i]}
		if _, err := sysfsfuse.Mount(m.dir, b, o); err != nil {
			return undo, fmt.Errorf("mount the driver's %s on %s: %s", m.prefix, m.dir, reason(err))
		}
		mounted = append(mounted, m.dir)
	}
	return undo, nil
}

// execMan is the page text of ibctl-exec(8).
var execMan = ManDoc{
	Synopsis: []string{
		"ibctl [ -n NODE ] exec [ -- ] CMD [ ARG ]...",
	},
	Examples: []ManItem{
		{"ibctl driver start --netns", "Starts the driver with a network namespace for each node ..."},
		{"ibctl -n node0 exec -- ip -d link show ib0", "... and runs the kernel's ip in node0's."},
		{"ibctl exec -- sh -c 'echo 0x8001 > /sys/class/net/ib0/create_child'", "Creates a child through the sysfs file a script would write."},
		{"ibctl -n node1 exec -- bash", "Opens a shell on node1."},
		{"ibctl exec -- ibstat", "Runs infiniband-diags' ibstat, which reads the HCA in /sys/class/infiniband."},
	},
	ExitStatus: []ManItem{
		{"0-255", "CMD's exit status."},
		{"126", "CMD was found but cannot be run."},
		{"127", "CMD was not found."},
		{"128+N", "Signal N killed CMD."},
		{"1", "ibctl failed before running CMD (no namespace for the node, not root, no /dev/fuse)."},
		{"2", "Usage error."},
	},
	Files: []ManItem{
		{"/run/netns/ibctl-NODE", "The node's network namespace, made by driver start --netns."},
		{"/etc/netns/ibctl-NODE", "Files bound over those of /etc for CMD."},
		{"/dev/fuse", "The device through which the driver serves /sys/class/net, /sys/class/infiniband and the module's parameters."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-driver(8)", "ibctl-sys(8)", "ip-netns(8)"},
}
