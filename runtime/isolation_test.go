package runtime

import (
	"fmt"
	"strings"
	"testing"
)

func TestKeepIDMap(t *testing.T) {
	for _, c := range []struct {
		id, size int
		want     string
	}{
		{1000, 65537, "[{1000 0 1} {0 1 1000} {1001 1001 64536}]"},
		{0, 65537, "[{0 0 1} {1 1 65536}]"},
		{70000, 65537, "[{70000 0 1} {0 1 65536}]"},
	} {
		var got []string
		for _, m := range keepIDMap(c.id, c.size) {
			got = append(got, fmt.Sprintf("{%d %d %d}", m.ContainerID, m.HostID, m.Size))
		}
		if s := "[" + strings.Join(got, " ") + "]"; s != c.want {
			t.Errorf("keepIDMap(%d, %d) = %s, want %s", c.id, c.size, s, c.want)
		}
	}
}
