package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/skiff-project/skiff/paths"
	"github.com/skiff-project/skiff/supervisor"
	"github.com/skiff-project/skiff/userns"
)

// The container record lives in the supervisor package, which the small
// supervisor binary shares; these names keep runtime's callers short.
type (
	Container        = supervisor.Container
	Config           = supervisor.Config
	Healthcheck      = supervisor.Healthcheck
	HostConfig       = supervisor.HostConfig
	NetworkSettings  = supervisor.NetworkSettings
	EndpointSettings = supervisor.EndpointSettings
	RestartPolicy    = supervisor.RestartPolicy
	LogConfig        = supervisor.LogConfig
	State            = supervisor.State
	HealthState      = supervisor.HealthState
	HealthLog        = supervisor.HealthLog
	AttachStreams    = supervisor.AttachStreams
	LogOptions       = supervisor.LogOptions
)

// Container states, as Docker names them.
const (
	StatusCreated    = supervisor.StatusCreated
	StatusRunning    = supervisor.StatusRunning
	StatusPaused     = supervisor.StatusPaused
	StatusRestarting = supervisor.StatusRestarting
	StatusExited     = supervisor.StatusExited
	StatusDead       = supervisor.StatusDead
)

// Record access, shared with the supervisor.
var (
	Lookup        = supervisor.Lookup
	List          = supervisor.List
	Update        = supervisor.Update
	ReadLogs      = supervisor.ReadLogs
	ContainersDir = supervisor.ContainersDir
	ErrDetached   = supervisor.ErrDetached
	readRecord    = supervisor.ReadRecord
	lock          = supervisor.Lock
	shortID       = supervisor.ShortID
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

func isRootlessNow() bool { return userns.Rootless() }

// stateRoot is libcontainer's state directory.
func stateRoot() string { return paths.LibcontainerRoot() }
