package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/skiff-project/skiff/container"
	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/supervisor"
)

// The record lives in the container package, which the small supervisor
// binary shares; these names keep runtime's callers short.
type (
	Container        = container.Container
	Config           = container.Config
	Healthcheck      = container.Healthcheck
	EndpointSettings = container.EndpointSettings
	HealthLog        = container.HealthLog
	AttachStreams    = supervisor.AttachStreams
)

// Container states, as Docker names them.
const (
	StatusCreated    = container.StatusCreated
	StatusRunning    = container.StatusRunning
	StatusPaused     = container.StatusPaused
	StatusRestarting = container.StatusRestarting
	StatusExited     = container.StatusExited
	StatusDead       = container.StatusDead
)

// Record access.
var (
	Lookup      = container.Lookup
	List        = container.List
	Update      = container.Update
	ErrDetached = supervisor.ErrDetached
	readRecord  = container.ReadRecord
	lock        = container.Lock
	shortID     = container.ShortID
)

func newID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}

var (
	adjectives = []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quiet", "swift", "tender", "vivid", "witty", "zen"}
	nouns      = []string{"albatross", "beaver", "cormorant", "dolphin", "eider", "falcon", "gannet", "heron", "ibis", "jay", "kestrel", "loon", "merlin", "narwhal", "osprey", "puffin", "skua", "tern"}
)

func randomName() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return adjectives[int(b[0])%len(adjectives)] + "_" + nouns[int(b[1])%len(nouns)]
}

// stateRoot is libcontainer's state directory.
func stateRoot() string { return paths.LibcontainerRoot() }
