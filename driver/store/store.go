// Package store is a small durable key/value store for the emulated network
// driver daemon. Every acknowledged change is on stable storage before Apply
// returns, and the exact state is restored after a crash and restart.
//
// On-disk layout inside the store directory (mode 0700):
//
//	state.json   snapshot, replaced atomically (temp file, fsync, rename,
//	             fsync dir): the line "ibctl-snapshot 2 LENGTH CRC32C\n",
//	             then LENGTH bytes of a JSON object mapping key to raw JSON
//	             value, whose CRC32-C (hex) the line gives. Format 1 was
//	             the JSON object alone; it is still read.
//	journal.log  append-only journal of batches written since the snapshot:
//	             the 8 bytes "IBJ\xff" 2 0 0 0 (format 2), then records.
//
// Each journal record is
//
//	uint32 LE payload length | uint32 LE CRC32-C(length bytes + payload) |
//	uint32 LE CRC32-C(the 8 bytes before it) | payload
//
// and holds all operations of one Batch, so a batch is visible after a crash
// either completely or not at all. Format 1 journals (no file header,
// records without the header check) are still read.
//
// On Open the snapshot is loaded and the journal replayed in order. Only a
// torn tail, an incomplete last record left by a crash during its append,
// is dropped (and logged): a header cut short, a payload cut short behind
// an intact header, or a last record whose final byte is still zero. Any
// other bad record may hide acknowledged records after it: Open refuses
// with a *CorruptError naming the file and offset and leaves the file as it
// is, unless Options.Recover is set, which keeps the records before it and
// saves a copy of the journal next to it. Open then compacts, so the
// journal starts empty.
//
// It may import internal/privdir.
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
	"strconv"
	"strings"
	"sync"

	"github.com/ibctl/ibctl/internal/privdir"
)

const (
	snapshotName = "state.json"
	journalName  = "journal.log"
	tempPattern  = snapshotName + ".tmp-*"
	damagedName  = journalName + ".damaged-*"

	// DefaultMaxJournalBytes is the journal size at which Apply compacts,
	// unless the last snapshot is larger (see Options).
	DefaultMaxJournalBytes = 4 << 20
	// DefaultMaxJournalRecords is the journal record count at which Apply
	// compacts, unless the last snapshot holds more keys (see Options).
	DefaultMaxJournalRecords = 8192

	headerSizeV1   = 8
	headerSize     = 12
	maxPayloadSize = 1 << 30

	snapshotMagic = "ibctl-snapshot"
	// snapshotVersion is the snapshot format written.
	snapshotVersion = 2
	// maxSnapshotLine bounds the snapshot's first line.
	maxSnapshotLine = 64
)

// journalHeader starts a format 2 journal. Its fourth byte is 0xff so that
// no single flipped bit makes it read as a plausible format 1 record length.
var journalHeader = []byte{'I', 'B', 'J', 0xff, 2, 0, 0, 0}

const (
	opPut    byte = 1
	opDelete byte = 2
)

// crcTable is built on first use, so programs that link the store but never
// open one (the CLI) do not pay for it at start-up.
var crcTable = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// ErrClosed is returned by Apply after Close.
var ErrClosed = errors.New("store: closed")

// CorruptError is a damaged snapshot or journal that Open refused. The file
// is left as it was.
type CorruptError struct {
	Path   string // the damaged file
	Offset int64  // where the damage starts
	Reason string
	// Records is, for a journal, the number of intact records before
	// Offset, which Options.Recover keeps; -1 for a snapshot.
	Records int
}

func (e *CorruptError) Error() string {
	if e.Records < 0 {
		return fmt.Sprintf("store: snapshot %s is damaged: %s at offset %d", e.Path, e.Reason, e.Offset)
	}
	return fmt.Sprintf("store: journal %s is damaged: %s at offset %d, with %d intact records before it (--recover keeps those and saves a copy of the journal)",
		e.Path, e.Reason, e.Offset, e.Records)
}

// Options tunes a Store. Zero fields select the defaults.
type Options struct {
	// MaxJournalBytes triggers compaction once the journal reaches this
	// size or the size of the last snapshot, whichever is larger.
	MaxJournalBytes int64
	// MaxJournalRecords triggers compaction once the journal holds this
	// many records or as many as the last snapshot has keys, whichever
	// is more.
	// With both limits growing with the state, a compaction (which writes
	// the whole state) comes after as many bytes or records as it writes:
	// its cost per record stays the same however large the state grows,
	// and replaying the journal at most doubles the work of loading.
	MaxJournalRecords int
	// Recover makes Open accept a damaged journal: the records before the
	// damage are kept, the journal is first copied to
	// journal.log.damaged-*, and the loss is logged.
	Recover bool
	// Dict lists up to MaxDictWords words that values often hold, such
	// as the field names of a record. In memory each occurrence is one
	// byte, so that many similar values take a fraction of their size;
	// the files and the values read back are the same with or without.
	Dict []string
	// FS is the file system; nil means OS.
	FS FS
	// Log receives one line per notable event (a torn tail dropped, a
	// journal recovered); nil discards them.
	Log func(string)
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
	fs   FS
	dict *dict // the in-memory form of values (Options.Dict)

	// wmu serialises writers: journal appends, compaction and Close.
	wmu      sync.Mutex
	journal  File
	jSize    int64 // journal file size: header and intact records
	jRecords int
	snapSize int64 // body of the last snapshot written
	snapKeys int   // keys in the last snapshot written
	closed   bool
	failed   error // sticky: journal state unknown, store refuses writes
	// torn is set when an append or its sync failed: the journal may hold
	// a partial record after jSize, which must be cut off before the next
	// append. Each Apply retries until the cut is durable.
	torn       bool
	dirty      bool  // lazily applied records not yet synced
	compactErr error // last compaction failure, cleared by a successful one

	// mu guards data. Writers hold wmu and mu; readers only mu.RLock, so
	// reads do not wait for an fsync in progress. Values are kept in
	// their dict form.
	mu   sync.RWMutex
	data map[string]string
}

// Open opens or creates the store in dir with default options.
func Open(dir string) (*Store, error) {
	return OpenOptions(dir, Options{})
}

// OpenOptions opens or creates the store in dir. It creates dir with mode
// 0700 (a symlink, another user's directory or one writable by group or
// others is refused: privdir.State), loads the snapshot, replays the
// journal, drops a torn journal tail and compacts. A damaged snapshot or
// journal makes it fail with a *CorruptError (see the package comment).
// The OS file system opens no file through a symlink.
func OpenOptions(dir string, opts Options) (*Store, error) {
	if opts.MaxJournalBytes <= 0 {
		opts.MaxJournalBytes = DefaultMaxJournalBytes
	}
	if opts.MaxJournalRecords <= 0 {
		opts.MaxJournalRecords = DefaultMaxJournalRecords
	}
	if opts.FS == nil {
		opts.FS = OS
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	fs := opts.FS
	dict, err := newDict(opts.Dict)
	if err != nil {
		return nil, err
	}
	if err := privdir.StateNamed("directory", dir); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create dir %s: %w", dir, err)
	}
	if err := fs.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: chmod dir %s: %w", dir, err)
	}

	jpath := filepath.Join(dir, journalName)
	f, err := fs.OpenFile(jpath, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open journal %s: %w", jpath, err)
	}
	// An exclusive lock keeps a second daemon from interleaving appends.
	// The kernel drops it when the process dies, including on kill -9.
	if err := f.Lock(); err != nil {
		f.Close()
		return nil, fmt.Errorf("store: lock journal %s: %w", jpath, err)
	}
	s := &Store{dir: dir, opts: opts, fs: fs, dict: dict, journal: f}
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
	stale, _ := s.fs.Glob(filepath.Join(s.dir, tempPattern))
	for _, p := range stale {
		if err := s.fs.Remove(p); err != nil {
			return fmt.Errorf("store: remove stale temp file %s: %w", p, err)
		}
	}

	spath := filepath.Join(s.dir, snapshotName)
	raw, err := s.fs.ReadFile(spath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.data = make(map[string]string)
	case err != nil:
		return fmt.Errorf("store: read snapshot %s: %w", spath, err)
	default:
		if s.data, err = decodeSnapshot(raw, s.dict); err != nil {
			var ce *CorruptError
			if errors.As(err, &ce) {
				ce.Path = spath
			}
			return err
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
	r := replayJournal(jraw, s.data, s.dict)
	switch {
	case r.bad == "":
	case r.torn:
		// Left by a crash during an append that was never acknowledged;
		// the compaction that Open performs next truncates it away.
		s.opts.Log(fmt.Sprintf("store: journal %s: dropped the incomplete last record at offset %d (%d bytes, %s), left by an interrupted write",
			jpath, r.good, len(jraw)-r.good, r.bad))
	case !s.opts.Recover:
		return &CorruptError{Path: jpath, Offset: int64(r.good), Reason: r.bad, Records: r.records}
	default:
		cp, err := s.saveDamaged(jraw)
		if err != nil {
			return err
		}
		s.opts.Log(fmt.Sprintf("store: journal %s is damaged: %s at offset %d; kept the %d records before it, dropped %d bytes; the damaged journal is saved as %s",
			jpath, r.bad, r.good, r.records, len(jraw)-r.good, cp))
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// saveDamaged writes a durable copy of a damaged journal and returns its path.
func (s *Store) saveDamaged(raw []byte) (path string, err error) {
	f, err := s.fs.CreateTemp(s.dir, damagedName)
	if err != nil {
		return "", fmt.Errorf("store: save damaged journal in %s: %w", s.dir, err)
	}
	path = f.Name()
	if _, err = f.Write(raw); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.fs.SyncDir(s.dir)
	}
	if err != nil {
		s.fs.Remove(path)
		return "", fmt.Errorf("store: save damaged journal as %s: %w", path, err)
	}
	return path, nil
}

// replay is the outcome of replaying a journal.
type replay struct {
	good    int    // length of the intact prefix
	records int    // records applied
	bad     string // why the record at good is bad; "" if none
	torn    bool   // the bad part is an incomplete last record
}

// replayJournal applies every intact record of journal to data (in the
// form of d), up to the first bad one, and says whether that is a torn
// tail.
func replayJournal(journal []byte, data map[string]string, d *dict) replay {
	var r replay
	hsize := headerSize
	switch {
	case len(journal) == 0:
		return r
	case len(journal) < len(journalHeader) && bytes.HasPrefix(journalHeader, journal):
		return replay{bad: "file header cut short", torn: true}
	case bytes.HasPrefix(journal, journalHeader[:4]):
		if !bytes.Equal(journal[:len(journalHeader)], journalHeader) {
			return replay{bad: fmt.Sprintf("unknown journal format %d", journal[4])}
		}
		r.good = len(journalHeader)
	default:
		hsize = headerSizeV1
	}
	for {
		rest := journal[r.good:]
		if len(rest) == 0 {
			return r
		}
		ops, n, bad, torn := decodeRecord(rest, hsize)
		if bad != "" && !torn && allZero(rest) {
			// Space the file system allocated but the crash left unwritten.
			bad, torn = "zero-filled tail", true
		}
		if bad != "" {
			r.bad, r.torn = bad, torn
			return r
		}
		applyOps(data, ops, d)
		r.good += n
		r.records++
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
	return s.dict.appendDecoded(make([]byte, 0, s.dict.decodedLen(v)), v), true
}

// Size reports how many bytes the value of key takes in memory (in the
// form Options.Dict gives it) and read back; ok is false when there is no
// such key.
func (s *Store) Size(key string) (mem, value int, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.data[key]
	return len(v), s.dict.decodedLen(v), ok
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
	if err := s.journal.Datasync(); err != nil {
		// Lazily applied batches are visible but may be lost: the state
		// on disk is not the one in memory any more.
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
	if s.torn {
		if err := s.cutTorn(); err != nil {
			return err
		}
	}
	jpath := filepath.Join(s.dir, journalName)
	if s.jSize == 0 {
		rec = append(slices.Clip(journalHeader), rec...)
	}
	if _, err := s.journal.Write(rec); err != nil {
		// A partial record may be on disk (a short write, or the disk
		// is full): cut it off, now or before the next append.
		s.torn = true
		err = fmt.Errorf("store: append journal %s: %w", jpath, err)
		s.cutTorn()
		return err
	}
	if sync {
		if err := s.journal.Datasync(); err != nil {
			err = fmt.Errorf("store: sync journal %s: %w", jpath, err)
			if s.dirty {
				// Lazily applied batches before this one may be lost.
				s.failed = err
				return err
			}
			// Only this record is in doubt: cut it off, so that the
			// journal holds exactly what was acknowledged.
			s.torn = true
			s.cutTorn()
			return err
		}
		s.dirty = false
	} else {
		s.dirty = true
	}
	s.jSize += int64(len(rec))
	s.jRecords++

	s.mu.Lock()
	applyOps(s.data, ops, s.dict)
	s.mu.Unlock()

	if s.jSize >= max(s.opts.MaxJournalBytes, s.snapSize) || s.jRecords >= max(s.opts.MaxJournalRecords, s.snapKeys) {
		if err := s.compact(); err != nil {
			s.compactErr = err
		}
	}
	return nil
}

// cutTorn truncates the journal to its intact records after a failed
// append and makes that durable. Until it succeeds, s.torn stays set and
// no record is appended after the partial one.
func (s *Store) cutTorn() error {
	jpath := filepath.Join(s.dir, journalName)
	if err := s.journal.Truncate(s.jSize); err != nil {
		return fmt.Errorf("store: cut off failed append in journal %s: %w", jpath, err)
	}
	if err := s.journal.Datasync(); err != nil {
		return fmt.Errorf("store: cut off failed append in journal %s: %w", jpath, err)
	}
	s.torn = false
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
		if err := s.journal.Datasync(); err != nil {
			cerr = fmt.Errorf("store: sync journal %s: %w", filepath.Join(s.dir, journalName), err)
		}
	}
	if s.torn && s.failed == nil {
		cerr = errors.Join(cerr, s.cutTorn())
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
//
// If the truncation fails the journal stays as it was, which is as
// harmless, and the next compaction retries.
func (s *Store) compact() error {
	if s.torn {
		if err := s.cutTorn(); err != nil {
			return err
		}
	}
	if err := s.writeSnapshot(); err != nil {
		return err
	}
	jpath := filepath.Join(s.dir, journalName)
	if err := s.journal.Truncate(0); err != nil {
		return fmt.Errorf("store: truncate journal %s: %w", jpath, err)
	}
	s.jSize, s.jRecords = 0, 0
	if err := s.journal.Datasync(); err != nil {
		return fmt.Errorf("store: sync journal %s: %w", jpath, err)
	}
	s.compactErr = nil
	s.dirty = false
	return nil
}

// writeSnapshot atomically replaces state.json with the current data. Values
// are written verbatim (not re-encoded), so they round-trip byte for byte.
// The body is written twice, not held in memory: once to a checksum for
// the header, then to the file. Reading s.data without mu is safe: only
// holders of wmu modify it.
func (s *Store) writeSnapshot() (err error) {
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sum checksum
	cw := bufio.NewWriterSize(&sum, 64<<10)
	if err := writeSnapshotBody(cw, keys, s.data, s.dict); err != nil {
		return err
	}
	cw.Flush() // a checksum does not fail
	tmp, err := s.fs.CreateTemp(s.dir, tempPattern)
	if err != nil {
		return fmt.Errorf("store: create snapshot temp file in %s: %w", s.dir, err)
	}
	tpath := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			s.fs.Remove(tpath)
		}
	}()
	w := bufio.NewWriterSize(tmp, 64<<10)
	fmt.Fprintf(w, "%s %d %d %08x\n", snapshotMagic, snapshotVersion, sum.n, sum.crc)
	writeSnapshotBody(w, keys, s.data, s.dict) // w keeps its first error for Flush
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
	if err := s.fs.Rename(tpath, spath); err != nil {
		return fmt.Errorf("store: rename snapshot %s: %w", spath, err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("store: sync dir %s: %w", s.dir, err)
	}
	s.snapSize, s.snapKeys = sum.n, len(s.data)
	return nil
}

// plainKey reports whether json.Marshal writes k as it is between
// quotes: printable ASCII without '"', '\\' and the characters it escapes
// for HTML ('<', '>', '&').
func plainKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// checksum is the length and CRC32-C of what is written to it.
type checksum struct {
	n   int64
	crc uint32
}

func (c *checksum) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.crc = crc32.Update(c.crc, crcTable(), p)
	return len(p), nil
}

// writeSnapshotBody writes the JSON object of data (in the form of d)
// with the sorted keys to w; only encoding a key fails it, write errors
// are w's to keep.
func writeSnapshotBody(w *bufio.Writer, keys []string, data map[string]string, d *dict) error {
	var value []byte
	w.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n")
		if plainKey(k) {
			w.WriteByte('"')
			w.WriteString(k)
			w.WriteByte('"')
		} else {
			kb, err := json.Marshal(k)
			if err != nil {
				return fmt.Errorf("store: encode key %q: %w", k, err)
			}
			w.Write(kb)
		}
		w.WriteByte(':')
		value = d.appendDecoded(value[:0], data[k])
		w.Write(value)
	}
	w.WriteString("\n}\n")
	return nil
}

// decodeSnapshot parses a snapshot of format 2 (checked) or 1 (the bare
// JSON object) into values in the form of d. Damage is a *CorruptError
// without its Path.
func decodeSnapshot(raw []byte, d *dict) (map[string]string, error) {
	bad := func(off int, format string, args ...any) error {
		return &CorruptError{Offset: int64(off), Reason: fmt.Sprintf(format, args...), Records: -1}
	}
	body := raw
	if len(raw) == 0 || raw[0] != '{' {
		nl := bytes.IndexByte(raw[:min(len(raw), maxSnapshotLine)], '\n')
		if nl < 0 {
			return nil, bad(0, "no snapshot header")
		}
		f := strings.Split(string(raw[:nl]), " ")
		if len(f) != 4 || f[0] != snapshotMagic {
			return nil, bad(0, "no snapshot header")
		}
		if f[1] != strconv.Itoa(snapshotVersion) {
			return nil, bad(0, "unknown snapshot format %q", f[1])
		}
		n, err1 := strconv.ParseUint(f[2], 10, 31)
		sum, err2 := strconv.ParseUint(f[3], 16, 32)
		// Only the canonical spelling is accepted, so that every byte of
		// the header is checked.
		if err1 != nil || err2 != nil || string(raw[:nl]) != fmt.Sprintf("%s %d %d %08x", snapshotMagic, snapshotVersion, n, sum) {
			return nil, bad(0, "malformed snapshot header")
		}
		body = raw[nl+1:]
		if uint64(len(body)) != n {
			return nil, bad(nl+1, "snapshot holds %d bytes, its header says %d", len(body), n)
		}
		if crc32.Checksum(body, crcTable()) != uint32(sum) {
			return nil, bad(nl+1, "checksum mismatch")
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, bad(len(raw)-len(body), "invalid JSON: %v", err)
	}
	data := make(map[string]string, len(m))
	for k, v := range m {
		data[k] = d.encode(v)
	}
	return data, nil
}

// applyOps applies ops to data, whose values are in the form of d.
func applyOps(data map[string]string, ops []op, d *dict) {
	for _, o := range ops {
		switch o.kind {
		case opPut:
			data[o.key] = d.encode(o.value)
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
	binary.LittleEndian.PutUint32(buf[8:12], crc32.Checksum(buf[0:8], crcTable()))
	return buf, nil
}

// decodeRecord parses the record at the start of b, whose header is hsize
// bytes (headerSize, or headerSizeV1 for format 1). bad says why the record
// is not intact; torn, that it is an incomplete last record.
func decodeRecord(b []byte, hsize int) (ops []op, n int, bad string, torn bool) {
	if len(b) < hsize {
		return nil, 0, "record header cut short", true
	}
	plen := binary.LittleEndian.Uint32(b[0:4])
	headerOK := plen <= maxPayloadSize
	if hsize == headerSize {
		headerOK = headerOK && crc32.Checksum(b[0:8], crcTable()) == binary.LittleEndian.Uint32(b[8:12])
	}
	if !headerOK {
		return nil, 0, "record header damaged", false
	}
	if uint64(plen) > uint64(len(b)-hsize) {
		return nil, 0, "record cut short", true
	}
	n = hsize + int(plen)
	payload := b[hsize:n]
	crc := crc32.Update(crc32.Checksum(b[0:4], crcTable()), crcTable(), payload)
	if crc != binary.LittleEndian.Uint32(b[4:8]) {
		// A crash may leave the end of the last record unwritten (zero)
		// where the file system had already extended the file. No intact
		// payload ends in a zero byte: it ends in a JSON value or a key.
		if n == len(b) && plen > 0 && payload[plen-1] == 0 {
			return nil, 0, "record not completely written", true
		}
		return nil, 0, "record checksum mismatch", false
	}

	bad = "malformed record"
	count, m := binary.Uvarint(payload)
	if m <= 0 || count > uint64(len(payload)) {
		return nil, 0, bad, false
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
			return nil, 0, bad, false
		}
		kind := p[0]
		p = p[1:]
		key, ok := readBytes()
		if !ok {
			return nil, 0, bad, false
		}
		o := op{kind: kind, key: string(key)}
		switch kind {
		case opPut:
			v, ok := readBytes()
			if !ok || !json.Valid(v) {
				return nil, 0, bad, false
			}
			o.value = v // applyOps copies it
		case opDelete:
		default:
			return nil, 0, bad, false
		}
		ops = append(ops, o)
	}
	if len(p) != 0 {
		return nil, 0, bad, false
	}
	return ops, n, "", false
}
