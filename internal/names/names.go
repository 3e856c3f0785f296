// Package names holds Docker's rule for the names users give containers,
// volumes and networks (a letter or digit, then letters, digits, _, . and
// -), and the 64-hex IDs objects get.
package names

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"sync"
)

// valid is compiled at its first use, not at every start of skiff.
var valid = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// Valid reports whether s is a valid name.
func Valid(s string) bool { return valid().MatchString(s) }

// NewID is a new random 64-hex ID, as Docker's container, network,
// volume and exec IDs.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (Go 1.24: it crashes the program instead)
	return hex.EncodeToString(b)
}
