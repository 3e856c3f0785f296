package network

import "golang.org/x/sys/unix"

type unixStat = unix.Stat_t

func fstat(fd int, st *unix.Stat_t) error     { return unix.Fstat(fd, st) }
func stat(path string, st *unix.Stat_t) error { return unix.Stat(path, st) }
