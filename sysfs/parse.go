package sysfs

import (
	"math/bits"
	"strings"

	"golang.org/x/sys/unix"
)

// The kernel's integer parsers, as the stores use them. All of them read a
// C string: kernfs hands a store the written bytes with a NUL appended, so
// anything after an embedded NUL is invisible to the parser (cstring).

// ParseInt is the kernel's sscanf(buf, "%i", &v) as create_child_store and
// delete_child_store call it (lib/vsprintf.c vsscanf → simple_strntoll →
// simple_strntoull):
//
//   - leading white space is skipped (the kernel's isspace: \t \n \v \f \r,
//     space, and Latin-1 NBSP 0xa0);
//   - an optional '-' follows; '+' is not accepted;
//   - the next character must be a decimal digit, else nothing is converted
//     and ok is false ("", "\n", "abc", "+1", "-x", "- 1");
//   - the base is chosen by _parse_integer_fixup_radix: "0x"/"0X" followed
//     by a hex digit is hex, another leading '0' is octal, else decimal;
//   - digits are taken up to the first one not valid in the base; the rest
//     is ignored ("08001" is octal 0, stopping at '8'; "0x8002abc" is
//     hex 0x8002abc; "12abc" is 12);
//   - the value accumulates modulo 2^64, is negated for '-', and is stored
//     in a 32-bit int, keeping the low 32 bits ("4294967297" is 1).
//
// "0x" with no hex digit after it: the current kernel's
// _parse_integer_fixup_radix picks base 16 only when a hex digit follows
// the "x" (isxdigit(s[2])), so "0x", "0x\n" and "0xg" parse as octal "0"
// followed by ignored text: v=0, ok=true. (A 2024 proposal to always treat
// "0x" as hex was not merged; older kernels, whose %i went through
// simple_strtol, behaved the same way.) create_child rejects that 0 with
// EINVAL; delete_child looks for a child with P_Key 0 and gets ENODEV.
func ParseInt(s string) (v int32, ok bool) {
	s = cstring(s)
	for len(s) > 0 && isspace(s[0]) {
		s = s[1:]
	}
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	if len(s) == 0 || !isdigit(s[0]) {
		return 0, false
	}
	rest, base := fixupRadix(s)
	u, _, _ := parseDigits(rest, base)
	if neg {
		u = -u
	}
	return int32(uint32(u)), true
}

// ParseUlong is simple_strtoul(buf, NULL, 0) as umcast_store calls it: no
// white space skipping, no sign, auto base as ParseInt, digits up to the
// first invalid one, modulo 2^64. Garbage (including " 1", "+1" and "-1")
// gives 0; it never fails.
func ParseUlong(s string) uint64 {
	rest, base := fixupRadix(cstring(s))
	v, _, _ := parseDigits(rest, base)
	return v
}

// cstring is s up to its first NUL: what the C parsers see.
func cstring(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// isspace is lib/ctype.c's isspace: 9–13, 32 and 160 (Latin-1 NBSP).
func isspace(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') || c == 0xa0 }

func isdigit(c byte) bool { return '0' <= c && c <= '9' }

func isxdigit(c byte) bool { return isdigit(c) || ('a' <= c|0x20 && c|0x20 <= 'f') }

// fixupRadix is _parse_integer_fixup_radix with base 0: it returns the
// digits to parse (without a "0x" prefix) and their base.
func fixupRadix(s string) (string, uint64) {
	if len(s) == 0 || s[0] != '0' {
		return s, 10
	}
	if len(s) > 2 && s[1]|0x20 == 'x' && isxdigit(s[2]) {
		return s[2:], 16
	}
	return s, 8
}

// parseDigits is _parse_integer: the value of the longest prefix of digits
// valid in base (wrapping modulo 2^64), how many digits that was, and
// whether the value overflowed 64 bits.
func parseDigits(s string, base uint64) (v uint64, n int, overflow bool) {
	for ; n < len(s); n++ {
		c := s[n]
		var d uint64
		switch {
		case isdigit(c):
			d = uint64(c - '0')
		case 'a' <= c|0x20 && c|0x20 <= 'f':
			d = uint64(c|0x20-'a') + 10
		default:
			return v, n, overflow
		}
		if d >= base {
			return v, n, overflow
		}
		hi, lo := bits.Mul64(v, base)
		sum, carry := bits.Add64(lo, d, 0)
		if hi != 0 || carry != 0 {
			overflow = true
		}
		v = sum
	}
	return v, n, overflow
}

// kstrtoullBody is lib/kstrtox.c _kstrtoull with base 0: digits, then at
// most one '\n', then the end. No digits or other text → EINVAL; more than
// 64 bits → ERANGE (checked first, as the kernel does).
func kstrtoullBody(s string) (uint64, error) {
	rest, base := fixupRadix(s)
	v, n, overflow := parseDigits(rest, base)
	if overflow {
		return 0, unix.ERANGE
	}
	if n == 0 {
		return 0, unix.EINVAL
	}
	rest = rest[n:]
	if len(rest) > 0 && rest[0] == '\n' {
		rest = rest[1:]
	}
	if rest != "" {
		return 0, unix.EINVAL
	}
	return v, nil
}

// kstrtoull is kstrtoull(s, 0, &v): one optional leading '+'.
func kstrtoull(s string) (uint64, error) {
	s = cstring(s)
	if len(s) > 0 && s[0] == '+' {
		s = s[1:]
	}
	return kstrtoullBody(s)
}

// kstrtoul is kstrtoul(s, 0, &v) on a 64-bit kernel (unsigned long is
// 64 bits), as netdev_store parses carrier, mtu, flags, ... writes.
func kstrtoul(s string) (uint64, error) { return kstrtoull(s) }

// kstrtoll is kstrtoll(s, 0, &v): an optional '+' or '-' (not both).
func kstrtoll(s string) (int64, error) {
	s = cstring(s)
	if len(s) > 0 && s[0] == '-' {
		u, err := kstrtoullBody(s[1:])
		if err != nil {
			return 0, err
		}
		if int64(-u) > 0 {
			return 0, unix.ERANGE
		}
		return int64(-u), nil
	}
	u, err := kstrtoull(s)
	if err != nil {
		return 0, err
	}
	if int64(u) < 0 {
		return 0, unix.ERANGE
	}
	return int64(u), nil
}

// kstrtoint is kstrtoint(s, 0, &v), the parser of param_set_int: a value
// outside int's range is ERANGE, not EINVAL.
func kstrtoint(s string) (int32, error) {
	v, err := kstrtoll(s)
	if err != nil {
		return 0, err
	}
	if v != int64(int32(v)) {
		return 0, unix.ERANGE
	}
	return int32(v), nil
}
