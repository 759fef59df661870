package ibctl

import (
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
)

// matches is iproute2's matches(): arg is a non-empty prefix of keyword.
func matches(arg, keyword string) bool { return arg != "" && strings.HasPrefix(keyword, arg) }

// strtoul is C's strtoul with base 0 that must consume the whole string,
// as iproute2's get_u16/get_unsigned require: leading blanks, an optional
// sign (a '-' negates modulo 2^64), 0x for hex, a leading 0 for octal.
func strtoul(s string) (uint64, bool) {
	v, n := strtoulPrefix(s)
	if n == 0 || n != len(s) || v == ^uint64(0) && !strings.HasPrefix(strings.TrimLeft(s, " \t\n\v\f\r"), "-") {
		return 0, false
	}
	return v, true
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return 99
}

// getU16 is iproute2's get_u16(…, 0).
func getU16(s string) (uint16, bool) {
	v, ok := strtoul(s)
	if !ok || v > 0xffff {
		return 0, false
	}
	return uint16(v), true
}

// getInteger is iproute2's get_integer(…, 0): strtol over the whole
// string (leading blanks, one optional sign, 0x or 0 prefix) in the range
// of an int.
func getInteger(s string) (int32, bool) {
	body := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	if body == "" || strings.ContainsRune("+- \t\n\v\f\r", rune(body[0])) {
		return 0, false
	}
	mag, n := strtoulPrefix(body)
	if n == 0 || n != len(body) {
		return 0, false
	}
	if neg {
		if mag > 1<<31 {
			return 0, false
		}
		return int32(-int64(mag)), true
	}
	if mag > 1<<31-1 {
		return 0, false
	}
	return int32(mag), true
}

// getUnsigned is iproute2's get_unsigned(…, 0).
func getUnsigned(s string) (uint32, bool) {
	v, ok := strtoul(s)
	if !ok || v > 0xffffffff {
		return 0, false
	}
	return uint32(v), true
}

// LinkArgs is a parsed `link add` / `link set` / `link del` / `link show`
// argument list, in the iproute2 grammar.
type LinkArgs struct {
	Dev    string // the device (set, del, show) or the new name (add)
	Parent string // add: link PARENT
	Up     *bool
	MTU    *uint32
	Type   string
	PKey   *uint16
	Mode   *uint16
	Umcast *uint16
	// ShowUp is show's "up": only links that are up.
	ShowUp bool
	// ShowType is show's "type TYPE": only links of that kind, or, as
	// KIND_slave, whose master is of that kind; nil when not given.
	ShowType *string
}

// parseIPoIBArgs is iplink_ipoib.c's parse_opt.
func parseIPoIBArgs(args []string, a *LinkArgs) error {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		next := func() (string, error) {
			if i+1 >= len(args) {
				return "", usagef("Command line is not complete. Try option \"help\"")
			}
			i++
			return args[i], nil
		}
		switch {
		case matches(arg, "pkey"):
			v, err := next()
			if err != nil {
				return err
			}
			p, ok := getU16(v)
			if !ok {
				return usagef("argument %q is wrong: pkey is invalid", v)
			}
			a.PKey = &p
		case matches(arg, "mode"):
			v, err := next()
			if err != nil {
				return err
			}
			var m uint16
			switch v {
			case "datagram":
				m = netlinkx.ModeDatagram
			case "connected":
				m = netlinkx.ModeConnected
			default:
				return usagef("argument of \"mode\" must be \"datagram\"or \"connected\"")
			}
			a.Mode = &m
		case matches(arg, "umcast"):
			v, err := next()
			if err != nil {
				return err
			}
			u, ok := getU16(v)
			if !ok {
				return usagef("argument %q is wrong: umcast is invalid", v)
			}
			a.Umcast = &u
		case matches(arg, "help"):
			return usagef("Usage: ... ipoib [ pkey PKEY ] [ mode {datagram | connected} ] [ umcast {0|1} ]; PKEY := 0x8001-0xffff")
		default:
			return usagef("ipoib: unknown option %q?", arg)
		}
	}
	return nil
}

// ParseLinkArgs parses the arguments of verb ("add", "set", "delete",
// "show") in the iproute2 grammar.
func ParseLinkArgs(verb string, args []string) (LinkArgs, error) {
	var a LinkArgs
	for i := 0; i < len(args); i++ {
		arg := args[i]
		next := func(what string) (string, error) {
			if i+1 >= len(args) {
				return "", usagef("Command line is not complete. Try option \"help\"")
			}
			i++
			return args[i], nil
		}
		switch {
		case arg == "up" && verb == "show":
			a.ShowUp = true
		case arg == "type" && verb == "show":
			v, err := next("type")
			if err != nil {
				return a, err
			}
			a.ShowType = &v
		case arg == "up" && verb != "show":
			t := true
			a.Up = &t
		case arg == "down" && verb != "show":
			f := false
			a.Up = &f
		case arg == "mtu" && (verb == "add" || verb == "set"):
			v, err := next("mtu")
			if err != nil {
				return a, err
			}
			// iplink.c: get_integer, so a negative MTU goes to the kernel
			// as its 32-bit pattern; -1 is also the "not given" marker of
			// the duplicate check.
			if a.MTU != nil && *a.MTU != 0xffffffff {
				return a, usagef("duplicate \"mtu\": %q is the second value", v)
			}
			i, ok := getInteger(v)
			if !ok {
				return a, usagef("argument %q is wrong: Invalid \"mtu\" value", v)
			}
			m := uint32(i)
			a.MTU = &m
		case arg == "link" && verb == "add":
			v, err := next("link")
			if err != nil {
				return a, err
			}
			a.Parent = v
		case arg == "name" && verb == "add":
			v, err := next("name")
			if err != nil {
				return a, err
			}
			if a.Dev != "" {
				return a, usagef("either \"name\" is duplicate, or %q is a garbage", v)
			}
			a.Dev = v
		case arg == "type":
			v, err := next("type")
			if err != nil {
				return a, err
			}
			if v != "ipoib" {
				return a, usagef("type %q is not supported: only ipoib", v)
			}
			a.Type = v
			if err := parseIPoIBArgs(args[i+1:], &a); err != nil {
				return a, err
			}
			return a, checkLinkArgs(verb, a)
		case arg == "dev" && verb != "add":
			v, err := next("dev")
			if err != nil {
				return a, err
			}
			if a.Dev != "" {
				return a, usagef("either \"dev\" is duplicate, or %q is a garbage", v)
			}
			a.Dev = v
		case arg == "help":
			return a, usagef("%s", linkUsage)
		default:
			if a.Dev != "" {
				return a, usagef("either \"dev\" is duplicate, or %q is a garbage", arg)
			}
			a.Dev = arg
		}
	}
	if err := checkLinkArgs(verb, a); err != nil {
		return a, err
	}
	return a, nil
}

func checkLinkArgs(verb string, a LinkArgs) error {
	for _, name := range []string{a.Dev, a.Parent} {
		if len(name) >= 16 {
			return usagef("%q not a valid ifname", name)
		}
	}
	switch verb {
	case "add":
		if a.Type == "" {
			return usagef("link add: \"type ipoib\" is required")
		}
		if a.Parent == "" {
			return usagef("link add: \"link PARENT\" is required for type ipoib")
		}
	case "set", "delete":
		if a.Dev == "" {
			return usagef("Not enough information: \"dev\" argument is required.")
		}
	}
	return nil
}

const linkUsage = `Usage: ibctl link add link PARENT [ name NAME ] [ mtu MTU ] [ up ] type ipoib [ pkey PKEY ] [ mode { datagram | connected } ] [ umcast { 0 | 1 } ]
       ibctl link delete [ dev ] DEVICE
       ibctl link set [ dev ] DEVICE [ up | down ] [ mtu MTU ] [ type ipoib [ mode { datagram | connected } ] [ umcast { 0 | 1 } ] ]
       ibctl link show [ [ dev ] DEVICE ] [ up ] [ type TYPE ]`
