package sysfs

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseInt(t *testing.T) {
	tests := []struct {
		in     string
		want   int32
		wantOK bool
	}{
		{"0x8001", 0x8001, true},
		{"0x8001\n", 0x8001, true},
		{"0X8001", 0x8001, true},
		{"0xFFff", 0xffff, true},
		{"32769", 32769, true},
		{"0100001", 0x8001, true},
		{"08001", 0, true},     // octal: stops at '8'
		{"0x", 0, true},        // no hex digit after x: octal "0"
		{"0x\n", 0, true},      //
		{"0xg", 0, true},       //
		{"0", 0, true},         //
		{"-1", -1, true},       //
		{"-0x10", -16, true},   //
		{"-010", -8, true},     //
		{"-0", 0, true},        //
		{"  \t\n12", 12, true}, // leading white space
		{"\v\f\r7", 7, true},   //
		{"\xa07", 7, true},     // Latin-1 NBSP is white space to the kernel
		{"12abc", 12, true},    // trailing text ignored
		{"0x8002abc", 0x8002abc, true},
		{"0x8002xyz", 0x8002, true},
		{"1 2", 1, true},
		{"2147483647", 2147483647, true},
		{"2147483648", -2147483648, true}, // wraps to 32 bits
		{"4294967297", 1, true},
		{"-2147483648", -2147483648, true},
		{"-4294967295", 1, true},
		{"18446744073709551617", 1, true},             // wraps modulo 2^64 first
		{"0x1ffffffff00008001", 0x8001, true},         //
		{"99999999999999999999999", -159383553, true}, // 0x..2c7e14af67fffff: low 32 bits 0xf67fffff
		{"", 0, false},
		{"\n", 0, false},
		{"   ", 0, false},
		{"abc", 0, false},
		{"+1", 0, false},
		{"-", 0, false},
		{"--1", 0, false},
		{"- 1", 0, false},
		{"-x1", 0, false},
		{" -a", 0, false},
		{"x1", 0, false},
		{"\x001", 0, false}, // C string ends at NUL
		{"1\x002", 1, true},
		{"\xa0", 0, false},
		{"\x85" + "1", 0, false}, // NEL is not white space to the kernel
	}
	for _, tc := range tests {
		v, ok := ParseInt(tc.in)
		if v != tc.want || ok != tc.wantOK {
			t.Errorf("ParseInt(%q) = %d, %t; want %d, %t", tc.in, v, ok, tc.want, tc.wantOK)
		}
	}
}

func TestParseUlong(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"1", 1},
		{"1\n", 1},
		{"0x10", 16},
		{"010", 8},
		{"08", 0},
		{"0x", 0},
		{"foo", 0},
		{"", 0},
		{"-1", 0},
		{"+1", 0},
		{" 1", 0},
		{"12abc", 12},
		{"0xffffffffffffffff", 1<<64 - 1},
		{"0x10000000000000001", 1}, // wraps modulo 2^64
		{"1\x002", 1},
	}
	for _, tc := range tests {
		if got := ParseUlong(tc.in); got != tc.want {
			t.Errorf("ParseUlong(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestKstrtoint(t *testing.T) {
	tests := []struct {
		in      string
		want    int32
		wantErr error
	}{
		{"0", 0, nil},
		{"5\n", 5, nil},
		{"+5", 5, nil},
		{"-5", -5, nil},
		{"-0", 0, nil},
		{"0x7fffffff", 1<<31 - 1, nil},
		{"-0x80000000", -1 << 31, nil},
		{"0x80000000", 0, unix.ERANGE},
		{"-0x80000001", 0, unix.ERANGE},
		{"0x8000000000000000", 0, unix.ERANGE},
		{"-0x8000000000000000", 0, unix.ERANGE}, // fits kstrtoll, not int
		{"18446744073709551616", 0, unix.ERANGE},
		{"", 0, unix.EINVAL},
		{"\n", 0, unix.EINVAL},
		{"+", 0, unix.EINVAL},
		{"-", 0, unix.EINVAL},
		{"5\n\n", 0, unix.EINVAL},
		{"5\r\n", 0, unix.EINVAL},
		{"0x", 0, unix.EINVAL},
		{"09", 0, unix.EINVAL},
		{"\t5", 0, unix.EINVAL},
	}
	for _, tc := range tests {
		v, err := kstrtoint(tc.in)
		if v != tc.want || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
			t.Errorf("kstrtoint(%q) = %d, %v; want %d, %v", tc.in, v, err, tc.want, tc.wantErr)
		}
	}
}

// refParseInt is an independent model of sscanf "%i" into an int:
// big-number arithmetic on an explicitly sliced digit run.
func refParseInt(s string) (int32, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			s = s[:i]
			break
		}
	}
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\v' || s[i] == '\f' || s[i] == '\r' || s[i] == 0xa0) {
		i++
	}
	neg := i < len(s) && s[i] == '-'
	if neg {
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		return 0, false
	}
	base, digits := 10, "0123456789"
	if s[i] == '0' {
		base, digits = 8, "01234567"
		if i+2 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && isHexDigitRef(s[i+2]) {
			base, digits = 16, "0123456789abcdefABCDEF"
			i += 2
		}
	}
	j := i
	for j < len(s) && containsByte(digits, s[j]) {
		j++
	}
	n, ok := new(big.Int).SetString(s[i:j], base)
	if !ok {
		panic(fmt.Sprintf("bad digits %q", s[i:j]))
	}
	if neg {
		n.Neg(n)
	}
	mod := new(big.Int).Lsh(big.NewInt(1), 32)
	n.Mod(n, mod)
	return int32(uint32(n.Uint64())), true
}

func isHexDigitRef(c byte) bool {
	return containsByte("0123456789abcdefABCDEF", c)
}

func containsByte(set string, c byte) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"0x8001", "32769", "0100001", "08001", "-1", "+1", "0x", " \t0xffff\n", "4294967297", "0x8002abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseInt(s)
		rv, rok := refParseInt(s)
		if v != rv || ok != rok {
			t.Fatalf("ParseInt(%q) = %d, %t; reference %d, %t", s, v, ok, rv, rok)
		}
		if !ok {
			if v != 0 {
				t.Fatalf("ParseInt(%q) failed with value %d", s, v)
			}
			return
		}
		// Its own output, in every base, parses back to the same value.
		for _, form := range []string{
			strconv.Itoa(int(v)),
			fmt.Sprintf("%#x\n", uint32(v)),
			fmt.Sprintf("%#o", uint32(v)),
			" " + strconv.Itoa(int(v)) + "junk",
		} {
			if w, ok := ParseInt(form); !ok || w != v {
				t.Fatalf("ParseInt(%q) = %d, %t; want %d (from %q)", form, w, ok, v, s)
			}
		}
	})
}

// FuzzKstrtoint checks param_set_int parsing against strconv: whenever the
// kernel accepts, the value is what strconv reads from the same digits.
func FuzzKstrtoint(f *testing.F) {
	for _, s := range []string{"5\n", "+5", "-0x80000000", "0x", "010", "2147483648", " 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := kstrtoint(s)
		if err != nil {
			if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ERANGE) {
				t.Fatalf("kstrtoint(%q) error %v", s, err)
			}
			return
		}
		body := cstring(s)
		if n := len(body); n > 0 && body[n-1] == '\n' {
			body = body[:n-1]
		}
		sign := ""
		if body[0] == '+' || body[0] == '-' {
			sign, body = body[:1], body[1:]
		}
		base := 10
		switch {
		case len(body) > 2 && body[0] == '0' && body[1]|0x20 == 'x':
			base, body = 16, body[2:]
		case len(body) > 1 && body[0] == '0':
			base = 8
		}
		w, perr := strconv.ParseInt(sign+body, base, 32)
		if perr != nil || int32(w) != v {
			t.Fatalf("kstrtoint(%q) = %d; strconv.ParseInt(%q, %d) = %d, %v", s, v, sign+body, base, w, perr)
		}
	})
}

// FuzzTree drives arbitrary paths and data: no panics, and every error is
// a *PathError carrying an errno.
func FuzzTree(f *testing.F) {
	f.Add("class/net/ib0/create_child", []byte("0x8001\n"))
	f.Add("class/net/ib0/mode", []byte("connected\n"))
	f.Add("module/ib_ipoib/parameters/debug_level", []byte("5\n"))
	f.Add("/sys/class/net/ib0.8001/../ib0/umcast", []byte("1"))
	f.Fuzz(func(t *testing.T, p string, data []byte) {
		tree := New(newFixture())
		check := func(err error) {
			var pe *PathError
			var errno unix.Errno
			if err != nil && (!errors.As(err, &pe) || !errors.As(err, &errno)) {
				t.Fatalf("%q: error %v (%T) is not a *PathError with an errno", p, err, err)
			}
		}
		_, err := tree.Write(p, data)
		check(err)
		_, err = tree.Read(p)
		check(err)
		_, err = tree.List(p)
		check(err)
	})
}
