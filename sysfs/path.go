package sysfs

import (
	"path"
	"strings"
)

// Clean normalises a user path to one relative to /sys: "/sys/class/net/ib0/mtu",
// "sys/class/net/ib0/mtu", "class/net/ib0/mtu", "/class/net/ib0/mtu/" and
// "./class//net/ib0/./mtu" all give "class/net/ib0/mtu". "", ".", "/", "sys"
// and "/sys" give "" (the root). ".." is resolved lexically and never climbs
// above the root.
func Clean(p string) string {
	c := path.Clean(p)
	switch {
	case c == "." || c == "/" || c == "sys" || c == "/sys":
		return ""
	case strings.HasPrefix(c, "/sys/"):
		c = c[len("/sys/"):]
	case strings.HasPrefix(c, "sys/"):
		c = c[len("sys/"):]
	}
	// Rooting the rest drops any leading "..".
	return strings.TrimPrefix(path.Clean("/"+c), "/")
}

// split returns the components of a cleaned path; the root has none.
func split(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
