package fabric_test

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"github.com/ibctl/ibctl/driver/fabric/fabrictest"
	"golang.org/x/sys/unix"
)

func TestBroadcastGroups(t *testing.T) {
	f := newFabric(t, mixedTopology())
	wantEqual(t, "groups", f.Groups(), []fabric.Group{
		{MGID: [16]byte{0xff, 0x12, 0x40, 0x1b, 0x80, 0x01, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff}, MLID: 0xc001, PKey: 0x8001,
			QKey: 0x0b1b, MTU: 2048, Rate: 56000, Broadcast: true},
		{MGID: fabric.BroadcastMGID(0x0002), MLID: 0xc002, PKey: 0x8002, QKey: 0x0b1b, MTU: 4096, Rate: 56000, Broadcast: true},
		{MGID: fabric.BroadcastMGID(0x7fff), MLID: 0xc000, PKey: 0xffff, QKey: 0x0b1b, MTU: 2048, Rate: 2500, Broadcast: true},
	})
	// The broadcast rate follows the partition's membership.
	wantErr(t, f.SetMembership(0x8002, fabric.Member{Node: "node1", Port: 2}), 0, "")
	wantErr(t, f.RemoveMember(0x8001, n1p1), 0, "")
	wantErr(t, f.AddPartition(fabric.Partition{PKey: "0x8003", MTU: 1024}), 0, "")
	g := f.Groups()
	wantEqual(t, "rates", []int{g[0].Rate, g[1].Rate, g[2].Rate, g[3].Rate}, []int{100000, 2500, 0, 2500})
	wantEqual(t, "new group", g[2], fabric.Group{MGID: fabric.BroadcastMGID(0x8003), MLID: 0xc003, PKey: 0x8003, QKey: 0x0b1b, MTU: 1024, Broadcast: true})
}

type joinStep struct {
	from fabric.PortRef
	req  fabric.JoinRequest
}

func TestJoin(t *testing.T) {
	bff := fabric.BroadcastMGID(0xffff)
	b01 := fabric.BroadcastMGID(0x8001)
	b02 := fabric.BroadcastMGID(0x8002)
	g1 := mgid(0xffff, 1)
	full, sofull, sonon, non := fabric.FullMember, fabric.SendOnlyFullMember, fabric.SendOnlyNonMember, fabric.NonMember
	n0p1gid := gid(0x0002c90300001001)
	n1p1gid := gid(0x0002c90300002001)
	tests := []struct {
		name  string
		setup []joinStep
		down  *fabric.PortRef
		join  joinStep
		want  fabric.MCMember
		errno unix.Errno
		msg   string
	}{
		{name: "broadcast group", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full}},
			want: fabric.MCMember{MGID: bff, PortGID: n0p1gid, MLID: 0xc000, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: full}},
		{name: "limited member, limited P_Key", join: joinStep{n1p1, fabric.JoinRequest{MGID: b01, PKey: 0x0001, JoinState: full}},
			want: fabric.MCMember{MGID: b01, PortGID: n1p1gid, MLID: 0xc001, QKey: 0x0b1b, PKey: 0x8001, MTU: 2048, Rate: 56000, JoinState: full}},
		{name: "not a member of the P_Key", join: joinStep{n1p2, fabric.JoinRequest{MGID: b01, PKey: 0x8001, JoinState: full}},
			errno: unix.EINVAL, msg: "join node1/2: invalid argument (node1/2 is not a member of P_Key 0x8001)"},
		{name: "group of another partition", join: joinStep{n0p1, fabric.JoinRequest{MGID: b01, PKey: 0xffff, JoinState: full}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (ff12:401b:8001:0:0:0:ffff:ffff: group P_Key is 0x8001, not 0xffff)"},
		{name: "no group, no create", join: joinStep{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full}},
			errno: unix.ENOENT, msg: "join node0/1: no such file or directory (no multicast group ff12:401b:ffff:0:0:0:0:1)"},
		{name: "create with the broadcast group's values", join: joinStep{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full, Create: true}},
			want: fabric.MCMember{MGID: g1, PortGID: n0p1gid, MLID: 0xc003, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: full}},
		{name: "create with the requested values", join: joinStep{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0x7fff, JoinState: full, Create: true,
			QKey: 0x1234, MTUSelector: fabric.SelectEQ, MTU: 4096, RateSelector: fabric.SelectLargest, Rate: 1}},
			want: fabric.MCMember{MGID: g1, PortGID: n0p1gid, MLID: 0xc003, QKey: 0x1234, PKey: 0xffff, MTU: 4096, Rate: 100000, JoinState: full}},
		{name: "create below a limit", join: joinStep{n1p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full, Create: true,
			MTUSelector: fabric.SelectLT, MTU: 4096}},
			want: fabric.MCMember{MGID: g1, PortGID: n1p1gid, MLID: 0xc003, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: full}},
		{name: "create beyond the port's MTU", join: joinStep{n1p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full, Create: true,
			MTUSelector: fabric.SelectEQ, MTU: 4096}},
			errno: unix.EINVAL, msg: "join node1/1: invalid argument (no IB MTU = 4096 within the port's 2048)"},
		{name: "send-only full member creates", join: joinStep{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: sofull, Create: true}},
			want: fabric.MCMember{MGID: g1, PortGID: n0p1gid, MLID: 0xc003, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: sofull}},
		{name: "send-only non-member cannot create", join: joinStep{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: sonon, Create: true}},
			errno: unix.ENOENT, msg: "join node0/1: no such file or directory (no multicast group ff12:401b:ffff:0:0:0:0:1)"},
		{name: "non-member cannot create", join: joinStep{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: non, Create: true}},
			errno: unix.ENOENT, msg: "join node0/1: no such file or directory (no multicast group ff12:401b:ffff:0:0:0:0:1)"},
		{name: "send-only join of an existing group", setup: []joinStep{{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full, Create: true}}},
			join: joinStep{n1p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: sonon}},
			want: fabric.MCMember{MGID: g1, PortGID: n1p1gid, MLID: 0xc003, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: sonon}},
		{name: "join states add up", setup: []joinStep{{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full}}},
			join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: sofull}},
			want: fabric.MCMember{MGID: bff, PortGID: n0p1gid, MLID: 0xc000, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: full | sofull}},
		{name: "Q_Key differs", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full, QKey: 0x0b}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (ff12:401b:ffff:0:0:0:ffff:ffff: group Q_Key is 0x00000b1b, not 0x0000000b)"},
		{name: "MTU selector unmet", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full, MTUSelector: fabric.SelectGT, MTU: 2048}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (ff12:401b:ffff:0:0:0:ffff:ffff: group MTU 2048 does not match > 2048)"},
		{name: "MTU and rate selectors met", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full,
			MTUSelector: fabric.SelectLT, MTU: 4096, RateSelector: fabric.SelectEQ, Rate: 2500}},
			want: fabric.MCMember{MGID: bff, PortGID: n0p1gid, MLID: 0xc000, QKey: 0x0b1b, PKey: 0xffff, MTU: 2048, Rate: 2500, JoinState: full}},
		{name: "port MTU below the group's", setup: []joinStep{}, join: joinStep{n1p1, fabric.JoinRequest{MGID: b02, PKey: 0x8002, JoinState: full}},
			errno: unix.EINVAL, msg: "join node1/1: invalid argument (ff12:401b:8002:0:0:0:ffff:ffff: port IB MTU 2048 is below the group's 4096)"},
		{name: "port rate below the group's", setup: []joinStep{{n0p1, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full, Create: true,
			RateSelector: fabric.SelectGT, Rate: 56000}}},
			join:  joinStep{n1p2, fabric.JoinRequest{MGID: g1, PKey: 0xffff, JoinState: full}},
			errno: unix.EINVAL, msg: "join node1/2: invalid argument (ff12:401b:ffff:0:0:0:0:1: port rate 2500 is below the group's 100000)"},
		{name: "no join state", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (invalid join state 0x0)"},
		{name: "unknown join state bit", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: 0x11}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (invalid join state 0x11)"},
		{name: "invalid P_Key", join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0x8000, JoinState: full}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (invalid P_Key 0x8000)"},
		{name: "unicast GID", join: joinStep{n0p1, fabric.JoinRequest{MGID: n1p1gid, PKey: 0xffff, JoinState: full, Create: true}},
			errno: unix.EINVAL, msg: "join node0/1: invalid argument (fe80:0:0:0:2:c903:0:2001 is not a multicast GID)"},
		{name: "port down", down: &n0p1, join: joinStep{n0p1, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full}},
			errno: unix.ENETDOWN, msg: "join node0/1: network is down (port is Down)"},
		{name: "unknown port", join: joinStep{fabric.PortRef{Node: "node7", Port: 1}, fabric.JoinRequest{MGID: bff, PKey: 0xffff, JoinState: full}},
			errno: unix.ENODEV, msg: "join node7/1: no such device (no such port)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, mixedTopology())
			for _, s := range tt.setup {
				if _, err := f.Join(s.from, s.req); err != nil {
					t.Fatalf("setup: %v", err)
				}
			}
			if tt.down != nil {
				wantErr(t, f.SetPortState(tt.down.Node, tt.down.Port, fabric.StateDown), 0, "")
			}
			before := f.Groups()
			got, err := f.Join(tt.join.from, tt.join.req)
			wantErr(t, err, tt.errno, tt.msg)
			if err != nil {
				wantEqual(t, "groups after a refused join", f.Groups(), before)
				return
			}
			wantEqual(t, "member record", got, tt.want)
			for _, g := range f.Groups() {
				if g.MGID != tt.want.MGID {
					continue
				}
				if g.MLID != got.MLID || g.QKey != got.QKey || g.MTU != got.MTU || g.Rate != got.Rate || g.PKey != got.PKey {
					t.Fatalf("group %+v disagrees with the record", g)
				}
				for _, m := range g.Members {
					if m.Port == tt.join.from && m.JoinState == got.JoinState && m.GID == got.PortGID {
						return
					}
				}
				t.Fatalf("group members %+v lack %s", g.Members, tt.join.from)
			}
			t.Fatalf("no group %x", tt.want.MGID)
		})
	}
}

// TestGroupLifetime: joins and leaves, the last member's leave deletes a
// group (not a broadcast group), partition and port changes drop members.
func TestGroupLifetime(t *testing.T) {
	f := newFabric(t, mixedTopology())
	g1, g2, g3 := mgid(0xffff, 1), mgid(0xffff, 2), mgid(0x8001, 3)
	b01 := fabric.BroadcastMGID(0x8001)
	join := func(r fabric.PortRef, m [16]byte, pkey uint16, js fabric.JoinState) {
		t.Helper()
		if _, err := f.Join(r, fabric.JoinRequest{MGID: m, PKey: pkey, JoinState: js, Create: true}); err != nil {
			t.Fatal(err)
		}
	}
	members := func(m [16]byte) []fabric.GroupMember {
		for _, g := range f.Groups() {
			if g.MGID == m {
				if g.Members == nil {
					return []fabric.GroupMember{}
				}
				return g.Members
			}
		}
		return nil // no group
	}
	gm := func(r fabric.PortRef, js fabric.JoinState) fabric.GroupMember {
		info, _ := f.PortInfo(r.Node, r.Port)
		return fabric.GroupMember{Port: r, GID: info.GID, JoinState: js}
	}
	join(n1p2, g2, 0xffff, fabric.FullMember) // created second, sorted first
	join(n1p1, g1, 0xffff, fabric.FullMember)
	join(n0p1, g1, 0xffff, fabric.FullMember)
	join(n1p2, g1, 0xffff, fabric.SendOnlyNonMember)
	wantEqual(t, "MGIDs", mgids(f.Groups()), [][16]byte{fabric.BroadcastMGID(0x8001), fabric.BroadcastMGID(0x8002), g1, g2, fabric.BroadcastMGID(0xffff)})
	wantEqual(t, "g1", members(g1), []fabric.GroupMember{gm(n0p1, fabric.FullMember), gm(n1p1, fabric.FullMember), gm(n1p2, fabric.SendOnlyNonMember)})
	wantEqual(t, "g1 receivers", f.MulticastMembers(0xc004), []fabric.PortRef{n0p1, n1p1})

	wantErr(t, f.Leave(n1p1, 0, g1, fabric.SendOnlyNonMember), unix.ENOENT,
		"leave node1/1: no such file or directory (not a member of ff12:401b:ffff:0:0:0:0:1 with join state 0x4)")
	wantErr(t, f.Leave(n1p1, 0, g1, 0), unix.EINVAL, "leave node1/1: invalid argument (invalid join state 0x0)")
	wantErr(t, f.Leave(fabric.PortRef{Node: "x", Port: 1}, 0, g1, 1), unix.ENODEV, "leave x/1: no such device (no such port)")
	wantErr(t, f.Leave(n0p1, 0, g1, fabric.FullMember), 0, "")
	wantErr(t, f.Leave(n1p1, 0, g1, fabric.FullMember), 0, "")
	wantEqual(t, "g1 with a send-only member", members(g1), []fabric.GroupMember{gm(n1p2, fabric.SendOnlyNonMember)})
	wantErr(t, f.Leave(n1p2, 0, g1, fabric.SendOnlyNonMember|fabric.FullMember), 0, "")
	wantEqual(t, "g1 after the last leave", members(g1), nil)
	wantEqual(t, "its MLID", f.MulticastMembers(0xc004), nil)
	wantErr(t, f.Leave(n1p2, 0, g1, fabric.SendOnlyNonMember), unix.ENOENT,
		"leave node1/2: no such file or directory (no multicast group ff12:401b:ffff:0:0:0:0:1)")
	join(n0p1, g1, 0xffff, fabric.FullMember)
	wantEqual(t, "the freed MLID is reused", f.MulticastMembers(0xc004), []fabric.PortRef{n0p1})

	// Broadcast groups belong to the SM.
	join(n0p1, b01, 0x8001, fabric.FullMember)
	wantErr(t, f.Leave(n0p1, 0, b01, fabric.FullMember), 0, "")
	wantEqual(t, "broadcast group after its last leave", members(b01), []fabric.GroupMember{})

	// Losing the P_Key drops the port's memberships in the partition.
	join(n1p1, b01, 0x8001, fabric.FullMember)
	join(n1p1, g3, 0x8001, fabric.FullMember)
	join(n0p2, g3, 0x8001, fabric.NonMember)
	wantErr(t, f.SetMembership(0x8001, fabric.Member{Node: "node1", Port: 1, Full: true}), 0, "") // kept
	wantEqual(t, "g3", members(g3), []fabric.GroupMember{gm(n0p2, fabric.NonMember), gm(n1p1, fabric.FullMember)})
	wantErr(t, f.RemoveMember(0x8001, n1p1), 0, "")
	wantEqual(t, "b01 after RemoveMember", members(b01), []fabric.GroupMember{})
	wantEqual(t, "g3 after RemoveMember", members(g3), []fabric.GroupMember{gm(n0p2, fabric.NonMember)})
	wantErr(t, f.RemoveMember(0x8001, n0p2), 0, "")
	wantEqual(t, "g3 after its last member lost the P_Key", members(g3), nil)

	// A port that goes down leaves every group.
	join(n1p2, g1, 0xffff, fabric.FullMember)
	wantErr(t, f.SetPortState("node0", 1, fabric.StateDown), 0, "")
	wantEqual(t, "g1 after node0/1 went down", members(g1), []fabric.GroupMember{gm(n1p2, fabric.FullMember)})
	wantEqual(t, "g2", members(g2), []fabric.GroupMember{gm(n1p2, fabric.FullMember)})

	// Deleting a partition deletes its groups.
	wantErr(t, f.SetMembership(0x8001, fabric.Member{Node: "node0", Port: 2}), 0, "")
	join(n0p2, g3, 0x8001, fabric.FullMember)
	wantEqual(t, "MGIDs before deleting 0x8001", mgids(f.Groups()), [][16]byte{g3, b01, fabric.BroadcastMGID(0x8002), g1, g2, fabric.BroadcastMGID(0xffff)})
	wantErr(t, f.DeletePartition(0x8001), 0, "")
	wantEqual(t, "MGIDs after deleting 0x8001", mgids(f.Groups()), [][16]byte{fabric.BroadcastMGID(0x8002), g1, g2, fabric.BroadcastMGID(0xffff)})
}

func mgids(gs []fabric.Group) [][16]byte {
	var out [][16]byte
	for _, g := range gs {
		out = append(out, g.MGID)
	}
	return out
}

// TestJoinersOnOnePort follows the kernel's multicast.c: each client join
// on a port is a member of its own, and the SA keeps the port in the group
// with the union of their join states while any of them stands.
func TestJoinersOnOnePort(t *testing.T) {
	f := newFabric(t, mixedTopology())
	bff := fabric.BroadcastMGID(0xffff)
	const ib0, cx = 5, 6 // two interfaces of node0/1 on P_Key 0xffff
	join := func(joiner uint64, js fabric.JoinState) fabric.JoinState {
		t.Helper()
		m, err := f.Join(n0p1, fabric.JoinRequest{Joiner: joiner, MGID: bff, PKey: 0xffff, JoinState: js})
		if err != nil {
			t.Fatal(err)
		}
		return m.JoinState
	}
	state := func() []fabric.GroupMember {
		for _, g := range f.Groups() {
			if g.MGID == bff {
				return g.Members
			}
		}
		return nil
	}
	info, _ := f.PortInfo("node0", 1)
	member := func(js fabric.JoinState) []fabric.GroupMember {
		return []fabric.GroupMember{{Port: n0p1, GID: info.GID, JoinState: js}}
	}
	wantEqual(t, "ib0's join", join(ib0, fabric.FullMember), fabric.FullMember)
	wantEqual(t, "cx's join", join(cx, fabric.FullMember|fabric.SendOnlyNonMember), fabric.FullMember|fabric.SendOnlyNonMember)
	wantErr(t, f.Leave(n0p1, cx, bff, fabric.FullMember|fabric.SendOnlyNonMember), 0, "")
	wantEqual(t, "after cx left", state(), member(fabric.FullMember))
	wantEqual(t, "receivers after cx left", f.MulticastMembers(0xc000), []fabric.PortRef{n0p1})
	wantErr(t, f.Leave(n0p1, cx, bff, fabric.FullMember), unix.ENOENT,
		"leave node0/1: no such file or directory (not a member of ff12:401b:ffff:0:0:0:ffff:ffff with join state 0x1)")
	wantEqual(t, "after cx's second leave", state(), member(fabric.FullMember))
	wantErr(t, f.Leave(n0p1, ib0, bff, fabric.FullMember), 0, "")
	wantEqual(t, "after ib0 left", state(), []fabric.GroupMember(nil))
	wantEqual(t, "receivers after ib0 left", f.MulticastMembers(0xc000), []fabric.PortRef{})
}

// The MTU and rate component selectors of a join (ib_sa.h IB_SA_GT,
// IB_SA_LT, IB_SA_EQ, IB_SA_BEST): a new group takes a value that meets
// them within the creating port's IB MTU (4096) and rate (4X EDR, 100000
// Mb/s); an existing group (the broadcast group: 2048, 100000) must meet
// them. Each bound is taken or refused exactly at its value.
func TestJoinSelectors(t *testing.T) {
	bff := fabric.BroadcastMGID(0xffff)
	g1 := mgid(0xffff, 1)
	gt, lt, eq, best := fabric.SelectGT, fabric.SelectLT, fabric.SelectEQ, fabric.SelectLargest
	bad := fabric.SelectLargest + 1
	type sel struct {
		s fabric.Selector
		v int
	}
	tests := []struct {
		name      string
		mgid      [16]byte
		mtu, rate sel
		wantMTU   int
		wantRate  int
		msg       string // the error's reason; "" for success
	}{
		{name: "create: MTU = the port's", mgid: g1, mtu: sel{eq, 4096}, wantMTU: 4096, wantRate: 100000},
		{name: "create: MTU = a smaller one", mgid: g1, mtu: sel{eq, 256}, wantMTU: 256, wantRate: 100000},
		{name: "create: MTU = no IB MTU", mgid: g1, mtu: sel{eq, 1500}, msg: "no IB MTU = 1500 within the port's 4096"},
		{name: "create: MTU > below the port's", mgid: g1, mtu: sel{gt, 2048}, wantMTU: 4096, wantRate: 100000},
		{name: "create: MTU > the port's", mgid: g1, mtu: sel{gt, 4096}, msg: "no IB MTU > 4096 within the port's 4096"},
		{name: "create: MTU < the port's", mgid: g1, mtu: sel{lt, 4096}, wantMTU: 2048, wantRate: 100000},
		{name: "create: MTU < 512", mgid: g1, mtu: sel{lt, 512}, wantMTU: 256, wantRate: 100000},
		{name: "create: MTU < 256", mgid: g1, mtu: sel{lt, 256}, msg: "no IB MTU < 256 within the port's 4096"},
		{name: "create: largest MTU", mgid: g1, mtu: sel{best, 256}, wantMTU: 4096, wantRate: 100000},
		{name: "create: unknown MTU selector", mgid: g1, mtu: sel{bad, 2048}, msg: "no IB MTU Selector(4) 2048 within the port's 4096"},
		{name: "create: rate = the port's", mgid: g1, rate: sel{eq, 100000}, wantMTU: 2048, wantRate: 100000},
		{name: "create: rate = above the port's", mgid: g1, rate: sel{eq, 100001}, msg: "no rate = 100001 within the port's 100000"},
		{name: "create: rate > below the port's", mgid: g1, rate: sel{gt, 99999}, wantMTU: 2048, wantRate: 100000},
		{name: "create: rate > the port's", mgid: g1, rate: sel{gt, 100000}, msg: "no rate > 100000 within the port's 100000"},
		{name: "create: rate < above the port's", mgid: g1, rate: sel{lt, 100001}, wantMTU: 2048, wantRate: 100000},
		{name: "create: rate < the port's", mgid: g1, rate: sel{lt, 100000}, msg: "no rate < 100000 within the port's 100000"},
		{name: "create: largest rate", mgid: g1, rate: sel{best, 1}, wantMTU: 2048, wantRate: 100000},
		{name: "create: unknown rate selector", mgid: g1, rate: sel{bad, 1}, msg: "no rate Selector(4) 1 within the port's 100000"},
		{name: "join: MTU = the group's", mgid: bff, mtu: sel{eq, 2048}, wantMTU: 2048, wantRate: 100000},
		{name: "join: MTU = another", mgid: bff, mtu: sel{eq, 4096}, msg: "ff12:401b:ffff:0:0:0:ffff:ffff: group MTU 2048 does not match = 4096"},
		{name: "join: MTU > below the group's", mgid: bff, mtu: sel{gt, 1024}, wantMTU: 2048, wantRate: 100000},
		{name: "join: MTU < the group's", mgid: bff, mtu: sel{lt, 2048}, msg: "ff12:401b:ffff:0:0:0:ffff:ffff: group MTU 2048 does not match < 2048"},
		{name: "join: largest MTU", mgid: bff, mtu: sel{best, 4096}, wantMTU: 2048, wantRate: 100000},
		{name: "join: unknown MTU selector", mgid: bff, mtu: sel{bad, 2048}, msg: "ff12:401b:ffff:0:0:0:ffff:ffff: group MTU 2048 does not match Selector(4) 2048"},
		{name: "join: rate > the group's", mgid: bff, rate: sel{gt, 100000}, msg: "ff12:401b:ffff:0:0:0:ffff:ffff: group rate 100000 does not match > 100000"},
		{name: "join: rate < above the group's", mgid: bff, rate: sel{lt, 100001}, wantMTU: 2048, wantRate: 100000},
		{name: "join: rate < the group's", mgid: bff, rate: sel{lt, 100000}, msg: "ff12:401b:ffff:0:0:0:ffff:ffff: group rate 100000 does not match < 100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, nil)
			before := f.Groups()
			m, err := f.Join(n0p1, fabric.JoinRequest{MGID: tt.mgid, PKey: 0xffff, JoinState: fabric.FullMember, Create: true,
				MTUSelector: tt.mtu.s, MTU: tt.mtu.v, RateSelector: tt.rate.s, Rate: tt.rate.v})
			if tt.msg != "" {
				wantErr(t, err, unix.EINVAL, "join node0/1: invalid argument ("+tt.msg+")")
				wantEqual(t, "groups after a refused join", f.Groups(), before)
				return
			}
			wantErr(t, err, 0, "")
			wantEqual(t, "MTU and rate", []int{m.MTU, m.Rate}, []int{tt.wantMTU, tt.wantRate})
		})
	}
}

// The SA hands out the multicast LIDs 0xc000…0xfffe (IBA 4.1.3), the
// lowest free one first: the last one goes to a group, a group or a
// partition beyond it is refused with ENOSPC and nothing changes, and a
// LID freed by a group's deletion is the next one handed out.
func TestMulticastLIDsRunOut(t *testing.T) {
	f := newFabric(t, nil)
	ports := attachAll(t, f)
	group := func(n int) [16]byte { return mgid(0xffff, uint16(n)) }
	join := func(n int) (fabric.MCMember, error) {
		return f.Join(n1p1, fabric.JoinRequest{MGID: group(n), PKey: 0xffff, JoinState: fabric.FullMember, Create: true})
	}
	// The default partition's broadcast group has 0xc000.
	const groups = fabric.MaxMulticastLID - fabric.MulticastLIDBase
	for n := 1; n <= groups; n++ {
		m, err := join(n)
		if err != nil || m.MLID != fabric.MulticastLIDBase+uint16(n) {
			t.Fatalf("group %d: MLID %#x, %v", n, m.MLID, err)
		}
	}
	before := f.Groups()
	_, err := join(groups + 1)
	wantErr(t, err, unix.ENOSPC, "join node1/1: no space left on device (no free multicast LID)")
	wantErr(t, f.AddPartition(fabric.Partition{PKey: "0x8001"}), unix.ENOSPC,
		"add partition 0x8001: no space left on device (no free multicast LID)")
	wantEqual(t, "groups after the refusals", f.Groups(), before)

	// The last MLID forwards.
	f.Send(n0p1, &fabrictest.Frame{DLID: fabric.MaxMulticastLID, Payload: []byte("last")})
	wantEqual(t, "received", received(ports), want{n1p1: {frame(fabric.MaxMulticastLID, "last")}})

	for _, n := range []int{groups, 5} {
		wantErr(t, f.Leave(n1p1, 0, group(n), fabric.FullMember), 0, "")
		m, err := join(groups + 1)
		wantErr(t, err, 0, "")
		if m.MLID != fabric.MulticastLIDBase+uint16(n) {
			t.Fatalf("after group %d left: MLID %#x, want %#x", n, m.MLID, fabric.MulticastLIDBase+uint16(n))
		}
		wantErr(t, f.Leave(n1p1, 0, group(groups+1), fabric.FullMember), 0, "")
	}
}
