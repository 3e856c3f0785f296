package supervisor

import (
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// DetachReader passes input through until the detach keys are typed, and
// then ends with ErrDetached: what came before the keys is read first. A
// partial sequence is held back until the next byte shows it is not the
// keys, or the input ends (then it is input after all).
type DetachReader struct {
	r       io.Reader
	keys    []byte
	held    []byte // a partial detach sequence
	pending []byte // read, not yet returned
	buf     []byte
	err     error // returned once pending is empty
}

// NewDetachReader reads r watching for keys; no keys is a plain reader.
func NewDetachReader(r io.Reader, keys []byte) io.Reader {
	if len(keys) == 0 {
		return r
	}
	return &DetachReader{r: r, keys: keys, buf: make([]byte, 32<<10)}
}

func (d *DetachReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 && d.err == nil {
		n, err := d.r.Read(d.buf)
		d.scan(d.buf[:n])
		if err != nil && d.err == nil {
			d.pending = append(d.pending, d.held...)
			d.held, d.err = nil, err
		}
	}
	if len(d.pending) > 0 {
		n := copy(p, d.pending)
		d.pending = d.pending[n:]
		return n, nil
	}
	return 0, d.err
}

// scan moves input to pending, holding back a partial sequence; the whole
// sequence sets ErrDetached and drops what follows it.
func (d *DetachReader) scan(in []byte) {
	for _, b := range in {
		if b == d.keys[len(d.held)] {
			d.held = append(d.held, b)
			if len(d.held) == len(d.keys) {
				d.held, d.err = nil, ErrDetached
				return
			}
			continue
		}
		d.pending = append(d.pending, d.held...)
		d.held = d.held[:0]
		if b == d.keys[0] {
			d.held = append(d.held, b)
		} else {
			d.pending = append(d.pending, b)
		}
	}
}

// DrainArg runs skiff-supervisor as the keeper of a detached exec's
// terminal: `skiff-supervisor __drain` with the pty master as fd 3 reads
// and drops its output until the process on it is gone.
const DrainArg = "__drain"

func drain() int {
	signal.Ignore(unix.SIGHUP)
	pty := os.NewFile(3, "pty")
	_, _ = io.Copy(io.Discard, pty) // ends with EIO once the process is gone
	return 0
}
