package ibctl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// A neighbour that never answers: ping sends its requests every interval
// without waiting, they all wait on the entry's solicitations and fail
// together after the third goes unanswered, in order; the statistics
// count the errors and, for IPv4, "pipe 5" (iputils acknowledges ICMP
// errors for IPv4 only). -q prints the statistics alone; a linger time
// shorter than the resolution ends ping with no error.
func TestPingUnresolvedGolden(t *testing.T) {
	e := newEnv(t)
	e.ok("link set ib0 up", "addr add 10.0.0.1/24 dev ib0", "addr add fd00::1/64 dev ib0")
	golden(t, "ping_unresolved", e.transcript(
		"ping -c 5 -i 0.2 10.0.0.9",
		"ping -c 5 -i 0.2 fd00::9",
		"ping -q -c 3 -i 0.2 10.0.0.8",
		"ping -c 2 -i 0.2 -W 0.5 10.0.0.7",
	))
}

// pingLine is one line of ping's output and when it came, from the start.
type pingLine struct {
	text string
	at   time.Duration
}

// timedLines reads r line by line, stamping each with the time since
// start.
func timedLines(r io.Reader, start time.Time) []pingLine {
	var lines []pingLine
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines = append(lines, pingLine{sc.Text(), time.Since(start)})
	}
	return lines
}

// lineWriter keeps each complete line written to it with the time since
// start, so that ibctl's lines are stamped as they are printed.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	start time.Time
	lines []pingLine
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		i := bytes.IndexByte(w.buf.Bytes(), '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines = append(w.lines, pingLine{string(w.buf.Next(i + 1)[:i]), time.Since(w.start)})
	}
}

// pingMask replaces what differs between two runs of ping to different
// addresses: addresses and measured times.
var pingMask = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b10\.\d+\.\d+\.\d+\b`), "A4"},
	{regexp.MustCompile(`\bfd00::[0-9a-f]+\b`), "A6"},
	{regexp.MustCompile(`time \d+ms`), "time Xms"},
}

func maskPing(s string) string {
	for _, m := range pingMask {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}

// firstError is when the first "From ..." line came.
func firstError(lines []pingLine) (time.Duration, bool) {
	for _, l := range lines {
		if strings.HasPrefix(l.text, "From ") {
			return l.at, true
		}
	}
	return 0, false
}

// The kernel's ping (iputils) to an unused address on a veth of a network
// namespace, and ibctl's to an unused address on the emulated ib0's
// subnet, with the same arguments: the same lines (addresses and times
// masked), errors, pipe and exit status, and the first error about 3 s
// after the start in both (as a ratio, within 0.5–2×, measured in the
// same run).
func TestPingUnresolvedMatchesPing(t *testing.T) {
	ns := ipTestNetns(t, "ping", "ping")
	ipNetns(t, ns, "link", "set", "lo", "up") // the kernel's ICMP errors to itself go over lo
	ipNetns(t, ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	ipNetns(t, ns, "link", "set", "v0", "up")
	ipNetns(t, ns, "link", "set", "v1", "up")
	ipNetns(t, ns, "addr", "add", "10.9.0.1/24", "dev", "v0")
	ipNetns(t, ns, "addr", "add", "fd00::1/64", "dev", "v0", "nodad")
	e := newEnv(t)
	e.ok("link set ib0 up", "addr add 10.0.0.1/24 dev ib0", "addr add fd00::1/64 dev ib0")
	for _, tc := range []struct {
		args         []string
		real, ibctl  string
		wantErrors   string
		wantPipeLine bool
	}{
		{[]string{"-c", "5", "-i", "0.2"}, "10.9.0.99", "10.0.0.99", "+5 errors", true},
		{[]string{"-c", "5", "-i", "0.2"}, "fd00::99", "fd00::99", "+5 errors", false},
	} {
		name := strings.Join(tc.args, " ") + " " + tc.ibctl
		t.Run(name, func(t *testing.T) {
			// the real one
			cmd := exec.Command("ip", append(append([]string{"netns", "exec", ns, "ping"}, tc.args...), tc.real)...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errb bytes.Buffer
			cmd.Stderr = &errb
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			realLines := timedLines(stdout, start)
			err = cmd.Wait()
			realStatus := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				realStatus = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			// ibctl's
			w := &lineWriter{start: time.Now()}
			var ibErr bytes.Buffer
			args := append(append([]string{"ping"}, tc.args...), tc.ibctl)
			ibStatus := Run(e.factory(&IOStreams{In: strings.NewReader(""), Out: w, ErrOut: &ibErr}), args)

			join := func(lines []pingLine) string {
				var b strings.Builder
				for _, l := range lines {
					b.WriteString(maskPing(l.text) + "\n")
				}
				return b.String()
			}
			realOut, ibOut := join(realLines), join(w.lines)
			if realOut != ibOut || realStatus != ibStatus || errb.String() != ibErr.String() {
				t.Fatalf("ping %s:\n--- ping (%d) ---\n%s%s--- ibctl (%d) ---\n%s%s", name, realStatus, realOut, errb.String(),
					ibStatus, ibOut, ibErr.String())
			}
			// what the comparison must have seen, lest both be wrong alike
			if !strings.Contains(ibOut, ", "+tc.wantErrors+", ") || strings.Contains(ibOut, "pipe 5\n") != tc.wantPipeLine || ibStatus != 1 {
				t.Fatalf("ping %s: want %s, pipe line %v, status 1:\n%s", name, tc.wantErrors, tc.wantPipeLine, ibOut)
			}
			rt, ok1 := firstError(realLines)
			it, ok2 := firstError(w.lines)
			if !ok1 || !ok2 {
				t.Fatalf("no error line: ping %v, ibctl %v", ok1, ok2)
			}
			if ratio := float64(it) / float64(rt); ratio < 0.5 || ratio > 2 {
				t.Errorf("first error after %v with ibctl, %v with ping: ratio %.2f, want 0.5–2", it, rt, ratio)
			}
			t.Logf("first error: ping %v, ibctl %v", rt, it)
		})
	}
}
