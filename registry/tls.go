package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/skiff-project/skiff/errdefs"
)

// hostCerts are the certificates certs.d holds for one registry host.
type hostCerts struct {
	cas    []string // *.crt files
	client *tls.Certificate
}

// readCerts reads DIR/HOST/ of every certs.d directory as Docker does:
// *.crt are CA certificates, *.cert with the *.key of the same name a
// client certificate (the first pair found is used).
func (c *Config) readCerts(host string) (*hostCerts, error) {
	hc := &hostCerts{}
	for _, d := range c.CertDirs {
		dir := filepath.Join(d, host)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", dir, err)
		}
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		for _, name := range names {
			p := filepath.Join(dir, name)
			switch filepath.Ext(name) {
			case ".crt":
				hc.cas = append(hc.cas, p)
			case ".cert":
				key := strings.TrimSuffix(p, ".cert") + ".key"
				pair, err := tls.LoadX509KeyPair(p, key)
				if err != nil {
					return nil, errdefs.Invalid("loading the client certificate %s with %s: %v", p, key, err)
				}
				if hc.client == nil {
					hc.client = &pair
				}
			case ".key":
				if _, err := os.Stat(strings.TrimSuffix(p, ".key") + ".cert"); err != nil {
					return nil, errdefs.Invalid("missing client certificate %s.cert for key %s", strings.TrimSuffix(p, ".key"), p)
				}
			}
		}
	}
	return hc, nil
}

// transport is the HTTP transport for one registry host: certs.d's CA
// certificates added to the system's and its client certificate. TLS is
// not verified when verify says so, or when it is unset and the host is
// insecure without a CA of its own in certs.d (a CA there means the
// user wants it verified, loopback included).
func (c *Config) transport(host string, insecure bool, verify *bool) (http.RoundTripper, error) {
	hc, err := c.readCerts(host)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// HTTP/1.1, as a registry needs no more: over HTTP/2 a server's refusal
	// of the client's certificate reaches us as "http2: client conn could
	// not be established", without the TLS alert that certHint explains.
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(hc.cas) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range hc.cas {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if !pool.AppendCertsFromPEM(data) {
				return nil, errdefs.Invalid("%s holds no PEM certificate: put the registry's CA certificate there", f)
			}
		}
		cfg.RootCAs = pool
	}
	if hc.client != nil {
		cfg.Certificates = []tls.Certificate{*hc.client}
	}
	switch {
	case verify != nil:
		cfg.InsecureSkipVerify = !*verify //nolint:gosec // --tls-verify=false asked for it
	default:
		cfg.InsecureSkipVerify = insecure && len(hc.cas) == 0 //nolint:gosec // an insecure registry, as in Docker
	}
	tr.TLSClientConfig = cfg
	return tr, nil
}

// certHint turns a TLS failure into what to do about it, naming the
// certs.d directory of host; "" when err is no certificate problem.
func (c *Config) certHint(host string, err error) string {
	msg := err.Error()
	dir := filepath.Join(c.CertDirs[0], host)
	switch {
	case strings.Contains(msg, "x509:"):
		return fmt.Sprintf("the TLS certificate of %s is not trusted (%s): put the CA certificate that signed it in %s", host, x509Cause(msg), filepath.Join(dir, "ca.crt"))
	case strings.Contains(msg, "tls: certificate required"), strings.Contains(msg, "tls: bad certificate"),
		strings.Contains(msg, "tls: unknown certificate authority"), strings.Contains(msg, "tls: unknown certificate"):
		return fmt.Sprintf("%s wants a TLS client certificate it trusts (%s): put client.cert and client.key in %s/", host, tlsCause(msg), dir)
	}
	return ""
}

func x509Cause(msg string) string {
	i := strings.Index(msg, "x509:")
	cause := msg[i:]
	if j := strings.IndexAny(cause, ";\n"); j >= 0 {
		cause = cause[:j]
	}
	return cause
}

func tlsCause(msg string) string {
	i := strings.Index(msg, "tls: ")
	cause := msg[i:]
	if j := strings.IndexAny(cause, ";\n"); j >= 0 {
		cause = cause[:j]
	}
	return "remote error: " + cause
}
