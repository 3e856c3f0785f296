package engine

import (
	"errors"
	"testing"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
)

func TestParseFilters(t *testing.T) {
	f, err := ParseFilters([]string{"status=running", "label=a=b", "status=exited", "name="})
	if err != nil {
		t.Fatal(err)
	}
	if len(f["status"]) != 2 || f["label"][0] != "a=b" || len(f["name"]) != 1 || f["name"][0] != "" {
		t.Errorf("ParseFilters = %v", f)
	}
	for _, bad := range []string{"status", "=x"} {
		if _, err := ParseFilters([]string{bad}); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseFilters(%q) = %v, want an invalid argument", bad, err)
		}
	}
}

func TestParseFiltersJSON(t *testing.T) {
	for _, in := range []string{`{"label":["a=b"],"dangling":["true"]}`, `{"label":{"a=b":true},"dangling":{"true":true,"false":false}}`} {
		f, err := ParseFiltersJSON(in)
		if err != nil || len(f["label"]) != 1 || f["label"][0] != "a=b" || len(f["dangling"]) != 1 || f["dangling"][0] != "true" {
			t.Errorf("ParseFiltersJSON(%s) = %v, %v", in, f, err)
		}
	}
	if _, err := ParseFiltersJSON(`{"label":`); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad JSON: err = %v", err)
	}
}

func TestBoolFilter(t *testing.T) {
	tests := []struct {
		in      []string
		want    string
		wantErr bool
	}{
		{nil, "unset", false},
		{[]string{"true"}, "true", false},
		{[]string{"false"}, "false", false},
		{[]string{"1"}, "true", false},
		{[]string{"yes"}, "", true},
		{[]string{"true", "false"}, "", true},
	}
	for _, tt := range tests {
		got, err := Filters{"dangling": tt.in}.boolValue("dangling")
		if tt.wantErr {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%v: err = %v, want an invalid argument", tt.in, err)
			}
			continue
		}
		s := "unset"
		if got != nil {
			s = map[bool]string{true: "true", false: "false"}[*got]
		}
		if err != nil || s != tt.want {
			t.Errorf("%v: got %s, %v; want %s", tt.in, s, err, tt.want)
		}
	}
}

func TestCheckContainerFilters(t *testing.T) {
	good := [][]string{
		nil,
		{"status=running", "name=web", "id=abc", "label=a=b", "ancestor=busybox", "exited=0"},
		{"status=created", "status=restarting", "status=removing", "status=paused", "status=exited", "status=dead"},
		{"health=healthy", "network=host", "volume=data", "before=x", "since=y"},
	}
	for _, in := range good {
		f, _ := ParseFilters(in)
		if err := checkContainerFilters(f); err != nil {
			t.Errorf("%v: %v", in, err)
		}
	}
	for _, in := range [][]string{{"status=sleeping"}, {"exited=x"}, {"bogus=1"}, {"name=web", "bogus=1"}, {"health=fine"}} {
		f, _ := ParseFilters(in)
		if err := checkContainerFilters(f); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%v: err = %v, want an invalid argument", in, err)
		}
	}
}

func testContainers() map[string]*container.Container {
	mk := func(id, name, status string, code int, labels map[string]string) *container.Container {
		c := &container.Container{ID: id, Name: name, Image: "busybox"}
		c.State.Status = status
		c.State.Running = status == container.StatusRunning
		c.State.ExitCode = code
		c.Config.Labels = labels
		return c
	}
	return map[string]*container.Container{
		"web":   mk("aaaa1111", "web", container.StatusRunning, 0, map[string]string{"app": "shop", "tier": "front"}),
		"db":    mk("bbbb2222", "db", container.StatusRunning, 0, map[string]string{"app": "shop", "tier": "back"}),
		"job":   mk("cccc3333", "nightly-job", container.StatusExited, 0, map[string]string{"app": "batch"}),
		"crash": mk("aaaa4444", "crashy", container.StatusExited, 137, nil),
		"new":   mk("dddd5555", "fresh", container.StatusCreated, 0, map[string]string{"empty": ""}),
	}
}

func TestMatchContainer(t *testing.T) {
	cs := testContainers()
	tests := []struct {
		name    string
		filters []string
		want    []string // keys of testContainers that match
	}{
		{name: "no filters match all", want: []string{"web", "db", "job", "crash", "new"}},
		{name: "status", filters: []string{"status=running"}, want: []string{"web", "db"}},
		{name: "same key is OR", filters: []string{"status=running", "status=created"}, want: []string{"web", "db", "new"}},
		{name: "different keys are AND", filters: []string{"status=running", "name=we"}, want: []string{"web"}},
		{name: "name is a substring", filters: []string{"name=job"}, want: []string{"job"}},
		{name: "names OR", filters: []string{"name=web", "name=db"}, want: []string{"web", "db"}},
		{name: "id is a prefix", filters: []string{"id=aaaa"}, want: []string{"web", "crash"}},
		{name: "id not a substring", filters: []string{"id=1111"}, want: nil},
		{name: "label key", filters: []string{"label=app"}, want: []string{"web", "db", "job"}},
		{name: "label key=value", filters: []string{"label=app=shop"}, want: []string{"web", "db"}},
		{name: "labels are AND", filters: []string{"label=app=shop", "label=tier=back"}, want: []string{"db"}},
		{name: "labels AND with no match", filters: []string{"label=app=shop", "label=app=batch"}, want: nil},
		{name: "label with empty value", filters: []string{"label=empty="}, want: []string{"new"}},
		{name: "label value must match exactly", filters: []string{"label=app=sho"}, want: nil},
		{name: "exited code", filters: []string{"exited=137"}, want: []string{"crash"}},
		{name: "exited 0 only for exited containers", filters: []string{"exited=0"}, want: []string{"job"}},
		{name: "exited codes OR", filters: []string{"exited=0", "exited=137"}, want: []string{"job", "crash"}},
		{name: "status OR and label AND", filters: []string{"status=running", "status=exited", "label=app"}, want: []string{"web", "db", "job"}},
		{name: "nothing matches", filters: []string{"status=paused"}, want: nil},
		{name: "ancestor by name", filters: []string{"ancestor=busybox"}, want: []string{"web", "db", "job", "crash", "new"}},
		{name: "health none", filters: []string{"health=none"}, want: []string{"web", "db", "job", "crash", "new"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilters(tt.filters)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, k := range tt.want {
				want[k] = true
			}
			for key, c := range cs {
				if got := matchContainer(f, c, nil); got != want[key] {
					t.Errorf("%s (%s, %s, labels %v): match = %v, want %v", key, c.Name, c.State.Status, c.Config.Labels, got, want[key])
				}
			}
		})
	}
}

func TestMatchReference(t *testing.T) {
	tests := []struct {
		name string
		tag  string
		pats []string
		want bool
	}{
		{"exact repository", "busybox:latest", []string{"busybox"}, true},
		{"repository and tag", "busybox:1.36", []string{"busybox:1.36"}, true},
		{"wrong tag", "busybox:1.36", []string{"busybox:latest"}, false},
		{"glob over the registry", "127.0.0.1:5000/app:1", []string{"*/app"}, true},
		{"glob does not cross /", "127.0.0.1:5000/team/app:1", []string{"*/app"}, false},
		{"glob tag needs the tag", "localhost/app:1", []string{"localhost/*:2"}, false},
		{"any of several", "alpine:3", []string{"busybox", "alp*"}, true},
		{"no patterns", "alpine:3", nil, false},
		{"registry with a port", "127.0.0.1:5000/app:1", []string{"127.0.0.1:5000/app"}, true},
		{"registry with a port and tag", "127.0.0.1:5000/app:1", []string{"127.0.0.1:5000/app:1"}, true},
		{"registry with a port, glob", "127.0.0.1:5000/app:1", []string{"127.0.0.1:5000/*"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchReference(tt.pats, tt.tag); got != tt.want {
				t.Errorf("matchReference(%q, %s) = %v, want %v", tt.pats, tt.tag, got, tt.want)
			}
		})
	}
}
