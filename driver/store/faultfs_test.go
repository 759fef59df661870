package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// TestFaultMatchesName: a fault fires for its operation on the file of its
// base name, on a temp file made from that name's pattern (NAME.tmp-
// followed by at least one byte, as os.CreateTemp makes it) and, with no
// name, on every file; on nothing else.
func TestFaultMatchesName(t *testing.T) {
	tests := []struct {
		name  string // Fault.Name
		op    Op     // the operation asked about; the fault is an OpRename
		path  string
		fires bool
	}{
		{"", OpRename, "/d/anything", true},
		{"", OpSync, "/d/anything", false},
		{snapshotName, OpRename, "/d/state.json", true},
		{snapshotName, OpRename, "/other/dir/state.json", true},
		{snapshotName, OpCreate, "/d/state.json", false},
		{snapshotName, OpRename, "/d/state.json.tmp-1", true},
		{snapshotName, OpRename, "/d/state.json.tmp-123456789", true},
		{snapshotName, OpRename, "/d/state.json.tmp-*", true},
		{snapshotName, OpRename, "/d/state.json.tmp-", false},
		{snapshotName, OpRename, "/d/state.json.tmp", false},
		{snapshotName, OpRename, "/d/state.json.tm", false},
		{snapshotName, OpRename, "/d/state.json.", false},
		{snapshotName, OpRename, "/d/state.json.bak-1", false},
		{snapshotName, OpRename, "/d/state.jsonx.tmp-1", false},
		{snapshotName, OpRename, "/d/xstate.json.tmp-1", false},
		{snapshotName, OpRename, "/d/state.jso", false},
		{snapshotName, OpRename, "/d/state.json/x", false},
		{snapshotName, OpRename, "/d/journal.log", false},
		{journalName, OpRename, "/d/state.json.tmp-1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name+" "+string(tc.op)+" "+tc.path, func(t *testing.T) {
			fs := &FaultFS{}
			fs.Inject(Fault{Op: OpRename, Name: tc.name, Err: syscall.EIO})
			ft := fs.fault(tc.op, tc.path)
			if got := ft != nil; got != tc.fires {
				t.Fatalf("fault(%s, %s) fired: %v, want %v", tc.op, tc.path, got, tc.fires)
			}
			if ft != nil && ft.Err != syscall.EIO {
				t.Errorf("fault(%s, %s).Err = %v, want EIO", tc.op, tc.path, ft.Err)
			}
		})
	}
}

// TestFaultTimes: a fault fires exactly Times times (0: until Clear) and
// the faults are checked in the order added, so one that is used up
// uncovers the next and leaves the others in their order.
func TestFaultTimes(t *testing.T) {
	eio, enospc, erofs := syscall.EIO, syscall.ENOSPC, syscall.EROFS
	tests := []struct {
		name   string
		faults []Fault
		want   []error // what successive syncs of "f" get; nil: no fault
	}{
		{"once", []Fault{{Op: OpSync, Err: eio, Times: 1}}, []error{eio, nil, nil}},
		{"twice", []Fault{{Op: OpSync, Err: eio, Times: 2}}, []error{eio, eio, nil, nil}},
		{"until Clear", []Fault{{Op: OpSync, Err: eio}}, []error{eio, eio, eio, eio, eio}},
		{"first added first", []Fault{{Op: OpSync, Err: eio, Times: 2}, {Op: OpSync, Err: enospc}},
			[]error{eio, eio, enospc, enospc}},
		{"other file first", []Fault{{Op: OpSync, Name: "g", Err: erofs}, {Op: OpSync, Err: eio, Times: 1}},
			[]error{eio, nil, nil}},
		{"used up in the middle", []Fault{
			{Op: OpSync, Name: "g", Err: erofs},
			{Op: OpSync, Err: eio, Times: 1},
			{Op: OpSync, Name: "f", Err: enospc, Times: 1},
			{Op: OpSync, Err: erofs, Times: 1}},
			[]error{eio, enospc, erofs, nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := &FaultFS{}
			for _, ft := range tc.faults {
				fs.Inject(ft)
			}
			var got []error
			for range tc.want {
				var err error
				if ft := fs.fault(OpSync, "/d/f"); ft != nil {
					err = ft.Err
				}
				got = append(got, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("successive faults %v, want %v", got, tc.want)
			}
			// The fault on "g" that comes first never fires for "f" and
			// is still there.
			if tc.faults[0].Name == "g" {
				if ft := fs.fault(OpSync, "/d/g"); ft == nil || ft.Err != erofs {
					t.Errorf("fault on g = %+v, want EROFS", ft)
				}
			}
			fs.Clear()
			if ft := fs.fault(OpSync, "/d/f"); ft != nil {
				t.Errorf("fault %+v after Clear", ft)
			}
		})
	}
}

// TestFaultFSOps: each operation fails with its fault's error in the
// *os.PathError (or *os.LinkError) that the os package returns for it,
// without reaching the file system, and passes through untouched when no
// fault applies.
func TestFaultFSOps(t *testing.T) {
	eio := syscall.EIO
	type env struct {
		fs  *FaultFS
		dir string
	}
	open := func(t *testing.T, e env, name string, flag int) File {
		t.Helper()
		f, err := e.fs.OpenFile(filepath.Join(e.dir, name), flag, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	tests := []struct {
		name  string
		fault Fault
		// run does the operation and returns its error.
		run func(t *testing.T, e env) error
		// wantErr is the error with the fault in place; dir stands for
		// the store directory in its paths.
		wantErr error
		// check inspects the files after run with the fault in place.
		check func(t *testing.T, e env)
	}{
		{"create by OpenFile", Fault{Op: OpCreate, Name: "new", Err: eio},
			func(t *testing.T, e env) error {
				_, err := e.fs.OpenFile(filepath.Join(e.dir, "new"), os.O_RDWR|os.O_CREATE, 0o600)
				return err
			},
			&os.PathError{Op: "open", Path: "dir/new", Err: eio},
			func(t *testing.T, e env) { wantMissing(t, filepath.Join(e.dir, "new")) }},
		{"OpenFile without O_CREATE is no create", Fault{Op: OpCreate, Name: "old", Err: eio},
			func(t *testing.T, e env) error {
				_, err := e.fs.OpenFile(filepath.Join(e.dir, "old"), os.O_RDWR, 0)
				return err
			},
			nil, nil},
		{"OpenFile passes the file system's error", Fault{Op: OpCreate, Name: "other", Err: eio},
			func(t *testing.T, e env) error {
				_, err := e.fs.OpenFile(filepath.Join(e.dir, "missing"), os.O_RDWR, 0)
				return unwrapPath(err)
			},
			syscall.ENOENT, nil},
		{"CreateTemp", Fault{Op: OpCreate, Name: snapshotName, Err: eio},
			func(t *testing.T, e env) error {
				_, err := e.fs.CreateTemp(e.dir, tempPattern)
				return err
			},
			&os.PathError{Op: "open", Path: "dir/state.json.tmp-*", Err: eio},
			func(t *testing.T, e env) { wantEntries(t, e.dir, "old") }},
		{"CreateTemp passes the file system's error", Fault{Op: OpCreate, Name: journalName, Err: eio},
			func(t *testing.T, e env) error {
				_, err := e.fs.CreateTemp(filepath.Join(e.dir, "missing"), tempPattern)
				return unwrapPath(err)
			},
			syscall.ENOENT, nil},
		{"Rename", Fault{Op: OpRename, Name: "new", Err: eio},
			func(t *testing.T, e env) error {
				return e.fs.Rename(filepath.Join(e.dir, "old"), filepath.Join(e.dir, "new"))
			},
			&os.LinkError{Op: "rename", Old: "dir/old", New: "dir/new", Err: eio},
			func(t *testing.T, e env) { wantEntries(t, e.dir, "old") }},
		{"Rename matches the new name only", Fault{Op: OpRename, Name: "old", Err: eio},
			func(t *testing.T, e env) error {
				return e.fs.Rename(filepath.Join(e.dir, "old"), filepath.Join(e.dir, "new"))
			},
			nil,
			func(t *testing.T, e env) { wantEntries(t, e.dir, "new") }},
		{"SyncDir", Fault{Op: OpSync, Name: "dir", Err: eio},
			func(t *testing.T, e env) error { return e.fs.SyncDir(e.dir) },
			&os.PathError{Op: "sync", Path: "dir", Err: eio}, nil},
		{"Sync", Fault{Op: OpSync, Name: "old", Err: eio},
			func(t *testing.T, e env) error { return open(t, e, "old", os.O_RDWR).Sync() },
			&os.PathError{Op: "fsync", Path: "dir/old", Err: eio}, nil},
		{"Datasync", Fault{Op: OpSync, Name: "old", Err: eio},
			func(t *testing.T, e env) error { return open(t, e, "old", os.O_RDWR).Datasync() },
			&os.PathError{Op: "fdatasync", Path: "dir/old", Err: eio}, nil},
		{"Truncate", Fault{Op: OpTruncate, Name: "old", Err: eio},
			func(t *testing.T, e env) error { return open(t, e, "old", os.O_RDWR).Truncate(1) },
			&os.PathError{Op: "truncate", Path: "dir/old", Err: eio},
			func(t *testing.T, e env) { wantContent(t, filepath.Join(e.dir, "old"), "12345") }},
		{"Write", Fault{Op: OpWrite, Name: "old", Err: eio},
			func(t *testing.T, e env) error {
				return wantWritten(t, open(t, e, "old", os.O_RDWR|os.O_APPEND), "abcde", 0)
			},
			&os.PathError{Op: "write", Path: "dir/old", Err: eio},
			func(t *testing.T, e env) { wantContent(t, filepath.Join(e.dir, "old"), "12345") }},
		{"short Write", Fault{Op: OpWrite, Name: "old", Err: eio, Short: 3},
			func(t *testing.T, e env) error {
				return wantWritten(t, open(t, e, "old", os.O_RDWR|os.O_APPEND), "abcde", 3)
			},
			&os.PathError{Op: "write", Path: "dir/old", Err: eio},
			func(t *testing.T, e env) { wantContent(t, filepath.Join(e.dir, "old"), "12345abc") }},
		{"Short beyond the buffer", Fault{Op: OpWrite, Name: "old", Err: eio, Short: 9},
			func(t *testing.T, e env) error {
				return wantWritten(t, open(t, e, "old", os.O_RDWR|os.O_APPEND), "abcde", 5)
			},
			&os.PathError{Op: "write", Path: "dir/old", Err: eio},
			func(t *testing.T, e env) { wantContent(t, filepath.Join(e.dir, "old"), "12345abcde") }},
		{"negative Short", Fault{Op: OpWrite, Name: "old", Err: eio, Short: -1},
			func(t *testing.T, e env) error {
				return wantWritten(t, open(t, e, "old", os.O_RDWR|os.O_APPEND), "abcde", 0)
			},
			&os.PathError{Op: "write", Path: "dir/old", Err: eio},
			func(t *testing.T, e env) { wantContent(t, filepath.Join(e.dir, "old"), "12345") }},
		// No write reaches the file, not even an empty one, which
		// write(2) refuses with EBADF on a file opened read-only.
		{"Write to a read-only file", Fault{Op: OpWrite, Name: "old", Err: eio},
			func(t *testing.T, e env) error {
				return wantWritten(t, open(t, e, "old", os.O_RDONLY), "abcde", 0)
			},
			&os.PathError{Op: "write", Path: "dir/old", Err: eio}, nil},
		// The bytes before the fault are written for real: the file
		// system's error comes first.
		{"short Write to a read-only file", Fault{Op: OpWrite, Name: "old", Err: eio, Short: 3},
			func(t *testing.T, e env) error {
				return unwrapPath(wantWritten(t, open(t, e, "old", os.O_RDONLY), "abcde", 0))
			},
			syscall.EBADF,
			func(t *testing.T, e env) { wantContent(t, filepath.Join(e.dir, "old"), "12345") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "dir")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "old"), []byte("12345"), 0o600); err != nil {
				t.Fatal(err)
			}
			e := env{fs: &FaultFS{}, dir: dir}
			e.fs.Inject(tc.fault)
			err := tc.run(t, e)
			want := withDir(tc.wantErr, dir)
			if !reflect.DeepEqual(err, want) {
				t.Fatalf("error %#v (%v), want %#v (%v)", err, err, want, want)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// wantWritten writes s to f and checks that Write reports n bytes written.
func wantWritten(t *testing.T, f File, s string, n int) error {
	t.Helper()
	got, err := f.Write([]byte(s))
	if got != n {
		t.Errorf("Write(%q) = %d, %v; want %d bytes", s, got, err, n)
	}
	return err
}

// unwrapPath is the errno inside a *os.PathError.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// withDir puts dir in place of "dir" in the paths of err.
func withDir(err error, dir string) error {
	fix := func(p string) string {
		if rel, ok := cutDir(p); ok {
			return filepath.Join(dir, rel)
		}
		return p
	}
	switch e := err.(type) {
	case *os.PathError:
		return &os.PathError{Op: e.Op, Path: fix(e.Path), Err: e.Err}
	case *os.LinkError:
		return &os.LinkError{Op: e.Op, Old: fix(e.Old), New: fix(e.New), Err: e.Err}
	}
	return err
}

func cutDir(p string) (string, bool) {
	if p == "dir" {
		return "", true
	}
	if len(p) > 4 && p[:4] == "dir/" {
		return p[4:], true
	}
	return "", false
}

func wantContent(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("%s holds %q (%v), want %q", path, got, err, want)
	}
}

func wantMissing(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (%v), want none", path, err)
	}
}

// wantEntries checks that dir holds exactly the names.
func wantEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
