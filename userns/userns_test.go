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

func TestFreeRangeIn(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"", "100000-165535"},
		{"a:100000:65536\n", "165536-231071"},
		// this host's layout: the gap before 400000 is big enough.
		{"e2e:100000:65536\nlead:165536:65536\nlead:400000:65536\nsvc:231072:65536\n", "296608-362143"},
		// a gap too small is skipped; an entry ending below 100000 is ignored.
		{"a:1000:5000\nb:100000:10\nc:165000:65536\n", "230536-296071"},
		// order does not matter: a later range can push the start past an earlier one.
		{"c:200000:65536\nb:150000:60000\n", "265536-331071"},
		{"# comment\nbad\nx:y:z\n", "100000-165535"},
	}
	for _, tt := range tests {
		got := FreeRangeIn(ParseSubIDFile(strings.NewReader(tt.file))).String()
		if got != tt.want {
			t.Errorf("FreeRangeIn(%q) = %s, want %s", tt.file, got, tt.want)
		}
	}
}
