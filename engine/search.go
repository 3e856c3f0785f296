package engine

import (
	"context"
	"strconv"

	mregistry "github.com/moby/moby/api/types/registry"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/registry"
)

// SearchOptions are `search`'s.
type SearchOptions struct {
	// Limit is the most results to ask for, 1 to 100; 0 means 25.
	Limit int
	// Filters: stars=N, is-official=true|false, is-automated=true|false.
	Filters   Filters
	TLSVerify *bool
	// Auth, when set, replaces the user's stored credentials.
	Auth *Credentials
}

// ImageSearch finds repositories as docker search does: Docker Hub's
// search for a plain term, the registry's catalog for HOST[:PORT]/TERM.
// The filters apply to the results, as in Docker; is-automated=true
// finds nothing (Docker Hub has no automated builds any more).
func (e *Engine) ImageSearch(ctx context.Context, term string, o SearchOptions) ([]mregistry.SearchResult, error) {
	f := o.Filters
	if err := f.check("stars", "is-official", "is-automated"); err != nil {
		return nil, err
	}
	stars := 0
	for _, v := range f["stars"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errdefs.Invalid("invalid filter 'stars=%s': want a number of stars", v)
		}
		stars = max(stars, n)
	}
	official, err := f.boolValue("is-official")
	if err != nil {
		return nil, err
	}
	automated, err := f.boolValue("is-automated")
	if err != nil {
		return nil, err
	}
	limit := o.Limit
	if limit == 0 {
		limit = 25
	}
	if limit < 1 || limit > 100 {
		return nil, errdefs.Invalid("limit %d is outside the range of [1, 100]", limit)
	}
	out := []mregistry.SearchResult{}
	if automated != nil && *automated {
		return out, nil
	}
	res, err := registry.Search(ctx, term, limit, registry.PullOptions{TLSVerify: o.TLSVerify, Auth: o.Auth, Log: e.log})
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if r.StarCount < stars || official != nil && r.IsOfficial != *official {
			continue
		}
		r.IsAutomated = false //nolint:staticcheck // deprecated, always false as in Docker
		out = append(out, r)
	}
	return out, nil
}
