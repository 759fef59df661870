package fabric_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"golang.org/x/sys/unix"
)

func newFabric(t testing.TB, topo *fabric.Topology) *fabric.Fabric {
	t.Helper()
	if topo == nil {
		topo = fabric.DefaultTopology()
	}
	f, err := fabric.New(topo)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

// mixedTopology has ports of different MTUs and rates and three
// partitions:
//
//	node0/1 4X EDR 4096   node1/1 4X FDR 2048
//	node0/2 4X EDR 4096   node1/2 1X SDR 4096
//
//	0xffff all full (bcast MTU 2048)
//	0x8001 node0/1 full, node0/2 limited, node1/1 limited
//	0x8002 node0/1 full, node1/1 full (bcast MTU 4096)
func mixedTopology() *fabric.Topology {
	edr := fabric.Port{Width: "4X", Speed: "EDR", MTU: 4096}
	return &fabric.Topology{
		Nodes: []fabric.Node{
			{Name: "node0", Ports: []fabric.Port{edr, edr}},
			{Name: "node1", Ports: []fabric.Port{{Width: "4X", Speed: "FDR", MTU: 2048}, {Width: "1X", Speed: "SDR", MTU: 4096}}},
		},
		Partitions: []fabric.Partition{
			{PKey: "0xffff", All: "full"},
			{PKey: "0x8001", Members: []fabric.Member{{Node: "node0", Port: 1, Full: true}, {Node: "node0", Port: 2}, {Node: "node1", Port: 1}}},
			{PKey: "0x8002", MTU: 4096, Members: []fabric.Member{{Node: "node0", Port: 1, Full: true}, {Node: "node1", Port: 1, Full: true}}},
		},
	}
}

var (
	n0p1 = fabric.PortRef{Node: "node0", Port: 1}
	n0p2 = fabric.PortRef{Node: "node0", Port: 2}
	n1p1 = fabric.PortRef{Node: "node1", Port: 1}
	n1p2 = fabric.PortRef{Node: "node1", Port: 2}
	all  = []fabric.PortRef{n0p1, n0p2, n1p1, n1p2}
)

// wantErr checks the errno and the whole message; errno 0 wants no error.
func wantErr(t testing.TB, err error, errno unix.Errno, msg string) {
	t.Helper()
	if errno == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, errno) {
		t.Fatalf("error = %v, want errno %v", err, errno)
	}
	var fe *fabric.Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %T is not a *fabric.Error", err)
	}
	if err.Error() != msg {
		t.Fatalf("error = %q\nwant    %q", err.Error(), msg)
	}
}

func wantEqual[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func gid(guid uint64) [16]byte {
	g := [16]byte{0: 0xfe, 1: 0x80}
	for i := 0; i < 8; i++ {
		g[15-i] = byte(guid >> (8 * i))
	}
	return g
}

// mgid builds ff12:401b:PPPP::N for a P_Key and a group number.
func mgid(pkey uint16, n uint16) [16]byte {
	return [16]byte{0xff, 0x12, 0x40, 0x1b, byte(pkey >> 8), byte(pkey), 14: byte(n >> 8), 15: byte(n)}
}

func ev(kind fabric.EventKind, r fabric.PortRef) fabric.Event {
	return fabric.Event{Kind: kind, Node: r.Node, Port: r.Port}
}

func tables(f *fabric.Fabric) map[string][]uint16 {
	m := map[string][]uint16{}
	for _, r := range all {
		m[r.String()] = f.PKeyTable(r.Node, r.Port)
	}
	return m
}

func hex(v ...uint16) []uint16 { return v }
