package storage

import (
	"context"
	"fmt"
	"path/filepath"

	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"

	"github.com/skiff-project/skiff/internal/ondisk"
	"github.com/skiff-project/skiff/internal/trace"
)

// layerPlan gives the chain ID of each layer and whether it must be
// stored (the store does not have it).
func (s *Store) layerPlan(layers []LayerSource) (ids []string, todo []bool, err error) {
	parent := ""
	for i, l := range layers {
		id := chainID(parent, l.DiffID)
		_, lerr := s.s.Layer(id)
		missing := lerr != nil
		if missing && l.Open == nil {
			return nil, nil, fmt.Errorf("layer %d (%s) was removed from the store (rmi or prune) while this pull needed it: pull again", i+1, l.DiffID)
		}
		ids, todo = append(ids, id), append(todo, missing)
		parent = id
	}
	return ids, todo, nil
}

// stagedResult is one layer unpacked into a staging directory, or why not.
type stagedResult struct {
	out *drivers.DriverWithDifferOutput
	err error
}

// putLayers stores the layers todo marks: fetched and unpacked in
// parallel (at most maxStaging at once, base first), committed in order
// as each one's parent is in the store. On failure nothing of the failed
// layer or the ones after it stays; created collects the layers it made.
func (s *Store) putLayers(ctx context.Context, layers []LayerSource, ids []string, todo []bool, created *[]string) error {
	// The first failure (or the caller's cancellation) stops the other
	// layers and is what putLayers returns.
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	results := make([]chan stagedResult, len(layers))
	for i := range layers {
		if todo[i] {
			results[i] = make(chan stagedResult, 1)
		}
	}
	go s.stageAll(ctx, fail, results, layers)
	for i, l := range layers {
		if !todo[i] {
			continue
		}
		r := <-results[i]
		if r.err == nil && ctx.Err() == nil {
			parent := ""
			if i > 0 {
				parent = ids[i-1]
			}
			var made bool
			end := trace.Begin(fmt.Sprintf("layer %d: commit", i+1))
			made, r.err = s.commitLayer(ids[i], parent, r.out)
			end()
			if r.err == nil {
				if made {
					*created = append(*created, ids[i])
				}
				if l.Stored != nil {
					l.Stored()
				}
				continue
			}
			fail(fmt.Errorf("layer %d (%s): %w", i+1, l.DiffID, r.err))
		}
		if r.out != nil {
			_ = s.s.CleanupStagedLayer(r.out)
		}
	}
	return context.Cause(ctx)
}

// stageAll starts the layers' unpacking base first, maxStaging at once,
// each sending to its channel in results; after a failure the rest are
// not started.
func (s *Store) stageAll(ctx context.Context, fail context.CancelCauseFunc, results []chan stagedResult, layers []LayerSource) {
	sem := make(chan struct{}, maxStaging)
	for i, l := range layers {
		if results[i] == nil {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			results[i] <- stagedResult{err: errAborted}
			continue
		}
		go func() {
			defer func() { <-sem }()
			end := trace.Begin(fmt.Sprintf("layer %d: fetch, check and unpack", i+1))
			out, err := s.stageLayer(l, ctx.Done())
			end()
			if err != nil {
				fail(fmt.Errorf("layer %d (%s): %w", i+1, l.DiffID, err))
			}
			results[i] <- stagedResult{out: out, err: err}
		}()
	}
}

// layersLock is held while a staged layer is committed, so that two
// commands committing the same layer do not both apply it.
func layersLock() string { return filepath.Join(DataDir(), "layers.lock") }

// commitLayer makes the staged layer the store's layer id over parent;
// made is false when another command stored it meanwhile (the staged
// copy is dropped).
func (s *Store) commitLayer(id, parent string, out *drivers.DriverWithDifferOutput) (made bool, err error) {
	unlock, err := ondisk.Lock(layersLock())
	if err != nil {
		return false, err
	}
	defer unlock()
	if _, err := s.s.Layer(id); err == nil {
		return false, s.s.CleanupStagedLayer(out)
	}
	_, err = s.s.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{
		ID: id, ParentLayer: parent, DiffOutput: out, DiffOptions: &drivers.ApplyDiffWithDifferOpts{},
	})
	if err != nil {
		_ = s.s.CleanupStagedLayer(out)
		return false, err
	}
	return true, nil
}
