package ibctl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// jsonLink is one object of `ip -j -d link show`, every key it may have:
// decoding with unknown keys refused, a key the text twin does not show
// fails the check.
type jsonLink struct {
	Ifindex     int      `json:"ifindex"`
	Link        string   `json:"link"`
	Ifname      string   `json:"ifname"`
	Flags       []string `json:"flags"`
	MTU         int      `json:"mtu"`
	Qdisc       *string  `json:"qdisc"`
	Operstate   string   `json:"operstate"`
	Linkmode    string   `json:"linkmode"`
	Group       string   `json:"group"`
	Txqlen      int      `json:"txqlen"`
	LinkType    string   `json:"link_type"`
	Address     string   `json:"address"`
	Broadcast   string   `json:"broadcast"`
	Promiscuity int      `json:"promiscuity"`
	Allmulti    int      `json:"allmulti"`
	MinMTU      int      `json:"min_mtu"`
	MaxMTU      int      `json:"max_mtu"`
	Linkinfo    *struct {
		InfoKind string `json:"info_kind"`
		InfoData *struct {
			Key    string `json:"key"`
			Mode   string `json:"mode"`
			Umcast string `json:"umcast"`
		} `json:"info_data"`
	} `json:"linkinfo"`
	AddrGenMode string          `json:"inet6_addr_gen_mode"`
	NumTxQueues int             `json:"num_tx_queues"`
	NumRxQueues int             `json:"num_rx_queues"`
	GSOMaxSize  int             `json:"gso_max_size"`
	GSOMaxSegs  int             `json:"gso_max_segs"`
	TSOMaxSize  int             `json:"tso_max_size"`
	TSOMaxSegs  int             `json:"tso_max_segs"`
	GROMaxSize  int             `json:"gro_max_size"`
	ParentBus   *string         `json:"parentbus"`
	ParentDev   *string         `json:"parentdev"`
	Stats64     json.RawMessage `json:"stats64"` // compared by TestLinkStatsJSONMatchesText
	VFInfoList  *[]any          `json:"vfinfo_list"`
}

// strictDecode decodes js into v, refusing keys v does not have.
func strictDecode(t *testing.T, name, js string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(js))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// statsLines are the lines of the -s statistics blocks, which
// TestLinkStatsJSONMatchesText compares with stats64.
var statsLines = regexp.MustCompile(`(?m)^    (RX|TX)[^\n]*\n( +[0-9][^\n]*\n)?`)

// linkTextFromJSON rebuilds `link show` (ip -d link show) from its -j
// twin; the statistics blocks are left out.
func linkTextFromJSON(t *testing.T, name, js string) string {
	t.Helper()
	var links []jsonLink
	strictDecode(t, name, js, &links)
	var b strings.Builder
	for _, l := range links {
		ifname := l.Ifname
		if l.Link != "" {
			ifname += "@" + l.Link
		}
		fmt.Fprintf(&b, "%d: %s: <%s> mtu %d ", l.Ifindex, ifname, strings.Join(l.Flags, ","), l.MTU)
		if l.Qdisc != nil {
			fmt.Fprintf(&b, "qdisc %s ", *l.Qdisc)
		}
		fmt.Fprintf(&b, "state %s mode %s group %s qlen %d\n", l.Operstate, l.Linkmode, l.Group, l.Txqlen)
		fmt.Fprintf(&b, "    link/%s %s brd %s promiscuity %d  allmulti %d minmtu %d maxmtu %d ",
			l.LinkType, l.Address, l.Broadcast, l.Promiscuity, l.Allmulti, l.MinMTU, l.MaxMTU)
		if li := l.Linkinfo; li != nil {
			fmt.Fprintf(&b, "\n    %s ", li.InfoKind)
			if d := li.InfoData; d != nil {
				fmt.Fprintf(&b, "pkey %s mode %s umcast %s ", d.Key, d.Mode, d.Umcast)
			}
		}
		fmt.Fprintf(&b, "addrgenmode %s numtxqueues %d numrxqueues %d gso_max_size %d gso_max_segs %d tso_max_size %d tso_max_segs %d gro_max_size %d ",
			l.AddrGenMode, l.NumTxQueues, l.NumRxQueues, l.GSOMaxSize, l.GSOMaxSegs, l.TSOMaxSize, l.TSOMaxSegs, l.GROMaxSize)
		if (l.ParentBus == nil) != (l.ParentDev == nil) {
			t.Errorf("%s %s: parentbus without parentdev or the reverse", name, l.Ifname)
		}
		if l.ParentBus != nil {
			fmt.Fprintf(&b, "parentbus %s parentdev %s ", *l.ParentBus, *l.ParentDev)
		}
		b.WriteString("\n")
		// iproute2 prints the empty VF list of a PCI device in JSON only.
		if pci := l.ParentBus != nil && *l.ParentBus == "pci"; pci != (l.VFInfoList != nil) || (pci && len(*l.VFInfoList) != 0) {
			t.Errorf("%s %s: vfinfo_list %v with parentbus %v", name, l.Ifname, l.VFInfoList, l.ParentBus)
		}
	}
	return b.String()
}

// twinField is a "Label: value" line of a text twin and the JSON key
// holding its value; text formats the JSON value as the line shows it
// (plain when nil).
type twinField struct {
	label, key string
	text       func(v any) string
}

// labelledTwin describes a text of "Label: value" lines: its header
// (formatted with the JSON value of headerKey), its fields, and the lines
// the text alone shows, with their fixed values.
type labelledTwin struct {
	header, headerKey string
	fields            []twinField // nil: every JSON key is its own label
	textOnly          map[string]string
}

func (tw labelledTwin) check(t *testing.T, name, text, js string) {
	t.Helper()
	var obj map[string]any
	strictDecode(t, name, js, &obj)
	used := map[string]bool{}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if tw.header != "" {
		want := tw.header
		if tw.headerKey != "" {
			used[tw.headerKey] = true
			want = fmt.Sprintf(tw.header, obj[tw.headerKey])
		}
		if lines[0] != want {
			t.Errorf("%s: header %q, JSON gives %q", name, lines[0], want)
		}
		lines = lines[1:]
	}
	fields := map[string]twinField{}
	for _, f := range tw.fields {
		fields[f.label] = f
	}
	if tw.fields == nil {
		for k := range obj {
			fields[k] = twinField{label: k, key: k}
		}
	}
	for _, line := range lines {
		line = strings.TrimLeft(line, " \t")
		if line == "" {
			continue
		}
		label, value, ok := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		if !ok {
			t.Errorf("%s: line %q has no label", name, line)
			continue
		}
		if v, ok := tw.textOnly[label]; ok {
			if v != value {
				t.Errorf("%s: %s: %q, want %q", name, label, value, v)
			}
			continue
		}
		f, ok := fields[label]
		if !ok {
			t.Errorf("%s: text line %q has no JSON twin", name, line)
			continue
		}
		v, ok := obj[f.key]
		if !ok {
			t.Errorf("%s: JSON lacks %q (text %q)", name, f.key, line)
			continue
		}
		used[f.key] = true
		want := fmt.Sprint(v)
		if f.text != nil {
			want = f.text(v)
		}
		if value != want {
			t.Errorf("%s: %s: text %q, JSON %q gives %q", name, label, value, f.key, want)
		}
	}
	for k := range obj {
		if !used[k] {
			t.Errorf("%s: JSON %q is not in the text", name, k)
		}
	}
}

var (
	coalesceTwin = labelledTwin{header: "Coalesce parameters for %s:", headerKey: "ifname",
		fields: []twinField{{label: "rx-usecs", key: "rx-usecs"}, {label: "rx-frames", key: "rx-frames"}},
		textOnly: map[string]string{"Adaptive RX": "n/a  TX: n/a", "CQE mode RX": "n/a  TX: n/a",
			"stats-block-usecs": "n/a", "sample-interval": "n/a", "pkt-rate-low": "n/a", "pkt-rate-high": "n/a",
			"rx-usecs-irq": "n/a", "rx-frames-irq": "n/a", "tx-usecs": "n/a", "tx-frames": "n/a", "tx-usecs-irq": "n/a",
			"tx-frames-irq": "n/a", "rx-usecs-low": "n/a", "rx-frame-low": "n/a", "tx-usecs-low": "n/a", "tx-frame-low": "n/a",
			"rx-usecs-high": "n/a", "rx-frame-high": "n/a", "tx-usecs-high": "n/a", "tx-frame-high": "n/a"}}
	settingsTwin = labelledTwin{header: "Settings for %s:", headerKey: "ifname",
		fields: []twinField{
			{label: "Speed", key: "speed", text: func(v any) string {
				if v == nil {
					return "Unknown!"
				}
				return fmt.Sprintf("%vMb/s", v)
			}},
			{label: "Duplex", key: "duplex", text: func(v any) string {
				if v == "Unknown" {
					return "Unknown! (255)" // DUPLEX_UNKNOWN
				}
				return fmt.Sprint(v)
			}},
			{label: "Auto-negotiation", key: "auto-negotiation"}, {label: "Port", key: "port"},
			{label: "PHYAD", key: "phyad"}, {label: "Transceiver", key: "transceiver"},
			{label: "MDI-X", key: "mdi-x"}, {label: "Link detected", key: "link-detected"},
		},
		textOnly: map[string]string{"Supported ports": "[  ]", "Supported link modes": "Not reported",
			"Supported pause frame use": "No", "Supports auto-negotiation": "No", "Supported FEC modes": "Not reported",
			"Advertised link modes": "Not reported", "Advertised pause frame use": "No",
			"Advertised auto-negotiation": "No", "Advertised FEC modes": "Not reported"}}
	smShowTwin = labelledTwin{fields: []twinField{{label: "SM state", key: "state"}, {label: "SM lid", key: "sm_lid"},
		{label: "SM port", key: "sm_port"}, {label: "Partitions", key: "partitions"}, {label: "Multicast groups", key: "multicast_groups"}}}
)

// partitionTextFromJSON rebuilds the rows of `sm partition list`.
func partitionTextFromJSON(t *testing.T, name, js string) string {
	var parts []struct {
		PKey    string `json:"pkey"`
		MTU     int    `json:"ib_mtu"`
		All     string `json:"all"`
		Members []struct {
			Node string `json:"node"`
			Port int    `json:"port"`
			Full bool   `json:"full"`
		} `json:"members"`
	}
	strictDecode(t, name, js, &parts)
	rows := make([][]string, len(parts))
	for i, p := range parts {
		var ms []string
		if p.All != "" {
			ms = append(ms, "all "+p.All)
		}
		for _, m := range p.Members {
			kind := "limited"
			if m.Full {
				kind = "full"
			}
			ms = append(ms, fmt.Sprintf("%s/%d:%s", m.Node, m.Port, kind))
		}
		rows[i] = []string{p.PKey, fmt.Sprint(p.MTU), strings.Join(ms, " ")}
	}
	var b bytes.Buffer
	if err := printTable(&b, []string{"PKEY", "IB_MTU", "MEMBERS"}, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// groupsTextFromJSON rebuilds the rows of `sm groups`: the RATE column
// is the JSON's rate_gbps as it is, in the same unit.
func groupsTextFromJSON(t *testing.T, name, js string) string {
	var groups []struct {
		MGID      string          `json:"mgid"`
		MLID      string          `json:"mlid"`
		PKey      string          `json:"pkey"`
		QKey      string          `json:"qkey"`
		MTU       int             `json:"ib_mtu"`
		Rate      json.RawMessage `json:"rate_gbps"`
		Broadcast bool            `json:"broadcast"`
		Members   []struct {
			Node      string `json:"node"`
			Port      int    `json:"port"`
			JoinState string `json:"join_state"`
		} `json:"members"`
	}
	strictDecode(t, name, js, &groups)
	rows := make([][]string, len(groups))
	for i, g := range groups {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, fmt.Sprintf("%s/%d:%s", m.Node, m.Port, m.JoinState))
		}
		rows[i] = []string{g.MGID, g.MLID, g.PKey, g.QKey, fmt.Sprint(g.MTU), string(g.Rate), strings.Join(ms, " ")}
	}
	var b bytes.Buffer
	if err := printTable(&b, []string{"MGID", "MLID", "PKEY", "QKEY", "IB_MTU", "RATE", "MEMBERS"}, rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// featuresTextFromJSON rebuilds `ethtool -k` from its -j twin, whose
// features come in the order the text prints them: a run of features of
// one of ethtool's legacy groups under the group's name, indented when
// there are several, then the rest under their own names.
func featuresTextFromJSON(t *testing.T, name, js string) string {
	t.Helper()
	type feature struct {
		name                     string
		Active, Fixed, Requested bool
	}
	var top struct {
		Ifname   string          `json:"ifname"`
		Features json.RawMessage `json:"features"`
	}
	strictDecode(t, name, js, &top)
	dec := json.NewDecoder(bytes.NewReader(top.Features))
	var fs []feature
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: features %v %v", name, tok, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var f struct{ Active, Fixed, Requested bool }
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v: %v", name, tok, err)
		}
		fs = append(fs, feature{tok.(string), f.Active, f.Fixed, f.Requested})
	}
	line := func(f feature) string {
		s := f.name + ": " + onOff(f.Active)
		switch {
		case f.Fixed:
			s += " [fixed]"
		case f.Requested != f.Active:
			s += " [requested " + onOff(f.Requested) + "]"
		}
		return s + "\n"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Features for %s:\n", top.Ifname)
	for i := 0; i < len(fs); {
		var group *legacyFeature
		for j := range legacyFeatures {
			if legacyFeatures[j].match(fs[i].name) {
				group = &legacyFeatures[j]
				break
			}
		}
		if group == nil {
			b.WriteString(line(fs[i]))
			i++
			continue
		}
		n := 1
		for i+n < len(fs) && group.match(fs[i+n].name) {
			n++
		}
		if n == 1 {
			f := fs[i]
			f.name = group.long
			b.WriteString(line(f))
		} else {
			on := false
			for _, f := range fs[i : i+n] {
				on = on || f.Active
			}
			fmt.Fprintf(&b, "%s: %s\n", group.long, onOff(on))
			for _, f := range fs[i : i+n] {
				b.WriteString("\t" + line(f))
			}
		}
		i += n
	}
	return b.String()
}

// TestGoldenJSONTwins checks that each -j golden decodes to the values
// its text twin shows, every one of them, and to nothing the text does
// not show but what iproute2 and ethtool print in JSON only.
func TestGoldenJSONTwins(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	rebuild := func(text, js string, fn func(*testing.T, string, string) string) func(*testing.T, string) {
		return func(t *testing.T, name string) {
			if got := fn(t, name, read(js)); got != statsLines.ReplaceAllString(read(text), "") {
				t.Errorf("%s:\n%s\nrebuilt from %s:\n%s", text, read(text), js, got)
			}
		}
	}
	labelled := func(text, js string, tw labelledTwin) func(*testing.T, string) {
		return func(t *testing.T, name string) { tw.check(t, name, read(text), read(js)) }
	}
	for _, tc := range []struct {
		text  string
		check func(*testing.T, string)
	}{
		{"link_show", rebuild("link_show", "link_show_json", linkTextFromJSON)},
		{"link_show_s", rebuild("link_show_s", "link_show_s_json", linkTextFromJSON)},
		{"link_show_s_s", rebuild("link_show_s_s", "link_show_s_s_json", linkTextFromJSON)},
		{"sm_partition_list", rebuild("sm_partition_list", "sm_partition_list_json", partitionTextFromJSON)},
		{"sm_groups", rebuild("sm_groups", "sm_groups_json", groupsTextFromJSON)},
		{"ethtool_k", rebuild("ethtool_k", "ethtool_k_json", featuresTextFromJSON)},
		{"ethtool_k_connected", rebuild("ethtool_k_connected", "ethtool_k_connected_json", featuresTextFromJSON)},
		{"ethtool_k_lro", rebuild("ethtool_k_lro", "ethtool_k_lro_json", featuresTextFromJSON)},
		{"ethtool_c", labelled("ethtool_c", "ethtool_c_json", coalesceTwin)},
		{"ethtool_i", labelled("ethtool_i", "ethtool_i_json", labelledTwin{})},
		{"ethtool_S", labelled("ethtool_S", "ethtool_S_json", labelledTwin{header: "NIC statistics:"})},
		{"ethtool_settings", labelled("ethtool_settings", "ethtool_settings_json", settingsTwin)},
		{"ethtool_settings_down", labelled("ethtool_settings_down", "ethtool_settings_down_json", settingsTwin)},
		{"ethtool_settings_nocarrier", labelled("ethtool_settings_nocarrier", "ethtool_settings_nocarrier_json", settingsTwin)},
		{"sm_show", labelled("sm_show", "sm_show_json", smShowTwin)},
	} {
		t.Run(tc.text, func(t *testing.T) { tc.check(t, tc.text) })
	}
}
