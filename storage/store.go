// Package storage owns skiff's on-disk state: the per-user image and layer
// store (go.podman.io/storage, native overlay) and the paths of everything
// else skiff keeps. It does not talk to registries (see registry/) and does
// not run anything (see runtime/).
package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	cstorage "go.podman.io/storage"
	"go.podman.io/storage/types"

	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/userns"
)

// DataDir is where images, containers and volumes live (see paths).
func DataDir() string { return paths.DataDir() }

// ConfigDir is where the user's skiff configuration lives (see paths).
func ConfigDir() string { return paths.ConfigDir() }

// Store is the image and container-layer store of one user.
type Store struct {
	s cstorage.Store
}

// Open opens the store. Rootless, it must run inside the user namespace:
// opened outside it once, the overlay driver would switch to
// fuse-overlayfs for good.
func Open() (*Store, error) {
	opts := types.StoreOptions{
		GraphRoot:       filepath.Join(DataDir(), "storage"),
		RunRoot:         filepath.Join(paths.RuntimeDir(), "storage"),
		GraphDriverName: "overlay",
	}
	if userns.SingleMapped() {
		// Only one uid is mapped: files of other owners cannot be chowned,
		// so they stay the user's (shown as root inside).
		opts.GraphDriverOptions = append(opts.GraphDriverOptions, "overlay.ignore_chown_errors=true")
	}
	if err := os.MkdirAll(opts.GraphRoot, 0o700); err != nil {
		return nil, fmt.Errorf("creating store %s: %w", opts.GraphRoot, err)
	}
	s, err := cstorage.GetStore(opts)
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", opts.GraphRoot, err)
	}
	return &Store{s: s}, nil
}

// Close releases the store; mounts stay (containers may be running).
func (s *Store) Close() {
	if s == nil || s.s == nil {
		return
	}
	_, _ = s.s.Shutdown(false)
}

// TempDir is a directory on the store's file system for downloads.
func (s *Store) TempDir() string {
	dir := filepath.Join(s.s.GraphRoot(), "tmp")
	_ = os.MkdirAll(dir, 0o700)
	return dir
}

// Raw exposes the underlying store to the packages of this module that
// manage container layers.
func (s *Store) Raw() cstorage.Store { return s.s }

// isUnknown reports whether err is the storage library's not-found error.
func isUnknown(err error) bool {
	return errors.Is(err, cstorage.ErrImageUnknown) || errors.Is(err, cstorage.ErrLayerUnknown) || errors.Is(err, cstorage.ErrContainerUnknown) || errors.Is(err, cstorage.ErrNotAnImage)
}

// MountImage makes an image's files readable at a path (through a
// throwaway container layer); done unmounts and removes it.
func (s *Store) MountImage(imageID string) (string, func(), error) {
	unlock, err := HoldImages()
	if err != nil {
		return "", nil, err
	}
	c, err := s.s.CreateContainer("", nil, imageID, "", "", nil)
	unlock()
	if err != nil {
		return "", nil, fmt.Errorf("mounting image %s: %w", short(imageID), err)
	}
	root, err := s.s.Mount(c.ID, "")
	if err != nil {
		_ = s.s.DeleteContainer(c.ID)
		return "", nil, fmt.Errorf("mounting image %s: %w", short(imageID), err)
	}
	return root, func() {
		_, _ = s.s.Unmount(c.ID, true)
		_ = s.s.DeleteContainer(c.ID)
	}, nil
}
