package ibctl

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// NewCmdHCA is `ibctl hca show`: the node's HCA as ibstat shows it.
func NewCmdHCA(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "hca", Short: "Show the node's InfiniBand HCA (ibstat)"}
	show := &cobra.Command{
		Use:     "show",
		Aliases: []string{"list", "ls"},
		Short:   "Show the HCA and its ports: state, rate, LIDs, GUIDs, P_Key table",
		Args:    cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			h, err := c.HCA()
			if err != nil {
				return opError("hca show", err)
			}
			return emit(f.IO.Out, f.Globals, hcaPrinter(h))
		}),
	}
	cmd.AddCommand(show)
	return cmd
}

func hex64(v uint64) string { return fmt.Sprintf("0x%016x", v) }

// hcaPrinter prints an HCA in ibstat's layout, with the port's P_Key table
// added.
func hcaPrinter(h netlinkx.HCA) *Printer {
	p := NewPrinter()
	p.Any("ca", "CA '%s'\n", h.Name)
	p.Any("ca_type", "\tCA type: %s\n", h.Type)
	p.Any("num_ports", "\tNumber of ports: %d\n", len(h.Ports))
	p.Any("firmware_version", "\tFirmware version: %s\n", h.Firmware)
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
		p.Any("port_guid", "\t\tPort GUID: %s\n", hex64(port.PortGUID))
		p.Any("link_layer", "\t\tLink layer: %s\n", "InfiniBand")
		keys := make([]string, len(port.PKeys))
		for i, k := range port.PKeys {
			keys[i] = fmt.Sprintf("0x%04x", k)
		}
		p.Any("pkeys", "", keys)
		p.Text("\t\tP_Key table: " + strings.Join(keys, " ") + "\n")
		p.Close()
	}
	p.Close()
	return p
}

// NewCmdSM is `ibctl sm`: the fabric's subnet manager.
func NewCmdSM(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "sm", Short: "Show and change the subnet manager: partitions, multicast groups"}
	part := &cobra.Command{Use: "partition", Aliases: []string{"part"}, Short: "List, add and delete partitions (P_Keys)"}
	list := &cobra.Command{
		Use: "list", Aliases: []string{"show", "ls"}, Short: "List the partition table", Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error { return partitionList(f) }),
	}
	add := &cobra.Command{
		Use:   "add PKEY [mtu IB_MTU] [all full|limited] [member NODE/PORT[:full|:limited]]...",
		Short: "Add a partition; its ports' P_Key tables change and waiting interfaces come up",
		Long: `Add a partition to the subnet manager. PKEY is the P_Key (bit 15 ignored);
mtu is the IB MTU of its broadcast group (256, 512, 1024, 2048 or 4096; default 2048);
"all full" or "all limited" makes every port a member; each "member NODE/PORT" adds one
port, as a full member unless ":limited" follows.`,
		Args:                  cobra.MinimumNArgs(1),
		DisableFlagsInUseLine: true,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			p, err := parsePartition(args)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.AddPartition(p); err != nil {
				return opError("sm partition add", err)
			}
			return nil
		}),
	}
	add.Flags().SetInterspersed(false)
	del := &cobra.Command{
		Use: "del PKEY", Aliases: []string{"delete"}, Short: "Delete a partition and its multicast groups",
		Args: cobra.ExactArgs(1),
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			pkey, ok := getU16(args[0])
			if !ok {
				return usagef("sm partition del: argument %q is wrong: pkey is invalid", args[0])
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			if err := c.DelPartition(pkey); err != nil {
				return opError("sm partition del", err)
			}
			return nil
		}),
	}
	part.AddCommand(list, add, del)
	groups := &cobra.Command{
		Use: "groups", Short: "List the multicast groups and their members", Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error { return groupList(f) }),
	}
	show := &cobra.Command{
		Use: "show", Short: "Show where the subnet manager runs and what it manages", Args: cobra.NoArgs,
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
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
		}),
	}
	cmd.AddCommand(show, part, groups)
	return cmd
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

func membersText(p netlinkx.Partition) string {
	var parts []string
	if p.All != "" {
		parts = append(parts, "all "+p.All)
	}
	for _, m := range p.Members {
		kind := "full"
		if !m.Full {
			kind = "limited"
		}
		parts = append(parts, fmt.Sprintf("%s/%d:%s", m.Node, m.Port, kind))
	}
	return strings.Join(parts, " ")
}

func partitionList(f *Factory) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	parts, err := c.Partitions()
	if err != nil {
		return opError("sm partition list", err)
	}
	if f.Globals.JSON {
		out := make([]*Obj, len(parts))
		for i, p := range parts {
			members := make([]*Obj, len(p.Members))
			for j, m := range p.Members {
				members[j] = new(Obj).Set("node", m.Node).Set("port", m.Port).Set("full", m.Full)
			}
			out[i] = new(Obj).Set("pkey", fmt.Sprintf("0x%04x", p.PKey)).Set("ib_mtu", p.MTU).Set("all", p.All).Set("members", members)
		}
		return writeJSON(f.IO.Out, out, f.Globals.Pretty)
	}
	rows := make([][]string, len(parts))
	for i, p := range parts {
		rows[i] = []string{fmt.Sprintf("0x%04x", p.PKey), strconv.Itoa(int(p.MTU)), membersText(p)}
	}
	return printTable(f.IO.Out, []string{"PKEY", "IB_MTU", "MEMBERS"}, rows)
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

func groupList(f *Factory) error {
	c, err := f.client()
	if err != nil {
		return err
	}
	groups, err := c.Groups()
	if err != nil {
		return opError("sm groups", err)
	}
	if f.Globals.JSON {
		out := make([]*Obj, len(groups))
		for i, g := range groups {
			members := make([]*Obj, len(g.Members))
			for j, m := range g.Members {
				members[j] = new(Obj).Set("node", m.Node).Set("port", m.Port).Set("join_state", joinStateName(m.JoinState))
			}
			out[i] = new(Obj).Set("mgid", gidString(g.MGID)).Set("mlid", fmt.Sprintf("0x%04x", g.MLID)).
				Set("pkey", fmt.Sprintf("0x%04x", g.PKey)).Set("qkey", fmt.Sprintf("0x%08x", g.QKey)).
				Set("ib_mtu", g.MTU).Set("rate", g.Rate).Set("broadcast", g.Broadcast).Set("members", members)
		}
		return writeJSON(f.IO.Out, out, f.Globals.Pretty)
	}
	rows := make([][]string, len(groups))
	for i, g := range groups {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, fmt.Sprintf("%s/%d:%s", m.Node, m.Port, joinStateName(m.JoinState)))
		}
		sort.Strings(ms)
		rows[i] = []string{gidString(g.MGID), fmt.Sprintf("0x%04x", g.MLID), fmt.Sprintf("0x%04x", g.PKey),
			fmt.Sprintf("0x%08x", g.QKey), strconv.Itoa(int(g.MTU)), strconv.FormatFloat(float64(g.Rate)/1000, 'f', -1, 64), strings.Join(ms, " ")}
	}
	return printTable(f.IO.Out, []string{"MGID", "MLID", "PKEY", "QKEY", "IB_MTU", "RATE", "MEMBERS"}, rows)
}
