package runtime

import (
	"bytes"
	"context"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Docker's health check defaults.
const (
	defaultHealthInterval = 30 * time.Second
	defaultHealthTimeout  = 30 * time.Second
	defaultHealthRetries  = 3
)

// startHealth runs the container's health check in its namespaces every
// interval and records the results; the returned func stops it.
func (s *supervisor) startHealth(c *Container, lc *libcontainer.Container, pr *prepared) func() {
	h := c.Config.Healthcheck
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return func() {}
	}
	interval, timeout, retries := h.Interval, h.Timeout, h.Retries
	if interval == 0 {
		interval = defaultHealthInterval
	}
	if timeout == 0 {
		timeout = defaultHealthTimeout
	}
	if retries == 0 {
		retries = defaultHealthRetries
	}
	var args []string
	switch h.Test[0] {
	case "CMD":
		args = h.Test[1:]
	case "CMD-SHELL":
		args = []string{"/bin/sh", "-c", h.Test[1]}
	default:
		args = h.Test
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	started := time.Now()
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			res := runProbe(ctx, lc, pr, args, timeout)
			inStart := time.Since(started) < h.StartPeriod
			_, _ = Update(s.id, func(c *Container) error {
				if !c.State.Running || c.State.Health == nil {
					return nil
				}
				hs := c.State.Health
				hs.Log = append(hs.Log, res)
				if len(hs.Log) > 5 {
					hs.Log = hs.Log[len(hs.Log)-5:]
				}
				if res.ExitCode == 0 {
					hs.Status, hs.FailingStreak = "healthy", 0
				} else if !inStart {
					hs.FailingStreak++
					if hs.FailingStreak >= retries {
						hs.Status = "unhealthy"
					}
				}
				return nil
			})
		}
	}()
	return func() { cancel(); <-done }
}

// runProbe runs one health check command in the container.
func runProbe(ctx context.Context, lc *libcontainer.Container, pr *prepared, args []string, timeout time.Duration) HealthLog {
	res := HealthLog{Start: time.Now().UTC(), ExitCode: -1}
	var out bytes.Buffer
	w := &limitedBuffer{b: &out, max: 4096}
	p := &libcontainer.Process{
		Args: args, Env: pr.env, Cwd: pr.cwd,
		UID: pr.user.UID, GID: pr.user.GID, AdditionalGroups: pr.user.Groups,
		Stdout: w, Stderr: w,
	}
	if err := lc.Run(p); err != nil {
		res.End, res.Output = time.Now().UTC(), err.Error()
		return res
	}
	codeCh := make(chan int, 1)
	go func() { codeCh <- waitStatus(p) }()
	select {
	case code := <-codeCh:
		res.ExitCode = code
	case <-time.After(timeout):
		_ = p.Signal(unix.SIGKILL)
		<-codeCh
		out.WriteString("health check timed out")
	case <-ctx.Done():
		_ = p.Signal(unix.SIGKILL)
		<-codeCh
	}
	res.End, res.Output = time.Now().UTC(), out.String()
	return res
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		if len(p) > room {
			l.b.Write(p[:room])
		} else {
			l.b.Write(p)
		}
	}
	return len(p), nil
}
