package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/runtime"
	"github.com/skiff-project/skiff/storage"
)

// CommitOptions are `commit`'s.
type CommitOptions struct {
	Name    string   // REPOSITORY[:TAG] or ""
	Author  string   // e.g. "Jane Doe <jane@example.com>"
	Message string   // the commit message
	Changes []string // Dockerfile instructions applied to the new image
	// Pause freezes a running container while its layer is read; where
	// the host cannot freeze it, a warning says so and it goes on.
	Pause bool
}

// ContainerCommit makes an image of a container's changes and
// configuration and returns its ID.
func (e *Engine) ContainerCommit(ctx context.Context, ref string, o CommitOptions) (string, error) {
	name, err := newImage(o.Name, o.Changes)
	if err != nil {
		return "", err
	}
	var id string
	err = e.withStore(func(st *storage.Store) error {
		c, err := container.Lookup(ref)
		if err != nil {
			return err
		}
		so := storage.CommitOptions{
			Config: commitConfig(c), Changes: o.Changes, Author: o.Author, Message: o.Message,
			CreatedBy: strings.Join(c.Config.Cmd, " "), Name: name, Mounts: mountPoints(c),
		}
		if so.CreatedBy == "" {
			so.CreatedBy = strings.Join(append([]string{c.Path}, c.Args...), " ")
		}
		if o.Pause && c.State.Running && !c.State.Paused {
			switch err := runtime.Pause(c.ID); {
			case err == nil:
				defer func() { _ = runtime.Unpause(c.ID) }()
			case errors.Is(err, errdefs.ErrUnavailable):
				e.warn(fmt.Sprintf("%s: committing it while it runs", errdefs.Message(err)))
			default:
				return fmt.Errorf("committing %s: %w", c.Name, err)
			}
		}
		img, err := st.Commit(ctx, c.ID, so)
		if err != nil {
			return err
		}
		id = "sha256:" + img.ID
		attrs := map[string]string{"comment": o.Message, "imageID": id}
		if name != "" {
			attrs["imageRef"] = familiarRef(name)
			imageEvent("tag", id, familiarRef(name), img.Config.Config.Labels)
		}
		containerEvent(c, "commit", attrs)
		return nil
	})
	return id, err
}

// commitConfig is the container's configuration as an image config, as
// Docker's commit takes it.
func commitConfig(c *container.Container) v1.Config {
	cc := c.Config
	cfg := v1.Config{
		User: cc.User, Env: cc.Env, Cmd: cc.Cmd, Entrypoint: cc.Entrypoint, WorkingDir: cc.WorkingDir,
		Labels: cc.Labels, StopSignal: cc.StopSignal, ExposedPorts: cc.ExposedPorts,
	}
	if h := cc.Healthcheck; h != nil {
		cfg.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return cfg
}
