/*
 * exec - run a command for an incident event, without a shell.
 *
 * `command` is split into words once, at init, the way sh splits a simple
 * command but with nothing expanded: blanks separate words, '...' quotes
 * everything literally, "..." quotes everything but \" \\ \$ \`, and a
 * backslash outside quotes takes the next character literally. The first
 * word is run through execvp: an absolute path, or a name looked up in PATH.
 *
 * The incident reaches the command only through its environment, never its
 * argv, so a message or label cannot inject arguments:
 *
 *   VIGIL_EVENT        opened, escalated, deescalated, resolved, action
 *   VIGIL_INCIDENT_ID  VIGIL_KEY  VIGIL_TYPE  VIGIL_MESSAGE
 *   VIGIL_SEVERITY     info, warning, critical
 *   VIGIL_STATUS       pending, open, acknowledged, resolved
 *   VIGIL_VALUE        the shortest text that reads back as the same double
 *   VIGIL_CREATED      when the incident opened, Unix seconds
 *   VIGIL_LABEL_<KEY>  each label; KEY uppercased, other than [A-Z0-9] '_'
 *
 * The command runs in its own process group with stdin on /dev/null and
 * stdout and stderr on one pipe; an excerpt of what it prints goes into the
 * result. At `timeout` the whole group gets SIGTERM, and SIGKILL once the
 * output ends or `kill_grace` later. When the command exits by itself, the
 * group gets the same, for whatever the command left running in it: so
 * nothing outlives the attempt unless it deliberately left the group
 * (setsid). A leftover that has closed its output gets little grace, since
 * the output ending is the only sign of it that is visible from here.
 *
 * The core must leave SIGCHLD at its default disposition and must not reap
 * children it did not start: this plugin waits for its own child.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* execvpe, pipe2, F_DUPFD_CLOEXEC */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vigil/plugin.h>

/* Without a pidfd, how often to look whether the child has exited while
 * its output pipe is quiet or held open by something it started. */
#define EXEC_POLL_MS 20
/* Reads per wakeup, so a command printing without pause cannot keep the
 * loop from noticing its deadline. */
#define EXEC_READS_PER_WAKEUP 16
#define EXEC_TRUNCATED "\n[truncated]"

struct exec {
	const struct vigil_host *host;
	char **argv;  /* argc words, NULL-terminated, pointing into words */
	char *words;
	vigil_time_ns timeout;
	vigil_time_ns kill_grace;
	long max_fd; /* where the fallback close loop stops */
};

static const struct vigil_option exec_options[] = {
	{"command", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "program and arguments, quoted as in sh; run without a shell",
	 VIGIL_OPT_REQUIRED},
	{"timeout", VIGIL_OPT_DURATION, "30s", 100 * 1e6, 3600 * 1e9, NULL,
	 "how long the command may run before it is killed", 0},
	{"kill_grace", VIGIL_OPT_DURATION, "2s", 0, 300 * 1e9, NULL,
	 "time between SIGTERM and SIGKILL", 0},
	VIGIL_OPTIONS_END,
};

/* The excerpt of the output kept in the result. */
struct excerpt {
	char *buf;   /* NULL or size 0: keep nothing */
	size_t size;
	size_t len;
	int truncated;
};

/* ---------------------------------------------------------------------------
 * Splitting the command
 * ------------------------------------------------------------------------- */

static int is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/*
 * Splits `cmd` into NUL-terminated words written one after the other to
 * `out`, which has strlen(cmd) + 1 bytes: every word but the last ends
 * where a blank was, so the words never need more. Sets *n_words and
 * returns 0, or sets *why and *where (a byte offset) and returns -1.
 */
static int split_words(const char *cmd, char *out, size_t *n_words,
		       const char **why, size_t *where)
{
	const char *p = cmd, *open;
	size_t n = 0;
	int in_word = 0;

	while (*p) {
		if (is_blank(*p)) {
			if (in_word) {
				*out++ = '\0';
				n++;
				in_word = 0;
			}
			p++;
			continue;
		}
		/* Even '' starts a word: it is an empty argument, as in sh. */
		in_word = 1;
		switch (*p) {
		case '\'':
			open = p++;
			while (*p && *p != '\'')
				*out++ = *p++;
			if (!*p) {
				*why = "unterminated ' quote";
				*where = (size_t)(open - cmd);
				return -1;
			}
			p++;
			break;
		case '"':
			open = p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] &&
				    strchr("\"\\$`", p[1]) != NULL)
					p++;
				*out++ = *p++;
			}
			if (!*p) {
				*why = "unterminated \" quote";
				*where = (size_t)(open - cmd);
				return -1;
			}
			p++;
			break;
		case '\\':
			if (!p[1]) {
				*why = "a backslash with nothing after it";
				*where = (size_t)(p - cmd);
				return -1;
			}
			*out++ = p[1];
			p += 2;
			break;
		default:
			*out++ = *p++;
			break;
		}
	}
	if (in_word) {
		*out = '\0';
		n++;
	}
	*n_words = n;
	return 0;
}

/* ---------------------------------------------------------------------------
 * The child's environment
 * ------------------------------------------------------------------------- */

/* The inherited environment minus any VIGIL_* of the daemon's own, after
 * the incident's variables. The first n_own strings are ours to free. */
struct env {
	char **vars;
	size_t n, cap, n_own;
};

static int env_add(struct env *e, const char *name, const char *value)
{
	size_t ln = strlen(name), lv = strlen(value ? value : "");
	char *s = malloc(ln + lv + 2);

	if (!s)
		return -1;
	memcpy(s, name, ln);
	s[ln] = '=';
	memcpy(s + ln + 1, value ? value : "", lv + 1);
	e->vars[e->n++] = s;
	e->n_own = e->n;
	return 0;
}

static void env_free(struct env *e)
{
	size_t i;

	for (i = 0; i < e->n_own; i++)
		free(e->vars[i]);
	free(e->vars);
	e->vars = NULL;
}

/* Shortest of %.15g and %.17g that reads back as `v`: 81.2, not
 * 81.200000000000003, yet exact for scripts that compare. */
static void format_value(char *buf, size_t size, double v)
{
	snprintf(buf, size, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, size, "%.17g", v);
}

static int env_label(struct env *e, const struct vigil_label *l)
{
	static const char prefix[] = "VIGIL_LABEL_";
	size_t len = strlen(l->key ? l->key : ""), i;
	char *name = malloc(sizeof(prefix) + len);
	int rc = 0;

	if (!name)
		return -1;
	memcpy(name, prefix, sizeof(prefix) - 1);
	for (i = 0; i < len; i++) {
		char ch = l->key[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		else if (!(ch >= 'A' && ch <= 'Z') && !(ch >= '0' && ch <= '9'))
			ch = '_';
		name[sizeof(prefix) - 1 + i] = ch;
	}
	name[sizeof(prefix) - 1 + len] = '\0';

	/* Keys differing only in case or punctuation map to one name: the
	 * first label keeps it rather than the environment holding two. */
	for (i = 0; i < e->n; i++) {
		if (strncmp(e->vars[i], name, sizeof(prefix) - 1 + len) == 0 &&
		    e->vars[i][sizeof(prefix) - 1 + len] == '=')
			goto out;
	}
	rc = env_add(e, name, l->value);
out:
	free(name);
	return rc;
}

static int build_env(struct env *e, const struct vigil_event *ev)
{
	char id[24], value[32], created[24];
	const char *const fixed[][2] = {
		{"VIGIL_EVENT", vigil_event_type_name(ev->type)},
		{"VIGIL_INCIDENT_ID", id},
		{"VIGIL_KEY", ev->key},
		{"VIGIL_TYPE", ev->incident_type},
		{"VIGIL_SEVERITY", vigil_severity_name(ev->severity)},
		{"VIGIL_STATUS", vigil_status_name(ev->status)},
		{"VIGIL_MESSAGE", ev->message},
		{"VIGIL_VALUE", value},
		{"VIGIL_CREATED", created},
	};
	const size_t n_fixed = sizeof(fixed) / sizeof(fixed[0]);
	size_t n_inherited = 0, i;
	char **v;

	snprintf(id, sizeof(id), "%llu", (unsigned long long)ev->incident_id);
	format_value(value, sizeof(value), ev->value);
	snprintf(created, sizeof(created), "%lld",
		 (long long)(ev->created / VIGIL_SEC));

	for (v = environ; v && *v; v++)
		n_inherited++;
	e->n = e->n_own = 0;
	e->cap = n_fixed + ev->n_labels + n_inherited + 1;
	e->vars = calloc(e->cap, sizeof(*e->vars));
	if (!e->vars)
		return -1;

	for (i = 0; i < n_fixed; i++) {
		if (env_add(e, fixed[i][0], fixed[i][1]) < 0)
			goto fail;
	}
	for (i = 0; i < ev->n_labels; i++) {
		if (env_label(e, &ev->labels[i]) < 0)
			goto fail;
	}

	/* Inherited last, borrowed, and without VIGIL_*: a stale
	 * VIGIL_KEY in the daemon's environment must not shadow ours. */
	for (v = environ; v && *v; v++) {
		if (strncmp(*v, "VIGIL_", 6) != 0)
			e->vars[e->n++] = *v;
	}
	e->vars[e->n] = NULL;
	return 0;

fail:
	env_free(e);
	return -1;
}

/* ---------------------------------------------------------------------------
 * The child, between fork and exec: async-signal-safe calls only, since
 * the daemon may have threads.
 * ------------------------------------------------------------------------- */

static void close_from(int lowfd, long max_fd)
{
	long fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0u) == 0)
		return;
#endif
	for (fd = lowfd; fd < max_fd; fd++)
		close((int)fd);
}

/* Reports errno to the parent on `status_fd` and exits 127, as sh does for
 * a command it cannot run. The parent words the message, because
 * strerror() is not safe here. */
static void child_fail(int status_fd)
{
	int err = errno;
	ssize_t unused = write(status_fd, &err, sizeof(err));

	(void)unused;
	_exit(127);
}

__attribute__((noreturn)) static void
exec_child(const struct exec *x, char **envp, int out_fd, int status_fd)
{
	struct sigaction dfl;
	sigset_t none;
	int sig, out, status, null_fd;

	/* Handlers were reset by fork, but ignored signals (SIGPIPE in most
	 * daemons) and the blocked mask would survive exec. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	setpgid(0, 0);

	/* Lift both pipe ends above 2 first: if the daemon runs with 0-2
	 * closed, a pipe may have landed there and be clobbered below. */
	status = fcntl(status_fd, F_DUPFD_CLOEXEC, 3);
	if (status < 0)
		child_fail(status_fd);
	out = fcntl(out_fd, F_DUPFD, 3);
	if (out < 0)
		child_fail(status);
	null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0)
		child_fail(status);
	if ((null_fd != 0 && dup2(null_fd, 0) < 0) || dup2(out, 1) < 0 ||
	    dup2(out, 2) < 0)
		child_fail(status);
	/* 0-2 are final; park the status pipe on 3 (close-on-exec, so a
	 * successful exec closes it and the parent reads EOF) and close the
	 * rest, whatever the daemon or other plugins left open. */
	if (status != 3) {
		if (dup2(status, 3) < 0 || fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
			child_fail(status);
		status = 3;
	}
	close_from(4, x->max_fd);

	execvpe(x->argv[0], x->argv, envp);
	child_fail(status);
	_exit(127); /* not reached */
}

/* ---------------------------------------------------------------------------
 * The parent: supervise one attempt
 * ------------------------------------------------------------------------- */

static void excerpt_add(struct excerpt *o, const char *data, size_t n)
{
	size_t room, i;

	if (!o->buf || o->size == 0)
		return;
	room = o->size - 1 - o->len;
	if (n > room) {
		o->truncated = 1;
		n = room;
	}
	/* A NUL would silently end the string early. */
	for (i = 0; i < n; i++)
		o->buf[o->len + i] = data[i] ? data[i] : '?';
	o->len += n;
	o->buf[o->len] = '\0';
}

static void excerpt_finish(struct excerpt *o)
{
	size_t mark = sizeof(EXEC_TRUNCATED) - 1;

	if (!o->buf || o->size == 0)
		return;
	if (o->truncated) {
		/* The marker takes the place of the last bytes kept. */
		if (o->size > mark + 1) {
			if (o->len > o->size - 1 - mark)
				o->len = o->size - 1 - mark;
			memcpy(o->buf + o->len, EXEC_TRUNCATED, mark + 1);
			o->len += mark;
		}
		return;
	}
	/* "echo" ends with a newline nobody wants in a log line. */
	while (o->len > 0 && (o->buf[o->len - 1] == '\n' ||
			      o->buf[o->len - 1] == '\r'))
		o->buf[--o->len] = '\0';
}

/* Reads what is there; returns 1 at EOF (or a read error, which ends the
 * output just the same), else 0. */
static int drain(int fd, struct excerpt *o)
{
	char chunk[4096];
	int i;

	for (i = 0; i < EXEC_READS_PER_WAKEUP; i++) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n > 0) {
			excerpt_add(o, chunk, (size_t)n);
			continue;
		}
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
	}
	return 0;
}

/* Whether `pid` has exited, without reaping it: an unreaped child keeps
 * its pid, and with it the process group id, from being reused, so
 * kill(-pid) cannot reach an unrelated group. */
static int child_exited(pid_t pid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != EINTR; /* ECHILD: reaped behind our back */
	return si.si_pid == pid;
}

/* Signals the command's process group; the command alone should the group
 * not exist (both setpgid calls failed), so that the final SIGKILL always
 * reaches it and the waitpid() after it cannot hang. */
static void signal_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);
}

static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* Readable when the child exits: wakes the poll at once instead of
	 * every EXEC_POLL_MS. Linux 5.3+; older kernels take the timer. */
	return (int)syscall(SYS_pidfd_open, pid, 0u);
#else
	(void)pid;
	return -1;
#endif
}

static int ms_until(vigil_time_ns now, vigil_time_ns when)
{
	vigil_time_ns left = when - now;

	if (left <= 0)
		return 0;
	if (left > 3600 * VIGIL_SEC)
		left = 3600 * VIGIL_SEC;
	return (int)((left + VIGIL_MSEC - 1) / VIGIL_MSEC);
}

/*
 * Drains `out_fd` until the child has exited and the pipe is at EOF, or
 * the deadline. SIGTERM goes to the group at the deadline or as soon as
 * the child exits (for what it left behind), SIGKILL once the output has
 * ended or kill_grace later. Always reaps the child; closes out_fd.
 * Returns the wait status, or -1 if it could not be had.
 */
static int supervise(const struct exec *x, struct vigil_ctx *ctx, pid_t pid,
		     int out_fd, vigil_time_ns deadline, struct excerpt *o,
		     int *timed_out)
{
	const struct vigil_host *h = x->host;
	int pidfd = open_pidfd(pid), exited = 0, term_sent = 0, status = 0;
	vigil_time_ns kill_at = 0, now;
	pid_t r;

	*timed_out = 0;
	for (;;) {
		struct pollfd fds[2];
		nfds_t n = 0;
		int ms;

		if (!exited)
			exited = child_exited(pid);
		now = h->monotonic(ctx);
		if (!term_sent && (exited || now >= deadline)) {
			*timed_out = !exited;
			signal_group(pid, SIGTERM);
			term_sent = 1;
			kill_at = now + x->kill_grace;
		}
		if (exited && out_fd < 0)
			break;
		if (term_sent && now >= kill_at)
			break;

		ms = ms_until(now, term_sent ? kill_at : deadline);
		if (out_fd >= 0) {
			fds[n].fd = out_fd;
			fds[n].events = POLLIN;
			fds[n].revents = 0; /* poll leaves it alone on EINTR */
			n++;
		}
		if (!exited && pidfd >= 0) {
			fds[n].fd = pidfd;
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			n++;
		} else if (!exited && ms > EXEC_POLL_MS) {
			ms = EXEC_POLL_MS;
		}
		if (poll(fds, n, ms) < 0 && errno != EINTR)
			break; /* cannot wait: kill, reap, report */
		if (out_fd >= 0 && fds[0].revents && drain(out_fd, o)) {
			close(out_fd);
			out_fd = -1;
		}
	}

	signal_group(pid, SIGKILL);
	if (out_fd >= 0) {
		drain(out_fd, o);
		close(out_fd);
	}
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (pidfd >= 0)
		close(pidfd);
	return r == pid ? status : -1;
}

/* The first line of the output, short, for the log. */
static void first_line(char *buf, size_t size, const char *output)
{
	size_t n = 0;

	while (output && output[n] && output[n] != '\n' && n + 1 < size) {
		buf[n] = output[n];
		n++;
	}
	buf[n] = '\0';
}

/* Records an attempt that could not start: `what` failed with `err`. */
static int start_failed(const struct exec *x, struct vigil_ctx *ctx,
			const struct vigil_event *ev,
			struct vigil_action_result *res, const char *what,
			int err)
{
	res->exit_status = -1;
	res->outcome = VIGIL_ACTION_ERROR;
	if (res->output && res->output_size > 0)
		snprintf(res->output, res->output_size, "%s: %s", what,
			 strerror(err));
	x->host->log(ctx, VIGIL_LOG_WARNING,
		     "%s for incident %llu (%s): could not start: %s: %s",
		     x->argv[0], (unsigned long long)ev->incident_id,
		     ev->key ? ev->key : "", what, strerror(err));
	return 0;
}

static int exec_run(void *state, struct vigil_ctx *ctx,
		    const struct vigil_event *ev,
		    struct vigil_action_result *res)
{
	struct exec *x = state;
	const struct vigil_host *h = x->host;
	struct excerpt o = {res->output, res->output_size, 0, 0};
	int out[2] = {-1, -1}, st[2] = {-1, -1};
	int exec_err = 0, timed_out, status, err;
	vigil_time_ns start = h->monotonic(ctx);
	sigset_t all, old;
	struct env env;
	char line[160];
	ssize_t got;
	pid_t pid;

	if (o.buf && o.size > 0)
		o.buf[0] = '\0';

	if (build_env(&env, ev) < 0)
		return start_failed(x, ctx, ev, res, "environment", ENOMEM);
	/* Close-on-exec, so that a fork elsewhere in the daemon cannot carry
	 * them off and hold the pipe open. */
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0) {
		err = errno;
		if (out[0] >= 0) {
			close(out[0]);
			close(out[1]);
		}
		env_free(&env);
		return start_failed(x, ctx, ev, res, "pipe", err);
	}
	/* Only our end: a non-blocking write end would make the command's
	 * writes fail with EAGAIN when the pipe fills. */
	fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);

	/* Signals stay blocked across fork so that no daemon handler runs
	 * in the child before exec_child() resets them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		exec_child(x, env.vars, out[1], st[1]);
	err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(out[1]);
	close(st[1]);
	env_free(&env);
	if (pid < 0) {
		close(out[0]);
		close(st[0]);
		return start_failed(x, ctx, ev, res, "fork", err);
	}
	/* The child does the same; whichever runs first makes the group
	 * exist before anyone signals it. EACCES once it has exec'd. */
	setpgid(pid, pid);

	/* EOF when exec succeeded (close-on-exec), an errno when not. The
	 * child does nothing that blocks before exec, so this is brief. */
	do
		got = read(st[0], &exec_err, sizeof(exec_err));
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof(exec_err))
		exec_err = 0;
	close(st[0]);

	status = supervise(x, ctx, pid, out[0], start + x->timeout, &o,
			   &timed_out);
	excerpt_finish(&o);

	if (status < 0)
		res->exit_status = -1;
	else if (WIFEXITED(status))
		res->exit_status = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		res->exit_status = 128 + WTERMSIG(status);
	else
		res->exit_status = -1;

	if (exec_err) {
		res->outcome = VIGIL_ACTION_ERROR;
		if (o.buf && o.size > 0)
			snprintf(o.buf, o.size, "cannot execute %s: %s",
				 x->argv[0], strerror(exec_err));
	} else if (timed_out) {
		res->outcome = VIGIL_ACTION_TIMEOUT;
	} else if (res->exit_status == 0) {
		res->outcome = VIGIL_ACTION_OK;
	} else {
		res->outcome = VIGIL_ACTION_FAILED;
	}

	first_line(line, sizeof(line), o.buf && o.size > 0 ? o.buf : "");
	h->log(ctx,
	       res->outcome == VIGIL_ACTION_OK ? VIGIL_LOG_INFO
					       : VIGIL_LOG_WARNING,
	       "%s for %s of incident %llu (%s): %s, exit status %d after "
	       "%lld ms%s%s",
	       x->argv[0], vigil_event_type_name(ev->type),
	       (unsigned long long)ev->incident_id, ev->key ? ev->key : "",
	       vigil_outcome_name(res->outcome), res->exit_status,
	       (long long)((h->monotonic(ctx) - start) / VIGIL_MSEC),
	       line[0] ? ": " : "", line);
	return 0;
}

/* ---------------------------------------------------------------------------
 * Setup
 * ------------------------------------------------------------------------- */

static void exec_fini(void *state)
{
	struct exec *x = state;

	if (!x)
		return;
	free(x->argv);
	free(x->words);
	free(x);
}

/* Shell operators arrive as plain arguments here, which is rarely what
 * was meant; says so once rather than failing, since it may be. */
static void warn_shell_syntax(struct exec *x, struct vigil_ctx *ctx)
{
	static const char *const ops[] = {"|", "||", "&&", ";", "&",
					  ">", ">>", "<", "2>&1"};
	size_t i, j;

	for (i = 1; x->argv[i]; i++) {
		for (j = 0; j < sizeof(ops) / sizeof(ops[0]); j++) {
			if (strcmp(x->argv[i], ops[j]) == 0) {
				x->host->log(ctx, VIGIL_LOG_WARNING,
					     "command: \"%s\" is passed to %s "
					     "as an argument: there is no "
					     "shell; for pipes or redirection "
					     "use command = /bin/sh -c '...'",
					     ops[j], x->argv[0]);
				return;
			}
		}
	}
}

static int exec_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	struct exec *x;
	const char *cmd, *why = NULL;
	size_t n = 0, where = 0, i;
	char *p;
	int rc = VIGIL_EFATAL;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->host = host;

	cmd = host->config_string(ctx, "command");
	if (!cmd) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "command is not set: expected a program and its "
			  "arguments, e.g. command = /usr/bin/systemctl "
			  "restart myapp");
		goto fail;
	}
	x->words = malloc(strlen(cmd) + 1);
	if (!x->words) {
		rc = -ENOMEM;
		goto fail;
	}
	if (split_words(cmd, x->words, &n, &why, &where) < 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "command: %s at character %zu of \"%s\": expected "
			  "words separated by blanks, quoted with matching "
			  "' or \"",
			  why, where + 1, cmd);
		goto fail;
	}
	if (n == 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "command = \"%s\" has no words: expected a program "
			  "and its arguments",
			  cmd);
		goto fail;
	}
	x->argv = calloc(n + 1, sizeof(*x->argv));
	if (!x->argv) {
		rc = -ENOMEM;
		goto fail;
	}
	for (i = 0, p = x->words; i < n; i++, p += strlen(p) + 1)
		x->argv[i] = p;

	if (x->argv[0][0] == '\0') {
		host->log(ctx, VIGIL_LOG_ERR,
			  "command: the program name is empty: expected an "
			  "absolute path or a name looked up in PATH");
		goto fail;
	}
	if (x->argv[0][0] != '/' && strchr(x->argv[0], '/')) {
		/* Relative to the daemon's working directory, which nobody
		 * configuring it has in mind. */
		host->log(ctx, VIGIL_LOG_ERR,
			  "command: program \"%s\" is a relative path: "
			  "expected an absolute path or a bare name looked up "
			  "in PATH",
			  x->argv[0]);
		goto fail;
	}
	/* Not fatal: the program may be installed after the daemon starts,
	 * and then each attempt reports it. */
	if (x->argv[0][0] == '/' && access(x->argv[0], X_OK) < 0)
		host->log(ctx, VIGIL_LOG_WARNING,
			  "command: %s is not executable now (%s); attempts "
			  "will fail until it is",
			  x->argv[0], strerror(errno));
	warn_shell_syntax(x, ctx);

	x->timeout = host->config_duration(ctx, "timeout", 30 * VIGIL_SEC);
	x->kill_grace = host->config_duration(ctx, "kill_grace", 2 * VIGIL_SEC);
	if (x->timeout <= 0 || x->kill_grace < 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "timeout = %lld ms, kill_grace = %lld ms: expected a "
			  "timeout > 0 and a kill_grace >= 0",
			  (long long)(x->timeout / VIGIL_MSEC),
			  (long long)(x->kill_grace / VIGIL_MSEC));
		goto fail;
	}
	/* sysconf() is not safe in the child: ask now. */
	x->max_fd = sysconf(_SC_OPEN_MAX);
	if (x->max_fd < 0)
		x->max_fd = 1024;

	*state = x;
	return 0;

fail:
	exec_fini(x);
	return rc;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_ACTION, "exec", "1.0.0"),
	.description = "run a command, without a shell, with the incident in "
		       "its environment",
	.options = exec_options,
	.init = exec_init,
	.fini = exec_fini,
	.run = exec_run,
};
