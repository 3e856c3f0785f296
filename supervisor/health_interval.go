package supervisor

import (
	"time"

	"github.com/skiff-project/skiff/container"
)

// nextCheck is the wait before the next health check: StartInterval
// (--health-start-interval) while the container is still starting within
// its start period, else interval.
func nextCheck(h *container.Healthcheck, interval time.Duration, started time.Time, starting bool) time.Duration {
	if starting && h.StartInterval > 0 && time.Since(started) < h.StartPeriod {
		return h.StartInterval
	}
	return interval
}
