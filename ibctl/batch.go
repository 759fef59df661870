package ibctl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// splitLine splits a batch line into words as a shell would for simple
// quoting: blanks separate, '...' and "..." group, \ escapes, # starts a
// comment.
func splitLine(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range line {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				esc = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words, nil
		case r == ' ' || r == '\t' || r == '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// globalArgs re-creates the global flags given on the command line, so
// every batch line runs with them (a line may override them), as ip's -n
// and -json apply to each line of -batch. The parsed flag set is the
// command's merged one: the persistent set records no flag as set.
func globalArgs(root *cobra.Command) []string {
	var args []string
	root.Flags().Visit(func(fl *pflag.Flag) {
		if root.PersistentFlags().Lookup(fl.Name) != nil {
			args = append(args, "--"+fl.Name+"="+fl.Value.String())
		}
	})
	return args
}

// runBatch runs one command per line of path ("-" for standard input),
// like ip -batch: it stops at the first failing line unless --force, and
// fails if any line failed.
//
// A line whose command only changes the driver's state and prints
// nothing when it succeeds (sys write, link add, link delete: see
// batchAhead) runs ahead: it sends its last request without waiting for
// the reply, and the next line starts at once; the batch reads the
// replies in order on the one connection and prints a line's error when
// it reads it. So the per-line round trip is gone while every line's
// output and error, and their order, stay those of lines run one after
// the other:
//   - Without --force the connection is in the driver's BatchStop mode
//     while lines run ahead: the driver refuses, without running them,
//     every request after the first one that fails. The lines sent
//     after a failing one therefore never run, as if the batch had
//     stopped at it, which it then does. (Stopping in the client alone
//     would be too late: those lines would have run.) A driver without
//     that mode gets no line ahead.
//   - Anything a later line prints, and its error, comes after the
//     replies of the lines before it are read and their errors printed
//     (batchRun.sync before any other command and the help).
//   - Any other command waits for every reply first, and runs with
//     BatchStop off: its requests may fail without the line failing
//     (ethtool asking for what a device lacks).
//
// Durability is unchanged: the driver journals each change in order as
// it runs it and syncs once, when the batch ends, before the batch exits;
// the exit status is the acknowledgement. A driver that dies mid-batch
// leaves the replies unread, the line waiting for one fails, and the
// batch fails with it.
func runBatch(f *Factory, path string) error {
	var r io.Reader = f.IO.In
	if path != "-" {
		fh, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("batch: %w", err)
		}
		defer fh.Close()
		r = fh
	}
	prefix := f.batchGlobals
	b := &batchRun{errOut: f.IO.ErrOut, path: path, force: f.Globals.Force}
	// The driver acknowledges the batch's changes before syncing them and
	// syncs once when the batch ends (group commit); the batch exits only
	// after that sync.
	connect := func(g *Globals) (*netlinkx.Client, error) {
		if b.client != nil && g.socketPath() != b.socket {
			// Another socket: the connection is closed, its replies
			// are read first.
			b.settle(true)
			if b.stopped {
				return nil, errBatchStopped
			}
		}
		c, err := f.Connect(g)
		if err != nil {
			return nil, err
		}
		if c != b.client {
			if err := c.Batch(true); err != nil {
				return nil, opError("batch", err)
			}
			b.client, b.socket, b.stopMode, b.noStop = c, g.socketPath(), false, false
		}
		if b.lineAhead && !b.force && !b.stopMode && !b.noStop {
			ok, err := c.BatchStop()
			if err != nil {
				return nil, opError("batch", err)
			}
			b.stopMode, b.noStop = ok, !ok
		}
		return c, nil
	}
	// One command tree for every line: building it is most of a short
	// line's cost. resetTree puts its flags back before each line.
	lf := &Factory{IO: f.IO, Globals: &Globals{}, Connect: connect, Executable: f.Executable, batch: b}
	root := NewRootCmd(lf)
	b.wrap(root)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for lineno := 1; sc.Scan(); lineno++ {
		words, err := splitLine(sc.Text())
		if err == nil && len(words) > 0 && words[0] == "ibctl" {
			words = words[1:]
		}
		if err == nil && len(words) == 0 {
			continue
		}
		if err == nil {
			for _, w := range words {
				if w == "-b" || w == "--batch" || strings.HasPrefix(w, "--batch=") {
					err = fmt.Errorf("nested --batch")
				}
			}
		}
		b.line, b.lineAhead = lineno, false
		if err != nil {
			err = &UsageError{Msg: err.Error()}
		} else {
			resetTree(root)
			root.SetArgs(nodeBeforeCommand(root, append(append([]string(nil), prefix...), words...)))
			err = execute(root)
		}
		// The replies of the lines before come first, then this line's
		// error: unless one of them stopped the batch.
		b.settle(err != nil)
		if err != nil && !b.stopped {
			b.fail(lineno, err)
		}
		if b.stopped {
			return b.end(b.status)
		}
	}
	b.settle(true)
	if b.stopped {
		return b.end(b.status)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "ibctl: batch %s: %v\n", path, err)
		b.status = ExitFailure
	}
	if b.failed == 0 && b.status == ExitOK {
		return b.end(ExitOK)
	}
	return b.end(max(b.status, ExitFailure))
}

// batchAheadKey annotates a command that may run ahead in a batch: its
// only effect is on the driver, every request it sends that fails makes
// it fail, it prints nothing when it succeeds, and its last request goes
// through Factory.later.
const batchAheadKey = "batch"

// batchAhead is the annotation of a command that may run ahead.
func batchAhead() map[string]string { return map[string]string{batchAheadKey: "ahead"} }

// errBatchStopped ends a line that the batch stopped before: an earlier
// line failed (its error is the batch's).
var errBatchStopped = errors.New("batch stopped at an earlier line")

// queued is a line run ahead: its last request and what makes the line's
// error of its outcome.
type queued struct {
	line int
	p    *netlinkx.Pending
	done func(error) error
}

// batchRun is a running batch.
type batchRun struct {
	errOut    io.Writer
	path      string
	force     bool
	line      int  // the line running
	lineAhead bool // it may run ahead
	// client is the batch's connection, in batch mode, to socket;
	// stopMode is whether it is in BatchStop mode, noStop whether its
	// driver has none.
	client           *netlinkx.Client
	socket           string
	stopMode, noStop bool
	queue            []queued // lines run ahead whose outcome is not known yet
	failed, status   int
	stopped          bool // a line failed without --force: nothing more runs
}

// ahead reports whether the running line runs ahead.
func (b *batchRun) ahead() bool { return b.lineAhead && (b.force || b.stopMode) }

// fail reports line's error and stops the batch unless --force.
func (b *batchRun) fail(line int, err error) {
	b.failed++
	var se *SilentError
	if !errors.As(err, &se) {
		fmt.Fprintf(b.errOut, "ibctl: %s:%d: %s\n", b.path, line, err)
	}
	b.status = max(b.status, ExitStatus(err))
	if !b.force {
		b.stopped = true
	}
}

// settle reads the outcome of the lines run ahead, in order, and reports
// their errors: all of them when wait, else those already answered. Once
// the batch stopped, the rest never ran (the driver refused them).
func (b *batchRun) settle(wait bool) {
	for len(b.queue) > 0 && !b.stopped {
		q := b.queue[0]
		if !wait && !q.p.Done() {
			return
		}
		b.queue[0] = queued{}
		b.queue = b.queue[1:]
		if err := q.done(q.p.Wait()); err != nil {
			b.fail(q.line, err)
		}
	}
	if len(b.queue) == 0 || b.stopped {
		b.queue = nil
	}
}

// sync readies the batch for a line that does not run ahead: every
// earlier line's outcome is known, and BatchStop is off.
func (b *batchRun) sync() error {
	b.settle(true)
	if b.stopped {
		return errBatchStopped
	}
	if b.stopMode {
		b.stopMode = false
		if err := b.client.Batch(true); err != nil {
			return opError("batch", err)
		}
	}
	return nil
}

// wrap makes every command of the tree that does not run ahead call sync
// before it runs, and the help wait for the lines before it. Nothing else
// a line prints comes from outside its command's RunE.
func (b *batchRun) wrap(root *cobra.Command) {
	help := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		_ = b.sync()
		if !b.stopped {
			help(c, args)
		}
	})
	b.wrapRun(root)
}

// wrapRun wraps the RunE of cmd and its descendants for wrap.
func (b *batchRun) wrapRun(cmd *cobra.Command) {
	if run := cmd.RunE; run != nil {
		ahead := cmd.Annotations[batchAheadKey] == "ahead"
		cmd.RunE = func(c *cobra.Command, args []string) error {
			b.lineAhead = ahead
			if !ahead {
				if err := b.sync(); err != nil {
					// Past its arguments: not a usage error.
					if c.Annotations == nil {
						c.Annotations = map[string]string{}
					}
					c.Annotations["ran"] = "yes"
					return err
				}
			}
			return run(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		b.wrapRun(sub)
	}
}

// end ends the batch with status: the driver syncs the batch's changes.
func (b *batchRun) end(status int) error {
	if b.client != nil {
		// A batch that already failed has said so; a failed sync
		// after it (the driver is gone) adds nothing.
		if err := b.client.Batch(false); err != nil && status == ExitOK {
			fmt.Fprintf(b.errOut, "ibctl: %s\n", opError("batch: sync", err))
			return &SilentError{Status: ExitFailure}
		}
	}
	if status != ExitOK {
		return &SilentError{Status: status}
	}
	return nil
}

// resetter is a flag value that knows its default (ping's -c and -w).
type resetter interface{ reset() }

// resetTree makes every command of the tree as it was built, so that
// nothing of one batch line reaches the next: each flag back to its
// default and not changed, whatever set it (a flag, or code writing the
// variable behind it), and no command marked as having run.
func resetTree(cmd *cobra.Command) {
	reset := func(fl *pflag.Flag) {
		switch v := fl.Value.(type) {
		case resetter:
			v.reset()
		case pflag.SliceValue:
			// Every slice flag starts empty; Set would append.
			_ = v.Replace(nil)
		default:
			_ = v.Set(fl.DefValue)
		}
		fl.Changed = false
	}
	cmd.Flags().VisitAll(reset)
	cmd.PersistentFlags().VisitAll(reset)
	delete(cmd.Annotations, "ran")
	for _, c := range cmd.Commands() {
		resetTree(c)
	}
}
