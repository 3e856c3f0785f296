package container

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/skiff-project/skiff/netns"
)

// richContainer has every field ps shows, with the strings a line must
// carry unchanged: tabs, newlines, quotes, commas, backslashes, HTML
// characters, non-ASCII and invalid UTF-8.
func richContainer() *Container {
	at := time.Date(2026, 12, 7, 15, 4, 5, 123456789, time.FixedZone("X", 3600))
	c := &Container{
		ID: strings.Repeat("ab", 32), Name: "web-1", Created: at,
		Path: "sh", Args: []string{"-c", `echo "a","b"` + "\t\n\\ <&> é \xff", "", ","},
		Image: "registry:5000/app:1", ImageID: strings.Repeat("cd", 32),
	}
	c.Config.Labels = map[string]string{"a": "1", "tab\tkey": "new\nline", "": ""}
	c.Config.Env = []string{"NOT=in the index"}
	c.HostConfig.NetworkMode = "net1"
	c.HostConfig.Mounts = []Mount{{Type: MountVolume, Source: "data", Destination: "/data", ReadOnly: true, Options: []string{"rshared"}}, {Type: "bind", Source: "/srv", Destination: "/srv"}}
	c.HostConfig.Isolation.IPv4Address = "10.89.0.7"
	c.HostConfig.Isolation.IPv6Address = "fd00::7"
	c.NetworkSettings.Ports = netns.PortMap{"80/tcp": {{HostIP: "0.0.0.0", HostPort: "8080"}}, "53/udp": nil}
	c.NetworkSettings.Networks = map[string]*EndpointSettings{"net1": {NetworkID: "n1", Aliases: []string{"web"}, IPAddress: "10.89.0.7", Gateway: "10.89.0.1", PrefixLen: 24}}
	c.State = State{Status: StatusRunning, Running: true, ExitCode: 137, Error: "oops\t\"x\"", StartedAt: at.Add(time.Second),
		Health:        &HealthState{Status: "unhealthy", FailingStreak: 3, Log: []HealthLog{{ExitCode: 1, Output: "not in the index"}}},
		SupervisorPid: 4242, CreatorPid: 77}
	return c
}

// utc puts c's times in UTC: a line keeps the instant, not the zone, and
// ps shows only instants.
func utc(c *Container) *Container {
	c.Created, c.State.StartedAt, c.State.FinishedAt = c.Created.UTC(), c.State.StartedAt.UTC(), c.State.FinishedAt.UTC()
	return c
}

// recordBrief is what ps shows of c when it reads c's record (written as
// JSON) instead of its line.
func recordBrief(t *testing.T, c *Container) *Container {
	t.Helper()
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	r := &Container{}
	if err := json.Unmarshal(data, r); err != nil {
		t.Fatal(err)
	}
	return utc(r.Brief())
}

// A container read from its index line is the Brief of its record, for
// rich containers and empty ones (nil and empty lists and maps, zero
// times, no health).
func TestPsLineRoundTrip(t *testing.T) {
	empty := &Container{ID: strings.Repeat("0", 64), Args: []string{}, State: State{Status: StatusCreated}}
	empty.Config.Labels = map[string]string{}
	bare := &Container{ID: strings.Repeat("1", 64)}
	for name, c := range map[string]*Container{"rich": richContainer(), "empty": empty, "bare": bare} {
		k := recordKey{ino: 12345, size: 2345, mtime: 1765119845123456789}
		line := psLine(c.Brief(), k)
		if strings.ContainsAny(string(line), "\n") {
			t.Fatalf("%s: line holds a newline: %q", name, line)
		}
		if !sumOK(line) {
			t.Fatalf("%s: the checksum does not hold: %q", name, line)
		}
		e, ok := splitPsLine(string(line))
		if !ok {
			t.Fatalf("%s: line does not split: %q", name, line)
		}
		if got, ok := e.key(); !ok || got != k {
			t.Errorf("%s: key %+v (%v), want %+v", name, got, ok, k)
		}
		got := &Container{}
		if !e.decode(got) {
			t.Fatalf("%s: line does not decode: %q", name, line)
		}
		if want := recordBrief(t, c); !reflect.DeepEqual(utc(got), want) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			t.Errorf("%s: from the line\n%s\nwant the record's\n%s", name, gj, wj)
		}
	}
}

// A damaged line is refused, never read as something else.
func TestPsLineDamaged(t *testing.T) {
	line := psLine(richContainer().Brief(), recordKey{ino: 1, size: 2, mtime: 3})
	bad := map[string][]byte{
		"cut":        line[:len(line)-3],
		"cut at tab": line[:strings.LastIndex(string(line), "\t")],
		"extra":      append(append([]byte{}, line...), "\t1"...),
		"other tag":  append([]byte("ps0"), line[3:]...),
		"garbage":    []byte("\x00\x00\x00"),
		"empty":      nil,
	}
	for name, b := range bad {
		e, ok := splitPsLine(string(b))
		if !ok || !sumOK(b) {
			continue
		}
		if (&e).decode(&Container{}) {
			t.Errorf("%s: damaged line %q read as a container", name, b)
		}
	}
	// A field of the wrong type, with a checksum that holds.
	fields := strings.Split(string(line), "\t")
	fields = fields[:len(fields)-1]
	for i := 1; i < len(fields); i++ {
		f := append([]string{}, fields...)
		f[i] = `{"x`
		body := strings.Join(f, "\t")
		damaged := fmt.Sprintf("%s\t%08x", body, crc32.Checksum([]byte(body), castagnoli))
		if !sumOK([]byte(damaged)) {
			t.Fatalf("field %d damaged: the test's checksum does not hold", i)
		}
		e, ok := splitPsLine(damaged)
		if !ok {
			continue
		}
		if _, keyOK := e.key(); i >= 2 && i <= 4 && keyOK {
			t.Errorf("key field %d damaged (%s): read as a key", i, f[i])
		}
		if i < 2 || i > 4 {
			if e.decode(&Container{}) {
				t.Errorf("field %d damaged (%s): read as a container", i, f[i])
			}
		}
	}
}

// The fast decoding of string lists agrees with encoding/json.
func TestPsStrings(t *testing.T) {
	for _, in := range []string{`[]`, `[""]`, `["a"]`, `["a","b c",""]`, `["a,b"]`, `["\"",","]`, `["a",]`, `["a"`, `[a]`, `["a" ,"b"]`, `["a""b"]`} {
		d := decoder{ok: true}
		var got []string
		d.strs(in, &got)
		var want []string
		err := json.Unmarshal([]byte(in), &want)
		if d.ok != (err == nil) || d.ok && !reflect.DeepEqual(got, want) {
			t.Errorf("strs(%s) = %q (ok %v), encoding/json: %q (%v)", in, got, d.ok, want, err)
		}
	}
}
