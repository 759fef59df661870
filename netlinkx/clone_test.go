package netlinkx

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// pingNode answers pings with its name as the source; a request with
// Seq 1 waits until release is closed, after telling started.
type pingNode struct {
	*fakeNode
	name    string
	started chan PingRequest
	release chan struct{}
}

func (n *pingNode) Ping(r PingRequest) (PingReply, error) {
	n.started <- r
	if r.Seq == 1 {
		<-n.release
	}
	return PingReply{Status: PingUnreachable, Src: []byte(n.name), Together: uint32(r.Seq) * 10}, nil
}

// pingBackend serves two pingNodes, a (the default) and b.
type pingBackend struct {
	fakeBackend
	nodes map[string]*pingNode
}

func (b *pingBackend) Node(name string) (Node, error) {
	if name == "" {
		name = "a"
	}
	if n, ok := b.nodes[name]; ok {
		return n, nil
	}
	return nil, withMsg(unix.ENOENT, "no node")
}

// A clone is another connection to the same server bound to the same
// node: a request on it is answered while one on the original still
// waits, which one connection cannot do (its requests are answered in
// order). The ping request's connect flag and failed-together count
// cross the wire.
func TestClientClone(t *testing.T) {
	started := make(chan PingRequest, 4)
	release := make(chan struct{})
	b := &pingBackend{nodes: map[string]*pingNode{}}
	for _, name := range []string{"a", "b"} {
		b.nodes[name] = &pingNode{fakeNode: &fakeNode{}, name: name, started: started, release: release}
	}
	c, err := Pipe(b)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("b"); err != nil {
		t.Fatal(err)
	}
	c2, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()

	first := make(chan PingReply, 1)
	go func() {
		rep, err := c.Ping(PingRequest{Seq: 1})
		if err != nil {
			t.Error(err)
		}
		first <- rep
	}()
	if r := <-started; r.Seq != 1 {
		t.Fatalf("first request seen with seq %d", r.Seq)
	}
	done := make(chan PingReply, 1)
	go func() {
		rep, err := c2.Ping(PingRequest{Seq: 2, Connect: true})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	if r := <-started; r.Seq != 2 || !r.Connect {
		t.Fatalf("second request seen as %+v, want seq 2 with connect", r)
	}
	select {
	case rep := <-done:
		if string(rep.Src) != "b" || rep.Together != 20 || rep.Status != PingUnreachable {
			t.Errorf("clone's answer %+v, want node b's, together 20", rep)
		}
	case <-first:
		t.Fatal("the waiting request was answered before the clone's")
	}
	close(release)
	if rep := <-first; string(rep.Src) != "b" || rep.Together != 10 {
		t.Errorf("first answer %+v, want node b's, together 10", rep)
	}
}

// A client made around a connection cannot open another.
func TestClientCloneWithoutDial(t *testing.T) {
	c := NewClient(nil)
	if _, err := c.Clone(); !errors.Is(err, ErrNoClone) {
		t.Errorf("Clone of NewClient's client: %v, want ErrNoClone", err)
	}
}
