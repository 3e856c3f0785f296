package userns

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	file := "alice:100000:65536\nbob:165536:65536\n1001:300000:10\nalice:400000:5\nbroken\nalice:x:1\n"
	tests := []struct {
		name string
		uid  int
		want [][2]int
	}{
		{"alice", 1000, [][2]int{{100000, 65536}, {400000, 5}}},
		{"carol", 1001, [][2]int{{300000, 10}}},
		{"dave", 1002, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseSubIDs(strings.NewReader(file), tt.name, tt.uid)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
