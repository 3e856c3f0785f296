package harness

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ExtraRegistry is a registry a test starts for itself (a mirror, a TLS
// registry): Debian's docker-registry on a free 127.0.0.1 port.
type ExtraRegistry struct {
	// Addr is its host:port, "127.0.0.1:PORT".
	Addr string
	proc *registryProcess
}

// RegistryTLS makes an extra registry speak HTTPS with Cert and Key (PEM
// files), and want client certificates signed by ClientCA when it is set.
// Client is what the harness probes it with until it answers.
type RegistryTLS struct {
	Cert, Key, ClientCA string
	Client              *tls.Config
}

// StartExtraRegistry starts a registry for t (plain HTTP when tlsc is
// nil) and stops it when t ends.
func StartExtraRegistry(t testing.TB, tlsc *RegistryTLS) *ExtraRegistry {
	t.Helper()
	skipIfUnavailable(t)
	dir, err := os.MkdirTemp(workDir, "registry-extra-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var p *registryProcess
	if tlsc == nil {
		p, err = startRegistry(dir)
	} else {
		extra := fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", tlsc.Cert, tlsc.Key)
		if tlsc.ClientCA != "" {
			extra += fmt.Sprintf("    clientcas:\n      - %s\n", tlsc.ClientCA)
		}
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsc.Client}}
		p, err = startRegistryProbe(dir, extra, func(addr string) bool {
			resp, err := client.Get("https://" + addr + "/v2/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	if err != nil {
		t.Fatalf("starting an extra registry in %s: %v", filepath.Base(dir), err)
	}
	r := &ExtraRegistry{Addr: p.addr, proc: p}
	t.Cleanup(r.Stop)
	return r
}

// Stop ends the registry (again is a no-op): a test of a mirror that is
// down stops it early.
func (r *ExtraRegistry) Stop() {
	if r.proc != nil {
		r.proc.stop()
		r.proc = nil
	}
}
