package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/build"
	ctypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// registryAuth reads X-Registry-Auth; none (or an empty one) means the
// user's stored credentials.
func registryAuth(r *http.Request) (*engine.Credentials, error) {
	ac, err := authconfig.Decode(r.Header.Get("X-Registry-Auth"))
	if err != nil {
		return nil, errdefs.Invalid("%v", err)
	}
	if ac.Username == "" && ac.Password == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return nil, nil
	}
	return &engine.Credentials{Username: ac.Username, Password: ac.Password, IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}, nil
}

// registryHost is the host of a registry address as clients send it
// (https://index.docker.io/v1/, 127.0.0.1:5000, http://host/).
func registryHost(addr string) string {
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		addr = u.Host
	}
	addr = strings.TrimSuffix(addr, "/")
	switch addr {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return addr
}

func (s *Server) listImages(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	// API < 1.41 had filter=REFERENCE.
	if v := r.FormValue("filter"); v != "" {
		f["reference"] = append(f["reference"], v)
	}
	list, err := s.e.ImageList(r.Context(), engine.ImageListOptions{All: boolValue(r, "all"), Filters: f})
	if err != nil {
		return err
	}
	if list == nil {
		list = []image.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) inspectImage(w http.ResponseWriter, r *http.Request, p params) error {
	img, err := s.e.ImageInspect(r.Context(), p["name"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, img)
	return nil
}

func (s *Server) imageHistory(w http.ResponseWriter, r *http.Request, p params) error {
	h, err := s.e.ImageHistory(r.Context(), p["name"])
	if err != nil {
		return err
	}
	if h == nil {
		h = []image.HistoryResponseItem{}
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) tagImage(w http.ResponseWriter, r *http.Request, p params) error {
	repo := r.FormValue("repo")
	if repo == "" {
		return errdefs.Invalid("tag needs repo=REPOSITORY")
	}
	target := repo
	if tag := r.FormValue("tag"); tag != "" {
		target += ":" + tag
	}
	if err := s.e.ImageTag(r.Context(), p["name"], target); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Server) removeImage(w http.ResponseWriter, r *http.Request, p params) error {
	res, err := s.e.ImageRemove(r.Context(), p["name"], boolValue(r, "force"))
	if err != nil {
		return err
	}
	if res == nil {
		res = []image.DeleteResponse{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) pruneImages(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	rep, err := s.e.ImagePrune(r.Context(), false, f)
	if err != nil {
		return err
	}
	if rep.ImagesDeleted == nil {
		rep.ImagesDeleted = []image.DeleteResponse{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// createImage is POST /images/create: a pull (fromImage) or an import
// (fromSrc=- with the archive as the body).
func (s *Server) createImage(w http.ResponseWriter, r *http.Request, _ params) error {
	if src := r.FormValue("fromSrc"); src != "" {
		return s.importImage(w, r, src)
	}
	from := r.FormValue("fromImage")
	if from == "" {
		return errdefs.Invalid("fromImage or fromSrc is required")
	}
	ref := from
	switch tag := r.FormValue("tag"); {
	case strings.Contains(tag, ":"):
		ref += "@" + tag
	case tag != "":
		ref += ":" + tag
	}
	auth, err := registryAuth(r)
	if err != nil {
		return err
	}
	js := newJSONStream(w)
	pp := &pullProgress{js: js, tag: r.FormValue("tag")}
	// Docker pulls every tag of a repository named without a tag.
	all := r.FormValue("tag") == "" && engine.NameOnly(from)
	rep, err := s.e.ImagePull(r.Context(), ref, engine.PullOptions{Platform: r.FormValue("platform"), Progress: pp, Auth: auth, AllTags: all})
	if err != nil {
		return js.finish(err)
	}
	js.send(jsonMessage{Status: "Status: " + rep.Status})
	return nil
}

func (s *Server) importImage(w http.ResponseWriter, r *http.Request, src string) error {
	if src != "-" {
		return unsupported("fromSrc="+src, "import reads the archive from the request body (fromSrc=-)")
	}
	name := r.FormValue("repo")
	if tag := r.FormValue("tag"); name != "" && tag != "" {
		name += ":" + tag
	}
	js := newJSONStream(w)
	id, err := s.e.ImageImport(r.Context(), r.Body, engine.ImageImportOptions{
		Changes: r.Form["changes"], Message: r.FormValue("message"), Name: name,
	})
	if err != nil {
		return js.finish(err)
	}
	js.send(jsonMessage{Status: id})
	return nil
}

func (s *Server) pushImage(w http.ResponseWriter, r *http.Request, p params) error {
	ref := p["name"]
	tag := r.FormValue("tag")
	if tag != "" {
		ref += ":" + tag
	}
	auth, err := registryAuth(r)
	if err != nil {
		return err
	}
	platform, err := pushPlatform(r.FormValue("platform"))
	if err != nil {
		return err
	}
	// Docker pushes every tag of a repository named without a tag.
	all := tag == "" && engine.NameOnly(ref)
	if _, err := s.e.ImageInspect(r.Context(), ref); err != nil && !all {
		return fmt.Errorf("An image does not exist locally with the tag: %s: %w", p["name"], errdefs.ErrNotFound)
	}
	js := newJSONStream(w)
	_, err = s.e.ImagePush(r.Context(), ref, "", engine.PushOptions{
		Auth: auth, AllTags: all, Platform: platform,
		Progress: func(line string) { js.send(jsonMessage{Status: strings.TrimRight(line, "\n")}) },
	})
	return js.finish(err)
}

// pushPlatform is the platform query of a push (API 1.46: an OCI
// platform as JSON) as os/arch[/variant].
func pushPlatform(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	var p struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil || p.OS == "" || p.Architecture == "" {
		return "", errdefs.Invalid("invalid platform %q: want a JSON OCI platform with os and architecture", v)
	}
	return strings.TrimSuffix(p.OS+"/"+p.Architecture+"/"+p.Variant, "/"), nil
}

// searchImages is GET /images/search?term=&limit=&filters=.
func (s *Server) searchImages(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	limit, err := intValue(r, "limit", 0)
	if err != nil {
		return err
	}
	auth, err := registryAuth(r)
	if err != nil {
		return err
	}
	res, err := s.e.ImageSearch(r.Context(), r.FormValue("term"), engine.SearchOptions{Limit: limit, Filters: f, Auth: auth})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// saveImages is GET /images/get?names=… and /images/{name}/get.
func (s *Server) saveImages(w http.ResponseWriter, r *http.Request, p params) error {
	refs := r.Form["names"]
	if n := p["name"]; n != "" {
		refs = []string{n}
	}
	if len(refs) == 0 {
		return errdefs.Invalid("name at least one image (names=IMAGE)")
	}
	for _, ref := range refs {
		if _, err := s.e.ImageInspect(r.Context(), ref); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return s.e.ImageSave(r.Context(), engine.ImageSaveOptions{Refs: refs, Format: engine.FormatDockerArchive, Writer: w})
}

func (s *Server) loadImages(w http.ResponseWriter, r *http.Request, _ params) error {
	js := newJSONStream(w)
	loaded, err := s.e.ImageLoad(r.Context(), r.Body, "", r.URL.Query().Get("platform"))
	if err != nil {
		discardReader(r.Body)
		return js.finish(err)
	}
	for _, img := range loaded {
		if len(img.Names) == 0 {
			js.send(jsonMessage{Stream: "Loaded image ID: " + img.ID + "\n"})
		}
		for _, n := range img.Names {
			js.send(jsonMessage{Stream: "Loaded image: " + n + "\n"})
		}
	}
	return js.finish(nil)
}

// commitContainer is POST /commit: an image of a container's changes.
func (s *Server) commitContainer(w http.ResponseWriter, r *http.Request, _ params) error {
	ref := r.FormValue("container")
	if ref == "" {
		return errdefs.Invalid("commit needs container=NAME")
	}
	var cfg ctypes.Config
	if err := decodeJSON(r, &cfg, true); err != nil {
		return err
	}
	if !reflect.ValueOf(cfg).IsZero() {
		return unsupported("a Config body", "give the changes as changes=INSTRUCTION (docker commit --change)")
	}
	name := r.FormValue("repo")
	if tag := r.FormValue("tag"); name != "" && tag != "" {
		name += ":" + tag
	}
	pause := r.FormValue("pause") == "" || boolValue(r, "pause")
	id, err := s.e.ContainerCommit(r.Context(), ref, engine.CommitOptions{
		Name: name, Author: r.FormValue("author"), Message: r.FormValue("comment"), Changes: r.Form["changes"], Pause: pause,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"Id": "sha256:" + strings.TrimPrefix(id, "sha256:")})
	return nil
}

// pruneBuildCache is POST /build/prune: the build cache, all of it or
// what filters (until) and keep-storage select.
func (s *Server) pruneBuildCache(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	o := engine.BuildPruneOptions{Filters: f}
	if v := r.FormValue("keep-storage"); v != "" {
		if o.KeepStorage, err = strconv.ParseInt(v, 10, 64); err != nil {
			return errdefs.Invalid("invalid keep-storage %q: want a number of bytes", v)
		}
	}
	removed, err := s.e.BuildPrune(r.Context(), o)
	if err != nil {
		return err
	}
	if removed == nil {
		removed = []string{}
	}
	writeJSON(w, http.StatusOK, build.CachePruneReport{CachesDeleted: removed})
	return nil
}
