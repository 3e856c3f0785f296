package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

// fakeRootfs writes etc/passwd and etc/group into a temp dir.
func fakeRootfs(t *testing.T, passwd, group string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"passwd": passwd, "group": group} {
		if err := os.WriteFile(filepath.Join(root, "etc", name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100:Bob:/home/bob:/bin/sh
broken:x:1002
`

const testGroup = `root:x:0:
wheel:x:10:alice,bob
users:x:100:alice
alice:x:1000:
audio:x:29:bob,alice
staff:x:50:
`

func TestResolveUser(t *testing.T) {
	root := fakeRootfs(t, testPasswd, testGroup)
	tests := []struct {
		spec    string
		want    ExecUser
		wantErr error
	}{
		{spec: "", want: ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "root", want: ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "0", want: ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "alice", want: ExecUser{UID: 1000, GID: 1000, Groups: []int{10, 100, 29}, Home: "/home/alice"}},
		{spec: "1000", want: ExecUser{UID: 1000, GID: 1000, Groups: []int{10, 100, 29}, Home: "/home/alice"}},
		{spec: "bob", want: ExecUser{UID: 1001, GID: 100, Groups: []int{10, 29}, Home: "/home/bob"}},
		{spec: "daemon", want: ExecUser{UID: 1, GID: 1, Home: "/usr/sbin"}},
		{spec: "4242", want: ExecUser{UID: 4242, GID: 0, Home: "/"}},
		{spec: "4242:4343", want: ExecUser{UID: 4242, GID: 4343, Home: "/"}},
		{spec: "1000:50", want: ExecUser{UID: 1000, GID: 50, Home: "/home/alice"}},
		{spec: "alice:staff", want: ExecUser{UID: 1000, GID: 50, Home: "/home/alice"}},
		{spec: "alice:users", want: ExecUser{UID: 1000, GID: 100, Home: "/home/alice"}},
		{spec: "4242:wheel", want: ExecUser{UID: 4242, GID: 10, Home: "/"}},
		{spec: "nobody", wantErr: errdefs.ErrNotFound},
		{spec: "nobody:users", wantErr: errdefs.ErrNotFound},
		{spec: "alice:nogroup", wantErr: errdefs.ErrNotFound},
		{spec: "broken", wantErr: errdefs.ErrNotFound},
		{spec: ":users", wantErr: errdefs.ErrInvalidArgument},
		{spec: "alice:", wantErr: errdefs.ErrInvalidArgument},
		{spec: "-1", wantErr: errdefs.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := resolveUser(root, tt.spec)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home || !slices.Equal(got.Groups, tt.want.Groups) {
				t.Errorf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

func TestResolveUserWithoutEtcFiles(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		spec    string
		want    ExecUser
		wantErr error
	}{
		{spec: "", want: ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{spec: "1000", want: ExecUser{UID: 1000, GID: 0, Home: "/"}},
		{spec: "1000:1000", want: ExecUser{UID: 1000, GID: 1000, Home: "/"}},
		{spec: "root", wantErr: errdefs.ErrNotFound},
		{spec: "1000:users", wantErr: errdefs.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := resolveUser(root, tt.spec)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.UID != tt.want.UID || got.GID != tt.want.GID || got.Home != tt.want.Home || len(got.Groups) != 0 {
				t.Errorf("resolveUser(%q) = %+v, want %+v", tt.spec, got, tt.want)
			}
		})
	}
}

// An image's /etc/passwd that is a symlink out of the rootfs must be read
// inside the rootfs, never from the host.
func TestResolveUserSymlinkStaysInRootfs(t *testing.T) {
	host := fakeRootfs(t, "hostonly:x:777:777::/host:/bin/sh\n", "")
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(host, "etc", "passwd"), filepath.Join(root, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if u, err := resolveUser(root, "hostonly"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("resolved %+v through a symlink out of the rootfs (err %v)", u, err)
	}
}

func TestExecUserString(t *testing.T) {
	if got := (ExecUser{UID: 1000, GID: 100}).String(); got != "1000:100" {
		t.Errorf("String() = %q, want 1000:100", got)
	}
}
