package e2e

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// journalRecords returns the offsets of the records of a format 2 journal.
func journalRecords(t *testing.T, raw []byte) []int {
	t.Helper()
	const fileHeader, recHeader = 8, 12
	if len(raw) < fileHeader || !bytes.Equal(raw[:4], []byte{'I', 'B', 'J', 0xff}) {
		t.Fatalf("journal has no format 2 header: % x", raw[:min(len(raw), 8)])
	}
	var offs []int
	for off := fileHeader; off < len(raw); {
		offs = append(offs, off)
		off += recHeader + int(binary.LittleEndian.Uint32(raw[off:]))
	}
	return offs
}

// TestDamagedJournal flips one bit in a record of the journal that valid
// records follow: the driver refuses to start, naming the file and offset,
// and leaves the journal as it is; `driver start --recover` starts from the
// records before the damage, saves a copy of the journal and logs the loss.
func TestDamagedJournal(t *testing.T) {
	e := newEnv(t)
	for i := range 6 {
		e.ok("sys", "write", "class/net/ib0/create_child", fmt.Sprintf("0x%04x", 0x8001+i))
	}
	e.ok("driver", "stop")
	jpath := filepath.Join(e.state, "store", "journal.log")
	raw, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	recs := journalRecords(t, raw)
	// The driver saved its topology and parameters at start, then one
	// record per child.
	if len(recs) != 8 {
		t.Fatalf("journal has %d records, want 8", len(recs))
	}
	damaged := bytes.Clone(raw)
	at := recs[4] // the third child's record
	damaged[at+20] ^= 0x04
	if err := os.WriteFile(jpath, damaged, 0o600); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{{"link", "show"}, {"driver", "start"}} {
		r := e.run("", args...)
		want := fmt.Sprintf("ibctl: driver start: store: journal %s is damaged: record checksum mismatch at offset %d, with 4 intact records before it (--recover keeps those and saves a copy of the journal)\n", jpath, at)
		if r.code != 1 || r.stdout != "" || r.stderr != want {
			t.Fatalf("%v\nwant exit 1 and stderr %q", r, want)
		}
	}
	if got, _ := os.ReadFile(jpath); !bytes.Equal(got, damaged) {
		t.Fatalf("journal changed by the refused starts")
	}

	e.ok("driver", "start", "--recover")
	want := []string{"ib0 0xffff", "ib0.8001@ib0 0x8001", "ib0.8002@ib0 0x8002", "ib1 0xffff"}
	if got := linkIDs(e.links()); !slices.Equal(got, want) {
		t.Errorf("links after --recover = %q, want %q", got, want)
	}
	copies, _ := filepath.Glob(filepath.Join(e.state, "store", "journal.log.damaged-*"))
	if len(copies) != 1 {
		t.Fatalf("damaged journal copies %q, want one", copies)
	}
	if got, _ := os.ReadFile(copies[0]); !bytes.Equal(got, damaged) {
		t.Errorf("the saved copy differs from the damaged journal")
	}
	log, _ := os.ReadFile(filepath.Join(e.state, "driver.log"))
	wantLog := fmt.Sprintf(" store: journal %s is damaged: record checksum mismatch at offset %d; kept the 4 records before it, dropped %d bytes; the damaged journal is saved as %s\n",
		jpath, at, len(damaged)-at, copies[0])
	if !strings.Contains(string(log), wantLog) {
		t.Errorf("driver.log lacks %q:\n%s", wantLog, log)
	}
	// What the recovered driver acknowledges survives a kill.
	e.ok("sys", "write", "class/net/ib0/create_child", "0x8009")
	e.kill(e.driverPID())
	want = []string{"ib0 0xffff", "ib0.8001@ib0 0x8001", "ib0.8002@ib0 0x8002", "ib0.8009@ib0 0x8009", "ib1 0xffff"}
	if got := linkIDs(e.links()); !slices.Equal(got, want) {
		t.Errorf("links after a kill = %q, want %q", got, want)
	}
}

// TestNonUTF8NamesAfterKill: names that are not UTF-8, which the kernel
// accepts, come back byte for byte after the driver is killed.
func TestNonUTF8NamesAfterKill(t *testing.T) {
	e := newEnv(t)
	names := []string{"x\xfe", "x\xfd"}
	for _, name := range names {
		e.ok("link", "add", "link", "ib0", "name", name, "type", "ipoib")
	}
	e.kill(e.driverPID())
	for _, name := range names {
		out := e.ok("link", "show", "dev", name)
		if !strings.Contains(out, ": "+name+"@ib0: ") {
			t.Errorf("link show dev %q after a kill:\n%q", name, out)
		}
	}
}
