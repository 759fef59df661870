package store

import (
	"os"
	"path/filepath"
	"sync"
)

// Op names a file system operation a Fault applies to.
type Op string

// The operations a FaultFS can make fail.
const (
	OpWrite    Op = "write"
	OpSync     Op = "sync" // Sync and Datasync of files, SyncDir
	OpTruncate Op = "truncate"
	OpRename   Op = "rename"
	OpCreate   Op = "create" // CreateTemp, and OpenFile with os.O_CREATE
)

// Fault makes an operation fail.
type Fault struct {
	Op Op
	// Name is the base name of the file (or directory) it applies to;
	// "" matches every file. A temp file's name matches its pattern's
	// prefix, so "state.json" matches "state.json.tmp-123".
	Name string
	// Err is returned (wrapped in an *os.PathError), e.g. syscall.ENOSPC.
	Err error
	// Short, for OpWrite, is how many bytes are written before Err.
	Short int
	// Times is how often the fault fires; 0 means until Clear.
	Times int
}

// FaultFS wraps an FS (OS when nil) and makes chosen operations fail, so
// that tests reach every failure path without root or special file
// systems. It is safe for concurrent use.
type FaultFS struct {
	FS FS

	mu     sync.Mutex
	faults []*Fault
}

// Inject adds a fault. Faults are checked in the order added.
func (f *FaultFS) Inject(ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &ft)
}

// Clear removes every fault: the disk has space again.
func (f *FaultFS) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
}

func (f *FaultFS) base() FS {
	if f.FS == nil {
		return OS
	}
	return f.FS
}

// fault returns the fault that fires for op on path, if any.
func (f *FaultFS) fault(op Op, path string) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := filepath.Base(path)
	for i, ft := range f.faults {
		if ft.Op != op || (ft.Name != "" && name != ft.Name && !hasTempPrefix(name, ft.Name)) {
			continue
		}
		hit := *ft
		if ft.Times > 0 {
			if ft.Times--; ft.Times == 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
		}
		return &hit
	}
	return nil
}

func hasTempPrefix(name, prefix string) bool {
	return len(name) > len(prefix)+5 && name[:len(prefix)] == prefix && name[len(prefix):len(prefix)+5] == ".tmp-"
}

func pathErr(op Op, path string, err error) error {
	return &os.PathError{Op: string(op), Path: path, Err: err}
}

// OpenFile implements FS.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if flag&os.O_CREATE != 0 {
		if ft := f.fault(OpCreate, name); ft != nil {
			return nil, pathErr("open", name, ft.Err)
		}
	}
	file, err := f.base().OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

// CreateTemp implements FS.
func (f *FaultFS) CreateTemp(dir, pattern string) (File, error) {
	if ft := f.fault(OpCreate, filepath.Join(dir, pattern)); ft != nil {
		return nil, pathErr("open", filepath.Join(dir, pattern), ft.Err)
	}
	file, err := f.base().CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

// ReadFile implements FS.
func (f *FaultFS) ReadFile(name string) ([]byte, error) { return f.base().ReadFile(name) }

// Rename implements FS.
func (f *FaultFS) Rename(oldpath, newpath string) error {
	if ft := f.fault(OpRename, newpath); ft != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: ft.Err}
	}
	return f.base().Rename(oldpath, newpath)
}

// Remove implements FS.
func (f *FaultFS) Remove(name string) error { return f.base().Remove(name) }

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(path string, perm os.FileMode) error { return f.base().MkdirAll(path, perm) }

// Chmod implements FS.
func (f *FaultFS) Chmod(name string, mode os.FileMode) error { return f.base().Chmod(name, mode) }

// Glob implements FS.
func (f *FaultFS) Glob(pattern string) ([]string, error) { return f.base().Glob(pattern) }

// SyncDir implements FS.
func (f *FaultFS) SyncDir(dir string) error {
	if ft := f.fault(OpSync, dir); ft != nil {
		return pathErr("sync", dir, ft.Err)
	}
	return f.base().SyncDir(dir)
}

type faultFile struct {
	File
	fs *FaultFS
}

func (f *faultFile) Write(b []byte) (int, error) {
	if ft := f.fs.fault(OpWrite, f.Name()); ft != nil {
		n := min(max(ft.Short, 0), len(b))
		if n > 0 {
			if m, err := f.File.Write(b[:n]); err != nil {
				return m, err
			}
		}
		return n, pathErr("write", f.Name(), ft.Err)
	}
	return f.File.Write(b)
}

func (f *faultFile) Sync() error {
	if ft := f.fs.fault(OpSync, f.Name()); ft != nil {
		return pathErr("fsync", f.Name(), ft.Err)
	}
	return f.File.Sync()
}

func (f *faultFile) Datasync() error {
	if ft := f.fs.fault(OpSync, f.Name()); ft != nil {
		return pathErr("fdatasync", f.Name(), ft.Err)
	}
	return f.File.Datasync()
}

func (f *faultFile) Truncate(size int64) error {
	if ft := f.fs.fault(OpTruncate, f.Name()); ft != nil {
		return pathErr("truncate", f.Name(), ft.Err)
	}
	return f.File.Truncate(size)
}
