package netlinkx

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ibctl/ibctl/netlinkx/internal/wire"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// manyEntries is a directory listing of n children, as class/net with
// n interfaces.
func manyEntries(n int) []SysEntry {
	out := make([]SysEntry, n)
	for i := range out {
		out[i] = SysEntry{Name: fmt.Sprintf("ib0.%04x", i+1), Mode: SysDir | 0o755}
	}
	return out
}

// TestDumpFarAboveDatagram lists a directory whose reply is about 1.2 MB
// and checks the framing of every datagram on the wire: whole messages,
// each NLM_F_MULTI, at most packLimit bytes a datagram, several messages
// to a datagram, and NLMSG_DONE last.
func TestDumpFarAboveDatagram(t *testing.T) {
	const n = 32767
	want := manyEntries(n)
	raw, _ := rawPairWith(t, &fakeNode{links: []Link{testLink}, entries: want})

	ae := netlink.NewAttributeEncoder()
	ae.String(wire.AttrPath, "class/net")
	req, err := wire.MarshalMessage(netlink.Header{Type: wire.FamilyIbctl, Flags: netlink.Request | netlink.Acknowledge | netlink.Dump, Sequence: 5},
		append(wire.GenlHeader(wire.CmdSysList), wire.Encode(ae)...))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Write(req); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxDatagram)
	var got []SysEntry
	total, datagrams, done := 0, 0, false
	for !done {
		k, err := raw.Read(buf)
		if err != nil {
			t.Fatalf("read after %d datagrams: %v", datagrams, err)
		}
		datagrams++
		total += k
		if k > packLimit {
			t.Fatalf("datagram %d: %d bytes, above %d", datagrams, k, packLimit)
		}
		msgs, err := wire.ParseMessages(buf[:k])
		if err != nil {
			t.Fatalf("datagram %d: %v", datagrams, err)
		}
		if len(msgs) < 2 {
			t.Fatalf("datagram %d holds %d message(s)", datagrams, len(msgs))
		}
		for i, m := range msgs {
			if m.Header.Flags&netlink.Multi == 0 || m.Header.Sequence != 5 {
				t.Fatalf("datagram %d message %d: header %+v", datagrams, i, m.Header)
			}
			if m.Header.Type == netlink.Done {
				if i != len(msgs)-1 {
					t.Fatalf("datagram %d: NLMSG_DONE is message %d of %d", datagrams, i, len(msgs))
				}
				done = true
				continue
			}
			if m.Header.Type != wire.FamilyIbctl {
				t.Fatalf("datagram %d message %d: type %v", datagrams, i, m.Header.Type)
			}
			_, rest, err := wire.ParseGenl(m.Data)
			if err != nil {
				t.Fatal(err)
			}
			ad, err := netlink.NewAttributeDecoder(rest)
			if err != nil {
				t.Fatal(err)
			}
			for ad.Next() {
				ad.Nested(func(nd *netlink.AttributeDecoder) error {
					var e SysEntry
					for nd.Next() {
						switch nd.Type() {
						case wire.AttrName:
							e.Name = nd.String()
						case wire.AttrMode:
							e.Mode = nd.Uint32()
						}
					}
					got = append(got, e)
					return nil
				})
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
	if total <= 16*maxDatagram {
		t.Fatalf("reply of %d bytes, want far above %d", total, maxDatagram)
	}

	// The client gets the same listing, and the connection goes on.
	c := NewClient(raw)
	ents, err := c.SysList("class/net")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ents); diff != "" {
		t.Fatalf("client entries (-want +got):\n%s", diff)
	}
	if _, err := c.Link("ib0"); err != nil {
		t.Fatalf("after the dump: %v", err)
	}
}

// TestDumpFlag checks that list commands are dumps and the others are not,
// as generic netlink answers a command without the handler asked for.
func TestDumpFlag(t *testing.T) {
	c, _ := newPipe(t)
	tests := []struct {
		name  string
		cmd   uint8
		flags netlink.HeaderFlags
		errno unix.Errno
	}{
		{"sys list without NLM_F_DUMP", wire.CmdSysList, 0, unix.EOPNOTSUPP},
		{"groups without NLM_F_DUMP", wire.CmdGroups, 0, unix.EOPNOTSUPP},
		{"status with NLM_F_DUMP", wire.CmdStatus, netlink.Dump, unix.EOPNOTSUPP},
		{"sys list", wire.CmdSysList, netlink.Dump, 0},
		{"status", wire.CmdStatus, 0, 0},
	}
	for _, tt := range tests {
		_, err := c.Execute(wire.FamilyIbctl, tt.flags, wire.GenlHeader(tt.cmd))
		if tt.errno == 0 && err != nil || tt.errno != 0 && !errors.Is(err, tt.errno) {
			t.Errorf("%s: err %v, want errno %d", tt.name, err, tt.errno)
		}
	}
}

// TestReplyAboveDatagramIsRefused checks that a single reply message that
// cannot fit a datagram is answered with EMSGSIZE, and the connection
// goes on.
func TestReplyAboveDatagramIsRefused(t *testing.T) {
	nodes := make([]string, 5000)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node%04d", i)
	}
	c, err := Pipe(&fakeBackend{node: &fakeNode{links: []Link{testLink}}, nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Status()
	var oe *netlink.OpError
	if !errors.As(err, &oe) || !errors.Is(err, unix.EMSGSIZE) || oe.Message != "reply message of 80076 bytes exceeds the 65536-byte datagram" {
		t.Fatalf("status: %#v", err)
	}
	if _, err := c.Link("ib0"); err != nil {
		t.Fatalf("after the refused reply: %v", err)
	}
}

// TestGroupsAndPartitionsOfLargeFabric lists groups and partitions with
// 2 048 members each (1 024 dual-port nodes): one such entry is larger
// than an attribute and a datagram can be, and comes back whole.
func TestGroupsAndPartitionsOfLargeFabric(t *testing.T) {
	var gm []GroupMember
	var pm []PartitionMember
	for i := 0; i < 1024; i++ {
		for port := uint32(1); port <= 2; port++ {
			name := fmt.Sprintf("node%04d", i)
			gm = append(gm, GroupMember{Node: name, Port: port, JoinState: 1})
			pm = append(pm, PartitionMember{Node: name, Port: port, Full: i%2 == 0})
		}
	}
	groups := []Group{
		{MGID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0xff, 0xff, 15: 0xff}, MLID: 0xc000, PKey: 0xffff, QKey: 0xb1b, MTU: 2048, Rate: 100000, Broadcast: true, Members: gm},
		{MGID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0xff, 0xff, 15: 0x01}, MLID: 0xc001, PKey: 0xffff, QKey: 0xb1b, MTU: 2048, Rate: 100000, Members: gm[:3]},
		{MGID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0x80, 0x01, 15: 0xff}, MLID: 0xc002, PKey: 0x8001, QKey: 0xb1b, MTU: 4096, Rate: 100000, Broadcast: true, Members: gm},
	}
	parts := []Partition{{PKey: 0xffff, MTU: 2048, All: "full"}, {PKey: 0x8001, MTU: 4096, Members: pm}, {PKey: 0x8002, MTU: 2048, Members: pm[:1]}}
	c, err := Pipe(&fakeBackend{node: &fakeNode{links: []Link{testLink}}, grps: groups, parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gotGroups, err := c.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(groups, gotGroups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
	gotParts, err := c.Partitions()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(parts, gotParts); diff != "" {
		t.Errorf("partitions (-want +got):\n%s", diff)
	}
}

// TestStatusRoundTrip reads the driver's status back: the uptime and the
// start time dmesg -T counts from.
func TestStatusRoundTrip(t *testing.T) {
	c, err := Pipe(&fakeBackend{node: &fakeNode{links: []Link{testLink}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	want := Status{PID: 7, Nodes: []string{"node0"}, Uptime: 3, StartedNs: 1_700_000_000_123_456_789}
	if st.PID != want.PID || st.Uptime != want.Uptime || st.StartedNs != want.StartedNs || len(st.Nodes) != 1 || st.Nodes[0] != "node0" {
		t.Errorf("status %+v, want %+v", st, want)
	}
}
