package harness

import (
	"net/http"
	"testing"
	"time"
)

func TestAuthRegistry(t *testing.T) {
	needRoot(t)
	ar, err := authRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := authRegistry(); again != ar {
		t.Error("a second call started another registry")
	}
	if ar.User != AuthUserName || len(ar.Password) < 16 {
		t.Errorf("credentials %q / %q: want user %q and a random password", ar.User, ar.Password, AuthUserName)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path, user, password string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+ar.Addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get("/v2/", "", "")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Www-Authenticate") != `Basic realm="`+AuthRealm+`"` {
		t.Errorf("GET /v2/ without credentials: %s, WWW-Authenticate %q; want 401 with a Basic challenge", resp.Status, resp.Header.Get("Www-Authenticate"))
	}
	if resp := get("/v2/", ar.User, "wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v2/ with a wrong password: %s, want 401", resp.Status)
	}
	if resp := get("/v2/", ar.User, ar.Password); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v2/ with the credentials: %s, want 200", resp.Status)
	}
	if resp := get("/v2/busybox/manifests/latest", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET the busybox manifest without credentials: %s, want 401", resp.Status)
	}
	resp = get("/v2/busybox/manifests/latest", ar.User, ar.Password)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != ar.Busybox.Digest {
		t.Errorf("GET the busybox manifest: %s, digest %q; want 200 and %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), ar.Busybox.Digest)
	}
	if ar.Busybox.Ref != ar.Addr+"/busybox:latest" || ar.Busybox.ID == "" {
		t.Errorf("Busybox %+v: want Ref %s/busybox:latest and an ID", ar.Busybox, ar.Addr)
	}
}
