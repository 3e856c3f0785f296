//go:build !amd64

package crc64iso

const useFold = false

func fold(reg uint64, p []byte, k *[4]uint64, out *[16]byte) { panic("unreachable") }
