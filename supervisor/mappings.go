package supervisor

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// dropStartupMappings unmaps from this process the pages of its own
// binary that start-up (or a collection) touched: the kernel maps a file
// 64 KiB around each page faulted in, so start-up leaves the whole binary
// (~3 MiB) mapped though an idle supervisor runs a small part of it. The
// pages stay in the page cache, shared by every supervisor; what the
// supervisor runs again is mapped again on first use. Only the read-only
// mappings of a position-dependent binary (ELF ET_EXEC, as the Makefile
// builds it) are dropped: nothing ever writes them, so they hold no
// private copy that would be lost. A PIE's relocated pages would.
func dropStartupMappings() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil || !positionDependent(exe) {
		return
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(maps, []byte{'\n'}) {
		// start-end perms offset dev inode path
		f := bytes.Fields(line)
		if len(f) != 6 || string(f[5]) != exe || (string(f[1]) != "r-xp" && string(f[1]) != "r--p") {
			continue
		}
		a, b, _ := bytes.Cut(f[0], []byte{'-'})
		start, err1 := strconv.ParseUint(string(a), 16, 64)
		end, err2 := strconv.ParseUint(string(b), 16, 64)
		if err1 == nil && err2 == nil && end > start {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
		}
	}
}

// positionDependent reports whether the binary at path is an ELF
// executable loaded at a fixed address (no relocations applied at load).
func positionDependent(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	// e_ident (magic, class, data: 1 is little-endian), then e_type,
	// 2 for ET_EXEC (package debug/elf would add ~100 KiB to the binary).
	var hdr [18]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil || string(hdr[:4]) != "\x7fELF" {
		return false
	}
	if hdr[5] == 1 {
		return hdr[16] == 2 && hdr[17] == 0
	}
	return hdr[16] == 0 && hdr[17] == 2
}
