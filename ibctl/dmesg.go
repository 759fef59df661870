package ibctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// DmesgOptions are dmesg's options.
type DmesgOptions struct {
	F      *Factory
	Follow bool
}

// NewCmdDmesg is `ibctl dmesg`: the node's driver messages; runF, when
// not nil, gets the parsed options instead of running.
func NewCmdDmesg(f *Factory, runF func(*DmesgOptions) error) *cobra.Command {
	o := &DmesgOptions{F: f}
	cmd := &cobra.Command{
		Use:   "dmesg [-f]",
		Short: "Print the node's ib_ipoib kernel messages",
		Long: `Print the node's ib_ipoib messages as dmesg does ("[seconds.micros] ib0: ..."), the
seconds counted from the driver's start. Warnings always appear; debug messages as the
module parameters debug_level, mcast_debug_level and data_debug_level enable them.
-f follows new messages until interrupted.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error { return runOr(o, runF, dmesgRun) }),
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "wait for new messages")
	return cmd
}

func dmesgRun(o *DmesgOptions) error {
	c, err := o.F.client()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var after uint64
	for {
		recs, err := c.Dmesg(after)
		if err != nil {
			return opError("dmesg", err)
		}
		if o.F.Globals.JSON && !o.Follow {
			records := make([]*Printer, len(recs))
			for i, r := range recs {
				records[i] = dmesgPrinter(r)
			}
			return emitList(o.F.IO.Out, o.F.Globals, records)
		}
		for _, r := range recs {
			_, _ = io.WriteString(o.F.IO.Out, dmesgPrinter(r).TextOut())
			after = r.Seq
		}
		if !o.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// dmesgPrinter prints one message as dmesg does, "[seconds.micros] text";
// in JSON its sequence number, time in nanoseconds and text.
func dmesgPrinter(r netlinkx.LogRecord) *Printer {
	p := NewPrinter()
	p.Any("seq", "", r.Seq)
	p.Text(fmt.Sprintf("[%5d.%06d] ", r.TimeNs/1e9, r.TimeNs%1e9/1e3))
	p.Any("time_ns", "", r.TimeNs)
	p.Any("msg", "%s\n", r.Text)
	return p
}
