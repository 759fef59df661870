package ibctl

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/ibctl/ibctl/netlinkx"
	"github.com/spf13/cobra"
)

// NewCmdCompletion is `ibctl completion bash|zsh|fish`; runF, when not
// nil, gets the parsed options instead of printing the script.
func NewCmdCompletion(f *Factory, runF func(*CompletionOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:       "completion bash|zsh|fish",
		Short:     "Print a shell completion script",
		Long:      "Print a completion script for bash, zsh or fish. Device names, feature names and sys paths are completed from the running driver (it is not started for completion).",
		Args:      needArgs("SHELL"),
		ValidArgs: []string{"bash", "zsh", "fish"},
		RunE: runE(func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "bash", "zsh", "fish":
			default:
				return usagef("completion: unknown shell %q (bash, zsh or fish)", args[0])
			}
			return runOr(&CompletionOptions{F: f, Shell: args[0], Root: cmd.Root()}, runF, completionRun)
		}),
	}
}

// CompletionOptions are the inputs of `completion`.
type CompletionOptions struct {
	F     *Factory
	Shell string         // bash, zsh or fish
	Root  *cobra.Command // the tree to complete
}

func completionRun(o *CompletionOptions) error {
	switch o.Shell {
	case "bash":
		return o.Root.GenBashCompletionV2(o.F.IO.Out, true)
	case "zsh":
		return o.Root.GenZshCompletion(o.F.IO.Out)
	}
	return o.Root.GenFishCompletion(o.F.IO.Out, true)
}

// completionClient connects without spawning a driver.
func completionClient(f *Factory) (*netlinkx.Client, bool) {
	g := *f.Globals
	g.NoSpawn = true
	c, err := f.Connect(&g)
	return c, err == nil
}

func linkNames(f *Factory) []string {
	c, ok := completionClient(f)
	if !ok {
		return nil
	}
	links, err := c.Links()
	if err != nil {
		return nil
	}
	names := make([]string, len(links))
	for i, l := range links {
		names[i] = l.Name
	}
	return names
}

func completeNodes(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		c, ok := completionClient(f)
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		st, err := c.Status()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return st.Nodes, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeLinkArgs completes iproute2 keywords and device names.
func completeLinkArgs(f *Factory, verb string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp
		prev := ""
		if len(args) > 0 {
			prev = args[len(args)-1]
		}
		inType := false
		for _, a := range args {
			if a == "type" && verb != "show" {
				inType = true
			}
		}
		switch prev {
		case "dev", "link":
			return linkNames(f), nd
		case "mode":
			return []string{"datagram", "connected"}, nd
		case "umcast":
			return []string{"0", "1"}, nd
		case "type":
			return []string{"ipoib"}, nd
		}
		if verb == "show" {
			if len(args) == 0 {
				return append([]string{"dev", "up", "type"}, linkNames(f)...), nd
			}
			return []string{"up", "type"}, nd
		}
		switch prev {
		case "pkey", "mtu", "name":
			return nil, nd
		}
		if inType {
			return []string{"pkey", "mode", "umcast"}, nd
		}
		switch verb {
		case "add":
			return []string{"link", "name", "mtu", "up", "type"}, nd
		case "set":
			if len(args) == 0 {
				return append([]string{"dev"}, linkNames(f)...), nd
			}
			return []string{"up", "down", "mtu", "type"}, nd
		default:
			if len(args) == 0 {
				return append([]string{"dev"}, linkNames(f)...), nd
			}
		}
		return nil, nd
	}
}

// completeSysPath completes sysfs paths one directory level at a time.
func completeSysPath(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, ok := completionClient(f)
		if !ok {
			return nil, nd
		}
		dir := ""
		if i := strings.LastIndex(toComplete, "/"); i >= 0 {
			dir = toComplete[:i+1]
		}
		entries, err := c.SysList(dir)
		if err != nil {
			return nil, nd
		}
		var out []string
		for _, e := range entries {
			p := path.Join(dir, e.Name)
			if strings.HasPrefix(dir, "/") && !strings.HasPrefix(p, "/") {
				p = "/" + p
			}
			if e.Mode&netlinkx.SysDir != 0 {
				p += "/"
			}
			out = append(out, p)
		}
		return out, nd
	}
}

// completionMan is the page text of ibctl-completion(8).
var completionMan = ManDoc{
	Synopsis: []string{
		"ibctl completion { bash | zsh | fish }",
	},
	Examples: []ManItem{
		{"source <(ibctl completion bash)", "Completes ibctl in the running bash."},
		{"source <(ibctl completion zsh); compdef _ibctl ibctl", "Completes ibctl in the running zsh (after compinit)."},
		{"ibctl completion fish | source", "Completes ibctl in the running fish."},
	},
	Files: []ManItem{
		{"/usr/share/bash-completion/completions/ibctl", "The bash script as make install PREFIX=/usr installs it (under /usr/local/share with the default PREFIX)."},
		{"/usr/share/zsh/vendor-completions/_ibctl", "The zsh script (/usr/local/share/zsh/site-functions/_ibctl with the default PREFIX)."},
		{"/usr/share/fish/vendor_completions.d/ibctl.fish", "The fish script (under /usr/local/share with the default PREFIX)."},
	},
	SeeAlso: []string{"ibctl(8)", "bash(1)", "zshcompsys(1)", "fish(1)"},
}

// completeFiles lets the shell complete file names, for what is a file:
// -b FILE, --socket, capture -w FILE, exec's program. Everything else
// completes no file names (the root's default directive).
func completeFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveDefault
}

// completeDirs lets the shell complete directory names.
func completeDirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completeLinks completes device names.
func completeLinks(f *Factory) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return linkNames(f), cobra.ShellCompDirectiveNoFileComp
	}
}

// nodePorts is every NODE/PORT of the fabric, as capture --fabric and sm
// partition add's member take them.
func nodePorts(f *Factory) []string {
	c, ok := completionClient(f)
	if !ok {
		return nil
	}
	st, err := c.Status()
	if err != nil {
		return nil
	}
	var out []string
	for _, n := range st.Nodes {
		g := *f.Globals
		g.NoSpawn, g.Node = true, n
		c, err := f.Connect(&g)
		if err != nil {
			continue
		}
		h, err := c.HCA()
		if err != nil {
			continue
		}
		for _, p := range h.Ports {
			out = append(out, fmt.Sprintf("%s/%d", n, p.Num))
		}
	}
	return out
}

// completeHCAPorts completes hca pkeys' PORT: the node's port numbers.
func completeHCAPorts(f *Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp
		if len(args) > 0 {
			return nil, nd
		}
		c, ok := completionClient(f)
		if !ok {
			return nil, nd
		}
		h, err := c.HCA()
		if err != nil {
			return nil, nd
		}
		var out []string
		for _, p := range h.Ports {
			out = append(out, strconv.FormatUint(uint64(p.Num), 10))
		}
		return out, nd
	}
}

// completePartitionAdd completes sm partition add's keywords, IB MTUs,
// membership and NODE/PORTs.
func completePartitionAdd(f *Factory) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		nd := cobra.ShellCompDirectiveNoFileComp
		if len(args) == 0 {
			return nil, nd // PKEY
		}
		switch args[len(args)-1] {
		case "mtu":
			return []string{"256", "512", "1024", "2048", "4096"}, nd
		case "all":
			return []string{"full", "limited"}, nd
		case "member":
			return nodePorts(f), nd
		}
		return []string{"mtu", "all", "member"}, nd
	}
}

// completeCaptureArgs completes capture's filter expression; with
// --fabric there is none.
func completeCaptureArgs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	nd := cobra.ShellCompDirectiveNoFileComp
	if fabric, _ := cmd.Flags().GetBool("fabric"); fabric {
		return nil, nd
	}
	if len(args) > 0 && args[len(args)-1] == "host" {
		return nil, nd
	}
	return []string{"arp", "rarp", "ip", "ip6", "icmp", "icmp6", "host", "and", "or", "not"}, nd
}
