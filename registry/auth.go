package registry

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/skiff-project/skiff/errdefs"
)

// Credentials live where Docker keeps them, ~/.docker/config.json (or
// $DOCKER_CONFIG), and credential helpers configured there are used, so
// `docker login` users are at home.

// serverKey is the config.json key for a registry host, as Docker
// writes it (Docker Hub keeps its historical URL).
func serverKey(host string) string {
	switch host {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return "https://index.docker.io/v1/"
	}
	return host
}

// Credentials are what a client sends for a registry: a user and
// password, or a token the registry gave before.
type Credentials struct {
	Username, Password string
	IdentityToken      string // an OAuth refresh token
	RegistryToken      string // a bearer token sent as it is
}

func (c *Credentials) authenticator() authn.Authenticator {
	if c.Username == "" && c.Password == "" && c.IdentityToken == "" && c.RegistryToken == "" {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: c.Password,
		IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken})
}

// Login checks user and password against the registry and stores them.
func Login(ctx context.Context, host, user, password string, tlsVerify *bool) error {
	if host == "" {
		host = "docker.io"
	}
	if err := CheckLogin(ctx, host, user, password, tlsVerify); err != nil {
		return err
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return fmt.Errorf("reading %s: %w", filepath.Join(config.Dir(), config.ConfigFileName), err)
	}
	key := serverKey(host)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{ServerAddress: key, Username: user, Password: password}); err != nil {
		return fmt.Errorf("storing the credentials for %s: %w", host, err)
	}
	if err := cf.Save(); err != nil {
		return err
	}
	return os.Chmod(cf.Filename, 0o600)
}

// CheckLogin checks user and password against the registry, storing
// nothing (the API's /auth: the client keeps its own credentials).
func CheckLogin(ctx context.Context, host, user, password string, tlsVerify *bool) error {
	if host == "" {
		host = "docker.io"
	}
	if user == "" || password == "" {
		return errdefs.Invalid("login to %s: a username and a password are needed (-u, and -p or --password-stdin)", host)
	}
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	insecure := cfg.Insecure(host)
	var opts []name.Option
	if (tlsVerify == nil && insecure) || (tlsVerify != nil && !*tlsVerify) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return errdefs.Invalid("login: invalid registry %q: %v", host, err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	tr, err := cfg.transport(host, insecure, tlsVerify)
	if err != nil {
		return err
	}
	failed := func(err error) error {
		if hint := cfg.certHint(host, err); hint != "" {
			return fmt.Errorf("login to %s: %s: %w", host, hint, errdefs.ErrUnavailable)
		}
		return fmt.Errorf("login to %s: %v: %w", host, err, errdefs.ErrUnavailable)
	}
	// Asking for pull access to the registry proves the credentials; a
	// registry that needs none also accepts them.
	unauthorized := fmt.Errorf("login to %s: unauthorized: wrong username or password: %w", host, errdefs.ErrInvalidArgument)
	rt, err := transport.NewWithContext(ctx, reg, auth, tr, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		if terr, ok := err.(*transport.Error); ok && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
			return unauthorized
		}
		return failed(err)
	}
	// A token registry has checked the credentials already; one with
	// basic auth only does so on a real request.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s://%s/v2/", reg.Scheme(), reg.RegistryStr()), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return failed(err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return unauthorized
	case resp.StatusCode >= 300:
		return fmt.Errorf("login to %s: the registry answered %s: %w", host, resp.Status, errdefs.ErrUnavailable)
	}
	return nil
}

// Logout removes the stored credentials of a registry.
func Logout(host string) error {
	cf, err := config.Load(config.Dir())
	if err != nil {
		return err
	}
	key := serverKey(host)
	if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
		return errdefs.NotFound("not logged in to %s", displayHost(host))
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return fmt.Errorf("removing the credentials for %s: %w", displayHost(host), err)
	}
	return cf.Save()
}

func displayHost(host string) string {
	if host == "" {
		return "docker.io"
	}
	return host
}
