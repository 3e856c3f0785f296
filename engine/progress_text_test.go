package engine

import "testing"

func TestProgressText(t *testing.T) {
	for _, tc := range []struct {
		done, total int64
		width       int
		want        string
	}{
		{0, 0, 200, ""},
		{86e6, 420e6, 200, "[==========>                                        ]     86MB/420MB"},
		{86e6, 420e6, 80, "    86MB/420MB"},
		{420e6, 420e6, 120, "[==================================================>]    420MB/420MB"},
		{5e3, 0, 200, "     5kB"},
		{500, 400, 200, "[==================================================>]     500B"},
	} {
		if got := ProgressText(tc.done, tc.total, tc.width); got != tc.want {
			t.Errorf("ProgressText(%d, %d, %d) = %q, want %q", tc.done, tc.total, tc.width, got, tc.want)
		}
	}
}
