package header

import "testing"

func TestPKey(t *testing.T) {
	for _, tc := range []struct {
		pkey, base, full uint16
		valid, isFull    bool
	}{
		{0x0000, 0x0000, 0x8000, false, false},
		{0x8000, 0x0000, 0x8000, false, true},
		{0x0001, 0x0001, 0x8001, true, false},
		{0x8001, 0x0001, 0x8001, true, true},
		{0x7fff, 0x7fff, 0xffff, true, false},
		{0xffff, 0x7fff, 0xffff, true, true},
	} {
		if b, v, f, isf := PKeyBase(tc.pkey), PKeyValid(tc.pkey), PKeyFull(tc.pkey), PKeyIsFull(tc.pkey); b != tc.base || v != tc.valid || f != tc.full || isf != tc.isFull {
			t.Errorf("%#04x: base %#04x valid %v full %#04x isFull %v", tc.pkey, b, v, f, isf)
		}
	}
}
