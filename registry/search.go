package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	mregistry "github.com/moby/moby/api/types/registry"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry/reference"
)

// hubIndex is where Docker Hub answers searches.
const hubIndex = "index.docker.io"

// Search finds up to limit repositories matching term, as docker search
// does: a term without a registry host searches Docker Hub through its
// search API; HOST[:PORT]/TERM lists the registry's /v2/_catalog and
// keeps the repositories whose name contains TERM (every repository for
// an empty TERM).
func Search(ctx context.Context, term string, limit int, o PullOptions) ([]mregistry.SearchResult, error) {
	if strings.Contains(term, "://") {
		return nil, errdefs.Invalid("invalid repository name: repository name (%s) should not have a scheme", term)
	}
	cfg, err := LoadConfig()
	if err != nil {
		return nil, err
	}
	index, rest := splitSearchTerm(term)
	if index == reference.DefaultDomain {
		return cfg.hubSearch(ctx, strings.TrimPrefix(rest, "library/"), limit, o)
	}
	return cfg.catalogSearch(ctx, index, rest, limit, o)
}

// splitSearchTerm splits a term into its registry and the rest, as
// Docker does: the first part names a registry only with a dot, a colon
// or as localhost.
func splitSearchTerm(term string) (string, string) {
	first, rest, ok := strings.Cut(term, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return reference.DefaultDomain, term
	}
	return first, rest
}

func (c *Config) hubSearch(ctx context.Context, term string, limit int, o PullOptions) ([]mregistry.SearchResult, error) {
	tr, err := c.transport(hubIndex, false, o.TLSVerify)
	if err != nil {
		return nil, err
	}
	u := "https://" + hubIndex + "/v1/search?q=" + url.QueryEscape(term) + "&n=" + strconv.Itoa(limit)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	unavailable := func(why string) error {
		return fmt.Errorf("searching Docker Hub for %q: %s: search a registry you can reach instead (skiff search HOST[:PORT]/TERM): %w", term, why, errdefs.ErrUnavailable)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, unavailable(hubIndex + " unreachable: " + shortCause(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, unavailable(hubIndex + " answered " + resp.Status)
	}
	var res mregistry.SearchResults
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, unavailable("reading the answer: " + err.Error())
	}
	if len(res.Results) > limit {
		res.Results = res.Results[:limit]
	}
	return res.Results, nil
}

func (c *Config) catalogSearch(ctx context.Context, index, term string, limit int, o PullOptions) ([]mregistry.SearchResult, error) {
	reg, ropts, err := c.remoteOptions(index, c.Insecure(index), o.TLSVerify, o.Auth)
	if err != nil {
		return nil, err
	}
	repos, err := remote.Catalog(ctx, reg, ropts...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("searching %s: the registry does not list its repositories (GET /v2/_catalog answered 404): %w", index, errdefs.ErrNotImplemented)
		}
		return nil, c.remoteError("searching "+index, index, err)
	}
	sort.Strings(repos)
	out := []mregistry.SearchResult{}
	for _, r := range repos {
		if len(out) == limit {
			break
		}
		if strings.Contains(strings.ToLower(r), strings.ToLower(term)) {
			out = append(out, mregistry.SearchResult{Name: index + "/" + r})
		}
	}
	return out, nil
}
