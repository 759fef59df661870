package fabric_test

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
	"golang.org/x/sys/unix"
)

func TestPathRecord(t *testing.T) {
	g := map[fabric.PortRef][16]byte{
		n0p1: gid(0x0002c90300001001), n0p2: gid(0x0002c90300001002),
		n1p1: gid(0x0002c90300002001), n1p2: gid(0x0002c90300002002),
	}
	tests := []struct {
		name  string
		down  *fabric.PortRef
		src   fabric.PortRef
		dgid  [16]byte
		pkey  uint16
		want  fabric.Path
		errno unix.Errno
		msg   string
	}{
		{name: "MTU and rate of the FDR port", src: n0p1, dgid: g[n1p1], pkey: 0xffff,
			want: fabric.Path{SGID: g[n0p1], DGID: g[n1p1], SLID: 1, DLID: 3, MTU: 2048, Rate: 56000, PKey: 0xffff}},
		{name: "rate of the 1X SDR port, MTU of both", src: n1p2, dgid: g[n0p2], pkey: 0x7fff,
			want: fabric.Path{SGID: g[n1p2], DGID: g[n0p2], SLID: 4, DLID: 2, MTU: 4096, Rate: 2500, PKey: 0xffff}},
		{name: "loopback", src: n0p1, dgid: g[n0p1], pkey: 0xffff,
			want: fabric.Path{SGID: g[n0p1], DGID: g[n0p1], SLID: 1, DLID: 1, MTU: 4096, Rate: 100000, PKey: 0xffff}},
		{name: "limited to full", src: n1p1, dgid: g[n0p1], pkey: 0x8001,
			want: fabric.Path{SGID: g[n1p1], DGID: g[n0p1], SLID: 3, DLID: 1, MTU: 2048, Rate: 56000, PKey: 0x0001}},
		{name: "full to limited", src: n0p1, dgid: g[n0p2], pkey: 0x0001,
			want: fabric.Path{SGID: g[n0p1], DGID: g[n0p2], SLID: 1, DLID: 2, MTU: 4096, Rate: 100000, PKey: 0x8001}},
		{name: "limited to limited", src: n1p1, dgid: g[n0p2], pkey: 0x8001,
			errno: unix.EINVAL, msg: "path record node1/1: invalid argument (node1/1 and node0/2 are both limited members of P_Key 0x8001)"},
		{name: "P_Key not shared", src: n0p1, dgid: g[n1p2], pkey: 0x8001,
			errno: unix.EINVAL, msg: "path record node0/1: invalid argument (P_Key 0x8001 is not shared by node0/1 and node1/2)"},
		{name: "P_Key the source lacks", src: n1p2, dgid: g[n0p1], pkey: 0x8002,
			errno: unix.EINVAL, msg: "path record node1/2: invalid argument (P_Key 0x8002 is not shared by node1/2 and node0/1)"},
		{name: "invalid P_Key", src: n0p1, dgid: g[n1p1], pkey: 0x8000,
			errno: unix.EINVAL, msg: "path record node0/1: invalid argument (invalid P_Key 0x8000)"},
		{name: "unknown GID", src: n0p1, dgid: gid(0x0002c90300002003), pkey: 0xffff,
			errno: unix.ENOENT, msg: "path record node0/1: no such file or directory (no port with GID fe80:0:0:0:2:c903:0:2003)"},
		{name: "destination down", down: &n1p1, src: n0p1, dgid: g[n1p1], pkey: 0xffff,
			errno: unix.ENOENT, msg: "path record node0/1: no such file or directory (node1/1 is Down)"},
		{name: "source down", down: &n0p1, src: n0p1, dgid: g[n1p1], pkey: 0xffff,
			errno: unix.ENETDOWN, msg: "path record node0/1: network is down (port is Down)"},
		{name: "unknown source", src: fabric.PortRef{Node: "node0", Port: 3}, dgid: g[n1p1], pkey: 0xffff,
			errno: unix.ENODEV, msg: "path record node0/3: no such device (no such port)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFabric(t, mixedTopology())
			if tt.down != nil {
				wantErr(t, f.SetPortState(tt.down.Node, tt.down.Port, fabric.StateDown), 0, "")
			}
			got, err := f.PathRecord(tt.src, tt.dgid, tt.pkey)
			wantErr(t, err, tt.errno, tt.msg)
			wantEqual(t, "path", got, tt.want)
		})
	}
}
