package api

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// maxJSONBody bounds a JSON request body: the largest real ones (a
// container's config) are a few KiB.
const maxJSONBody = 4 << 20

var (
	errMethod      = errors.New("method not allowed")
	errTooLarge    = errors.New("request body too large")
	errNotModified = errors.New("not modified")
)

// statusOf maps an engine error to Docker's HTTP status, once.
func statusOf(err error) int {
	var st *errdefs.ExitStatus
	switch {
	case errors.Is(err, errNotModified):
		return http.StatusNotModified
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errdefs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return http.StatusBadRequest
	case errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrAlreadyExists):
		return http.StatusConflict
	case errors.Is(err, errdefs.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, errdefs.ErrNotImplemented):
		return http.StatusNotImplemented
	case errors.Is(err, errdefs.ErrCannotInvoke), errors.Is(err, errdefs.ErrCommandNotFound), errors.As(err, &st):
		// A container's process that cannot start: Docker answers 400
		// and its CLI reads 126/127 from the message.
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// errorBody is Docker's error reply.
type errorBody struct {
	Message string `json:"message"`
}

// writeError sends Docker's {"message": …} with the error's status.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := statusOf(err)
	if code == http.StatusNotModified {
		w.WriteHeader(code)
		return
	}
	if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
		return // the reply has started: nothing more can be said
	}
	writeJSON(w, code, errorBody{Message: errdefs.Message(err)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeJSON reads a JSON body into v; an empty body leaves v as it is
// when optional.
func decodeJSON(r *http.Request, v any, optional bool) error {
	if r.Body == nil {
		if optional {
			return nil
		}
		return errdefs.Invalid("a JSON body is required")
	}
	lr := &io.LimitedReader{R: r.Body, N: maxJSONBody + 1}
	dec := json.NewDecoder(lr)
	if err := dec.Decode(v); err != nil {
		if lr.N <= 0 {
			return fmt.Errorf("the JSON body is over %d MiB: %w", maxJSONBody>>20, errTooLarge)
		}
		if errors.Is(err, io.EOF) {
			if optional {
				return nil
			}
			return errdefs.Invalid("a JSON body is required")
		}
		return errdefs.Invalid("invalid JSON: %v", err)
	}
	return nil
}

// boolValue reads a boolean query parameter as Docker does: "", "0",
// "no", "false" and "none" are false, anything else true.
func boolValue(r *http.Request, k string) bool {
	switch strings.ToLower(strings.TrimSpace(r.FormValue(k))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// intValue reads an integer query parameter, def when absent.
func intValue(r *http.Request, k string, def int) (int, error) {
	v := r.FormValue(k)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errdefs.Invalid("invalid %s=%q: want an integer", k, v)
	}
	return n, nil
}

// sizeValue reads a tty size from h and w.
func sizeValue(r *http.Request) (width, height uint16, err error) {
	h, err := intValue(r, "h", 0)
	if err != nil {
		return 0, 0, err
	}
	w, err := intValue(r, "w", 0)
	if err != nil {
		return 0, 0, err
	}
	if h < 0 || w < 0 || h > 65535 || w > 65535 {
		return 0, 0, errdefs.Invalid("invalid size %dx%d: width and height 0-65535", w, h)
	}
	return uint16(w), uint16(h), nil
}

// filtersValue reads the filters parameter.
func filtersValue(r *http.Request) (engine.Filters, error) {
	return engine.ParseFiltersJSON(r.FormValue("filters"))
}

// flushWriter flushes the reply after every write, for streams.
type flushWriter struct {
	mu sync.Mutex
	w  io.Writer
	f  http.Flusher
}

func newFlushWriter(w http.ResponseWriter) *flushWriter {
	f, _ := w.(http.Flusher)
	return &flushWriter{w: w, f: f}
}

func (fw *flushWriter) Write(b []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	n, err := fw.w.Write(b)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}

// Stream numbers of Docker's multiplexed stream.
const (
	streamStdin  = 0
	streamStdout = 1
	streamStderr = 2
)

// muxWriter frames writes as Docker's multiplexed stream does: an 8-byte
// header (stream, 0, 0, 0, big-endian length) before each chunk.
type muxWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	stream byte
}

func newMux(w io.Writer) (stdout, stderr io.Writer) {
	mu := &sync.Mutex{}
	return &muxWriter{mu: mu, w: w, stream: streamStdout}, &muxWriter{mu: mu, w: w, stream: streamStderr}
}

func (m *muxWriter) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var hdr [8]byte
	hdr[0] = m.stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(b)))
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.w.Write(hdr[:]); err != nil {
		return 0, err
	}
	return m.w.Write(b)
}

// hijacked is a connection taken over from the HTTP server for a raw
// stream (attach, exec start), with what the client sent already
// buffered.
type hijacked struct {
	net.Conn
	r *bufio.Reader
}

func (h *hijacked) Read(b []byte) (int, error) { return h.r.Read(b) }

// CloseWrite half-closes the connection: the client reads EOF.
func (h *hijacked) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return h.Conn.Close()
}

// hijack takes the connection over and answers as Docker does: 101
// UPGRADED when the client asked to upgrade to tcp, else 200 OK, then
// the raw stream.
func hijack(w http.ResponseWriter, r *http.Request, multiplexed bool) (*hijacked, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("taking over the connection: %w", err)
	}
	ct := "application/vnd.docker.raw-stream"
	if multiplexed && versionAtLeast(r, "1.42") {
		ct = "application/vnd.docker.multiplexed-stream"
	}
	var head string
	if r.Header.Get("Upgrade") != "" {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + ct + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
	} else {
		head = "HTTP/1.1 200 OK\r\nContent-Type: " + ct + "\r\n"
	}
	for _, k := range []string{"Api-Version", "Docker-Experimental", "Ostype", "Server"} {
		if v := w.Header().Get(k); v != "" {
			head += k + ": " + v + "\r\n"
		}
	}
	if _, err := conn.Write([]byte(head + "\r\n")); err != nil {
		conn.Close()
		return nil, err
	}
	if sw, ok := w.(*statusWriter); ok {
		sw.status = http.StatusSwitchingProtocols
	}
	return &hijacked{Conn: conn, r: brw.Reader}, nil
}
