package container

// Resources are a container's cgroup limits, parsed.
type Resources struct{}
