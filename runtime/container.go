package runtime

import (
	"crypto/rand"

	"github.com/skiff-project/skiff/paths"
)

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
