package cmd

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The CLI (and the API service) are skins over the engine: they may not
// reach past it into the packages that do the work.
var belowEngine = []string{"runtime", "storage", "netns", "registry", "supervisor", "build", "container", "userns", "internal", "events"}

func TestOnlyEngineBelowTheSkins(t *testing.T) {
	const module = "github.com/skiff-project/skiff/"
	for _, dir := range []string{".", "../api"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if dir == "." && len(files) == 0 {
			t.Fatal("no Go files found in cmd/")
		}
		for _, f := range files {
			fs := token.NewFileSet()
			parsed, err := parser.ParseFile(fs, f, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range parsed.Imports {
				p := strings.Trim(imp.Path.Value, `"`)
				rest, ok := strings.CutPrefix(p, module)
				if !ok {
					continue
				}
				top, _, _ := strings.Cut(rest, "/")
				for _, banned := range belowEngine {
					if top == banned {
						t.Errorf("%s imports %s: call the engine instead (only engine/, errdefs/ and paths/ are above the line)", f, p)
					}
				}
			}
		}
	}
	if _, err := os.Stat("../api"); err == nil {
		t.Log("checked api/ too")
	}
}
