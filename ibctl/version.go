package ibctl

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionLine is what `ibctl -V` prints, in the shape of `ip -V`
// ("ip utility, iproute2-6.1.0"): the module's version and the VCS
// revision the binary was built from, as the Go build recorded them.
func versionLine(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "ibctl utility, version unknown"
	}
	s := "ibctl utility, version " + info.Main.Version
	var rev, when, dirty string
	for _, kv := range info.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.time":
			when = kv.Value
		case "vcs.modified":
			if kv.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		s += fmt.Sprintf(", revision %.12s", rev)
		if when != "" {
			s += " of " + when
		}
		s += dirty
	}
	return s
}

// printVersion prints the version line of the running binary.
func printVersion(f *Factory) error {
	info, ok := debug.ReadBuildInfo()
	_, err := fmt.Fprintln(f.IO.Out, versionLine(info, ok))
	return err
}

// NewCmdVersion is `ibctl version`, the same as `ibctl -V`.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and the revision ibctl was built from",
		Args:  cobra.NoArgs,
		RunE:  runE(func(*cobra.Command, []string) error { return printVersion(f) }),
	}
}

// versionMan is the page text of ibctl-version(8).
var versionMan = ManDoc{
	Synopsis: []string{
		"ibctl version",
		"ibctl -V[ersion]",
	},
	Examples: []ManItem{
		{"ibctl -V", "Prints \"ibctl utility, version v1.2.0, revision 0123456789ab of 2026-11-25T10:00:00Z\", as ip -V prints its version."},
	},
	SeeAlso: []string{"ibctl(8)"},
}
