package names

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, "web-1": true, "A_b.c-d": true, "0x": true,
		"": false, "-a": false, "_a": false, ".a": false, "a b": false, "a/b": false, "é": false, "a:b": false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID(), NewID()
	if len(a) != 64 || a == b {
		t.Fatalf("NewID: %q, %q", a, b)
	}
}
