// Package e2e drives the real ibctl binary and the driver it spawns: each
// test gets its own socket and state directory, runs ibctl as separate
// processes, and stops (or kills) every driver it started.
//
// Under -race the binary is built with the race detector as well. The
// environment variable E2E_SEED replays TestKillDuringWrites' kill moment
// and TestSoak's choices; IBCTL_SOAK (a duration such as 5m) makes
// TestSoak run longer than its default.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// ibctlBin is the binary under test, built once by TestMain.
var ibctlBin string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ibctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Tests run the binary as another user too.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	ibctlBin = filepath.Join(dir, "ibctl")
	// Under -race the driver and CLI are built with the race detector too,
	// so the daemon's concurrency is checked by the same run.
	// Otherwise it is built as the Makefile builds it (static, trimmed),
	// so the benchmarks measure what an admin runs.
	args := []string{"build", "-o", ibctlBin}
	env := os.Environ()
	if raceEnabled {
		args = append(args, "-race")
	} else {
		args = append(args, "-trimpath")
		env = append(env, "CGO_ENABLED=0")
	}
	args = append(args, "github.com/ibctl/ibctl/cmd/ibctl")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", args...)
	build.Stdout, build.Stderr, build.Env = os.Stderr, os.Stderr, env
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %v: %v\n", args, err)
		return 1
	}
	// Drivers are spawned from os.Executable, the resolved path.
	if p, err := filepath.EvalSymlinks(ibctlBin); err == nil {
		ibctlBin = p
	}
	status := m.Run()
	// No test may leave a process of the binary under test behind.
	if left := procsOf(ibctlBin); len(left) > 0 {
		for _, p := range left {
			fmt.Fprintf(os.Stderr, "e2e: leftover process %d: %s\n", p.pid, p.cmdline)
			killAndWait(p.pid, 5*time.Second)
		}
		if status == 0 {
			status = 1
		}
	}
	return status
}
