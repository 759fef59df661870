package ibctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// PingOptions are ping's options.
type PingOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client   func() (*netlinkx.Client, error)
	Dev      string
	Count    int
	Size     int
	Interval float64
	Wait     float64
	PMTU     string
	Quiet    bool       // -q: the banner and the summary only
	Numeric  bool       // -n: no name lookup, which ibctl never does anyway
	Deadline int        // -w: seconds ping runs at most; 0: none
	Dst      string     // the address as given
	Addr     netip.Addr // Dst parsed

	cmd      *cobra.Command
	count    pingCount
	deadline pingCount
}

// pingCount is an integer option of ping as given: -c, which iputils
// reads with strtol_or_err(optarg, "invalid argument", 1, LONG_MAX), or -w
// (0 to INT_MAX). A bad one is reported in iputils' words when ping runs.
type pingCount struct {
	n        *int
	min, max int64
	text     string
	set      bool
}

func (c *pingCount) String() string {
	if c.set {
		return c.text
	}
	return strconv.Itoa(*c.n)
}

func (c *pingCount) Type() string { return "int" }

// reset forgets the text given: the option is unset, its value zero.
func (c *pingCount) reset() { *c.n, c.text, c.set = 0, "", false }

func (c *pingCount) Set(s string) error {
	c.text, c.set = s, true
	return nil
}

// parse sets the count from the text given, or fails as strtol_or_err.
func (c *pingCount) parse() error {
	if !c.set {
		return nil
	}
	v, err := strconv.ParseInt(strings.TrimLeft(c.text, " \t\n\v\f\r"), 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return usagef("ping: invalid argument: '%s': Numerical result out of range", c.text)
	case err != nil:
		return usagef("ping: invalid argument: '%s'", c.text)
	case v < c.min || v > c.max:
		return usagef("ping: invalid argument: '%s': out of range: %d <= value <= %d", c.text, c.min, c.max)
	}
	*c.n = int(v)
	return nil
}

// maxPingSize is 65535 − 20 (IPv4) − 8 (ICMP).
const maxPingSize = 65507

// NewCmdPing is `ibctl ping`: iputils ping over the emulated IPoIB stack;
// runF, when not nil, gets the parsed options instead of running.
func NewCmdPing(f *Factory, runF func(*PingOptions) error) *cobra.Command {
	o := &PingOptions{F: f, Client: connector(f)}
	o.count = pingCount{n: &o.Count, min: 1, max: math.MaxInt64}
	o.deadline = pingCount{n: &o.Deadline, min: 0, max: math.MaxInt32}
	cmd := &cobra.Command{
		Use:   "ping [-n] [-q] [-I DEV] [-c COUNT] [-w DEADLINE] [-s SIZE] [-i SEC] [-W SEC] [-M do|dont|want] ADDRESS",
		Short: "Send ICMP echo requests from the node, as ping does",
		Long: `Send ICMP echo requests through the node's emulated IP stack: the route is the
interface whose subnet holds ADDRESS (or -I DEV), the neighbour is found with ARP over
the partition's broadcast group and the echo goes over the interface's UD queue pair.
Output and exit status are ping's: 0 when a reply came, 1 when none did, 2 on errors.
IPv4 (ARP) and IPv6 (neighbour discovery). An echo larger than the path MTU is
fragmented (-M want, the default, and -M dont; -M do refuses it with "message too
long"); one larger than the UD MTU to a peer reached over UD in connected mode gets the
driver's "Frag needed" (IPv4) or "Packet too big" (IPv6) answer, after which the path
MTU is the UD MTU for 10 minutes (see "ibctl route get"). A fragmented echo the peer
cannot reassemble within its reassembly time (30 s for IPv4, 60 s for IPv6) is answered
with ICMP time exceeded, which ping reports if it still waits for that reply (-W). A
link-local IPv6 ADDRESS needs the interface: -I DEV, or ADDRESS%DEV.

A request goes every -i SEC seconds without waiting for the answer to the last one
(with -i 0, as soon as nothing is in flight, or 10 ms after the last). A neighbour that
never answers holds the requests sent to it until its third solicitation goes
unanswered, about 3 s after the first request: each then gets "Destination Host
Unreachable" (IPv4) or "Destination unreachable: Address unreachable" (IPv6), counted
as an error. After COUNT requests, ping waits for the answers: twice the longest round
trip (at least the interval) once a reply came, else -W SEC (10 by default), then
stops. The statistics end with "pipe N" when N requests were out at once, as ping
counts them: replies and, for IPv4, ICMP errors.

-w DEADLINE stops ping after DEADLINE seconds however many requests were sent; with
-c COUNT it stops as soon as COUNT replies came, sending more requests until then, and
exits with 1 when fewer than COUNT replies came by the deadline. -q prints the first
line and the statistics only. -n (numeric output) is accepted and changes nothing, as
ibctl never looks up names. Here -n is ping's, not the node: the node is given before
the command, "ibctl -n NODE ping ...", or with --node NODE. ping prints no JSON: -j is
refused.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("ping: usage error: Destination address required") // iputils ping.c
			}
			return needArgs("ADDRESS")(cmd, args)
		},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			if f.Globals.JSON {
				// iputils ping has no JSON output
				return usagef("ping: -j: ping has no JSON output")
			}
			o.Dst, o.cmd = args[0], cmd
			if err := o.parse(); err != nil {
				return err
			}
			return runOr(o, runF, pingRun)
		}),
	}
	fl := cmd.Flags()
	fl.StringVarP(&o.Dev, "interface", "I", "", "send through this interface")
	fl.VarP(&o.count, "count", "c", "stop after COUNT requests (default: until interrupted); with -w, after COUNT replies")
	fl.VarP(&o.deadline, "deadline", "w", "stop after DEADLINE seconds (0: no deadline)")
	fl.BoolVarP(&o.Quiet, "quiet", "q", false, "print the first line and the statistics only")
	fl.BoolVarP(&o.Numeric, "numeric", "n", false, "numeric output (ibctl never looks up names)")
	// iputils' -n shadows the global -n/--node: the node is --node NODE
	// here, or -n NODE before "ping".
	fl.StringVar(&f.Globals.Node, "node", "", "node of the fabric to act on (default: the first, node0)")
	_ = cmd.RegisterFlagCompletionFunc("node", completeNodes(f))
	_ = cmd.RegisterFlagCompletionFunc("interface", completeLinks(f))
	fl.IntVarP(&o.Size, "size", "s", 56, "ICMP data bytes")
	fl.Float64VarP(&o.Interval, "interval", "i", 1, "seconds between requests")
	fl.Float64VarP(&o.Wait, "timeout", "W", 10, "seconds to wait for the answers once the last request is sent, when no reply came")
	fl.StringVarP(&o.PMTU, "pmtudisc", "M", "want", "path MTU discovery: do (set DF, refuse larger), want (fragment larger) or dont (never DF)")
	_ = cmd.RegisterFlagCompletionFunc("pmtudisc", cobra.FixedCompletions([]string{"do", "dont", "want"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parse checks the options as iputils does before it opens a socket.
func (o *PingOptions) parse() error {
	dst, err := netip.ParseAddr(o.Dst)
	if err != nil {
		return &UsageError{Msg: fmt.Sprintf("ping: %s: Name or service not known", o.Dst)}
	}
	o.Addr = dst
	if o.Size < 0 || o.Size > maxPingSize {
		return usagef("ping: invalid argument: '%d': out of range: 0 <= value <= %d", o.Size, maxPingSize)
	}
	if err := o.count.parse(); err != nil {
		return err
	}
	if err := o.deadline.parse(); err != nil {
		return err
	}
	// iputils' checks, naming the argument as given (-W: at least 1 ms).
	if o.Interval < 0 || math.IsNaN(o.Interval) || o.Interval > math.MaxInt32/1000 {
		return usagef("ping: bad timing interval: %s", flagText(o.cmd, "interval"))
	}
	if o.Wait < 0.001 || math.IsNaN(o.Wait) || o.Wait > math.MaxInt32/1000 {
		return usagef("ping: bad linger time: %s", flagText(o.cmd, "timeout"))
	}
	if o.PMTU != "do" && o.PMTU != "dont" && o.PMTU != "want" {
		return usagef("ping: invalid -M argument: %s", o.PMTU)
	}
	return nil
}

// pingMaxWait bounds how long the driver waits for the answer to one
// request when neither -W nor -w asks for longer: the emulated stack
// answers nothing later than its reassembly timers (30 s, 60 s).
const pingMaxWait = 65 * time.Second

// pingMinInterval is iputils' MININTERVAL: with -i 0 a request goes when
// nothing is in flight, or 10 ms after the last one.
const pingMinInterval = 10 * time.Millisecond

// pingAnswer is what came back for one request.
type pingAnswer struct {
	seq  int
	rep  netlinkx.PingReply
	err  error
	conn *netlinkx.Client
}

// pinger sends echo requests, each on a connection of its own so that
// they overlap as a ping socket's do (the server answers one
// connection's requests in order), and hands the answers over in the
// order they come.
type pinger struct {
	main    *netlinkx.Client
	idle    []*netlinkx.Client
	all     []*netlinkx.Client
	answers chan pingAnswer
	done    chan struct{}
}

// send starts request r on an idle connection, or a new one.
func (p *pinger) send(seq int, r netlinkx.PingRequest) error {
	var conn *netlinkx.Client
	if n := len(p.idle); n > 0 {
		conn, p.idle = p.idle[n-1], p.idle[:n-1]
	} else {
		c, err := p.main.Clone()
		if err != nil {
			return err
		}
		conn = c
		p.all = append(p.all, c)
	}
	go func() {
		rep, err := conn.Ping(r)
		select {
		case p.answers <- pingAnswer{seq: seq, rep: rep, err: err, conn: conn}:
		case <-p.done:
		}
	}()
	return nil
}

// close abandons the requests still out: the driver ends their waits
// (as closing ping's socket leaves nobody to answer), and the
// connections are closed.
func (p *pinger) close(r netlinkx.PingRequest) {
	r.Cancel = true
	_, _ = p.main.Ping(r) // the stragglers end at their timeout anyway
	close(p.done)
	for _, c := range p.all {
		c.Close()
	}
}

// pingStats are iputils' counters.
type pingStats struct {
	sent, received, errs int
	acked                int // the highest sequence answered (rts->acked)
	pipe                 int // the most requests out at once, as acknowledge() sees it
	rtts                 []int64
	tmax                 int64 // µs
}

// acknowledge is iputils' acknowledge(): an answer to seq, a reply or
// (IPv4 only) an ICMP error, tells how many requests were out.
func (s *pingStats) acknowledge(seq int) {
	if d := s.sent - seq + 1; d > s.pipe {
		s.pipe = d
	}
	if seq > s.acked {
		s.acked = seq
	}
}

// inFlight is iputils' in_flight(): requests sent after the last one
// answered.
func (s *pingStats) inFlight() int { return s.sent - s.acked }

func pingRun(o *PingOptions) error {
	dst := o.Addr
	c, err := o.Client()
	if err != nil {
		return err
	}
	// A scope (fe80::2%ib0) names the interface as sin6_scope_id does;
	// -I wins.
	dev := o.Dev
	if dev == "" {
		dev = dst.Zone()
	}
	// pr prints an address as getnameinfo does: a link-local IPv6
	// address with the interface it was sent or received on.
	pr := func(b []byte) string {
		a, ok := netip.AddrFromSlice(b)
		if ok && a.Is6() && a.IsLinkLocalUnicast() && dev != "" {
			a = a.WithZone(dev)
		}
		return addrString(a)
	}
	w := o.F.IO.Out
	req := netlinkx.PingRequest{Dev: dev, Dst: dst.AsSlice(), Size: uint32(o.Size), Ident: uint16(os.Getpid()),
		PMTUDisc: pmtuModes()[o.PMTU]}
	// ping connects its socket first (the route), then prints its
	// banner; with -I it names the source address and the interface.
	conn := req
	conn.Connect = true
	rep, err := c.Ping(conn)
	if err != nil {
		switch e, _ := Errno(err); e {
		case unix.ENETUNREACH:
			return &UsageError{Msg: "ping: connect: Network is unreachable"}
		case unix.EINVAL:
			// a link-local destination without an interface
			return &UsageError{Msg: "ping: connect: Invalid argument"}
		}
		return opError("ping", err)
	}
	if dst.Is4() {
		fmt.Fprintf(w, "PING %s (%s) ", o.Dst, dst)
	} else {
		fmt.Fprintf(w, "PING %s(%s) ", o.Dst, dst)
	}
	if o.Dev != "" {
		fmt.Fprintf(w, "from %s %s: ", pr(rep.Src), o.Dev)
	}
	if dst.Is4() {
		fmt.Fprintf(w, "%d(%d) bytes of data.\n", o.Size, o.Size+28)
	} else {
		fmt.Fprintf(w, "%d data bytes\n", o.Size)
	}

	interval := time.Duration(o.Interval * float64(time.Second))
	linger := time.Duration(o.Wait * float64(time.Second))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// -w arms a timer when ping starts (iputils' setitimer in setup());
	// when it fires ping stops as on an interrupt.
	if o.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(o.Deadline)*time.Second)
		defer cancel()
	}
	p := &pinger{main: c, answers: make(chan pingAnswer), done: make(chan struct{})}
	defer p.close(req)
	// pw and pe get the lines about each request, which -q leaves out.
	pw, pe := w, o.F.IO.ErrOut
	if o.Quiet {
		pw, pe = io.Discard, io.Discard
	}
	var st pingStats
	// The time printed is from the start to the last request sent
	// (iputils: cur_time - start_time), not to the end of the wait.
	start := time.Now()
	lastSent := start
	var exitAt <-chan time.Time // iputils' __schedule_exit timer
	exitArmed := false
	var held []pingAnswer
	// answer prints one answer as iputils does when it reads it.
	var answer func(a pingAnswer) error
	// release answers the held batch, in order.
	release := func() error {
		slices.SortFunc(held, func(a, b pingAnswer) int { return a.seq - b.seq })
		for _, a := range held {
			if err := answer(a); err != nil {
				return err
			}
		}
		held = held[:0]
		return nil
	}
	answer = func(a pingAnswer) error {
		p.idle = append(p.idle, a.conn)
		if e, ok := Errno(a.err); ok {
			// A send that fails once ping runs (the route or the link
			// went away) is a hard local error of that packet alone:
			// iputils' pinger counts it as sent, reports it with
			// perror("ping: sendmsg") and goes on.
			fmt.Fprintf(pe, "ping: sendmsg: %s\n", Strerror(e))
			return nil
		}
		if a.err != nil {
			return opError("ping", a.err)
		}
		rep, seq := a.rep, a.seq
		switch rep.Status {
		case netlinkx.PingReplied:
			st.received++
			st.acknowledge(seq)
			us := int64(rep.RTTNs / 1000)
			st.rtts = append(st.rtts, us)
			st.tmax = max(st.tmax, us)
			fmt.Fprintf(pw, "%d bytes from %s: icmp_seq=%d ttl=%d time=%s ms\n", rep.Bytes, pr(rep.From), seq, rep.TTL, rttString(us))
		case netlinkx.PingUnreachable:
			// The kernel's host unreachable, read from the error
			// queue: ping acknowledges it for IPv4 (ping.c), not for
			// IPv6 (ping6_common.c).
			st.errs++
			if dst.Is4() {
				st.acknowledge(seq)
				fmt.Fprintf(pw, "From %s icmp_seq=%d Destination Host Unreachable\n", pr(rep.Src), seq)
			} else {
				fmt.Fprintf(pw, "From %s icmp_seq=%d Destination unreachable: Address unreachable\n", pr(rep.Src), seq)
			}
		case netlinkx.PingTooLong:
			// EMSGSIZE from sendmsg, which iputils reports with
			// error(3) on stderr; ping and ping6 word it differently.
			st.errs++
			if dst.Is4() {
				fmt.Fprintf(pe, "ping: local error: message too long, mtu=%d\n", rep.MTU)
			} else {
				fmt.Fprintf(pe, "ping: local error: message too long, mtu: %d\n", rep.MTU)
			}
		case netlinkx.PingReasmTimeout:
			// the peer's reassembly timer ran out: iputils' pr_icmph
			// (ping.c) and print_icmp (ping6_common.c)
			st.errs++
			if dst.Is4() {
				st.acknowledge(seq)
				fmt.Fprintf(pw, "From %s icmp_seq=%d Frag reassembly time exceeded\n", pr(rep.From), seq)
			} else {
				fmt.Fprintf(pw, "From %s icmp_seq=%d Time exceeded: Defragmentation failure\n", pr(rep.From), seq)
			}
		case netlinkx.PingFragNeeded:
			st.errs++
			if dst.Is4() {
				st.acknowledge(seq)
				fmt.Fprintf(pw, "From %s icmp_seq=%d Frag needed and DF set (mtu = %d)\n", pr(rep.From), seq, rep.MTU)
			} else {
				fmt.Fprintf(pw, "From %s icmp_seq=%d Packet too big: mtu=%d\n", pr(rep.From), seq, rep.MTU)
			}
		}
		return nil
	}
	// Requests that failed together with their neighbour entry come
	// back on their own connections in any order; the kernel queues
	// their errors in a row and ping reads them so: held keeps them
	// until the last of the batch (Together) came, then they go in
	// order, before the exit checks.
	out := 0 // requests not answered yet
	take := func(a pingAnswer) error {
		out--
		if a.err == nil && a.rep.Status == netlinkx.PingUnreachable && a.rep.Together > 1 {
			held = append(held, a)
			if len(held) < int(a.rep.Together) && out > 0 {
				return nil
			}
		} else if err := answer(a); err != nil {
			return err
		}
		return release()
	}
	nextSend := start
	var sendTimer *time.Timer
loop:
	for {
		// iputils' main_loop: exit on an interrupt or the timers, on
		// COUNT replies and errors, and, with a deadline, on the
		// first error.
		if ctx.Err() != nil {
			break
		}
		if o.Count > 0 && st.received+st.errs >= o.Count || o.Deadline > 0 && st.errs > 0 {
			break
		}
		// pinger: without a deadline, COUNT requests; with one, until
		// one of the exits above.
		more := o.Count == 0 || st.sent < o.Count || o.Deadline > 0
		var sendAt <-chan time.Time
		if more {
			now := time.Now()
			due := !now.Before(nextSend)
			if interval == 0 && st.sent > 0 {
				// -i 0: as soon as nothing is in flight, else
				// every MININTERVAL
				due = st.inFlight() == 0 || now.Sub(lastSent) >= pingMinInterval
				nextSend = lastSent.Add(pingMinInterval)
			}
			if due {
				st.sent++
				lastSent = now
				nextSend = now.Add(interval)
				r := req
				r.Seq = uint16(st.sent)
				r.TimeoutMs = uint32(max(linger, pingMaxWait).Milliseconds())
				if dl, ok := ctx.Deadline(); ok {
					r.TimeoutMs = uint32(max(1, min(int64(r.TimeoutMs), time.Until(dl).Milliseconds())))
				}
				if err := p.send(st.sent, r); err != nil {
					return opError("ping", err)
				}
				out++
				continue
			}
			sendTimer = time.NewTimer(time.Until(nextSend))
			sendAt = sendTimer.C
		} else if !exitArmed {
			// __schedule_exit, once the last request is out: wait
			// twice the longest round trip (at least the interval)
			// when a reply came, else the linger time.
			exitArmed = true
			wait := linger
			if st.received > 0 {
				wait = max(2*time.Duration(st.tmax)*time.Microsecond, interval)
			}
			exitTimer := time.NewTimer(wait)
			defer exitTimer.Stop()
			exitAt = exitTimer.C
		}
		select {
		case <-ctx.Done():
		case <-exitAt:
			// as SIGALRM: the loop ends
			break loop
		case <-sendAt:
		case a := <-p.answers:
			if err := take(a); err != nil {
				return err
			}
			// what else came meanwhile is read before the exit checks,
			// as iputils drains its socket
			for drained := false; !drained; {
				select {
				case a := <-p.answers:
					if err := take(a); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
		}
		if sendTimer != nil {
			sendTimer.Stop()
			sendTimer = nil
		}
	}
	// a batch cut short by the end still came before it
	if err := release(); err != nil {
		return err
	}
	elapsed := (lastSent.Sub(start) + time.Millisecond/2).Milliseconds()
	fmt.Fprintf(w, "\n--- %s ping statistics ---\n", o.Dst)
	errText := ""
	if st.errs > 0 {
		errText = fmt.Sprintf(", +%d errors", st.errs)
	}
	fmt.Fprintf(w, "%d packets transmitted, %d received%s", st.sent, st.received, errText)
	if st.sent > 0 { // iputils prints loss and time only once something was sent
		fmt.Fprintf(w, ", %s%% packet loss, time %dms", lossPercent(st.sent, st.received), elapsed)
	}
	fmt.Fprintln(w)
	// the last line: the round trips, the pipe, or nothing, and its
	// newline either way
	comma := ""
	if st.received > 0 {
		fmt.Fprintf(w, "rtt min/avg/max/mdev = %s ms", rttSummary(st.rtts))
		comma = ", "
	}
	if st.pipe > 1 {
		fmt.Fprintf(w, "%spipe %d", comma, st.pipe)
	}
	fmt.Fprintln(w)
	// iputils: return !nreceived || (deadline && nreceived < npackets)
	if st.received == 0 || o.Deadline > 0 && st.received < o.Count {
		return &SilentError{Status: ExitFailure}
	}
	return nil
}

// lossPercent is iputils' loss figure: a float computed in single
// precision and printed with %g (66.6667, 100, 0).
func lossPercent(sent, received int) string {
	loss := float32(float64(sent-received) * 100.0 / float64(sent))
	return strconv.FormatFloat(float64(loss), 'g', 6, 32)
}

// flagText is a flag's value as the command line gave it, for messages.
func flagText(cmd *cobra.Command, name string) string {
	if cmd == nil {
		return ""
	}
	return cmd.Flags().Lookup(name).Value.String()
}

func addrString(a netip.Addr) string {
	if a.IsValid() {
		return a.String()
	}
	return "?"
}

// rttString is iputils' time format for a round trip of us microseconds:
// exact below 1 ms (0.045), then rounded to three significant digits
// (1.23, 12.3, 123).
func rttString(us int64) string {
	switch {
	case us >= 100000-50:
		return fmt.Sprintf("%d", (us+500)/1000)
	case us >= 10000-5:
		return fmt.Sprintf("%d.%01d", (us+50)/1000, ((us+50)%1000)/100)
	case us >= 1000:
		return fmt.Sprintf("%d.%02d", (us+5)/1000, ((us+5)%1000)/10)
	}
	return fmt.Sprintf("%d.%03d", us/1000, us%1000)
}

// rttSummary is the figures of iputils' "rtt min/avg/max/mdev" line, in
// integer microseconds as it computes them: the average truncated, the
// deviation the integer square root of the variance.
func rttSummary(us []int64) string {
	minv, maxv, sum, sum2 := us[0], us[0], int64(0), int64(0)
	for _, t := range us {
		minv, maxv = min(minv, t), max(maxv, t)
		sum += t
		sum2 += t * t
	}
	n := int64(len(us))
	avg := sum / n
	var variance int64
	if sum < math.MaxInt32 {
		variance = (sum2 - sum*sum/n) / n
	} else {
		variance = sum2/n - avg*avg
	}
	mdev := int64(math.Sqrt(float64(max(variance, 0))))
	for mdev*mdev > variance {
		mdev--
	}
	for (mdev+1)*(mdev+1) <= variance {
		mdev++
	}
	f := func(v int64) string { return fmt.Sprintf("%d.%03d", v/1000, v%1000) }
	return f(minv) + "/" + f(avg) + "/" + f(maxv) + "/" + f(mdev)
}

// pmtuModes are -M's values, built on first use.
var pmtuModes = sync.OnceValue(func() map[string]uint8 {
	return map[string]uint8{"want": netlinkx.PMTUDiscWant, "do": netlinkx.PMTUDiscDo, "dont": netlinkx.PMTUDiscDont}
})

// pingMan is the page text of ibctl-ping(8).
var pingMan = ManDoc{
	Synopsis: []string{
		"ibctl [ -n NODE ] ping [ -n ] [ -q ] [ -I DEV ] [ -c COUNT ] [ -w DEADLINE ] [ -s SIZE ] [ -i SEC ] [ -W SEC ] [ -M { do | dont | want } ] ADDRESS",
	},
	Examples: []ManItem{
		{"ibctl ping -c 3 10.0.0.2", "Sends three echo requests to 10.0.0.2 and prints ping's statistics."},
		{"ibctl -n node1 ping -I ib0 -s 4000 -M do 10.0.0.1", "From node1, sends echoes of 4000 bytes that must not be fragmented."},
		{"ibctl ping -c 1 fe80::202:c903:0:1001%ib0", "Pings a link-local IPv6 address through ib0."},
	},
	ExitStatus: []ManItem{
		{"0", "A reply came (with -w and -c, COUNT replies came before the deadline)."},
		{"1", "No reply came, or fewer than COUNT by the deadline."},
		{"2", "Any other error: a usage error, an unknown interface, no route."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-route(8)", "ibctl-neigh(8)", "ping(8)"},
}
