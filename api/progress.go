package api

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

// jsonMessage is one line of Docker's JSON progress streams (pull, push,
// load, build). It carries the error both ways: errorDetail for the
// docker CLI and the plain "error" older SDKs read.
type jsonMessage struct {
	Stream         string          `json:"stream,omitempty"`
	Status         string          `json:"status,omitempty"`
	ProgressDetail *progressDetail `json:"progressDetail,omitempty"`
	Progress       string          `json:"progress,omitempty"`
	ID             string          `json:"id,omitempty"`
	ErrorDetail    *errorDetail    `json:"errorDetail,omitempty"`
	Error          string          `json:"error,omitempty"`
	Aux            any             `json:"aux,omitempty"`
}

type progressDetail struct {
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

type errorDetail struct {
	Message string `json:"message"`
}

// jsonStream writes Docker's progress stream. The reply's headers go out
// with the first message, so an error before any progress still gets
// its own status (a 404 for an unknown image, say).
type jsonStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
}

func newJSONStream(w http.ResponseWriter) *jsonStream { return &jsonStream{w: w} }

// send writes one value (a jsonMessage, an event) as a line.
func (js *jsonStream) send(v any) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.startLocked()
	_ = js.enc.Encode(v)
	js.flushLocked()
}

// start sends the reply's headers now: clients of a follow wait for them
// before they do what they want to see the results of.
func (js *jsonStream) start() {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.startLocked()
	js.flushLocked()
}

func (js *jsonStream) startLocked() {
	if !js.started {
		js.w.Header().Set("Content-Type", "application/json")
		js.w.WriteHeader(http.StatusOK)
		js.enc = json.NewEncoder(js.w)
		js.started = true
	}
}

func (js *jsonStream) flushLocked() {
	if f, ok := js.w.(http.Flusher); ok {
		f.Flush()
	}
}

func (js *jsonStream) isStarted() bool {
	js.mu.Lock()
	defer js.mu.Unlock()
	return js.started
}

// fail puts err in the stream, as Docker reports a failed pull or build.
func (js *jsonStream) fail(err error) {
	msg := errdefs.Message(err)
	js.send(jsonMessage{ErrorDetail: &errorDetail{Message: msg}, Error: msg})
}

// finish ends the stream with err: in the stream once it has started,
// else as the reply's error.
func (js *jsonStream) finish(err error) error {
	switch {
	case js.isStarted():
		if err != nil {
			js.fail(err)
		}
	case err != nil:
		return err
	default:
		js.send(jsonMessage{})
	}
	return nil
}

// streamWriter turns text output (build steps) into {"stream": …} lines.
type streamWriter struct{ js *jsonStream }

func (sw streamWriter) Write(b []byte) (int, error) {
	sw.js.send(jsonMessage{Stream: string(b)})
	return len(b), nil
}

// pullProgress reports a pull as Docker's daemon does.
type pullProgress struct {
	js    *jsonStream
	mu    sync.Mutex
	sizes map[string]int64
	tag   string
}

func (p *pullProgress) Resolved(ref string, layers []v1.Descriptor, have []bool) {
	p.mu.Lock()
	p.sizes = map[string]int64{}
	for _, l := range layers {
		p.sizes[l.Digest.String()] = l.Size
	}
	p.mu.Unlock()
	repo, tag := engine.SplitReference(ref)
	if tag == "" {
		tag = p.tag // a pull by digest: the digest asked for
	}
	p.js.send(jsonMessage{Status: "Pulling from " + repo, ID: tag})
	for i, l := range layers {
		status := "Pulling fs layer"
		if have[i] {
			status = "Already exists"
		}
		p.js.send(jsonMessage{Status: status, ProgressDetail: &progressDetail{}, ID: engine.ShortDigest(l.Digest.String())})
	}
}

func (p *pullProgress) LayerBytes(d string, done int64) {
	p.mu.Lock()
	total := p.sizes[d]
	p.mu.Unlock()
	p.js.send(jsonMessage{Status: "Downloading", ProgressDetail: &progressDetail{Current: done, Total: total},
		Progress: engine.ProgressText(done, total, 200), ID: engine.ShortDigest(d)})
}

func (p *pullProgress) LayerDone(d string) {
	p.js.send(jsonMessage{Status: "Download complete", ProgressDetail: &progressDetail{}, ID: engine.ShortDigest(d)})
	p.js.send(jsonMessage{Status: "Pull complete", ProgressDetail: &progressDetail{}, ID: engine.ShortDigest(d)})
}

func (p *pullProgress) Finished(digest string) {
	p.js.send(jsonMessage{Status: "Digest: " + digest})
}

// discardReader drains r so that the client is not stuck sending.
func discardReader(r io.Reader) { _, _ = io.Copy(io.Discard, r) }
