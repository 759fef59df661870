package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// completionCases are command lines typed up to a TAB and what the shell
// must offer there. The working directory holds a file and a directory
// whose names start as device names do (decoys): a shell that falls back
// to file names offers them.
var completionCases = []struct {
	line string
	want []string // nil: check only that no decoy is offered
}{
	{"ibctl link show dev ", []string{"ib0", "ib0.8001", "ib1"}},
	{"ibctl link show dev ib", []string{"ib0", "ib0.8001", "ib1"}},
	{"ibctl link set ib0 type ipoib mode ", []string{"connected", "datagram"}},
	{"ibctl addr add 10.0.0.1/24 dev ", []string{"ib0", "ib0.8001", "ib1"}},
	{"ibctl ping -I ", []string{"ib0", "ib0.8001", "ib1"}},
	{"ibctl ethtool ", []string{"ib0", "ib0.8001", "ib1"}},
	{"ibctl ethtool -K ib0 ", nil},
	{"ibctl sys read class/net/", []string{"class/net/ib0/", "class/net/ib0.8001/", "class/net/ib1/"}},
	{"ibctl -n ", []string{"node0", "node1"}},
	{"ibctl hca pkeys ", []string{"1", "2"}},
	{"ibctl sm partition add 0x8002 member ", []string{"node0/1", "node0/2", "node1/1", "node1/2"}},
	{"ibctl route get ", []string{}},
	{"ibctl dmesg ", []string{}},
	// where a file is expected, the decoys are offered: the test sees files
	{"ibctl capture -i ib0 -w ", []string{"ibctl/", "ibdecoy"}},
}

// decoys are the working directory's entries, as the shells list them.
var decoys = []string{"ibctl/", "ibdecoy"}

// TestShellCompletion drives the committed completion scripts in the real
// shells: bash (with bash-completion) and zsh under a pseudo-terminal,
// listing the choices at each TAB, and fish with complete -C. Device,
// feature, node, port and sys path completions come from the running
// driver, and none falls back to file names.
func TestShellCompletion(t *testing.T) {
	e := newEnv(t)
	e.ok("link", "add", "link", "ib0", "name", "ib0.8001", "type", "ipoib", "pkey", "0x8001")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "ibctl"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ibdecoy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	scripts, err := filepath.Abs("../completions")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // fish writes its configuration there
	env := append(e.environ(), "PATH="+filepath.Dir(ibctlBin)+":"+os.Getenv("PATH"), "TERM=dumb", "HOME="+home,
		"XDG_CONFIG_HOME="+home, "XDG_DATA_HOME="+home, "LC_ALL=C.UTF-8", "PS1="+prompt)

	shells := []struct {
		name  string
		need  string // a file the shell's completion needs
		setup []string
		list  func(p *ptyShell, line string) []string
	}{
		{"bash", "/usr/share/bash-completion/bash_completion", []string{
			"source /usr/share/bash-completion/bash_completion",
			"source " + scripts + "/ibctl.bash",
			// TAB lists every choice, one per line, without asking
			`bind 'set completion-display-width 0'; bind 'set completion-query-items -1'; bind 'set page-completions off'`,
			`bind 'set enable-bracketed-paste off'; bind '"\t": possible-completions'`,
		}, nil},
		{"zsh", "", []string{
			"unsetopt prompt_sp prompt_cr list_beep; unset zle_bracketed_paste; LISTMAX=10000",
			"autoload -U compinit && compinit -u -D",
			"source " + scripts + "/_ibctl",
			"bindkey '^I' list-choices",
		}, nil},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if _, err := exec.LookPath(sh.name); err != nil {
				t.Skipf("%s is not installed (apt-get install %s)", sh.name, sh.name)
			}
			if sh.need != "" {
				if _, err := os.Stat(sh.need); err != nil {
					t.Skipf("%s: %v (apt-get install bash-completion)", sh.need, err)
				}
			}
			args := []string{"--norc", "--noprofile", "-i"}
			if sh.name == "zsh" {
				args = []string{"-f", "-i"}
			}
			p := startPty(t, dir, env, sh.name, args...)
			for _, l := range sh.setup {
				p.run(t, l)
			}
			for _, c := range completionCases {
				checkChoices(t, c.line, p.choices(t, c.line), c.want)
			}
		})
	}

	t.Run("fish", func(t *testing.T) {
		if _, err := exec.LookPath("fish"); err != nil {
			t.Skip("fish is not installed (apt-get install fish)")
		}
		complete := func(line string) []string {
			cmd := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`, scripts+"/ibctl.fish", line)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("fish complete -C %q: %v", line, err)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if cand, _, _ := strings.Cut(l, "\t"); cand != "" {
					got = append(got, cand)
				}
			}
			return got
		}
		for _, c := range completionCases {
			checkChoices(t, c.line, complete(c.line), c.want)
		}
		// With no driver there is no device to offer, and still no file.
		e.ok("driver", "stop")
		checkChoices(t, "ibctl link show dev ", complete("ibctl link show dev "), []string{})
	})
}

func checkChoices(t *testing.T, line string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	if want == nil {
		for _, d := range decoys {
			if slices.Contains(got, d) {
				t.Errorf("%s<TAB>: file names offered: %q", line, got)
			}
		}
		if len(got) == 0 {
			t.Errorf("%s<TAB>: nothing offered", line)
		}
		return
	}
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%s<TAB>: %q, want %q", line, got, want)
	}
}

// ptyShell is an interactive shell on a pseudo-terminal.
type ptyShell struct {
	master *os.File
	out    bytes.Buffer // read and not yet consumed
	seq    int
}

// startPty starts name with args on a new pseudo-terminal, as its session
// leader with the terminal as its controlling one. The shell is killed at
// the end of the test.
func startPty(t *testing.T, dir string, env []string, name string, args ...string) *ptyShell {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: /dev/ptmx: %v", err)
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx") // non-blocking: deadlines work
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("ptsname: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	// Wide enough that no choice is wrapped.
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 60, Col: 250}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		slave.Close()
		master.Close()
		t.Fatal(err)
	}
	slave.Close()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		master.Close()
	})
	p := &ptyShell{master: master}
	p.readUntil(t, prompt)
	return p
}

// prompt is the shells' prompt: the line editor is ready for input once it
// has been printed. Input typed before is the terminal driver's (no TAB
// completion, Ctrl-U done by the driver).
const prompt = "PROMPT> "

// readUntil reads the terminal until marker was output and returns what
// came before it, consuming both.
func (p *ptyShell) readUntil(t *testing.T, marker string) string {
	t.Helper()
	deadline := time.Now().Add(cmdTimeout)
	buf := make([]byte, 4096)
	for {
		if i := bytes.Index(p.out.Bytes(), []byte(marker)); i >= 0 {
			s := string(p.out.Next(i))
			p.out.Next(len(marker))
			return s
		}
		if err := p.master.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, err := p.master.Read(buf)
		p.out.Write(buf[:n])
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no %q from the shell after %v; it wrote:\n%q", marker, cmdTimeout, p.out.String())
		}
		if err != nil && n == 0 {
			t.Fatalf("reading the terminal: %v; the shell wrote:\n%q", err, p.out.String())
		}
	}
}

// run types a command line and waits until the shell has run it: the
// line then prints a marker, which the echo of the typed line does not
// contain.
func (p *ptyShell) run(t *testing.T, line string) string {
	t.Helper()
	p.seq++
	marker := fmt.Sprintf("DONE_%d", p.seq)
	if _, err := fmt.Fprintf(p.master, "%s; printf 'DONE_%%s\\n' %d\r", line, p.seq); err != nil {
		t.Fatal(err)
	}
	out := p.readUntil(t, marker)
	p.readUntil(t, prompt)
	return out
}

var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[a-zA-Z]|[=>]|\][^\x07]*\x07)|[\a\x08\r]`)

// choices types line, a TAB (which lists the choices), then erases the
// line, and returns the words listed.
func (p *ptyShell) choices(t *testing.T, line string) []string {
	t.Helper()
	p.seq++
	marker := fmt.Sprintf("DONE_%d", p.seq)
	// Ctrl-U erases the line; the printf line marks the end.
	if _, err := fmt.Fprintf(p.master, "%s\t\x15printf 'DONE_%%s\\n' %d\r", line, p.seq); err != nil {
		t.Fatal(err)
	}
	raw := p.readUntil(t, marker)
	p.readUntil(t, prompt)
	out := ansi.ReplaceAllString(raw, "")
	// The listing is between the line as typed and the prompt (redrawn
	// after it) or the next command line (when nothing was listed).
	i := strings.Index(out, line)
	if i < 0 {
		t.Fatalf("%q: the typed line is not in %q", line, out)
	}
	out = out[i+len(line):]
	for _, end := range []string{prompt, "printf 'DONE_"} {
		if j := strings.Index(out, end); j >= 0 {
			out = out[:j]
		}
	}
	return strings.Fields(out)
}
