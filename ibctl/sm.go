package ibctl

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// HCAOptions are the inputs of `hca show` and `hca pkeys`.
type HCAOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	Verb   string // "show" or "pkeys"
	Port   uint32 // pkeys: the port, 1 when not given
}

// NewCmdHCA is `ibctl hca show`: the node's HCA as ibstat shows it; runF,
// when not nil, gets the options instead of running.
func NewCmdHCA(f *Factory, runF func(*HCAOptions) error) *cobra.Command {
	cmd := &cobra.Command{Use: "hca", Short: "Show the node's InfiniBand HCA (ibstat)"}
	show := &cobra.Command{
		Use:     "show",
		Aliases: []string{"list", "ls"},
		Short:   "Show the HCA and its ports as ibstat does: state, rate, LIDs, GUIDs, capability mask",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return runOr(&HCAOptions{F: f, Client: connector(f), Verb: "show"}, runF, hcaRun)
		}),
	}
	pkeys := &cobra.Command{
		Use:               "pkeys [PORT]",
		ValidArgsFunction: completeHCAPorts(f),
		Short:             "Show a port's P_Key table as smpquery pkeys does",
		Args:              cobra.MaximumNArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			o := &HCAOptions{F: f, Client: connector(f), Verb: "pkeys", Port: 1}
			if len(args) == 1 {
				v, err := strconv.ParseUint(args[0], 0, 8)
				if err != nil || v == 0 {
					return usagef("hca pkeys: invalid port %q", args[0])
				}
				o.Port = uint32(v)
			}
			return runOr(o, runF, hcaRun)
		}),
	}
	cmd.AddCommand(show, pkeys)
	defaultVerb(cmd, show)
	return cmd
}

func hcaRun(o *HCAOptions) error {
	c, err := o.Client()
	if err != nil {
		return err
	}
	h, err := c.HCA()
	if err != nil {
		return opError("hca "+o.Verb, err)
	}
	if o.Verb == "pkeys" {
		for _, port := range h.Ports {
			if port.Num == o.Port {
				return emit(o.F.IO.Out, o.F.Globals, pkeysPrinter(h, port))
			}
		}
		return fmt.Errorf("hca pkeys: %s has no port %d (%d ports)", h.Name, o.Port, len(h.Ports))
	}
	return emit(o.F.IO.Out, o.F.Globals, hcaPrinter(h))
}

// pkeysPrinter prints a port's P_Key table as smpquery pkeys does
// (infiniband-diags smpquery.c, pkey_table): rows of eight entries over
// the table's whole capacity, then the capacity.
func pkeysPrinter(h netlinkx.HCA, port netlinkx.HCAPort) *Printer {
	p := NewPrinter()
	n := max(int(h.PartitionCap), len(port.PKeys))
	table := make([]uint16, (n+7)/8*8)
	copy(table, port.PKeys)
	keys := make([]string, len(port.PKeys))
	for i, k := range port.PKeys {
		keys[i] = fmt.Sprintf("0x%04x", k)
	}
	var b strings.Builder
	for i := 0; i < len(table); i += 8 {
		fmt.Fprintf(&b, "%4d:", i)
		for _, k := range table[i : i+8] {
			fmt.Fprintf(&b, " 0x%04x", k)
		}
		b.WriteString("\n")
	}
	p.Text(b.String())
	p.Any("pkeys", "", keys)
	p.Any("capacity", "%d pkeys capacity for this port\n", n)
	return p
}

func hex64(v uint64) string { return fmt.Sprintf("0x%016x", v) }

// hcaPrinter prints an HCA in ibstat's layout (infiniband-diags
// ibstat.c, ca_dump and port_dump); JSON adds each port's P_Key table.
func hcaPrinter(h netlinkx.HCA) *Printer {
	p := NewPrinter()
	p.Any("ca", "CA '%s'\n", h.Name)
	p.Any("ca_type", "\tCA type: %s\n", h.Type)
	p.Any("num_ports", "\tNumber of ports: %d\n", len(h.Ports))
	p.Any("firmware_version", "\tFirmware version: %s\n", h.Firmware)
	p.Any("hardware_version", "\tHardware version: %s\n", h.HWVersion)
	p.Any("node_guid", "\tNode GUID: %s\n", hex64(h.NodeGUID))
	p.Any("system_image_guid", "\tSystem image GUID: %s\n", hex64(h.SysImageGUID))
	p.Open("ports")
	for _, port := range h.Ports {
		p.Open(strconv.Itoa(int(port.Num)))
		p.Text(fmt.Sprintf("\tPort %d:\n", port.Num))
		p.Any("state", "\t\tState: %s\n", port.State)
		p.Any("physical_state", "\t\tPhysical state: %s\n", port.PhysState)
		p.Any("rate", "\t\tRate: %s\n", port.Rate)
		p.Any("base_lid", "\t\tBase lid: %d\n", port.LID)
		p.Any("lmc", "\t\tLMC: %d\n", 0)
		p.Any("sm_lid", "\t\tSM lid: %d\n", port.SMLID)
		p.Any("capability_mask", "\t\tCapability mask: 0x%08x\n", port.CapMask)
		p.Any("port_guid", "\t\tPort GUID: %s\n", hex64(port.PortGUID))
		p.Any("link_layer", "\t\tLink layer: %s\n", "InfiniBand")
		keys := make([]string, len(port.PKeys))
		for i, k := range port.PKeys {
			keys[i] = fmt.Sprintf("0x%04x", k)
		}
		p.Any("pkeys", "", keys)
		p.Close()
	}
	p.Close()
	return p
}

// SMOptions are the inputs of the sm verbs.
type SMOptions struct {
	F *Factory
	// Client connects to the driver when the command needs it: the
	// factory's connection, or what a test gives.
	Client func() (*netlinkx.Client, error)
	// Verb is "show", "groups", "partition list", "partition add" or
	// "partition del".
	Verb      string
	Partition netlinkx.Partition // partition add; partition del sets PKey only
}

// NewCmdSM is `ibctl sm`: the fabric's subnet manager. Every verb calls
// runF, when not nil, with its parsed options instead of running.
func NewCmdSM(f *Factory, runF func(*SMOptions) error) *cobra.Command {
	run := func(o *SMOptions) error { return runOr(o, runF, smRun) }
	cmd := &cobra.Command{Use: "sm", Short: "Show and change the subnet manager: partitions, multicast groups"}
	part := &cobra.Command{Use: "partition", Aliases: []string{"part"}, Short: "List, add and delete partitions (P_Keys)"}
	list := &cobra.Command{
		Use: "list", Aliases: []string{"show", "ls"}, Short: "List the partition table", Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return run(&SMOptions{F: f, Client: connector(f), Verb: "partition list"})
		}),
	}
	add := &cobra.Command{
		Use:   "add PKEY [mtu IB_MTU] [all full|limited] [member NODE/PORT[:full|:limited]]...",
		Short: "Add a partition; its ports' P_Key tables change and waiting interfaces come up",
		Long: `Add a partition to the subnet manager. PKEY is the P_Key (bit 15 ignored);
mtu is the IB MTU of its broadcast group (256, 512, 1024, 2048 or 4096; default 2048);
"all full" or "all limited" makes every port a member; each "member NODE/PORT" adds one
port, as a full member unless ":limited" follows.`,
		Args:                  needAtLeast("PKEY"),
		DisableFlagsInUseLine: true,
		ValidArgsFunction:     completePartitionAdd(f),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			p, err := parsePartition(args)
			if err != nil {
				return err
			}
			return run(&SMOptions{F: f, Client: connector(f), Verb: "partition add", Partition: p})
		}),
	}
	add.Flags().SetInterspersed(false)
	del := &cobra.Command{
		Use: "del PKEY", Aliases: []string{"delete"}, Short: "Delete a partition and its multicast groups",
		Args: needArgs("PKEY"),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			pkey, ok := getU16(args[0])
			if !ok {
				return usagef("sm partition del: argument %q is wrong: pkey is invalid", args[0])
			}
			return run(&SMOptions{F: f, Client: connector(f), Verb: "partition del", Partition: netlinkx.Partition{PKey: pkey}})
		}),
	}
	part.AddCommand(list, add, del)
	defaultVerb(part, list)
	groups := &cobra.Command{
		Use: "groups", Short: "List the multicast groups and their members", Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return run(&SMOptions{F: f, Client: connector(f), Verb: "groups"})
		}),
	}
	show := &cobra.Command{
		Use: "show", Short: "Show where the subnet manager runs and what it manages", Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			return run(&SMOptions{F: f, Client: connector(f), Verb: "show"})
		}),
	}
	cmd.AddCommand(show, part, groups)
	defaultVerb(cmd, show)
	return cmd
}

func smRun(o *SMOptions) error {
	f := o.F
	switch o.Verb {
	case "partition list":
		return partitionList(o)
	case "groups":
		return groupList(o)
	}
	c, err := o.Client()
	if err != nil {
		return err
	}
	switch o.Verb {
	case "partition add":
		if err := c.AddPartition(o.Partition); err != nil {
			return opError("sm partition add", err)
		}
		return nil
	case "partition del":
		if err := c.DelPartition(o.Partition.PKey); err != nil {
			return opError("sm partition del", err)
		}
		return nil
	}
	i, err := c.SMInfo()
	if err != nil {
		return opError("sm show", err)
	}
	p := NewPrinter()
	p.Any("state", "SM state: %s\n", "MASTER")
	p.Any("sm_lid", "SM lid: %d\n", i.LID)
	p.Any("sm_port", "SM port: %s\n", fmt.Sprintf("%s/%d", i.Node, i.Port))
	p.Any("partitions", "Partitions: %d\n", i.Partitions)
	p.Any("multicast_groups", "Multicast groups: %d\n", i.Groups)
	return emit(f.IO.Out, f.Globals, p)
}

// parsePartition parses `PKEY [mtu N] [all full|limited] [member N/P[:m]]...`.
func parsePartition(args []string) (netlinkx.Partition, error) {
	var p netlinkx.Partition
	pkey, ok := getU16(args[0])
	if !ok {
		return p, usagef("sm partition add: argument %q is wrong: pkey is invalid", args[0])
	}
	p.PKey = pkey
	for i := 1; i < len(args); i += 2 {
		if i+1 >= len(args) {
			return p, usagef("sm partition add: %q needs a value", args[i])
		}
		key, val := args[i], args[i+1]
		switch key {
		case "mtu":
			v, err := strconv.Atoi(val)
			if err != nil || v <= 0 {
				return p, usagef("sm partition add: argument %q is wrong: invalid mtu", val)
			}
			p.MTU = uint32(v)
		case "all":
			if val != "full" && val != "limited" {
				return p, usagef("sm partition add: argument of \"all\" must be \"full\" or \"limited\"")
			}
			p.All = val
		case "member":
			m, err := parseMember(val)
			if err != nil {
				return p, err
			}
			p.Members = append(p.Members, m)
		default:
			return p, usagef("sm partition add: unknown option %q", key)
		}
	}
	return p, nil
}

func parseMember(s string) (netlinkx.PartitionMember, error) {
	m := netlinkx.PartitionMember{Full: true}
	ref, kind, hasKind := strings.Cut(s, ":")
	if hasKind {
		switch kind {
		case "full":
		case "limited":
			m.Full = false
		default:
			return m, usagef("sm partition add: member %q: membership must be full or limited", s)
		}
	}
	node, port, ok := strings.Cut(ref, "/")
	n, err := strconv.Atoi(port)
	if !ok || node == "" || err != nil || n < 1 {
		return m, usagef("sm partition add: member %q: want NODE/PORT", s)
	}
	m.Node, m.Port = node, uint32(n)
	return m, nil
}

func partitionList(o *SMOptions) error {
	f := o.F
	c, err := o.Client()
	if err != nil {
		return err
	}
	parts, err := c.Partitions()
	if err != nil {
		return opError("sm partition list", err)
	}
	rows := partitionRows(parts)
	if f.Globals.JSON {
		return writeJSON(f.IO.Out, partitionsJSON(rows), f.Globals.Pretty)
	}
	return printTable(f.IO.Out, []string{"PKEY", "IB_MTU", "MEMBERS"}, partitionsText(rows))
}

// smMember is a port of a partition or multicast group as both renderers
// show it: State is "full" or "limited" for a partition, the join state
// for a group.
type smMember struct {
	Node  string
	Port  uint32
	State string
}

// sortMembers orders members by node name in natural order (node2 before
// node10), then port, then state, as a reader scanning a list of ports
// expects.
func sortMembers(ms []smMember) {
	slices.SortStableFunc(ms, func(a, b smMember) int {
		if c := naturalCompare(a.Node, b.Node); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Port, b.Port); c != 0 {
			return c
		}
		return strings.Compare(a.State, b.State)
	})
}

func membersText(ms []smMember) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = fmt.Sprintf("%s/%d:%s", m.Node, m.Port, m.State)
	}
	return out
}

// partitionRow is one partition of `sm partition list`, the model both
// the table and the JSON are rendered from.
type partitionRow struct {
	PKey    string
	MTU     uint32
	All     string
	Members []smMember
}

func partitionRows(parts []netlinkx.Partition) []partitionRow {
	rows := make([]partitionRow, len(parts))
	for i, p := range parts {
		ms := make([]smMember, len(p.Members))
		for j, m := range p.Members {
			ms[j] = smMember{Node: m.Node, Port: m.Port, State: "limited"}
			if m.Full {
				ms[j].State = "full"
			}
		}
		sortMembers(ms)
		rows[i] = partitionRow{PKey: fmt.Sprintf("0x%04x", p.PKey), MTU: p.MTU, All: p.All, Members: ms}
	}
	return rows
}

func partitionsText(rows []partitionRow) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		var members []string
		if r.All != "" {
			members = append(members, "all "+r.All)
		}
		members = append(members, membersText(r.Members)...)
		out[i] = []string{r.PKey, strconv.Itoa(int(r.MTU)), strings.Join(members, " ")}
	}
	return out
}

func partitionsJSON(rows []partitionRow) []*Obj {
	out := make([]*Obj, len(rows))
	for i, r := range rows {
		members := make([]*Obj, len(r.Members))
		for j, m := range r.Members {
			members[j] = new(Obj).Set("node", m.Node).Set("port", m.Port).Set("full", m.State == "full")
		}
		o := new(Obj).Set("pkey", r.PKey).Set("ib_mtu", r.MTU)
		// "all" only when every port is a member, as the text's "all
		// full" or "all limited".
		if r.All != "" {
			o.Set("all", r.All)
		}
		out[i] = o.Set("members", members)
	}
	return out
}

// gidString prints a GID in debugfs style: eight 16-bit groups, no
// padding, no compression.
func gidString(g [16]byte) string {
	parts := make([]string, 8)
	for i := range parts {
		parts[i] = strconv.FormatUint(uint64(g[2*i])<<8|uint64(g[2*i+1]), 16)
	}
	return strings.Join(parts, ":")
}

func joinStateName(s uint8) string {
	switch s {
	case 1:
		return "full"
	case 2:
		return "non"
	case 4:
		return "sendonly-non"
	case 8:
		return "sendonly-full"
	}
	return strconv.Itoa(int(s))
}

func groupList(o *SMOptions) error {
	f := o.F
	c, err := o.Client()
	if err != nil {
		return err
	}
	groups, err := c.Groups()
	if err != nil {
		return opError("sm groups", err)
	}
	rows := groupRows(groups)
	if f.Globals.JSON {
		return writeJSON(f.IO.Out, groupsJSON(rows), f.Globals.Pretty)
	}
	return printTable(f.IO.Out, []string{"MGID", "MLID", "PKEY", "QKEY", "IB_MTU", "RATE", "MEMBERS"}, groupsText(rows))
}

// groupRow is one multicast group of `sm groups`, the model both the
// table and the JSON are rendered from.
type groupRow struct {
	MGID, MLID, PKey, QKey string
	MTU                    uint32
	RateGbps               float64 // the RATE column: Gb/s
	Broadcast              bool
	Members                []smMember
}

func groupRows(groups []netlinkx.Group) []groupRow {
	rows := make([]groupRow, len(groups))
	for i, g := range groups {
		ms := make([]smMember, len(g.Members))
		for j, m := range g.Members {
			ms[j] = smMember{Node: m.Node, Port: m.Port, State: joinStateName(m.JoinState)}
		}
		sortMembers(ms)
		rows[i] = groupRow{MGID: gidString(g.MGID), MLID: fmt.Sprintf("0x%04x", g.MLID), PKey: fmt.Sprintf("0x%04x", g.PKey),
			QKey: fmt.Sprintf("0x%08x", g.QKey), MTU: g.MTU, RateGbps: float64(g.Rate) / 1000, Broadcast: g.Broadcast, Members: ms}
	}
	return rows
}

func groupsText(rows []groupRow) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{r.MGID, r.MLID, r.PKey, r.QKey, strconv.Itoa(int(r.MTU)),
			strconv.FormatFloat(r.RateGbps, 'f', -1, 64), strings.Join(membersText(r.Members), " ")}
	}
	return out
}

func groupsJSON(rows []groupRow) []*Obj {
	out := make([]*Obj, len(rows))
	for i, r := range rows {
		members := make([]*Obj, len(r.Members))
		for j, m := range r.Members {
			members[j] = new(Obj).Set("node", m.Node).Set("port", m.Port).Set("join_state", m.State)
		}
		out[i] = new(Obj).Set("mgid", r.MGID).Set("mlid", r.MLID).Set("pkey", r.PKey).Set("qkey", r.QKey).
			Set("ib_mtu", r.MTU).Set("rate_gbps", r.RateGbps).Set("broadcast", r.Broadcast).Set("members", members)
	}
	return out
}

// naturalCompare orders strings as a reader expects where they carry
// numbers: runs of digits compare by value (n2 before n10), the rest byte
// by byte; strings that differ only in leading zeros fall back to plain
// order.
func naturalCompare(a, b string) int {
	x, y := a, b
	for x != "" && y != "" {
		if isDigit(x[0]) && isDigit(y[0]) {
			i, j := digitsEnd(x), digitsEnd(y)
			dx, dy := strings.TrimLeft(x[:i], "0"), strings.TrimLeft(y[:j], "0")
			if c := cmp.Compare(len(dx), len(dy)); c != 0 {
				return c
			}
			if c := strings.Compare(dx, dy); c != 0 {
				return c
			}
			x, y = x[i:], y[j:]
			continue
		}
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		x, y = x[1:], y[1:]
	}
	if c := cmp.Compare(len(x), len(y)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func digitsEnd(s string) int {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// hcaMan is the page text of ibctl-hca(8).
var hcaMan = ManDoc{
	Synopsis: []string{
		"ibctl hca [ show ]",
		"ibctl hca pkeys [ PORT ]",
	},
	Examples: []ManItem{
		{"ibctl hca", "Shows the node's HCA and its ports as ibstat does."},
		{"ibctl -n node1 hca pkeys 2", "Shows the P_Key table of port 2 of node1's HCA."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-sm(8)", "ibstat(8)", "smpquery(8)"},
}

// smMan is the page text of ibctl-sm(8).
var smMan = ManDoc{
	Synopsis: []string{
		"ibctl sm [ show ]",
		"ibctl sm groups",
		"ibctl sm partition [ list ]",
		"ibctl sm partition add PKEY [ mtu IB_MTU ] [ all { full | limited } ] [ member NODE/PORT[ :full | :limited ] ]...",
		"ibctl sm partition del PKEY",
		"IB_MTU := { 256 | 512 | 1024 | 2048 | 4096 }",
	},
	Examples: []ManItem{
		{"ibctl sm partition add 0x8002 mtu 4096 all full", "Adds partition 0x8002 with every port a full member and a 4096-byte broadcast group."},
		{"ibctl sm partition add 0x8003 member node0/1 member node1/1:limited", "Adds partition 0x8003 with one full and one limited member."},
		{"ibctl sm groups", "Lists the multicast groups and their members."},
		{"ibctl sm partition del 0x8002", "Deletes the partition and its groups; interfaces in it lose their carrier."},
	},
	SeeAlso: []string{"ibctl(8)", "ibctl-hca(8)", "ibctl-maddr(8)", "opensm(8)"},
}
