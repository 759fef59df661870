package sysfs

import (
	"fmt"
	"strconv"
	"strings"
)

// MCG is one multicast group record of <dev>_mcg (ipoib_fs.c).
type MCG struct {
	GID      [16]byte
	Created  int64 // jiffies at the group's creation
	QueueLen int
	Complete bool // an address handle exists
	SendOnly bool
}

// Path is one path record of <dev>_path (ipoib_fs.c).
type Path struct {
	GID      [16]byte
	Complete bool // a DLID is known
	DLID     uint16
	SL       uint8
	RateMbps int
}

// Debugfs is implemented by drivers with CONFIG_INFINIBAND_IPOIB_DEBUG:
// the records behind kernel/debug/ipoib/<dev>_mcg and <dev>_path, sorted by
// GID bytes.
type Debugfs interface {
	McastGroups(dev string) ([]MCG, error)
	Paths(dev string) ([]Path, error)
}

// debugGID is ipoib_fs.c's format_gid: eight 16-bit groups in lowercase
// hex, no zero padding, no "::" compression.
func debugGID(g [16]byte) string {
	parts := make([]string, 8)
	for i := range parts {
		parts[i] = strconv.FormatUint(uint64(g[2*i])<<8|uint64(g[2*i+1]), 16)
	}
	return strings.Join(parts, ":")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// mcgShow prints ipoib_mcg_seq_show records, each followed by a blank line.
func mcgShow(a *args) (string, error) {
	d, ok := a.drv.(Debugfs)
	if !ok {
		return "", nil
	}
	groups, err := d.McastGroups(a.dev.Link.Name)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "GID: %s\n", debugGID(g.GID))
		fmt.Fprintf(&b, "  created: %10d\n", g.Created)
		fmt.Fprintf(&b, "  queuelen: %9d\n", g.QueueLen)
		fmt.Fprintf(&b, "  complete: %9s\n", yesNo(g.Complete))
		fmt.Fprintf(&b, "  send_only: %8s\n", yesNo(g.SendOnly))
		b.WriteString("\n")
	}
	return b.String(), nil
}

// pathShow prints ipoib_path_seq_show records: DLID, SL and rate only
// when the path is complete; the rate as Gb/s with the remainder of the
// Mb/s after the dot, unpadded.
func pathShow(a *args) (string, error) {
	d, ok := a.drv.(Debugfs)
	if !ok {
		return "", nil
	}
	paths, err := d.Paths(a.dev.Link.Name)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "GID: %s\n", debugGID(p.GID))
		fmt.Fprintf(&b, "  complete: %6s\n", yesNo(p.Complete))
		if p.Complete {
			fmt.Fprintf(&b, "  DLID:     0x%04x\n", p.DLID)
			fmt.Fprintf(&b, "  SL: %12d\n", p.SL)
			fmt.Fprintf(&b, "  rate: %8d.%d Gb/sec\n", p.RateMbps/1000, p.RateMbps%1000)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
