// Package runtime makes and runs containers: Create turns a parsed Spec
// and its image into a container record (see container/) and a writable
// layer; the steps the supervisor runs build the OCI runtime spec from
// small options and start it with libcontainer; Start, Stop, Kill,
// Remove, Exec and cp act on them. It does not parse the user's strings
// (the engine does, once), fetch images (see registry/) or build networks
// (see netns/).
package runtime
