package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/skiff-project/skiff/storage"
)

// Container is the record of one container, kept as JSON in its directory.
type Container struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Image      string    `json:"image"` // as the user named it
	ImageID    string    `json:"image_id"`
	Created    time.Time `json:"created"`
	Path       string    `json:"path"`
	Args       []string  `json:"args"`
	State      string    `json:"state"` // created, running, exited
	ExitCode   int       `json:"exit_code"`
	StartedAt  time.Time `json:"started_at,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitempty"`
	Network    string    `json:"network"`
}

// ContainersDir holds one directory per container.
func ContainersDir() string { return filepath.Join(storage.DataDir(), "containers") }

// Dir is the container's directory: its record and the /etc files.
func (c *Container) Dir() string { return filepath.Join(ContainersDir(), c.ID) }

// Save writes the record atomically (temp file, fsync, rename).
func (c *Container) Save() error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.Dir(), "container.json"), data, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

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
