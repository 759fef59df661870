package ibctl

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
)

// ipOption is one of ip 6.1's global options. main() in ip/ip.c tries
// them in this order, and a word given before the object selects the
// first one whose name it is a prefix of ("-s" is -stats, "-b" -batch,
// "-br" -brief, "-h" -human); "--x" is read as "-x".
type ipOption struct {
	name  string
	exact bool   // -4, -6, -0, -M, -B: the whole word only
	arg   string // the argument it takes, named as ip's missarg does; "" for none
	// flag is the ibctl flag the option becomes ("--stats"); an option
	// with an argument becomes flag=ARG. "" marks an option ibctl does
	// not have, refused with a message rather than ignored.
	flag string
}

var ipOptions = []ipOption{
	{name: "-loops", arg: "loop count"},
	{name: "-family", arg: "family type", flag: "--family"},
	{name: "-4", exact: true, flag: "--family=inet"},
	{name: "-6", exact: true, flag: "--family=inet6"},
	{name: "-0", exact: true, flag: "--family=link"},
	{name: "-M", exact: true},
	{name: "-B", exact: true},
	{name: "-human"},
	{name: "-human-readable"},
	{name: "-iec"},
	{name: "-stats", flag: "--stats"},
	{name: "-statistics", flag: "--stats"},
	{name: "-details", flag: "--details"},
	{name: "-resolve"},
	{name: "-oneline", flag: "--oneline"},
	{name: "-timestamp", flag: "--timestamp"},
	{name: "-tshort", flag: "--tshort"},
	{name: "-Version", flag: "--version"},
	{name: "-force", flag: "--force"},
	{name: "-batch", arg: "batch file", flag: "--batch"},
	{name: "-brief", flag: "--brief"},
	{name: "-json", flag: "--json"},
	{name: "-pretty", flag: "--pretty"},
	{name: "-rcvbuf", arg: "rcvbuf size"},
	{name: "-color", flag: "--color"},
	{name: "-help", flag: "--help"},
	{name: "-netns", arg: "NAME", flag: "--node"},
	{name: "-Numeric"},
	{name: "-all"},
}

// lookupIPOption is the option word selects, as ip's matches() and
// matches_color() do; value is what follows "=" in -color=WHEN.
func lookupIPOption(word string) (opt ipOption, value string, ok bool) {
	w := word
	if strings.HasPrefix(w, "--") {
		w = w[1:]
	}
	for _, o := range ipOptions {
		switch {
		case o.exact:
			if w == o.name {
				return o, "", true
			}
		case o.name == "-color":
			name, when, hasWhen := strings.Cut(w, "=")
			if matches(name, o.name) && (!hasWhen || when == "always" || when == "auto" || when == "never") {
				if !hasWhen {
					when = "always"
				}
				return o, when, true
			}
		case matches(w, o.name):
			return o, "", true
		}
	}
	return ipOption{}, "", false
}

// addIPFlags adds the flags ip's global options become: before the object
// they are given in ip's spellings (see ipGlobals), after it as flags.
func addIPFlags(pf *pflag.FlagSet, g *Globals) {
	pf.CountVar(&g.Stats, "stats", "print statistics, twice: with the error rows (ip -s)")
	pf.CountVar(&g.Details, "details", "print details (ip -d); link show always does")
	pf.BoolVar(&g.Oneline, "oneline", false, "print each record on one line, lines joined by \\ (ip -o)")
	pf.BoolVar(&g.Brief, "brief", false, "print brief tables of links and addresses (ip -br)")
	pf.Var((*familyValue)(&g.Family), "family", "show only the inet, inet6 or link family (ip -4, -6, -0)")
	pf.BoolVar(&g.Timestamp, "timestamp", false, "monitor: print the time of each event on a line before it (ip -t)")
	pf.BoolVar(&g.TShort, "tshort", false, "monitor: print the time of each event before it, in short form (ip -ts)")
}

// familyValue is --family: inet, inet6 or link, as ip's read_family.
type familyValue string

func (v *familyValue) String() string { return string(*v) }
func (v *familyValue) Type() string   { return "FAMILY" }

// reset empties the flag between batch lines (resetTree): "" is no
// family, which Set refuses.
func (v *familyValue) reset() { *v = "" }
func (v *familyValue) Set(s string) error {
	switch s {
	case "inet", "inet6", "link":
		*v = familyValue(s)
		return nil
	case "ipx", "mpls", "bridge":
		return fmt.Errorf("family %s is not supported", s)
	}
	return fmt.Errorf("argument %q is wrong: invalid protocol family", s)
}

// ipGlobals reads the options given before the object with ip's
// spellings and matching rules, and returns the command line with each
// turned into the ibctl flag it stands for. ibctl's own flags (--socket,
// -jp, -nNODE) are kept as they are; the object and what follows are not
// looked at. An option ip has and ibctl does not is refused, as is
// colour output (ibctl prints none), except -color=never and a colour
// ip would not use (with -json, or auto without a terminal).
func ipGlobals(root *cobra.Command, out io.Writer, args []string) ([]string, error) {
	lookup := func(name string) *pflag.Flag {
		if fl := root.PersistentFlags().Lookup(name); fl != nil {
			return fl
		}
		return root.Flags().Lookup(name)
	}
	shorthand := func(c string) *pflag.Flag {
		if fl := root.PersistentFlags().ShorthandLookup(c); fl != nil {
			return fl
		}
		return root.Flags().ShorthandLookup(c)
	}
	if len(args) > 1 && args[0] == cobra.ShellCompRequestCmd {
		// A shell completing a command line: the words before the one
		// being completed are read the same way, when they can be.
		last := len(args) - 1
		if rest, err := ipGlobals(root, io.Discard, args[1:last]); err == nil {
			return append(append([]string{args[0]}, rest...), args[last]), nil
		}
		return args, nil
	}
	var res []string
	color, json, batch := "", false, false
	force := -1
	i := 0
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			break
		}
		if a == "-h" {
			res = append(res, "--help") // ip's -h is -human; ibctl's is help
			continue
		}
		if name, _, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "="); strings.HasPrefix(a, "--") {
			if fl := lookup(name); fl != nil {
				// an ibctl flag, spelled out
				res = append(res, a)
				if !hasValue && fl.NoOptDefVal == "" && i+1 < len(args) {
					i++
					res = append(res, args[i])
				}
				switch name {
				case "json":
					json = true
				case "batch":
					batch = true
				case "force":
					force = len(res) - 1
				}
				continue
			}
		}
		opt, when, ok := lookupIPOption(a)
		if !ok {
			if n := shorthandGroup(a, shorthand); n >= 0 {
				// ibctl's own shorthands: -jp, -nNODE, -jn NODE
				res = append(res, a)
				if n > 0 && i+1 < len(args) {
					i++
					res = append(res, args[i])
				}
				json = json || strings.ContainsRune(a, 'j')
				batch = batch || strings.ContainsRune(a, 'b')
				continue
			}
			return nil, usagef("Option %q is unknown, try \"ibctl -help\".", a)
		}
		if opt.flag == "" {
			return nil, usagef("Option %q (%s) is not supported", a, opt.name)
		}
		value := ""
		if opt.arg != "" {
			if i+1 >= len(args) {
				return nil, usagef("Option %q: argument %q is required", a, opt.arg)
			}
			i++
			value = args[i]
		}
		switch opt.name {
		case "-color":
			color = when
			continue
		case "-family":
			if value == "help" {
				return nil, usagef("Option %q: FAMILY := { inet | inet6 | link }", a)
			}
			var fv familyValue
			if err := fv.Set(value); err != nil {
				return nil, usagef("Error: %v", err)
			}
		case "-json":
			json = true
		case "-batch":
			batch = true
		case "-force":
			force = len(res)
		}
		if opt.arg != "" {
			res = append(res, opt.flag+"="+value)
		} else {
			res = append(res, opt.flag)
		}
	}
	if force >= 0 && !batch {
		// ip takes -force with any object; ibctl's --force is batch's.
		res = append(res[:force], res[force+1:]...)
	}
	if color == "always" || color == "auto" && isTerminal(out) {
		if !json {
			return nil, usagef("Option \"-color\": ibctl prints no colours (-color=never is accepted)")
		}
	}
	return append(res, args[i:]...), nil
}

// shorthandGroup reports whether word is a group of ibctl's one-letter
// flags (-jp, -nNODE): -1 if not, 1 if its last flag takes the next word
// as its value, else 0.
func shorthandGroup(word string, shorthand func(string) *pflag.Flag) int {
	if len(word) < 2 || word[1] == '-' {
		return -1
	}
	for j := 1; j < len(word); j++ {
		fl := shorthand(word[j : j+1])
		if fl == nil {
			return -1
		}
		if fl.NoOptDefVal == "" {
			if j+1 < len(word) {
				return 0 // -nNODE
			}
			return 1
		}
	}
	return 0
}

// isTerminal reports whether w is a terminal, where ip's -color=auto
// colours.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
