package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"
)

func mustOpen(t testing.TB, dir string, opts Options) *Store {
	t.Helper()
	s, err := OpenOptions(dir, opts)
	if err != nil {
		t.Fatalf("OpenOptions(%s): %v", dir, err)
	}
	return s
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// snapshot returns the full contents of s as key -> value string.
func snapshot(s *Store) map[string]string {
	m := make(map[string]string)
	for _, k := range s.Keys("") {
		v, _ := s.Get(k)
		m[k] = string(v)
	}
	return m
}

func assertState(t *testing.T, s *Store, want map[string]string) {
	t.Helper()
	got := snapshot(s)
	if len(got) != len(want) {
		t.Errorf("store has %d keys %v, want %d keys %v", len(got), got, len(want), want)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("key %q missing, want %s", k, w)
		} else if g != w {
			t.Errorf("key %q = %s, want %s", k, g, w)
		}
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestRoundTripAcrossReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s := mustOpen(t, dir, Options{})
	steps := []struct {
		name string
		run  func() error
	}{
		{"put a", func() error { return s.Put("if/a", []byte(`{"mtu":1500}`)) }},
		{"put b", func() error { return s.Put("if/b", []byte(`{"mtu": 9000, "up": true}`)) }},
		{"put c", func() error { return s.Put("route/c", []byte(`"x"`)) }},
		{"overwrite a", func() error { return s.Put("if/a", []byte(`{"mtu":4092}`)) }},
		{"delete c", func() error { return s.Delete("route/c") }},
		{"delete missing", func() error { return s.Delete("nope") }},
		{"put trimmed", func() error { return s.Put("n", []byte(" 42\n")) }},
		{"odd key and value", func() error { return s.Put("x/<&>\"\n\u2028é", []byte(`{ "s" : "\u00e9<&>" ,"e":"é" }`)) }},
		{"batch", func() error {
			var b Batch
			b.Put("route/d", []byte(`[1, 2]`))
			b.Put("route/e", []byte(`null`))
			b.Delete("route/e")
			if b.Len() != 3 {
				return fmt.Errorf("Len = %d, want 3", b.Len())
			}
			return s.Apply(b)
		}},
		{"empty batch", func() error { return s.Apply(Batch{}) }},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	want := map[string]string{
		"if/a":             `{"mtu":4092}`,
		"if/b":             `{"mtu": 9000, "up": true}`,
		"n":                `42`,
		"route/d":          `[1, 2]`,
		"x/<&>\"\n\u2028é": `{ "s" : "\u00e9<&>" ,"e":"é" }`,
	}
	assertState(t, s, want)
	if got, want := s.Keys("if/"), []string{"if/a", "if/b"}; !slices.Equal(got, want) {
		t.Errorf("Keys(if/) = %v, want %v", got, want)
	}
	if got := s.Keys("zzz"); len(got) != 0 {
		t.Errorf("Keys(zzz) = %v, want none", got)
	}
	if _, ok := s.Get("route/c"); ok {
		t.Errorf("Get(route/c) found deleted key")
	}
	mustClose(t, s)
	if err := s.Put("x", []byte(`1`)); err != ErrClosed {
		t.Errorf("Put after Close = %v, want ErrClosed", err)
	}

	// Reopen twice: the first replays the journal, the second reads only
	// the snapshot written by the first.
	for i := range 2 {
		s = mustOpen(t, dir, Options{})
		assertState(t, s, want)
		if n := fileSize(t, filepath.Join(dir, journalName)); n != 0 {
			t.Errorf("reopen %d: journal size %d, want 0", i, n)
		}
		mustClose(t, s)
	}
}

func TestGetReturnsCopy(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	defer s.Close()
	val := []byte(`"abc"`)
	if err := s.Put("k", val); err != nil {
		t.Fatal(err)
	}
	val[1] = 'X'
	v, _ := s.Get("k")
	v[1] = 'Y'
	if v2, _ := s.Get("k"); string(v2) != `"abc"` {
		t.Errorf("Get = %s, want \"abc\"", v2)
	}
}

func TestInvalidJSONRejected(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	var b Batch
	b.Put("good", []byte(`1`))
	b.Put("bad", []byte(`{`))
	if err := s.Apply(b); err == nil {
		t.Fatal("Apply with invalid JSON succeeded")
	}
	if n := fileSize(t, filepath.Join(dir, journalName)); n != 0 {
		t.Errorf("journal size %d after rejected batch, want 0", n)
	}
	assertState(t, s, map[string]string{})
	mustClose(t, s)
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	defer s.Close()
	if s2, err := Open(dir); err == nil {
		s2.Close()
		t.Fatal("second Open of a locked store succeeded")
	}
}

// TestTornFinalRecord appends a damaged tail after a good batch and checks
// that reopening keeps exactly the good state and empties the journal.
func TestTornFinalRecord(t *testing.T) {
	var b Batch
	b.Put("k1", []byte(`"new1"`))
	b.Put("k3", []byte(`"new3"`))
	b.Delete("k2")
	torn, err := encodeRecord(b.ops)
	if err != nil {
		t.Fatal(err)
	}
	unwritten := bytes.Clone(torn)
	clear(unwritten[len(unwritten)-5:])
	tails := []struct {
		name string
		tail []byte
	}{
		{"half record", torn[:len(torn)/2]},
		{"all but last byte", torn[:len(torn)-1]},
		{"partial header", torn[:3]},
		{"header only", torn[:headerSize]},
		{"end unwritten", unwritten},
		{"zeros", make([]byte, 64)},
	}
	for _, tc := range tails {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs []string
			opts := Options{Log: func(s string) { logs = append(logs, s) }}
			s := mustOpen(t, dir, opts)
			var good Batch
			good.Put("k1", []byte(`"v1"`))
			good.Put("k2", []byte(`"v2"`))
			if err := s.Apply(good); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)

			jpath := filepath.Join(dir, journalName)
			goodSize := fileSize(t, jpath)
			appendFile(t, jpath, tc.tail)

			// The replay sees exactly one good record and a torn tail.
			raw, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			r := replayJournal(raw, map[string]string{}, nil)
			if int64(r.good) != goodSize || r.records != 1 || !r.torn {
				t.Errorf("replayJournal = %+v, want good %d, 1 record, torn", r, goodSize)
			}

			s = mustOpen(t, dir, opts)
			want := map[string]string{"k1": `"v1"`, "k2": `"v2"`}
			assertState(t, s, want)
			if n := fileSize(t, jpath); n != 0 {
				t.Errorf("journal size %d after reopen, want 0", n)
			}
			wantLog := fmt.Sprintf("store: journal %s: dropped the incomplete last record at offset %d (%d bytes, %s), left by an interrupted write",
				jpath, goodSize, len(tc.tail), r.bad)
			if len(logs) != 1 || logs[0] != wantLog {
				t.Errorf("log = %q, want [%q]", logs, wantLog)
			}
			// New writes after recovery must survive another reopen.
			if err := s.Put("k4", []byte(`4`)); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
			want["k4"] = `4`
			s = mustOpen(t, dir, Options{})
			assertState(t, s, want)
			mustClose(t, s)
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedJournalRefused damages the second of three records, or
// appends a tail that no interrupted write leaves: Open refuses, naming
// the file and offset, and leaves the journal as it is; with Recover it
// keeps the records before the damage and saves a copy of the journal.
func TestDamagedJournalRefused(t *testing.T) {
	tests := []struct {
		name   string
		damage func(raw []byte, offsets []int) []byte
		reason string
		at     int // index into offsets of the damaged record
	}{
		{"payload", func(raw []byte, o []int) []byte { raw[o[1]+headerSize+2] ^= 1; return raw }, "record checksum mismatch", 1},
		{"crc", func(raw []byte, o []int) []byte { raw[o[1]+5] ^= 1; return raw }, "record header damaged", 1},
		{"length", func(raw []byte, o []int) []byte { raw[o[1]] ^= 1; return raw }, "record header damaged", 1},
		{"length beyond end", func(raw []byte, o []int) []byte { raw[o[1]+3] ^= 0x10; return raw }, "record header damaged", 1},
		{"header check", func(raw []byte, o []int) []byte { raw[o[1]+9] ^= 0x80; return raw }, "record header damaged", 1},
		{"last record payload", func(raw []byte, o []int) []byte { raw[len(raw)-1] ^= 1; return raw }, "record checksum mismatch", 2},
		{"file header", func(raw []byte, o []int) []byte { raw[1] ^= 1; return raw }, "record header damaged", 0},
		{"format", func(raw []byte, o []int) []byte { raw[4] = 3; return raw }, "unknown journal format 3", 0},
		{"garbage tail", func(raw []byte, o []int) []byte { return append(raw, "\x13\x00\x00\x00garbage garbage garbage"...) }, "record header damaged", 3},
		{"huge length tail", func(raw []byte, o []int) []byte { return append(raw, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8) }, "record header damaged", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			jpath := filepath.Join(dir, journalName)
			var offsets []int
			for i := range 3 {
				offsets = append(offsets, int(fileSize(t, jpath)))
				if err := s.Put(fmt.Sprintf("k%d", i), []byte(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			offsets = append(offsets, int(fileSize(t, jpath)))
			offsets[0] = 0 // the file header is part of the first record's append
			mustClose(t, s)

			raw, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			damaged := tc.damage(raw, offsets)
			if err := os.WriteFile(jpath, damaged, 0o600); err != nil {
				t.Fatal(err)
			}

			_, err = OpenOptions(dir, Options{})
			want := &CorruptError{Path: jpath, Offset: int64(offsets[tc.at]), Reason: tc.reason, Records: tc.at}
			var ce *CorruptError
			if !errors.As(err, &ce) || *ce != *want {
				t.Fatalf("Open = %v, want %v", err, want)
			}
			if got, _ := os.ReadFile(jpath); !bytes.Equal(got, damaged) {
				t.Errorf("journal changed by a refused Open")
			}

			var logs []string
			s = mustOpen(t, dir, Options{Recover: true, Log: func(s string) { logs = append(logs, s) }})
			wantState := map[string]string{}
			for i := range tc.at {
				wantState[fmt.Sprintf("k%d", i)] = strconv.Itoa(i)
			}
			assertState(t, s, wantState)
			mustClose(t, s)
			copies, _ := filepath.Glob(filepath.Join(dir, damagedName))
			if len(copies) != 1 {
				t.Fatalf("damaged copies %v, want one", copies)
			}
			if got, _ := os.ReadFile(copies[0]); !bytes.Equal(got, damaged) {
				t.Errorf("saved copy differs from the damaged journal")
			}
			wantLog := fmt.Sprintf("store: journal %s is damaged: %s at offset %d; kept the %d records before it, dropped %d bytes; the damaged journal is saved as %s",
				jpath, tc.reason, want.Offset, tc.at, len(damaged)-int(want.Offset), copies[0])
			if len(logs) != 1 || logs[0] != wantLog {
				t.Errorf("log = %q, want [%q]", logs, wantLog)
			}
			// Started again without Recover, the store is whole.
			s = mustOpen(t, dir, Options{})
			assertState(t, s, wantState)
			mustClose(t, s)
		})
	}
}

func TestCompactionThreshold(t *testing.T) {
	val := []byte(`"` + strings.Repeat("v", 100) + `"`)
	recLen := func(key string) int64 {
		var b Batch
		b.Put(key, val)
		rec, err := encodeRecord(b.ops)
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(rec))
	}
	tests := []struct {
		name        string
		opts        Options
		puts        int
		wantRecords int // records left in the journal after all puts
	}{
		// after k03 and k07 (the 4-key snapshot keeps the limit at 4)
		{"records", Options{MaxJournalRecords: 4}, 10, 2},
		{"records exact", Options{MaxJournalRecords: 5}, 10, 0},
		// after k02 and k05 (3 records reach the limit, larger than the
		// snapshots so far); then the 6-key snapshot is larger than the
		// 4 records after it
		{"bytes", Options{MaxJournalBytes: 3 * recLen("k00")}, 10, 4},
		// the journal reaches exactly its limit after k02 and k05
		{"bytes exact", Options{MaxJournalBytes: int64(len(journalHeader)) + 3*recLen("k00")}, 10, 4},
		// after k02 and k05; then the 6-key snapshot makes the limit 6,
		// which the 4 records after it do not reach
		{"records from the snapshot", Options{MaxJournalRecords: 3}, 10, 4},
		{"below threshold", Options{}, 10, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir, tc.opts)
			want := map[string]string{}
			for i := range tc.puts {
				k := fmt.Sprintf("k%02d", i)
				if err := s.Put(k, val); err != nil {
					t.Fatal(err)
				}
				want[k] = string(val)
			}
			jpath := filepath.Join(dir, journalName)
			w := int64(tc.wantRecords) * recLen("k00")
			if w > 0 {
				w += int64(len(journalHeader))
			}
			if got := fileSize(t, jpath); got != w {
				t.Errorf("journal size %d, want %d (%d records)", got, w, tc.wantRecords)
			}
			if s.jRecords != tc.wantRecords {
				t.Errorf("jRecords = %d, want %d", s.jRecords, tc.wantRecords)
			}
			// The snapshot holds every key that is not in the journal.
			raw, err := os.ReadFile(filepath.Join(dir, snapshotName))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := decodeSnapshot(raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, w := len(snap), tc.puts-tc.wantRecords; got != w {
				t.Errorf("snapshot has %d keys, want %d", got, w)
			}
			mustClose(t, s)

			s = mustOpen(t, dir, tc.opts)
			assertState(t, s, want)
			mustClose(t, s)
		})
	}
}

// TestCrashBetweenSnapshotAndTruncate simulates a crash after the snapshot
// rename but before the journal truncate: the journal is replayed on top of
// a snapshot that already contains it.
func TestCrashBetweenSnapshotAndTruncate(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	for _, step := range []struct{ k, v string }{{"a", "1"}, {"b", "2"}, {"a", "3"}, {"b", ""}} {
		var err error
		if step.v == "" {
			err = s.Delete(step.k)
		} else {
			err = s.Put(step.k, []byte(step.v))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	jpath := filepath.Join(dir, journalName)
	journal, err := os.ReadFile(jpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeSnapshot(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)
	// Leave a stale temp file as a crash during writeSnapshot would.
	if err := os.WriteFile(filepath.Join(dir, snapshotName+".tmp-123"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := fileSize(t, jpath); got != int64(len(journal)) {
		t.Fatalf("journal size %d, want untouched %d", got, len(journal))
	}

	s = mustOpen(t, dir, Options{})
	assertState(t, s, map[string]string{"a": "3"})
	mustClose(t, s)
	if m, _ := filepath.Glob(filepath.Join(dir, tempPattern)); len(m) != 0 {
		t.Errorf("stale temp files left: %v", m)
	}
}

// TestRefusesUnsafePaths: a store directory that is a symlink or writable
// by others, and a journal or snapshot that is a symlink, are refused, and
// nothing is written through them.
func TestRefusesUnsafePaths(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir, target string) // target: a file or directory outside dir
		want    string                                 // {dir} and {target} are substituted
	}{
		{"dir symlink", func(t *testing.T, dir, target string) {
			mustMkdir(t, target, 0o755)
			mustSymlink(t, target, dir)
		}, "store: directory {dir}: is a symlink"},
		{"dir 0777", func(t *testing.T, dir, target string) {
			mustMkdir(t, dir, 0o777)
		}, "store: directory {dir}: writable by group or others (mode 0777)"},
		{"journal symlink", func(t *testing.T, dir, target string) {
			mustMkdir(t, dir, 0o700)
			mustWrite(t, target, "victim\n")
			mustSymlink(t, target, filepath.Join(dir, journalName))
		}, "store: open journal {dir}/journal.log: open {dir}/journal.log: is a symlink"},
		{"snapshot symlink", func(t *testing.T, dir, target string) {
			mustMkdir(t, dir, 0o700)
			mustWrite(t, target, "{}\n")
			mustSymlink(t, target, filepath.Join(dir, snapshotName))
			if err := os.WriteFile(filepath.Join(dir, journalName), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "store: read snapshot {dir}/state.json: open {dir}/state.json: is a symlink"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir, target := filepath.Join(base, "store"), filepath.Join(base, "target")
			tc.prepare(t, dir, target)
			before := treeOf(t, base)
			s, err := OpenOptions(dir, Options{})
			if err == nil {
				s.Close()
				t.Fatalf("OpenOptions(%s) succeeded", dir)
			}
			want := strings.NewReplacer("{dir}", dir, "{target}", target).Replace(tc.want)
			if err.Error() != want {
				t.Errorf("err = %q, want %q", err, want)
			}
			if after := treeOf(t, base); !slices.Equal(after, before) {
				t.Errorf("files changed:\n%s\nwant:\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
			}
		})
	}
}

func mustMkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeOf lists every path under root with its mode and content.
func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", p, fi.Mode())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %q", b)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirPermissions(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(dir string) error
	}{
		{"new nested", func(string) error { return nil }},
		{"existing 0755", func(dir string) error { return os.MkdirAll(dir, 0o755) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a", "b")
			if err := tc.prepare(dir); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, dir, Options{})
			defer s.Close()
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o700 {
				t.Errorf("dir mode %#o, want 0700", got)
			}
			for _, name := range []string{snapshotName, journalName} {
				fi, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("%s mode %#o, want 0600", name, got)
				}
			}
		})
	}
}

const (
	helperEnv      = "STORE_TEST_HELPER_DIR"
	helperBatches  = 1_000_000
	killAfterAcks  = 60
	helperMaxRecs  = 7 // small, so compactions happen inside the crash window
	helperValueLen = 300
)

func helperValue(i int) []byte {
	return []byte(fmt.Sprintf(`{"seq":%d,"pad":"%s"}`, i, strings.Repeat("p", helperValueLen)))
}

// TestHelperProcess is the child of TestCrashKill9. It applies batches and
// prints "acked i" after each Apply returns, until it is killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashKill9")
	}
	s, err := OpenOptions(dir, Options{MaxJournalRecords: helperMaxRecs})
	if err != nil {
		fmt.Fprintf(os.Stdout, "error %v\n", err)
		os.Exit(2)
	}
	for i := range helperBatches {
		var b Batch
		b.Put(fmt.Sprintf("a/%07d", i), helperValue(i))
		b.Put(fmt.Sprintf("b/%07d", i), helperValue(i))
		b.Put("last", []byte(strconv.Itoa(i)))
		if i > 0 {
			b.Delete(fmt.Sprintf("tmp/%07d", i-1))
		}
		b.Put(fmt.Sprintf("tmp/%07d", i), []byte(`true`))
		if err := s.Apply(b); err != nil {
			fmt.Fprintf(os.Stdout, "error %v\n", err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stdout, "acked %d\n", i)
	}
	os.Exit(0)
}

// TestCrashKill9 kills a writer with SIGKILL mid-stream and checks that
// every acknowledged batch survives and no batch is partially visible.
func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	maxAcked := -1
	killed := false
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		n, ok := strings.CutPrefix(line, "acked ")
		if !ok {
			t.Errorf("child: %s", line)
			continue
		}
		i, err := strconv.Atoi(n)
		if err != nil || i != maxAcked+1 {
			t.Fatalf("child printed %q after acked %d", line, maxAcked)
		}
		maxAcked = i
		if !killed && i >= killAfterAcks {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child exited before being killed: %v", werr)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child not killed by SIGKILL: %v", werr)
	}
	t.Logf("child acked %d batches before SIGKILL", maxAcked+1)

	s := mustOpen(t, dir, Options{})
	defer s.Close()
	lastRaw, ok := s.Get("last")
	if !ok {
		t.Fatal("key last missing")
	}
	last, err := strconv.Atoi(string(lastRaw))
	if err != nil {
		t.Fatal(err)
	}
	// The child may have applied at most one batch it did not get to ack.
	if last != maxAcked && last != maxAcked+1 {
		t.Fatalf("last = %d, want %d or %d", last, maxAcked, maxAcked+1)
	}
	for i := 0; i <= last; i++ {
		for _, p := range []string{"a", "b"} {
			k := fmt.Sprintf("%s/%07d", p, i)
			v, ok := s.Get(k)
			if !ok {
				t.Fatalf("acked key %s missing", k)
			}
			if !bytes.Equal(v, helperValue(i)) {
				t.Fatalf("key %s = %s, want %s", k, v, helperValue(i))
			}
		}
	}
	// Nothing beyond the last visible batch, and the per-batch delete of
	// the previous tmp key is visible together with its put.
	if got, want := len(s.Keys("a/")), last+1; got != want {
		t.Errorf("len(Keys(a/)) = %d, want %d", got, want)
	}
	if got, want := len(s.Keys("b/")), last+1; got != want {
		t.Errorf("len(Keys(b/)) = %d, want %d", got, want)
	}
	if got, want := s.Keys("tmp/"), []string{fmt.Sprintf("tmp/%07d", last)}; !slices.Equal(got, want) {
		t.Errorf("Keys(tmp/) = %v, want %v", got, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{MaxJournalRecords: 16})
	const writers, perWriter = 4, 25
	done := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range perWriter {
				if err := s.Put(fmt.Sprintf("w%d/%03d", w, i), []byte(strconv.Itoa(i))); err != nil {
					done <- err
					return
				}
				s.Get(fmt.Sprintf("w%d/%03d", w, i))
				s.Keys("w")
			}
			done <- nil
		}()
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, s)
	s = mustOpen(t, dir, Options{})
	defer s.Close()
	if got, want := len(s.Keys("")), writers*perWriter; got != want {
		t.Errorf("%d keys after reopen, want %d", got, want)
	}
}

func BenchmarkApply(b *testing.B) {
	s := mustOpen(b, b.TempDir(), Options{})
	defer s.Close()
	val := []byte(`"` + strings.Repeat("x", 298) + `"`)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("if/%04d/config", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		var batch Batch
		batch.Put(keys[i%len(keys)], val)
		if err := s.Apply(batch); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func TestApplyLazyThenSync(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir, Options{})
	var b Batch
	b.Put("a", []byte(`1`))
	if err := s.ApplyLazy(b); err != nil {
		t.Fatal(err)
	}
	if v, ok := s.Get("a"); !ok || string(v) != "1" {
		t.Fatalf("lazy put not visible: %q %v", v, ok)
	}
	if !s.dirty {
		t.Fatal("store not dirty after ApplyLazy")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	if s.dirty {
		t.Fatal("store dirty after Sync")
	}
	var b2 Batch
	b2.Put("b", []byte(`2`))
	if err := s.ApplyLazy(b2); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s) // Close syncs what is pending
	s = mustOpen(t, dir, Options{})
	defer mustClose(t, s)
	assertState(t, s, map[string]string{"a": "1", "b": "2"})
}

// BenchmarkEncodeSnapshot encodes the snapshot of 32767 devices of about
// 300 bytes each, as compaction does with that many children saved.
func BenchmarkEncodeSnapshot(b *testing.B) {
	data := map[string]string{}
	value := (`{"index":1,"name":"ib0.0001","port":1,"parent":2,"legacy":true,"pkey":32769,` + strings.Repeat(`"x":0,`, 35) + `"y":1}`)
	for i := range 32767 {
		data[fmt.Sprintf("node0/dev/%08d", i+4)] = value
	}
	b.ReportAllocs()
	for b.Loop() {
		keys := slices.Sorted(maps.Keys(data))
		var sum checksum
		w := bufio.NewWriterSize(&sum, 64<<10)
		if err := writeSnapshotBody(w, keys, data, nil); err != nil {
			b.Fatal(err)
		}
		w.Flush()
	}
}

// snapshotCounter counts the bytes written to snapshot temp files.
type snapshotCounter struct {
	FS
	written *int64
}

func (c snapshotCounter) CreateTemp(dir, pattern string) (File, error) {
	f, err := c.FS.CreateTemp(dir, pattern)
	return countingFile{f, c.written}, err
}

type countingFile struct {
	File
	written *int64
}

func (f countingFile) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	*f.written += int64(n)
	return n, err
}

// Compactions cost the same per record however large the state grows:
// each one waits for as many journal bytes or records as the snapshot it
// writes holds, so the bytes written to snapshots while a state is built
// one key at a time stay within a small multiple of the final snapshot
// (a fixed limit of 64 records writes the whole state every 64 records:
// quadratic, 33 times the final snapshot for these 4 096 keys).
func TestCompactionCostPerRecordFlat(t *testing.T) {
	val := []byte(`"` + strings.Repeat("v", 100) + `"`)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"64 records", Options{MaxJournalRecords: 64}},
		{"8 KiB", Options{MaxJournalBytes: 8 << 10}},
	} {
		opts := tc.opts
		var written int64
		dir := t.TempDir()
		opts.FS = snapshotCounter{OS, &written}
		s := mustOpen(t, dir, opts)
		for i := range 4096 {
			var b Batch
			b.Put(fmt.Sprintf("child%05d", i), val)
			if err := s.ApplyLazy(b); err != nil {
				t.Fatal(err)
			}
		}
		mustClose(t, s)
		final := fileSize(t, filepath.Join(dir, snapshotName))
		if written > 4*final {
			t.Errorf("%s: %d bytes written to snapshots, %.1f times the final %d", tc.name, written, float64(written)/float64(final), final)
		}
		t.Logf("%s: %.2f times the final snapshot", tc.name, float64(written)/float64(final))
	}
}

// TestCompactionDoesNotHoldTheSnapshot: a compaction writes the snapshot
// as it encodes it; what it allocates stays far below the snapshot's
// size (4 MiB here), so that the state is not in memory twice.
func TestCompactionDoesNotHoldTheSnapshot(t *testing.T) {
	s := mustOpen(t, t.TempDir(), Options{})
	defer mustClose(t, s)
	var b Batch
	value := []byte(`"` + strings.Repeat("v", 2046) + `"`)
	for i := range 2048 {
		b.Put(fmt.Sprintf("k%05d", i), value)
	}
	if err := s.Apply(b); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	s.wmu.Lock()
	runtime.ReadMemStats(&before)
	err := s.compact()
	runtime.ReadMemStats(&after)
	s.wmu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if s.snapSize < 4<<20 {
		t.Fatalf("snapshot of %d bytes, want at least 4 MiB", s.snapSize)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("compaction allocated %d bytes, want at most 1 MiB", got)
	}
}

// TestSnapshotKeys: a key is written as json.Marshal writes it, by the
// shortcut for plain keys or by json.Marshal, and read back the same.
func TestSnapshotKeys(t *testing.T) {
	keys := []string{"", "node0/dev/00000004", "a b~", `a"b`, `a\b`, "<x>", "a&b", "é", "\x7f", "\u2028", "tab\t", "\x00", "\xff",
		// each character that needs escaping alone, with no other to
		// make the key not plain
		`"`, `\`, "<", ">", "&", "\n"}
	for _, k := range keys {
		t.Run(strconv.Quote(k), func(t *testing.T) {
			var sum checksum
			var body bytes.Buffer
			w := bufio.NewWriter(io.MultiWriter(&sum, &body))
			if err := writeSnapshotBody(w, []string{k}, map[string]string{k: "1"}, nil); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			kb, _ := json.Marshal(k)
			if want := "{\n" + string(kb) + ":1\n}\n"; body.String() != want || sum.n != int64(len(want)) {
				t.Errorf("body %q (%d bytes counted), want %q", body.String(), sum.n, want)
			}
			dir := t.TempDir()
			s := mustOpen(t, dir, Options{})
			if err := s.Put(k, []byte("1")); err != nil {
				t.Fatal(err)
			}
			mustClose(t, s)
			mustClose(t, mustOpen(t, dir, Options{})) // compacts
			s = mustOpen(t, dir, Options{})
			defer mustClose(t, s)
			want := map[string]string{k: "1"}
			if !utf8.ValidString(k) {
				// encoding/json replaces an invalid byte with U+FFFD, as it
				// always did.
				want = map[string]string{"\ufffd": "1"}
			}
			assertState(t, s, want)
		})
	}
}

// TestCloseFinishes: Close syncs lazily applied batches, cuts off a failed
// append that Apply could not, and reports a compaction that never
// succeeded; a failed compaction leaves no temp file behind.
func TestCloseFinishes(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		// run works on s with fs; the faults it injects last until Close.
		run func(t *testing.T, s *Store, fs *FaultFS)
		// wantClose is Close's error, "" for none; {dir} stands for the
		// store directory and {tmp} for the snapshot temp file.
		wantClose string
		want      map[string]string // the state reopened
	}{
		{"sync of a lazy batch fails", Options{}, func(t *testing.T, s *Store, fs *FaultFS) {
			var b Batch
			b.Put("lazy", []byte(`1`))
			if err := s.ApplyLazy(b); err != nil {
				t.Fatal(err)
			}
			fs.Inject(Fault{Op: OpSync, Name: journalName, Err: syscall.EIO})
		}, "store: sync journal {dir}/journal.log: fdatasync {dir}/journal.log: input/output error",
			map[string]string{"before": "0", "lazy": "1"}},
		{"failed append not cut off yet", Options{}, func(t *testing.T, s *Store, fs *FaultFS) {
			fs.Inject(Fault{Op: OpWrite, Name: journalName, Err: syscall.ENOSPC, Short: 7, Times: 1})
			fs.Inject(Fault{Op: OpTruncate, Name: journalName, Err: syscall.EIO, Times: 1})
			if err := s.Put("failed", []byte(`1`)); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("Put = %v, want ENOSPC", err)
			}
			if got, want := fileSize(t, filepath.Join(s.dir, journalName)), s.jSize+7; got != want {
				t.Fatalf("journal of %d bytes after the failed append, want %d", got, want)
			}
		}, "", map[string]string{"before": "0"}},
		{"compaction never succeeds", Options{MaxJournalRecords: 2}, func(t *testing.T, s *Store, fs *FaultFS) {
			fs.Inject(Fault{Op: OpRename, Name: snapshotName, Err: syscall.EIO})
			if err := s.Put("k", []byte(`1`)); err != nil {
				t.Fatalf("Put with a failing compaction = %v, want nil", err)
			}
		}, "store: rename snapshot {dir}/state.json: rename {tmp} {dir}/state.json: input/output error",
			map[string]string{"before": "0", "k": "1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fs := &FaultFS{}
			opts := tc.opts
			opts.FS = fs
			s := mustOpen(t, dir, opts)
			if err := s.Put("before", []byte(`0`)); err != nil {
				t.Fatal(err)
			}
			jSize := s.jSize
			tc.run(t, s, fs)
			err := s.Close()
			var gotErr string
			if err != nil {
				gotErr = err.Error()
			}
			var le *os.LinkError
			tmp := "{tmp}"
			if errors.As(err, &le) {
				tmp = le.Old
			}
			want := strings.NewReplacer("{dir}", dir, "{tmp}", tmp).Replace(tc.wantClose)
			if gotErr != want || (tmp != "{tmp}" && !strings.HasPrefix(tmp, filepath.Join(dir, snapshotName+".tmp-"))) {
				t.Errorf("Close = %v, want %s", err, want)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, tempPattern)); len(m) != 0 {
				t.Errorf("temp files left: %v", m)
			}
			if err == nil {
				if got := fileSize(t, filepath.Join(dir, journalName)); got != jSize {
					t.Errorf("journal of %d bytes after Close, want the %d acknowledged", got, jSize)
				}
			}
			var logs []string
			s = mustOpen(t, dir, Options{Log: func(l string) { logs = append(logs, l) }})
			assertState(t, s, tc.want)
			mustClose(t, s)
			if len(logs) != 0 {
				t.Errorf("reopen logged %q, want nothing", logs)
			}
		})
	}
}
