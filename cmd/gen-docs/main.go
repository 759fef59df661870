// Command gen-docs writes ibctl's man pages (section 8, one for ibctl and
// one per object, as ip(8) and ip-link(8)) and its bash, zsh and fish
// completion scripts.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ibctl/ibctl/ibctl"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gen-docs MANDIR COMPLETIONDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "gen-docs: %v\n", err)
		os.Exit(1)
	}
}

func run(manDir, compDir string) error {
	root := ibctl.NewRootCmd(ibctl.NewFactory(nil))
	root.DisableAutoGenTag = true
	for _, d := range []string{manDir, compDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	for _, pat := range []string{"*.1", "*.8"} {
		old, _ := filepath.Glob(filepath.Join(manDir, pat))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for _, cmd := range manPages(root) {
		page, err := renderMan(cmd)
		if err != nil {
			return fmt.Errorf("man: %w", err)
		}
		if err := os.WriteFile(filepath.Join(manDir, pageName(cmd)+"."+manSection), []byte(page), 0o644); err != nil {
			return fmt.Errorf("man: %w", err)
		}
	}
	write := func(name string, gen func(f *os.File) error) error {
		f, err := os.Create(filepath.Join(compDir, name))
		if err != nil {
			return err
		}
		if err := gen(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("ibctl.bash", func(f *os.File) error { return root.GenBashCompletionV2(f, true) }); err != nil {
		return err
	}
	if err := write("_ibctl", func(f *os.File) error { return root.GenZshCompletion(f) }); err != nil {
		return err
	}
	return write("ibctl.fish", func(f *os.File) error { return root.GenFishCompletion(f, true) })
}
