package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/netns"
)

// ps lists Brief containers (from the ps index): what it shows and
// filters on must be all in them.
func TestPsNeedsOnlyBrief(t *testing.T) {
	at := time.Now().Add(-time.Hour)
	c := &container.Container{ID: strings.Repeat("ab", 32), Name: "web", Created: at, Path: "sh", Args: []string{"-c", "x"},
		Image: "app:1", ImageID: strings.Repeat("cd", 32)}
	c.Config.Labels = map[string]string{"a": "1"}
	c.Config.Env = []string{"A=1"}
	c.HostConfig.NetworkMode = "net1"
	c.HostConfig.Mounts = []container.Mount{{Type: container.MountVolume, Source: "data", Destination: "/data", ReadOnly: true},
		{Type: container.MountBind, Source: "/srv", Destination: "/srv", Options: []string{"rshared"}}, {Type: container.MountTmpfs, Destination: "/t"}}
	c.HostConfig.Isolation.IPv4Address = "10.89.0.7"
	c.NetworkSettings.Ports = netns.PortMap{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}}
	c.NetworkSettings.Networks = map[string]*container.EndpointSettings{"net1": {NetworkID: "n1", Aliases: []string{"w"}, IPAddress: "10.89.0.7", Gateway: "10.89.0.1", PrefixLen: 24}}
	filters := []Filters{
		{"status": {"running"}}, {"status": {"exited"}}, {"exited": {"3"}}, {"name": {"we"}}, {"id": {"abab"}},
		{"label": {"a=1"}}, {"label": {"a=2"}}, {"ancestor": {"app:1"}}, {"network": {"net1"}}, {"network": {"other"}},
		{"volume": {"data"}}, {"volume": {"/srv"}}, {"health": {"healthy"}}, {"health": {"none"}},
	}
	states := map[string]container.State{
		"running": {Status: container.StatusRunning, Running: true, StartedAt: at, SupervisorPid: 42,
			Health: &container.HealthState{Status: "healthy", FailingStreak: 0, Log: []container.HealthLog{{Output: "ok"}}}},
		"paused":     {Status: container.StatusPaused, Running: true, Paused: true, StartedAt: at},
		"restarting": {Status: container.StatusRestarting, Restarting: true, ExitCode: 1, FinishedAt: at},
		"exited":     {Status: container.StatusExited, ExitCode: 3, StartedAt: at, FinishedAt: at.Add(time.Minute), Error: "x"},
		"created":    {Status: container.StatusCreated, CreatorPid: 7},
		"dead":       {Status: container.StatusDead, Dead: true},
		"removing":   {Status: container.StatusRemoving, RemovalInProgress: true},
	}
	for name, st := range states {
		c.State = st
		b := c.Brief()
		if got, want := summarize(b), summarize(c); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: summary of the Brief container\n%+v\nwant the record's\n%+v", name, got, want)
		}
		for _, f := range filters {
			if got, want := matchContainer(f, b, []string{c.ImageID}), matchContainer(f, c, []string{c.ImageID}); got != want {
				t.Errorf("%s: filter %v matches the Brief container: %v, the record: %v", name, f, got, want)
			}
		}
	}
}
