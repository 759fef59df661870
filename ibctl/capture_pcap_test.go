package ibctl

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// TestPcapWriter checks the file and record headers and the frames of
// both link types byte for byte, a snapshot length cutting them.
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
