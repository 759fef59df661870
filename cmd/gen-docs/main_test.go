package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ibctl/ibctl/ibctl"
)

// TestDocsUpToDate fails when man/ or completions/ differ from what the
// commands generate: run `make docs` and commit the result.
func TestDocsUpToDate(t *testing.T) {
	tmp := t.TempDir()
	man, comp := filepath.Join(tmp, "man"), filepath.Join(tmp, "completions")
	if err := run(man, comp); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{man, "../../man"}, {comp, "../../completions"}} {
		gen, _ := os.ReadDir(pair[0])
		committed, _ := os.ReadDir(pair[1])
		if len(gen) != len(committed) {
			t.Errorf("%s: %d files generated, %d committed (run make docs)", pair[1], len(gen), len(committed))
		}
		for _, e := range gen {
			want, _ := os.ReadFile(filepath.Join(pair[0], e.Name()))
			got, err := os.ReadFile(filepath.Join(pair[1], e.Name()))
			if err != nil || string(got) != string(want) {
				t.Errorf("%s/%s is stale (run make docs)", pair[1], e.Name())
			}
		}
	}
}

// manSections are the sections every page has, in this order, each with
// something in it.
var manSections = []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES", `"EXIT STATUS"`, "ENVIRONMENT", "FILES", `"SEE ALSO"`}

// TestManPages checks that ibctl and each of its commands has a page of
// section 8 titled by it, with every section filled, and that no page is
// cobra's (options as "--force[=false]").
func TestManPages(t *testing.T) {
	root := ibctl.NewRootCmd(ibctl.NewFactory(nil))
	pages := map[string]string{}
	for _, cmd := range manPages(root) {
		p, err := renderMan(cmd)
		if err != nil {
			t.Fatal(err)
		}
		pages[pageName(cmd)] = p
	}
	want := []string{"ibctl"}
	for _, c := range root.Commands() {
		want = append(want, "ibctl-"+c.Name())
	}
	if len(pages) != len(want) {
		t.Errorf("%d pages, want %d (%v)", len(pages), len(want), want)
	}
	for _, name := range want {
		p, ok := pages[name]
		if !ok {
			t.Errorf("no page %s(8): give the command a ManDoc", name)
			continue
		}
		title := `.TH ` + strings.ReplaceAll(strings.ToUpper(name), "-", `\-`) + ` 8 "2026-11-25" "ibctl" "System Manager's Manual"` + "\n"
		if !strings.HasPrefix(p, title) {
			t.Errorf("%s: title %q, want %q", name, strings.SplitN(p, "\n", 2)[0], title)
		}
		parts := strings.Split(p, "\n.SH ")[1:]
		var got []string
		for _, part := range parts {
			head, body, _ := strings.Cut(part, "\n")
			got = append(got, head)
			if strings.TrimSpace(body) == "" {
				t.Errorf("%s: section %s is empty", name, head)
			}
		}
		if strings.Join(got, ",") != strings.Join(manSections, ",") {
			t.Errorf("%s: sections %v, want %v", name, got, manSections)
		}
		for _, v := range []string{"IBCTL_SOCKET", "IBCTL_STATE_DIR", "XDG_RUNTIME_DIR"} {
			if !strings.Contains(p, ".B "+strings.ReplaceAll(v, "-", `\-`)+"\n") {
				t.Errorf("%s: ENVIRONMENT lacks %s", name, v)
			}
		}
		if strings.Contains(p, "[=") {
			t.Errorf("%s: an option is shown with cobra's [=...]", name)
		}
		if strings.Contains(p, "`") {
			t.Errorf("%s: a backquote of pflag's usage syntax is left in the text", name)
		}
	}
}

// TestManRenders formats every committed page as man-db does, at 80
// columns with groff's warnings on: none may warn.
func TestManRenders(t *testing.T) {
	man, err := exec.LookPath("man")
	if err != nil {
		t.Skip("man (man-db) is not installed: apt-get install man-db")
	}
	files, _ := filepath.Glob("../../man/*.8")
	if len(files) == 0 {
		t.Fatal("no pages in man/")
	}
	for _, f := range files {
		cmd := exec.Command(man, "--warnings", "-l", f)
		cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil || errb.Len() != 0 {
			t.Errorf("man --warnings -l %s: %v\n%s", f, err, errb.String())
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f), ".8")
		head := strings.ToUpper(name) + "(8)"
		if first, _, _ := strings.Cut(out.String(), "\n"); !strings.HasPrefix(first, head) {
			t.Errorf("%s: first line %q, want it to start with %q", f, first, head)
		}
	}
}
