/*
 * test_control.c - the control socket server, and vigilctl against it.
 *
 * The server runs in the test process on a socket in a directory of the
 * test's own, with fake handlers; clients are plain sockets of the same
 * process, so every test pumps the server (vigil_control_dispatch) while it
 * waits for a reply, as the daemon's loop would. vigilctl runs as a child
 * process against the same server, for its output and exit codes.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "control.h"
#include "control_json.h"
#include "log.h"
#include "unit.h"

static char *dir, *sock_path;
static struct vigil_control *ctl;
static const char *health_status = "healthy";

/* ------------------------------------------------------- fake handlers */

static int h_echo(void *user, const struct vigil_control_req *req,
		  yajl_gen out, char *err, size_t errlen)
{
	const char *s;

	vigil_json_kstr(out, "cmd", req->cmd);
	vigil_json_ku64(out, "n_args", req->n_args);
	vigil_json_ku64(out, "uid", req->uid);
	if (vigil_control_arg_str(req, "text", &s, err, errlen) == 0)
		vigil_json_kstr(out, "text", s);
	return VIGIL_CONTROL_OK;
}

/* Two incidents: #1 warning with a short key, #2 critical with a long one
 * and a message that is not clean UTF-8. */
static void fake_incident(struct vigil_incident *inc, uint64_t id)
{
	static const struct vigil_label lb[] = {{"zone", "thermal_zone0"}};
	vigil_time_ns now = vigil_now();

	memset(inc, 0, sizeof(*inc));
	inc->id = id;
	inc->key = id == 1 ? "load_high" : "cpu_hot{zone=thermal_zone0}";
	inc->type = id == 1 ? "load_high" : "cpu_hot";
	inc->severity = id == 1 ? VIGIL_SEV_WARNING : VIGIL_SEV_CRITICAL;
	inc->peak = inc->severity;
	inc->status = VIGIL_STATUS_OPEN;
	inc->message = id == 1 ? "load1 is 9.5" : "hot \xff\x07 81.2 C";
	inc->value = id == 1 ? 9.5 : 81.2;
	vigil_labels_copy(&inc->labels, lb, id == 1 ? 0 : 1);
	inc->created = now - 180 * VIGIL_SEC;
	inc->updated = now - 10 * VIGIL_SEC;
	inc->occurrences = 3;
}

static int h_incidents(void *user, const struct vigil_control_req *req,
		       yajl_gen out, char *err, size_t errlen)
{
	struct vigil_incident inc;
	int all = 0;

	if (vigil_control_arg_bool(req, "all", &all, err, errlen) == -EINVAL)
		return VIGIL_CONTROL_BAD_REQUEST;
	vigil_json_key(out, "incidents");
	yajl_gen_array_open(out);
	for (uint64_t id = 1; id <= 2; id++) {
		fake_incident(&inc, id);
		vigil_json_incident(out, &inc, 0);
		vigil_labels_free(&inc.labels);
	}
	yajl_gen_array_close(out);
	return VIGIL_CONTROL_OK;
}

static int h_show(void *user, const struct vigil_control_req *req,
		  yajl_gen out, char *err, size_t errlen)
{
	struct vigil_action_rec act = {
		.action = "renice_top", .start = vigil_now() - 60 * VIGIL_SEC,
		.duration = 12 * VIGIL_MSEC, .exit_status = 0,
		.outcome = VIGIL_ACTION_OK, .output = "12345 (process ID)\n"};
	struct vigil_incident inc;
	uint64_t id;

	if (vigil_control_arg_u64(req, "id", &id, err, errlen) < 0)
		return VIGIL_CONTROL_BAD_REQUEST;
	if (id != 1 && id != 2) {
		snprintf(err, errlen, "no incident %llu",
			 (unsigned long long)id);
		return VIGIL_CONTROL_NOT_FOUND;
	}
	fake_incident(&inc, id);
	inc.actions = &act;
	inc.n_actions = 1;
	vigil_json_key(out, "incident");
	vigil_json_incident(out, &inc, 1);
	vigil_labels_free(&inc.labels);
	return VIGIL_CONTROL_OK;
}

static int h_silence_add(void *user, const struct vigil_control_req *req,
			 yajl_gen out, char *err, size_t errlen)
{
	const char *match;
	vigil_time_ns d, now = vigil_now();

	if (vigil_control_arg_str(req, "match", &match, err, errlen) < 0 ||
	    vigil_control_arg_duration(req, "for", &d, err, errlen) < 0)
		return VIGIL_CONTROL_BAD_REQUEST;
	vigil_json_key(out, "silence");
	yajl_gen_map_open(out);
	vigil_json_ku64(out, "id", 7);
	vigil_json_kstr(out, "match", match);
	vigil_json_ktime(out, "start", now);
	vigil_json_ktime(out, "end", now + d);
	vigil_json_kstr(out, "comment", NULL);
	vigil_json_kstr(out, "created_by", "root");
	yajl_gen_map_close(out);
	return VIGIL_CONTROL_OK;
}

static int h_health(void *user, const struct vigil_control_req *req,
		    yajl_gen out, char *err, size_t errlen)
{
	vigil_json_key(out, "health");
	yajl_gen_map_open(out);
	vigil_json_kstr(out, "status", health_status);
	vigil_json_key(out, "reasons");
	yajl_gen_array_open(out);
	if (strcmp(health_status, "healthy") != 0)
		vigil_json_str(out, "disk / 95% full (threshold 90%)");
	yajl_gen_array_close(out);
	vigil_json_key(out, "uptime_s");
	vigil_json_double(out, 3725.5);
	yajl_gen_map_close(out);
	return VIGIL_CONTROL_OK;
}

static int h_status(void *user, const struct vigil_control_req *req,
		    yajl_gen out, char *err, size_t errlen)
{
	static const struct vigil_json_plugin p[] = {
		{"sensor.cpu", "cpu", "sensor", "running", 0, NULL, "process",
		 120, 0, 0, "io"},
		{"sensor.cpu_temperature", "thermal", "sensor", "failed", 5,
		 "exited with status 1", "process", 7, 7, 0, NULL},
		{"sink.log", "log", "sink", "running", 0, NULL, "none", 3, 0, 0,
		 NULL},
	};

	vigil_json_kstr(out, "version", PACKAGE_VERSION);
	vigil_json_ki64(out, "uptime_s", 3725);
	vigil_json_ki64(out, "pid", 4321);
	vigil_json_kstr(out, "config", "/etc/vigil/vigil.ini");
	vigil_json_key(out, "plugins");
	yajl_gen_array_open(out);
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(p); i++)
		vigil_json_plugin(out, &p[i]);
	yajl_gen_array_close(out);
	vigil_json_ku64(out, "incidents_open", 2);
	return VIGIL_CONTROL_OK;
}

/* Leaves a map open: the server must not send that. */
static int h_unbalanced(void *user, const struct vigil_control_req *req,
			yajl_gen out, char *err, size_t errlen)
{
	vigil_json_key(out, "oops");
	yajl_gen_map_open(out);
	return VIGIL_CONTROL_OK;
}

static int h_conflict(void *user, const struct vigil_control_req *req,
		      yajl_gen out, char *err, size_t errlen)
{
	vigil_json_kstr(out, "half", "written");
	snprintf(err, errlen, "incident 3 is resolved already");
	return VIGIL_CONTROL_CONFLICT;
}

static void register_all(struct vigil_control *c)
{
	vigil_control_register(c, "echo", h_echo, NULL);
	vigil_control_register(c, "incidents", h_incidents, NULL);
	vigil_control_register(c, "show", h_show, NULL);
	vigil_control_register(c, "silence.add", h_silence_add, NULL);
	vigil_control_register(c, "health", h_health, NULL);
	vigil_control_register(c, "status", h_status, NULL);
	vigil_control_register(c, "unbalanced", h_unbalanced, NULL);
	vigil_control_register(c, "conflict", h_conflict, NULL);
}

/* ------------------------------------------------------------ fixture */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	return remove(path);
}

static void setup(void)
{
	char why[256];

	dir = unit_tmpdir();
	sock_path = vigil_xasprintf("%s/run/vigil/control.sock", dir);
	health_status = "healthy";
	ck_assert_msg(vigil_control_open(sock_path, 0660, (gid_t)-1, &ctl, why,
					 sizeof(why)) == 0,
		      "open: %s", why);
	register_all(ctl);
}

static void teardown(void)
{
	vigil_control_close(ctl);
	ctl = NULL;
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(sock_path);
	free(dir);
}

/* ------------------------------------------------------------- clients */

static int cl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "connect %s: %s", path, strerror(errno));
	return fd;
}

static void cl_send(int fd, const char *s, size_t len)
{
	ck_assert_int_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* A string literal, without its NUL. */
#define SEND(fd, lit) cl_send((fd), (lit), sizeof(lit) - 1)

/* Lets the server work for up to `ms`. */
static void pump(int ms)
{
	struct pollfd p = {.fd = vigil_control_fd(ctl), .events = POLLIN};

	if (poll(&p, 1, ms) > 0)
		vigil_control_dispatch(ctl);
}

/* The next reply line on fd (owned by the caller), or NULL at EOF or on
 * an error; fails after 3 s. */
static char *cl_reply(int fd)
{
	static char pending[256 * 1024];
	static size_t n_pending;
	static int pending_fd = -1;
	vigil_time_ns deadline = vigil_monotonic() + 3 * VIGIL_SEC;

	if (pending_fd != fd)
		n_pending = 0;
	pending_fd = fd;
	for (;;) {
		char *nl = memchr(pending, '\n', n_pending);
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - pending);
			char *line = vigil_xmalloc(len + 1);

			memcpy(line, pending, len);
			line[len] = '\0';
			memmove(pending, nl + 1, n_pending - len - 1);
			n_pending -= len + 1;
			return line;
		}
		ck_assert_msg(vigil_monotonic() < deadline, "no reply in 3s");
		ck_assert_uint_lt(n_pending, sizeof(pending));
		n = recv(fd, pending + n_pending, sizeof(pending) - n_pending,
			 MSG_DONTWAIT);
		if (n > 0) {
			n_pending += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			n_pending = 0;
			return NULL;
		}
		pump(10);
	}
}

static yajl_val roundtrip_tree(int fd, const char *req)
{
	char err[256], *line;
	yajl_val v;

	cl_send(fd, req, strlen(req));
	line = cl_reply(fd);
	ck_assert_msg(line != NULL, "no reply to %s", req);
	v = yajl_tree_parse(line, err, sizeof(err));
	ck_assert_msg(YAJL_IS_OBJECT(v), "reply to %s is not an object: %s",
		      req, line);
	free(line);
	return v;
}

static yajl_val get(yajl_val obj, const char *key)
{
	const char *path[] = {key, NULL};

	return yajl_tree_get(obj, path, yajl_t_any);
}

static const char *gstr(yajl_val obj, const char *key)
{
	return YAJL_GET_STRING(get(obj, key));
}

/* Sends req and checks that it fails with `code` and a message holding
 * `needle`. */
static void expect_error(int fd, const char *req, const char *code,
			 const char *needle)
{
	yajl_val v = roundtrip_tree(fd, req);

	ck_assert_msg(YAJL_IS_FALSE(get(v, "ok")), "%s: ok is not false", req);
	ck_assert_msg(gstr(v, "code") && strcmp(gstr(v, "code"), code) == 0,
		      "%s: code %s, expected %s (%s)", req,
		      unit_s(gstr(v, "code")), code, unit_s(gstr(v, "error")));
	ck_assert_msg(gstr(v, "error") && strstr(gstr(v, "error"), needle),
		      "%s: error '%s' lacks '%s'", req,
		      unit_s(gstr(v, "error")), needle);
	yajl_tree_free(v);
}

/* Waits until the server holds n clients. */
static void wait_clients(size_t n)
{
	for (int i = 0; i < 300 && vigil_control_clients(ctl) != n; i++)
		pump(10);
	ck_assert_uint_eq(vigil_control_clients(ctl), n);
}

/* Reads until EOF (or a reset); fails after 3 s. */
static void expect_eof(int fd)
{
	vigil_time_ns deadline = vigil_monotonic() + 3 * VIGIL_SEC;
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return;
		ck_assert_msg(vigil_monotonic() < deadline, "no EOF in 3s");
		pump(10);
	}
}

/* ------------------------------------------------------------- server */

START_TEST(good_requests_get_the_handlers_reply)
{
	int fd = cl_connect(sock_path);
	yajl_val v;

	v = roundtrip_tree(fd, "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	ck_assert_int_eq(get(v, "protocol")->u.number.i,
			 VIGIL_CONTROL_PROTOCOL);
	ck_assert_int_eq(get(v, "pid")->u.number.i, getpid());
	yajl_tree_free(v);

	/* Unknown top-level members are ignored; args reach the handler. */
	v = roundtrip_tree(fd, "{\"id\":9,\"cmd\":\"echo\",\"args\":"
			       "{\"text\":\"h\\u00e9\",\"n\":1.5,\"x\":[1,{}]}}"
			       "\r\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	ck_assert_str_eq(gstr(v, "cmd"), "echo");
	ck_assert_str_eq(gstr(v, "text"), "h\xc3\xa9");
	ck_assert_int_eq(get(v, "n_args")->u.number.i, 3);
	ck_assert_int_eq(get(v, "uid")->u.number.i, (long long)geteuid());
	yajl_tree_free(v);

	/* "ok" comes first, then the handler's members. */
	SEND(fd, "{\"cmd\":\"incidents\",\"args\":{\"all\":true}}\n");
	{
		char *line = cl_reply(fd);
		ck_assert_ptr_nonnull(line);
		ck_assert_msg(strncmp(line, "{\"ok\":true,\"incidents\":[{\"id\":1,",
				      32) == 0, "%s", line);
		/* Not clean UTF-8 is cleaned, control characters escaped. */
		ck_assert_msg(strstr(line, "\"message\":\"hot ?\\u0007 81.2 C\""),
			      "%s", line);
		ck_assert_msg(strstr(line, "\"value\":81.2,"), "%s", line);
		ck_assert_msg(strstr(line, "\"resolved\":null"), "%s", line);
		ck_assert_msg(strstr(line, "\"created\":\"20"), "%s", line);
		free(line);
	}

	/* null args are no args. */
	v = roundtrip_tree(fd, "{\"cmd\":\"echo\",\"args\":null}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	ck_assert_int_eq(get(v, "n_args")->u.number.i, 0);
	yajl_tree_free(v);
	close(fd);
}
END_TEST

START_TEST(bad_requests_get_the_right_error_codes)
{
	int fd = cl_connect(sock_path);
	char deep[200];

	/* One connection throughout: an error reply never closes it. */
	expect_error(fd, "{\"cmd\":\"ping\"\n", "parse_error", "not valid JSON");
	expect_error(fd, "hello\n", "parse_error", "expected one object");
	expect_error(fd, "{\"cmd\":\"ping\"} {}\n", "parse_error",
		     "trailing garbage");
	expect_error(fd, "[1,2]\n", "bad_request", "found an array");
	expect_error(fd, "\"status\"\n", "bad_request", "found a string");
	expect_error(fd, "42\n", "bad_request", "found a number");
	expect_error(fd, "{\"args\":{}}\n", "bad_request", "no \"cmd\"");
	expect_error(fd, "{\"cmd\":5}\n", "bad_request",
		     "\"cmd\" must be a string, found a number");
	expect_error(fd, "{\"cmd\":\"ping\",\"cmd\":\"ping\"}\n", "bad_request",
		     "twice");
	expect_error(fd, "{\"cmd\":\"echo\",\"args\":[1]}\n", "bad_request",
		     "\"args\" must be an object, found an array");
	expect_error(fd, "{\"cmd\":\"echo\",\"args\":{\"a\":1,\"a\":2}}\n",
		     "bad_request", "args.a appears twice");
	expect_error(fd, "{\"cmd\":\"nope\"}\n", "unknown_command",
		     "unknown command 'nope'; known: conflict, echo, health");
	expect_error(fd, "{\"cmd\":\"incidents\",\"args\":{\"all\":\"yes\"}}\n",
		     "bad_request",
		     "args.all: expected true or false, found a string "
		     "(\"yes\")");
	expect_error(fd, "{\"cmd\":\"show\"}\n", "bad_request",
		     "missing args.id: expected a non-negative integer");
	expect_error(fd, "{\"cmd\":\"show\",\"args\":{\"id\":-1}}\n",
		     "bad_request", "found the number -1");
	expect_error(fd, "{\"cmd\":\"show\",\"args\":{\"id\":1.5}}\n",
		     "bad_request", "found the number 1.5");
	expect_error(fd, "{\"cmd\":\"show\",\"args\":{\"id\":"
			 "99999999999999999999}}\n",
		     "bad_request", "non-negative integer");
	expect_error(fd, "{\"cmd\":\"show\",\"args\":{\"id\":42}}\n",
		     "not_found", "no incident 42");
	expect_error(fd, "{\"cmd\":\"silence.add\",\"args\":{\"match\":\"x\","
			 "\"for\":\"2x\"}}\n",
		     "bad_request", "args.for = '2x'");
	expect_error(fd, "{\"cmd\":\"unbalanced\"}\n", "internal",
		     "could not be encoded");
	expect_error(fd, "{\"cmd\":\"conflict\"}\n", "conflict",
		     "resolved already");
	expect_error(fd, "{\"cmd\":\"echo\",\"args\":{\"t\\u0000\":1}}\n",
		     "bad_request", "NUL");

	memset(deep, '[', sizeof(deep));
	snprintf(deep + 100, sizeof(deep) - 100, "\n");
	expect_error(fd, deep, "bad_request", "found an array");
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "{\"cmd\":\"echo\",\"args\":{\"a\":");
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	strcat(deep, "\n");
	expect_error(fd, deep, "bad_request", "levels deep");

	/* A blank line asks nothing; the connection still works. */
	{
		yajl_val v = roundtrip_tree(fd, "\n  \r\n{\"cmd\":\"ping\"}\n");
		ck_assert(YAJL_IS_TRUE(get(v, "ok")));
		yajl_tree_free(v);
	}
	close(fd);
}
END_TEST

START_TEST(an_oversized_request_gets_too_large_and_a_close)
{
	size_t len = 70 * 1024;
	char *big = vigil_xmalloc(len);
	int fd = cl_connect(sock_path);
	char *line;
	yajl_val v;

	memset(big, 'a', len);
	cl_send(fd, big, len);
	line = cl_reply(fd);
	ck_assert_ptr_nonnull(line);
	v = yajl_tree_parse(line, NULL, 0);
	ck_assert_str_eq(gstr(v, "code"), "too_large");
	yajl_tree_free(v);
	free(line);
	expect_eof(fd);
	wait_clients(0);
	close(fd);
	free(big);

	/* Exactly the limit is still a request. */
	big = vigil_xmalloc(VIGIL_CONTROL_MAX_REQUEST + 1);
	memset(big, ' ', VIGIL_CONTROL_MAX_REQUEST);
	memcpy(big, "{\"cmd\":\"ping\"}", 14);
	big[VIGIL_CONTROL_MAX_REQUEST] = '\n';
	fd = cl_connect(sock_path);
	cl_send(fd, big, VIGIL_CONTROL_MAX_REQUEST + 1);
	line = cl_reply(fd);
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strncmp(line, "{\"ok\":true", 10) == 0, "%s", line);
	free(line);
	close(fd);
	free(big);
}
END_TEST

START_TEST(a_stalled_client_does_not_block_another)
{
	int a = cl_connect(sock_path), b = cl_connect(sock_path);
	yajl_val v;
	char *line;

	SEND(a, "{\"cmd\":\"pi");
	pump(20);
	v = roundtrip_tree(b, "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);

	/* A finishes its line later: it is answered. */
	v = roundtrip_tree(a, "ng\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);

	/* Two requests in one write: two replies, in order. */
	SEND(b, "{\"cmd\":\"echo\",\"args\":{\"text\":\"1\"}}\n"
		"{\"cmd\":\"echo\",\"args\":{\"text\":\"2\"}}\n");
	line = cl_reply(b);
	ck_assert_ptr_nonnull(strstr(line, "\"text\":\"1\""));
	free(line);
	line = cl_reply(b);
	ck_assert_ptr_nonnull(strstr(line, "\"text\":\"2\""));
	free(line);

	/* The last line may end at EOF instead of a newline. */
	SEND(a, "{\"cmd\":\"ping\"}");
	shutdown(a, SHUT_WR);
	line = cl_reply(a);
	ck_assert_ptr_nonnull(line);
	ck_assert_msg(strncmp(line, "{\"ok\":true", 10) == 0, "%s", line);
	free(line);
	expect_eof(a);
	close(a);
	close(b);
}
END_TEST

START_TEST(a_client_that_never_reads_does_not_block_another)
{
	static const char req[] = "{\"cmd\":\"incidents\"}\n";
	int a = cl_connect(sock_path), b, flags;
	size_t sent = 0;
	yajl_val v;

	/* A sends requests and reads no reply, until its socket is full both
	 * ways: the server must stop reading it rather than buffer. */
	flags = fcntl(a, F_GETFL);
	fcntl(a, F_SETFL, flags | O_NONBLOCK);
	for (int i = 0; i < 20000; i++) {
		ssize_t n = send(a, req, sizeof(req) - 1, MSG_NOSIGNAL);

		if (n < 0) {
			ck_assert_int_eq(errno, EAGAIN);
			pump(1);
			if (i > 2000 && sent > 0)
				break;
			continue;
		}
		sent += (size_t)n;
		if (i % 64 == 0)
			pump(0);
	}
	b = cl_connect(sock_path);
	v = roundtrip_tree(b, "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);
	ck_assert_uint_eq(vigil_control_clients(ctl), 2);
	close(a);
	close(b);
	wait_clients(0);
}
END_TEST

START_TEST(the_socket_is_0660_and_goes_away_on_close)
{
	struct stat st;
	char why[256];

	ck_assert_int_eq(stat(sock_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	vigil_control_close(ctl);
	ctl = NULL;
	ck_assert_int_eq(access(sock_path, F_OK), -1);

	/* Mode and group as asked, with any umask. */
	umask(0);
	ck_assert_int_eq(vigil_control_open(sock_path, 0660, getegid(), &ctl,
					    why, sizeof(why)),
			 0);
	ck_assert_int_eq(stat(sock_path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_uint_eq(st.st_gid, getegid());
	umask(022);
}
END_TEST

START_TEST(a_stale_socket_is_replaced_a_live_one_is_not)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vigil_control *other = NULL;
	char why[256], *file;
	int fd;
	yajl_val v;

	/* A live one: ours. */
	ck_assert_int_eq(vigil_control_open(sock_path, 0660, (gid_t)-1, &other,
					    why, sizeof(why)),
			 -EADDRINUSE);
	ck_assert_ptr_null(other);
	ck_assert_ptr_nonnull(strstr(why, "in use"));
	fd = cl_connect(sock_path);
	v = roundtrip_tree(fd, "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);
	close(fd);

	/* A stale one: a socket file nobody listens on. */
	vigil_control_close(ctl);
	ctl = NULL;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(access(sock_path, F_OK), 0);
	ck_assert_msg(vigil_control_open(sock_path, 0660, (gid_t)-1, &ctl, why,
					 sizeof(why)) == 0,
		      "%s", why);
	register_all(ctl);
	fd = cl_connect(sock_path);
	v = roundtrip_tree(fd, "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);
	close(fd);

	/* Not a socket: left alone. */
	file = unit_write_file(dir, "plain", "keep me\n");
	ck_assert_int_eq(vigil_control_open(file, 0660, (gid_t)-1, &other, why,
					    sizeof(why)),
			 -EEXIST);
	ck_assert_ptr_nonnull(strstr(why, "not a socket"));
	ck_assert_int_eq(access(file, F_OK), 0);
	free(file);
}
END_TEST

START_TEST(more_clients_than_the_bound_are_refused)
{
	int fds[VIGIL_CONTROL_MAX_CLIENTS], extra;
	char *line;
	yajl_val v;

	for (int i = 0; i < VIGIL_CONTROL_MAX_CLIENTS; i++) {
		fds[i] = cl_connect(sock_path);
		pump(5);
	}
	wait_clients(VIGIL_CONTROL_MAX_CLIENTS);
	extra = cl_connect(sock_path);
	line = cl_reply(extra);
	ck_assert_ptr_nonnull(line);
	v = yajl_tree_parse(line, NULL, 0);
	ck_assert_str_eq(gstr(v, "code"), "busy");
	yajl_tree_free(v);
	free(line);
	expect_eof(extra);
	close(extra);

	/* Those connected still work; a freed slot takes a new client. */
	v = roundtrip_tree(fds[3], "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);
	close(fds[0]);
	wait_clients(VIGIL_CONTROL_MAX_CLIENTS - 1);
	extra = cl_connect(sock_path);
	v = roundtrip_tree(extra, "{\"cmd\":\"ping\"}\n");
	ck_assert(YAJL_IS_TRUE(get(v, "ok")));
	yajl_tree_free(v);
	close(extra);
	for (int i = 1; i < VIGIL_CONTROL_MAX_CLIENTS; i++)
		close(fds[i]);
	wait_clients(0);
}
END_TEST

START_TEST(idle_clients_are_closed_at_the_timeout)
{
	int fd = cl_connect(sock_path);
	vigil_time_ns now, next;
	char *line;
	yajl_val v;

	ck_assert_int_eq(vigil_control_tick(ctl, vigil_monotonic()), 0);
	SEND(fd, "{\"cmd\":");
	wait_clients(1);
	pump(20);
	now = vigil_monotonic();
	next = vigil_control_tick(ctl, now);
	ck_assert_int_gt(next, now);
	ck_assert_int_le(next, now + VIGIL_CONTROL_IDLE_TIMEOUT);
	ck_assert_uint_eq(vigil_control_clients(ctl), 1);

	ck_assert_int_eq(vigil_control_tick(ctl, next), 0);
	ck_assert_uint_eq(vigil_control_clients(ctl), 0);
	line = cl_reply(fd);
	ck_assert_ptr_nonnull(line);
	v = yajl_tree_parse(line, NULL, 0);
	ck_assert_str_eq(gstr(v, "code"), "timeout");
	yajl_tree_free(v);
	free(line);
	expect_eof(fd);
	close(fd);
}
END_TEST

/* In a child: become `uid` with primary group `gid` and supplementary
 * groups `groups`, ping, and exit 0 if the reply's code is `want` (or ok
 * when want is NULL). */
static void ping_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
		    const char *want, int expect_exit)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char buf[512];
		ssize_t got = 0, r;
		int fd;

		if (setgroups(n, groups) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0)
			_exit(90);
		fd = cl_connect(sock_path);
		send(fd, "{\"cmd\":\"ping\"}\n", 15, MSG_NOSIGNAL);
		while ((r = recv(fd, buf + got, sizeof(buf) - 1 - (size_t)got,
				 0)) > 0) {
			got += r;
			if (memchr(buf, '\n', (size_t)got))
				break;
		}
		buf[got > 0 ? got : 0] = '\0';
		if (!want)
			_exit(strncmp(buf, "{\"ok\":true", 10) == 0 ? 0 : 91);
		_exit(strstr(buf, want) ? 0 : 92);
	}
	for (int i = 0; i < 500; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		pump(10);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == expect_exit,
		      "child as uid %u gid %u: status %d", (unsigned)uid,
		      (unsigned)gid, status);
}

START_TEST(peer_credentials_are_checked)
{
	const gid_t grp = 4242, other = 4343;
	char why[256];

	if (geteuid() != 0) {
		fprintf(stderr, "peer_credentials_are_checked: not root, "
				"only the daemon's own user is tested\n");
		return;
	}
	/* Opened for group `grp`, and world-writable, so that only our own
	 * check stands between a stranger and the commands. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	vigil_control_close(ctl);
	ck_assert_int_eq(vigil_control_open(sock_path, 0666, grp, &ctl, why,
					    sizeof(why)),
			 0);
	ck_assert_int_eq(chmod(sock_path, 0666), 0);
	ping_as(65534, 65534, NULL, 0, "\"code\":\"permission_denied\"", 0);
	ping_as(65534, 65534, &other, 1, "\"code\":\"permission_denied\"", 0);
	ping_as(65534, grp, NULL, 0, NULL, 0);     /* primary group */
	ping_as(65534, 65534, &grp, 1, NULL, 0);   /* supplementary */
	ping_as(0, 0, NULL, 0, NULL, 0);           /* root */

	/* With no group configured, only root and our own user. */
	vigil_control_close(ctl);
	ck_assert_int_eq(vigil_control_open(sock_path, 0666, (gid_t)-1, &ctl,
					    why, sizeof(why)),
			 0);
	ck_assert_int_eq(chmod(sock_path, 0666), 0);
	ping_as(65534, 65534, &grp, 1, "\"code\":\"permission_denied\"", 0);
	wait_clients(0);
}
END_TEST

/* ------------------------------------------------------------ vigilctl */

struct run {
	int status; /* exit status, or -1 */
	char *out, *err;
};

static char *slurp(const char *path)
{
	struct vigil_buf b = {0};
	char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	vigil_buf_add(&b, "", 0);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		vigil_buf_add(&b, buf, n);
	fclose(f);
	return b.data;
}

/* Runs vigilctl with `args` (NULL-terminated), serving it meanwhile
 * unless `serve` is 0. */
static struct run vigilctl(int serve, const char *const *args)
{
	const char *build = getenv("VIGIL_BUILDDIR");
	char *exe, *out = vigil_xasprintf("%s/out", dir);
	char *err = vigil_xasprintf("%s/err", dir);
	const char *argv[32];
	struct run r = {.status = -1};
	size_t n = 0;
	int status = 0;
	pid_t pid;

	ck_assert_msg(build && *build, "VIGIL_BUILDDIR is not set: run the "
				       "tests with make check");
	exe = vigil_xasprintf("%s/vigilctl", build);
	argv[n++] = exe;
	while (*args && n < VIGIL_ARRAY_SIZE(argv) - 1)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(120);
		unsetenv("VIGIL_SOCKET");
		unsetenv("NO_COLOR");
		execv(exe, (char *const *)argv);
		_exit(121);
	}
	for (int i = 0; i < 1000; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
			break;
		}
		if (serve && ctl)
			pump(10);
		else
			usleep(10000);
	}
	ck_assert_msg(r.status >= 0, "vigilctl did not exit by itself");
	r.out = slurp(out);
	r.err = slurp(err);
	free(exe);
	free(out);
	free(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Column of `needle` in `line`, which must hold it. */
static long col(const char *line, const char *needle)
{
	const char *p = strstr(line, needle);

	ck_assert_msg(p != NULL, "'%s' not in '%s'", needle, line);
	return p - line;
}

START_TEST(vigilctl_prints_aligned_tables)
{
	const char *args[] = {"--socket", sock_path, "incidents", NULL};
	struct run r = vigilctl(1, args);
	char *l1, *l2, *l3, *save = NULL;

	ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
	l1 = strtok_r(r.out, "\n", &save);
	l2 = strtok_r(NULL, "\n", &save);
	l3 = strtok_r(NULL, "\n", &save);
	ck_assert_ptr_nonnull(l3);
	ck_assert_ptr_null(strtok_r(NULL, "\n", &save));
	/* Critical first; every column starts where its header does; no
	 * colour when stdout is not a terminal. */
	ck_assert_int_eq(col(l1, "ID"), 0);
	ck_assert_int_eq(col(l2, "2 "), 0);
	ck_assert_int_eq(col(l3, "1 "), 0);
	ck_assert_int_eq(col(l2, "critical"), col(l1, "SEVERITY"));
	ck_assert_int_eq(col(l3, "warning"), col(l1, "SEVERITY"));
	ck_assert_int_eq(col(l2, "open"), col(l1, "STATUS"));
	ck_assert_int_eq(col(l2, "3m ago"), col(l1, "OPENED"));
	ck_assert_int_eq(col(l3, "3m ago"), col(l1, "OPENED"));
	ck_assert_int_eq(col(l2, "cpu_hot{zone"), col(l1, "KEY"));
	ck_assert_int_eq(col(l3, "load_high"), col(l1, "KEY"));
	ck_assert_int_eq(col(l2, "hot ?  81.2 C"), col(l1, "MESSAGE"));
	ck_assert_int_eq(col(l3, "load1 is 9.5"), col(l1, "MESSAGE"));
	ck_assert_ptr_null(strchr(r.out, '\033'));
	ck_assert_ptr_null(strchr(r.out, '\a'));
	run_free(&r);

	{
		const char *show[] = {"-s", sock_path, "show", "2", NULL};

		r = vigilctl(1, show);
		ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
		ck_assert_ptr_nonnull(strstr(r.out, "incident #2  critical  open"));
		ck_assert_ptr_nonnull(strstr(r.out, "labels       zone=thermal_zone0"));
		ck_assert_ptr_nonnull(strstr(r.out, "value        81.2\n"));
		ck_assert_ptr_nonnull(strstr(r.out, "ACTION      STARTED"));
		ck_assert_ptr_nonnull(strstr(r.out, "renice_top  1m ago   12ms"));
		run_free(&r);
	}
	{
		const char *st[] = {"-s", sock_path, "status", NULL};

		r = vigilctl(1, st);
		ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
		ck_assert_msg(strstr(r.out, "vigild " PACKAGE_VERSION
					    " (pid 4321), up 1h2m5s\n"
					    "config: /etc/vigil/vigil.ini\n"
					    "open incidents: 2\n\n"
					    "SECTION                 PLUGIN   "
					    "KIND    STATE    RESTARTS  CALLS  "
					    "ERRORS  ISOLATION  LAST EXIT\n"
					    "sensor.cpu              cpu      "
					    "sensor  running  0         120    "
					    "0       worker io  -\n"
					    "sensor.cpu_temperature  thermal  "
					    "sensor  failed   5         7      "
					    "7       process    exited with "
					    "status 1\n"),
			      "%s", r.out);
		run_free(&r);
	}
	{
		const char *json[] = {"-s", sock_path, "--json", "incidents",
				      "--all", NULL};
		yajl_val v;

		r = vigilctl(1, json);
		ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
		v = yajl_tree_parse(r.out, NULL, 0);
		ck_assert(YAJL_IS_TRUE(get(v, "ok")));
		ck_assert(YAJL_IS_ARRAY(get(v, "incidents")));
		ck_assert_ptr_nonnull(strstr(r.out, "\n  \"incidents\": ["));
		yajl_tree_free(v);
		run_free(&r);
	}
	{
		const char *sil[] = {"-s", sock_path, "silence", "add",
				     "--match", "key=cpu_*", "--for", "2h",
				     NULL};

		r = vigilctl(1, sil);
		ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
		ck_assert_msg(strstr(r.out, "added silence #7: key=cpu_* until ") &&
			      (strstr(r.out, "(in 1h59m)") ||
			       strstr(r.out, "(in 2h)")),
			      "%s", r.out);
		run_free(&r);
	}
}
END_TEST

START_TEST(vigilctl_exit_codes)
{
	static const struct {
		const char *args[8];
		int status;
		const char *err;
	} cases[] = {
		{{"show", "42"}, 1, "vigilctl: show: no incident 42"},
		{{"show", "abc"}, 2, "'abc' is not an incident id"},
		{{"show", "0"}, 2, "expected a positive integer"},
		{{"show"}, 2, "which incident?"},
		{{"frobnicate"}, 2, "unknown command 'frobnicate'"},
		{{"status", "--bogus"}, 2, "unknown option '--bogus'"},
		{{"status", "extra"}, 2, "unexpected argument 'extra'"},
		{{"incidents", "--comment", "x"}, 2, "--comment applies to"},
		{{"silence", "add", "--match", "x", "--for", "2x"}, 2,
		 "--for '2x'"},
		{{"silence", "add", "--for", "2h"}, 2, "--match EXPR is required"},
		{{"silence", "mute"}, 2, "expected add, list or rm, found 'mute'"},
		{{"health"}, 0, ""},
		{{"reload"}, 1, "unknown command 'reload'"},
	};
	char *missing = vigil_xasprintf("%s/nothing.sock", dir);
	const char *args[12];
	struct run r;

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(cases); i++) {
		size_t n = 0;

		args[n++] = "--socket";
		args[n++] = sock_path;
		for (size_t k = 0; cases[i].args[k]; k++)
			args[n++] = cases[i].args[k];
		args[n] = NULL;
		r = vigilctl(1, args);
		ck_assert_msg(r.status == cases[i].status &&
			      strstr(r.err, cases[i].err),
			      "case %zu (%s): status %d, stderr: %s", i,
			      cases[i].args[0], r.status, r.err);
		run_free(&r);
	}
	{
		const char *none[] = {NULL};

		r = vigilctl(1, none);
		ck_assert_int_eq(r.status, 2);
		run_free(&r);
	}

	health_status = "degraded";
	{
		const char *h[] = {"-s", sock_path, "health", NULL};

		r = vigilctl(1, h);
		ck_assert_msg(r.status == 4, "%d %s", r.status, r.err);
		ck_assert_ptr_nonnull(strstr(r.out, "degraded"));
		ck_assert_ptr_nonnull(strstr(r.out, "  - disk / 95% full"));
		run_free(&r);
	}

	/* No socket; a socket nobody listens on; a daemon that never
	 * answers. */
	{
		const char *a[] = {"--socket", missing, "status", NULL};

		r = vigilctl(1, a);
		ck_assert_msg(r.status == 3 && strstr(r.err, "no such socket"),
			      "%d %s", r.status, r.err);
		run_free(&r);
	}
	{
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *a[] = {"--socket", missing, "status", NULL};
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", missing);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
				 0);
		close(fd);
		r = vigilctl(1, a);
		ck_assert_msg(r.status == 3 &&
			      strstr(r.err, "connection refused"),
			      "%d %s", r.status, r.err);
		run_free(&r);
	}
	{
		const char *a[] = {"--socket", sock_path, "--timeout",
				   "300ms", "status", NULL};
		vigil_time_ns t0 = vigil_monotonic();

		r = vigilctl(0, a);
		ck_assert_msg(r.status == 3 && strstr(r.err, "no reply within "
							     "300ms"),
			      "%d %s", r.status, r.err);
		ck_assert_int_lt(vigil_monotonic() - t0, 3 * VIGIL_SEC);
		run_free(&r);
	}
	free(missing);
}
END_TEST

/* ------------------------------------------------ JSON, no socket */

static void gen_print(void *ctx, const char *str, size_t len)
{
	vigil_buf_add(ctx, str, len);
}

/* What `write` generates, parsed back. */
static yajl_val generated(void (*write)(yajl_gen g, const void *arg),
			  const void *arg)
{
	struct vigil_buf b = {0};
	yajl_gen g = yajl_gen_alloc(NULL);
	char err[256];
	yajl_val v;

	yajl_gen_config(g, yajl_gen_print_callback, gen_print, &b);
	write(g, arg);
	yajl_gen_free(g);
	vigil_buf_add(&b, "", 1);
	v = yajl_tree_parse(b.data, err, sizeof(err));
	ck_assert_msg(YAJL_IS_OBJECT(v), "not an object (%s): %s", err, b.data);
	vigil_buf_free(&b);
	return v;
}

static void write_incident(yajl_gen g, const void *arg)
{
	vigil_json_incident(g, arg, 1);
}

static void write_silence(yajl_gen g, const void *arg)
{
	vigil_json_silence(g, arg);
}

START_TEST(incidents_carry_their_lifecycle)
{
	struct vigil_incident inc;
	yajl_val v;

	/* Without an acknowledgement: the members are there, null. */
	fake_incident(&inc, 2);
	v = generated(write_incident, &inc);
	ck_assert_int_eq(YAJL_GET_INTEGER(get(v, "escalation")), 0);
	ck_assert(YAJL_IS_FALSE(get(v, "flapping")));
	ck_assert(YAJL_IS_FALSE(get(v, "silenced")));
	ck_assert(YAJL_IS_NULL(get(v, "acked")));
	ck_assert(YAJL_IS_NULL(get(v, "acked_by")));
	ck_assert(YAJL_IS_NULL(get(v, "comment")));
	ck_assert(YAJL_IS_ARRAY(get(v, "actions")));
	yajl_tree_free(v);

	inc.status = VIGIL_STATUS_ACKNOWLEDGED;
	inc.escalation = 2;
	inc.flapping = 1;
	inc.silenced = 1;
	inc.acked = 1795514462123LL * VIGIL_MSEC; /* 2026-11-24T10:01:02.123Z */
	inc.acked_by = "alice";
	inc.comment = "on it \xff";
	v = generated(write_incident, &inc);
	ck_assert_str_eq(gstr(v, "status"), "acknowledged");
	ck_assert_int_eq(YAJL_GET_INTEGER(get(v, "escalation")), 2);
	ck_assert(YAJL_IS_TRUE(get(v, "flapping")));
	ck_assert(YAJL_IS_TRUE(get(v, "silenced")));
	ck_assert_str_eq(gstr(v, "acked"), "2026-11-24T10:01:02.123Z");
	ck_assert_str_eq(gstr(v, "acked_by"), "alice");
	ck_assert_str_eq(gstr(v, "comment"), "on it ?");
	yajl_tree_free(v);
	vigil_labels_free(&inc.labels);
}
END_TEST

START_TEST(silences_as_json)
{
	struct vigil_silence s = {
		.id = 3, .expr = (char *)"key=cpu_hot*",
		.start = 1795514462123LL * VIGIL_MSEC,
		.end = 1795521662123LL * VIGIL_MSEC,
		.created = 1795514462123LL * VIGIL_MSEC,
		.creator = (char *)"alice",
	};
	yajl_val v = generated(write_silence, &s);

	ck_assert_int_eq(YAJL_GET_INTEGER(get(v, "id")), 3);
	ck_assert_str_eq(gstr(v, "match"), "key=cpu_hot*");
	ck_assert_str_eq(gstr(v, "start"), "2026-11-24T10:01:02.123Z");
	ck_assert_str_eq(gstr(v, "end"), "2026-11-24T12:01:02.123Z");
	ck_assert(YAJL_IS_NULL(get(v, "comment")));
	ck_assert_str_eq(gstr(v, "created_by"), "alice");
	ck_assert(YAJL_IS_NULL(get(v, "name")));
	yajl_tree_free(v);
	ck_assert_str_eq(vigil_control_code_name(VIGIL_CONTROL_NOT_SUPPORTED),
			 "not_supported");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("server");
	TCase *tv = tcase_create("vigilctl");

	signal(SIGPIPE, SIG_IGN);
	/* UNIT_DEBUG=1 shows the server's log. */
	vigil_log_setup(VIGIL_LOG_TO_STDERR,
			getenv("UNIT_DEBUG") ? VIGIL_LOG_DEBUG : VIGIL_LOG_ERR);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_requests_get_the_handlers_reply);
	tcase_add_test(tc, bad_requests_get_the_right_error_codes);
	tcase_add_test(tc, an_oversized_request_gets_too_large_and_a_close);
	tcase_add_test(tc, a_stalled_client_does_not_block_another);
	tcase_add_test(tc, a_client_that_never_reads_does_not_block_another);
	tcase_add_test(tc, the_socket_is_0660_and_goes_away_on_close);
	tcase_add_test(tc, a_stale_socket_is_replaced_a_live_one_is_not);
	tcase_add_test(tc, more_clients_than_the_bound_are_refused);
	tcase_add_test(tc, idle_clients_are_closed_at_the_timeout);
	tcase_add_test(tc, peer_credentials_are_checked);
	tcase_add_test(tc, incidents_carry_their_lifecycle);
	tcase_add_test(tc, silences_as_json);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tv, setup, teardown);
	tcase_add_test(tv, vigilctl_prints_aligned_tables);
	tcase_add_test(tv, vigilctl_exit_codes);
	suite_add_tcase(s, tv);
	return unit_run(s);
}
