package ipoib

import "sync"

// Key identifies an open endpoint: its port GID and UD QPN, the two halves
// of its hardware address.
type Key struct {
	GID [16]byte
	QPN uint32
}

// Registry maps interface addresses to open endpoints, so that a tool on
// one node can read the counters of the endpoint it sends to.
type Registry struct {
	mu sync.Mutex
	m  map[Key]*Endpoint
}

func (r *Registry) add(k Key, ep *Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[Key]*Endpoint{}
	}
	r.m[k] = ep
}

func (r *Registry) remove(k Key, ep *Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m[k] == ep {
		delete(r.m, k)
	}
}

// Busy is how many open endpoints have receive work in hand: completions
// to handle or being handled.
func (r *Registry) Busy() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ep := range r.m {
		if ep.busy() {
			n++
		}
	}
	return n
}

// Lookup returns the open endpoint with the address, or nil.
func (r *Registry) Lookup(k Key) *Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[k]
}
