package ibctl

import (
	"encoding/json"
	"testing"

	"github.com/ibctl/ibctl/netlinkx"
)

// TestPrintIPoIB checks the ipoib detail of `ip -d link show` against
// iproute2 6.1's ipoib_print_opt (ip/iplink_ipoib.c): "pkey %#.4x ",
// "mode %s ", "umcast %.4x ", one space each (the two-space form is
// iproute2 before 5.9); JSON has key, mode and umcast as strings.
func TestPrintIPoIB(t *testing.T) {
	for _, tc := range []struct {
		info       netlinkx.IPoIB
		text, json string
	}{
		{netlinkx.IPoIB{PKey: 0x8001, Mode: netlinkx.ModeDatagram},
			"pkey 0x8001 mode datagram umcast 0000 ",
			`{"key":"0x8001","mode":"datagram","umcast":"0000"}`},
		{netlinkx.IPoIB{PKey: 0xffff, Mode: netlinkx.ModeConnected, Umcast: 1},
			"pkey 0xffff mode connected umcast 0001 ",
			`{"key":"0xffff","mode":"connected","umcast":"0001"}`},
		// C's %#.4x prints no 0x prefix for zero.
		{netlinkx.IPoIB{PKey: 0, Mode: 7},
			"pkey 0000 mode unknown umcast 0000 ",
			`{"key":"0000","mode":"unknown","umcast":"0000"}`},
	} {
		p := NewPrinter()
		printIPoIB(p, tc.info)
		if got := p.TextOut(); got != tc.text {
			t.Errorf("%+v: text %q, want %q", tc.info, got, tc.text)
		}
		b, err := json.Marshal(p.Object())
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.json {
			t.Errorf("%+v: json %s, want %s", tc.info, b, tc.json)
		}
	}
}
