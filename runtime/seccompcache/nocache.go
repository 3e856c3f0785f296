//go:build !(skiff_seccomp_cache && cgo && seccomp)

package seccompcache

import "github.com/opencontainers/runc/libcontainer/configs"

// Enabled says this build carries the patched runc that loads cached
// programs: not this one (built without `make build`).
const Enabled = false

// Attach does nothing in this build: init compiles the program.
func Attach(*configs.Seccomp, string) error { return nil }
