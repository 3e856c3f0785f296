package registry

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		err = f.err
	}
	return n, err
}

func TestReadAheadPassesTheStream(t *testing.T) {
	data := make([]byte, 3*readAheadChunk+12345)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	for _, n := range []int{0, 1, 2, 100, readAheadChunk, readAheadChunk + 1, len(data)} {
		src := io.NopCloser(iotest.HalfReader(bytes.NewReader(data[:n])))
		ra := newReadAhead(src)
		got, err := io.ReadAll(iotest.OneByteReader(io.LimitReader(ra, 10)))
		if err != nil {
			t.Fatal(err)
		}
		rest, err := io.ReadAll(ra)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(append(got, rest...), data[:n]) {
			t.Fatalf("%d bytes: the stream changed", n)
		}
		ra.Close()
	}
}

// A stream that fails after its bytes (a digest that does not match, a
// connection cut) fails the reader once the bytes before are read, with
// the same error, not as an end.
func TestReadAheadKeepsTheError(t *testing.T) {
	for _, cause := range []error{io.ErrUnexpectedEOF, errors.New("digest mismatch")} {
		data := bytes.Repeat([]byte("x"), readAheadChunk+5)
		ra := newReadAhead(io.NopCloser(&failAfter{r: bytes.NewReader(data), err: cause}))
		got, err := io.ReadAll(ra)
		if !errors.Is(err, cause) || !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, error %v; want %d and %v", len(got), err, len(data), cause)
		}
		ra.Close()
	}
}

type blockingReader struct{ closed chan struct{} }

func (b *blockingReader) Read([]byte) (int, error) {
	<-b.closed
	return 0, io.ErrClosedPipe
}

func (b *blockingReader) Close() error { close(b.closed); return nil }

// Close ends the reading goroutine even while it waits on the network.
func TestReadAheadCloseStopsReading(t *testing.T) {
	ra := newReadAhead(&blockingReader{closed: make(chan struct{})})
	ra.Close()
	if _, err := ra.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after close succeeded")
	}
}
