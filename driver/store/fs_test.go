package store

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// TestOSSyncDir: OS.SyncDir syncs a directory and refuses, with the error
// of the open, what is missing, no directory or a symlink (the store opens
// nothing through one).
func TestOSSyncDir(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr error // its Path is filled in
	}{
		{"directory", func(t *testing.T, path string) { mustMkdir(t, path, 0o700) }, nil},
		{"missing", func(t *testing.T, path string) {}, syscall.ENOENT},
		{"file", func(t *testing.T, path string) { mustWrite(t, path, "x") }, syscall.ENOTDIR},
		// O_DIRECTORY is checked before O_NOFOLLOW's ELOOP (do_open
		// in fs/namei.c), so a symlink is no directory here.
		{"symlink to a directory", func(t *testing.T, path string) {
			mustMkdir(t, path+".target", 0o700)
			mustSymlink(t, path+".target", path)
		}, syscall.ENOTDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d")
			tc.prepare(t, path)
			err := OS.SyncDir(path)
			var want error
			if tc.wantErr != nil {
				want = &os.PathError{Op: "open", Path: path, Err: tc.wantErr}
			}
			if !reflect.DeepEqual(err, want) {
				t.Errorf("SyncDir = %#v (%v), want %#v (%v)", err, err, want, want)
			}
		})
	}
}
