package main

import (
	"os"
	"path/filepath"
	"testing"
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
