package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParseVolume(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    specs.Mount
		wantErr error
	}{
		{in: "/host:/ctr", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind"}}},
		{in: "/host:/ctr:ro", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind", "ro"}}},
		{in: "/host:/ctr:rw", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind"}}},
		{in: "/host:/ctr:ro,rw", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind"}}},
		{in: "/host:/ctr:z", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind"}}},
		{in: "/host:/ctr:Z,ro", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind", "ro"}}},
		{in: "/host:/ctr:rshared", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind", "rshared"}}},
		{in: "/host:/ctr:ro,slave", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind", "slave", "ro"}}},
		{in: "/host:/ctr:nocopy", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind"}}},
		{in: "/host/../h//x/:/ctr/./d/", want: specs.Mount{Destination: "/ctr/d", Type: "bind", Source: "/h/x", Options: []string{"rbind"}}},
		{in: "./data:/data", want: specs.Mount{Destination: "/data", Type: "bind", Source: filepath.Join(cwd, "data"), Options: []string{"rbind"}}},
		{in: "/host:ctr", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:./ctr", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:/ctr:bogus", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:/ctr:ro,exec", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:", wantErr: errdefs.ErrInvalidArgument},
		{in: ":/ctr", wantErr: errdefs.ErrInvalidArgument},
		{in: "/a:/b:ro:x", wantErr: errdefs.ErrInvalidArgument},
		{in: "relative", wantErr: errdefs.ErrInvalidArgument},
		{in: "myvol:/data", want: specs.Mount{Destination: "/data", Type: "volume", Source: "myvol"}},
		{in: "myvol:/data:ro", want: specs.Mount{Destination: "/data", Type: "volume", Source: "myvol", Options: []string{"ro"}}},
		{in: "myvol:/data:U,nocopy", want: specs.Mount{Destination: "/data", Type: "volume", Source: "myvol", Options: []string{"U", "nocopy"}}},
		{in: "/data", want: specs.Mount{Destination: "/data", Type: "volume"}},
		{in: "/host:/ctr:U", want: specs.Mount{Destination: "/ctr", Type: "bind", Source: "/host", Options: []string{"rbind", "U"}}},
		{in: "bad name!:/data", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if errors.Is(tt.wantErr, errdefs.ErrNotImplemented) && errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Errorf("a volume that is not supported yet is not an invalid argument: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			assertMount(t, got, tt.want)
		})
	}
}

func assertMount(t *testing.T, got, want specs.Mount) {
	t.Helper()
	if got.Destination != want.Destination || got.Type != want.Type || got.Source != want.Source || !slices.Equal(got.Options, want.Options) {
		t.Errorf("mount = %+v, want %+v", got, want)
	}
}

func TestParseTmpfs(t *testing.T) {
	tests := []struct {
		in       string
		wantDest string
		wantOpts []string
		wantErr  bool
	}{
		{in: "/run", wantDest: "/run", wantOpts: []string{"noexec", "nosuid", "nodev"}},
		{in: "/run/", wantDest: "/run", wantOpts: []string{"noexec", "nosuid", "nodev"}},
		{in: "/run:", wantDest: "/run", wantOpts: []string{"noexec", "nosuid", "nodev"}},
		{in: "/run:size=64m", wantDest: "/run", wantOpts: []string{"noexec", "nosuid", "nodev", "size=64m"}},
		{in: "/run:size=64m,mode=1770", wantDest: "/run", wantOpts: []string{"noexec", "nosuid", "nodev", "size=64m", "mode=1770"}},
		{in: "/run:rw,exec,uid=1000,gid=1000,nr_inodes=100", wantDest: "/run", wantOpts: []string{"noexec", "nosuid", "nodev", "rw", "exec", "uid=1000", "gid=1000", "nr_inodes=100"}},
		{in: "run", wantErr: true},
		{in: "", wantErr: true},
		{in: "/run:bogus", wantErr: true},
		{in: "/run:size", wantErr: true},
		{in: "/run:exec=1", wantErr: true},
		{in: "/run:size=1m,,ro", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTmpfs(tt.in)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			assertMount(t, got, specs.Mount{Destination: tt.wantDest, Type: "tmpfs", Source: "tmpfs", Options: tt.wantOpts})
		})
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		in      string
		want    specs.Mount
		wantErr error
	}{
		{name: "bind source target", in: "type=bind,source=" + dir + ",target=/data",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind"}}},
		{name: "bind src dst readonly", in: "type=bind,src=" + dir + ",dst=/data,readonly",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}},
		{name: "bind destination ro", in: "type=bind,src=" + dir + ",destination=/data,ro",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}},
		{name: "readonly=true", in: "type=bind,src=" + dir + ",target=/data,readonly=true",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}},
		{name: "readonly=0", in: "type=bind,src=" + dir + ",target=/data,readonly=0",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind"}}},
		{name: "upper-case keys and spaces", in: "Type=bind, Source=" + dir + ", Target=/data",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind"}}},
		{name: "bind propagation", in: "type=bind,src=" + dir + ",target=/data,bind-propagation=rslave",
			want: specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "rslave"}}},
		{name: "bind missing source dir", in: "type=bind,source=" + missing + ",target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "bind without source", in: "type=bind,target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "bind bad readonly", in: "type=bind,src=" + dir + ",target=/data,readonly=yes", wantErr: errdefs.ErrInvalidArgument},
		{name: "tmpfs", in: "type=tmpfs,target=/cache",
			want: specs.Mount{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}}},
		{name: "tmpfs size and mode", in: "type=tmpfs,dst=/cache,tmpfs-size=1m,tmpfs-mode=1777",
			want: specs.Mount{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m", "mode=1777"}}},
		{name: "tmpfs readonly", in: "type=tmpfs,target=/cache,readonly",
			want: specs.Mount{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "ro"}}},
		{name: "no target", in: "type=tmpfs", wantErr: errdefs.ErrInvalidArgument},
		{name: "relative target", in: "type=tmpfs,target=cache", wantErr: errdefs.ErrInvalidArgument},
		{name: "field without value", in: "type=tmpfs,target=/cache,bogus", wantErr: errdefs.ErrInvalidArgument},
		{name: "volume", in: "type=volume,source=vol,target=/data", want: specs.Mount{Destination: "/data", Type: "volume", Source: "vol"}},
		{name: "volume by default", in: "source=vol,target=/data", want: specs.Mount{Destination: "/data", Type: "volume", Source: "vol"}},
		{name: "anonymous volume, read-only, no copy", in: "type=volume,target=/data,readonly,volume-nocopy", want: specs.Mount{Destination: "/data", Type: "volume", Options: []string{"nocopy", "ro"}}},
		{name: "volume with a path as source", in: "type=volume,source=/x,target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "unknown type", in: "type=npipe,target=/data", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMount(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			assertMount(t, got, tt.want)
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--mount created the missing bind source %s (Docker does not): %v", missing, err)
	}
}

func TestPrepareVolumeSource(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		src  string
	}{
		{"existing directory", dir},
		{"missing directory is created", filepath.Join(dir, "a", "b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := prepareVolumeSource(specs.Mount{Source: tt.src}); err != nil {
				t.Fatalf("err = %v", err)
			}
			if st, err := os.Stat(tt.src); err != nil || !st.IsDir() {
				t.Errorf("%s is not a directory afterwards: %v", tt.src, err)
			}
		})
	}
}
