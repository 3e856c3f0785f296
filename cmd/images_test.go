package cmd

import (
	"errors"
	"slices"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestImageFilters(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name     string
		in       []string
		dangling *bool
		refs     []string
		wantErr  bool
	}{
		{name: "none"},
		{name: "dangling=true", in: []string{"dangling=true"}, dangling: &yes},
		{name: "dangling=false", in: []string{"dangling=false"}, dangling: &no},
		{name: "last dangling wins", in: []string{"dangling=true", "dangling=false"}, dangling: &no},
		{name: "references", in: []string{"reference=busybox", "reference=*/app:1"}, refs: []string{"busybox", "*/app:1"}},
		{name: "both", in: []string{"reference=busybox", "dangling=false"}, dangling: &no, refs: []string{"busybox"}},
		{name: "dangling bad value", in: []string{"dangling=yes"}, wantErr: true},
		{name: "unknown key", in: []string{"label=a"}, wantErr: true},
		{name: "no =", in: []string{"dangling"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dangling, refs, err := imageFilters(tt.in)
			if tt.wantErr {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want an invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if (dangling == nil) != (tt.dangling == nil) || dangling != nil && *dangling != *tt.dangling {
				t.Errorf("dangling = %v, want %v", fmtBoolPtr(dangling), fmtBoolPtr(tt.dangling))
			}
			if !slices.Equal(refs, tt.refs) {
				t.Errorf("refs = %q, want %q", refs, tt.refs)
			}
		})
	}
}

func fmtBoolPtr(b *bool) string {
	if b == nil {
		return "unset"
	}
	if *b {
		return "true"
	}
	return "false"
}

func TestMatchesRef(t *testing.T) {
	tests := []struct {
		name string
		row  imageRow
		pats []string
		want bool
	}{
		{name: "exact repository", row: imageRow{Repository: "busybox", Tag: "latest"}, pats: []string{"busybox"}, want: true},
		{name: "repository and tag", row: imageRow{Repository: "busybox", Tag: "1.36"}, pats: []string{"busybox:1.36"}, want: true},
		{name: "wrong tag", row: imageRow{Repository: "busybox", Tag: "1.36"}, pats: []string{"busybox:latest"}, want: false},
		{name: "glob over the registry", row: imageRow{Repository: "127.0.0.1:5000/app", Tag: "1"}, pats: []string{"*/app"}, want: true},
		{name: "glob does not cross /", row: imageRow{Repository: "127.0.0.1:5000/team/app", Tag: "1"}, pats: []string{"*/app"}, want: false},
		{name: "glob tag needs the tag", row: imageRow{Repository: "localhost/app", Tag: "1"}, pats: []string{"localhost/*:2"}, want: false},
		{name: "any of several", row: imageRow{Repository: "alpine", Tag: "3"}, pats: []string{"busybox", "alp*"}, want: true},
		{name: "no patterns", row: imageRow{Repository: "alpine"}, pats: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matchesRef(tt.row, tt.pats); got != tt.want {
				t.Errorf("matchesRef(%+v, %q) = %v, want %v", tt.row, tt.pats, got, tt.want)
			}
		})
	}
}

// A registry with a port, as in 127.0.0.1:5000/app, is the usual private
// registry; its images must be found by reference=.
func TestMatchesRefRegistryPort(t *testing.T) {
	row := imageRow{Repository: "127.0.0.1:5000/app", Tag: "1"}
	for _, pat := range []string{"127.0.0.1:5000/app", "127.0.0.1:5000/app:1", "127.0.0.1:5000/*"} {
		t.Run(pat, func(t *testing.T) {
			if !matchesRef(row, []string{pat}) {
				t.Fatalf("--filter reference=%s does not match %s:%s: matchesRef cuts the pattern at the registry's port colon", pat, row.Repository, row.Tag)
			}
		})
	}
}
