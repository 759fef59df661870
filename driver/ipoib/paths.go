package ipoib

import (
	"bytes"
	"sort"

	"github.com/ibctl/ibctl/driver/fabric"
)

// path returns the cached path record to gid, querying the SA the first
// time (path_rec_start).
func (ep *Endpoint) path(gid [16]byte, pkey uint16) (fabric.Path, error) {
	ep.pathmu.Lock()
	p, ok := ep.paths[gid]
	ep.pathmu.Unlock()
	if ok {
		return p, nil
	}
	p, err := ep.host.Fabric.PathRecord(ep.port.ref, gid, pkey)
	if err != nil {
		return p, err
	}
	ep.pathmu.Lock()
	if ep.paths == nil {
		ep.paths = map[[16]byte]fabric.Path{}
	}
	ep.paths[gid] = p
	ep.pathmu.Unlock()
	return p, nil
}

// flushPaths drops every cached path record (ipoib_flush_paths).
func (ep *Endpoint) flushPaths() {
	ep.pathmu.Lock()
	clear(ep.paths)
	ep.pathmu.Unlock()
}

// PathRecord is one cached path record (a line of debugfs <dev>_path).
type PathRecord struct {
	GID [16]byte
	fabric.Path
}

// Paths lists the cached path records, sorted by GID.
func (ep *Endpoint) Paths() []PathRecord {
	ep.pathmu.Lock()
	out := make([]PathRecord, 0, len(ep.paths))
	for gid, p := range ep.paths {
		out = append(out, PathRecord{GID: gid, Path: p})
	}
	ep.pathmu.Unlock()
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].GID[:], out[j].GID[:]) < 0 })
	return out
}
