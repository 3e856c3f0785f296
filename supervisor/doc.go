// Package supervisor is the small process that holds one container for
// its whole life (the role conmon plays for Podman): it copies the
// container's output into its json-file log, serves attach, records the
// exit code, applies the restart policy, runs health checks, cleans up
// --rm containers and logs what it does to supervisor.log. It is built
// into its own small binary (skiff-supervisor) and must stay light: the
// standard library, x/sys and skiff's light packages only (container,
// paths, netns, internal) — no libcontainer, no image store, no cgo.
// Starting, cleaning up and probing a container is done by the skiff
// binary, which the supervisor runs for each step.
package supervisor
