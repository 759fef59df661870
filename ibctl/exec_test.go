package ibctl

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/driver"
	"github.com/ibctl/ibctl/driver/fabric"
)

func TestExecParse(t *testing.T) {
	checkParse(t, []parseCase{
		{argv: "true", want: ExecOptions{Args: []string{"true"}}},
		{argv: "-- ip -n x link", want: ExecOptions{Args: []string{"ip", "-n", "x", "link"}}},
		{argv: "ip -j link show dev ib0", want: ExecOptions{Args: []string{"ip", "-j", "link", "show", "dev", "ib0"}}},
		{argv: "bash -c 'exit 3'", want: ExecOptions{Args: []string{"bash", "-c", "exit 3"}}},
		{argv: "", err: "exec: missing command"},
		{argv: "--", err: "exec: missing command"},
		{argv: "-x true", err: "unknown shorthand flag: 'x' in -x"},
	}, NewCmdExec, func(o *ExecOptions) { o.F, o.NetnsDir, o.FuseDevice, o.Euid = nil, "", "", nil })
}

// execEnv is an in-process driver whose nodes have names no namespace
// under /run/netns has.
func execEnv(t *testing.T) *env {
	topo := fabric.DefaultTopology()
	topo.Nodes[0].Name, topo.Nodes[1].Name = "xq0", "xq1"
	return newEnvWith(t, driver.Options{Topology: topo})
}

// TestExecNeeds checks the one-line errors for what exec needs and does
// not find, before anything is entered or mounted.
func TestExecNeeds(t *testing.T) {
	e := execEnv(t)
	noNetns := t.TempDir()
	tests := []struct {
		name  string
		node  string
		o     ExecOptions
		want  string
		state int
	}{
		{name: "not root", o: ExecOptions{Euid: func() int { return 1000 }, FuseDevice: "/dev/null", NetnsDir: noNetns},
			want: "exec: needs root (to enter a network namespace and mount sysfs and FUSE)"},
		{name: "no fuse", o: ExecOptions{Euid: func() int { return 0 }, FuseDevice: filepath.Join(noNetns, "fuse"), NetnsDir: noNetns},
			want: "exec: no FUSE device " + filepath.Join(noNetns, "fuse") + ": No such file or directory"},
		{name: "default node", o: ExecOptions{Euid: func() int { return 0 }, FuseDevice: "/dev/null", NetnsDir: noNetns},
			want: "exec: network namespace ibctl-xq0 not found: start the driver with --netns"},
		{name: "node xq1", node: "xq1", o: ExecOptions{Euid: func() int { return 0 }, FuseDevice: "/dev/null", NetnsDir: noNetns},
			want: "exec: network namespace ibctl-xq1 not found: start the driver with --netns"},
		{name: "no such node", node: "zz", o: ExecOptions{Euid: func() int { return 0 }, FuseDevice: "/dev/null", NetnsDir: noNetns},
			want: "node zz: No such file or directory (no node \"zz\" in the fabric)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := e.factory(&IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
			f.Globals.Node = tt.node
			o := tt.o
			o.F, o.Client, o.Args = f, connector(f), []string{"true"}
			err := execRun(&o)
			if err == nil || err.Error() != tt.want || ExitStatus(err) != ExitFailure {
				t.Errorf("err %v (status %d), want %q (status 1)", err, ExitStatus(err), tt.want)
			}
		})
	}
}

// TestExecNodeFlag checks, through the whole command line, that the node
// reaches exec given before the command or after it.
func TestExecNodeFlag(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("exec checks for root before it looks for the namespace")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("exec checks for /dev/fuse before it looks for the namespace: %v", err)
	}
	e := execEnv(t)
	for _, line := range []string{"exec true", "-n xq1 exec true", "exec -n xq1 -- true", "--node xq1 exec true"} {
		node := "xq1"
		if line == "exec true" {
			node = "xq0"
		}
		_, stderr, status := e.run(line)
		if want := "ibctl: exec: network namespace ibctl-" + node + " not found: start the driver with --netns\n"; stderr != want || status != ExitFailure {
			t.Errorf("%s: status %d, stderr %q; want 1, %q", line, status, stderr, want)
		}
	}
}

func TestExecStatus(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		argv   []string
		status int
		why    string // for a command not started
	}{
		{argv: []string{"true"}},
		{argv: []string{"sh", "-c", "exit 7"}, status: 7},
		{argv: []string{"sh", "-c", "kill -TERM $$"}, status: 128 + 15},
		{argv: []string{"sh", "-c", "kill -KILL $$"}, status: 128 + 9},
		{argv: []string{"ibctl-no-such-command"}, status: 127, why: "command not found"},
		{argv: []string{filepath.Join(dir, "absent")}, status: 127, why: "No such file or directory"},
		{argv: []string{notExec}, status: 126, why: "Permission denied"},
	}
	for _, tt := range tests {
		cmd := exec.Command(tt.argv[0], tt.argv[1:]...)
		if err := cmd.Start(); err != nil {
			status, why := startFailure(err)
			if status != tt.status || why != tt.why {
				t.Errorf("%q: %d %q; want %d %q", tt.argv, status, why, tt.status, tt.why)
			}
			continue
		}
		_ = cmd.Wait()
		if got := exitStatus(cmd.ProcessState); got != tt.status || tt.why != "" {
			t.Errorf("%q: status %d; want %d (not started: %q)", tt.argv, got, tt.status, tt.why)
		}
	}
}
