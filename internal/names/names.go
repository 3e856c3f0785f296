// Package names holds Docker's rule for the names users give containers,
// volumes and networks: a letter or digit, then letters, digits, _, . and -.
package names

import "regexp"

var valid = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Valid reports whether s is a valid name.
func Valid(s string) bool { return valid.MatchString(s) }
