// Package store is a small durable key/value store for the emulated network
// driver daemon. Every acknowledged change is on stable storage before Apply
// returns, and the exact state is restored after a crash and restart.
//
// On-disk layout inside the store directory (mode 0700):
//
//	state.json   snapshot: a JSON object mapping key to raw JSON value,
//	             replaced atomically (temp file, fsync, rename, fsync dir).
//	journal.log  append-only journal of batches written since the snapshot.
//
// Each journal record is
//
//	uint32 LE payload length | uint32 LE CRC32-C(length bytes + payload) | payload
//
// and holds all operations of one Batch, so a batch is visible after a crash
// either completely or not at all. On Open the snapshot is loaded and the
// journal replayed in order; the first record that is short (torn write) or
// fails its CRC ends the replay, and it and everything after it are dropped.
// Open then compacts, so the journal always starts empty.
package store

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/ibctl/ibctl/driver/privdir"
	"golang.org/x/sys/unix"
)

const (
	snapshotName = "state.json"
	journalName  = "journal.log"
	tempPattern  = snapshotName + ".tmp-*"

	// DefaultMaxJournalBytes is the journal size at which Apply compacts.
	DefaultMaxJournalBytes = 4 << 20
	// DefaultMaxJournalRecords is the journal record count at which Apply compacts.
	DefaultMaxJournalRecords = 8192

	headerSize     = 8
	maxPayloadSize = 1 << 30
)

const (
	opPut    byte = 1
	opDelete byte = 2
)

// crcTable is built on first use, so programs that link the store but never
// open one (the CLI) do not pay for it at start-up.
var crcTable = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("store: closed")

// Options tunes a Store. Zero fields select the defaults.
type Options struct {
	// MaxJournalBytes triggers compaction once the journal reaches this size.
	MaxJournalBytes int64
	// MaxJournalRecords triggers compaction once the journal holds this many records.
	MaxJournalRecords int
}

type op struct {
	kind  byte
	key   string
	value []byte
}

// Batch collects Put and Delete operations that Apply makes durable
// atomically. The zero value is an empty batch.
type Batch struct {
	ops []op
}

// Put records setting key to the JSON value. The value is copied.
func (b *Batch) Put(key string, value []byte) {
	b.ops = append(b.ops, op{kind: opPut, key: key, value: bytes.Clone(value)})
}

// Delete records removing key.
func (b *Batch) Delete(key string) {
	b.ops = append(b.ops, op{kind: opDelete, key: key})
}

// Len reports the number of operations in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Store is a durable key/value store. It is safe for concurrent use.
type Store struct {
	dir  string
	opts Options

	// wmu serialises writers: journal appends, compaction and Close.
	wmu        sync.Mutex
	journal    *os.File
	jBytes     int64
	jRecords   int
	closed     bool
	failed     error // sticky: journal state unknown, store refuses writes
	dirty      bool  // lazily applied records not yet synced
	compactErr error // last compaction failure, cleared by a successful one

	// mu guards data. Writers hold wmu and mu; readers only mu.RLock, so
	// reads do not wait for an fsync in progress.
	mu   sync.RWMutex
	data map[string][]byte
}

// Open opens or creates the store in dir with default options.
func Open(dir string) (*Store, error) {
	return OpenOptions(dir, Options{})
}

// OpenOptions opens or creates the store in dir. It creates dir with mode
// 0700 (and resets an existing dir to 0700; a symlink, another user's
// directory or one writable by group or others is refused), loads the
// snapshot, replays the journal, drops a torn or corrupt journal tail and
// compacts. No file is opened through a symlink.
func OpenOptions(dir string, opts Options) (*Store, error) {
	if opts.MaxJournalBytes <= 0 {
		opts.MaxJournalBytes = DefaultMaxJournalBytes
	}
	if opts.MaxJournalRecords <= 0 {
		opts.MaxJournalRecords = DefaultMaxJournalRecords
	}
	if err := privdir.StateNamed("directory", dir); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}

	jpath := filepath.Join(dir, journalName)
	f, err := privdir.OpenFile(jpath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open journal %s: %w", jpath, err)
	}
	// An exclusive lock keeps a second daemon from interleaving appends.
	// The kernel drops it when the process dies, including on kill -9.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock journal %s: %w", jpath, err)
	}
	s := &Store{dir: dir, opts: opts, journal: f}
	if err := s.load(); err != nil {
		f.Close()
		return nil, err
	}
	if err := s.compact(); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// load reads the snapshot and replays the journal into s.data. Stale temp
// files left by a crash during compaction are removed.
func (s *Store) load() error {
	stale, _ := filepath.Glob(filepath.Join(s.dir, tempPattern))
	for _, p := range stale {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("store: remove stale temp file %s: %w", p, err)
		}
	}

	spath := filepath.Join(s.dir, snapshotName)
	raw, err := privdir.ReadFile(spath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.data = make(map[string][]byte)
	case err != nil:
		return fmt.Errorf("store: read snapshot %s: %w", spath, err)
	default:
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("store: parse snapshot %s: %w", spath, err)
		}
		s.data = make(map[string][]byte, len(m))
		for k, v := range m {
			s.data[k] = v
		}
	}

	jpath := filepath.Join(s.dir, journalName)
	if _, err := s.journal.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("store: seek journal %s: %w", jpath, err)
	}
	jraw, err := io.ReadAll(s.journal)
	if err != nil {
		return fmt.Errorf("store: read journal %s: %w", jpath, err)
	}
	// The tail after the last good record, if any, is discarded by the
	// compaction that Open performs next (it truncates the journal to 0).
	replayJournal(jraw, s.data)
	return nil
}

// replayJournal applies every intact record of journal to data, stopping at
// the first torn or corrupt record. It returns the length of the good prefix
// and the number of records applied.
func replayJournal(journal []byte, data map[string][]byte) (good int, records int) {
	for off := 0; ; {
		ops, n, ok := decodeRecord(journal[off:])
		if !ok {
			return off, records
		}
		applyOps(data, ops)
		off += n
		records++
	}
}

// Get returns a copy of the value stored under key.
func (s *Store) Get(key string) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.data[key]
	if !ok {
		return nil, false
	}
	return bytes.Clone(v), true
}

// Keys returns the sorted keys that start with prefix.
func (s *Store) Keys(prefix string) []string {
	s.mu.RLock()
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

// Put durably sets key to the JSON value.
func (s *Store) Put(key string, value []byte) error {
	var b Batch
	b.Put(key, value)
	return s.Apply(b)
}

// Delete durably removes key. Deleting a missing key is not an error.
func (s *Store) Delete(key string) error {
	var b Batch
	b.Delete(key)
	return s.Apply(b)
}

// Apply makes all operations of b durable as one journal record, then makes
// them visible. When Apply returns nil the batch survives a crash; after a
// crash either the whole batch or none of it is visible. Values must be
// valid JSON; surrounding whitespace is trimmed. An empty batch is a no-op.
//
// If the journal has reached its size or record limit Apply then compacts.
// A failed compaction does not fail Apply (the batch is already durable); it
// is retried by the next Apply and reported by Close if it never succeeds.
func (s *Store) Apply(b Batch) error { return s.apply(b, true) }

// ApplyLazy writes b to the journal and makes it visible without waiting
// for the disk: it is durable after the next Sync or synced Apply (which
// flush everything written before them). A crash may lose a suffix of the
// lazily applied batches, never a part of one.
func (s *Store) ApplyLazy(b Batch) error { return s.apply(b, false) }

// Sync makes every batch applied so far durable.
func (s *Store) Sync() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.failed != nil {
		return fmt.Errorf("store: unusable after earlier error: %w", s.failed)
	}
	if !s.dirty {
		return nil
	}
	if err := fdatasync(s.journal); err != nil {
		s.failed = fmt.Errorf("store: sync journal %s: %w", filepath.Join(s.dir, journalName), err)
		return s.failed
	}
	s.dirty = false
	return nil
}

func (s *Store) apply(b Batch, sync bool) error {
	if len(b.ops) == 0 {
		return nil
	}
	ops := make([]op, len(b.ops))
	for i, o := range b.ops {
		if o.kind == opPut {
			v := bytes.Trim(o.value, " \t\r\n")
			if !json.Valid(v) {
				return fmt.Errorf("store: put %q: value is not valid JSON", o.key)
			}
			o.value = v
		}
		ops[i] = o
	}
	rec, err := encodeRecord(ops)
	if err != nil {
		return err
	}

	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.failed != nil {
		return fmt.Errorf("store: unusable after earlier error: %w", s.failed)
	}
	jpath := filepath.Join(s.dir, journalName)
	if _, err := s.journal.Write(rec); err != nil {
		// A partial record may be on disk; further appends after it would
		// be dropped on replay. Refuse writes until the store is reopened,
		// which discards the torn tail.
		s.failed = fmt.Errorf("store: append journal %s: %w", jpath, err)
		return s.failed
	}
	s.dirty = true
	if sync {
		if err := fdatasync(s.journal); err != nil {
			// After a failed fsync the on-disk state is unknown (the kernel
			// may have dropped the dirty pages); do not pretend otherwise.
			s.failed = fmt.Errorf("store: sync journal %s: %w", jpath, err)
			return s.failed
		}
		s.dirty = false
	}
	s.jBytes += int64(len(rec))
	s.jRecords++

	s.mu.Lock()
	applyOps(s.data, ops)
	s.mu.Unlock()

	if s.jBytes >= s.opts.MaxJournalBytes || s.jRecords >= s.opts.MaxJournalRecords {
		if err := s.compact(); err != nil {
			s.compactErr = err
		}
	}
	return nil
}

// Close releases the journal. Values stay readable through Get and Keys, but
// Apply returns ErrClosed. Close reports a compaction failure that was never
// recovered from.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var cerr error
	if s.dirty && s.failed == nil {
		if err := fdatasync(s.journal); err != nil {
			cerr = fmt.Errorf("store: sync journal %s: %w", filepath.Join(s.dir, journalName), err)
		}
	}
	if err := s.journal.Close(); err != nil {
		cerr = errors.Join(cerr, fmt.Errorf("store: close journal %s: %w", filepath.Join(s.dir, journalName), err))
	}
	return errors.Join(cerr, s.compactErr)
}

// compact writes the current state as a new snapshot and empties the
// journal. Caller holds wmu (or has exclusive access during Open).
//
// Crash safety: the snapshot is replaced atomically by rename, and the
// journal is truncated only after the new snapshot and its directory entry
// are durable. A crash between the two leaves the new snapshot plus the old
// journal; replaying that journal on top of the snapshot is harmless because
// every record is an idempotent put or delete of a whole value and the
// snapshot already equals the result of applying those records in order, so
// replay yields the same state again.
func (s *Store) compact() error {
	if err := s.writeSnapshot(); err != nil {
		return err
	}
	jpath := filepath.Join(s.dir, journalName)
	if err := s.journal.Truncate(0); err != nil {
		s.failed = fmt.Errorf("store: truncate journal %s: %w", jpath, err)
		return s.failed
	}
	if err := fdatasync(s.journal); err != nil {
		s.failed = fmt.Errorf("store: sync journal %s: %w", jpath, err)
		return s.failed
	}
	s.jBytes, s.jRecords = 0, 0
	s.compactErr = nil
	s.dirty = false
	return nil
}

// writeSnapshot atomically replaces state.json with the current data. Values
// are written verbatim (not re-encoded), so they round-trip byte for byte.
// Reading s.data without mu is safe: only holders of wmu modify it.
func (s *Store) writeSnapshot() (err error) {
	tmp, err := os.CreateTemp(s.dir, tempPattern)
	if err != nil {
		return fmt.Errorf("store: create snapshot temp file in %s: %w", s.dir, err)
	}
	tpath := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tpath)
		}
	}()

	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	w := bufio.NewWriterSize(tmp, 64<<10)
	w.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n")
		kb, err := json.Marshal(k)
		if err != nil {
			return fmt.Errorf("store: encode key %q: %w", k, err)
		}
		w.Write(kb)
		w.WriteByte(':')
		w.Write(s.data[k])
	}
	w.WriteString("\n}\n")
	if err := w.Flush(); err != nil {
		return fmt.Errorf("store: write snapshot %s: %w", tpath, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("store: sync snapshot %s: %w", tpath, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("store: close snapshot %s: %w", tpath, err)
	}
	spath := filepath.Join(s.dir, snapshotName)
	if err := os.Rename(tpath, spath); err != nil {
		return fmt.Errorf("store: rename snapshot %s: %w", spath, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	return nil
}

func syncDir(dir string) error {
	d, err := privdir.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("store: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: sync dir %s: %w", dir, err)
	}
	return nil
}

func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			return err
		}
	}
}

func applyOps(data map[string][]byte, ops []op) {
	for _, o := range ops {
		switch o.kind {
		case opPut:
			data[o.key] = o.value
		case opDelete:
			delete(data, o.key)
		}
	}
}

// encodeRecord frames ops as one journal record.
func encodeRecord(ops []op) ([]byte, error) {
	size := headerSize + binary.MaxVarintLen64
	for _, o := range ops {
		size += 1 + 2*binary.MaxVarintLen64 + len(o.key) + len(o.value)
	}
	buf := make([]byte, headerSize, size)
	buf = binary.AppendUvarint(buf, uint64(len(ops)))
	for _, o := range ops {
		buf = append(buf, o.kind)
		buf = binary.AppendUvarint(buf, uint64(len(o.key)))
		buf = append(buf, o.key...)
		if o.kind == opPut {
			buf = binary.AppendUvarint(buf, uint64(len(o.value)))
			buf = append(buf, o.value...)
		}
	}
	n := len(buf) - headerSize
	if n > maxPayloadSize {
		return nil, fmt.Errorf("store: batch of %d bytes exceeds limit of %d", n, maxPayloadSize)
	}
	binary.LittleEndian.PutUint32(buf[0:4], uint32(n))
	crc := crc32.Update(crc32.Checksum(buf[0:4], crcTable()), crcTable(), buf[headerSize:])
	binary.LittleEndian.PutUint32(buf[4:8], crc)
	return buf, nil
}

// decodeRecord parses the record at the start of b. ok is false if the
// record is incomplete, fails its checksum or is malformed.
func decodeRecord(b []byte) (ops []op, n int, ok bool) {
	if len(b) < headerSize {
		return nil, 0, false
	}
	plen := binary.LittleEndian.Uint32(b[0:4])
	if plen > maxPayloadSize || uint64(plen) > uint64(len(b)-headerSize) {
		return nil, 0, false
	}
	n = headerSize + int(plen)
	payload := b[headerSize:n]
	crc := crc32.Update(crc32.Checksum(b[0:4], crcTable()), crcTable(), payload)
	if crc != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, false
	}

	count, m := binary.Uvarint(payload)
	if m <= 0 || count > uint64(len(payload)) {
		return nil, 0, false
	}
	p := payload[m:]
	readBytes := func() ([]byte, bool) {
		l, m := binary.Uvarint(p)
		if m <= 0 || l > uint64(len(p)-m) {
			return nil, false
		}
		v := p[m : m+int(l)]
		p = p[m+int(l):]
		return v, true
	}
	ops = make([]op, 0, count)
	for range count {
		if len(p) == 0 {
			return nil, 0, false
		}
		kind := p[0]
		p = p[1:]
		key, ok := readBytes()
		if !ok {
			return nil, 0, false
		}
		o := op{kind: kind, key: string(key)}
		switch kind {
		case opPut:
			v, ok := readBytes()
			if !ok || !json.Valid(v) {
				return nil, 0, false
			}
			o.value = bytes.Clone(v)
		case opDelete:
		default:
			return nil, 0, false
		}
		ops = append(ops, o)
	}
	if len(p) != 0 {
		return nil, 0, false
	}
	return ops, n, true
}
