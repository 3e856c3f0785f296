package registry

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"
)

func gzipped(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A gzip layer comes out whole, in reads as large as asked for; plain
// tars pass unchanged.
func TestDecompressFillsReads(t *testing.T) {
	data := make([]byte, 3<<20+77)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	for _, blob := range [][]byte{gzipped(t, data), data} {
		dr, err := decompress(bufio.NewReader(bytes.NewReader(blob)))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		var got []byte
		for {
			n, err := dr.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != len(buf) && len(got) != len(data) {
				t.Fatalf("a read of %d bytes in the middle of the stream", n)
			}
		}
		if !bytes.Equal(got, data) {
			t.Fatal("the stream changed")
		}
	}
}

// A gzip stream whose trailer does not match its content fails.
func TestDecompressChecksTheTrailer(t *testing.T) {
	blob := gzipped(t, bytes.Repeat([]byte("layer "), 1000))
	blob[len(blob)-5] ^= 0xff // the CRC-32
	dr, err := decompress(bufio.NewReader(bytes.NewReader(blob)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(dr); err == nil {
		t.Fatal("a bad CRC-32 read as a good stream")
	}
}
