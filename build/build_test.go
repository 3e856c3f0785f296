package build

import (
	"reflect"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestPairs(t *testing.T) {
	tests := []struct {
		line string
		want [][2]string
	}{
		{`ENV A=1 B="two words" C='x y'`, [][2]string{{"A", "1"}, {"B", "two words"}, {"C", "x y"}}},
		{`ENV OLD form with spaces`, [][2]string{{"OLD", "form with spaces"}}},
		{`LABEL a=b "c d"="e \"f\""`, [][2]string{{"a", "b"}, {"c d", `e "f"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r, err := parser.Parse(strings.NewReader("FROM x\n" + tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if got := pairs(words(r.AST.Children[1])); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("pairs = %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzDockerfile: the front end (buildkit's parser, then skiff's reading
// of each instruction's words, pairs, stage names and heredocs) never
// panics on any Dockerfile.
func FuzzDockerfile(f *testing.F) {
	for _, s := range []string{
		"FROM busybox AS base\nRUN echo hi\nCOPY --from=base /a /b\n",
		"FROM x\nENV A=1 B=\"two words\"\nLABEL a=b\n",
		"FROM x\nRUN <<EOF\necho hi\nEOF\nCOPY <<-EOT /f\n\thello\nEOT\n",
		"ARG V=1\nFROM x:$V\nRUN --mount=type=cache,target=/c true\n",
		"# syntax=docker/dockerfile:1\nFROM scratch\n",
		"FROM\n\\\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, err := parser.Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		st := &stage{args: map[string]string{"A": "1"}}
		for _, n := range res.AST.Children {
			ws := words(n)
			_ = stageName(n)
			switch strings.ToUpper(n.Value) {
			case "ENV", "LABEL":
				_ = pairs(ws)
			}
			for _, w := range ws {
				_ = st.expand(w)
				if h := heredocSource(n, w); h != nil {
					_ = heredocBody(h)
				}
			}
		}
	})
}
