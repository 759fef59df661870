package ibctl

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// DmesgOptions are dmesg's options.
type DmesgOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Follow bool
	// Ctime is -T: times as ctime prints them, counted from the start.
	// Human is -H: the time to the minute when the minute changes, else
	// the time since the message before. The last of -T and -H given
	// counts, as in util-linux's dmesg.
	Ctime, Human bool
	// ReadClear is -c: clear what was printed; Clear is -C: clear only.
	ReadClear, Clear bool
}

// NewCmdDmesg is `ibctl dmesg`: the node's driver messages; runF, when
// not nil, gets the parsed options instead of running.
func NewCmdDmesg(f *Factory, runF func(*DmesgOptions) error) *cobra.Command {
	o := &DmesgOptions{F: f, Client: connector(f)}
	cmd := &cobra.Command{
		Use:   "dmesg [-f] [-T | -H] [-c | -C]",
		Short: "Print the node's ib_ipoib kernel messages",
		Long: `Print the node's ib_ipoib messages as dmesg does ("[seconds.micros] ib0: ..."), the
seconds counted from the driver's start. Warnings always appear; debug messages as the
module parameters debug_level, mcast_debug_level and data_debug_level enable them.
-f follows new messages until interrupted. -T prints each time as util-linux's dmesg -T
does ("[Mon Dec  7 16:00:09 2026] ib0: ...", local time: the driver's start plus the
message's time, to the second). -H prints them as dmesg -H does without a terminal (no
pager, no colours): "[Dec 7 16:49] ib0: ..." (month, day and time to the minute, as
util-linux 2.38 prints them) for a message whose minute differs from the one before, and
"[  +0.000123] ib0: ..." (the seconds since the message before) for the others; the last
of -T and -H given counts. -c clears the messages it printed from the node's ring,
as dmesg -c does (a message logged meanwhile stays); -C clears them without printing.`,
		Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if o.Clear && o.ReadClear {
				return usagef("dmesg: mutually exclusive arguments: --clear --read-clear")
			}
			return runOr(o, runF, dmesgRun)
		}),
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "wait for new messages")
	cmd.Flags().VarPF(&timeFmtFlag{o: o, human: false}, "ctime", "T", "print human-readable timestamps (ctime)").NoOptDefVal = "true"
	cmd.Flags().VarPF(&timeFmtFlag{o: o, human: true}, "human", "H", "human-readable output: minutes and the time between messages").NoOptDefVal = "true"
	cmd.Flags().BoolVarP(&o.ReadClear, "read-clear", "c", false, "clear the ring buffer after printing its contents")
	cmd.Flags().BoolVarP(&o.Clear, "clear", "C", false, "clear the ring buffer")
	return cmd
}

func dmesgRun(o *DmesgOptions) (retErr error) {
	c, err := o.Client()
	if err != nil {
		return err
	}
	var started int64 // -T, -H: the driver's start, in whole seconds as dmesg's boot time
	if o.Ctime || o.Human {
		st, err := c.Status()
		if err != nil {
			return opError("dmesg", err)
		}
		started = st.StartedNs / 1e9
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var after uint64
	var human humanState
	// -c clears what was printed, however dmesg ends.
	defer func() {
		if o.ReadClear && after > 0 {
			if err := c.DmesgClear(after); err != nil && retErr == nil {
				retErr = opError("dmesg", err)
			}
		}
	}()
	for {
		recs, err := c.Dmesg(after)
		if err != nil {
			return opError("dmesg", err)
		}
		if o.Clear {
			if len(recs) == 0 {
				return nil
			}
			if err := c.DmesgClear(recs[len(recs)-1].Seq); err != nil {
				return opError("dmesg", err)
			}
			return nil
		}
		if o.F.Globals.JSON && !o.Follow {
			records := make([]*Printer, len(recs))
			for i, r := range recs {
				records[i] = dmesgPrinter(r, o.Ctime, started, nil, o.F.location())
			}
			if len(recs) > 0 {
				after = recs[len(recs)-1].Seq
			}
			return emitList(o.F.IO.Out, o.F.Globals, records)
		}
		for _, r := range recs {
			var hs *humanState
			if o.Human {
				hs = &human
			}
			_, _ = io.WriteString(o.F.IO.Out, dmesgPrinter(r, o.Ctime, started, hs, o.F.location()).TextOut())
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

// timeFmtFlag is -T or -H: each sets the time format, the last given
// counting.
type timeFmtFlag struct {
	o     *DmesgOptions
	human bool
	set   bool
}

func (f *timeFmtFlag) String() string { return strconv.FormatBool(f.set) }
func (f *timeFmtFlag) Type() string   { return "bool" }
func (f *timeFmtFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	f.set = v
	if v {
		f.o.Ctime, f.o.Human = !f.human, f.human
	}
	return nil
}

// reset puts the flag back between batch lines.
func (f *timeFmtFlag) reset() { f.set, f.o.Ctime, f.o.Human = false, false, false }

// humanState is what dmesg -H remembers of the message before: its
// local time's minute and its time (util-linux's lasttm and lasttime).
type humanState struct {
	min, hour, yday int
	last            uint64
	hasLast         bool
}

// stamp is the timestamp dmesg -H prints for r (print_record's
// DMESG_TIMEFTM_RELTIME): "[Dec 7 16:49] " ("%b%e %H:%M") when the local
// minute differs from the message before's (the first message's always,
// unless it falls on 1 January at 00:00), else the seconds since the
// message before, "[  +0.000123] ".
func (h *humanState) stamp(r netlinkx.LogRecord, started int64, loc *time.Location) string {
	t := time.Unix(started+int64(r.TimeNs/1e9), 0).In(loc)
	var delta float64
	if h.hasLast {
		delta = float64(int64(r.TimeNs/1e3)-int64(h.last/1e3)) / 1e6
	}
	h.last, h.hasLast = r.TimeNs, true
	var s string
	if t.Minute() != h.min || t.Hour() != h.hour || t.YearDay()-1 != h.yday {
		s = fmt.Sprintf("[%s%2d %s] ", t.Format("Jan"), t.Day(), t.Format("15:04"))
	} else if delta < 10 {
		s = fmt.Sprintf("[  %+8.6f] ", delta)
	} else {
		s = fmt.Sprintf("[ %+9.6f] ", delta)
	}
	h.min, h.hour, h.yday = t.Minute(), t.Hour(), t.YearDay()-1
	return s
}

// dmesgPrinter prints one message as dmesg does, "[seconds.micros] text",
// or with ctime (dmesg -T) "[Mon Dec  7 16:00:09 2026] text": the start
// in seconds plus the message's whole seconds, in local time, as
// util-linux's record_ctime formats it; in JSON its sequence number, time
// in nanoseconds and text.
func dmesgPrinter(r netlinkx.LogRecord, ctime bool, started int64, human *humanState, loc *time.Location) *Printer {
	p := NewPrinter()
	p.Any("seq", "", r.Seq)
	if human != nil {
		p.Text(human.stamp(r, started, loc))
	} else if ctime {
		t := time.Unix(started+int64(r.TimeNs/1e9), 0).In(loc)
		p.Text("[" + t.Format("Mon Jan _2 15:04:05 2006") + "] ")
	} else {
		p.Text(fmt.Sprintf("[%5d.%06d] ", r.TimeNs/1e9, r.TimeNs%1e9/1e3))
	}
	p.Any("time_ns", "", r.TimeNs)
	p.Any("msg", "%s\n", r.Text)
	return p
}

// dmesgMan is the page text of ibctl-dmesg(8).
var dmesgMan = ManDoc{
	Synopsis: []string{
		"ibctl dmesg [ -f ] [ -T ] [ -c | -C ]",
	},
	Examples: []ManItem{
		{"ibctl sys write module/ib_ipoib/parameters/debug_level 1", "Enables the driver's debug messages ..."},
		{"ibctl dmesg -T", "... and prints them with their wall-clock times."},
		{"ibctl -n node1 dmesg -f", "Prints node1's messages as they come, until interrupted."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-sys(8)", "dmesg(1)"},
}
