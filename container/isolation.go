package container

// Isolation are a container's namespace modes, devices, sysctls and
// ulimits, parsed.
type Isolation struct{}
