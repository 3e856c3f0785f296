// Package runtime turns a container's options and its image into an OCI
// runtime spec, and runs it with libcontainer: create, start, wait, clean
// up. It owns container records on disk. It does not fetch images (see
// registry/) or build networks (see netns/).
package runtime
