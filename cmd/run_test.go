package cmd

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestCollectEnv(t *testing.T) {
	t.Setenv("SKIFF_TEST_SET", "from-env")
	t.Setenv("SKIFF_TEST_EMPTY", "")
	os.Unsetenv("SKIFF_TEST_UNSET")
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	envFile := write("app.env", "# a comment\n\nA=1\n  B=two words  \n\t# indented comment\nSKIFF_TEST_SET\nSKIFF_TEST_UNSET\nC=x=y\n")
	second := write("second.env", "A=from-second\n")
	bad := write("bad.env", "OK=1\n=novalue\n")
	tests := []struct {
		name    string
		files   []string
		flags   []string
		want    []string
		wantErr bool
	}{
		{name: "nothing", want: nil},
		{name: "KEY=VALUE", flags: []string{"A=1", "B="}, want: []string{"A=1", "B="}},
		{name: "KEY from the environment", flags: []string{"SKIFF_TEST_SET"}, want: []string{"SKIFF_TEST_SET=from-env"}},
		{name: "KEY set but empty", flags: []string{"SKIFF_TEST_EMPTY"}, want: []string{"SKIFF_TEST_EMPTY="}},
		{name: "KEY unset is dropped", flags: []string{"SKIFF_TEST_UNSET", "A=1"}, want: []string{"A=1"}},
		{name: "env file", files: []string{envFile},
			want: []string{"A=1", "B=two words  ", "SKIFF_TEST_SET=from-env", "C=x=y"}},
		{name: "files in order, then -e", files: []string{envFile, second}, flags: []string{"A=flag"},
			want: []string{"A=1", "B=two words  ", "SKIFF_TEST_SET=from-env", "C=x=y", "A=from-second", "A=flag"}},
		{name: "empty -e", flags: []string{""}, wantErr: true},
		{name: "-e without key", flags: []string{"=1"}, wantErr: true},
		{name: "bad line in a file", files: []string{bad}, wantErr: true},
		{name: "missing file", files: []string{filepath.Join(dir, "missing.env")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := collectEnv(tt.files, tt.flags)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("collectEnv = %q, %v; want an invalid argument", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("collectEnv = %q, want %q", got, tt.want)
			}
		})
	}
}
