package main

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/ibctl/ibctl/ibctl"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// manDate is the date every page carries: a fixed one keeps the pages
// reproducible.
const manDate = "2026-11-25"

// manSection is the pages' section, iproute2's and ethtool's.
const manSection = "8"

// manPages returns the command of each page: the root and every command
// with a ManDoc of its own (ibctl's objects), in the tree's order.
func manPages(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if _, ok := ibctl.ManDocOf(c); ok {
			out = append(out, c)
		}
		for _, s := range c.Commands() {
			if !s.Hidden {
				walk(s)
			}
		}
	}
	walk(root)
	return out
}

// pageName is the page of cmd: "ibctl-link" for ibctl link.
func pageName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "-")
}

// renderMan writes cmd's page in the man(7) macros.
func renderMan(cmd *cobra.Command) (string, error) {
	d, ok := ibctl.ManDocOf(cmd)
	if !ok {
		return "", fmt.Errorf("%s: no man page text", cmd.CommandPath())
	}
	name := pageName(cmd)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(".TH %s %s %q \"ibctl\" \"System Manager's Manual\"\n", esc(strings.ToUpper(name)), manSection, manDate)
	// Left-aligned and unhyphenated: paths and option names stay whole.
	w(".ad l\n.nh\n")

	w(".SH NAME\n%s \\- %s\n", esc(name), esc(lowerFirst(cmd.Short)))

	w(".SH SYNOPSIS\n.in +8\n")
	for _, l := range d.Synopsis {
		if strings.Contains(l, ":=") {
			w(".sp\n")
		}
		w(".ti -8\n%s\n", grammar(l))
	}
	w(".in -8\n")

	w(".SH DESCRIPTION\n")
	w("%s", text(cmd.Long, d.Synopsis, cmd.Short))
	for _, v := range verbs(cmd) {
		w(".SS %s\n", esc(v.CommandPath()))
		w("%s", text(sentence(v.Short), nil, ""))
		if v.Long != "" {
			w(".PP\n%s", text(v.Long, d.Synopsis, ""))
		}
		if len(v.Aliases) > 0 {
			w(".PP\nAlso spelled %s.\n", esc(strings.Join(v.Aliases, ", ")))
		}
	}

	w(".SH OPTIONS\n")
	for _, fl := range options(cmd) {
		_, usage := pflag.UnquoteUsage(fl.flag) // "module parameter `NAME=VALUE`" loses its quotes
		w(".TP\n%s\n%s\n", flagTag(fl.flag, d.Synopsis), line(fl.prefix+sentence(usage)))
	}
	if cmd.HasParent() {
		w(".PP\nThe options of\n.BR ibctl (8)\n(\\fB\\-n\\fR \\fINODE\\fR, \\fB\\-j\\fR, \\fB\\-p\\fR, \\fB\\-s\\fR, \\fB\\-\\-socket\\fR, ...) go before \\fB%s\\fR.\n",
			esc(cmd.Name()))
	}

	w(".SH EXAMPLES\n")
	for _, ex := range d.Examples {
		w(".PP\n.nf\n")
		for _, l := range strings.Split(ex.Tag, "\n") {
			w("\\&\\fB%s\\fR\n", esc(l))
		}
		w(".fi\n.RS 4\n%s\n.RE\n", line(ex.Text))
	}

	exit := d.ExitStatus
	if len(exit) == 0 {
		exit = ibctl.ManExitStatus
	}
	w(".SH \"EXIT STATUS\"\n")
	for _, it := range exit {
		w(".TP\n%s\n%s\n", line(it.Tag), line(it.Text))
	}

	w(".SH ENVIRONMENT\n")
	for _, it := range append(append([]ibctl.ManItem{}, ibctl.ManEnvironment...), d.Environment...) {
		w(".TP\n.B %s\n%s\n", esc(it.Tag), line(it.Text))
	}

	w(".SH FILES\n")
	for _, it := range append(append([]ibctl.ManItem{}, ibctl.ManFiles...), d.Files...) {
		w(".TP\n.I %s\n%s\n", esc(it.Tag), line(it.Text))
	}

	w(".SH \"SEE ALSO\"\n")
	for i, ref := range d.SeeAlso {
		page, sec, ok := strings.Cut(strings.TrimSuffix(ref, ")"), "(")
		if !ok {
			return "", fmt.Errorf("%s: SEE ALSO %q is not PAGE(SECTION)", name, ref)
		}
		sep := ","
		if i == len(d.SeeAlso)-1 {
			sep = ""
		}
		w(".BR %s (%s)%s\n", esc(page), sec, sep)
	}
	return b.String(), nil
}

// verbs are the commands documented in cmd's page: its descendants that
// run, but for those with a page of their own and help.
func verbs(cmd *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range cmd.Commands() {
		if s.Hidden || s.Name() == "help" {
			continue
		}
		if _, own := ibctl.ManDocOf(s); own {
			continue
		}
		if s.Runnable() {
			out = append(out, s)
		}
		out = append(out, verbs(s)...)
	}
	return out
}

type option struct {
	flag   *pflag.Flag
	prefix string // the verb it belongs to: "show: "
}

// options are the flags of cmd's page: the root's own and persistent
// ones, or an object's and its verbs'.
func options(cmd *cobra.Command) []option {
	var out []option
	add := func(fs *pflag.FlagSet, prefix string) {
		fs.VisitAll(func(f *pflag.Flag) {
			if !f.Hidden && f.Name != "help" {
				out = append(out, option{f, prefix})
			}
		})
	}
	if !cmd.HasParent() {
		add(cmd.LocalNonPersistentFlags(), "")
		add(cmd.PersistentFlags(), "")
		return out
	}
	add(cmd.LocalNonPersistentFlags(), "")
	for _, v := range verbs(cmd) {
		add(v.LocalNonPersistentFlags(), strings.TrimPrefix(v.CommandPath(), cmd.CommandPath()+" ")+": ")
	}
	return out
}

// flagTag is "-c, --count COUNT", the value's name taken from the
// synopsis where it shows the flag with one.
func flagTag(f *pflag.Flag, synopsis []string) string {
	var names []string
	if f.Shorthand != "" {
		names = append(names, "\\fB\\-"+esc(f.Shorthand)+"\\fR")
	}
	names = append(names, "\\fB\\-\\-"+esc(f.Name)+"\\fR")
	tag := strings.Join(names, ", ")
	if f.NoOptDefVal != "" {
		return tag // a switch: cobra's "[=false]" means nothing to a reader
	}
	if v := flagValue(f, synopsis); v != "" {
		tag += " " + grammar(v)
	}
	return tag
}

func flagValue(f *pflag.Flag, synopsis []string) string {
	for _, l := range synopsis {
		tok := strings.Fields(l)
		for i := 0; i+1 < len(tok); i++ {
			t, _, _ := strings.Cut(tok[i], "[") // -b[atch]
			if t != "-"+f.Shorthand && t != "--"+f.Name {
				continue
			}
			next := tok[i+1]
			if next == "{" {
				end := i + 1
				for end < len(tok) && tok[end] != "}" {
					end++
				}
				return strings.Join(tok[i+1:min(end+1, len(tok))], " ")
			}
			if isMeta(next) {
				return next
			}
		}
	}
	name, _ := pflag.UnquoteUsage(f)
	if isMeta(name) {
		return name
	}
	return strings.ToUpper(f.Name)
}

// isMeta reports a metavariable: letters all upper case ("NAME=VALUE").
func isMeta(s string) bool {
	letters := false
	for _, r := range s {
		if unicode.IsLower(r) {
			return false
		}
		letters = letters || unicode.IsUpper(r)
	}
	return letters
}

// grammar renders a synopsis line: keywords bold, metavariables italic,
// brackets, braces and bars plain.
func grammar(line string) string {
	var b strings.Builder
	word := func(w string) {
		// NODE/PORT, NAME=VALUE, :full: each part on its own
		start := 0
		flush := func(end int) {
			seg := w[start:end]
			switch {
			case seg == "":
			case isMeta(seg):
				b.WriteString("\\fI" + esc(seg) + "\\fR")
			case strings.IndexFunc(seg, unicode.IsLetter) < 0:
				b.WriteString(esc(seg))
			default:
				b.WriteString("\\fB" + esc(seg) + "\\fR")
			}
		}
		for i, r := range w {
			if r == '/' || r == '=' || r == ':' && !strings.HasPrefix(w[i:], ":=") && !strings.HasPrefix(w[max(i-1, 0):], ":=") {
				flush(i)
				b.WriteString(esc(string(r)))
				start = i + 1
			}
		}
		flush(len(w))
	}
	cur := strings.Builder{}
	for _, r := range line {
		if strings.ContainsRune("[]{}|() ", r) {
			if cur.Len() > 0 {
				word(cur.String())
				cur.Reset()
			}
			b.WriteString(esc(string(r)))
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		word(cur.String())
	}
	return b.String()
}

// text renders help text: paragraphs filled, indented blocks kept as they
// are. A block that only repeats the synopsis is left out, and the
// sentence introducing it points there. An empty text is fallback's.
func text(s string, synopsis []string, fallback string) string {
	if strings.TrimSpace(s) == "" {
		s = sentence(fallback)
	}
	inSynopsis := map[string]bool{}
	for _, l := range synopsis {
		inSynopsis[strings.Join(strings.Fields(l), " ")] = true
	}
	var paras [][]string
	var cur []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) == "" {
			if cur != nil {
				paras = append(paras, cur)
				cur = nil
			}
			continue
		}
		// an indented block starts a paragraph of its own
		if cur != nil && strings.HasPrefix(l, " ") != strings.HasPrefix(cur[0], " ") {
			paras = append(paras, cur)
			cur = nil
		}
		cur = append(cur, l)
	}
	if cur != nil {
		paras = append(paras, cur)
	}
	var b strings.Builder
	for i, p := range paras {
		if !strings.HasPrefix(p[0], " ") {
			if i > 0 {
				b.WriteString(".PP\n")
			}
			if i+1 < len(paras) && repeats(paras[i+1], inSynopsis) && strings.HasSuffix(p[len(p)-1], ":") {
				p = append([]string{}, p...)
				p[len(p)-1] = strings.TrimSuffix(p[len(p)-1], ":") + ", as SYNOPSIS shows."
			}
			for _, l := range p {
				b.WriteString(line(strings.TrimSpace(l)) + "\n")
			}
			continue
		}
		if repeats(p, inSynopsis) {
			continue
		}
		b.WriteString(".PP\n.RS 4\n.nf\n")
		indent := len(p[0]) - len(strings.TrimLeft(p[0], " "))
		for _, l := range p {
			b.WriteString(line(strings.TrimPrefix(l, strings.Repeat(" ", indent))) + "\n")
		}
		b.WriteString(".fi\n.RE\n")
	}
	return b.String()
}

// repeats reports an indented block all of whose lines are synopsis lines.
func repeats(p []string, inSynopsis map[string]bool) bool {
	if !strings.HasPrefix(p[0], " ") || len(inSynopsis) == 0 {
		return false
	}
	for _, l := range p {
		if !inSynopsis[strings.Join(strings.Fields(l), " ")] {
			return false
		}
	}
	return true
}

// line escapes a text line, guarding a leading control character.
func line(s string) string {
	s = esc(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = "\\&" + s
	}
	return s
}

// esc escapes roff's backslash and makes every hyphen a minus sign, as
// options must be to be typed or searched for.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// sentence is s capitalised with a final full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// lowerFirst lowers the first letter of a title ("Show ..."), not of a
// name ("IPoIB ...").
func lowerFirst(s string) string {
	if len(s) > 1 && unicode.IsUpper(rune(s[0])) && !unicode.IsUpper(rune(s[1])) {
		return strings.ToLower(s[:1]) + s[1:]
	}
	return s
}
