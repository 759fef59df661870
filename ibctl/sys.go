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
	F         *Factory
	Path      string
	Value     string
	NoNewline bool
}

// NewCmdSys is `ibctl sys`: the driver's sysfs files.
func NewCmdSys(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sys",
		Short: "Read, write and list the driver's sysfs files",
		Long: `Read, write and list the emulated driver's sysfs files, with paths as under /sys
(the /sys/ prefix is optional): class/net/ib0/create_child, class/net/ib0.8001/pkey,
module/ib_ipoib/parameters/debug_level, ...

"ibctl sys write PATH VALUE" acts like "echo VALUE > /sys/PATH" (the value gets a
newline; -n leaves it out, like echo -n) and fails as the kernel does.`,
	}
	read := &cobra.Command{
		Use:               "read PATH",
		Aliases:           []string{"cat"},
		Short:             "Print a sysfs file's content",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSysPath(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return sysReadRun(&SysOptions{F: f, Path: args[0]})
		}),
	}
	wo := &SysOptions{F: f}
	write := &cobra.Command{
		Use:               "write PATH VALUE",
		Aliases:           []string{"echo"},
		Short:             "Write a value to a sysfs file, as echo VALUE > PATH",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeSysPath(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			wo.Path, wo.Value = args[0], args[1]
			return sysWriteRun(wo)
		}),
	}
	write.Flags().BoolVar(&wo.NoNewline, "no-newline", false, "do not append a newline (like echo -n)")
	write.Flags().SetInterspersed(false)
	ls := &cobra.Command{
		Use:               "ls [PATH]",
		Short:             "List a sysfs directory",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: completeSysPath(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o := &SysOptions{F: f}
			if len(args) == 1 {
				o.Path = args[0]
			}
			return sysListRun(o)
		}),
	}
	cmd.AddCommand(read, write, ls)
	return cmd
}

// displayPath is how cat and the shell name a file: under /sys.
func displayPath(p string) string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "/"), "sys/")
	return "/sys/" + strings.TrimSuffix(p, "/")
}

func sysReadRun(o *SysOptions) error {
	c, err := o.F.client()
	if err != nil {
		return err
	}
	data, err := c.SysRead(o.Path)
	if err != nil {
		return fmt.Errorf("%s: %s", displayPath(o.Path), reason(err))
	}
	if o.F.Globals.JSON {
		return writeJSON(o.F.IO.Out, new(Obj).Set("path", displayPath(o.Path)).Set("value", strings.TrimSuffix(string(data), "\n")), o.F.Globals.Pretty)
	}
	_, err = o.F.IO.Out.Write(data)
	return err
}

// sysWriteRun fails like `echo VALUE > PATH` in bash: errors of open(2)
// name the path, errors of write(2) are "write error".
func sysWriteRun(o *SysOptions) error {
	c, err := o.F.client()
	if err != nil {
		return err
	}
	data := o.Value
	if !o.NoNewline {
		data += "\n"
	}
	if _, err := c.SysWrite(o.Path, []byte(data)); err != nil {
		if e, ok := Errno(err); ok && (e == unix.ENOENT || e == unix.EACCES || e == unix.EISDIR || e == unix.ENOTDIR) {
			return fmt.Errorf("%s: %s", displayPath(o.Path), reason(err))
		}
		return fmt.Errorf("write error: %s", reason(err))
	}
	return nil
}

func sysListRun(o *SysOptions) error {
	c, err := o.F.client()
	if err != nil {
		return err
	}
	entries, err := c.SysList(o.Path)
	if err != nil {
		return fmt.Errorf("cannot access '%s': %s", displayPath(o.Path), reason(err))
	}
	if o.F.Globals.JSON {
		out := make([]*Obj, len(entries))
		for i, e := range entries {
			typ := "file"
			if e.Mode&netlinkx.SysDir != 0 {
				typ = "dir"
			}
			out[i] = new(Obj).Set("name", e.Name).Set("type", typ).Set("mode", fmt.Sprintf("%04o", e.Mode&0o7777))
		}
		return writeJSON(o.F.IO.Out, out, o.F.Globals.Pretty)
	}
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Name)
		if e.Mode&netlinkx.SysDir != 0 {
			b.WriteString("/")
		}
		b.WriteString("\n")
	}
	_, err = fmt.Fprint(o.F.IO.Out, b.String())
	return err
}
