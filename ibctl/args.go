package ibctl

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// needArgs is cobra.ExactArgs(len(names)) with a usage error that names
// what is missing, or the first argument too many, in one line:
// "sys write: missing VALUE".
func needArgs(names ...string) cobra.PositionalArgs {
	return argsBetween(len(names), len(names), names)
}

// atMost is cobra.MaximumNArgs(len(names)) with needArgs's error for an
// argument too many.
func atMost(names ...string) cobra.PositionalArgs {
	return argsBetween(0, len(names), names)
}

// needAtLeast is cobra.MinimumNArgs(len(names)) with needArgs's errors.
func needAtLeast(names ...string) cobra.PositionalArgs {
	return argsBetween(len(names), -1, names)
}

func argsBetween(min, max int, names []string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		what := commandPath(cmd)
		if len(args) < min {
			return usagef("%s: missing %s (try \"ibctl %s --help\")", what, strings.Join(names[len(args):], " and "), what)
		}
		if max >= 0 && len(args) > max {
			return usagef("%s: unexpected argument %q", what, args[max])
		}
		return nil
	}
}

// commandPath is the command's path without the program name.
func commandPath(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

// oneLine folds cobra's "unknown command" error and its "Did you mean
// this?" suggestions into one line: errors are one line.
func oneLine(msg string) string {
	head, sugg, ok := strings.Cut(msg, "\n\nDid you mean this?\n")
	if !ok {
		return strings.TrimRight(msg, "\n")
	}
	var quoted []string
	for _, s := range strings.Fields(sugg) {
		quoted = append(quoted, fmt.Sprintf("%q", s))
	}
	return fmt.Sprintf("%s; did you mean %s?", head, strings.Join(quoted, " or "))
}

// helpVerb is the object's "help" verb, as iproute2 has one for every
// object (`ip link help`): it prints the object's help. The error texts
// that say `Try option "help"` lead here.
func helpVerb() *cobra.Command {
	return &cobra.Command{
		Use:   "help",
		Short: "Show this help",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Parent().Help() },
	}
}

// defaultVerb makes obj run verb when it is given without one, as
// `ip link` lists; an unknown verb is a usage error instead of the help
// that cobra prints for a command that cannot run.
func defaultVerb(obj, verb *cobra.Command) {
	obj.Args = noVerbArgs
	obj.RunE = verb.RunE
}

// verbRequired makes obj, which has no default verb, a one-line usage
// error without a verb or with an unknown one.
func verbRequired(obj *cobra.Command) {
	obj.Args = noVerbArgs
	obj.RunE = func(cmd *cobra.Command, _ []string) error {
		what := commandPath(cmd)
		return usagef("%s: missing command (try \"ibctl %s --help\")", what, what)
	}
}

// noVerbArgs refuses an argument that is no verb of the object.
func noVerbArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		what := commandPath(cmd)
		return usagef("%s: unknown command %q (try \"ibctl %s --help\")", what, args[0], what)
	}
	return nil
}
