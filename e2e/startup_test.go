package e2e

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// initBudget is the most a package of this module may allocate while it
// initialises: tables, maps, man pages and command trees are built on
// first use, so that a command pays only for what it runs. What is left
// are the cells of sync.OnceValue.
const initBudget = 1024

// TestInitWork runs `ibctl -V` with the runtime's init trace and checks
// every package of this module against initBudget.
func TestInitWork(t *testing.T) {
	cmd := exec.Command(ibctlBin, "-V")
	cmd.Env = append(newEnv(t).environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ibctl -V: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		// init PKG @T ms, D ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/ibctl/ibctl/") {
			continue
		}
		seen++
		n, err := strconv.Atoi(f[7])
		if err != nil || f[8] != "bytes," {
			t.Fatalf("unexpected init trace line %q", line)
		}
		if n > initBudget {
			t.Errorf("%s allocates %d bytes at init (%s allocs), more than %d", f[1], n, f[9], initBudget)
		}
	}
	if seen == 0 {
		t.Fatalf("no init trace of this module's packages in:\n%s", out)
	}
}
