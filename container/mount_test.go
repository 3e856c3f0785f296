package container

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParseVolume(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    Mount
		wantErr error
	}{
		{in: "/host:/ctr", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr"}},
		{in: "/host:/ctr:ro", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr", ReadOnly: true}},
		{in: "/host:/ctr:rw", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr"}},
		{in: "/host:/ctr:ro,rw", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr"}},
		{in: "/host:/ctr:z", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr"}},
		{in: "/host:/ctr:Z,ro", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr", ReadOnly: true}},
		{in: "/host:/ctr:rshared", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr", Options: []string{"rshared"}}},
		{in: "/host:/ctr:ro,slave", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr", ReadOnly: true, Options: []string{"slave"}}},
		{in: "/host:/ctr:nocopy", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr"}},
		{in: "/host/../h//x/:/ctr/./d/", want: Mount{Type: "bind", Source: "/h/x", Destination: "/ctr/d"}},
		{in: "./data:/data", want: Mount{Type: "bind", Source: filepath.Join(cwd, "data"), Destination: "/data"}},
		{in: "/host:ctr", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:./ctr", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:/ctr:bogus", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:/ctr:ro,exec", wantErr: errdefs.ErrInvalidArgument},
		{in: "/host:", wantErr: errdefs.ErrInvalidArgument},
		{in: ":/ctr", wantErr: errdefs.ErrInvalidArgument},
		{in: "/a:/b:ro:x", wantErr: errdefs.ErrInvalidArgument},
		{in: "relative", wantErr: errdefs.ErrInvalidArgument},
		{in: "myvol:/data", want: Mount{Type: "volume", Source: "myvol", Destination: "/data"}},
		{in: "myvol:/data:ro", want: Mount{Type: "volume", Source: "myvol", Destination: "/data", ReadOnly: true}},
		{in: "myvol:/data:U,nocopy", want: Mount{Type: "volume", Source: "myvol", Destination: "/data", Chown: true, NoCopy: true}},
		{in: "/data", want: Mount{Type: "volume", Destination: "/data"}},
		{in: "/host:/ctr:U", want: Mount{Type: "bind", Source: "/host", Destination: "/ctr", Chown: true}},
		{in: "bad name!:/data", wantErr: errdefs.ErrInvalidArgument},
		{in: "/tmp:/", wantErr: errdefs.ErrInvalidArgument},
		{in: "/tmp:/.", wantErr: errdefs.ErrInvalidArgument},
		{in: "myvol:/", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVolume(tt.in, cwd)
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

func assertMount(t *testing.T, got, want Mount) {
	t.Helper()
	if got.Destination != want.Destination || got.Type != want.Type || got.Source != want.Source || !slices.Equal(got.Options, want.Options) ||
		got.ReadOnly != want.ReadOnly || got.Chown != want.Chown || got.NoCopy != want.NoCopy {
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
			assertMount(t, got, Mount{Destination: tt.wantDest, Type: "tmpfs", Options: tt.wantOpts})
		})
	}
}

func TestParseMount(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		in      string
		want    Mount
		wantErr error
	}{
		{name: "bind source target", in: "type=bind,source=" + dir + ",target=/data",
			want: Mount{Type: "bind", Source: dir, Destination: "/data"}},
		{name: "bind src dst readonly", in: "type=bind,src=" + dir + ",dst=/data,readonly",
			want: Mount{Type: "bind", Source: dir, Destination: "/data", ReadOnly: true}},
		{name: "bind destination ro", in: "type=bind,src=" + dir + ",destination=/data,ro",
			want: Mount{Type: "bind", Source: dir, Destination: "/data", ReadOnly: true}},
		{name: "readonly=true", in: "type=bind,src=" + dir + ",target=/data,readonly=true",
			want: Mount{Type: "bind", Source: dir, Destination: "/data", ReadOnly: true}},
		{name: "readonly=0", in: "type=bind,src=" + dir + ",target=/data,readonly=0",
			want: Mount{Type: "bind", Source: dir, Destination: "/data"}},
		{name: "upper-case keys and spaces", in: "Type=bind, Source=" + dir + ", Target=/data",
			want: Mount{Type: "bind", Source: dir, Destination: "/data"}},
		{name: "bind propagation", in: "type=bind,src=" + dir + ",target=/data,bind-propagation=rslave",
			want: Mount{Type: "bind", Source: dir, Destination: "/data", Options: []string{"rslave"}}},
		{name: "bind missing source dir", in: "type=bind,source=" + missing + ",target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "bind without source", in: "type=bind,target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "bind bad readonly", in: "type=bind,src=" + dir + ",target=/data,readonly=yes", wantErr: errdefs.ErrInvalidArgument},
		{name: "tmpfs", in: "type=tmpfs,target=/cache",
			want: Mount{Type: "tmpfs", Destination: "/cache", Options: []string{"nosuid", "nodev"}}},
		{name: "tmpfs size and mode", in: "type=tmpfs,dst=/cache,tmpfs-size=1m,tmpfs-mode=1777",
			want: Mount{Type: "tmpfs", Destination: "/cache", Options: []string{"nosuid", "nodev", "size=1m", "mode=1777"}}},
		{name: "tmpfs readonly", in: "type=tmpfs,target=/cache,readonly",
			want: Mount{Type: "tmpfs", Destination: "/cache", ReadOnly: true, Options: []string{"nosuid", "nodev"}}},
		{name: "no target", in: "type=tmpfs", wantErr: errdefs.ErrInvalidArgument},
		{name: "relative target", in: "type=tmpfs,target=cache", wantErr: errdefs.ErrInvalidArgument},
		{name: "field without value", in: "type=tmpfs,target=/cache,bogus", wantErr: errdefs.ErrInvalidArgument},
		{name: "volume", in: "type=volume,source=vol,target=/data", want: Mount{Type: "volume", Source: "vol", Destination: "/data"}},
		{name: "volume by default", in: "source=vol,target=/data", want: Mount{Type: "volume", Source: "vol", Destination: "/data"}},
		{name: "anonymous volume, read-only, no copy", in: "type=volume,target=/data,readonly,volume-nocopy", want: Mount{Type: "volume", Destination: "/data", ReadOnly: true, NoCopy: true}},
		{name: "volume with a path as source", in: "type=volume,source=/x,target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "unknown type", in: "type=npipe,target=/data", wantErr: errdefs.ErrInvalidArgument},
		{name: "target is the root", in: "type=bind,source=" + dir + ",target=/", wantErr: errdefs.ErrInvalidArgument},
		{name: "relative source without a directory", in: "type=bind,source=.,target=/data", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMount(tt.in, "")
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

// A relative bind source is resolved against the directory it is given
// (the caller's), never against the process's own working directory, and
// refused when there is none (the API's Binds).
func TestRelativeBindSources(t *testing.T) {
	dir := t.TempDir()
	m, err := ParseVolume("./etc:/x:ro", dir)
	if err != nil || m.Source != filepath.Join(dir, "etc") || m.Bind != filepath.Join(dir, "etc")+":/x:ro" {
		t.Errorf("ParseVolume(./etc:/x:ro, %s) = %+v, %v", dir, m, err)
	}
	if m, err = ParseVolume(".:/src", dir); err != nil || m.Source != dir {
		t.Errorf("ParseVolume(.:/src) = %+v, %v, want source %s", m, err, dir)
	}
	if _, err := ParseVolume("./etc:/x", ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("relative source without a directory: err = %v, want an invalid argument", err)
	}
	if m, err = ParseMount("type=bind,source=.,target=/data", dir); err != nil || m.Source != dir {
		t.Errorf("ParseMount relative = %+v, %v", m, err)
	}
}

// FuzzParseVolume: -v never panics; what it accepts has an absolute,
// clean destination other than /, an absolute, clean bind source, and a
// Binds form that parses back to the same mount.
func FuzzParseVolume(f *testing.F) {
	for _, s := range []string{"/host:/ctr:ro", "./rel:/x", ".:/src", "vol:/data:U,nocopy", "/data", "/tmp:/", "a:b:c:d", ":/x", "/h:/c:rshared,Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseVolume(s, "/base")
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ParseVolume(%q): %v is not an invalid argument", s, err)
			}
			return
		}
		if !filepath.IsAbs(m.Destination) || filepath.Clean(m.Destination) != m.Destination || m.Destination == "/" {
			t.Fatalf("ParseVolume(%q): destination %q", s, m.Destination)
		}
		if m.Type == MountBind && (!filepath.IsAbs(m.Source) || filepath.Clean(m.Source) != m.Source) {
			t.Fatalf("ParseVolume(%q): bind source %q", s, m.Source)
		}
		again, err := ParseVolume(m.Bind, "")
		if err != nil || again.Source != m.Source || again.Destination != m.Destination || again.ReadOnly != m.ReadOnly || again.Type != m.Type {
			t.Fatalf("ParseVolume(%q) = %+v, but its Binds form %q parses to %+v, %v", s, m, m.Bind, again, err)
		}
	})
}

// FuzzParseMount: --mount and --tmpfs never panic, and what they accept
// has an absolute, clean destination other than /.
func FuzzParseMount(f *testing.F) {
	for _, s := range []string{"type=bind,source=/tmp,target=/data,readonly", "type=tmpfs,target=/c,tmpfs-size=1m", "type=volume,target=/d,volume-nocopy", "target=/x", "type=bind,src=.,dst=/y", ",,,", "type=tmpfs,target=/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func(string) (Mount, error){
			func(s string) (Mount, error) { return ParseMount(s, "/tmp") },
			ParseTmpfs,
		} {
			m, err := parse(s)
			if err != nil {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("%q: %v is not an invalid argument", s, err)
				}
				continue
			}
			if !filepath.IsAbs(m.Destination) || filepath.Clean(m.Destination) != m.Destination || m.Destination == "/" {
				t.Fatalf("%q: destination %q", s, m.Destination)
			}
		}
	})
}
