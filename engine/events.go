package engine

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
	"github.com/skiff-project/skiff/internal/names"
	"github.com/skiff-project/skiff/registry/reference"
	"github.com/skiff-project/skiff/storage"
)

// EventsOptions are `events`' flags and the API's /events parameters.
// Without Since and Until only events from now on are passed, as in
// Docker; Follow goes on after the journal's end until ctx is done or
// Until passes.
type EventsOptions struct {
	Since, Until time.Time
	Follow       bool
	// Filters: container, event, image, label, type, volume, network,
	// scope, and Docker's daemon, plugin, node, service, secret, config.
	Filters Filters
}

// eventFilterKeys are the filters Docker's events take.
var eventFilterKeys = []string{"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope", "secret", "service", "type", "volume"}

// eventTypes are Docker's event types.
var eventTypes = []string{"builder", "config", "container", "daemon", "image", "network", "node", "plugin", "secret", "service", "volume"}

// Events passes the user's events that match o to fn, oldest first (see
// package events for where they are kept). It returns fn's first error,
// ctx's error when ctx ends a Follow, and nil at the end.
func (e *Engine) Events(ctx context.Context, o EventsOptions, fn func(events.Message) error) error {
	match, err := eventMatcher(o.Filters)
	if err != nil {
		return err
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Until.Before(o.Since) {
		return errdefs.Invalid("--since %s is after --until %s: no event can match", o.Since.Format(time.RFC3339Nano), o.Until.Format(time.RFC3339Nano))
	}
	ro := events.ReadOptions{Since: o.Since, Until: o.Until, Follow: o.Follow, Match: match}
	if o.Since.IsZero() && o.Until.IsZero() {
		ro.Since = time.Now()
	}
	return events.Read(ctx, ro, fn)
}

// eventMatcher checks Docker's event filters and returns the test they
// make: values of one key are alternatives, keys must all match.
func eventMatcher(f Filters) (func(events.Message) bool, error) {
	if err := f.check(eventFilterKeys...); err != nil {
		return nil, err
	}
	for _, t := range f["type"] {
		if !slices.Contains(eventTypes, t) {
			return nil, errdefs.Invalid("invalid filter type=%s: the types are %s", t, strings.Join(eventTypes, ", "))
		}
	}
	for _, s := range f["scope"] {
		if s != "local" && s != "swarm" {
			return nil, errdefs.Invalid("invalid filter scope=%s: want local or swarm", s)
		}
	}
	if len(f) == 0 {
		return nil, nil
	}
	return func(m events.Message) bool { return matchEvent(f, m) }, nil
}

// matchEvent is Docker's events filter (daemon/events/filter.go).
func matchEvent(f Filters, m events.Message) bool {
	action := string(m.Action)
	// "health_status", "exec_create" and "exec_start" match the actions
	// that carry a status or a command after a colon.
	prefix := slices.ContainsFunc(f["event"], func(v string) bool {
		return v == "health_status" || v == "exec_create" || v == "exec_start"
	})
	if !f.any("event", func(v string) bool { return v == action || prefix && strings.HasPrefix(action, v) }) ||
		!f.any("type", func(v string) bool { return v == string(m.Type) }) ||
		!f.any("scope", func(v string) bool { return v == m.Scope }) {
		return false
	}
	// A container (network, volume, …) filter matches the actor's ID or
	// name, or a prefix of them, whatever the event's type.
	name := m.Actor.Attributes["name"]
	for _, key := range []string{"container", "daemon", "plugin", "volume", "network", "service", "node", "secret", "config"} {
		if !f.any(key, func(v string) bool { return strings.HasPrefix(m.Actor.ID, v) || strings.HasPrefix(name, v) }) {
			return false
		}
	}
	// image matches an image event's actor or a container's image, with
	// or without the tag.
	image := m.Actor.Attributes["image"]
	if m.Type == events.ImageEventType {
		image = name
	}
	if !f.any("image", func(v string) bool {
		return v == m.Actor.ID || v == image || v == stripTag(m.Actor.ID) || v == stripTag(image)
	}) {
		return false
	}
	return f.labels("label", m.Actor.Attributes)
}

// stripTag is an image name's familiar repository without tag or digest;
// what is not a name stays as it is.
func stripTag(s string) string {
	if s == "" || strings.HasPrefix(s, "sha256:") {
		return s
	}
	n, err := reference.ParseNoTag(s)
	if err != nil {
		return s
	}
	return n.FamiliarRepository()
}

// The events the engine records, each after its change has happened.

// containerEvent records a container's event, with Docker's attributes:
// extra, the container's labels, its image and name.
func containerEvent(c *container.Container, action events.Action, extra map[string]string) {
	events.Record(events.Message{Type: events.ContainerEventType, Action: action,
		Actor: events.ContainerActor(c.ID, c.Name, c.Image, c.Config.Labels, extra)})
}

// imageEvent records an image's event: id is the image's ID (or, for
// pull and push, the reference), name its name attribute, and the image's
// labels when known.
func imageEvent(action events.Action, id, name string, labels map[string]string) {
	attrs := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		attrs[k] = v
	}
	if name != "" {
		attrs["name"] = name
	}
	events.Record(events.Message{Type: events.ImageEventType, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}})
}

// networkEvent records a network's event (name, type bridge, extra).
func networkEvent(action events.Action, id, name string, extra map[string]string) {
	attrs := map[string]string{"name": name, "type": "bridge"}
	for k, v := range extra {
		attrs[k] = v
	}
	events.Record(events.Message{Type: events.NetworkEventType, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}})
}

// volumeEvent records a volume's event (driver local).
func volumeEvent(action events.Action, name string) {
	events.Record(events.Message{Type: events.VolumeEventType, Action: action,
		Actor: events.Actor{ID: name, Attributes: map[string]string{"driver": "local"}}})
}

// pruneEvent records a prune of a type, as Docker does after it, with the
// space reclaimed when it is known.
func pruneEvent(typ events.Type, reclaimed *uint64) {
	attrs := map[string]string{}
	if reclaimed != nil {
		attrs["reclaimed"] = strconv.FormatUint(*reclaimed, 10)
	}
	events.Record(events.Message{Type: typ, Action: "prune", Actor: events.Actor{Attributes: attrs}})
}

// refEvent records a pull or a push: Docker's actor is the reference
// (busybox:latest), its name the repository, with the image's labels.
func refEvent(action events.Action, ref string, img *storage.Image) {
	n, err := reference.Parse(ref)
	if err != nil {
		return
	}
	var labels map[string]string
	if img != nil {
		labels = img.Config.Config.Labels
	}
	imageEvent(action, n.Familiar(), n.FamiliarRepository(), labels)
}

// removedEvents records an image removal as Docker does: untag for each
// name taken from img, then delete for each image removed (actor and
// name are the image's ID).
func removedEvents(img *storage.Image, untagged, deleted []string) {
	if img != nil {
		id := "sha256:" + img.ID
		for range untagged {
			imageEvent("untag", id, id, img.Config.Config.Labels)
		}
	}
	for _, id := range deleted {
		var labels map[string]string
		if img != nil && id == "sha256:"+img.ID {
			labels = img.Config.Config.Labels
		}
		imageEvent("delete", id, id, labels)
	}
}

// familiarRef is a reference in Docker's short form with its tag
// (busybox:latest), as tag events name it.
func familiarRef(s string) string {
	n, err := reference.Parse(s)
	if err != nil {
		return s
	}
	return n.Familiar()
}

// NewID is a new 64-hex ID, as Docker's (the API's exec IDs).
func NewID() string { return names.NewID() }
