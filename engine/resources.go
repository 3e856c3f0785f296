package engine

// ResourceOptions are a container's cgroup limits as the user gave them.
type ResourceOptions struct{}
