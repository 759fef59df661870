package store

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testDict is a dictionary of the kind the driver gives: field names and
// frequent values, some of them prefixes of others.
var testDict = []string{`{"index":`, `,"name":"`, `","port":`, `,"mtu":4092`, `,"mtu":`, `"rx-gro"`, `"rx-`, `]}`}

// TestDictRoundTrip puts values through a store with a dictionary and
// checks that Get, the snapshot, the journal and a reopened store (with
// the dictionary or without) see exactly the bytes put, and that the
// value in memory has the length the dictionary gives it.
func TestDictRoundTrip(t *testing.T) {
	tests := []struct {
		name, value string
		memLen      int // length in memory with testDict
	}{
		{"no word", `{"a":1}`, 7},
		{"words", `{"index":4,"name":"ib0.0001","port":1,"mtu":4092,"wanted":["rx-gro"]}`, 1 + 1 + 1 + 8 + 1 + 1 + 1 + len(`,"wanted":[`) + 1 + 1},
		{"shorter word where the longer does not match", `{"index":4,"mtu":2044}`, 1 + 1 + 1 + 4 + 1},
		{"prefix word", `["rx-checksum"]`, 1 + 1 + len(`checksum"]`)},
		{"word inside a string", `"{\"index\":"`, len(`"{\"index\":"`)},
		{"whitespace kept", "{\"index\":\t1,\r\n\"name\":\"x\"}", 1 + 1 + 1 + 3 + len(`"name":"x"}`)},
		{"word at the end", `{"a":[1]}`, len(`{"a":[1`) + 1},
		{"non-ASCII", `{"name":"é\u00e9"}`, len(`{"name":"é\u00e9"}`)},
		{"words around a byte", `{"index":[]}`, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plainDir, dictDir := t.TempDir(), t.TempDir()
			for _, dir := range []string{plainDir, dictDir} {
				opts := Options{}
				if dir == dictDir {
					opts.Dict = testDict
				}
				s := mustOpen(t, dir, opts)
				if err := s.Put("k", []byte(tc.value)); err != nil {
					t.Fatal(err)
				}
				if got, _ := s.Get("k"); string(got) != tc.value {
					t.Errorf("Get = %q, want %q", got, tc.value)
				}
				wantMem := len(tc.value)
				if dir == dictDir {
					wantMem = tc.memLen
				}
				if mem, n, ok := s.Size("k"); mem != wantMem || n != len(tc.value) || !ok {
					t.Errorf("Size = %d, %d, %v, want %d, %d, true", mem, n, ok, wantMem, len(tc.value))
				}
				mustClose(t, s)
			}
			// The journals hold the same record; after the compaction of
			// a reopen the snapshots are the same.
			sameFile(t, plainDir, dictDir, journalName)
			mustClose(t, mustOpen(t, plainDir, Options{}))
			mustClose(t, mustOpen(t, dictDir, Options{Dict: testDict}))
			sameFile(t, plainDir, dictDir, snapshotName)
			for _, opts := range []Options{{}, {Dict: testDict}} {
				s := mustOpen(t, dictDir, opts) // replays the journal and compacts
				assertState(t, s, map[string]string{"k": tc.value})
				mustClose(t, s)
				s = mustOpen(t, dictDir, opts) // reads that snapshot
				assertState(t, s, map[string]string{"k": tc.value})
				mustClose(t, s)
			}
			a, _ := os.ReadFile(filepath.Join(dictDir, snapshotName))
			if !strings.Contains(string(a), "\n\"k\":"+tc.value+"\n") {
				t.Errorf("snapshot %q does not hold %q", a, tc.value)
			}
		})
	}
}

// TestDictEncode pins the in-memory form of values: at each position the
// longest word that starts there, whatever the order of the dictionary,
// becomes its code (the i-th word's is dictCodes[i]); a word counts only
// when all of it is inside the value, up to its last byte; every other
// byte, a space (the first byte above the codes) too, stays as it is. The
// values end where their memory does, as a value cut from a larger buffer
// may.
func TestDictEncode(t *testing.T) {
	tests := []struct {
		name        string
		dict        []string
		value, want string
	}{
		{"longer word listed later", []string{`"ab`, `"abcdef"`}, `["abcdef"]`, "[\x01]"},
		{"longer short word listed later", []string{`a`, `ab`}, `"ab"`, "\"\x01\""},
		{"longer word listed first", []string{`"abcdef"`, `"ab`}, `["abcdef", "abx"]`, "[\x00, \x01x\"]"},
		{"three-byte word at the end", []string{`}]}`}, `{"a":[{}]}`, `{"a":[{` + "\x00"},
		{"longer word at the end", []string{`[{}]}`}, `{"a":[{}]}`, `{"a":` + "\x00"},
		{"two-byte word at the end", []string{`]}`}, `{"a":[]}`, `{"a":[` + "\x00"},
		{"word begun at the end", []string{`[]}}`}, `{"a":[]}`, `{"a":[]}`},
		{"short word begun at the end", []string{`}}`}, `{"a":[]}`, `{"a":[]}`},
		{"one-byte value, short word", []string{`1`, `12`}, `1`, "\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := newDict(tc.dict)
			if err != nil {
				t.Fatal(err)
			}
			v := slices.Clip([]byte(tc.value))
			got := d.encode(v)
			if got != tc.want {
				t.Errorf("encode(%q) = %q, want %q", tc.value, got, tc.want)
			}
			if back := d.appendDecoded(nil, got); string(back) != tc.value {
				t.Errorf("appendDecoded(%q) = %q, want %q", got, back, tc.value)
			}
			if n := d.decodedLen(got); n != len(tc.value) {
				t.Errorf("decodedLen(%q) = %d, want %d", got, n, len(tc.value))
			}
		})
	}
}

// sameFile fails the test unless file name is the same in both dirs.
func sameFile(t *testing.T, dirA, dirB, name string) {
	t.Helper()
	a, errA := os.ReadFile(filepath.Join(dirA, name))
	b, errB := os.ReadFile(filepath.Join(dirB, name))
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("%s differs with the dictionary: %q (%v) and %q (%v)", name, a, errA, b, errB)
	}
}

// TestDictRefused: a dictionary the store cannot use fails Open, and the
// largest one it can is accepted.
func TestDictRefused(t *testing.T) {
	many := make([]string, MaxDictWords+1)
	for i := range many {
		many[i] = strings.Repeat("w", i+1)
	}
	tests := []struct {
		name string
		dict []string
		want string // "" for success
	}{
		{"largest", many[:MaxDictWords], ""},
		{"too many", many, "store: dictionary of 30 words, at most 29"},
		{"empty word", []string{"a", ""}, `store: dictionary word "": empty, repeated or holding a control character`},
		{"repeated", []string{"a", "b", "a"}, `store: dictionary word "a": empty, repeated or holding a control character`},
		{"control character", []string{"a\x01"}, `store: dictionary word "a\x01": empty, repeated or holding a control character`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenOptions(dir, Options{Dict: tc.dict})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("OpenOptions: %v", err)
				}
				mustClose(t, s)
				return
			}
			if err == nil || err.Error() != tc.want {
				t.Fatalf("OpenOptions = %v, want %s", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, journalName)); !os.IsNotExist(err) {
				t.Errorf("journal after a refused dictionary: %v", err)
			}
		})
	}
}

// BenchmarkDictEncode encodes a child's record with a dictionary like
// the driver's, as every Apply of it does.
func BenchmarkDictEncode(b *testing.B) {
	d, err := newDict([]string{`{"index":`, `,"name":"`, `","port":`, `,"parent":`, `,"legacy":true,"pkey":`, `,"pkey":`, `,"qpn":`,
		`,"mode":0,"mtu":`, `,"mode":`, `,"mtu":`, `4092`, `2044`, `,"admin_mtu":`, `,"mcast_mtu":`,
		`,"num_tx_queues":1,"wanted":[`, `,"num_tx_queues":`, `,"wanted":[`,
		`"tx-checksum-ipv4"`, `"tx-generic-segmentation"`, `"rx-gro"`, `"tx-tcp-segmentation"`, `"rx-checksum"`,
		`"tx-scatter-gather"`, `]}`, `,"up":true,"active":true`, `,"active":true`, `,"addrs":[`, `,"tx_queue_len":`, `,"umcast":true`})
	if err != nil {
		b.Fatal(err)
	}
	v := []byte(`{"index":32771,"name":"ib0.7fff","port":1,"parent":2,"legacy":true,"pkey":65535,"qpn":32842,"mode":0,"mtu":4092,"admin_mtu":4092,"mcast_mtu":4092,"num_tx_queues":1,"wanted":["tx-checksum-ipv4","tx-generic-segmentation","rx-gro","tx-tcp-segmentation","rx-checksum"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if e := d.encode(v); len(e) != 48 {
			b.Fatalf("%d bytes", len(e))
		}
	}
}
