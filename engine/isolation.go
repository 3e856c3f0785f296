package engine

// IsolationOptions are a container's namespace modes, devices, sysctls
// and ulimits as the user gave them.
type IsolationOptions struct{}
