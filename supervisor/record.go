package supervisor

import "github.com/skiff-project/skiff/container"

// The container record (see package container) under the short names the
// supervisor's code uses.
type (
	Container   = container.Container
	State       = container.State
	HealthState = container.HealthState
	HealthLog   = container.HealthLog
	LogConfig   = container.LogConfig
)

// Container states, as Docker names them.
const (
	StatusCreated    = container.StatusCreated
	StatusRunning    = container.StatusRunning
	StatusPaused     = container.StatusPaused
	StatusRestarting = container.StatusRestarting
	StatusExited     = container.StatusExited
	StatusDead       = container.StatusDead
)

// Arg is the supervisor's first argument: `skiff-supervisor __supervise ID`.
const Arg = container.SupervisorArg

var (
	// ReadRecord reads a container's record by full ID.
	ReadRecord = container.ReadRecord
	// Update changes a container's record under its lock.
	Update = container.Update
)
