package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cmdTimeout bounds every ibctl process a test runs.
const cmdTimeout = 60 * time.Second

// env is one driver instance: its socket and state directory, passed to
// every ibctl process through IBCTL_SOCKET and IBCTL_STATE_DIR.
type env struct {
	t     testing.TB
	sock  string
	state string
}

// newEnv returns an environment with no driver running. The socket lives
// in a short directory of its own (unix socket paths must stay under 108
// bytes); its cleanup stops the driver and kills whatever survives.
func newEnv(t testing.TB) *env {
	t.Helper()
	state := filepath.Join(t.TempDir(), "state")
	sockDir, err := os.MkdirTemp("", "ibe")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sock: filepath.Join(sockDir, "s"), state: state}
	t.Cleanup(func() {
		e.shutdown()
		os.RemoveAll(sockDir)
	})
	return e
}

// environ is the environment of an ibctl process of e.
func (e *env) environ() []string {
	return append(os.Environ(),
		"IBCTL_SOCKET="+e.sock,
		"IBCTL_STATE_DIR="+e.state,
		// The race runtime sleeps a second at exit by default.
		"GORACE=atexit_sleep_ms=0",
	)
}

// result is how one ibctl process ended.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int // -1 when the process did not exit normally
	err    error
}

func (r result) String() string {
	return fmt.Sprintf("ibctl %s: exit %d (%v)\nstdout:\n%sstderr:\n%s", strings.Join(r.args, " "), r.code, r.err, r.stdout, r.stderr)
}

// command prepares an ibctl process of e; stdin may be empty.
func (e *env) command(ctx context.Context, stdin string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, ibctlBin, args...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	return cmd, &out, &errb
}

// finish turns a finished process into a result.
func finish(args []string, err error, out, errb *bytes.Buffer) result {
	r := result{args: args, stdout: out.String(), stderr: errb.String(), err: err}
	var ee *exec.ExitError
	switch {
	case err == nil:
		r.code = 0
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		r.code = -1
	}
	return r
}

// run runs one ibctl process to completion. It is safe to call from any
// goroutine: it reports nothing to the test.
func (e *env) run(stdin string, args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd, out, errb := e.command(ctx, stdin, args...)
	return finish(args, cmd.Run(), out, errb)
}

// ok runs ibctl and fails the test unless it exits 0 with nothing on
// standard error; it returns standard output.
func (e *env) ok(args ...string) string {
	e.t.Helper()
	r := e.run("", args...)
	if r.code != 0 || r.stderr != "" {
		e.t.Fatalf("%v", r)
	}
	return r.stdout
}

// status is `ibctl -j driver status`.
type status struct {
	Running  bool     `json:"running"`
	PID      int      `json:"pid"`
	Socket   string   `json:"socket"`
	StateDir string   `json:"state_dir"`
	Nodes    []string `json:"nodes"`
	Links    int      `json:"links"`
}

// status asks the driver for its status; Running is false when none
// answers.
func (e *env) status() (status, error) {
	r := e.run("", "-j", "driver", "status")
	var st status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		return st, fmt.Errorf("driver status: %v\n%v", err, r)
	}
	if st.Running != (r.code == 0) {
		return st, fmt.Errorf("driver status: running=%v with %v", st.Running, r)
	}
	return st, nil
}

// status0 is the driver status; the test fails when none answers.
func (e *env) status0() status {
	e.t.Helper()
	st, err := e.status()
	if err != nil || !st.Running {
		e.t.Fatalf("driver status: %+v, %v", st, err)
	}
	return st
}

// driverPID is the pid of the running driver; the test fails when none
// answers.
func (e *env) driverPID() int {
	e.t.Helper()
	st, err := e.status()
	if err != nil {
		e.t.Fatal(err)
	}
	if !st.Running || st.PID <= 0 {
		e.t.Fatalf("driver status: not running: %+v", st)
	}
	return st.PID
}

// kill SIGKILLs the driver serving e (checking that pid is one of e's
// drivers) and waits until it is gone.
func (e *env) kill(pid int) {
	e.t.Helper()
	if !slices.Contains(pidsOf(e.drivers()), pid) {
		e.t.Fatalf("pid %d is not a driver of %s (drivers: %v)", pid, e.sock, e.drivers())
	}
	if !killAndWait(pid, 10*time.Second) {
		e.t.Fatalf("driver %d still alive 10s after SIGKILL", pid)
	}
}

// drivers lists the live `ibctl driver start --foreground` processes
// serving e's socket.
func (e *env) drivers() []proc {
	var out []proc
	for _, p := range procsOf("") {
		if isDriverFor(p.args, e.sock) {
			out = append(out, p)
		}
	}
	return out
}

func isDriverFor(args []string, sock string) bool {
	i := slices.Index(args, "--socket")
	return len(args) > 3 && args[1] == "driver" && args[2] == "start" && slices.Contains(args, "--foreground") &&
		i > 0 && i+1 < len(args) && args[i+1] == sock
}

// shutdown is the cleanup of an env: `ibctl driver stop`, then SIGKILL
// for a driver that did not exit and for any other process on the socket.
// The driver log must show no data race and no panic.
func (e *env) shutdown() {
	t := e.t
	st, err := e.status()
	if err != nil {
		t.Errorf("cleanup: %v", err)
	}
	if r := e.run("", "driver", "stop"); r.code != 0 {
		t.Errorf("cleanup: %v", r)
	}
	if st.Running && !waitGone(st.PID, 5*time.Second) {
		t.Errorf("cleanup: driver %d alive 5s after driver stop; killing it", st.PID)
		killAndWait(st.PID, 5*time.Second)
	}
	// Drivers that lost a spawn race exit on their own, promptly.
	deadline := time.Now().Add(5 * time.Second)
	for left := e.drivers(); len(left) > 0; left = e.drivers() {
		if time.Now().After(deadline) {
			for _, p := range left {
				t.Errorf("cleanup: leftover driver %d: %s", p.pid, p.cmdline)
				killAndWait(p.pid, 5*time.Second)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b, err := os.ReadFile(filepath.Join(e.state, "driver.log")); err == nil {
		if bytes.Contains(b, []byte("WARNING: DATA RACE")) || bytes.Contains(b, []byte("panic:")) {
			t.Errorf("driver log %s:\n%s", filepath.Join(e.state, "driver.log"), b)
		}
	}
}

// link is the part of an `ibctl -j link show` entry the tests compare.
type link struct {
	Index    int    `json:"ifindex"`
	Name     string `json:"ifname"`
	Parent   string `json:"link"`
	MTU      int    `json:"mtu"`
	LinkInfo struct {
		Kind string `json:"info_kind"`
		Data struct {
			Key    string `json:"key"`
			Mode   string `json:"mode"`
			Umcast string `json:"umcast"`
		} `json:"info_data"`
	} `json:"linkinfo"`
}

// String is "name@parent pkey", the identity the tests compare.
func (l link) String() string {
	name := l.Name
	if l.Parent != "" {
		name += "@" + l.Parent
	}
	return name + " " + l.LinkInfo.Data.Key
}

// links runs `ibctl -j [args] link show`.
func (e *env) links(args ...string) []link {
	e.t.Helper()
	out := e.ok(append(append([]string{"-j"}, args...), "link", "show")...)
	var ls []link
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		e.t.Fatalf("link show -j: %v\n%s", err, out)
	}
	return ls
}

// linkIDs are the sorted "name@parent pkey" strings of ls.
func linkIDs(ls []link) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.String()
	}
	slices.Sort(out)
	return out
}

// proc is a live process.
type proc struct {
	pid     int
	args    []string
	cmdline string
}

func pidsOf(ps []proc) []int {
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = p.pid
	}
	return out
}

// procsOf lists live (not zombie) processes whose argv[0] is exe, or all
// of them when exe is empty.
func procsOf(exe string) []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || len(b) == 0 || !alive(pid) {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if exe != "" && args[0] != exe {
			continue
		}
		out = append(out, proc{pid: pid, args: args, cmdline: strings.Join(args, " ")})
	}
	return out
}

// alive reports whether pid exists and is not a zombie. Drivers are
// spawned detached, so they are not the test's children and are reaped
// by init.
func alive(pid int) bool {
	// After SIGKILL the thread-group leader can be a zombie while other
	// threads still run do_exit with the process's files (the driver's
	// socket) open: the process is gone only when every thread is.
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, task := range tasks {
		if taskAlive(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name())) {
			return true
		}
	}
	return false
}

// taskAlive reports whether the task whose stat file is path exists and
// is neither a zombie nor dead.
func taskAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

// waitGone polls until pid is gone or a zombie.
func waitGone(pid int, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); alive(pid); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// killAndWait SIGKILLs pid and waits until it is gone.
func killAndWait(pid int, timeout time.Duration) bool {
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return false
	}
	return waitGone(pid, timeout)
}

// testSeed is $E2E_SEED, else a fresh seed; tests log it so that a
// failure can be replayed.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("E2E_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("E2E_SEED: %v", err)
		}
		return v
	}
	return uint64(time.Now().UnixNano())
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}
