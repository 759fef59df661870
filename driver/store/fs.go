package store

import (
	"io"
	"os"
	"path/filepath"

	"github.com/ibctl/ibctl/internal/privdir"
	"golang.org/x/sys/unix"
)

// FS is the file system under a Store: OS by default, a FaultFS in tests
// that make writes, syncs or renames fail.
type FS interface {
	// OpenFile is os.OpenFile.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// CreateTemp is os.CreateTemp.
	CreateTemp(dir, pattern string) (File, error)
	// ReadFile is os.ReadFile.
	ReadFile(name string) ([]byte, error)
	// Rename is os.Rename.
	Rename(oldpath, newpath string) error
	// Remove is os.Remove.
	Remove(name string) error
	// MkdirAll is os.MkdirAll.
	MkdirAll(path string, perm os.FileMode) error
	// Chmod is os.Chmod.
	Chmod(name string, mode os.FileMode) error
	// Glob is filepath.Glob.
	Glob(pattern string) ([]string, error)
	// SyncDir makes the directory's entries durable (fsync of the dir).
	SyncDir(dir string) error
}

// File is an open file of an FS.
type File interface {
	io.Reader
	io.Writer
	io.Seeker
	io.Closer
	// Name is the path the file was opened with.
	Name() string
	// Truncate is ftruncate(2).
	Truncate(size int64) error
	// Sync is fsync(2).
	Sync() error
	// Datasync is fdatasync(2).
	Datasync() error
	// Lock takes an exclusive lock without waiting (flock(2)); the kernel
	// drops it when the process dies.
	Lock() error
}

// OS is the operating system's file system.
var OS FS = osFS{}

type osFS struct{}

type osFile struct{ *os.File }

// OpenFile opens with O_NOFOLLOW (privdir.OpenFile): no file of the store
// is opened through a symlink.
func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := privdir.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) CreateTemp(dir, pattern string) (File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

func (osFS) ReadFile(name string) ([]byte, error)         { return privdir.ReadFile(name) }
func (osFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (osFS) Remove(name string) error                     { return os.Remove(name) }
func (osFS) MkdirAll(path string, perm os.FileMode) error { return os.MkdirAll(path, perm) }
func (osFS) Chmod(name string, mode os.FileMode) error    { return os.Chmod(name, mode) }
func (osFS) Glob(pattern string) ([]string, error)        { return filepath.Glob(pattern) }

func (osFS) SyncDir(dir string) error {
	d, err := privdir.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (f osFile) Datasync() error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if err != unix.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

func (f osFile) Lock() error {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}
