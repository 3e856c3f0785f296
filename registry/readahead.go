package registry

import (
	"io"
	"sync"
)

// readAhead reads a layer blob from the network (through the blob's
// digest check, SHA-256) in another goroutine, a chunk ahead of the
// inflater, which reads from its chunks directly (no bufio.Reader between
// them: the same copies as before). That hashing and the store's (the
// diff ID, SHA-256 again) would otherwise run one after the other in one
// goroutine, and the last layer of a pull, alone at the end, would keep
// one core busy.
type readAhead struct {
	src  io.ReadCloser
	full chan chunk
	free chan []byte
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once

	buf []byte // the chunk being read, nil when none
	cur []byte // what is left of it
	err error  // after cur: the stream's end or failure
}

type chunk struct {
	b   []byte
	err error
}

const (
	readAheadChunk  = 1 << 20
	readAheadChunks = 2
)

func newReadAhead(src io.ReadCloser) *readAhead {
	r := &readAhead{src: src, full: make(chan chunk, readAheadChunks), free: make(chan []byte, readAheadChunks), stop: make(chan struct{})}
	for range readAheadChunks {
		r.free <- make([]byte, readAheadChunk)
	}
	r.done.Add(1)
	go r.fill()
	return r
}

func (r *readAhead) fill() {
	defer r.done.Done()
	for {
		var b []byte
		select {
		case b = <-r.free:
		case <-r.stop:
			return
		}
		n, err := readFull(r.src, b)
		select {
		case r.full <- chunk{b: b[:n], err: err}:
		case <-r.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// load makes cur non-empty unless the stream is over; it returns the
// stream's error once cur is empty.
func (r *readAhead) load() error {
	for len(r.cur) == 0 {
		if r.buf != nil {
			r.free <- r.buf // never blocks: only readAheadChunks exist
			r.buf = nil
		}
		if r.err != nil {
			return r.err
		}
		select {
		case c := <-r.full:
			r.buf, r.cur, r.err = c.b[:cap(c.b)], c.b, c.err
		case <-r.stop:
			return io.ErrClosedPipe
		}
	}
	return nil
}

func (r *readAhead) Read(p []byte) (int, error) {
	if err := r.load(); err != nil {
		return 0, err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// ReadByte lets the inflater read from the chunks without a bufio.Reader.
func (r *readAhead) ReadByte() (byte, error) {
	if err := r.load(); err != nil {
		return 0, err
	}
	b := r.cur[0]
	r.cur = r.cur[1:]
	return b, nil
}

// Peek returns the next n bytes without reading them; fewer only at the
// end of a stream shorter than a chunk.
func (r *readAhead) Peek(n int) ([]byte, error) {
	if err := r.load(); err != nil {
		return nil, err
	}
	if len(r.cur) < n {
		return r.cur, io.EOF
	}
	return r.cur[:n], nil
}

// Close stops the reading goroutine and closes the network stream.
func (r *readAhead) Close() error {
	r.once.Do(func() { close(r.stop) })
	err := r.src.Close()
	r.done.Wait()
	return err
}

// readFull is io.ReadFull that passes the source's own error (io.EOF
// after a short last chunk): io.ReadFull's io.ErrUnexpectedEOF would
// also stand for a stream cut short, which must not read as its end.
func readFull(src io.Reader, b []byte) (n int, err error) {
	for n < len(b) && err == nil {
		var m int
		m, err = src.Read(b[n:])
		n += m
	}
	return n, err
}
