package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/netns"
)

// The supervisor stays resident once per running container, and
// encoding/json keeps what it learnt of every type it decoded or encoded
// for as long as the process lives: for the whole record's types (mounts,
// resources, isolation, ...) that and the garbage of learning it are
// about 200 KiB of the supervisor's own memory. ReadLight and UpdateLight
// read and write the record as the supervisor needs it: the record's
// members one by one, decoding only those the supervisor uses, into the
// same types, and writing back only State, NetworkSettings and
// RestartCount, the others kept byte for byte.

// lightHost is the part of HostConfig the supervisor uses.
type lightHost struct {
	NetworkKind     string        `json:"NetworkKind"`
	PortBindings    netns.PortMap `json:"PortBindings"`
	PublishAllPorts bool          `json:"PublishAllPorts"`
	AutoRemove      bool          `json:"AutoRemove"`
	RestartPolicy   RestartPolicy `json:"RestartPolicy"`
	LogConfig       LogConfig     `json:"LogConfig"`
}

// lightConfig is the part of Config the supervisor uses.
type lightConfig struct {
	Labels       map[string]string   `json:"Labels"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	Healthcheck  *Healthcheck        `json:"Healthcheck,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	MacAddress   string              `json:"MacAddress,omitempty"`
}

// member is one top-level member of a record, in the record's order.
type member struct {
	key string
	raw json.RawMessage
}

// ReadLight reads container id's record as ReadRecord does (the state
// corrected when its supervisor is gone), with only what a supervisor
// uses filled in: ID, Name, Image, LogPath, RestartCount, State,
// NetworkSettings, Config's Labels, Tty, OpenStdin, Healthcheck,
// ExposedPorts and MacAddress, and HostConfig's network, ports,
// AutoRemove, RestartPolicy and LogConfig.
func ReadLight(id string) (*Container, error) {
	c, _, err := readLight(id)
	return c, err
}

// UpdateLight is Update for the supervisor (see ReadLight): fn may change
// State, NetworkSettings and RestartCount only; the rest of the record is
// written back as it was read.
func UpdateLight(id string, fn func(*Container) error) (*Container, error) {
	unlock, err := Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, members, err := readLight(id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return c, err
	}
	for key, v := range map[string]any{"State": &c.State, "NetworkSettings": &c.NetworkSettings, "RestartCount": c.RestartCount} {
		raw, err := json.Marshal(v)
		if err != nil {
			return c, err
		}
		members = setMember(members, key, raw)
	}
	return c, writeMembers(c, recordPath(id), members)
}

func readLight(id string) (*Container, []member, error) {
	path := recordPath(id)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, errdefs.NotFound("no such container: %s", id)
	}
	if err != nil {
		return nil, nil, err
	}
	members, err := splitMembers(data)
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s: %w", path, err)
	}
	c := &Container{}
	var host lightHost
	var config lightConfig
	into := map[string]any{
		"Id": &c.ID, "Name": &c.Name, "Image": &c.Image, "LogPath": &c.LogPath,
		"RestartCount": &c.RestartCount, "Config": &config, "State": &c.State,
		"NetworkSettings": &c.NetworkSettings, "HostConfig": &host,
	}
	for _, m := range members {
		if v := into[m.key]; v != nil {
			if err := json.Unmarshal(m.raw, v); err != nil {
				return nil, nil, fmt.Errorf("reading %s: %s: %w", path, m.key, err)
			}
		}
	}
	c.Config.Labels, c.Config.Tty, c.Config.OpenStdin = config.Labels, config.Tty, config.OpenStdin
	c.Config.Healthcheck, c.Config.ExposedPorts, c.Config.MacAddress = config.Healthcheck, config.ExposedPorts, config.MacAddress
	c.HostConfig.NetworkKind, c.HostConfig.PortBindings, c.HostConfig.PublishAllPorts = host.NetworkKind, host.PortBindings, host.PublishAllPorts
	c.HostConfig.AutoRemove, c.HostConfig.RestartPolicy, c.HostConfig.LogConfig = host.AutoRemove, host.RestartPolicy, host.LogConfig
	c.correctState()
	return c, members, nil
}

// splitMembers splits a JSON object into its members, in order.
func splitMembers(data []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		out = append(out, member{key, raw})
	}
	return out, nil
}

func setMember(members []member, key string, raw json.RawMessage) []member {
	for i := range members {
		if members[i].key == key {
			members[i].raw = raw
			return members
		}
	}
	return append(members, member{key, raw})
}

// writeMembers writes the members as one object, indented as Save
// writes a record, atomically.
func writeMembers(c *Container, path string, members []member) error {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(m.key)
		b.Write(key)
		b.WriteByte(':')
		b.Write(m.raw)
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writeRecord(c, path, func(f *os.File) error {
		_, err := f.Write(out.Bytes())
		return err
	})
}
