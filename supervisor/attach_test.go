package supervisor

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		typ  byte
		p    []byte
	}{
		{"stdin", frameStdin, []byte("hello")},
		{"empty EOF", frameEOF, nil},
		{"stdout binary", frameStdout, []byte{0, 1, 2, 255, '\n'}},
		{"stderr 64 KiB", frameStderr, bytes.Repeat([]byte("e"), 64<<10)},
		{"exit", frameExit, []byte{0, 0, 0, 7}},
		{"largest allowed", frameStdout, make([]byte, 1<<20)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeFrame(&b, tt.typ, tt.p); err != nil {
				t.Fatal(err)
			}
			if b.Len() != 5+len(tt.p) {
				t.Errorf("frame is %d bytes, want 5 + %d", b.Len(), len(tt.p))
			}
			if got := binary.BigEndian.Uint32(b.Bytes()[1:5]); got != uint32(len(tt.p)) {
				t.Errorf("length field = %d, want %d (big-endian)", got, len(tt.p))
			}
			typ, p, err := readFrame(&b)
			if err != nil {
				t.Fatal(err)
			}
			if typ != tt.typ || !bytes.Equal(p, tt.p) {
				t.Errorf("read back type %d with %d bytes, want type %d with %d bytes", typ, len(p), tt.typ, len(tt.p))
			}
			if b.Len() != 0 {
				t.Errorf("%d bytes left after the frame", b.Len())
			}
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	tooLarge := []byte{frameStdout, 0, 0x10, 0, 1} // 1 MiB + 1
	tests := []struct {
		name    string
		in      []byte
		wantErr func(error) bool
	}{
		{"too large", tooLarge, func(err error) bool { return err != nil && strings.Contains(err.Error(), "too large") }},
		{"huge length", []byte{frameStdout, 0xff, 0xff, 0xff, 0xff}, func(err error) bool { return err != nil && strings.Contains(err.Error(), "too large") }},
		{"no header", nil, func(err error) bool { return errors.Is(err, io.EOF) }},
		{"short header", []byte{frameStdin, 0}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"short payload", []byte{frameStdin, 0, 0, 0, 4, 'a', 'b'}, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readFrame(bytes.NewReader(tt.in))
			if !tt.wantErr(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// fakeSupervisor is the supervisor's end of an attach connection: it reads
// the request line, then records the client's frames. When the client
// sends EOF it answers with the exit status exitCode.
type fakeSupervisor struct {
	req    attachRequest
	stdin  bytes.Buffer
	frames []byte // frame types in order
	done   chan struct{}
}

func startFakeSupervisor(t *testing.T, conn net.Conn, exitCode int32, output [][2]string) *fakeSupervisor {
	t.Helper()
	f := &fakeSupervisor{done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer conn.Close()
		br := bufio.NewReader(conn)
		line, err := br.ReadBytes('\n')
		if err != nil {
			t.Errorf("supervisor: reading the request line: %v", err)
			return
		}
		if err := json.Unmarshal(line, &f.req); err != nil {
			t.Errorf("supervisor: request line %q: %v", line, err)
			return
		}
		for {
			typ, p, err := readFrame(br)
			if err != nil {
				return // the client went away (detach)
			}
			f.frames = append(f.frames, typ)
			switch typ {
			case frameStdin:
				f.stdin.Write(p)
			case frameEOF:
				for _, o := range output {
					typ := frameStdout
					if o[0] == "stderr" {
						typ = frameStderr
					}
					if err := writeFrame(conn, typ, []byte(o[1])); err != nil {
						t.Errorf("supervisor: %v", err)
					}
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(exitCode))
				_ = writeFrame(conn, frameExit, b[:])
				return
			}
		}
	}()
	return f
}

// dialPipe connects a client over net.Pipe as dialAttach does: serve
// starts the supervisor's side, then the client sends the JSON request
// line before anything else.
func dialPipe(t *testing.T, req attachRequest, serve func(net.Conn)) *Conn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	serve(server)
	b, _ := json.Marshal(req)
	_ = client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Write(append(b, '\n')); err != nil {
		t.Fatalf("sending the request line: %v", err)
	}
	_ = client.SetWriteDeadline(time.Time{})
	return &Conn{conn: client}
}

// streamWithTimeout runs stream and fails the test if it hangs.
func streamWithTimeout(t *testing.T, a *Conn, s AttachStreams) (int, error) {
	t.Helper()
	type result struct {
		code int
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		code, err := a.stream(s)
		ch <- result{code, err}
	}()
	select {
	case r := <-ch:
		return r.code, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not return")
		return 0, nil
	}
}

func waitDone(t *testing.T, f *fakeSupervisor) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		t.Fatal("fake supervisor did not finish")
	}
}

const ctrlP, ctrlQ = 0x10, 0x11

func TestAttachStreamDetachKeys(t *testing.T) {
	keys := []byte{ctrlP, ctrlQ}
	tests := []struct {
		name      string
		stdin     io.Reader
		keys      []byte
		wantStdin string
		wantErr   error // ErrDetached, or nil for an exit
		wantEOF   bool  // the supervisor saw stdin end
	}{
		{name: "detach in one read", stdin: strings.NewReader("abc\x10\x11"), keys: keys, wantStdin: "abc", wantErr: ErrDetached},
		{name: "detach at the start", stdin: strings.NewReader("\x10\x11ignored"), keys: keys, wantStdin: "", wantErr: ErrDetached},
		{name: "detach across reads", stdin: iotest.OneByteReader(strings.NewReader("ab\x10\x11cd")), keys: keys, wantStdin: "ab", wantErr: ErrDetached},
		{name: "bytes after the keys are not sent", stdin: strings.NewReader("x\x10\x11after"), keys: keys, wantStdin: "x", wantErr: ErrDetached},
		{name: "partial sequence passes through", stdin: strings.NewReader("\x10x"), keys: keys, wantStdin: "\x10x", wantEOF: true},
		{name: "partial sequence across reads", stdin: iotest.OneByteReader(strings.NewReader("a\x10xb")), keys: keys, wantStdin: "a\x10xb", wantEOF: true},
		{name: "first key twice then second", stdin: strings.NewReader("\x10\x10\x11"), keys: keys, wantStdin: "\x10", wantErr: ErrDetached},
		{name: "second key alone", stdin: strings.NewReader("\x11\x10y"), keys: keys, wantStdin: "\x11\x10y", wantEOF: true},
		{name: "no detach keys", stdin: strings.NewReader("abc\x10\x11"), keys: nil, wantStdin: "abc\x10\x11", wantEOF: true},
		{name: "single-key sequence", stdin: strings.NewReader("ab!cd"), keys: []byte("!"), wantStdin: "ab", wantErr: ErrDetached},
		{name: "three-key sequence interrupted", stdin: strings.NewReader("xyxzy"), keys: []byte("xyz"), wantStdin: "xyxzy", wantEOF: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sup *fakeSupervisor
			a := dialPipe(t, attachRequest{Stdin: true, Stdout: true}, func(c net.Conn) { sup = startFakeSupervisor(t, c, 0, nil) })
			code, err := streamWithTimeout(t, a, AttachStreams{Stdin: tt.stdin, Stdout: io.Discard, DetachKeys: tt.keys})
			waitDone(t, sup)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("stream = %d, %v; want %v", code, err, tt.wantErr)
				}
			} else if err != nil || code != 0 {
				t.Fatalf("stream = %d, %v; want 0, nil", code, err)
			}
			if got := sup.stdin.String(); got != tt.wantStdin {
				t.Errorf("the container got stdin %q, want %q", got, tt.wantStdin)
			}
			gotEOF := bytes.IndexByte(sup.frames, frameEOF) >= 0
			if gotEOF != tt.wantEOF {
				t.Errorf("supervisor saw EOF = %v, want %v (frames %v)", gotEOF, tt.wantEOF, sup.frames)
			}
			if !sup.req.Stdin || !sup.req.Stdout {
				t.Errorf("request = %+v", sup.req)
			}
		})
	}
}

// A partial detach sequence at the end of the input is data: it must reach
// the container before stdin is closed.
func TestAttachStreamHeldKeyBeforeEOF(t *testing.T) {
	var sup *fakeSupervisor
	a := dialPipe(t, attachRequest{Stdin: true}, func(c net.Conn) { sup = startFakeSupervisor(t, c, 0, nil) })
	_, err := streamWithTimeout(t, a, AttachStreams{Stdin: strings.NewReader("ab\x10"), DetachKeys: []byte{ctrlP, ctrlQ}})
	waitDone(t, sup)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got := sup.stdin.String(); got != "ab\x10" {
		t.Fatalf("stdin ending in a partial detach sequence loses it: the container got %q, want %q", got, "ab\x10")
	}
}

func TestAttachStreamOutputAndExit(t *testing.T) {
	tests := []struct {
		name     string
		code     int32
		output   [][2]string
		nilOut   bool
		wantOut  string
		wantErrS string
	}{
		{name: "exit 0", code: 0},
		{name: "exit status", code: 42},
		{name: "negative status", code: -1},
		{name: "stdout and stderr kept apart", code: 0, output: [][2]string{{"stdout", "out1 "}, {"stderr", "err1"}, {"stdout", "out2"}}, wantOut: "out1 out2", wantErrS: "err1"},
		{name: "no writers", code: 3, output: [][2]string{{"stdout", "dropped"}}, nilOut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sup *fakeSupervisor
			a := dialPipe(t, attachRequest{Stdin: true, Stdout: true, Stderr: true}, func(c net.Conn) { sup = startFakeSupervisor(t, c, tt.code, tt.output) })
			var out, errb bytes.Buffer
			s := AttachStreams{Stdin: strings.NewReader("")}
			if !tt.nilOut {
				s.Stdout, s.Stderr = &out, &errb
			}
			code, err := streamWithTimeout(t, a, s)
			waitDone(t, sup)
			if err != nil || code != int(tt.code) {
				t.Fatalf("stream = %d, %v; want %d, nil", code, err, tt.code)
			}
			if out.String() != tt.wantOut || errb.String() != tt.wantErrS {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errb.String(), tt.wantOut, tt.wantErrS)
			}
		})
	}
}

func TestAttachStreamLostSupervisor(t *testing.T) {
	client, server := net.Pipe()
	a := &Conn{conn: client}
	server.Close()
	_, err := streamWithTimeout(t, a, AttachStreams{Stdout: io.Discard})
	if err == nil || errors.Is(err, ErrDetached) {
		t.Errorf("err = %v, want a lost-connection error", err)
	}
}

// lockedBuffer is a WriteCloser safe to use from the hub's goroutines.
type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	closed bool
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

func (l *lockedBuffer) state() (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.closed
}

// The real hub on the supervisor's side: stdin reaches the container, its
// output reaches the client, the terminal size is applied and the exit
// status ends the attach.
func TestAttachHubRoundTrip(t *testing.T) {
	h := newAttachHub()
	stdin := &lockedBuffer{}
	h.setStdin(stdin)
	var sizes [][2]uint16
	var smu sync.Mutex
	h.setResize(func(w, ht uint16) { smu.Lock(); sizes = append(sizes, [2]uint16{w, ht}); smu.Unlock() })

	a := dialPipe(t, attachRequest{Stdin: true, Stdout: true, Width: 120, Height: 40}, func(c net.Conn) { go h.handle(c) })
	select {
	case <-h.first:
	case <-time.After(5 * time.Second):
		t.Fatal("the hub never saw the client attach")
	}
	if w, ht := h.lastSize(); w != 120 || ht != 40 {
		t.Errorf("lastSize = %dx%d, want 120x40 from the request", w, ht)
	}

	pr, pw := io.Pipe()
	resize := make(chan [2]uint16, 1)
	var out lockedBuffer
	type result struct {
		code int
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, err := a.stream(AttachStreams{Stdin: pr, Stdout: &out, Stderr: &out, Resize: resize})
		res <- result{code, err}
	}()

	if _, err := pw.Write([]byte("input\n")); err != nil {
		t.Fatal(err)
	}
	resize <- [2]uint16{80, 24}
	waitFor(t, "stdin to reach the container", func() bool { s, _ := stdin.state(); return s == "input\n" })
	waitFor(t, "the resize", func() bool { w, ht := h.lastSize(); return w == 80 && ht == 24 })

	hubWriter{h, frameStdout}.Write([]byte("hello"))
	hubWriter{h, frameStderr}.Write([]byte("not asked for"))
	waitFor(t, "stdout to reach the client", func() bool { s, _ := out.state(); return s == "hello" })

	pw.Close()
	waitFor(t, "stdin to be closed", func() bool { _, closed := stdin.state(); return closed })

	h.exit(7)
	select {
	case r := <-res:
		if r.err != nil || r.code != 7 {
			t.Errorf("stream = %d, %v; want 7, nil", r.code, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not return after exit")
	}
	if s, _ := out.state(); s != "hello" {
		t.Errorf("client output = %q: stderr was sent though the client did not ask for it", s)
	}
	smu.Lock()
	defer smu.Unlock()
	if len(sizes) < 2 || sizes[0] != [2]uint16{120, 40} || sizes[len(sizes)-1] != [2]uint16{80, 24} {
		t.Errorf("pty sizes = %v, want 120x40 then 80x24", sizes)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
