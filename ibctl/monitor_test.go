package ibctl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/daemon"
	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// lineBuffer collects what a monitor prints and wakes whoever waits for
// it.
type lineBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	more chan struct{}
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	select {
	case b.more <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// monitoring is a monitor running on a connection of its own.
type monitoring struct {
	out    *lineBuffer
	errs   bytes.Buffer
	done   chan struct{}
	status int
	cancel context.CancelFunc
}

// monitorTime is the fixed time the tests' monitors stamp events with.
var monitorTime = time.Date(2026, 12, 7, 16, 49, 58, 123456789, time.UTC)

// startMonitor runs "monitor ARGS" on node0 and returns once the driver
// has subscribed it (or it failed).
func (e *env) startMonitor(args string) *monitoring {
	e.t.Helper()
	c, err := netlinkx.Pipe(daemon.Backend(e.drv))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	m := &monitoring{out: &lineBuffer{more: make(chan struct{}, 1)}, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	e.t.Cleanup(cancel)
	ready := make(chan struct{})
	f := &Factory{IO: &IOStreams{In: strings.NewReader(""), Out: m.out, ErrOut: &m.errs}, Globals: &Globals{},
		Executable: func() (string, error) { return "", os.ErrNotExist }}
	f.Connect = func(*Globals) (*netlinkx.Client, error) { return c, nil }
	argv, err := splitLine(args)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := NewCmdMonitor(f, func(o *MonitorOptions) error {
		o.loc, o.now = time.UTC, func() time.Time { return monitorTime }
		o.started = func() { close(ready) }
		return o.monitor(ctx, c)
	})
	// the global options, as the root command has them
	root := &cobra.Command{Use: "ibctl"}
	addIPFlags(root.PersistentFlags(), f.Globals)
	root.AddCommand(cmd)
	go func() {
		defer close(m.done)
		root.SetArgs(append([]string{"monitor"}, argv...))
		root.SilenceUsage, root.SilenceErrors = true, true
		err := root.Execute()
		if err != nil {
			m.errs.WriteString("ibctl: " + err.Error() + "\n")
		}
		m.status = ExitStatus(err)
	}()
	select {
	case <-ready:
	case <-m.done:
	}
	return m
}

// waitFor waits until the monitor printed want, or fails after a while.
func (m *monitoring) waitFor(t *testing.T, want string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got := m.out.String()
		if len(got) >= len(want) {
			return got
		}
		select {
		case <-m.out.more:
		case <-m.done:
			return m.out.String()
		case <-deadline:
			return m.out.String()
		}
	}
}

// stop interrupts the monitor and waits for its end.
func (m *monitoring) stop(t *testing.T) {
	t.Helper()
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		t.Fatal("monitor did not end")
	}
}

// The IPoIB addresses of node0's ib0 and its 0x8001 child in the events.
const (
	monIB0   = "    link/infiniband 80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01 brd 00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff\n"
	monChild = "    link/infiniband 80:00:00:4a:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:10:01 brd 00:ff:ff:ff:ff:12:40:1b:80:01:00:00:00:00:00:00:ff:ff:ff:ff\n"
	monLft   = "       valid_lft forever preferred_lft forever\n"
)

// TestMonitor: each object's events as ip monitor prints them, the
// labels, the timestamps and the dev filter.
func TestMonitor(t *testing.T) {
	for _, tc := range []struct {
		name, setup, args, cmds, want string
	}{
		{"link", "", "link", "link add link ib0 name ib0.8001 type ipoib pkey 0x8001;link del ib0.8001",
			"4: ib0.8001@ib0: <BROADCAST,MULTICAST,M-DOWN> mtu 4092 qdisc noop state DOWN group default \n" + monChild +
				"Deleted 4: ib0.8001@ib0: <BROADCAST,MULTICAST,M-DOWN> mtu 4092 qdisc noop state DOWN group default \n" + monChild},
		{"address label", "", "address label", "addr add 10.0.0.1/24 dev ib0;addr del 10.0.0.1/24 dev ib0",
			"[ADDR]2: ib0    inet 10.0.0.1/24 scope global ib0\n" + monLft +
				"[ADDR]Deleted 2: ib0    inet 10.0.0.1/24 scope global ib0\n" + monLft},
		{"route", "addr add 10.0.0.1/24 dev ib0", "ro", "link set ib0 up;link set ib0 down",
			"10.0.0.0/24 dev ib0 proto kernel scope link src 10.0.0.1 linkdown \n" +
				"fe80::/64 dev ib0 proto kernel metric 256 pref medium\n" +
				"Deleted fe80::/64 dev ib0 proto kernel metric 256 pref medium\n" +
				"Deleted 10.0.0.0/24 dev ib0 proto kernel scope link src 10.0.0.1 \n"},
		{"neigh timestamp", "addr add 10.0.0.1/24 dev ib0;link set ib0 up;-n node1 addr add 10.0.0.2/24 dev ib0;-n node1 link set ib0 up",
			"-t neigh", "ping -c 1 10.0.0.2;neigh flush dev ib0",
			"Timestamp: Mon Dec  7 16:49:58 2026 123456 usec\n10.0.0.2 dev ib0 INCOMPLETE \n" +
				"Timestamp: Mon Dec  7 16:49:58 2026 123456 usec\n10.0.0.2 dev ib0 lladdr 80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:00:20:01 REACHABLE \n" +
				"Timestamp: Mon Dec  7 16:49:58 2026 123456 usec\n10.0.0.2 dev ib0 FAILED \n" +
				"Timestamp: Mon Dec  7 16:49:58 2026 123456 usec\nDeleted 10.0.0.2 dev ib0 FAILED \n"},
		{"partition and group", "", "--tshort p g label", "sm partition add 0x8001 mtu 4096 member node0/1;link add link ib0 name ib0.8001 up type ipoib pkey 0x8001;sm partition del 0x8001",
			"[2026-12-07T16:49:58.123456] [PARTITION]partition 0x8001 ib_mtu 4096\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]group ff12:401b:8001:0:0:0:ffff:ffff mlid 0xc001 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]group ff12:601b:8001:0:0:0:0:1 mlid 0xc002 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]group ff12:401b:8001:0:0:0:0:1 mlid 0xc003 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]group ff12:601b:8001:0:0:1:ff00:1001 mlid 0xc004 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]Deleted group ff12:401b:8001:0:0:0:0:1 mlid 0xc003 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]Deleted group ff12:401b:8001:0:0:0:ffff:ffff mlid 0xc001 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]Deleted group ff12:601b:8001:0:0:0:0:1 mlid 0xc002 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [GROUP]Deleted group ff12:601b:8001:0:0:1:ff00:1001 mlid 0xc004 pkey 0x8001 member node0/1 full\n" +
				"[2026-12-07T16:49:58.123456] [PARTITION]Deleted partition 0x8001 ib_mtu 4096\n"},
		{"dev", "link add link ib0 name ib0.8001 type ipoib pkey 0x8001", "link dev ib0.8001", "link set ib0 mtu 1500;link set ib0.8001 mtu 1500",
			"4: ib0.8001@ib0: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN group default \n" + monChild},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != "" {
				e.ok(strings.Split(tc.setup, ";")...)
			}
			m := e.startMonitor(tc.args)
			for _, l := range strings.Split(tc.cmds, ";") {
				e.run(l)
			}
			got := m.waitFor(t, tc.want)
			m.stop(t)
			if got != tc.want || m.errs.String() != "" || m.status != 0 {
				t.Errorf("got\n%s\nwant\n%s\nstderr %q status %d", got, tc.want, m.errs.String(), m.status)
			}
		})
	}
}

// TestMonitorArgs: objects and options ip monitor refuses, refused the
// same way, and -j ignored as ip ignores it.
func TestMonitorArgs(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ cmd, errs string }{
		{"monitor bogus", "ibctl: monitor: Argument \"bogus\" is unknown, try \"ibctl monitor help\".\n"},
		{"monitor netconf", "ibctl: monitor: netconf: not supported (the driver has no such events)\n"},
		{"monitor link dev", "ibctl: monitor: Command line is not complete. Try \"ibctl monitor help\".\n"},
		{"monitor help", "ibctl: " + monitorUsage + "\n"},
		{"monitor dev nosuch", "ibctl: monitor: Error: argument \"nosuch\" is wrong: Device does not exist\n"},
	} {
		out, errs, st := e.run(tc.cmd)
		if out != "" || errs != tc.errs || st != 2 {
			t.Errorf("%s: %q %q %d, want %q 2", tc.cmd, out, errs, st, tc.errs)
		}
	}
	m := e.startMonitor("link")
	e.ok("link set ib0 mtu 1500")
	want := "2: ib0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN group default \n" + monIB0
	if got := m.waitFor(t, want); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	m.stop(t)
}

// TestMonitorEnds: an interrupt ends a monitor with status 0 and nothing
// more printed; the driver stopping ends it with a one-line error,
// status 1.
func TestMonitorEnds(t *testing.T) {
	e := newEnv(t)
	m := e.startMonitor("")
	m.stop(t)
	if m.out.String() != "" || m.errs.String() != "" || m.status != 0 {
		t.Errorf("interrupted: %q %q %d", m.out.String(), m.errs.String(), m.status)
	}
	m = e.startMonitor("")
	e.drv.Stop()
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		t.Fatal("monitor did not end with the driver")
	}
	if m.out.String() != "" || m.errs.String() != "ibctl: monitor: the driver stopped\n" || m.status != 1 {
		t.Errorf("driver stopped: %q %q %d", m.out.String(), m.errs.String(), m.status)
	}
}

// TestMonitorSlowReader: a subscriber that does not read holds nothing
// up: changes go on beyond what its queue holds, the rest is dropped and
// counted in the driver's log when it ends.
func TestMonitorSlowReader(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	e := newEnvWith(t, driver.Options{Log: func(s string) { mu.Lock(); logged = append(logged, s); mu.Unlock() }})
	c, err := netlinkx.Pipe(daemon.Backend(e.drv))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- c.Monitor(ctx, netlinkx.MonitorLink, func() { close(ready) }, func(netlinkx.MonitorEvent) error {
			<-release // a reader that does not read
			return nil
		})
	}()
	<-ready
	const changes = 3000 // each a link event: more than the driver queues
	for i := 0; i < changes; i++ {
		e.ok(fmt.Sprintf("link set ib0 mtu %d", 1500+i%2))
	}
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("monitor: %v", err)
	}
	e.ok("link show ib0") // the driver answers: the subscriber is gone
	mu.Lock()
	defer mu.Unlock()
	found := false
	for _, l := range logged {
		found = found || strings.HasPrefix(l, "node0 monitor: ") && strings.HasSuffix(l, " events dropped for a reader that fell behind")
	}
	if !found {
		t.Errorf("no drop counted in the log: %q", logged)
	}
}
