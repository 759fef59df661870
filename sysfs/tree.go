package sysfs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ibctl/ibctl/netlinkx"
	"golang.org/x/sys/unix"
)

// pageSize bounds one sysfs transfer: kernfs_fop_write_iter passes at most
// PAGE_SIZE bytes of a write(2) to the store (sysfs files have no
// atomic_write_len), and sysfs_kf_seq_show cuts a show at PAGE_SIZE−1.
const pageSize = 4096

// dirMode is how List reports a directory (sysfs directories are 0755).
const dirMode = netlinkx.SysDir | 0o755

// PathError is a failed sysfs operation. Err is the errno the kernel
// returns (a unix.Errno, or an error the Driver returned without one), so
// errors.Is(err, unix.EINVAL) and errors.As(err, &errno) work.
type PathError struct {
	Op   string // "read", "write" or "list"
	Path string // cleaned, relative to /sys
	Err  error
}

func (e *PathError) Error() string {
	return e.Op + " /sys/" + e.Path + ": " + e.Err.Error()
}

// Unwrap returns the errno.
func (e *PathError) Unwrap() error { return e.Err }

// Tree maps sysfs paths to show/store functions over a Driver. It keeps no
// state of its own: every call derives the directories and files from the
// Driver, so it is safe for concurrent use when the Driver is.
type Tree struct {
	drv   Driver
	nodes []*node
}

// New returns the sysfs tree of d: class/net/<dev>/...,
// class/infiniband/<hca>/..., module/ib_ipoib/parameters/... and the
// debugfs files. The file table is compiled once, on
// first use, and shared by every tree (the nodes are never written after).
func New(d Driver) *Tree { return &Tree{drv: d, nodes: compiledFiles()} }

// compiledFiles is the compiled table of files() and ibFiles().
var compiledFiles = sync.OnceValue(func() []*node { return compileNodes(append(files(), ibFiles()...)) })

// compileNodes compiles each node's path into its segments.
func compileNodes(specs []node) []*node {
	out := make([]*node, len(specs))
	for i := range specs {
		n := specs[i]
		n.segs = compile(n.path)
		out[i] = &n
	}
	return out
}

// Read returns a file's content as one read(2) from offset 0 would:
// ENOENT for an unknown path, EISDIR for a directory, ENOTDIR when a
// component is a file, EACCES for a file without read bits (kernfs open
// check, even for root), or the errno of the show function.
func (t *Tree) Read(path string) ([]byte, error) { return t.ReadAs(path, "") }

// ReadAs is Read by the program comm (current->comm in the kernel), which
// show functions that log name.
func (t *Tree) ReadAs(path, comm string) ([]byte, error) {
	p := Clean(path)
	r, err := t.resolve(t.newCall(), split(p))
	if err == nil {
		r.a.comm = comm
	}
	if err == nil && r.dir {
		err = unix.EISDIR
	}
	if err == nil && (r.mode()&0o444 == 0 || r.n.show == nil) {
		err = unix.EACCES
	}
	var s string
	if err == nil {
		s, err = r.n.show(&r.a)
	}
	if err != nil {
		return nil, &PathError{Op: "read", Path: p, Err: errnoOf(err)}
	}
	if len(s) >= pageSize {
		s = s[:pageSize-1]
	}
	return []byte(s), nil
}

// Write acts as one write(2) of data to the file at path, after an open
// for writing: it fails ENOENT, EISDIR, ENOTDIR or EACCES (no write bits)
// as open does, accepts nothing and succeeds for an empty write (the store
// is not called, as sysfs_kf_write does), passes at most 4096 bytes to the
// store, and returns the count accepted or the store's errno.
func (t *Tree) Write(path string, data []byte) (int, error) {
	p := Clean(path)
	r, err := t.resolve(t.newCall(), split(p))
	if err == nil && r.dir {
		err = unix.EISDIR
	}
	if err == nil && (r.mode()&0o222 == 0 || r.n.store == nil) {
		err = unix.EACCES
	}
	n := min(len(data), pageSize)
	if err == nil && n > 0 {
		err = r.n.store(&r.a, cstring(string(data[:n])))
	}
	if err != nil {
		return 0, &PathError{Op: "write", Path: p, Err: errnoOf(err)}
	}
	return n, nil
}

// List lists a directory, sorted by name: directories have
// netlinkx.SysDir|0755 in Mode, files their permission bits. ENOTDIR for
// a file, ENOENT for an unknown path.
func (t *Tree) List(path string) ([]netlinkx.SysEntry, error) {
	p := Clean(path)
	out, err := t.list(split(p))
	if err != nil {
		return nil, &PathError{Op: "list", Path: p, Err: errnoOf(err)}
	}
	return out, nil
}

func (t *Tree) list(segs []string) ([]netlinkx.SysEntry, error) {
	c := t.newCall()
	r, err := t.resolve(c, segs)
	if err != nil {
		return nil, err
	}
	if !r.dir {
		return nil, unix.ENOTDIR
	}
	modes := map[string]uint32{}
	for _, n := range t.nodes {
		if len(n.segs) <= len(segs) {
			continue
		}
		a := args{drv: t.drv}
		ok, err := n.bind(c, &a, segs)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		next := n.segs[len(segs)]
		names := []string{next.lit}
		if next.kind != nil {
			if names, err = next.names(c, &a); err != nil {
				return nil, err
			}
		}
		for _, name := range names {
			b := a
			ok, err := next.bind(c, &b, name)
			if err != nil {
				return nil, err
			}
			switch {
			case !ok:
			case len(n.segs) > len(segs)+1:
				modes[name] = dirMode
			case n.visible == nil || n.visible(&b):
				modes[name] = n.modeOf(&b)
			}
		}
	}
	out := make([]netlinkx.SysEntry, 0, len(modes))
	for name, mode := range modes {
		out = append(out, netlinkx.SysEntry{Name: name, Mode: mode})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// errnoOf reduces an error to the errno it carries: sysfs has no extended
// ack, so a Driver error's message does not travel. An error without an
// errno is kept as is.
func errnoOf(err error) error {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// node is one file pattern of the tree, the kernel's attribute. Its path is
// relative to /sys; each component is a literal or has one parameter,
// "{kind}" with an optional literal prefix and suffix ("{dev}",
// "{dev}_mcg", "{param}"), bound on every call through the Driver.
// Directories are the patterns' proper prefixes: they exist whenever their
// parameters bind, and list what the patterns below them name.
type node struct {
	path    string
	mode    uint32                        // permission bits; perm overrides
	perm    func(a *args) uint32          // mode depending on the parameters
	visible func(a *args) bool            // nil: the file always exists
	show    func(a *args) (string, error) // nil: not readable
	store   func(a *args, buf string) error
	segs    []segment
}

// args are a path's bound parameters, passed to show and store.
type args struct {
	drv    Driver
	dev    Device   // {dev}
	param  Param    // {param}
	ibdev  IBDevice // {ibdev}
	ibport IBPort   // {ibport}
	index  int      // {gid} or {pkey}: the table entry
	comm   string   // the reading program, for show functions that log it
}

func (n *node) modeOf(a *args) uint32 {
	if n.perm != nil {
		return n.perm(a)
	}
	return n.mode
}

// bind matches the first len(segs) components of n against segs, binding
// parameters into a.
func (n *node) bind(c *call, a *args, segs []string) (bool, error) {
	for i, s := range segs {
		ok, err := n.segs[i].bind(c, a, s)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// segment is one compiled path component.
type segment struct {
	lit            string // the component when kind is nil
	kind           *kind
	prefix, suffix string
}

func compile(p string) []segment {
	var segs []segment
	for _, s := range strings.Split(p, "/") {
		i, j := strings.IndexByte(s, '{'), strings.IndexByte(s, '}')
		if i < 0 || j < i {
			segs = append(segs, segment{lit: s})
			continue
		}
		k, ok := kinds()[s[i+1:j]]
		if !ok {
			panic(fmt.Sprintf("sysfs: unknown parameter in %q", p))
		}
		segs = append(segs, segment{kind: k, prefix: s[:i], suffix: s[j+1:]})
	}
	return segs
}

func (s segment) bind(c *call, a *args, name string) (bool, error) {
	if s.kind == nil {
		return name == s.lit, nil
	}
	if len(name) <= len(s.prefix)+len(s.suffix) || !strings.HasPrefix(name, s.prefix) || !strings.HasSuffix(name, s.suffix) {
		return false, nil
	}
	return s.kind.bind(c, a, name[len(s.prefix):len(name)-len(s.suffix)])
}

// names lists the component names the segment takes after the
// parameters bound in a.
func (s segment) names(c *call, a *args) ([]string, error) {
	vals, err := s.kind.list(c, a)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = s.prefix + v + s.suffix
	}
	return out, nil
}

// kind is a parameter type: how to list its values (which may depend on
// the parameters bound before it) and bind one.
type kind struct {
	list func(c *call, a *args) ([]string, error)
	bind func(c *call, a *args, v string) (bool, error)
}

// kinds are the parameter types by name, built on first use.
var kinds = sync.OnceValue(func() map[string]*kind {
	k := map[string]*kind{
		"dev": {
			list: func(c *call, _ *args) ([]string, error) { return c.devices(), nil },
			bind: func(c *call, a *args, v string) (bool, error) {
				d, err := c.device(v)
				if err != nil || d == nil {
					return false, err
				}
				a.dev = *d
				return true, nil
			},
		},
		"param": {
			list: func(c *call, _ *args) ([]string, error) {
				var names []string
				for _, p := range c.params() {
					if p.Perm&0o777 != 0 {
						names = append(names, p.Name)
					}
				}
				return names, nil
			},
			bind: func(c *call, a *args, v string) (bool, error) {
				for _, p := range c.params() {
					// A parameter without permission bits has no file
					// (module_param(..., 0)).
					if p.Name == v && p.Perm&0o777 != 0 {
						a.param = p
						return true, nil
					}
				}
				return false, nil
			},
		},
	}
	for name, ik := range ibKinds() {
		k[name] = ik
	}
	return k
})

// call memoises Driver lookups for the duration of one operation.
type call struct {
	drv      Driver
	devs     map[string]*Device // nil value: no such device
	names    []string
	namesOK  bool
	ps       []Param
	paramsOK bool
	ibdevs   map[string]*IBDevice // nil value: no such RDMA device; made on first use
}

func (t *Tree) newCall() *call { return &call{drv: t.drv, devs: map[string]*Device{}} }

// device returns the named device, nil when the Driver has none (ENODEV or
// ENOENT); other Driver errors are returned.
func (c *call) device(name string) (*Device, error) {
	if d, ok := c.devs[name]; ok {
		return d, nil
	}
	d, err := c.drv.Device(name)
	switch {
	case errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT):
		c.devs[name] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	c.devs[name] = &d
	return &d, nil
}

func (c *call) devices() []string {
	if !c.namesOK {
		c.names, c.namesOK = c.drv.Devices(), true
	}
	return c.names
}

func (c *call) params() []Param {
	if !c.paramsOK {
		c.ps, c.paramsOK = c.drv.Params(), true
	}
	return c.ps
}

// resolved is what a path names: a directory, or a file with its bound
// parameters.
type resolved struct {
	dir bool
	n   *node
	a   args
}

func (r *resolved) mode() uint32 { return r.n.modeOf(&r.a) }

// resolve finds what segs names: a directory (the root or a proper prefix
// of a pattern), a visible file, ENOTDIR when a proper prefix of segs is a
// visible file, else ENOENT.
func (t *Tree) resolve(c *call, segs []string) (resolved, error) {
	if len(segs) == 0 {
		return resolved{dir: true}, nil
	}
	throughFile := false
	// One args for every node tried: binding into a fresh one each time
	// cost an allocation of a Device per node.
	var a args
	for _, n := range t.nodes {
		a = args{drv: t.drv}
		k := min(len(segs), len(n.segs))
		ok, err := n.bind(c, &a, segs[:k])
		if err != nil {
			return resolved{}, err
		}
		switch {
		case !ok:
		case len(segs) < len(n.segs):
			return resolved{dir: true, a: a}, nil
		case n.visible != nil && !n.visible(&a):
		case len(segs) == len(n.segs):
			return resolved{n: n, a: a}, nil
		default:
			throughFile = true
		}
	}
	if throughFile {
		return resolved{}, unix.ENOTDIR
	}
	return resolved{}, unix.ENOENT
}
