package ibctl

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// TestPcapWriter checks the file and record headers and the frames of
// the link types byte for byte, a snapshot length cutting them.
func TestPcapWriter(t *testing.T) {
	dst := make([]byte, 20)
	dst[0], dst[3], dst[19] = 0x80, 0x48, 0x01
	p := netlinkx.CapturedPacket{TimeNs: 1_700_000_000_123_456_789, PktType: netlinkx.PacketOutgoing, Dst: dst,
		OrigLen: 8, Data: []byte{0x08, 0x06, 0, 0, 0xaa, 0xbb, 0xcc, 0xdd}}
	tests := []struct {
		name     string
		linktype uint32
		snaplen  uint32
		want     string // hex
	}{
		{"sll", linktypeLinuxSLL, 262144,
			"d4c3b2a1" + "0200" + "0400" + "00000000" + "00000000" + "00000400" + "71000000" +
				"00f15365" + "40e20100" + "14000000" + "14000000" +
				"0004" + "0020" + "0000" + "0000000000000000" + "0806" + "aabbccdd"},
		{"sll cut", linktypeLinuxSLL, 18,
			"d4c3b2a1" + "0200" + "0400" + "00000000" + "00000000" + "12000000" + "71000000" +
				"00f15365" + "40e20100" + "12000000" + "14000000" +
				"0004" + "0020" + "0000" + "0000000000000000" + "0806" + "aabb"},
		{"ipoib", linktypeIPoIB, 262144,
			"d4c3b2a1" + "0200" + "0400" + "00000000" + "00000000" + "00000400" + "f2000000" +
				"00f15365" + "40e20100" + "30000000" + "30000000" +
				"0000000000000000000000000000000000000000" + "8000004800000000000000000000000000000001" +
				"08060000" + "aabbccdd"},
		// ERF: 32.32 fixed-point time, type 21 (InfiniBand), varying
		// length, record length 16 + 8, no loss, wire length 8
		{"erf", linktypeERF, 262144,
			"d4c3b2a1" + "0200" + "0400" + "00000000" + "00000000" + "00000400" + "c5000000" +
				"00f15365" + "40e20100" + "18000000" + "18000000" +
				"37dd9a1f00f15365" + "15" + "04" + "0018" + "0000" + "0008" + "08060000aabbccdd"},
		// cut: the record length is what the record holds
		{"erf cut", linktypeERF, 20,
			"d4c3b2a1" + "0200" + "0400" + "00000000" + "00000000" + "14000000" + "c5000000" +
				"00f15365" + "40e20100" + "14000000" + "18000000" +
				"37dd9a1f00f15365" + "15" + "04" + "0014" + "0000" + "0008" + "08060000"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		w, err := newPcapWriter(&b, tt.linktype, tt.snaplen)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.write(p); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b.Bytes()); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestPcapngWriter checks the section header, an interface description
// per port and an enhanced packet block on the second interface byte for
// byte, the frame padded to 32 bits and cut by the snapshot length.
func TestPcapngWriter(t *testing.T) {
	p := netlinkx.CapturedPacket{TimeNs: 1_700_000_000_123_456_789, PktType: netlinkx.PacketHost, Iface: 1,
		OrigLen: 5, Data: []byte{0xaa, 0xbb, 0xcc, 0xdd, 0xee}}
	shb := "0a0d0d0a" + "2c000000" + "4d3c2b1a" + "0100" + "0000" + "ffffffffffffffff" +
		"0400" + "0500" + "696263746c000000" + // shb_userappl "ibctl"
		"00000000" + "2c000000"
	idb := func(name, snaplen string) string {
		return "01000000" + "2c000000" + "f700" + "0000" + snaplen +
			"0200" + "0700" + hex.EncodeToString([]byte(name)) + "00" + // if_name
			"0900" + "0100" + "09000000" + // if_tsresol: nanoseconds
			"00000000" + "2c000000"
	}
	tests := []struct {
		name    string
		snaplen uint32
		want    string
	}{
		{"whole", 262144, shb + idb("node0/1", "00000400") + idb("node1/1", "00000400") +
			"06000000" + "28000000" + "01000000" + "fe9c9717" + "15cd853d" + "05000000" + "05000000" +
			"aabbccddee000000" + "28000000"},
		{"cut", 4, shb + idb("node0/1", "04000000") + idb("node1/1", "04000000") +
			"06000000" + "24000000" + "01000000" + "fe9c9717" + "15cd853d" + "04000000" + "05000000" +
			"aabbccdd" + "24000000"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		w, err := newPcapngWriter(&b, linktypeInfiniband, tt.snaplen, []string{"node0/1", "node1/1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.write(p); err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b.Bytes()); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}
