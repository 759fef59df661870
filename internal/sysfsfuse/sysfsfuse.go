// Package sysfsfuse serves a directory of the driver's sysfs tree as a
// FUSE file system, so that programs read and write the emulated
// attributes as they would the kernel's (cat, echo VALUE > FILE), with
// the driver's errno. Nothing is cached: every lookup, listing, read and
// write goes to the driver, so a child created is listed at once.
//
// Entries of a real directory that the driver does not have (lo in
// /sys/class/net, the kernel's modules in /sys/module) can be passed
// through beside the driver's.
//
// It may import netlinkx (for its types) and go-fuse, never a driver
// package.
package sysfsfuse

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// Backend is the driver's sysfs tree, with paths as under /sys
// ("class/net/ib0/mode"); *netlinkx.Client is one. Errors carry the
// driver's errno (errors.As to syscall.Errno); any other error is EIO.
type Backend interface {
	SysList(path string) ([]netlinkx.SysEntry, error)
	SysRead(path string) ([]byte, error)
	SysWrite(path string, data []byte) (int, error)
}

// ReaderBackend is a Backend that can read a file for a named program;
// *netlinkx.Client is one.
type ReaderBackend interface {
	SysReadAs(path, comm string) ([]byte, error)
}

// read reads a file for the process that asked (its command name from
// /proc/PID/comm), when the backend takes one.
func (t *tree) read(ctx context.Context, p string) ([]byte, error) {
	rb, ok := t.b.(ReaderBackend)
	if !ok {
		return t.b.SysRead(p)
	}
	comm := ""
	if c, ok := fuse.FromContext(ctx); ok {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c.Pid)); err == nil {
			comm = strings.TrimSuffix(string(b), "\n")
		}
	}
	return rb.SysReadAs(p, comm)
}

// Options say what to serve.
type Options struct {
	// Prefix is the backend's directory shown as the root
	// ("class/net").
	Prefix string
	// Under, when not empty, is a real directory whose entries the
	// backend does not have are passed through at the root. It may
	// be a /proc/self/fd/N path of a directory the mount hides.
	Under string
	// LinkTo, when not empty, makes each of the backend's directories
	// at the root a symbolic link to LinkTo/NAME instead, as a sysfs
	// class directory links its devices ("../../devices/virtual/net").
	LinkTo string
}

// Mount serves b at dir until the returned server is unmounted. The
// mount is made with mount(2) directly (no fusermount), so it needs
// root, and is open to every user, as sysfs is.
func Mount(dir string, b Backend, o Options) (*fuse.Server, error) {
	root, err := NewRoot(b, o)
	if err != nil {
		return nil, err
	}
	zero := time.Duration(0)
	srv, err := fs.Mount(dir, root, &fs.Options{
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		MountOptions: fuse.MountOptions{
			DirectMount:       true,
			DirectMountStrict: true,
			AllowOther:        true,
			FsName:            "ibctl",
			Name:              "ibctl",
			DisableXAttrs:     true,
		},
	})
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// NewRoot returns the root directory node of the tree o describes.
func NewRoot(b Backend, o Options) (fs.InodeEmbedder, error) {
	t := &tree{b: b, perms: map[string]map[string]uint32{}}
	if o.Under != "" {
		var st unix.Stat_t
		if err := unix.Stat(o.Under, &st); err != nil {
			return nil, &os.PathError{Op: "stat", Path: o.Under, Err: err}
		}
		t.under = &fs.LoopbackRoot{Path: o.Under, Dev: st.Dev}
	}
	t.linkTo = o.LinkTo
	prefix := o.Prefix
	if prefix != "" {
		prefix = path.Clean(prefix)
	}
	return &dir{tree: t, path: prefix}, nil
}

// tree is what every node of one mount shares.
type tree struct {
	b      Backend
	under  *fs.LoopbackRoot // nil: nothing passed through
	linkTo string           // Options.LinkTo

	mu    sync.Mutex
	perms map[string]map[string]uint32 // directory → its files' modes, as last listed
}

// errno is err's errno, EIO when it has none.
func errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// ino is the inode number of a driver path: stable while the path
// exists, so the kernel's cached inode is found again, and with the top
// bit set, away from the passed-through files' numbers.
func ino(p string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(p))
	return h.Sum64() | 1<<63
}

// dir is a directory of the backend.
type dir struct {
	fs.Inode
	tree *tree
	path string
}

var (
	_ fs.NodeLookuper  = (*dir)(nil)
	_ fs.NodeReaddirer = (*dir)(nil)
	_ fs.NodeGetattrer = (*dir)(nil)
	_ fs.NodeCreater   = (*dir)(nil)
	_ fs.NodeMkdirer   = (*dir)(nil)
	_ fs.NodeUnlinker  = (*dir)(nil)
	_ fs.NodeRmdirer   = (*dir)(nil)
)

// dirMode is the mode of every sysfs directory.
const dirMode = 0o755

func (d *dir) isRoot() bool { return d.EmbeddedInode() == d.Root() }

// remember keeps the modes of a listing's files. The kernel may make a
// new node for a directory it looked up again: they are the tree's.
func (d *dir) remember(entries []netlinkx.SysEntry) {
	perms := make(map[string]uint32, len(entries))
	for _, e := range entries {
		if e.Mode&netlinkx.SysDir == 0 {
			perms[e.Name] = e.Mode & 0o777
		}
	}
	d.tree.mu.Lock()
	d.tree.perms[d.path] = perms
	d.tree.mu.Unlock()
}

// known is the mode of file name in d's last listing.
func (d *dir) known(name string) (uint32, bool) {
	d.tree.mu.Lock()
	defer d.tree.mu.Unlock()
	perm, ok := d.tree.perms[d.path][name]
	return perm, ok
}

// perm is the mode of file name, known to exist: from the last listing,
// or from a new one when that did not have it.
func (d *dir) perm(name string) (uint32, syscall.Errno) {
	if perm, ok := d.known(name); ok {
		return perm, 0
	}
	entries, err := d.tree.b.SysList(d.path)
	if err != nil {
		return 0, errno(err)
	}
	d.remember(entries)
	if perm, ok := d.known(name); ok {
		return perm, 0
	}
	return 0, syscall.ENOENT // gone meanwhile
}

// Lookup asks the backend about name itself, so that a lookup costs
// what name costs, not what its directory does (ls -l of 4096 children,
// and every path walk, looks each directory up again): reading it fails
// with EISDIR for a directory, and succeeds or fails otherwise for a
// file, whose mode comes from its directory's listing. What the backend
// does not have is looked for in the passed-through directory.
func (d *dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	p := path.Join(d.path, name)
	_, err := d.tree.b.SysRead(p)
	var en syscall.Errno
	switch {
	case err == nil:
	case !errors.As(err, &en):
		return nil, syscall.EIO
	case en == syscall.EISDIR && d.tree.linkTo != "" && d.isRoot():
		target := path.Join(d.tree.linkTo, name)
		link := &fs.MemSymlink{Data: []byte(target)}
		setLinkAttr(&link.Attr, p, target)
		out.Attr = link.Attr
		return d.NewInode(ctx, link, fs.StableAttr{Mode: syscall.S_IFLNK, Ino: ino(p)}), 0
	case en == syscall.EISDIR:
		setDirAttr(&out.Attr, p, dirMode)
		return d.NewInode(ctx, &dir{tree: d.tree, path: p}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino(p)}), 0
	case en == syscall.ENOTDIR:
		return nil, en
	}
	if en != syscall.ENOENT {
		perm, en := d.perm(name)
		if en != 0 {
			return nil, en
		}
		setFileAttr(&out.Attr, p, perm)
		return d.NewInode(ctx, &file{tree: d.tree, path: p, perm: perm}, fs.StableAttr{Mode: syscall.S_IFREG, Ino: ino(p)}), 0
	}
	if d.tree.under == nil || !d.isRoot() {
		return nil, syscall.ENOENT
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path.Join(d.tree.under.Path, name), &st); err != nil {
		return nil, fs.ToErrno(err)
	}
	out.Attr.FromStat(&st)
	n := &fs.LoopbackNode{RootData: d.tree.under}
	return d.NewInode(ctx, n, fs.StableAttr{Mode: st.Mode & syscall.S_IFMT, Ino: st.Ino}), 0
}

// Readdir lists the backend's entries, then those of the passed-through
// directory the backend does not have.
func (d *dir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	entries, err := d.tree.b.SysList(d.path)
	if err != nil {
		return nil, errno(err)
	}
	d.remember(entries)
	var out []fuse.DirEntry
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		p := path.Join(d.path, e.Name)
		mode := uint32(syscall.S_IFREG)
		switch {
		case e.Mode&netlinkx.SysDir != 0 && d.tree.linkTo != "" && d.isRoot():
			mode = syscall.S_IFLNK
		case e.Mode&netlinkx.SysDir != 0:
			mode = syscall.S_IFDIR
		}
		out = append(out, fuse.DirEntry{Name: e.Name, Mode: mode, Ino: ino(p)})
		seen[e.Name] = true
	}
	if d.tree.under != nil && d.isRoot() {
		real, err := os.ReadDir(d.tree.under.Path)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		for _, r := range real {
			if seen[r.Name()] {
				continue
			}
			var st syscall.Stat_t
			if err := syscall.Lstat(path.Join(d.tree.under.Path, r.Name()), &st); err != nil {
				continue // gone meanwhile
			}
			out = append(out, fuse.DirEntry{Name: r.Name(), Mode: st.Mode & syscall.S_IFMT, Ino: st.Ino})
		}
	}
	return fs.NewListDirStream(out), 0
}

func (d *dir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setDirAttr(&out.Attr, d.path, dirMode)
	return 0
}

// Create fails as in sysfs, whose directories have no create operation.
func (d *dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EACCES
}

// Mkdir fails as in sysfs.
func (d *dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// Unlink fails as in sysfs.
func (d *dir) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// Rmdir fails as in sysfs.
func (d *dir) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EPERM }

// setLinkAttr sets a symbolic link's attributes: mode 0777, its size the
// target's length, as sysfs's links.
func setLinkAttr(a *fuse.Attr, p, target string) {
	setDirAttr(a, p, 0o777)
	a.Mode = syscall.S_IFLNK | 0o777
	a.Size = uint64(len(target))
	a.Nlink = 1
}

func setDirAttr(a *fuse.Attr, p string, mode uint32) {
	a.Mode = syscall.S_IFDIR | mode&0o777
	a.Ino = ino(p)
	a.Nlink = 2
}

// setFileAttr gives a file sysfs's attributes: its permission bits
// and a size of one page.
func setFileAttr(a *fuse.Attr, p string, mode uint32) {
	a.Mode = syscall.S_IFREG | mode&0o777
	a.Ino = ino(p)
	a.Nlink = 1
	a.Size = 4096
	a.Blksize = 4096
}

// file is an attribute of the backend.
type file struct {
	fs.Inode
	tree *tree
	path string
	perm uint32
}

var (
	_ fs.NodeOpener    = (*file)(nil)
	_ fs.NodeGetattrer = (*file)(nil)
	_ fs.NodeSetattrer = (*file)(nil)
)

// Open refuses what kernfs refuses, reading a file without read
// permission or writing one without write permission (EACCES, even for
// root), and opens the rest for direct I/O: no page cache, so every
// read and write reaches the driver.
func (f *file) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	acc := int(flags) & syscall.O_ACCMODE
	if (acc == syscall.O_RDONLY || acc == syscall.O_RDWR) && f.perm&0o444 == 0 {
		return nil, 0, syscall.EACCES
	}
	if (acc == syscall.O_WRONLY || acc == syscall.O_RDWR) && f.perm&0o222 == 0 {
		return nil, 0, syscall.EACCES
	}
	return &handle{f: f}, fuse.FOPEN_DIRECT_IO, 0
}

func (f *file) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	setFileAttr(&out.Attr, f.path, f.perm)
	return 0
}

// Setattr accepts and ignores the truncation of a shell's `>`, as
// sysfs does, and every other change.
func (f *file) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	setFileAttr(&out.Attr, f.path, f.perm)
	return 0
}

// handle is an open file. As sysfs's seq_file, it reads the content
// once, at offset 0, and serves later offsets from that copy.
type handle struct {
	f    *file
	mu   sync.Mutex
	data []byte
}

var (
	_ fs.FileReader = (*handle)(nil)
	_ fs.FileWriter = (*handle)(nil)
)

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if off == 0 || h.data == nil {
		data, err := h.f.tree.read(ctx, h.f.path)
		if err != nil {
			return nil, errno(err)
		}
		h.data = data
	}
	if off >= int64(len(h.data)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(h.data)))
	return fuse.ReadResultData(h.data[off:end]), 0
}

// Write hands one write(2) to the driver, which answers with the count
// its store accepted or its errno.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, err := h.f.tree.b.SysWrite(h.f.path, data)
	if err != nil {
		return 0, errno(err)
	}
	return uint32(n), 0
}
