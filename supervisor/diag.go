package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/skiff-project/skiff/paths"
)

// DiagFile is the supervisor's own log in the container's directory:
// what it did (starts, exits, restarts, health changes) and what went
// wrong, for the user and for bug reports. The container's output is in
// its json-file log, not here.
const DiagFile = "supervisor.log"

// maxDiag caps the log: past it, it is kept as supervisor.log.1 and a
// new one begins, so an endlessly restarting container cannot fill a disk.
const maxDiag = 256 << 10

// diag writes DiagFile; a nil diag writes nothing.
type diag struct {
	mu   sync.Mutex
	path string
	f    *os.File
	n    int64
}

func openDiag(id string) *diag {
	p := filepath.Join(paths.ContainersDir(), id, DiagFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil
	}
	d := &diag{path: p, f: f}
	if st, err := f.Stat(); err == nil {
		d.n = st.Size()
	}
	return d
}

// printf writes one time-stamped line.
func (d *diag) printf(format string, a ...any) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n > maxDiag {
		_ = os.Rename(d.path, d.path+".1")
		if f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err == nil {
			d.f.Close()
			d.f, d.n = f, 0
		}
	}
	n, _ := fmt.Fprintf(d.f, "%s [%d] %s\n", time.Now().UTC().Format(time.RFC3339Nano), os.Getpid(), fmt.Sprintf(format, a...))
	d.n += int64(n)
}
