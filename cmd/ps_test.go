package cmd

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
)

func TestParsePsFilters(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []psFilter
		wantErr bool
	}{
		{name: "none", in: nil, want: nil},
		{name: "each key", in: []string{"status=running", "name=web", "id=abc", "label=a=b", "ancestor=busybox", "exited=0"},
			want: []psFilter{{"status", "running"}, {"name", "web"}, {"id", "abc"}, {"label", "a=b"}, {"ancestor", "busybox"}, {"exited", "0"}}},
		{name: "label key only", in: []string{"label=com.example"}, want: []psFilter{{"label", "com.example"}}},
		{name: "every status", in: []string{"status=created", "status=restarting", "status=removing", "status=paused", "status=exited", "status=dead"},
			want: []psFilter{{"status", "created"}, {"status", "restarting"}, {"status", "removing"}, {"status", "paused"}, {"status", "exited"}, {"status", "dead"}}},
		{name: "no =", in: []string{"status"}, wantErr: true},
		{name: "bad status", in: []string{"status=sleeping"}, wantErr: true},
		{name: "exited not a number", in: []string{"exited=x"}, wantErr: true},
		{name: "unknown key", in: []string{"network=host"}, wantErr: true},
		{name: "one bad among good", in: []string{"name=web", "bogus=1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePsFilters(tt.in)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("filter %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func testContainers() map[string]*runtime.Container {
	mk := func(id, name, status string, code int, labels map[string]string) *runtime.Container {
		c := &runtime.Container{ID: id, Name: name, Image: "busybox"}
		c.State.Status = status
		c.State.Running = status == runtime.StatusRunning
		c.State.ExitCode = code
		c.Config.Labels = labels
		return c
	}
	return map[string]*runtime.Container{
		"web":   mk("aaaa1111", "web", runtime.StatusRunning, 0, map[string]string{"app": "shop", "tier": "front"}),
		"db":    mk("bbbb2222", "db", runtime.StatusRunning, 0, map[string]string{"app": "shop", "tier": "back"}),
		"job":   mk("cccc3333", "nightly-job", runtime.StatusExited, 0, map[string]string{"app": "batch"}),
		"crash": mk("aaaa4444", "crashy", runtime.StatusExited, 137, nil),
		"new":   mk("dddd5555", "fresh", runtime.StatusCreated, 0, map[string]string{"empty": ""}),
	}
}

func TestMatchFilters(t *testing.T) {
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := parsePsFilters(tt.filters)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, k := range tt.want {
				want[k] = true
			}
			for key, c := range cs {
				if got := matchFilters(fs, nil, c); got != want[key] {
					t.Errorf("%s (%s, %s, labels %v): match = %v, want %v", key, c.Name, c.State.Status, c.Config.Labels, got, want[key])
				}
			}
		})
	}
}

func TestStatusText(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		state runtime.State
		want  string
	}{
		{name: "created", state: runtime.State{Status: runtime.StatusCreated}, want: "Created"},
		{name: "empty status", state: runtime.State{}, want: "Created"},
		{name: "running", state: runtime.State{Status: runtime.StatusRunning, Running: true, StartedAt: now.Add(-5 * time.Minute)}, want: "Up 5 minutes"},
		{name: "paused", state: runtime.State{Status: runtime.StatusPaused, Running: true, Paused: true, StartedAt: now.Add(-3 * time.Hour)}, want: "Up 3 hours (Paused)"},
		{name: "healthy", state: runtime.State{Status: runtime.StatusRunning, StartedAt: now.Add(-10 * time.Second), Health: &runtime.HealthState{Status: "healthy"}}, want: "Up 10 seconds (healthy)"},
		{name: "unhealthy", state: runtime.State{Status: runtime.StatusRunning, StartedAt: now.Add(-2 * time.Minute), Health: &runtime.HealthState{Status: "unhealthy"}}, want: "Up 2 minutes (unhealthy)"},
		{name: "health starting", state: runtime.State{Status: runtime.StatusRunning, StartedAt: now.Add(-2 * time.Minute), Health: &runtime.HealthState{Status: "starting"}}, want: "Up 2 minutes (health: starting)"},
		{name: "exited", state: runtime.State{Status: runtime.StatusExited, ExitCode: 3, FinishedAt: now.Add(-2 * time.Hour)}, want: "Exited (3) 2 hours ago"},
		{name: "exited killed", state: runtime.State{Status: runtime.StatusExited, ExitCode: 137, FinishedAt: now.Add(-45 * time.Second)}, want: "Exited (137) 45 seconds ago"},
		{name: "restarting", state: runtime.State{Status: runtime.StatusRestarting, ExitCode: 1, FinishedAt: now.Add(-20 * time.Second)}, want: "Restarting (1) 20 seconds ago"},
		{name: "dead", state: runtime.State{Status: runtime.StatusDead, ExitCode: 1}, want: "Dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusText(&runtime.Container{State: tt.state}); got != tt.want {
				t.Errorf("statusText = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPsRowFor(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	base := func() *runtime.Container {
		c := &runtime.Container{ID: id, Name: "web", Image: "docker.io/library/busybox:latest", Path: "sh", Args: []string{"-c", "echo hi"}, Created: time.Now().Add(-time.Hour)}
		c.State.Status = runtime.StatusExited
		c.Config.Labels = map[string]string{"b": "2", "a": "1"}
		c.HostConfig.NetworkMode = "private"
		return c
	}
	tests := []struct {
		name    string
		mod     func(c *runtime.Container)
		noTrunc bool
		check   func(t *testing.T, r psRow)
	}{
		{name: "truncated", check: func(t *testing.T, r psRow) {
			if r.ID != id[:12] {
				t.Errorf("ID = %q, want %q", r.ID, id[:12])
			}
			if r.Command != `"sh -c echo hi"` {
				t.Errorf("Command = %s, want %q", r.Command, "sh -c echo hi")
			}
			if r.Names != "web" || r.State != "exited" || r.Networks != "private" {
				t.Errorf("row = %+v", r)
			}
			if r.Labels != "a=1,b=2" || r.Label("b") != "2" || r.Label("none") != "" {
				t.Errorf("Labels = %q, Label(b) = %q", r.Labels, r.Label("b"))
			}
			if r.RunningFor != "About an hour ago" {
				t.Errorf("RunningFor = %q", r.RunningFor)
			}
		}},
		{name: "long command cut at 20", mod: func(c *runtime.Container) { c.Path, c.Args = "/usr/local/bin/server", []string{"--port", "8080"} }, check: func(t *testing.T, r psRow) {
			if r.Command != `"/usr/local/bin/serv…"` {
				t.Errorf("Command = %s", r.Command)
			}
		}},
		{name: "no-trunc", noTrunc: true, mod: func(c *runtime.Container) { c.Path, c.Args = "/usr/local/bin/server", []string{"--port", "8080"} }, check: func(t *testing.T, r psRow) {
			if r.ID != id || r.Command != `"/usr/local/bin/server --port 8080"` {
				t.Errorf("ID %q, Command %s: want both whole", r.ID, r.Command)
			}
		}},
		{name: "image as named", check: func(t *testing.T, r psRow) {
			if r.Image != "busybox:latest" {
				t.Errorf("Image = %q, want busybox:latest", r.Image)
			}
		}},
		{name: "image without tag", mod: func(c *runtime.Container) { c.Image = "busybox" }, check: func(t *testing.T, r psRow) {
			if r.Image != "busybox" {
				t.Errorf("Image = %q, want busybox", r.Image)
			}
		}},
		{name: "registry image", mod: func(c *runtime.Container) { c.Image = "127.0.0.1:5000/app:1" }, check: func(t *testing.T, r psRow) {
			if r.Image != "127.0.0.1:5000/app:1" {
				t.Errorf("Image = %q", r.Image)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			if tt.mod != nil {
				tt.mod(c)
			}
			tt.check(t, psRowFor(nil, c, tt.noTrunc, false))
		})
	}
}
