/*
 * vigilctl.c - the command line client of vigild's control socket.
 *
 * One request, one reply, then exit: connect to the socket, send one JSON
 * line ({"cmd":...,"args":{...}}), read one JSON line back, print it for a
 * person (aligned tables, severities in colour on a terminal) or, with
 * --json, as it came (indented) for a script. Protocol and reply schema:
 * docs/control-protocol.md.
 *
 * Everything it can check without the daemon it checks first (an ID is a
 * positive integer, a DURATION parses as in vigil.ini, with the core's own
 * parser from core/parse.c), so a typo is a usage error (2) and never a
 * round trip. Nothing blocks without a deadline: connect is non-blocking
 * and the whole exchange must finish within --timeout (5s).
 *
 * Exit status, for scripts:
 *   0  done
 *   1  the daemon refused: no such incident or silence, a bad request,
 *      a conflict (already resolved), an internal error
 *   2  usage: an unknown command or option, a malformed ID or DURATION
 *   3  vigild cannot be reached: no socket, nobody listening, permission
 *      denied, no reply in time, too many clients, an unreadable reply
 *   4  health: vigild runs but is degraded
 *
 * Text the daemon relays (incident messages, action output) is shown with
 * control characters replaced, so it cannot move the cursor or recolour
 * the terminal.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "control.h"
#include "parse.h"
#include "util.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define EXIT_DEGRADED 4

/* Replies larger than this are not read to the end. */
#define MAX_REPLY (64 * 1024 * 1024)
#define DEFAULT_TIMEOUT (5 * VIGIL_SEC)

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_CYAN "\033[36m"
#define C_BOLD "\033[1m"
#define C_RESET "\033[0m"

static const char *prog = "vigilctl";
static int use_color;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vigilctl [OPTION]... COMMAND [ARG]...\n"
		"Talks to a running vigild through its control socket.\n"
		"\n"
		"Commands:\n"
		"  status                       uptime, and every plugin instance with its\n"
		"                               state and restarts\n"
		"  incidents [--all]            open incidents (--all: resolved ones too)\n"
		"  show ID                      one incident, with its remediation attempts\n"
		"  ack ID [--comment TEXT]      acknowledge an incident\n"
		"  resolve ID                   resolve an incident by hand\n"
		"  silence add --match EXPR --for DURATION [--comment TEXT]\n"
		"                               record incidents matching EXPR as silenced\n"
		"                               for DURATION (30m, 2h, 1d); EXPR like\n"
		"                               'key=cpu_hot*' or 'type=disk_full mount=/'\n"
		"  silence list                 the silences in force\n"
		"  silence rm ID                remove a silence\n"
		"  health                       healthy or degraded, and why\n"
		"  reload                       reload the configuration (not supported\n"
		"                               yet: vigild says so; restart it instead)\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH        the control socket (default: $VIGIL_SOCKET,\n"
		"                           else %s)\n"
		"  -j, --json               print the daemon's reply as JSON, for scripts\n"
		"      --no-color           no colours (nor with NO_COLOR set, or when\n"
		"                           stdout is not a terminal)\n"
		"  -t, --timeout DURATION   give up on the daemon after this long (5s)\n"
		"  -h, --help               print this help and exit\n"
		"  -V, --version            print the version and exit\n"
		"\n"
		"Exit status: 0 done; 1 the daemon refused (no such incident or silence,\n"
		"bad request, conflict); 2 usage error; 3 cannot reach vigild (no socket,\n"
		"nobody listening, permission denied, timeout); 4 health is degraded.\n",
		VIGIL_CONTROL_SOCKET);
}

static void VIGIL_PRINTF(1, 2) die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'vigilctl --help'.\n");
	exit(EXIT_USAGE);
}

static void VIGIL_PRINTF(2, 3) die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/* ------------------------------------------------------------ arguments */

static uint64_t parse_id(const char *s, const char *what)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v == 0)
		die_usage("'%s' is not %s id: expected a positive integer, "
			  "like 12", s, what);
	return v;
}

static void check_duration(const char *s)
{
	vigil_time_ns ns;
	char why[160];

	if (vigil_parse_duration(s, &ns, why, sizeof(why)) < 0)
		die_usage("--for '%s': %s", s, why);
	if (ns <= 0)
		die_usage("--for '%s': a silence must last longer than 0", s);
}

/* ------------------------------------------------------------- request */

static void gen_print(void *ctx, const char *str, size_t len)
{
	vigil_buf_add(ctx, str, len);
}

static void j_str(yajl_gen g, const char *s)
{
	if (yajl_gen_string(g, (const unsigned char *)s, strlen(s)) !=
	    yajl_gen_status_ok)
		die_usage("'%s' is not valid UTF-8 text", s);
}

struct request {
	const char *cmd;
	int has_id, all;
	uint64_t id;
	const char *comment, *match, *duration;
};

/* {"cmd":...,"args":{...}} and a newline, into b. */
static void build_request(const struct request *r, struct vigil_buf *b)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_config(g, yajl_gen_print_callback, gen_print, b);
	yajl_gen_map_open(g);
	j_str(g, "cmd");
	j_str(g, r->cmd);
	j_str(g, "args");
	yajl_gen_map_open(g);
	if (r->has_id) {
		j_str(g, "id");
		yajl_gen_integer(g, (long long)r->id);
	}
	if (r->all) {
		j_str(g, "all");
		yajl_gen_bool(g, 1);
	}
	if (r->match) {
		j_str(g, "match");
		j_str(g, r->match);
	}
	if (r->duration) {
		j_str(g, "for");
		j_str(g, r->duration);
	}
	if (r->comment) {
		j_str(g, "comment");
		j_str(g, r->comment);
	}
	yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	yajl_gen_free(g);
	vigil_buf_add(b, "\n", 1);
}

/* ------------------------------------------------------------ exchange */

static int remaining_ms(vigil_time_ns deadline)
{
	vigil_time_ns left = deadline - vigil_monotonic();

	if (left <= 0)
		return 0;
	return (int)((left + VIGIL_MSEC - 1) / VIGIL_MSEC);
}

static void VIGIL_PRINTF(2, 3)
	unreachable(const char *path, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: cannot reach vigild at %s: ", prog, path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_UNREACHABLE);
}

static void wait_for(int fd, short events, const char *path,
		     vigil_time_ns deadline, vigil_time_ns timeout)
{
	struct pollfd p = {.fd = fd, .events = events};
	char t[32];

	for (;;) {
		int n = poll(&p, 1, remaining_ms(deadline));

		if (n > 0)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			unreachable(path, "poll: %s", strerror(errno));
		vigil_format_duration(timeout, t, sizeof(t));
		unreachable(path, "no reply within %s. vigild may be busy or "
			    "stuck: check 'systemctl status vigild' and "
			    "'journalctl -u vigild', or try a longer "
			    "--timeout", t);
	}
}

static int connect_to(const char *path, vigil_time_ns deadline,
		      vigil_time_ns timeout)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(int);
	int fd, err = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		die_usage("--socket '%s': longer than %zu bytes", path,
			  sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		unreachable(path, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	err = errno;
	if (err == EINPROGRESS) {
		wait_for(fd, POLLOUT, path, deadline, timeout);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err == 0)
			return fd;
	}
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		unreachable(path, "no such socket. Is vigild running "
			    "('systemctl status vigild')? Another socket: "
			    "--socket PATH or VIGIL_SOCKET (vigil.ini: "
			    "[daemon] control_socket)");
		break;
	case ECONNREFUSED:
		unreachable(path, "connection refused: nothing listens there "
			    "(a socket left by a vigild that stopped?). Check "
			    "'systemctl status vigild'");
		break;
	case EACCES:
	case EPERM:
		unreachable(path, "permission denied. Run as root, or as a "
			    "member of the group named by control_group in "
			    "vigil.ini ('ls -l %s' shows the group)", path);
		break;
	case EAGAIN:
		unreachable(path, "vigild is not accepting connections (its "
			    "queue is full); try again");
		break;
	default:
		unreachable(path, "%s", strerror(err));
	}
	return -1;
}

/* Sends `req`, returns the reply line (NUL-terminated, without newline). */
static char *exchange(const char *path, const struct vigil_buf *req,
		      vigil_time_ns timeout)
{
	vigil_time_ns deadline = vigil_monotonic() + timeout;
	struct vigil_buf in = {0};
	size_t off = 0;
	int fd = connect_to(path, deadline, timeout);

	while (off < req->len) {
		ssize_t n = send(fd, req->data + off, req->len - off,
				 MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
		} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_for(fd, POLLOUT, path, deadline, timeout);
		} else {
			/* Refused at once (permission, busy): the reason may
			 * be waiting to be read. */
			break;
		}
	}
	for (;;) {
		char *nl;
		ssize_t n;

		vigil_grow((void **)&in.data, &in.cap, in.len + 65536 + 1, 1);
		n = recv(fd, in.data + in.len, 65536, 0);
		if (n > 0) {
			in.len += (size_t)n;
			in.data[in.len] = '\0';
			nl = memchr(in.data, '\n', in.len);
			if (nl) {
				*nl = '\0';
				break;
			}
			if (in.len > MAX_REPLY)
				unreachable(path, "the reply is larger than "
					    "%d MiB", MAX_REPLY >> 20);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			wait_for(fd, POLLIN, path, deadline, timeout);
			continue;
		}
		if (in.len) { /* an unterminated last line */
			in.data[in.len] = '\0';
			break;
		}
		if (n < 0)
			unreachable(path, "%s", strerror(errno));
		unreachable(path, "vigild closed the connection without a "
			    "reply");
	}
	close(fd);
	return in.data;
}

/* ------------------------------------------------------- reply helpers */

static yajl_val get(yajl_val obj, const char *key)
{
	if (!YAJL_IS_OBJECT(obj))
		return NULL;
	for (size_t i = 0; i < obj->u.object.len; i++)
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	return NULL;
}

static const char *gstr(yajl_val obj, const char *key)
{
	return YAJL_GET_STRING(get(obj, key));
}

static long long gint(yajl_val obj, const char *key, long long def)
{
	yajl_val v = get(obj, key);

	return YAJL_IS_INTEGER(v) ? v->u.number.i : def;
}

/* A number, integer or not; -1 when absent or null. */
static double gnum(yajl_val obj, const char *key)
{
	yajl_val v = get(obj, key);

	if (YAJL_IS_INTEGER(v))
		return (double)v->u.number.i;
	return YAJL_IS_DOUBLE(v) ? v->u.number.d : -1;
}

/* Text for a terminal: control characters (C0, DEL, C1) become a space,
 * so a message cannot send escape sequences. Owned by the caller. */
static char *clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	struct vigil_buf b = {0};

	vigil_buf_add(&b, "", 0);
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			vigil_buf_add(&b, " ", 1);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			vigil_buf_add(&b, " ", 1);
			p++;
		} else {
			vigil_buf_add(&b, (const char *)p, 1);
		}
	}
	return b.data;
}

/* Columns a UTF-8 string takes: one per code point. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* "2026-11-24T10:01:02.123Z" to seconds since the epoch; 0 if not one. */
static time_t parse_time(const char *s)
{
	struct tm tm = {0};
	int n = 0;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
			 &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec, &n) != 6 || n == 0)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* "3m ago", "in 1h59m", "2d4h ago"; "-" for no time. Two units at most,
 * the second only past an hour, and truncated: never later than it is. */
static void age(const char *stamp, char *buf, size_t len)
{
	time_t t = parse_time(stamp);
	long long d, v;
	char span[24];

	if (!t) {
		snprintf(buf, len, "-");
		return;
	}
	d = (long long)time(NULL) - (long long)t;
	v = d < 0 ? -d : d;
	if (v < 60)
		snprintf(span, sizeof(span), "%llds", v);
	else if (v < 3600)
		snprintf(span, sizeof(span), "%lldm", v / 60);
	else if (v < 86400 && v % 3600 / 60)
		snprintf(span, sizeof(span), "%lldh%lldm", v / 3600,
			 v % 3600 / 60);
	else if (v < 86400)
		snprintf(span, sizeof(span), "%lldh", v / 3600);
	else if (v % 86400 / 3600)
		snprintf(span, sizeof(span), "%lldd%lldh", v / 86400,
			 v % 86400 / 3600);
	else
		snprintf(span, sizeof(span), "%lldd", v / 86400);
	if (d >= 0)
		snprintf(buf, len, "%s ago", span);
	else
		snprintf(buf, len, "in %s", span);
}

static const char *severity_color(const char *sev)
{
	if (!sev)
		return NULL;
	if (strcmp(sev, "critical") == 0)
		return C_RED;
	if (strcmp(sev, "warning") == 0)
		return C_YELLOW;
	if (strcmp(sev, "info") == 0)
		return C_CYAN;
	return NULL;
}

static const char *state_color(const char *state)
{
	if (!state)
		return NULL;
	if (strcmp(state, "failed") == 0 || strcmp(state, "misconfigured") == 0)
		return C_RED;
	if (strcmp(state, "backoff") == 0 || strcmp(state, "down") == 0)
		return C_YELLOW;
	return NULL;
}

/* s in colour c when colour is on. */
static void put_colored(const char *c, const char *s)
{
	if (use_color && c)
		printf("%s%s%s", c, s, C_RESET);
	else
		fputs(s, stdout);
}

/* --------------------------------------------------------------- tables */

struct table {
	size_t ncols, nrows; /* row 0 is the header */
	char **cell;
	const char **color;
};

static void table_init(struct table *t, size_t ncols, ...)
{
	va_list ap;

	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
	t->cell = vigil_xcalloc(ncols, sizeof(*t->cell));
	t->color = vigil_xcalloc(ncols, sizeof(*t->color));
	va_start(ap, ncols);
	for (size_t i = 0; i < ncols; i++)
		t->cell[i] = vigil_xstrdup(va_arg(ap, const char *));
	va_end(ap);
	t->nrows = 1;
}

/* Sets column `col` of the last row (add a row with table_row first). */
static void table_set(struct table *t, size_t col, const char *s,
		      const char *color)
{
	size_t i = (t->nrows - 1) * t->ncols + col;

	free(t->cell[i]);
	t->cell[i] = clean(s && *s ? s : "-");
	/* "output\n" ends in a blank once cleaned: no line ends in one. */
	for (size_t n = strlen(t->cell[i]); n > 1 && t->cell[i][n - 1] == ' ';)
		t->cell[i][--n] = '\0';
	t->color[i] = color;
}

static void table_row(struct table *t)
{
	size_t n = (t->nrows + 1) * t->ncols;

	t->cell = vigil_xrealloc(t->cell, n * sizeof(*t->cell));
	t->color = vigil_xrealloc(t->color, n * sizeof(*t->color));
	for (size_t i = t->nrows * t->ncols; i < n; i++) {
		t->cell[i] = vigil_xstrdup("-");
		t->color[i] = NULL;
	}
	t->nrows++;
}

/* Columns padded to their widest cell, two spaces apart; the last is not
 * padded, so no line ends in blanks. */
static void table_print(struct table *t)
{
	size_t *w = vigil_xcalloc(t->ncols, sizeof(*w));

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t cw = width(t->cell[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cell[r * t->ncols + c];

			if (r == 0 && use_color)
				printf("%s%s%s", C_BOLD, s, C_RESET);
			else
				put_colored(t->color[r * t->ncols + c], s);
			if (c + 1 < t->ncols)
				printf("%*s", (int)(w[c] - width(s) + 2), "");
		}
		putchar('\n');
	}
	free(w);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	free(t->color);
}

/* ----------------------------------------------------------- rendering */

/* Whole seconds, "3h12m5s"; "?" for an unknown (negative) one. */
static void fmt_seconds(double s, char *buf, size_t len)
{
	if (s < 0 || s > 1e12) {
		snprintf(buf, len, "?");
		return;
	}
	if (s < 1) {
		snprintf(buf, len, "0s");
		return;
	}
	vigil_format_duration((vigil_time_ns)s * VIGIL_SEC, buf, len);
}

static void print_status(yajl_val r)
{
	yajl_val plugins = get(r, "plugins");
	char up[32];
	struct table t;

	fmt_seconds(gnum(r, "uptime_s"), up, sizeof(up));
	printf("vigild %s (pid %lld), up %s\n",
	       gstr(r, "version") ? gstr(r, "version") : "?",
	       gint(r, "pid", 0), up);
	yajl_val counts = get(r, "counts");

	if (gstr(r, "config"))
		printf("config: %s\n", gstr(r, "config"));
	if (YAJL_IS_OBJECT(counts))
		printf("instances: %lld sensor(s), %lld rule(s), %lld "
		       "action(s), %lld sink(s); %lld of %lld running, %lld "
		       "disabled\n",
		       gint(counts, "sensors", 0), gint(counts, "rules", 0),
		       gint(counts, "actions", 0), gint(counts, "sinks", 0),
		       gint(counts, "running", 0),
		       gint(counts, "sensors", 0) + gint(counts, "rules", 0) +
			       gint(counts, "actions", 0) +
			       gint(counts, "sinks", 0),
		       gint(counts, "disabled", 0));
	if (gstr(r, "health")) {
		const char *h = gstr(r, "health");

		fputs("health: ", stdout);
		put_colored(strcmp(h, "healthy") == 0 ? C_GREEN : C_RED, h);
		putchar('\n');
	}
	printf("open incidents: %lld\n", gint(r, "incidents_open", 0));
	if (get(r, "silences"))
		printf("silences: %lld\n", gint(r, "silences", 0));
	if (get(r, "undelivered"))
		printf("undelivered events: %lld\n",
		       gint(r, "undelivered", 0));
	if (!YAJL_IS_ARRAY(plugins) || plugins->u.array.len == 0) {
		printf("no plugin instances\n");
		return;
	}
	putchar('\n');
	table_init(&t, 9, "SECTION", "PLUGIN", "KIND", "STATE", "RESTARTS",
		   "CALLS", "ERRORS", "ISOLATION", "LAST EXIT");
	for (size_t i = 0; i < plugins->u.array.len; i++) {
		yajl_val p = plugins->u.array.values[i];
		char n[24];

		table_row(&t);
		table_set(&t, 0, gstr(p, "section"), NULL);
		table_set(&t, 1, gstr(p, "plugin"), NULL);
		table_set(&t, 2, gstr(p, "kind"), NULL);
		table_set(&t, 3, gstr(p, "state"),
			  state_color(gstr(p, "state")));
		snprintf(n, sizeof(n), "%lld", gint(p, "restarts", 0));
		table_set(&t, 4, n, NULL);
		snprintf(n, sizeof(n), "%lld", gint(p, "calls", 0));
		table_set(&t, 5, n, NULL);
		snprintf(n, sizeof(n), "%lld", gint(p, "errors", 0));
		table_set(&t, 6, n,
			  gint(p, "errors", 0) > 0 ? C_YELLOW : NULL);
		if (gstr(p, "worker")) {
			/* a shared one: "worker io" */
			char w[80];

			snprintf(w, sizeof(w), "worker %s", gstr(p, "worker"));
			table_set(&t, 7, w, NULL);
		} else {
			table_set(&t, 7, gstr(p, "isolation"), NULL);
		}
		table_set(&t, 8, gstr(p, "last_exit"), NULL);
	}
	table_print(&t);
}

static int is_true(yajl_val obj, const char *key)
{
	return YAJL_IS_TRUE(get(obj, key));
}

/* "open", "acknowledged (flapping, silenced)". */
static void status_text(yajl_val inc, char *buf, size_t len)
{
	const char *st = gstr(inc, "status");
	int fl = is_true(inc, "flapping"), si = is_true(inc, "silenced");

	snprintf(buf, len, "%s%s%s%s%s", st ? st : "?",
		 fl || si ? " (" : "", fl ? "flapping" : "",
		 fl && si ? ", " : "", si ? "silenced)" : fl ? ")" : "");
}

static int sev_rank(yajl_val inc)
{
	const char *s = gstr(inc, "severity");

	if (!s)
		return 0;
	return strcmp(s, "critical") == 0 ? 3 :
	       strcmp(s, "warning") == 0  ? 2 :
	       strcmp(s, "info") == 0	  ? 1 :
					    0;
}

/* Unresolved first, then the most severe, then the newest. */
static int incident_cmp(const void *a, const void *b)
{
	yajl_val x = *(const yajl_val *)a, y = *(const yajl_val *)b;
	const char *sx = gstr(x, "status"), *sy = gstr(y, "status");
	int rx = sx && strcmp(sx, "resolved") == 0;
	int ry = sy && strcmp(sy, "resolved") == 0;
	long long ix = gint(x, "id", 0), iy = gint(y, "id", 0);

	if (rx != ry)
		return rx - ry;
	if (sev_rank(x) != sev_rank(y))
		return sev_rank(y) - sev_rank(x);
	return (iy > ix) - (iy < ix);
}

static void print_incidents(yajl_val r, int all)
{
	yajl_val list = get(r, "incidents");
	yajl_val *v;
	size_t n;
	struct table t;

	if (!YAJL_IS_ARRAY(list) || list->u.array.len == 0) {
		printf(all ? "no incidents\n" : "no open incidents\n");
		return;
	}
	n = list->u.array.len;
	v = vigil_xmalloc(n * sizeof(*v));
	memcpy(v, list->u.array.values, n * sizeof(*v));
	qsort(v, n, sizeof(*v), incident_cmp);
	table_init(&t, 6, "ID", "SEVERITY", "STATUS", "OPENED", "KEY",
		   "MESSAGE");
	for (size_t i = 0; i < n; i++) {
		char id[24], st[64], when[32];

		table_row(&t);
		snprintf(id, sizeof(id), "%lld", gint(v[i], "id", 0));
		table_set(&t, 0, id, NULL);
		table_set(&t, 1, gstr(v[i], "severity"),
			  severity_color(gstr(v[i], "severity")));
		status_text(v[i], st, sizeof(st));
		table_set(&t, 2, st, NULL);
		age(gstr(v[i], "created"), when, sizeof(when));
		table_set(&t, 3, when, NULL);
		table_set(&t, 4, gstr(v[i], "key"), NULL);
		table_set(&t, 5, gstr(v[i], "message"), NULL);
	}
	free(v);
	table_print(&t);
}

/* "label: value" lines, the labels aligned. */
static void field(const char *label, const char *value, const char *color)
{
	char *c = clean(value ? value : "-");

	printf("%-12s ", label);
	put_colored(color, c);
	putchar('\n');
	free(c);
}

static void field_time(const char *label, const char *stamp)
{
	char rel[32], *s;

	if (!stamp) {
		field(label, "-", NULL);
		return;
	}
	age(stamp, rel, sizeof(rel));
	s = vigil_xasprintf("%s (%s)", stamp, rel);
	field(label, s, NULL);
	free(s);
}

static void print_incident(yajl_val inc)
{
	yajl_val labels = get(inc, "labels"), actions = get(inc, "actions");
	struct vigil_buf b = {0};
	char st[64], num[64];

	status_text(inc, st, sizeof(st));
	printf("incident #%lld  ", gint(inc, "id", 0));
	put_colored(severity_color(gstr(inc, "severity")),
		    gstr(inc, "severity") ? gstr(inc, "severity") : "?");
	printf("  %s\n", st);
	field("key", gstr(inc, "key"), NULL);
	field("type", gstr(inc, "type"), NULL);
	field("message", gstr(inc, "message"), NULL);
	/* As the daemon spelled it: the shortest exact form. */
	if (YAJL_IS_NUMBER(get(inc, "value")))
		field("value", get(inc, "value")->u.number.r, NULL);
	for (size_t i = 0; YAJL_IS_OBJECT(labels) && i < labels->u.object.len;
	     i++)
		vigil_buf_printf(&b, "%s%s=%s", i ? ", " : "",
				 labels->u.object.keys[i],
				 YAJL_GET_STRING(labels->u.object.values[i]) ?
					 YAJL_GET_STRING(
						 labels->u.object.values[i]) :
					 "");
	field("labels", b.data ? b.data : "-", NULL);
	vigil_buf_free(&b);
	field("peak", gstr(inc, "peak"), severity_color(gstr(inc, "peak")));
	field_time("opened", gstr(inc, "created"));
	field_time("updated", gstr(inc, "updated"));
	if (gstr(inc, "resolved"))
		field_time("resolved", gstr(inc, "resolved"));
	snprintf(num, sizeof(num), "%lld", gint(inc, "occurrences", 0));
	field("occurrences", num, NULL);
	/* Fields of the incident lifecycle, shown when the daemon sends
	 * them. */
	if (gint(inc, "escalation", 0) > 0) {
		snprintf(num, sizeof(num), "%lld", gint(inc, "escalation", 0));
		field("escalations", num, NULL);
	}
	if (gstr(inc, "acked"))
		field_time("acked", gstr(inc, "acked"));
	if (gstr(inc, "acked_by"))
		field("acked by", gstr(inc, "acked_by"), NULL);
	if (gstr(inc, "comment"))
		field("comment", gstr(inc, "comment"), NULL);
	if (!YAJL_IS_ARRAY(actions))
		return;
	if (actions->u.array.len == 0) {
		printf("\nno remediation attempts\n");
		return;
	}
	printf("\n");
	{
		struct table t;

		table_init(&t, 6, "ACTION", "STARTED", "DURATION", "EXIT",
			   "OUTCOME", "OUTPUT");
		for (size_t i = 0; i < actions->u.array.len; i++) {
			yajl_val a = actions->u.array.values[i];
			const char *oc = gstr(a, "outcome");
			char when[32], dur[32], ex[24];

			table_row(&t);
			table_set(&t, 0, gstr(a, "action"), NULL);
			age(gstr(a, "start"), when, sizeof(when));
			table_set(&t, 1, when, NULL);
			vigil_format_duration(gint(a, "duration_ms", 0) *
						      VIGIL_MSEC,
					      dur, sizeof(dur));
			table_set(&t, 2, dur, NULL);
			snprintf(ex, sizeof(ex), "%lld",
				 gint(a, "exit_status", -1));
			table_set(&t, 3, ex, NULL);
			table_set(&t, 4, oc,
				  oc && strcmp(oc, "ok") != 0 ? C_RED : NULL);
			table_set(&t, 5, gstr(a, "output"), NULL);
		}
		table_print(&t);
	}
}

static void print_silence(yajl_val s, const char *verb)
{
	char when[32];
	char *m = clean(gstr(s, "match"));

	age(gstr(s, "end"), when, sizeof(when));
	printf("%s silence #%lld: %s until %s (%s)\n", verb,
	       gint(s, "id", 0), m, gstr(s, "end") ? gstr(s, "end") : "?",
	       when);
	free(m);
}

static void print_silences(yajl_val r)
{
	yajl_val list = get(r, "silences");
	struct table t;

	if (!YAJL_IS_ARRAY(list) || list->u.array.len == 0) {
		printf("no silences\n");
		return;
	}
	table_init(&t, 6, "ID", "MATCH", "STARTED", "ENDS", "BY", "COMMENT");
	for (size_t i = 0; i < list->u.array.len; i++) {
		yajl_val s = list->u.array.values[i];
		char id[24], a[32], e[32];

		table_row(&t);
		snprintf(id, sizeof(id), "%lld", gint(s, "id", 0));
		table_set(&t, 0, id, NULL);
		table_set(&t, 1, gstr(s, "match"), NULL);
		age(gstr(s, "start"), a, sizeof(a));
		table_set(&t, 2, a, NULL);
		age(gstr(s, "end"), e, sizeof(e));
		table_set(&t, 3, e, NULL);
		table_set(&t, 4, gstr(s, "created_by"), NULL);
		table_set(&t, 5, gstr(s, "comment"), NULL);
	}
	table_print(&t);
}

/* Returns the exit status. */
static int print_health(yajl_val r)
{
	yajl_val h = get(r, "health"), reasons = get(h, "reasons");
	const char *st = gstr(h, "status");
	int healthy = st && strcmp(st, "healthy") == 0;
	char up[32];

	put_colored(healthy ? C_GREEN : C_RED, st ? st : "unknown");
	if (gnum(h, "vigild_uptime_s") >= 0) {
		fmt_seconds(gnum(h, "vigild_uptime_s"), up, sizeof(up));
		printf(", vigild up %s", up);
	}
	if (gnum(h, "uptime_s") >= 0) {
		fmt_seconds(gnum(h, "uptime_s"), up, sizeof(up));
		printf(", system up %s", up);
	}
	putchar('\n');
	if (gstr(r, "collected")) {
		char when[32];

		age(gstr(r, "collected"), when, sizeof(when));
		printf("  report of %s%s\n", when,
		       YAJL_IS_TRUE(get(r, "published")) ? "" :
		       " (collected for this request: vigild publishes none "
		       "yet)");
	}
	for (size_t i = 0; YAJL_IS_ARRAY(reasons) && i < reasons->u.array.len;
	     i++) {
		char *c = clean(YAJL_GET_STRING(reasons->u.array.values[i]));

		printf("  - %s\n", c);
		free(c);
	}
	return healthy ? 0 : EXIT_DEGRADED;
}

/* The reply as it came, indented. */
static void gen_tree(yajl_gen g, yajl_val v)
{
	switch (v ? v->type : yajl_t_null) {
	case yajl_t_string:
		yajl_gen_string(g, (const unsigned char *)v->u.string,
				strlen(v->u.string));
		break;
	case yajl_t_number:
		yajl_gen_number(g, v->u.number.r, strlen(v->u.number.r));
		break;
	case yajl_t_object:
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			yajl_gen_string(
				g, (const unsigned char *)v->u.object.keys[i],
				strlen(v->u.object.keys[i]));
			gen_tree(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
		break;
	case yajl_t_array:
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			gen_tree(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
		break;
	case yajl_t_true:
		yajl_gen_bool(g, 1);
		break;
	case yajl_t_false:
		yajl_gen_bool(g, 0);
		break;
	default:
		yajl_gen_null(g);
		break;
	}
}

static void print_json(yajl_val v)
{
	struct vigil_buf b = {0};
	yajl_gen g = yajl_gen_alloc(NULL);

	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	yajl_gen_config(g, yajl_gen_print_callback, gen_print, &b);
	gen_tree(g, v);
	yajl_gen_free(g);
	if (b.len && b.data[b.len - 1] != '\n')
		vigil_buf_add(&b, "\n", 1);
	fwrite(b.data, 1, b.len, stdout);
	vigil_buf_free(&b);
}

/* ----------------------------------------------------------------- main */

enum { OPT_NO_COLOR = 256, OPT_ALL, OPT_COMMENT, OPT_MATCH, OPT_FOR };

static void no_more(char **pos, size_t npos, size_t used, const char *cmd)
{
	if (npos > used)
		die_usage("%s: unexpected argument '%s'", cmd, pos[used]);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"no-color", no_argument, NULL, OPT_NO_COLOR},
		{"no-colour", no_argument, NULL, OPT_NO_COLOR},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"all", no_argument, NULL, OPT_ALL},
		{"comment", required_argument, NULL, OPT_COMMENT},
		{"match", required_argument, NULL, OPT_MATCH},
		{"for", required_argument, NULL, OPT_FOR},
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("VIGIL_SOCKET"), *color_env;
	vigil_time_ns timeout = DEFAULT_TIMEOUT;
	struct request rq = {0};
	struct vigil_buf req = {0};
	int json = 0, no_color = 0, opt, status = 0;
	char **pos, *line, err[256];
	const char *cmd;
	size_t npos;
	yajl_val reply, ok;

	if (!path || !*path)
		path = VIGIL_CONTROL_SOCKET;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:jt:hV", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 's': path = optarg; break;
		case 'j': json = 1; break;
		case OPT_NO_COLOR: no_color = 1; break;
		case 't':
			if (vigil_parse_duration(optarg, &timeout, err,
						 sizeof(err)) < 0)
				die_usage("--timeout '%s': %s", optarg, err);
			if (timeout <= 0)
				die_usage("--timeout '%s': must be longer "
					  "than 0", optarg);
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("vigilctl %s\n", PACKAGE_VERSION); return 0;
		case OPT_ALL: rq.all = 1; break;
		case OPT_COMMENT: rq.comment = optarg; break;
		case OPT_MATCH: rq.match = optarg; break;
		case OPT_FOR: rq.duration = optarg; break;
		case ':':
			die_usage("option '%s' needs a value",
				  argv[optind - 1]);
			break;
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	pos = argv + optind;
	npos = (size_t)(argc - optind);
	if (npos == 0)
		die_usage("no command given");
	color_env = getenv("NO_COLOR");
	use_color = !json && !no_color && isatty(STDOUT_FILENO) &&
		    !(color_env && *color_env);

	cmd = pos[0];
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "health") == 0 ||
	    strcmp(cmd, "reload") == 0 || strcmp(cmd, "incidents") == 0) {
		rq.cmd = cmd;
		no_more(pos, npos, 1, cmd);
	} else if (strcmp(cmd, "show") == 0 || strcmp(cmd, "ack") == 0 ||
		   strcmp(cmd, "resolve") == 0) {
		rq.cmd = cmd;
		if (npos < 2)
			die_usage("%s: which incident? (%s ID)", cmd, cmd);
		rq.id = parse_id(pos[1], "an incident");
		rq.has_id = 1;
		no_more(pos, npos, 2, cmd);
	} else if (strcmp(cmd, "silence") == 0) {
		const char *sub = npos > 1 ? pos[1] : "";

		if (strcmp(sub, "add") == 0) {
			rq.cmd = "silence.add";
			if (!rq.match || !*rq.match)
				die_usage("silence add: --match EXPR is "
					  "required");
			if (!rq.duration)
				die_usage("silence add: --for DURATION is "
					  "required (30m, 2h, 1d)");
			check_duration(rq.duration);
			no_more(pos, npos, 2, "silence add");
		} else if (strcmp(sub, "list") == 0) {
			rq.cmd = "silence.list";
			no_more(pos, npos, 2, "silence list");
		} else if (strcmp(sub, "rm") == 0) {
			rq.cmd = "silence.rm";
			if (npos < 3)
				die_usage("silence rm: which silence? "
					  "(silence rm ID)");
			rq.id = parse_id(pos[2], "a silence");
			rq.has_id = 1;
			no_more(pos, npos, 3, "silence rm");
		} else {
			die_usage("silence: expected add, list or rm%s%s%s",
				  *sub ? ", found '" : "", sub,
				  *sub ? "'" : "");
		}
	} else {
		die_usage("unknown command '%s'", cmd);
	}
	/* Options that the command does not take are mistakes, not
	 * silently ignored. */
	if (rq.all && strcmp(rq.cmd, "incidents") != 0)
		die_usage("--all applies to incidents only");
	if (rq.comment && strcmp(rq.cmd, "ack") != 0 &&
	    strcmp(rq.cmd, "silence.add") != 0)
		die_usage("--comment applies to ack and silence add only");
	if ((rq.match || rq.duration) && strcmp(rq.cmd, "silence.add") != 0)
		die_usage("--match and --for apply to silence add only");

	build_request(&rq, &req);
	if (req.len > VIGIL_CONTROL_MAX_REQUEST)
		die_usage("the request is over %d bytes: shorten --comment or "
			  "--match", VIGIL_CONTROL_MAX_REQUEST);
	line = exchange(path, &req, timeout);
	vigil_buf_free(&req);

	reply = yajl_tree_parse(line, err, sizeof(err));
	if (!YAJL_IS_OBJECT(reply)) {
		char *nl = strchr(err, '\n');

		if (nl)
			*nl = '\0';
		die(EXIT_UNREACHABLE, "vigild at %s sent a reply vigilctl "
		    "cannot read (%s)", path, reply ? "not an object" : err);
	}
	free(line);
	ok = get(reply, "ok");
	if (!YAJL_IS_TRUE(ok)) {
		const char *code = gstr(reply, "code");
		const char *msg = gstr(reply, "error");
		char *c = clean(msg ? msg : "refused");

		status = EXIT_REFUSED;
		if (code && (strcmp(code, "permission_denied") == 0 ||
			     strcmp(code, "busy") == 0 ||
			     strcmp(code, "timeout") == 0))
			status = EXIT_UNREACHABLE;
		if (json)
			print_json(reply);
		if (status == EXIT_UNREACHABLE)
			fprintf(stderr, "%s: cannot use vigild at %s: %s\n",
				prog, path, c);
		else if (strcmp(pos[0], "silence") == 0)
			fprintf(stderr, "%s: silence %s: %s\n", prog, pos[1],
				c);
		else
			fprintf(stderr, "%s: %s: %s\n", prog,
				pos[0], c);
		free(c);
		yajl_tree_free(reply);
		return status;
	}
	if (strcmp(rq.cmd, "health") == 0) {
		if (json) {
			const char *st = gstr(get(reply, "health"), "status");

			print_json(reply);
			status = st && strcmp(st, "healthy") == 0 ?
					 0 :
					 EXIT_DEGRADED;
		} else {
			status = print_health(reply);
		}
	} else if (json) {
		print_json(reply);
	} else if (strcmp(rq.cmd, "status") == 0) {
		print_status(reply);
	} else if (strcmp(rq.cmd, "incidents") == 0) {
		print_incidents(reply, rq.all);
	} else if (strcmp(rq.cmd, "show") == 0) {
		print_incident(get(reply, "incident"));
	} else if (strcmp(rq.cmd, "ack") == 0 ||
		   strcmp(rq.cmd, "resolve") == 0) {
		yajl_val inc = get(reply, "incident");
		char *k = clean(gstr(inc, "key"));

		printf("%s incident #%lld: %s\n",
		       rq.cmd[0] == 'a' ? "acknowledged" : "resolved",
		       gint(inc, "id", (long long)rq.id), k);
		free(k);
	} else if (strcmp(rq.cmd, "silence.add") == 0) {
		print_silence(get(reply, "silence"), "added");
	} else if (strcmp(rq.cmd, "silence.list") == 0) {
		print_silences(reply);
	} else if (strcmp(rq.cmd, "silence.rm") == 0) {
		printf("removed silence #%" PRIu64 "\n", rq.id);
	} else if (strcmp(rq.cmd, "reload") == 0) {
		printf("configuration reloaded\n");
	}
	yajl_tree_free(reply);
	if (fflush(stdout) != 0 || ferror(stdout))
		die(EXIT_REFUSED, "writing the output: %s", strerror(errno));
	return status;
}
