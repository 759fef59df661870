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
	// The driver acknowledges the batch's changes before syncing them and
	// syncs once when the batch ends (group commit); the batch exits only
	// after that sync.
	var inBatch *netlinkx.Client
	connect := func(g *Globals) (*netlinkx.Client, error) {
		c, err := f.Connect(g)
		if err == nil && c != inBatch {
			if err := c.Batch(true); err != nil {
				return nil, opError("batch", err)
			}
			inBatch = c
		}
		return c, err
	}
	endBatch := func(status int) error {
		if inBatch != nil {
			// A batch that already failed has said so; a failed sync
			// after it (the driver is gone) adds nothing.
			if err := inBatch.Batch(false); err != nil && status == ExitOK {
				fmt.Fprintf(f.IO.ErrOut, "ibctl: %s\n", opError("batch: sync", err))
				return &SilentError{Status: ExitFailure}
			}
		}
		if status != ExitOK {
			return &SilentError{Status: status}
		}
		return nil
	}
	// One command tree for every line: building it is most of a short
	// line's cost. resetTree puts its flags back before each line.
	lf := &Factory{IO: f.IO, Globals: &Globals{}, Connect: connect, Executable: f.Executable}
	root := NewRootCmd(lf)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	failed := 0
	status := ExitOK
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
		if err != nil {
			err = &UsageError{Msg: err.Error()}
		} else {
			resetTree(root)
			root.SetArgs(nodeBeforeCommand(root, append(append([]string(nil), prefix...), words...)))
			err = execute(root)
		}
		if err != nil {
			failed++
			var se *SilentError
			if !errors.As(err, &se) {
				fmt.Fprintf(f.IO.ErrOut, "ibctl: %s:%d: %s\n", path, lineno, err)
			}
			if s := ExitStatus(err); s > status {
				status = s
			}
			if !f.Globals.Force {
				return endBatch(status)
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "ibctl: batch %s: %v\n", path, err)
		status = ExitFailure
	}
	if failed == 0 && status == ExitOK {
		return endBatch(ExitOK)
	}
	return endBatch(max(status, ExitFailure))
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
