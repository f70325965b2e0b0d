/*
 * spawner.c - forks the workers from a small process that stays still.
 *
 * Why: a worker forked from the core shares the core's pages only until
 * either side writes to them, and the core writes to its heap and stack all
 * the time. Each worker thus ends up owning a stale copy of most of the
 * core's heap as it was at the fork (measured: 70-120 kB per worker). The
 * spawner is forked once, before the core grows (no pipeline, journal or
 * control socket yet), and then only waits on its socket: the pages the
 * workers inherit from it stay shared among all of them.
 *
 * A worker is cloned with CLONE_PARENT, so it is the core's child exactly
 * as if the core had forked it: the core reaps it, gets SIGCHLD, and the
 * worker dies with the core (PR_SET_PDEATHSIG). The spawner only ever runs
 * vigild's code, never a plugin's.
 *
 * Protocol (SOCK_SEQPACKET): the core sends the section names of the
 * instances the worker serves (one, or the members of a `worker = NAME`
 * group) with the worker's end of each one's socketpair (SCM_RIGHTS, in
 * the same order); the spawner answers with the worker's pid or -errno.
 * The spawner exits at EOF.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_LINUX_SCHED_H
#include <linux/sched.h>
#endif
#include <sched.h>

#include "instance.h"
#include "log.h"
#include "spawner.h"
#include "worker.h"

/* How long the core waits for the spawner's answer. It only forks, so
 * this is only reached when it is stopped or broken. */
#define ANSWER_TIMEOUT_MS 2000
#define NAMES_MAX 4096

struct request {
	uint32_t version;
	uint32_t n;    /* instances, 1 to VIGIL_GROUP_MAX */
	int32_t slot;  /* the group's word in the shared page, -1: none */
	char names[NAMES_MAX]; /* their sections, each ending in '\0' */
};

/* A fork whose child's parent is the caller's parent (the core); 0 in the
 * child. clone3 first (the argument order of clone differs between
 * architectures; with every pointer 0, as here, it does not matter),
 * clone where clone3 is missing (Linux < 5.3, valgrind). */
static pid_t clone_sibling(void)
{
	long pid = -1;

#if defined(SYS_clone3) && defined(HAVE_LINUX_SCHED_H)
	struct clone_args ca;

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PARENT; /* exit signal: the spawner's, SIGCHLD */
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid >= 0 || errno != ENOSYS)
		return (pid_t)pid;
#endif
	pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	return (pid_t)pid;
}

static void answer(int fd, int32_t v)
{
	while (send(fd, &v, sizeof(v), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void __attribute__((noreturn))
spawner_main(int fd, pid_t core, struct vigil_instance *const *all, size_t n)
{
	char comm[17] = "";
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != core)
		_exit(0);
	/* Stopped by the core closing the socket, not by the terminal's ^C
	 * (the workers reset every signal). */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			_exit(1);
		close(fd);
		fd = 3;
	}
	close_range(4, ~0U, 0);
	prctl(PR_GET_NAME, comm);
	prctl(PR_SET_NAME, "vigild-spawner");

	for (;;) {
		union {
			char buf[CMSG_SPACE((VIGIL_GROUP_MAX + 1) * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct request req;
		struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = u.buf,
			.msg_controllen = sizeof(u.buf),
		};
		struct vigil_instance *insts[VIGIL_GROUP_MAX];
		int wfds[VIGIL_GROUP_MAX], extra = 0, bad = 0;
		size_t got = 0, found = 0;
		ssize_t k = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		pid_t pid;

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(0); /* the core closed it, or is gone */
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c;
		     c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0;
			     i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int one;

				memcpy(&one, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(int));
				if (got < VIGIL_GROUP_MAX) {
					wfds[got++] = one;
				} else {
					close(one);
					extra = 1;
				}
			}
		}
		if (k == (ssize_t)sizeof(req) && req.version == 2 && req.n >= 1 &&
		    req.n <= VIGIL_GROUP_MAX &&
		    memchr(req.names, '\0', sizeof(req.names))) {
			const char *name = req.names, *end = req.names + NAMES_MAX;

			for (; found < req.n && name < end &&
			       memchr(name, '\0', (size_t)(end - name));
			     found++) {
				insts[found] = NULL;
				for (size_t i = 0; i < n && !insts[found]; i++)
					if (!strcmp(all[i]->section, name))
						insts[found] = all[i];
				if (!insts[found])
					bad = -ENOENT;
				name += strlen(name) + 1;
			}
		}
		if (!bad && (found == 0 || found != req.n || got != found ||
			     extra || (msg.msg_flags & MSG_CTRUNC)))
			bad = -EBADMSG;
		if (bad) {
			for (size_t i = 0; i < got; i++)
				close(wfds[i]);
			answer(fd, bad);
			continue;
		}
		pid = clone_sibling();
		if (pid == 0) {
			/* The worker: the sockets to the core replace the
			 * spawner's from 3 on (vigil_group_main moves them). */
			prctl(PR_SET_NAME, comm);
			vigil_group_main(insts, wfds, found, core, req.slot);
		}
		answer(fd, pid < 0 ? -errno : (int32_t)pid);
		for (size_t i = 0; i < got; i++)
			close(wfds[i]);
	}
}

size_t vigil_spawner_workers(struct vigil_instance *const *all, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		const struct vigil_instance *inst = all[i];
		const struct vigil_worker *w = inst->worker;

		if (!inst->isolated ||
		    (inst->kind == VIGIL_KIND_ACTION && inst->idle_timeout))
			continue; /* standby: started when needed */
		/* a group (vigil_worker_groups) counts at its first member */
		count += !(w && w->group && w->group->m[0] != w);
	}
	return count;
}

int vigil_spawner_start(struct vigil_spawner *s,
			struct vigil_instance *const *all, size_t n)
{
	pid_t core = getpid();
	int sv[2];

	s->pid = 0;
	s->fd = -1;
	if (vigil_spawner_workers(all, n) < VIGIL_SPAWNER_MIN_WORKERS)
		return 0; /* the core forks the few there are */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(stderr);
	s->pid = fork();
	if (s->pid < 0) {
		int e = errno;

		s->pid = 0;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (s->pid == 0) {
		close(sv[0]);
		spawner_main(sv[1], core, all, n);
	}
	close(sv[1]);
	s->fd = sv[0];
	return 1;
}

/* Forgets a spawner that failed: kills and reaps it (unless `reaped`). */
static void drop(struct vigil_spawner *s, const char *why, int reaped)
{
	int status;

	vigil_warn("worker spawner %d %s; workers are forked by the core from "
		   "now on (they use more memory)",
		   (int)s->pid, why);
	if (!reaped) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->pid = 0;
	s->fd = -1;
}

pid_t vigil_spawner_spawn(struct vigil_spawner *s,
			  struct vigil_instance *const *insts, const int *fds,
			  size_t n, int slot)
{
	union {
		char buf[CMSG_SPACE(VIGIL_GROUP_MAX * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct request req;
	struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *c;
	struct pollfd pfd;
	int32_t reply;
	ssize_t k;
	size_t off = 0;
	char why[128];

	if (!s || s->fd < 0)
		return -ENOTCONN;
	if (n == 0 || n > VIGIL_GROUP_MAX)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.version = 2;
	req.n = (uint32_t)n;
	req.slot = slot;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(insts[i]->section) + 1;

		if (off + len >= sizeof(req.names))
			return -ENAMETOOLONG;
		memcpy(req.names + off, insts[i]->section, len);
		off += len;
	}
	memset(u.buf, 0, sizeof(u.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	while ((k = sendmsg(s->fd, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (k != (ssize_t)sizeof(req)) {
		snprintf(why, sizeof(why), "cannot be reached (%s)",
			 k < 0 ? strerror(errno) : "short write");
		drop(s, why, 0);
		return -ENOTCONN;
	}
	pfd.fd = s->fd;
	pfd.events = POLLIN;
	for (;;) {
		int r = poll(&pfd, 1, ANSWER_TIMEOUT_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			drop(s, "did not answer", 0);
			return -ENOTCONN;
		}
		break;
	}
	while ((k = recv(s->fd, &reply, sizeof(reply), 0)) < 0 &&
	       errno == EINTR)
		;
	if (k != (ssize_t)sizeof(reply)) {
		drop(s, k == 0 ? "is gone" : "answered nonsense", 0);
		return -ENOTCONN;
	}
	return (pid_t)reply;
}

void vigil_spawner_sigchld(struct vigil_spawner *s)
{
	char why[128], reason[96];
	int status;
	pid_t r;

	if (!s || s->pid <= 0)
		return;
	while ((r = waitpid(s->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r != s->pid)
		return;
	vigil_exit_reason(status, reason, sizeof(reason));
	snprintf(why, sizeof(why), "died: %s", reason);
	drop(s, why, 1);
}

void vigil_spawner_stop(struct vigil_spawner *s)
{
	int status;

	if (!s || s->pid <= 0)
		return;
	close(s->fd); /* EOF: it exits at once */
	s->fd = -1;
	for (int waited_ms = 0;; waited_ms++) {
		pid_t r = waitpid(s->pid, &status, WNOHANG);

		if (r == s->pid || (r < 0 && errno != EINTR))
			break;
		if (waited_ms == ANSWER_TIMEOUT_MS) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		usleep(1000);
	}
	s->pid = 0;
}
