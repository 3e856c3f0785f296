package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"
)

// AuthRegistry is a second local registry that wants credentials: Debian's
// docker-registry with htpasswd (basic) authentication on 127.0.0.1, over
// plain HTTP like the first one (docker-registry 2.8 documents that htpasswd
// should go with TLS but does not enforce it; skiff speaks plain HTTP to
// loopback registries, as Docker does).
type AuthRegistry struct {
	// Addr is its host:port, "127.0.0.1:PORT".
	Addr string
	// User and Password are the only credentials it accepts. The password
	// is random per test binary.
	User, Password string
	// Busybox is the busybox test image pushed to it as Addr/busybox:latest.
	// Its Ref and DigestRef name this registry.
	Busybox *Image
}

// AuthUserName is the user the authenticated registry knows.
const AuthUserName = "tester"

// AuthRealm is the basic-authentication realm of the authenticated registry.
const AuthRealm = "skiff-test"

var (
	authOnce sync.Once
	authReg  *AuthRegistry
	authProc *registryProcess
	authErr  error
)

// NeedAuthRegistry starts the authenticated registry on first use (once per
// test binary; Teardown stops it) and returns it. It fails t if the
// registry cannot be started.
func NeedAuthRegistry(t testing.TB) *AuthRegistry {
	t.Helper()
	skipIfUnavailable(t)
	ar, err := authRegistry()
	if err != nil {
		t.Fatalf("authenticated registry: %v", err)
	}
	return ar
}

// authRegistry starts the authenticated registry once.
func authRegistry() (*AuthRegistry, error) {
	authOnce.Do(func() { authReg, authErr = startAuthRegistry() })
	return authReg, authErr
}

func startAuthRegistry() (*AuthRegistry, error) {
	dir := filepath.Join(workDir, "registry-auth")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	password := hex.EncodeToString(b)
	// The registry checks the hash on every request: the lowest cost keeps
	// a push of several blobs fast.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(AuthUserName+":"+string(hash)+"\n"), 0o600); err != nil {
		return nil, err
	}
	auth := fmt.Sprintf("auth:\n  htpasswd:\n    realm: %s\n    path: %s\n", AuthRealm, htpasswd)
	p, err := startRegistryWith(dir, auth, http.StatusUnauthorized)
	if err != nil {
		return nil, fmt.Errorf("starting docker-registry with htpasswd auth: %w", err)
	}
	authProc = p
	ar := &AuthRegistry{Addr: p.addr, User: AuthUserName, Password: password}
	img, err := imageSpec{config: busyboxConfig()}.build()
	if err != nil {
		return nil, err
	}
	ref, err := name.ParseReference(p.addr+"/busybox:latest", name.Insecure)
	if err != nil {
		return nil, err
	}
	ctx, cancel := pushContext()
	defer cancel()
	basic := authn.FromConfig(authn.AuthConfig{Username: AuthUserName, Password: password})
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(basic)); err != nil {
		return nil, fmt.Errorf("pushing %s: %w", ref, err)
	}
	if ar.Busybox, err = describe("busybox", img); err != nil {
		return nil, err
	}
	ar.Busybox.Ref = ref.String()
	return ar, nil
}

// Ref is Addr/repo (no tag).
func (a *AuthRegistry) Ref(repo string) string { return a.Addr + "/" + repo }

// DigestRef is Addr/repo@digest.
func (a *AuthRegistry) DigestRef(img *Image) string {
	return a.Addr + "/" + img.Repo + "@" + img.Digest
}

// stopAuthRegistry stops the authenticated registry if a test started it.
func stopAuthRegistry() {
	if authProc != nil {
		authProc.stop()
		authProc = nil
	}
}

// DockerConfigPath is u's Docker client configuration, where skiff login
// keeps credentials: ~/.docker/config.json.
func (u *User) DockerConfigPath() string {
	return filepath.Join(u.Home, ".docker", "config.json")
}

// ResetDockerConfig removes u's ~/.docker now and when t ends, so a test
// starts and leaves the user logged in nowhere. Tests that log in or out
// share this file: they must not run in parallel with each other.
func ResetDockerConfig(t testing.TB, u *User) {
	t.Helper()
	dir := filepath.Dir(u.DockerConfigPath())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
}
