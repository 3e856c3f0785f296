package engine

// The options and results of the kube verbs, in every build: a skiff built
// with the skiff_nokube tag (bin/skiff) has the commands but hands them to
// skiff-kube (see kube_nokube.go).

// KubeGenerateOptions are `kube generate`'s.
type KubeGenerateOptions struct {
	// Type is what plain containers become: pod (the default) or
	// deployment (one replica).
	Type string
}

// KubeFile is one YAML file for kube play: its absolute path ("-" for
// stdin) and its content.
type KubeFile struct {
	Path string
	Data []byte
}

// KubePlayOptions are `kube play`'s.
type KubePlayOptions struct {
	// Replace removes what an earlier play of each file made first.
	Replace bool
}

// KubeMade is one thing kube play made or kube down removed: its kind
// (Volume, Service, Container) and name.
type KubeMade struct{ Kind, Name string }
