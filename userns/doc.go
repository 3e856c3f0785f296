// Package userns owns the per-user user namespace that every rootless skiff
// invocation runs in.
//
// One namespace per user (0 → the user's uid, 1..N → the /etc/subuid range)
// is created once and kept alive by a pause process; every later invocation
// joins it from a C constructor (join.c) before the Go runtime starts
// threads, because setns(CLONE_NEWUSER) needs a single-threaded process.
// Joining shares the pause process's mount namespace too, so every call sees
// the same overlay mounts and can reach containers started by other calls.
//
// It does not know about images or containers; it only provides the
// namespace, the per-user paths' owner, and the reset (system migrate).
package userns
