package container

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/skiff-project/skiff/netns"
	"github.com/skiff-project/skiff/paths"
)

// A record with something in every part the supervisor does not use,
// and in those it does.
func lightRecord() *Container {
	stop := 5
	return &Container{
		ID: "0123456789abcdef0123456789abcdef", Name: "web", Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Path: "sh", Args: []string{"-c", "echo <&>"}, Image: "busybox", ImageID: "sha256:abc", LogPath: "/x/log.json", RestartCount: 2,
		Config: Config{Env: []string{"A=1"}, Cmd: []string{"sh"}, Labels: map[string]string{"l": "v"}, StopTimeout: &stop, Tty: true, OpenStdin: true, MacAddress: "02:42:ac:11:00:02",
			Healthcheck: &Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second}, ExposedPorts: map[string]struct{}{"80/tcp": {}}},
		HostConfig: HostConfig{Binds: []string{"/a:/b"}, Mounts: []Mount{{Type: "bind", Source: "/a", Destination: "/b"}},
			NetworkMode: "private", NetworkKind: "private", PortBindings: netns.PortMap{"80/tcp": {{HostPort: "8080"}}}, PublishAllPorts: true,
			CapAdd: []string{"NET_ADMIN"}, Security: Security{Seccomp: "unconfined"}, AutoRemove: true,
			RestartPolicy: RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, LogConfig: LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}}},
		NetworkSettings: NetworkSettings{Networks: map[string]*EndpointSettings{"n": {NetworkID: "id", Internal: true}}},
		State:           State{Status: StatusCreated, CreatorPid: 1},
	}
}

func useTempStore(t *testing.T) {
	t.Setenv(paths.EnvRootlessUID, "4242")
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	if err := os.MkdirAll(ContainersDir()+"/0123456789abcdef0123456789abcdef", 0o700); err != nil {
		t.Fatal(err)
	}
}

// ReadLight fills in what the supervisor uses exactly as ReadRecord.
func TestReadLight(t *testing.T) {
	useTempStore(t)
	want := lightRecord()
	if err := want.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLight(want.ID)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := ReadRecord(want.ID)
	for name, pair := range map[string][2]any{
		"ID": {got.ID, full.ID}, "Name": {got.Name, full.Name}, "Image": {got.Image, full.Image}, "LogPath": {got.LogPath, full.LogPath},
		"RestartCount": {got.RestartCount, full.RestartCount}, "State": {got.State, full.State}, "Labels": {got.Config.Labels, full.Config.Labels},
		"Tty": {got.Config.Tty, full.Config.Tty}, "OpenStdin": {got.Config.OpenStdin, full.Config.OpenStdin}, "Healthcheck": {got.Config.Healthcheck, full.Config.Healthcheck},
		"MacAddress":      {got.Config.MacAddress, full.Config.MacAddress},
		"NetworkSettings": {got.NetworkSettings, full.NetworkSettings}, "PublishedPorts": {got.PublishedPorts(), full.PublishedPorts()},
		"OwnNetwork": {got.OwnNetwork(), full.OwnNetwork()}, "Outbound": {got.Outbound(), full.Outbound()},
		"AutoRemove": {got.HostConfig.AutoRemove, full.HostConfig.AutoRemove}, "RestartPolicy": {got.HostConfig.RestartPolicy, full.HostConfig.RestartPolicy},
		"LogConfig": {got.HostConfig.LogConfig, full.HostConfig.LogConfig},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s: ReadLight %#v, ReadRecord %#v", name, pair[0], pair[1])
		}
	}
	if _, err := ReadLight("nope"); err == nil {
		t.Error("ReadLight of a missing container: no error")
	}
}

// UpdateLight writes the file Update would have written: the changes to
// State, NetworkSettings and RestartCount, everything else as it was.
func TestUpdateLight(t *testing.T) {
	useTempStore(t)
	c := lightRecord()
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	change := func(c *Container) error {
		c.State = State{Status: StatusRunning, Running: true, Pid: 42, StartedAt: time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC), SupervisorPid: os.Getpid(),
			Health: &HealthState{Status: "starting", Log: []HealthLog{{Output: "<ok>"}}}}
		c.NetworkSettings.Ports = netns.PortMap{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}}
		c.RestartCount++
		return nil
	}
	if _, err := UpdateLight(c.ID, change); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(recordPath(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(c.ID, change); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(recordPath(c.ID))
	if !bytes.Equal(got, want) {
		t.Errorf("UpdateLight wrote\n%s\nUpdate writes\n%s", got, want)
	}
}
