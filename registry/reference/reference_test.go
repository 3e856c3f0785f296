package reference

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, full, familiar string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"user/app", "docker.io/user/app:latest", "user/app:latest"},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"},
		{"localhost/app:v1", "localhost/app:v1", "localhost/app:v1"},
		{"quay.io/a/b/c:x", "quay.io/a/b/c:x", "quay.io/a/b/c:x"},
		{"reg:5000/app@sha256:" + sixtyFour, "reg:5000/app@sha256:" + sixtyFour, "reg:5000/app@sha256:" + sixtyFour},
		{"docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if n.String() != tt.full || n.Familiar() != tt.familiar {
				t.Fatalf("got %q / %q, want %q / %q", n.String(), n.Familiar(), tt.full, tt.familiar)
			}
		})
	}
}

const sixtyFour = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseInvalid(t *testing.T) {
	for _, in := range []string{"", "UPPER/case", "a::b", "app:", "app@sha256:short", sixtyFour, "a/b:t@x", "bad host!/x", "-app"} {
		t.Run(in, func(t *testing.T) {
			if _, err := Parse(in); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Parse(%q) = %v, want invalid argument", in, err)
			}
		})
	}
}

// FuzzParse: any string parses to an error of the invalid-argument class
// or to a reference whose full and familiar forms parse back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"busybox", "busybox:1.36", "127.0.0.1:5000/app@sha256:" + sixtyFour, "Bad", "a//b", "::", "x:y:z", "docker.io/library/busybox:latest", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("Parse(%q): %v is not an invalid argument", s, err)
			}
			return
		}
		for _, form := range []string{n.String(), n.Familiar()} {
			m, err := Parse(form)
			if err != nil || m.String() != n.String() {
				t.Fatalf("Parse(%q) = %s, but its form %q parses to %s, %v", s, n, form, m, err)
			}
		}
	})
}

// TestChecksMatchRegexps holds the hand-written checks to the regular
// expressions they replace (kept here, where compiling them costs nothing
// at start-up).
func TestChecksMatchRegexps(t *testing.T) {
	tagRe := regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
	digestRe := regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	idRe := regexp.MustCompile(`^[a-f0-9]{64}$`)
	pathRe := regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)
	hex := strings.Repeat("0123456789abcdef", 4)
	inputs := []string{"", "latest", "v1.2-rc_3", ".x", "-x", "_x", "x y", "é", "A", "x:y", "x/y",
		strings.Repeat("a", 128), strings.Repeat("a", 129), hex, hex[:63], hex + "0", strings.ToUpper(hex),
		hex[:63] + "g", "a.b", "a..b", "a_b", "a__b", "a___b", "a-b", "a---b", "a-_b", "a._b", "-a", "a-", "a.", "_a", "a__",
		"busybox", "my-app.v2__x", "ABC", "a/b", "a b", "sha256:" + hex, "sha512:" + hex, "sha256:" + hex[:63], "sha256:" + strings.ToUpper(hex)}
	for _, s := range inputs {
		if got, want := validTag(s), tagRe.MatchString(s); got != want {
			t.Errorf("validTag(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := validDigest(s), digestRe.MatchString(s); got != want {
			t.Errorf("validDigest(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := validPathComponent(s), pathRe.MatchString(s); got != want {
			t.Errorf("validPathComponent(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := IsID(s), idRe.MatchString(s); got != want {
			t.Errorf("IsID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}
