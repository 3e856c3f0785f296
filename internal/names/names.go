// Package names holds Docker's rule for the names users give containers,
// volumes and networks (a letter or digit, then letters, digits, _, . and
// -), and the 64-hex IDs objects get.
//
// It is linked into the resident per-container supervisor (through
// package container), so it stays free of regexp and crypto/rand: both
// add hundreds of KiB of code and start-up work to every container.
package names

import (
	"encoding/hex"

	"golang.org/x/sys/unix"
)

// Valid reports whether s is a valid name: ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}

// NewID is a new random 64-hex ID, as Docker's container, network,
// volume and exec IDs. The bytes come from getrandom(2), the kernel's
// source that crypto/rand reads too.
func NewID() string {
	b := make([]byte, 32)
	for got := 0; got < len(b); {
		n, err := unix.Getrandom(b[got:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			panic("getrandom: " + err.Error()) // as crypto/rand.Read since Go 1.24
		}
		got += n
	}
	return hex.EncodeToString(b)
}
