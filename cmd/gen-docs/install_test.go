package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMakeInstall runs make install into a staging directory and checks
// that every file is where man-db, bash-completion, zsh and fish look,
// with the content of the repository's, and that man finds the pages.
func TestMakeInstall(t *testing.T) {
	for _, prog := range []string{"make", "install"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("%s is not installed: make install needs it", prog)
		}
	}
	pages, _ := filepath.Glob("../../man/*.8")
	if len(pages) == 0 {
		t.Fatal("no pages in man/")
	}
	bin := filepath.Join(t.TempDir(), "ibctl") // not the repository's bin/
	tests := []struct {
		prefix string
		zsh    string // Debian's fpath: site-functions, or vendor-completions for packages
	}{
		{"/usr/local", "/usr/local/share/zsh/site-functions/_ibctl"},
		{"/usr", "/usr/share/zsh/vendor-completions/_ibctl"},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.prefix, "/", "_"), func(t *testing.T) {
			dest := t.TempDir()
			cmd := exec.Command("make", "-s", "-C", "../..", "install", "DESTDIR="+dest, "PREFIX="+tt.prefix, "BIN="+bin)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("make install: %v\n%s", err, out)
			}
			want := map[string]string{ // installed path: the repository's file
				tt.prefix + "/share/bash-completion/completions/ibctl": "../../completions/ibctl.bash",
				tt.zsh: "../../completions/_ibctl",
				tt.prefix + "/share/fish/vendor_completions.d/ibctl.fish": "../../completions/ibctl.fish",
			}
			for _, p := range pages {
				want[tt.prefix+"/share/man/man8/"+filepath.Base(p)] = p
			}
			var got []string
			_ = filepath.Walk(dest, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					got = append(got, strings.TrimPrefix(p, dest))
				}
				return nil
			})
			var wantPaths []string
			for p := range want {
				wantPaths = append(wantPaths, p)
			}
			wantPaths = append(wantPaths, tt.prefix+"/bin/ibctl")
			slices.Sort(got)
			slices.Sort(wantPaths)
			if !slices.Equal(got, wantPaths) {
				t.Errorf("installed %q\nwant %q", got, wantPaths)
			}
			for inst, src := range want {
				a, _ := os.ReadFile(filepath.Join(dest, inst))
				b, _ := os.ReadFile(src)
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs from %s", inst, src)
				}
			}
			if fi, err := os.Stat(filepath.Join(dest, tt.prefix, "bin/ibctl")); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("bin/ibctl: %v, mode %v", err, fi.Mode())
			}
			if out, err := exec.Command(filepath.Join(dest, tt.prefix, "bin/ibctl"), "-V").Output(); err != nil || !strings.HasPrefix(string(out), "ibctl utility, version ") {
				t.Errorf("installed ibctl -V: %v %q", err, out)
			}

			if _, err := exec.LookPath("man"); err == nil {
				man := exec.Command("man", "-w", "ibctl-link")
				man.Env = append(os.Environ(), "MANPATH="+filepath.Join(dest, tt.prefix, "share/man"))
				out, err := man.Output()
				if wantPage := filepath.Join(dest, tt.prefix, "share/man/man8/ibctl-link.8"); err != nil || strings.TrimSpace(string(out)) != wantPage {
					t.Errorf("man -w ibctl-link: %v %q, want %s", err, out, wantPage)
				}
			}
			// zsh loads completions from its fpath: the directory must be
			// in Debian's.
			if _, err := exec.LookPath("zsh"); err == nil {
				out, err := exec.Command("zsh", "-fc", `print -rl -- $fpath`).Output()
				if err != nil || !slices.Contains(strings.Split(string(out), "\n"), filepath.Dir(tt.zsh)) {
					t.Errorf("%s is not in zsh's fpath %q (%v)", filepath.Dir(tt.zsh), out, err)
				}
			}
		})
	}
}
