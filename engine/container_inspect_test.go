package engine

import (
	"testing"
	"time"

	"github.com/skiff-project/skiff/container"
)

func TestStatusText(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		state container.State
		want  string
	}{
		{name: "created", state: container.State{Status: container.StatusCreated}, want: "Created"},
		{name: "empty status", state: container.State{}, want: "Created"},
		{name: "running", state: container.State{Status: container.StatusRunning, Running: true, StartedAt: now.Add(-5 * time.Minute)}, want: "Up 5 minutes"},
		{name: "paused", state: container.State{Status: container.StatusPaused, Running: true, Paused: true, StartedAt: now.Add(-3 * time.Hour)}, want: "Up 3 hours (Paused)"},
		{name: "healthy", state: container.State{Status: container.StatusRunning, StartedAt: now.Add(-10 * time.Second), Health: &container.HealthState{Status: "healthy"}}, want: "Up 10 seconds (healthy)"},
		{name: "unhealthy", state: container.State{Status: container.StatusRunning, StartedAt: now.Add(-2 * time.Minute), Health: &container.HealthState{Status: "unhealthy"}}, want: "Up 2 minutes (unhealthy)"},
		{name: "health starting", state: container.State{Status: container.StatusRunning, StartedAt: now.Add(-2 * time.Minute), Health: &container.HealthState{Status: "starting"}}, want: "Up 2 minutes (health: starting)"},
		{name: "exited", state: container.State{Status: container.StatusExited, ExitCode: 3, FinishedAt: now.Add(-2 * time.Hour)}, want: "Exited (3) 2 hours ago"},
		{name: "exited killed", state: container.State{Status: container.StatusExited, ExitCode: 137, FinishedAt: now.Add(-45 * time.Second)}, want: "Exited (137) 45 seconds ago"},
		{name: "restarting", state: container.State{Status: container.StatusRestarting, ExitCode: 1, FinishedAt: now.Add(-20 * time.Second)}, want: "Restarting (1) 20 seconds ago"},
		{name: "dead", state: container.State{Status: container.StatusDead, ExitCode: 1}, want: "Dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusText(&container.Container{State: tt.state}); got != tt.want {
				t.Errorf("statusText = %q, want %q", got, tt.want)
			}
		})
	}
}
