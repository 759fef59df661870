package ibctl

import (
	"fmt"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// SysOptions are the inputs of the sys verbs.
type SysOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client    func() (*netlinkx.Client, error)
	Verb      string // "read", "write" or "ls"
	Path      string
	Value     string
	NoNewline bool
}

// NewCmdSys is `ibctl sys`: the driver's sysfs files. Every verb calls
// runF, when not nil, with its parsed options instead of running.
func NewCmdSys(f *Factory, runF func(*SysOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sys",
		Short: "Read, write and list the driver's sysfs files",
		Long: `Read, write and list the emulated driver's sysfs files, with paths as under /sys
(the /sys/ prefix is optional): class/net/ib0/create_child, class/net/ib0.8001/pkey,
module/ib_ipoib/parameters/debug_level, class/infiniband/mlx5_0/ports/1/state, ...

"ibctl sys write PATH VALUE" acts like "echo VALUE > /sys/PATH" (the value gets a
newline; --no-newline leaves it out, like echo -n) and fails as the kernel does.`,
	}
	read := &cobra.Command{
		Use:               "read PATH",
		Aliases:           []string{"cat"},
		Short:             "Print a sysfs file's content",
		Args:              needArgs("PATH"),
		ValidArgsFunction: completeSysPath(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&SysOptions{F: f, Client: connector(f), Verb: "read", Path: args[0]}, runF, sysRun)
		}),
	}
	wo := &SysOptions{F: f, Client: connector(f), Verb: "write"}
	write := &cobra.Command{
		Use:               "write PATH VALUE",
		Aliases:           []string{"echo"},
		Short:             "Write a value to a sysfs file, as echo VALUE > PATH",
		Annotations:       batchAhead(),
		Args:              needArgs("PATH", "VALUE"),
		ValidArgsFunction: completeSysPath(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			wo.Path, wo.Value = args[0], args[1]
			return runOr(wo, runF, sysRun)
		}),
	}
	write.Flags().BoolVar(&wo.NoNewline, "no-newline", false, "do not append a newline (like echo -n)")
	write.Flags().SetInterspersed(false)
	ls := &cobra.Command{
		Use:               "ls [PATH]",
		Short:             "List a sysfs directory",
		Args:              atMost("PATH"),
		ValidArgsFunction: completeSysPath(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o := &SysOptions{F: f, Client: connector(f), Verb: "ls"}
			if len(args) == 1 {
				o.Path = args[0]
			}
			return runOr(o, runF, sysRun)
		}),
	}
	cmd.AddCommand(read, write, ls)
	verbRequired(cmd)
	return cmd
}

func sysRun(o *SysOptions) error {
	switch o.Verb {
	case "read":
		return sysReadRun(o)
	case "write":
		return sysWriteRun(o)
	}
	return sysListRun(o)
}

// displayPath is how cat and the shell name a file: under /sys.
func displayPath(p string) string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "/"), "sys/")
	return "/sys/" + strings.TrimSuffix(p, "/")
}

func sysReadRun(o *SysOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	data, err := c.SysRead(o.Path)
	if err != nil {
		return fmt.Errorf("%s: %s", displayPath(o.Path), reason(err))
	}
	return emit(o.F.IO.Out, o.F.Globals, sysFilePrinter(o.Path, data))
}

// sysFilePrinter prints a file's content as cat does; in JSON its path
// and its content without the final newline.
func sysFilePrinter(path string, data []byte) *Printer {
	p := NewPrinter()
	p.Any("path", "", displayPath(path))
	p.Text(string(data))
	p.Any("value", "", strings.TrimSuffix(string(data), "\n"))
	return p
}

// sysWriteRun fails like `echo VALUE > PATH` in bash: errors of open(2)
// name the path, errors of write(2) are "write error".
func sysWriteRun(o *SysOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	data := o.Value
	if !o.NoNewline {
		data += "\n"
	}
	return o.F.later(c.SendSysWrite(o.Path, []byte(data)), func(err error) error {
		if err == nil {
			return nil
		}
		if e, ok := Errno(err); ok && (e == unix.ENOENT || e == unix.EACCES || e == unix.EISDIR || e == unix.ENOTDIR) {
			return fmt.Errorf("%s: %s", displayPath(o.Path), reason(err))
		}
		return fmt.Errorf("write error: %s", reason(err))
	})
}

func sysListRun(o *SysOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	entries, err := c.SysList(o.Path)
	if err != nil {
		return fmt.Errorf("cannot access '%s': %s", displayPath(o.Path), reason(err))
	}
	records := make([]*Printer, len(entries))
	for i, e := range entries {
		records[i] = sysEntryPrinter(e)
	}
	return emitList(o.F.IO.Out, o.F.Globals, records)
}

// sysEntryPrinter prints a directory entry as ls -p does (a directory
// gets a slash); in JSON its name, type and permission bits.
func sysEntryPrinter(e netlinkx.SysEntry) *Printer {
	p := NewPrinter()
	p.Any("name", "%s", e.Name)
	typ := "file"
	if e.Mode&netlinkx.SysDir != 0 {
		typ = "dir"
		p.Text("/")
	}
	p.Text("\n")
	p.Any("type", "", typ)
	p.Any("mode", "", fmt.Sprintf("%04o", e.Mode&0o7777))
	return p
}

// sysMan is the page text of ibctl-sys(8).
var sysMan = ManDoc{
	Synopsis: []string{
		"ibctl sys read PATH",
		"ibctl sys write [ --no-newline ] PATH VALUE",
		"ibctl sys ls [ PATH ]",
		"PATH := [ /sys/ ] { class/net/DEVICE/FILE | class/infiniband/HCA/FILE | module/ib_ipoib/parameters/PARAMETER | kernel/debug/ipoib/FILE | ... }",
	},
	Examples: []ManItem{
		{"ibctl sys write class/net/ib0/create_child 0x8001", "Creates the child ib0.8001, as echo 0x8001 > /sys/class/net/ib0/create_child does."},
		{"ibctl sys read /sys/class/net/ib0.8001/pkey", "Prints the child's P_Key."},
		{"ibctl sys write class/net/ib0/mode connected", "Switches ib0 to connected mode."},
		{"ibctl sys ls module/ib_ipoib/parameters", "Lists the module's parameters."},
		{"ibctl sys write class/net/ib0/delete_child 0x8001", "Deletes the child."},
		{"ibctl sys read class/infiniband/mlx5_0/ports/1/state", "Prints the HCA port's state, 4: ACTIVE once the subnet manager configured it."},
		{"ibctl sys ls class/infiniband/mlx5_0/ports/1/pkeys", "Lists the port's P_Key table, one file per entry."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-link(8)", "ibctl-exec(8)", "sysfs(5)"},
}
