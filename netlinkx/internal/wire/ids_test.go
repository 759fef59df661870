package wire

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNumbersAreUnique: within each kind (family, command, attribute) of
// the table in ids.go, no two names share a number, and every protocol
// number is declared there and nowhere else in the package.
func TestNumbersAreUnique(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]map[uint64]string{} // kind -> number -> name
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, name := range vs.Names {
					kind := ""
					for _, k := range []string{"Family", "Cmd", "Attr"} {
						if strings.HasPrefix(name.Name, k) {
							kind = k
						}
					}
					if kind == "" {
						continue
					}
					if file != "ids.go" {
						t.Errorf("%s is declared in %s, not in the table ids.go", name.Name, file)
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						t.Errorf("%s is not a literal number", name.Name)
						continue
					}
					v, err := strconv.ParseUint(lit.Value, 0, 64)
					if err != nil {
						t.Errorf("%s = %s: %v", name.Name, lit.Value, err)
						continue
					}
					if seen[kind] == nil {
						seen[kind] = map[uint64]string{}
					}
					if prev, dup := seen[kind][v]; dup {
						t.Errorf("%s and %s are both %d", prev, name.Name, v)
					}
					seen[kind][v] = name.Name
				}
			}
		}
	}
	if len(seen["Family"]) != 2 || len(seen["Cmd"]) != 25 || len(seen["Attr"]) != 94 {
		t.Errorf("table holds %d families, %d commands, %d attributes; want 2, 25, 94", len(seen["Family"]), len(seen["Cmd"]), len(seen["Attr"]))
	}
}
