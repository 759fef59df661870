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

// depInitBudget is the most any other package linked into ibctl may
// allocate while it initialises. Every command pays for it, tables or
// not, and on a virtual machine a page touched at start-up costs more
// than the work done in it. The largest today is olekukonko/errors's
// warm pool (66 KB); tablewriter v1.1 made an 8192-entry width cache in
// twwidth's init (663 KB, about 160 page faults and 1.3 ms of every
// command), which is why go.mod holds tablewriter at v1.0.9.
const depInitBudget = 128 << 10

// TestInitWork runs `ibctl -V` with the runtime's init trace and checks
// every package of this module against initBudget and every other
// package against depInitBudget.
func TestInitWork(t *testing.T) {
	cmd := exec.Command(ibctlBin, "-V")
	cmd.Env = append(newEnv(t).environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ibctl -V: %v\n%s", err, out)
	}
	own, deps := 0, 0
	for _, line := range strings.Split(string(out), "\n") {
		// init PKG @T ms, D ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" {
			continue
		}
		n, err := strconv.Atoi(f[7])
		if err != nil || f[8] != "bytes," {
			t.Fatalf("unexpected init trace line %q", line)
		}
		budget := depInitBudget
		if strings.HasPrefix(f[1], "github.com/ibctl/ibctl/") {
			budget = initBudget
			own++
		} else {
			deps++
		}
		if n > budget {
			t.Errorf("%s allocates %d bytes at init (%s allocs), more than %d", f[1], n, f[9], budget)
		}
	}
	if own == 0 || deps == 0 {
		t.Fatalf("init trace has %d lines of this module's packages and %d of others:\n%s", own, deps, out)
	}
}
