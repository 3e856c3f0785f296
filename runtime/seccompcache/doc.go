// Package seccompcache keeps compiled seccomp programs, so that starting
// a container (and exec in one) does not compile the same filter again.
//
// runc's libcontainer compiles a container's seccomp profile with
// libseccomp inside the container's init, every time: for Docker's default
// profile (about 400 rules, three architectures) that is about 30 ms of a
// start, a third of `skiff run --rm`. libcontainer has no way to pass a
// compiled program in, so `make build` builds skiff against a copy of runc
// with two small files added (overlay/*.go.in, applied by patch.sh): the
// program is compiled by runc's own code in the process that prepares the
// container (only the load is left out), cached here under its
// configuration's digest and the libseccomp version, and handed to init in
// the configuration's ListenerMetadata field (which runc reads only for a
// seccomp agent, so never when skiff uses it). Init checks the digest and
// loads the program as runc would have; anything that does not fit is
// compiled as before. A build without the patch (plain `go build`) has
// Enabled false and behaves as runc does.
package seccompcache
