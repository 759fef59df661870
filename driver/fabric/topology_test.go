package fabric_test

import (
	"testing"

	"github.com/ibctl/ibctl/driver/fabric"
)

func TestRate(t *testing.T) {
	tests := []struct {
		width, speed string
		mbps         int
		ibstat       string
	}{
		{"1X", "SDR", 2500, "2.5"},
		{"4X", "SDR", 10000, "10"},
		{"1X", "DDR", 5000, "5"},
		{"4X", "QDR", 40000, "40"},
		{"12X", "QDR", 120000, "120"},
		{"4X", "FDR10", 40000, "40 (FDR10)"},
		{"1X", "FDR", 14000, "14"},
		{"4X", "FDR", 56000, "56"},
		{"4X", "EDR", 100000, "100"},
		{"2X", "HDR", 100000, "100"},
		{"4X", "NDR", 400000, "400"},
		{"8X", "XDR", 1600000, "1600"},
	}
	for _, tt := range tests {
		p := fabric.Port{Width: tt.width, Speed: tt.speed}
		if got := p.LinkSpeed(); got != tt.mbps {
			t.Errorf("%s %s: LinkSpeed = %d, want %d", tt.width, tt.speed, got, tt.mbps)
		}
		if got := p.RateString(); got != tt.ibstat {
			t.Errorf("%s %s: RateString = %q, want %q", tt.width, tt.speed, got, tt.ibstat)
		}
	}
}

func TestValidatePartitions(t *testing.T) {
	tests := []struct {
		name string
		p    fabric.Partition
		want string
	}{
		{"zero pkey", fabric.Partition{PKey: "0x8000"}, `partition 1: invalid pkey "0x8000"`},
		{"not a number", fabric.Partition{PKey: "abc"}, `partition 1: invalid pkey "abc"`},
		{"duplicate of the default", fabric.Partition{PKey: "0x7fff"}, `partition "0x7fff": duplicate`},
		{"mtu", fabric.Partition{PKey: "0x8001", MTU: 1500}, `partition "0x8001": invalid ib_mtu 1500`},
		{"all", fabric.Partition{PKey: "0x8001", All: "some"}, `partition "0x8001": all must be "full" or "limited"`},
		{"node", fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node9", Port: 1}}}, `partition "0x8001": unknown node "node9"`},
		{"port", fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node1", Port: 3}}}, `partition "0x8001": node "node1" has no port 3`},
		{"duplicate member", fabric.Partition{PKey: "0x8001", Members: []fabric.Member{{Node: "node1", Port: 1}, {Node: "node1", Port: 1, Full: true}}},
			`partition "0x8001": duplicate member node1/1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo := fabric.DefaultTopology()
			topo.Partitions = append(topo.Partitions, tt.p)
			err := topo.Validate()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate = %v, want %s", err, tt.want)
			}
		})
	}
	topo := fabric.DefaultTopology()
	topo.Partitions = append(topo.Partitions, fabric.Partition{PKey: "0x8001"})
	if err := topo.Validate(); err != nil {
		t.Fatal(err)
	}
	if topo.Partitions[1].MTU != 2048 {
		t.Fatalf("default partition MTU = %d, want 2048", topo.Partitions[1].MTU)
	}
}
