package ibctl

import (
	"strings"
	"testing"
	"unicode"
)

func TestStrtoul(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0x8001", 0x8001, true},
		{"32769", 32769, true},
		{"0100001", 0o100001, true},
		{"08001", 0, false},
		{"-1", ^uint64(0), true},
		{"-0", 0, true},
		{" 5", 5, true},
		{"5 ", 0, false},
		{"", 0, false},
		{"0x", 0, false},
		{"abc", 0, false},
		{"99999999999999999999999", 0, false},
		{"0x1_0", 0, false},
	}
	for _, tt := range tests {
		got, ok := strtoul(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("strtoul(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseLinkArgs(t *testing.T) {
	u16 := func(v uint16) *uint16 { return &v }
	tests := []struct {
		verb, line string
		want       LinkArgs
		err        string
	}{
		{"add", "link ib0 name ib0.8001 type ipoib pkey 0x8001 mode connected umcast 1",
			LinkArgs{Dev: "ib0.8001", Parent: "ib0", Type: "ipoib", PKey: u16(0x8001), Mode: u16(1), Umcast: u16(1)}, ""},
		{"add", "link ib0 ib0.9 type ipoib pk 9 mo datagram um 0",
			LinkArgs{Dev: "ib0.9", Parent: "ib0", Type: "ipoib", PKey: u16(9), Mode: u16(0), Umcast: u16(0)}, ""},
		{"add", "link ib0 name x", LinkArgs{}, "link add: \"type ipoib\" is required"},
		{"add", "name x type ipoib", LinkArgs{}, "link add: \"link PARENT\" is required for type ipoib"},
		{"add", "link ib0 type vlan", LinkArgs{}, "type \"vlan\" is not supported: only ipoib"},
		{"add", "link ib0 type ipoib pkey", LinkArgs{}, "Command line is not complete. Try option \"help\""},
		{"add", "link ib0 type ipoib umcast 2x", LinkArgs{}, "argument \"2x\" is wrong: umcast is invalid"},
		{"set", "dev ib0 up mtu 1500", LinkArgs{Dev: "ib0"}, ""},
		{"set", "ib0 ib1", LinkArgs{}, "either \"dev\" is duplicate, or \"ib1\" is a garbage"},
		{"set", "up", LinkArgs{}, "Not enough information: \"dev\" argument is required."},
		{"set", "ib0 mtu 1500 mtu 9000", LinkArgs{}, "duplicate \"mtu\": \"9000\" is the second value"},
		{"set", "abcdefghijklmnopq up", LinkArgs{}, "\"abcdefghijklmnopq\" not a valid ifname"},
		{"delete", "dev ib0.8001", LinkArgs{Dev: "ib0.8001"}, ""},
		{"show", "", LinkArgs{}, ""},
		{"show", "type", LinkArgs{}, "Command line is not complete. Try option \"help\""},
		{"show", "down", LinkArgs{Dev: "down"}, ""},
		{"show", "ib0 up type", LinkArgs{}, "Command line is not complete. Try option \"help\""},
	}
	for _, tt := range tests {
		got, err := ParseLinkArgs(tt.verb, strings.Fields(tt.line))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s %q: err %v, want %q", tt.verb, tt.line, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", tt.verb, tt.line, err)
			continue
		}
		if got.Dev != tt.want.Dev || got.Parent != tt.want.Parent || got.Type != tt.want.Type ||
			!eqU16(got.PKey, tt.want.PKey) || !eqU16(got.Mode, tt.want.Mode) || !eqU16(got.Umcast, tt.want.Umcast) {
			t.Errorf("%s %q: got %+v", tt.verb, tt.line, got)
		}
	}
}

func eqU16(a, b *uint16) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// FuzzParseLinkArgs checks that the grammar never panics, that every error
// is a usage error, and that accepted P_Keys round-trip through strtoul.
func FuzzParseLinkArgs(f *testing.F) {
	for _, s := range []string{"link ib0 name ib0.8001 type ipoib pkey 0x8001 mode connected umcast 1",
		"dev ib0 up mtu 1500 type ipoib mode datagram", "link ib0 type ipoib pkey -1", "ib0 ib1"} {
		f.Add("add", s)
		f.Add("set", s)
	}
	f.Fuzz(func(t *testing.T, verb, line string) {
		a, err := ParseLinkArgs(verb, strings.Fields(line))
		if err != nil {
			if ExitStatus(err) != ExitUsage {
				t.Fatalf("non-usage error %v", err)
			}
			return
		}
		if a.PKey == nil {
			return
		}
		// The P_Key is the value of one of the line's words, read as
		// strtoul reads it.
		for _, w := range strings.Fields(line) {
			if v, ok := cGetU16(w); ok && v == *a.PKey {
				return
			}
		}
		t.Fatalf("pkey %#x is no word of %q", *a.PKey, line)
	})
}

// cGetU16 is iproute2's get_u16(…, 0) written from C's rules for strtoul
// on a word without spaces: an optional sign, 0x (with a hex digit after
// it) for base 16, 0 for base 8, digits to the end; a negated value wraps
// (so only -0 stays in range); above 0xffff is refused.
func cGetU16(s string) (uint16, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s[:min(len(s), 1)], "+-") + s[min(len(s), 1):]
	base := uint64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1]|0x20) == 'x' && strings.ContainsRune("0123456789abcdefABCDEF", rune(s[2])):
		base, s = 16, s[2:]
	case strings.HasPrefix(s, "0"):
		base = 8
	}
	if s == "" {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		d := uint64(strings.IndexRune("0123456789abcdef", unicode.ToLower(c)))
		if c > 0x7f || d >= base {
			return 0, false
		}
		if v = v*base + d; v > 0xffff {
			return 0, false
		}
	}
	if neg && v != 0 {
		return 0, false
	}
	return uint16(v), true
}

// FuzzGetU16 holds getU16 to C's strtoul rules (cGetU16).
func FuzzGetU16(f *testing.F) {
	for _, s := range []string{"0x8001", "32769", "0100001", "-0", "-1", "+7", "0x", "0x10000", "65535", "65536", "08", "0X1f", " 1", "1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := getU16(s)
		want, wantOK := cGetU16(s)
		if strings.ContainsAny(s, " \t\n\v\f\r") {
			return // strtoul skips leading space; words have none
		}
		if got != want || ok != wantOK {
			t.Fatalf("getU16(%q) = %#x %v, want %#x %v", s, got, ok, want, wantOK)
		}
	})
}

// TestGetInteger checks getInteger against iproute2 6.1's get_integer
// (lib/utils.c): strtol base 0 over the whole string, INT_MIN…INT_MAX.
func TestGetInteger(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int32
		ok   bool
	}{
		{"1500", 1500, true}, {"0x500", 1280, true}, {"010", 8, true}, {" 7", 7, true}, {"+7", 7, true},
		{"-5", -5, true}, {"2147483647", 2147483647, true}, {"-2147483648", -2147483648, true},
		{"2147483648", 0, false}, {"-2147483649", 0, false}, {"18446744073709551616", 0, false},
		{"", 0, false}, {"-", 0, false}, {"+-5", 0, false}, {"- 5", 0, false}, {"5 ", 0, false}, {"0x", 0, false}, {"abc", 0, false},
	} {
		got, ok := getInteger(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("getInteger(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
