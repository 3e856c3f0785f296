package crc64iso

import (
	"hash/crc64"
	"math/rand/v2"
	"testing"
)

func TestUpdateMatchesHashCRC64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20+100)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	for _, n := range []int{0, 1, 15, 16, 63, 64, 65, 79, 80, 127, 128, 129, 200, 4095, 4096, 65537, 1 << 20, len(buf)} {
		for _, off := range []int{0, 1, 7} {
			if off+n > len(buf) {
				continue
			}
			p := buf[off : off+n]
			for _, crc := range []uint64{0, 0x0123456789abcdef} {
				want := crc64.Update(crc, table, p)
				if got := Update(crc, p); got != want {
					t.Fatalf("len %d off %d crc %x: got %x, want %x", n, off, crc, got, want)
				}
			}
		}
	}
}

func TestDigestInPieces(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 300000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	want := crc64.New(table)
	want.Write(buf)
	d := New()
	for p := buf; len(p) > 0; {
		n := min(len(p), rng.IntN(5000))
		d.Write(p[:n])
		p = p[n:]
	}
	if string(d.Sum(nil)) != string(want.Sum(nil)) {
		t.Fatalf("Sum %x, want %x", d.Sum(nil), want.Sum(nil))
	}
}

func BenchmarkUpdate(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Update(0, buf)
	}
}

func BenchmarkHashCRC64(b *testing.B) {
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		crc64.Update(0, table, buf)
	}
}

// The folding code is what the other tests check, where the CPU has it.
func TestFoldUsedWhereAvailable(t *testing.T) {
	if !useFold {
		t.Skip("this CPU has no carry-less multiplication: the tables are used")
	}
	p := make([]byte, 64)
	p[0] = 1
	var rest [16]byte
	fold(0, p, &consts, &rest)
	if rest == [16]byte{} {
		t.Fatal("fold gave nothing")
	}
}
