package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// buildImage is POST /build, the classic builder's endpoint: the body is
// the context as a tar, and the reply Docker's JSON stream of step
// output, with the image's ID in aux and "Successfully built".
func (s *Server) buildImage(w http.ResponseWriter, r *http.Request, _ params) error {
	o := engine.BuildOptions{
		Context: r.Body, DockerfileInContext: r.FormValue("dockerfile"), Tags: r.Form["t"],
		Target: r.FormValue("target"), NoCache: boolValue(r, "nocache"), Quiet: boolValue(r, "q"),
		Network: r.FormValue("networkmode"), Platform: r.FormValue("platform"),
	}
	if o.DockerfileInContext == "" {
		o.DockerfileInContext = "Dockerfile"
	}
	if strings.Contains(o.DockerfileInContext, "://") {
		return unsupported("dockerfile="+o.DockerfileInContext, "the Dockerfile comes from the context")
	}
	if o.Network == "default" {
		o.Network = ""
	}
	switch v := r.FormValue("version"); v {
	case "", "1":
	default:
		return unsupported("version="+v+" (BuildKit)", "the classic builder's API only; set DOCKER_BUILDKIT=0")
	}
	if remote := r.FormValue("remote"); remote != "" {
		return unsupported("remote="+remote, "the context comes in the request body")
	}
	if boolValue(r, "pull") {
		o.Pull = engine.PullAlways
	}
	for k, dst := range map[string]*map[string]string{"buildargs": &o.BuildArgs, "labels": &o.Labels} {
		if v := r.FormValue(k); v != "" {
			var m map[string]*string
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return errdefs.Invalid("invalid %s=%q: want a JSON object: %v", k, v, err)
			}
			*dst = map[string]string{}
			for mk, mv := range m {
				if mv != nil {
					(*dst)[mk] = *mv
				}
			}
		}
	}
	o.ExtraHosts, o.Squash, o.Isolation = r.Form["extrahosts"], boolValue(r, "squash"), r.FormValue("isolation")
	o.SecurityOpt = r.Form["securityopt"]
	if v := r.FormValue("cachefrom"); v != "" {
		if err := json.Unmarshal([]byte(v), &o.CacheFrom); err != nil {
			return errdefs.Invalid("invalid cachefrom=%q: want a JSON array of images: %v", v, err)
		}
	}
	if err := buildLimits(r, &o); err != nil {
		return err
	}
	switch v := r.FormValue("outputs"); v {
	case "", "[]", "null":
	default:
		return unsupported("outputs="+v, "not for builds yet")
	}
	// X-Registry-Config carries credentials for FROM pulls; the build
	// uses the user's stored ones.
	if v := r.Header.Get("X-Registry-Config"); v != "" {
		if _, err := base64.URLEncoding.DecodeString(v); err != nil {
			if _, err := base64.StdEncoding.DecodeString(v); err != nil {
				return errdefs.Invalid("invalid X-Registry-Config header: %v", err)
			}
		}
	}
	js := newJSONStream(w)
	o.Out = streamWriter{js: js}
	o.Warn = func(msg string) { js.send(jsonMessage{Stream: "WARNING: " + msg + "\n"}) }
	o.PullProgress = &pullProgress{js: js}
	id, err := s.e.Build(r.Context(), o)
	if err != nil {
		discardReader(r.Body)
		// Started or not, the client reads a failed build in the stream.
		js.fail(err)
		return nil
	}
	full := "sha256:" + strings.TrimPrefix(id, "sha256:")
	js.send(jsonMessage{Aux: map[string]string{"ID": full}})
	if o.Quiet {
		js.send(jsonMessage{Stream: full + "\n"})
		return nil
	}
	js.send(jsonMessage{Stream: "Successfully built " + engine.ShortDigest(full) + "\n"})
	for _, t := range o.Tags {
		js.send(jsonMessage{Stream: "Successfully tagged " + t + "\n"})
	}
	return nil
}

// buildLimits reads the RUN containers' limits, /dev/shm size and ulimits
// (Docker's numbers in bytes, µs and shares) into the options run's
// flags give.
func buildLimits(r *http.Request, o *engine.BuildOptions) error {
	res := &o.Resources
	for _, p := range []struct {
		key string
		dst *int64
	}{{"memory", &res.Memory}, {"memswap", &res.MemorySwap}, {"cpushares", &res.CPUShares}, {"cpuperiod", &res.CPUPeriod}, {"cpuquota", &res.CPUQuota}} {
		n, err := intValue(r, p.key, 0)
		if err != nil {
			return err
		}
		*p.dst = int64(n)
	}
	res.CpusetCpus, res.CpusetMems, res.CgroupParent = r.FormValue("cpusetcpus"), r.FormValue("cpusetmems"), r.FormValue("cgroupparent")
	shm, err := intValue(r, "shmsize", 0)
	if err != nil {
		return err
	}
	if o.ShmSize, err = shmSizeOption("shmsize", int64(shm)); err != nil {
		return err
	}
	if v := r.FormValue("ulimits"); v != "" {
		var us []*ctypes.Ulimit
		if err := json.Unmarshal([]byte(v), &us); err != nil {
			return errdefs.Invalid("invalid ulimits=%q: want a JSON array of {\"Name\", \"Soft\", \"Hard\"}: %v", v, err)
		}
		o.Ulimits = ulimitOptions(us)
	}
	return nil
}
