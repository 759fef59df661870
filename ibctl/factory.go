// Package ibctl holds the ibctl commands: one file per object (link, sys,
// ethtool, driver), each verb an Options struct, a NewCmd constructor and a
// run function, printing text or JSON through one printer. A command that
// talks to the driver connects through its options' Client, which NewCmd
// sets from the Factory and a test may replace.
// It may import netlinkx, internal/privdir and internal/sysfsfuse (exec),
// never a driver package: the driver to run is injected through the
// Factory (Daemon).
package ibctl

import (
	"io"
	"os"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
)

// IOStreams are the command's standard streams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// System returns the process's streams.
func System() *IOStreams { return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr} }

// Globals are the options every command shares.
type Globals struct {
	Node     string // -n/--node
	Socket   string // --socket
	StateDir string // --state-dir
	NoSpawn  bool   // --no-spawn
	JSON     bool   // -j/--json
	Pretty   bool   // -p/--pretty
	Batch    string // -b/--batch
	Force    bool   // --force
	Stats    int    // -s/--stats, counted
	Details  int    // -d/--details, counted
	Oneline  bool   // -o/--oneline
	Brief    bool   // -br/--brief
	Family   string // -4, -6, -0/--family: "inet", "inet6", "link" or "" for all
	// Timestamp and TShort are ip -t and -ts (--timestamp, --tshort):
	// monitor prints the time of each event; other commands ignore them,
	// as ip's do.
	Timestamp, TShort bool
}

// Factory builds commands with their dependencies.
type Factory struct {
	IO *IOStreams
	// Globals are filled by the root command's flags.
	Globals *Globals
	// Connect returns a connection to the driver named by g (spawning it
	// unless g.NoSpawn), bound to g.Node; connections are reused.
	Connect func(g *Globals) (*netlinkx.Client, error)
	// Executable is the program the driver is spawned from.
	Executable func() (string, error)
	// Daemon runs a driver in the foreground.
	Daemon Daemon
	// Location is the time zone printed local times are in (dmesg -T
	// and -H); nil is time.Local.
	Location *time.Location
	// batchGlobals are the global flags of the command line running a
	// batch, applied to each of its lines.
	batchGlobals []string
	// batch is the batch running the command, nil outside batches.
	batch *batchRun
}

// location is f.Location, or time.Local.
func (f *Factory) location() *time.Location {
	if f.Location != nil {
		return f.Location
	}
	return time.Local
}

// later returns done's error for the outcome of p, a command's last
// request. A batch line run ahead returns at once: the batch collects the
// outcome, and prints done's error, when it reads the reply.
func (f *Factory) later(p *netlinkx.Pending, done func(error) error) error {
	if b := f.batch; b != nil && b.ahead() {
		b.queue = append(b.queue, queued{line: b.line, p: p, done: done})
		return nil
	}
	return done(p.Wait())
}
