//go:build skiff_seccomp_cache && cgo && seccomp

package seccompcache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/seccomp/patchbpf"
	libseccomp "github.com/seccomp/libseccomp-golang"

	"github.com/skiff-project/skiff/internal/ondisk"
)

// Enabled says this build carries the patched runc that loads cached
// programs.
const Enabled = true

// Attach gives cfg its compiled program, from the cache in dir or
// compiled now and cached. It changes nothing when cfg cannot be compiled
// ahead (a seccomp agent) or anything fails: init then compiles it.
func Attach(cfg *configs.Seccomp, dir string) error {
	if cfg == nil || !patchbpf.SkiffCacheable(cfg) {
		return nil
	}
	cfg.ListenerMetadata = ""
	digest, err := patchbpf.SkiffDigest(cfg)
	if err != nil {
		return err
	}
	major, minor, micro := libseccomp.GetLibraryVersion()
	key := sha256.Sum256(fmt.Appendf(nil, "%s libseccomp %d.%d.%d", digest, major, minor, micro))
	file := filepath.Join(dir, hex.EncodeToString(key[:]))
	if data, err := os.ReadFile(file); err == nil {
		if meta := string(data); fits(meta, digest) {
			cfg.ListenerMetadata = meta
			return nil
		}
	}
	meta, err := compile(cfg)
	if err != nil {
		return err
	}
	if !fits(meta, digest) {
		return fmt.Errorf("compiled seccomp program has an unexpected form")
	}
	cfg.ListenerMetadata = meta
	return store(dir, file, meta)
}

// fits reports whether meta is a program compiled for digest; init checks
// the same again before it loads it.
func fits(meta, digest string) bool {
	f := strings.Fields(meta)
	return len(f) == 5 && f[1] == digest
}

// compile runs runc's InitSeccomp with the load left out.
func compile(cfg *configs.Seccomp) (string, error) {
	var meta string
	patchbpf.SkiffCapture = func(m string) { meta = m }
	defer func() { patchbpf.SkiffCapture = nil }()
	if _, err := lcseccomp.InitSeccomp(cfg); err != nil {
		return "", err
	}
	return meta, nil
}

// store writes the program where only this user reads it, atomically.
func store(dir, file, meta string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return ondisk.WriteStreamVolatile(file, 0o600, func(f *os.File) error {
		_, err := f.WriteString(meta)
		return err
	})
}
