package container

import (
	"regexp"
	"strconv"
	"strings"

	units "github.com/docker/go-units"

	"github.com/skiff-project/skiff/errdefs"
	"github.com/skiff-project/skiff/internal/names"
)

// ValidName checks a container name: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func ValidName(n string) error {
	if n == "" {
		return errdefs.Invalid("empty container name")
	}
	if !names.Valid(n) {
		return errdefs.Invalid("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", n)
	}
	return nil
}

// ParseRestart parses Docker's --restart values.
func ParseRestart(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return p, errdefs.Invalid("invalid --restart %q: the retry count must be a number ≥ 0", s)
			}
			p.MaximumRetryCount = n
		}
		return p, nil
	default:
		return p, errdefs.Invalid("invalid --restart %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasCount {
		return p, errdefs.Invalid("invalid --restart %q: only on-failure takes a retry count", s)
	}
	return p, nil
}

// ParseLogOpts parses --log-opt values for the json-file driver.
func ParseLogOpts(opts []string) (LogConfig, error) {
	lc := LogConfig{Type: "json-file", Config: map[string]string{}}
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		switch {
		case ok && k == "max-size":
			if _, err := units.RAMInBytes(v); err != nil {
				return lc, errdefs.Invalid("invalid --log-opt %q: size like 10m", o)
			}
		case ok && k == "max-file":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return lc, errdefs.Invalid("invalid --log-opt %q: a number ≥ 1", o)
			}
		case ok && (k == "labels" || k == "env"):
		case ok && (k == "labels-regex" || k == "env-regex"):
			if _, err := regexp.Compile(v); err != nil {
				return lc, errdefs.Invalid("invalid --log-opt %q: %v", o, err)
			}
		default:
			return lc, errdefs.Invalid("invalid --log-opt %q: json-file takes max-size, max-file, labels, labels-regex, env and env-regex", o)
		}
		lc.Config[k] = v
	}
	return lc, nil
}

// The --sdnotify modes: what `run -d` and `start` tell systemd when they
// run with NOTIFY_SOCKET set (a Type=notify unit).
const (
	// SdNotifySupervisor: skiff sends MAINPID (the supervisor) and
	// READY=1 once the container has started (Podman's conmon).
	SdNotifySupervisor = "supervisor"
	// SdNotifyContainer: the socket is passed into the container, whose
	// application sends READY=1 itself; skiff sends MAINPID only.
	SdNotifyContainer = "container"
	// SdNotifyIgnore: nothing is sent and nothing passed.
	SdNotifyIgnore = "ignore"
)

// ParseSdNotify parses --sdnotify: supervisor (or Podman's conmon),
// container or ignore; "" is the default, supervisor.
func ParseSdNotify(s string) (string, error) {
	switch s {
	case "", SdNotifySupervisor, "conmon":
		return SdNotifySupervisor, nil
	case SdNotifyContainer, SdNotifyIgnore:
		return s, nil
	}
	return "", errdefs.Invalid("invalid --sdnotify %q: want supervisor (or conmon), container or ignore", s)
}

// SdNotify is c's --sdnotify mode, supervisor when none was given.
func (c *Container) SdNotify() string {
	if c.Config.SdNotifyMode == "" {
		return SdNotifySupervisor
	}
	return c.Config.SdNotifyMode
}
