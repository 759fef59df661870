package ibctl

import (
	"os"
	"strings"
	"testing"
)

// TestSysReadDevIDNamesReader: a dev_id read reaches the driver with the
// reading program's name (current->comm, what /proc/self/comm holds), so
// dev_id_show's log line (ipoib_main.c) names it as the kernel would.
func TestSysReadDevIDNamesReader(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc/self/comm")
	}
	e := newEnv(t)
	if out, errs, st := e.run("sys read class/net/ib1/dev_id"); st != 0 || out != "0x1\n" {
		t.Fatalf("sys read: %d %q %q", st, out, errs)
	}
	out, _, _ := e.run("dmesg")
	want := `mlx5_core 0000:81:00.0 ib1: "` + strings.TrimSpace(string(comm)) + `" wants to know my dev_id. Should it look at dev_port instead?`
	if !strings.Contains(out, want) {
		t.Fatalf("dmesg lacks %q:\n%s", want, out)
	}
}
