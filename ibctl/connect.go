package ibctl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ibctl/ibctl/internal/privdir"
	"github.com/ibctl/ibctl/netlinkx"
)

// spawnTimeout bounds the wait for a spawned driver to answer.
const spawnTimeout = 10 * time.Second

// socketPath is --socket, else the default.
func (g *Globals) socketPath() string {
	if g.Socket != "" {
		return g.Socket
	}
	return privdir.DefaultSocket()
}

// stateDir is --state-dir, else the default.
func (g *Globals) stateDir() string {
	if g.StateDir != "" {
		return g.StateDir
	}
	return privdir.DefaultStateDir()
}

// Connector dials the driver, spawning it when nothing answers, and keeps
// the connection for later commands (a batch reuses it).
type Connector struct {
	Executable func() (string, error)
	client     *netlinkx.Client
	socket     string
	node       string
	stateDir   string
}

// Client returns a connection to g's socket bound to g's node.
func (c *Connector) Client(g *Globals) (*netlinkx.Client, error) {
	sock := g.socketPath()
	if c.client == nil || c.socket != sock {
		if c.client != nil {
			c.client.Close()
			c.client = nil
		}
		cl, err := netlinkx.Dial(sock)
		var pe *netlinkx.PeerError
		if errors.As(err, &pe) {
			return nil, err
		}
		if err != nil {
			if g.NoSpawn {
				return nil, fmt.Errorf("driver: not running at %s (--no-spawn)", sock)
			}
			c.stateDir = g.stateDir()
			if cl, err = c.spawn(sock, nil); err != nil {
				return nil, err
			}
		}
		c.client, c.socket, c.node = cl, sock, ""
	}
	if g.Node != c.node {
		node := g.Node
		if err := c.client.Bind(node); err != nil {
			return nil, opError("node "+node, err)
		}
		c.node = node
	}
	return c.client, nil
}

// spawn starts `ibctl driver start --foreground` detached, with its log in
// the state directory, and waits for the socket to answer. A state or
// socket directory the driver would refuse is refused here first. When two CLIs
// race, the second driver finds the state lock taken and exits; both CLIs
// then reach the first.
func (c *Connector) spawn(sock string, extra []string) (*netlinkx.Client, error) {
	exe, err := c.Executable()
	if err != nil {
		return nil, fmt.Errorf("driver: spawn: %w", err)
	}
	state := c.stateDir
	if err := privdir.State(state); err != nil {
		return nil, err
	}
	if err := privdir.Socket(filepath.Dir(sock)); err != nil {
		return nil, err
	}
	logf, err := privdir.OpenFile(filepath.Join(state, "driver.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("driver: log: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, io.SeekEnd)
	args := append([]string{"driver", "start", "--foreground", "--socket", sock, "--state-dir", state}, extra...)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("driver: spawn %s: %w", exe, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	exited := (<-chan struct{})(done)
	start := time.Now()
	deadline := start.Add(spawnTimeout)
	for delay := time.Millisecond; ; delay = min(2*delay, 50*time.Millisecond) {
		cl, err := netlinkx.Dial(sock)
		var pe *netlinkx.PeerError
		if err == nil {
			return cl, nil
		} else if errors.As(err, &pe) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("driver: no answer at %s after %v (see %s)", sock, time.Since(start).Round(100*time.Millisecond), logf.Name())
		}
		select {
		case <-exited:
			// Failed (a damaged state, say): say why. Or lost a spawn
			// race: the winner may still be starting, so keep trying the
			// socket a little longer.
			if why := spawnFailure(logf.Name(), logStart); why != "" {
				return nil, errors.New(why)
			}
			exited = nil
			if d := time.Now().Add(2 * time.Second); d.Before(deadline) {
				deadline = d
			}
		default:
		}
		time.Sleep(delay)
	}
}

// spawnFailure is why a spawned driver exited, from the error line it left
// in its log after offset: "" when there is none, or when it found another
// driver serving (a lost spawn race).
func spawnFailure(log string, offset int64) string {
	b, err := os.ReadFile(log)
	if err != nil || offset > int64(len(b)) {
		return ""
	}
	why := ""
	for _, line := range bytes.Split(b[offset:], []byte("\n")) {
		if rest, ok := strings.CutPrefix(string(line), "ibctl: "); ok {
			why = rest
		}
	}
	if strings.Contains(why, ErrDriverRunning.Error()) || strings.Contains(why, "already running") {
		return ""
	}
	return why
}
