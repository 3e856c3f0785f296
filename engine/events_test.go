package engine

import (
	"errors"
	"testing"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/events"
)

func TestEventFilters(t *testing.T) {
	web := events.Message{Type: events.ContainerEventType, Action: "health_status: healthy", Scope: "local",
		Actor: events.Actor{ID: "3f2a9c", Attributes: map[string]string{"name": "web", "image": "docker.io/library/busybox:1.36", "tier": "front"}}}
	img := events.Message{Type: events.ImageEventType, Action: "tag", Scope: "local",
		Actor: events.Actor{ID: "sha256:abcd", Attributes: map[string]string{"name": "myimg:v2"}}}
	vol := events.Message{Type: events.VolumeEventType, Action: "create", Scope: "local",
		Actor: events.Actor{ID: "data", Attributes: map[string]string{"driver": "local"}}}
	for _, tt := range []struct {
		filters []string
		m       events.Message
		want    bool
	}{
		{nil, web, true},
		{[]string{"container=web"}, web, true},
		{[]string{"container=we"}, web, true}, // a prefix, as Docker's
		{[]string{"container=3f2a"}, web, true},
		{[]string{"container=db"}, web, false},
		{[]string{"container=db", "container=web"}, web, true}, // alternatives
		{[]string{"container=web"}, vol, false},                // whatever the type
		{[]string{"event=health_status"}, web, true},           // the prefix of health_status: …
		{[]string{"event=health_status: healthy"}, web, true},
		{[]string{"event=health"}, web, false},
		{[]string{"event=create"}, vol, true},
		{[]string{"event=creat"}, vol, false},
		{[]string{"type=container"}, web, true},
		{[]string{"type=container"}, vol, false},
		{[]string{"type=container", "type=volume"}, vol, true},
		{[]string{"type=volume", "container=web"}, web, false}, // keys ANDed
		{[]string{"image=busybox"}, web, true},                 // tag and registry stripped
		{[]string{"image=docker.io/library/busybox:1.36"}, web, true},
		{[]string{"image=busybox:1.36"}, web, false},
		{[]string{"image=myimg"}, img, true},
		{[]string{"image=myimg:v2"}, img, true},
		{[]string{"image=sha256:abcd"}, img, true},
		{[]string{"image=busybox"}, vol, false},
		{[]string{"label=tier"}, web, true},
		{[]string{"label=tier=front"}, web, true},
		{[]string{"label=tier=back"}, web, false},
		{[]string{"label=tier", "label=other"}, web, false}, // every label filter
		{[]string{"volume=data"}, vol, true},
		{[]string{"scope=local"}, web, true},
		{[]string{"scope=swarm"}, web, false},
	} {
		f, err := ParseFilters(tt.filters)
		if err != nil {
			t.Fatal(err)
		}
		match, err := eventMatcher(f)
		if err != nil {
			t.Fatalf("%q: %v", tt.filters, err)
		}
		if got := match == nil || match(tt.m); got != tt.want {
			t.Errorf("filters %q on %s %s: %v, want %v", tt.filters, tt.m.Type, tt.m.Action, got, tt.want)
		}
	}
	for _, bad := range []string{"colour=red", "type=spaceship", "scope=galaxy"} {
		f, _ := ParseFilters([]string{bad})
		if _, err := eventMatcher(f); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("filter %s: %v, want an invalid argument", bad, err)
		}
	}
}
