// The C half of the shared user namespace: runs as an ELF constructor,
// before the Go runtime starts its threads, because setns(CLONE_NEWUSER)
// is refused to a multi-threaded process.
//
// Three cases:
//   skiff __skiff_pause   the pause process: detach and sleep forever
//                         without ever starting the Go runtime (tiny RSS).
//   euid != 0             an unprivileged invocation: if the user's pause
//                         process is alive, join its user and mount
//                         namespaces and carry on as uid 0 inside them.
//   otherwise             root, or already inside: nothing to do.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

// skiff_userns_joined is read by Go: 1 when this process joined the
// namespace in the constructor.
int skiff_userns_joined = 0;
// skiff_userns_uid and skiff_userns_gid are the user's ids from before
// the join (inside, the process is uid 0).
int skiff_userns_uid = -1;
int skiff_userns_gid = -1;

#define PAUSE_ARG "__skiff_pause"

static void pause_forever(void) {
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "skiff-pause", 0, 0, 0);
	if (chdir("/") < 0) {
		/* nothing to do: the pause process needs no cwd */
	}
	for (;;)
		pause();
}

// runtime_dir mirrors userns.RuntimeDir in Go.
static int runtime_dir(char *buf, size_t len) {
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/skiff", xdg);
	else
		n = snprintf(buf, len, "/tmp/skiff-%u", (unsigned)getuid());
	return n > 0 && (size_t)n < len ? 0 : -1;
}

// pause_pid returns the pid recorded in the pid file when that process is
// this user's pause process, else -1.
static int pause_pid(void) {
	char dir[PATH_MAX], path[PATH_MAX], buf[64];
	struct stat st;
	int fd, pid;
	ssize_t n;

	if (runtime_dir(dir, sizeof dir) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/pause.pid", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_uid != getuid()) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	pid = atoi(buf);
	if (pid <= 0)
		return -1;

	// The process must be ours and must be a pause process (pids are reused).
	snprintf(path, sizeof path, "/proc/%d", pid);
	if (stat(path, &st) < 0 || st.st_uid != getuid())
		return -1;
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char cmd[256];
	n = read(fd, cmd, sizeof cmd - 1);
	close(fd);
	if (n <= 0)
		return -1;
	cmd[n] = 0;
	size_t first = strlen(cmd);
	if ((ssize_t)first + 1 >= n || strcmp(cmd + first + 1, PAUSE_ARG) != 0)
		return -1;
	return pid;
}

static void join(void) {
	char path[64], cwd[PATH_MAX];
	int pid = pause_pid();
	int userfd, mntfd;

	if (pid < 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
	userfd = open(path, O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof path, "/proc/%d/ns/mnt", pid);
	mntfd = open(path, O_RDONLY | O_CLOEXEC);
	if (userfd < 0 || mntfd < 0)
		goto out;
	skiff_userns_uid = (int)getuid();
	skiff_userns_gid = (int)getgid();
	if (getcwd(cwd, sizeof cwd) == NULL)
		cwd[0] = 0;
	if (setns(userfd, CLONE_NEWUSER) < 0)
		goto out;
	if (setns(mntfd, CLONE_NEWNS) < 0) {
		// Half joined is worse than not joined: there is no way back
		// from the user namespace, so stop here.
		fprintf(stderr, "Error: joining the mount namespace of skiff's pause process %d: %s (run: skiff system migrate)\n",
			pid, strerror(errno));
		_exit(125);
	}
	if (cwd[0] == 0 || chdir(cwd) < 0) {
		if (chdir("/") < 0) {
			/* ignore */
		}
	}
	skiff_userns_joined = 1;
out:
	if (userfd >= 0)
		close(userfd);
	if (mntfd >= 0)
		close(mntfd);
}

__attribute__((constructor)) static void skiff_userns_constructor(int argc, char **argv, char **envp) {
	(void)envp;
	if (argc > 1 && strcmp(argv[1], PAUSE_ARG) == 0)
		pause_forever();
	if (argc > 1 && strcmp(argv[1], "init") == 0)
		return; // libcontainer's container init
	if (geteuid() == 0)
		return;
	join();
}
