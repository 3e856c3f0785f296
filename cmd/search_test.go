package cmd

import "testing"

func TestSearchRow(t *testing.T) {
	long := "A minimal image with a shell and the usual Unix tools\nin one binary"
	for _, tc := range []struct {
		trunc, json bool
		desc, off   string
	}{
		{trunc: true, desc: "A minimal image with a shell and the usual U…", off: "[OK]"},
		{trunc: false, desc: "A minimal image with a shell and the usual Unix tools in one binary", off: "[OK]"},
		{trunc: true, json: true, desc: "A minimal image with a shell and the usual U…", off: "true"},
	} {
		r := newSearchRow("busybox", long, 3, true, false, tc.trunc, tc.json)
		if r.Description != tc.desc || r.IsOfficial != tc.off || r.StarCount != "3" {
			t.Errorf("trunc=%v json=%v: %+v", tc.trunc, tc.json, r)
		}
	}
	if r := newSearchRow("x", "", 0, false, false, true, false); r.IsOfficial != "" || r.IsAutomated != "" {
		t.Errorf("a plain row shows flags: %+v", r)
	}
}
