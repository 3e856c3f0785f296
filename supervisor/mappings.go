package supervisor

import (
	"bytes"
	"os"

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
//
// It allocates nothing on the heap (/proc/self/maps is read into
// mapsBuf), so that it leaves no garbage in a heap just handed back.
func dropStartupMappings() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil || !positionDependent(exe) {
		return
	}
	n := readMaps()
	// All ranges first: code that runs after the first madvise is mapped
	// again, so the loop that drops is kept short.
	var ranges [8][2]uintptr
	found := 0
	for rest := mapsBuf[:n]; len(rest) > 0 && found < len(ranges); {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if start, end, ok := exeMapping(line, exe); ok {
			ranges[found] = [2]uintptr{start, end - start}
			found++
		}
	}
	for _, r := range ranges[:found] {
		_, _, _ = unix.RawSyscall(unix.SYS_MADVISE, r[0], r[1], unix.MADV_DONTNEED)
	}
}

// mapsBuf holds /proc/self/maps (a supervisor's is ~4 KiB).
var mapsBuf [16 << 10]byte

func readMaps() int {
	fd, err := unix.Open("/proc/self/maps", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	n := 0
	for n < len(mapsBuf) {
		m, err := unix.Read(fd, mapsBuf[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	return n
}

// exeMapping parses a maps line, "start-end perms offset dev inode path",
// and reports the range when it is a read-only mapping of exe.
func exeMapping(line []byte, exe string) (start, end uintptr, ok bool) {
	var f [6][]byte
	k := 0
	for i := 0; i < len(line) && k < 6; {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		j := i
		for j < len(line) && (line[j] != ' ' || k == 5) {
			j++
		}
		if j > i {
			f[k] = line[i:j]
			k++
		}
		i = j
	}
	if k != 6 || string(f[5]) != exe || (string(f[1]) != "r-xp" && string(f[1]) != "r--p") {
		return 0, 0, false
	}
	a, b, _ := bytes.Cut(f[0], []byte{'-'})
	start, ok1 := hex(a)
	end, ok2 := hex(b)
	return start, end, ok1 && ok2 && end > start
}

func hex(b []byte) (uintptr, bool) {
	var v uintptr
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return 0, false
		}
	}
	return v, len(b) > 0
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
