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
