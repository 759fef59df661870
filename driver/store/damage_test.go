package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// fillStore leaves a snapshot with some devices and a journal of further
// batches in dir, and returns the acknowledged state.
func fillStore(t *testing.T, dir string) map[string]string {
	t.Helper()
	s := mustOpen(t, dir, Options{MaxJournalRecords: 8})
	want := map[string]string{}
	put := func(k, v string) {
		if err := s.Put(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	put("topology", `{"nodes":[{"name":"node0"}]}`)
	put("params", `{"send_queue_size":256}`)
	for i := range 8 {
		put(fmt.Sprintf("node0/dev/%08d", 10+i), fmt.Sprintf(`{"index":%d,"name":"ib0.%04x","parent":2,"pkey":%d,"mtu":2044}`, 10+i, 0x8001+i, 0x8001+i))
	}
	if err := s.Delete("node0/dev/00000011"); err != nil {
		t.Fatal(err)
	}
	delete(want, "node0/dev/00000011")
	put("node0/meta", `{"next_index":18,"next_qpn":300}`)
	mustClose(t, s)
	return want
}

// TestBitFlips flips every bit of the snapshot and of the journal, one at
// a time: each flip must make Open refuse (leaving the file as it is) or
// leave the state exactly as acknowledged.
func TestBitFlips(t *testing.T) {
	dir := t.TempDir()
	want := fillStore(t, dir)
	origs := map[string][]byte{}
	for _, name := range []string{snapshotName, journalName} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || len(raw) == 0 {
			t.Fatalf("%s: %d bytes, %v", name, len(raw), err)
		}
		origs[name] = raw
	}
	for _, name := range []string{snapshotName, journalName} {
		path := filepath.Join(dir, name)
		orig := origs[name]
		counts := map[string]int{}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		for bit := range len(orig) * 8 {
			// Flip in place: rewriting whole files costs a flush each.
			flipped := bytes.Clone(orig)
			flipped[bit/8] ^= 1 << (bit % 8)
			if _, err := f.WriteAt(flipped[bit/8:bit/8+1], int64(bit/8)); err != nil {
				t.Fatal(err)
			}
			var logged int
			s, err := OpenOptions(dir, Options{Log: func(string) { logged++ }})
			var ce *CorruptError
			switch {
			case errors.As(err, &ce):
				counts["refused"]++
				if got, _ := os.ReadFile(path); !bytes.Equal(got, flipped) {
					t.Fatalf("%s bit %d: refused Open changed the file", name, bit)
				}
			case err != nil:
				t.Fatalf("%s bit %d: Open: %v", name, bit, err)
			default:
				got := snapshot(s)
				s.Close()
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("%s bit %d: state changed silently:\n got %v\nwant %v", name, bit, got, want)
				}
				if logged > 0 {
					counts["torn tail dropped, state intact"]++
				} else {
					counts["unaffected"]++
				}
				// That Open compacted (replacing the snapshot's inode):
				// put both files back and reopen.
				for n, raw := range origs {
					if err := os.WriteFile(filepath.Join(dir, n), raw, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				f.Close()
				if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.WriteAt(orig[bit/8:bit/8+1], int64(bit/8)); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
		t.Logf("%s: %d bytes, %d single-bit flips: %v", name, len(orig), len(orig)*8, counts)
	}
}

// v1Record frames ops as a format 1 journal record (no header check).
func v1Record(t *testing.T, ops []op) []byte {
	t.Helper()
	rec, err := encodeRecord(ops)
	if err != nil {
		t.Fatal(err)
	}
	payload := rec[headerSize:]
	out := make([]byte, headerSizeV1, headerSizeV1+len(payload))
	binary.LittleEndian.PutUint32(out[0:4], uint32(len(payload)))
	out = append(out, payload...)
	binary.LittleEndian.PutUint32(out[4:8], crc32.Update(crc32.Checksum(out[0:4], crcTable()), crcTable(), payload))
	return out
}

// TestOldFormatsRead opens a store written in format 1 (a bare JSON
// snapshot, a journal without file header): the state is read, and the
// files are rewritten in format 2.
func TestOldFormatsRead(t *testing.T) {
	r1 := v1Record(t, []op{{kind: opPut, key: "b", value: []byte(`"new"`)}, {kind: opDelete, key: "a"}})
	r2 := v1Record(t, []op{{kind: opPut, key: "c", value: []byte(`3`)}})
	tests := []struct {
		name    string
		journal []byte
		want    map[string]string
		err     string
	}{
		{"snapshot only", nil, map[string]string{"a": `1`, "b": `"x"`}, ""},
		{"journal", append(bytes.Clone(r1), r2...), map[string]string{"b": `"new"`, "c": `3`}, ""},
		{"torn tail", append(bytes.Clone(r1), r2[:len(r2)-2]...), map[string]string{"b": `"new"`}, ""},
		{"damaged", append(append(bytes.Clone(r1[:len(r1)-1]), r1[len(r1)-1]^1), r2...), nil,
			"store: journal %s/journal.log is damaged: record checksum mismatch at offset 0, with 0 intact records before it (--recover keeps those and saves a copy of the journal)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, snapshotName), []byte("{\n\"a\":1,\n\"b\":\"x\"\n}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, journalName), tc.journal, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := OpenOptions(dir, Options{})
			if tc.err != "" {
				if want := fmt.Sprintf(tc.err, dir); err == nil || err.Error() != want {
					t.Fatalf("Open = %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertState(t, s, tc.want)
			mustClose(t, s)
			raw, _ := os.ReadFile(filepath.Join(dir, snapshotName))
			if !strings.HasPrefix(string(raw), "ibctl-snapshot 2 ") {
				t.Errorf("snapshot not rewritten in format 2: %q", raw)
			}
		})
	}
}

// TestSnapshotDamageRefused checks the answer to each kind of damage.
func TestSnapshotDamageRefused(t *testing.T) {
	body := "{\n\"a\":1\n}\n"
	good := fmt.Sprintf("ibctl-snapshot 2 %d %08x\n%s", len(body), crc32.Checksum([]byte(body), crcTable()), body)
	at := strings.IndexByte(good, '\n') + 1 // where the body starts
	tests := []struct {
		name, snap, reason string
		offset             int
	}{
		{"body flip", strings.Replace(good, `"a"`, `"c"`, 1), "checksum mismatch", at},
		{"short", good[:len(good)-1], "snapshot holds 9 bytes, its header says 10", at},
		{"long", good + " ", "snapshot holds 11 bytes, its header says 10", at},
		{"header case", strings.ToUpper(good[:29]) + good[29:], "no snapshot header", 0},
		{"hex case", good[:21] + strings.ToUpper(good[21:29]) + good[29:], "malformed snapshot header", 0},
		{"format", strings.Replace(good, " 2 ", " 3 ", 1), `unknown snapshot format "3"`, 0},
		{"no header", "ibctl-snapshot", "no snapshot header", 0},
		{"empty", "", "no snapshot header", 0},
		{"format 1 invalid JSON", `{"a":1`, "invalid JSON: unexpected end of JSON input", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSnapshot([]byte(good), nil); err != nil {
				t.Fatalf("good snapshot: %v", err)
			}
			dir := t.TempDir()
			spath := filepath.Join(dir, snapshotName)
			if err := os.WriteFile(spath, []byte(tc.snap), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenOptions(dir, Options{Recover: true})
			want := fmt.Sprintf("store: snapshot %s is damaged: %s at offset %d", spath, tc.reason, tc.offset)
			if err == nil || err.Error() != want {
				t.Fatalf("Open = %v\nwant %s", err, want)
			}
			if got, _ := os.ReadFile(spath); string(got) != tc.snap {
				t.Errorf("snapshot changed by a refused Open")
			}
		})
	}
}

// TestFaults runs each failure path of the store on a FaultFS: the failed
// batch is reported with its errno and not applied, the store goes on
// working once the fault is gone, and a reopen shows exactly the
// acknowledged batches.
func TestFaults(t *testing.T) {
	enospc := syscall.ENOSPC
	tests := []struct {
		name   string
		opts   Options
		faults []Fault
		// failPut: the put made with the faults in place fails with this
		// errno (0: it succeeds).
		failPut syscall.Errno
		// retries: how many further puts fail while the faults last.
		retries int
	}{
		{"disk full on append", Options{}, []Fault{{Op: OpWrite, Name: journalName, Err: enospc}}, enospc, 2},
		{"short write, disk full", Options{}, []Fault{{Op: OpWrite, Name: journalName, Err: enospc, Short: 5}}, enospc, 1},
		{"short write, cut fails once", Options{}, []Fault{
			{Op: OpWrite, Name: journalName, Err: enospc, Short: 7, Times: 1},
			{Op: OpTruncate, Name: journalName, Err: syscall.EIO, Times: 1}}, enospc, 0},
		{"fsync fails", Options{}, []Fault{{Op: OpSync, Name: journalName, Err: syscall.EIO, Times: 1}}, syscall.EIO, 0},
		{"disk full at compaction", Options{MaxJournalRecords: 1}, []Fault{{Op: OpCreate, Name: snapshotName, Err: enospc}}, 0, 0},
		{"short snapshot write", Options{MaxJournalRecords: 1}, []Fault{{Op: OpWrite, Name: snapshotName, Err: enospc, Short: 10}}, 0, 0},
		{"rename fails", Options{MaxJournalRecords: 1}, []Fault{{Op: OpRename, Name: snapshotName, Err: syscall.EIO, Times: 1}}, 0, 0},
		{"dir fsync fails", Options{MaxJournalRecords: 1}, []Fault{{Op: OpSync, Name: filepath.Base("store"), Err: syscall.EIO, Times: 1}}, 0, 0},
		{"truncate at compaction fails", Options{MaxJournalRecords: 1}, []Fault{{Op: OpTruncate, Name: journalName, Err: syscall.EIO, Times: 1}}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			fs := &FaultFS{}
			opts := tc.opts
			opts.FS = fs
			s := mustOpen(t, dir, opts)
			want := map[string]string{}
			put := func(k string, wantErr syscall.Errno) {
				t.Helper()
				err := s.Put(k, []byte(`"`+k+`"`))
				switch {
				case wantErr == 0 && err != nil:
					t.Fatalf("Put(%s): %v", k, err)
				case wantErr == 0:
					want[k] = `"` + k + `"`
				case !errors.Is(err, wantErr):
					t.Fatalf("Put(%s) = %v, want %v", k, err, wantErr)
				}
			}
			put("before", 0)
			for _, f := range tc.faults {
				fs.Inject(f)
			}
			put("failed", tc.failPut)
			for i := range tc.retries {
				put(fmt.Sprintf("failed%d", i), tc.failPut)
			}
			assertState(t, s, want)
			fs.Clear()
			put("after", 0)
			put("after2", 0)
			assertState(t, s, want)
			mustClose(t, s)
			s = mustOpen(t, dir, Options{})
			assertState(t, s, want)
			mustClose(t, s)
		})
	}
}

// TestSyncFailureAfterLazyIsSticky: lazily applied batches are visible, so
// when the sync that should make them durable fails the store refuses
// further writes rather than acknowledge on top of a state it may have lost.
func TestSyncFailureAfterLazyIsSticky(t *testing.T) {
	dir := t.TempDir()
	fs := &FaultFS{}
	s := mustOpen(t, dir, Options{FS: fs})
	var b Batch
	b.Put("lazy", []byte(`1`))
	if err := s.ApplyLazy(b); err != nil {
		t.Fatal(err)
	}
	fs.Inject(Fault{Op: OpSync, Name: journalName, Err: syscall.EIO, Times: 1})
	if err := s.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	if err := s.Put("k", []byte(`2`)); !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "unusable after earlier error") {
		t.Fatalf("Put after failed Sync = %v, want the earlier EIO", err)
	}
	s.Close()
}

// frame makes a format 2 record of payload whose header (length, checksum,
// header check) is intact, with its memory ending where it does.
func frame(payload []byte, plen uint32) []byte {
	rec := make([]byte, headerSize, headerSize+len(payload))
	binary.LittleEndian.PutUint32(rec[0:4], plen)
	binary.LittleEndian.PutUint32(rec[4:8], crc32.Update(crc32.Checksum(rec[0:4], crcTable()), crcTable(), payload))
	binary.LittleEndian.PutUint32(rec[8:12], crc32.Checksum(rec[0:8], crcTable()))
	return append(rec, payload...)
}

// TestDecodeRecordRefused: a record whose checksums are intact but whose
// payload is not a batch is damage, not a torn write; so is an empty record
// with a bad checksum. Only a record that ends beyond the file is torn, up
// to the largest length a record may have.
func TestDecodeRecordRefused(t *testing.T) {
	emptyBadSum := frame(nil, 0)
	emptyBadSum[4] ^= 1
	binary.LittleEndian.PutUint32(emptyBadSum[8:12], crc32.Checksum(emptyBadSum[0:8], crcTable()))
	tests := []struct {
		name string
		rec  []byte
		bad  string
		torn bool
	}{
		{"empty payload", frame(nil, 0), "malformed record", false},
		{"empty payload, bad checksum", emptyBadSum, "record checksum mismatch", false},
		{"count only", frame([]byte{1}, 1), "malformed record", false},
		{"count beyond the payload", frame([]byte{200, 2, 1, 'k'}, 4), "malformed record", false},
		{"delete without its key length", frame([]byte{1, opDelete}, 2), "malformed record", false},
		{"key beyond the payload", frame([]byte{1, opDelete, 2, 'k'}, 4), "malformed record", false},
		{"put without its value", frame([]byte{1, opPut, 1, 'k'}, 4), "malformed record", false},
		{"value beyond the payload", frame([]byte{1, opPut, 1, 'k', 2, '1'}, 6), "malformed record", false},
		{"value not JSON", frame([]byte{1, opPut, 1, 'k', 1, '{'}, 6), "malformed record", false},
		{"unknown kind", frame([]byte{1, 3, 1, 'k'}, 4), "malformed record", false},
		{"fewer operations than counted", frame([]byte{2, opDelete, 1, 'k'}, 4), "malformed record", false},
		{"a byte after the operations", frame([]byte{1, opDelete, 1, 'k', 0}, 5), "malformed record", false},
		{"a byte cut off", slices.Clip(frame([]byte{1, opDelete, 1, 'k'}, 4)[:headerSize+3]), "record cut short", true},
		{"largest length, cut short", frame(nil, maxPayloadSize), "record cut short", true},
		{"length beyond the largest", frame(nil, maxPayloadSize+1), "record header damaged", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, n, bad, torn := decodeRecord(tc.rec, headerSize)
			if ops != nil || n != 0 || bad != tc.bad || torn != tc.torn {
				t.Errorf("decodeRecord = %v, %d, %q, %v; want nil, 0, %q, %v", ops, n, bad, torn, tc.bad, tc.torn)
			}
		})
	}
	// The same payload made whole decodes.
	ops, n, bad, torn := decodeRecord(frame([]byte{1, opDelete, 1, 'k'}, 4), headerSize)
	if want := []op{{kind: opDelete, key: "k"}}; fmt.Sprint(ops) != fmt.Sprint(want) || n != headerSize+4 || bad != "" || torn {
		t.Errorf("decodeRecord = %v, %d, %q, %v; want %v, %d", ops, n, bad, torn, want, headerSize+4)
	}
}

// TestEncodeRecord pins the record format of the package comment: the
// header, then the uvarint operation count and, per operation, its kind,
// the uvarint key length and key and, for a put, the uvarint value length
// and value.
func TestEncodeRecord(t *testing.T) {
	long := strings.Repeat("node0/dev/", 20) // 200 bytes, uvarint c8 01
	tests := []struct {
		name    string
		ops     []op
		payload []byte
	}{
		{"put", []op{{kind: opPut, key: "k", value: []byte(`1`)}}, []byte("\x01\x01\x01k\x011")},
		{"put and delete", []op{{kind: opPut, key: "ab", value: []byte(`"x"`)}, {kind: opDelete, key: "c"}},
			[]byte("\x02\x01\x02ab\x03\"x\"\x02\x01c")},
		{"delete of a long key", []op{{kind: opDelete, key: long}}, []byte("\x01\x02\xc8\x01" + long)},
		{"put of a long key, short value", []op{{kind: opPut, key: long, value: []byte(`0`)}}, []byte("\x01\x01\xc8\x01" + long + "\x010")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := encodeRecord(tc.ops)
			if err != nil {
				t.Fatal(err)
			}
			if want := frame(tc.payload, uint32(len(tc.payload))); !bytes.Equal(rec, want) {
				t.Errorf("encodeRecord = %q, want %q", rec, want)
			}
			ops, n, bad, _ := decodeRecord(rec, headerSize)
			if fmt.Sprint(ops) != fmt.Sprint(tc.ops) || n != len(rec) || bad != "" {
				t.Errorf("decodeRecord = %v, %d, %q; want %v, %d", ops, n, bad, tc.ops, len(rec))
			}
		})
	}
}

// TestRecoverSaveFails: when the copy of a damaged journal cannot be made
// durable, Open with Recover fails with the error of the step that failed,
// removes the partial copy and leaves the journal as it is.
func TestRecoverSaveFails(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		op     string // the failed step, as its *os.PathError names it
		onCopy bool   // the error names the copy (else the directory)
	}{
		{"write", Fault{Op: OpWrite, Err: syscall.ENOSPC, Short: 3, Times: 1}, "write", true},
		{"fsync", Fault{Op: OpSync, Err: syscall.EIO, Times: 1}, "fsync", true},
		{"directory fsync", Fault{Op: OpSync, Name: "store", Err: syscall.EIO, Times: 1}, "sync", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "store")
			s := mustOpen(t, dir, Options{})
			for i := range 2 {
				if err := s.Put(fmt.Sprintf("k%d", i), []byte(strconv.Itoa(i))); err != nil {
					t.Fatal(err)
				}
			}
			mustClose(t, s)
			jpath := filepath.Join(dir, journalName)
			raw, err := os.ReadFile(jpath)
			if err != nil {
				t.Fatal(err)
			}
			raw[len(raw)-1] ^= 1 // the last record's checksum fails
			if err := os.WriteFile(jpath, raw, 0o600); err != nil {
				t.Fatal(err)
			}

			fs := &FaultFS{}
			fs.Inject(tc.fault)
			_, err = OpenOptions(dir, Options{FS: fs, Recover: true})
			var pe *os.PathError
			prefix := "store: save damaged journal as " + filepath.Join(dir, journalName+".damaged-")
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !errors.As(err, &pe) || pe.Op != tc.op || pe.Err != tc.fault.Err {
				t.Fatalf("Open = %v, want %s…: %s …: %v", err, prefix, tc.op, tc.fault.Err)
			}
			wantPath := dir
			if tc.onCopy {
				wantPath = strings.TrimSuffix(strings.TrimPrefix(err.Error(), "store: save damaged journal as "), ": "+pe.Error())
			}
			if pe.Path != wantPath {
				t.Errorf("failed %s of %s, want of %s", pe.Op, pe.Path, wantPath)
			}
			if copies, _ := filepath.Glob(filepath.Join(dir, damagedName)); len(copies) != 0 {
				t.Errorf("copies left: %v", copies)
			}
			if got, _ := os.ReadFile(jpath); !bytes.Equal(got, raw) {
				t.Errorf("journal changed by a failed Open")
			}
			// With the fault gone, the same Open recovers.
			s = mustOpen(t, dir, Options{FS: fs, Recover: true})
			assertState(t, s, map[string]string{"k0": "0"})
			mustClose(t, s)
		})
	}
}
