package crc64iso

import "golang.org/x/sys/cpu"

var useFold = cpu.X86.HasPCLMULQDQ && cpu.X86.HasSSE41

// fold folds p (a multiple of 16 bytes, at least 64), its first 8 bytes
// xored with reg, down to 16 bytes with the same remainder.
//
//go:noescape
func fold(reg uint64, p []byte, k *[4]uint64, out *[16]byte)
