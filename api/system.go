package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/moby/moby/api/types/build"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/volume"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// ping answers GET and HEAD /_ping. Builder-Version 1 tells the docker
// CLI to use the classic builder's /build (skiff has no BuildKit).
func (s *Server) ping(w http.ResponseWriter, r *http.Request, _ params) error {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

func (s *Server) version(w http.ResponseWriter, r *http.Request, _ params) error {
	writeJSON(w, http.StatusOK, engine.SystemVersion())
	return nil
}

func (s *Server) info(w http.ResponseWriter, r *http.Request, _ params) error {
	info, err := s.e.SystemInfo(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

// legacyDiskUsage is /system/df's reply before API 1.52 (and, with the
// new fields beside it, in 1.52).
type legacyDiskUsage struct {
	LayersSize int64
	Images     []image.Summary
	Containers []ctypes.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
	// The fields of 1.52 and later.
	ImageUsage      *image.DiskUsage  `json:"ImageUsage,omitempty"`
	ContainerUsage  *ctypes.DiskUsage `json:"ContainerUsage,omitempty"`
	VolumeUsage     *volume.DiskUsage `json:"VolumeUsage,omitempty"`
	BuildCacheUsage *build.DiskUsage  `json:"BuildCacheUsage,omitempty"`
}

func (s *Server) systemDF(w http.ResponseWriter, r *http.Request, _ params) error {
	du, err := s.e.SystemDF(r.Context())
	if err != nil {
		return err
	}
	if versionAtLeast(r, "1.53") {
		writeJSON(w, http.StatusOK, du)
		return nil
	}
	old := legacyDiskUsage{
		Images: du.ImageUsage.Items, Containers: du.ContainerUsage.Items,
		Volumes: du.VolumeUsage.Items, BuildCache: du.BuildCacheUsage.Items,
		LayersSize: du.ImageUsage.TotalSize,
	}
	if versionAtLeast(r, "1.52") {
		old.ImageUsage, old.ContainerUsage, old.VolumeUsage, old.BuildCacheUsage = du.ImageUsage, du.ContainerUsage, du.VolumeUsage, du.BuildCacheUsage
	}
	writeJSON(w, http.StatusOK, old)
	return nil
}

// auth checks credentials with a registry; the client keeps them.
func (s *Server) auth(w http.ResponseWriter, r *http.Request, _ params) error {
	var ac registry.AuthConfig
	if err := decodeJSON(r, &ac, false); err != nil {
		return err
	}
	host := registryHost(ac.ServerAddress)
	if err := engine.CheckLogin(r.Context(), host, ac.Username, ac.Password, nil); err != nil {
		if errors.Is(err, errdefs.ErrInvalidArgument) {
			// Docker answers 401 for wrong credentials.
			writeJSON(w, http.StatusUnauthorized, errorBody{Message: errdefs.Message(err)})
			return nil
		}
		return err
	}
	writeJSON(w, http.StatusOK, registry.AuthResponse{Status: "Login Succeeded"})
	return nil
}

// events streams the user's events as JSON lines: the ones between since
// and until, then (without until) new ones as they happen.
func (s *Server) events(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	o := engine.EventsOptions{Filters: f}
	if o.Since, err = engine.ParseTime(r.FormValue("since"), "since"); err != nil {
		return err
	}
	if o.Until, err = engine.ParseTime(r.FormValue("until"), "until"); err != nil {
		return err
	}
	o.Follow = o.Until.IsZero() || o.Until.After(time.Now())
	js := newJSONStream(w)
	if o.Follow {
		js.start()
	}
	// A client that leaves cancels the request's context, which ends a
	// follow; an error after the first event just ends the stream.
	err = s.e.Events(r.Context(), o, func(m events.Message) error {
		js.send(m)
		return nil
	})
	if err != nil && r.Context().Err() == nil && !js.isStarted() {
		return err
	}
	js.start()
	return nil
}
