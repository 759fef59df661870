package ibctl

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// legacyFeature is one of ethtool's off_flag_def entries: a short name for
// -K, a long name for -k, and the kernel features it stands for.
type legacyFeature struct {
	short, long string
	match       func(kernelName string) bool
}

func exact(name string) func(string) bool { return func(s string) bool { return s == name } }

// legacyFeatures is ethtool's off_flag_def in order.
var legacyFeatures = []legacyFeature{
	{"rx", "rx-checksumming", exact("rx-checksum")},
	{"tx", "tx-checksumming", func(s string) bool { return strings.HasPrefix(s, "tx-checksum-") }},
	{"sg", "scatter-gather", func(s string) bool { return strings.HasPrefix(s, "tx-scatter-gather") }},
	{"tso", "tcp-segmentation-offload", func(s string) bool {
		return strings.HasPrefix(s, "tx-tcp") && strings.HasSuffix(s, "-segmentation")
	}},
	{"ufo", "udp-fragmentation-offload", exact("tx-udp-fragmentation")},
	{"gso", "generic-segmentation-offload", exact("tx-generic-segmentation")},
	{"gro", "generic-receive-offload", exact("rx-gro")},
	{"lro", "large-receive-offload", exact("rx-lro")},
	{"rxvlan", "rx-vlan-offload", exact("rx-vlan-hw-parse")},
	{"txvlan", "tx-vlan-offload", exact("tx-vlan-hw-insert")},
	{"ntuple", "ntuple-filters", exact("rx-ntuple-filter")},
	{"rxhash", "receive-hashing", exact("rx-hashing")},
}

// featureSuffix is what ethtool appends to a feature's state.
func featureSuffix(f netlinkx.Feature) string {
	switch {
	case !f.Available || f.NoChange:
		return " [fixed]"
	case f.Wanted != f.Active:
		return " [requested " + onOff(f.Wanted) + "]"
	}
	return ""
}

func featureObj(f netlinkx.Feature) *Obj {
	return new(Obj).Set("active", f.Active).Set("fixed", !f.Available || f.NoChange).Set("requested", f.Wanted)
}

// featuresPrinter is `ethtool -k`: ethtool's legacy groups first (a group
// of one feature prints under the group's name), then every other feature
// in kernel order.
func featuresPrinter(dev string, fs []netlinkx.Feature) *Printer {
	p := NewPrinter()
	p.Any("ifname", "Features for %s:\n", dev)
	p.Open("features")
	done := make([]bool, len(fs))
	for _, lf := range legacyFeatures {
		var idx []int
		for i, f := range fs {
			if f.Name != "" && lf.match(f.Name) {
				idx = append(idx, i)
			}
		}
		switch len(idx) {
		case 0:
			continue
		case 1:
			f := fs[idx[0]]
			p.Text(fmt.Sprintf("%s: %s%s\n", lf.long, onOff(f.Active), featureSuffix(f)))
			p.Any(f.Name, "", featureObj(f))
		default:
			on := false
			for _, i := range idx {
				on = on || fs[i].Active
			}
			p.Text(fmt.Sprintf("%s: %s\n", lf.long, onOff(on)))
			for _, i := range idx {
				p.Text(fmt.Sprintf("\t%s: %s%s\n", fs[i].Name, onOff(fs[i].Active), featureSuffix(fs[i])))
				p.Any(fs[i].Name, "", featureObj(fs[i]))
			}
		}
		for _, i := range idx {
			done[i] = true
		}
	}
	for i, f := range fs {
		if done[i] || f.Name == "" {
			continue
		}
		p.Text(fmt.Sprintf("%s: %s%s\n", f.Name, onOff(f.Active), featureSuffix(f)))
		p.Any(f.Name, "", featureObj(f))
	}
	p.Close()
	return p
}

// checkFeatureArgs checks the NAME on|off pairs of -K before anything is
// sent; names are checked against the device's features later.
func checkFeatureArgs(args []string) error {
	if len(args) == 0 {
		return usagef("ethtool -K: no features given")
	}
	for i := 0; i < len(args); i += 2 {
		if i+1 >= len(args) || (args[i+1] != "on" && args[i+1] != "off") {
			return usagef("ethtool -K: feature '%s' is not followed by 'on' or 'off'", args[i])
		}
	}
	return nil
}

// expandFeatures maps -K names (kernel names or ethtool's short names) to
// kernel feature names in request order; a short name stands for every
// feature of its group, as ethtool sends them.
func expandFeatures(args []string, fs []netlinkx.Feature) ([]string, map[string]bool, error) {
	want := map[string]bool{}
	var names []string
	add := func(n string, v bool) {
		if _, ok := want[n]; !ok {
			names = append(names, n)
		}
		want[n] = v
	}
	for i := 0; i+1 < len(args); i += 2 {
		name, v := args[i], args[i+1] == "on"
		found := false
		for _, f := range fs {
			if f.Name == name {
				add(name, v)
				found = true
			}
		}
		for _, lf := range legacyFeatures {
			if found || lf.short != name {
				continue
			}
			for _, f := range fs {
				if lf.match(f.Name) {
					add(f.Name, v)
					found = true
				}
			}
		}
		if !found {
			return nil, nil, usagef("ethtool -K: unknown feature %q", name)
		}
	}
	return names, want, nil
}

// setFeatures is `ethtool -K`, reporting as ethtool 6.1 does: when a
// requested feature did not end as requested, or a feature nobody asked
// for changed, it prints "Actual changes:" with one line per such feature
// (kernel order); when no requested feature could be changed it fails.
func setFeatures(o *EthtoolOptions, c *netlinkx.Client) error {
	before, err := c.Features(o.Dev)
	if err != nil {
		return opError("ethtool -K "+o.Dev, err)
	}
	names, want, err := expandFeatures(o.Args, before)
	if err != nil {
		return err
	}
	// The reply describes this change alone, from the states just before
	// and just after it: other changes meanwhile do not show.
	ch, err := c.SetFeatures(o.Dev, names, want)
	if err != nil {
		return opError("ethtool -K "+o.Dev, err)
	}
	type change struct {
		name               string
		active, haveActive bool
		mismatch, req      bool
	}
	var order []uint32
	byIndex := map[uint32]*change{}
	get := func(b netlinkx.FeatureBit) *change {
		x, ok := byIndex[b.Index]
		if !ok {
			x = &change{name: b.Name}
			byIndex[b.Index] = x
			order = append(order, b.Index)
		}
		return x
	}
	for _, b := range ch.Wanted {
		x := get(b)
		x.mismatch, x.req = true, b.Value
	}
	for _, b := range ch.Active {
		x := get(b)
		x.active, x.haveActive = b.Value, true
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	failed, show := len(ch.Wanted), false
	var lines []string
	for _, i := range order {
		x := byIndex[i]
		if !x.haveActive {
			// A requested feature that did not change: it is still
			// the opposite of the request.
			x.active = !x.req
		}
		_, requested := want[x.name]
		line := fmt.Sprintf("%s: %s", x.name, onOff(x.active))
		switch {
		case x.mismatch:
			line += " [requested " + onOff(x.req) + "]"
			show = true
		case !requested:
			line += " [not requested]"
			show = true
		}
		lines = append(lines, line)
	}
	if show {
		fmt.Fprintf(o.F.IO.Out, "Actual changes:\n%s\n", strings.Join(lines, "\n"))
	}
	if failed == len(names) {
		return fmt.Errorf("ethtool -K %s: Could not change any device features", o.Dev)
	}
	return nil
}

// completeEthtoolArgs completes the device, then feature names (-K) or
// coalescing parameters (-C).
func completeEthtoolArgs(f *Factory, o *EthtoolOptions) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp
		if len(args) == 0 {
			return linkNames(f), nd
		}
		if len(args)%2 == 0 {
			return []string{"on", "off"}, nd
		}
		switch {
		case o.Features:
			c, ok := completionClient(f)
			if !ok {
				return nil, nd
			}
			fs, err := c.Features(args[0])
			if err != nil {
				return nil, nd
			}
			var out []string
			for _, lf := range legacyFeatures {
				out = append(out, lf.short)
			}
			for _, ft := range fs {
				out = append(out, ft.Name)
			}
			return out, nd
		case o.Coalesce:
			var out []string
			for name := range coalesceParams() {
				out = append(out, name)
			}
			return out, nd
		case o.Rings:
			var out []string
			for name := range ringsParams() {
				out = append(out, name)
			}
			return out, nd
		}
		return nil, nd
	}
}
