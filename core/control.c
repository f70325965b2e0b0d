/*
 * control.c - the control socket server.
 *
 * Everything is non-blocking and driven from the daemon's loop through one
 * fd: our own epoll set, holding the listening socket and the clients.
 * Level-triggered, so work left for later (a full socket, a burst of
 * connections) is simply reported again.
 *
 * A client is a slot in a fixed table (so a pointer to it in epoll's data
 * stays valid) with an input buffer of at most one request line and an
 * output buffer. Lines are taken one at a time, and only while no reply is
 * waiting to be written: a client that does not read its replies stops
 * being read (EPOLLIN is dropped until its output drains), so it cannot
 * make us buffer without bound. A line that outgrows
 * VIGIL_CONTROL_MAX_REQUEST gets too_large and the client is closed; one
 * that stalls costs its slot until the idle timeout. An unterminated last
 * line before EOF is taken as a request, so `printf '{"cmd":"status"}' |
 * nc -UN` works.
 *
 * Requests are parsed with yajl's callback parser straight into what a
 * handler sees (cmd, and the members of args with their types), not with
 * yajl_tree: nothing here recurses, nesting is bounded, and every byte
 * allocated is ours to free on every path. (yajl_tree_parse leaks its
 * partial tree on malformed input in the yajl 2.1.0 of most distributions,
 * which would let any client with access grow the daemon.)
 *
 * accept() failing for lack of fds (EMFILE and friends) would make the
 * listening socket readable forever: it is taken out of the set for a
 * second instead, and put back by vigil_control_tick().
 *
 * umask() is process-wide: vigil_control_open() changes it around bind()
 * only, which is safe in vigild's single thread.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <yajl/yajl_parse.h>

#include "control.h"
#include "control_json.h"
#include "log.h"
#include "parse.h"
#include "util.h"

#define LOG_PREFIX "control"
/* Nesting deeper than this in a request is refused. */
#define MAX_DEPTH 16
/* Refusals and malformed requests: one warning per window, the rest at
 * debug and counted. */
#define LOG_WINDOW (60 * VIGIL_SEC)
/* How long accepting pauses when we are out of fds. */
#define ACCEPT_PAUSE VIGIL_SEC
/* Reads per client per dispatch: a client streaming requests cannot keep
 * the loop to itself. */
#define READS_PER_DISPATCH 16
#define READ_CHUNK 4096
/* An output buffer larger than this is given back once written. */
#define OUT_KEEP (64 * 1024)

struct client {
	int fd; /* -1: a free slot */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	char *in; /* at most VIGIL_CONTROL_MAX_REQUEST + 1 bytes */
	size_t in_len, in_cap, scanned; /* scanned: bytes known newline-free */
	struct vigil_buf out;
	size_t out_off;
	vigil_time_ns last; /* monotonic: accepted, or last progress */
	uint32_t events;    /* registered with epoll */
	int eof;            /* the peer will send nothing more */
	int closing;        /* close once `out` is written */
};

struct command {
	char *name;
	vigil_control_fn fn;
	void *user;
};

struct ratelimit {
	vigil_time_ns until;
	unsigned suppressed;
};

struct vigil_control {
	int epfd, lfd;
	char *path;
	dev_t dev;
	ino_t ino;
	gid_t gid;
	vigil_time_ns accept_paused; /* monotonic, 0: accepting */
	struct client clients[VIGIL_CONTROL_MAX_CLIENTS];
	size_t n_clients;
	struct command *cmds; /* sorted by name */
	size_t n_cmds, cap_cmds;
	struct vigil_buf scratch; /* a reply being generated */
	struct ratelimit rl_refused, rl_bad;
};

static const char *const code_names[] = {
	[VIGIL_CONTROL_OK] = "ok",
	[VIGIL_CONTROL_BAD_REQUEST] = "bad_request",
	[VIGIL_CONTROL_NOT_FOUND] = "not_found",
	[VIGIL_CONTROL_CONFLICT] = "conflict",
	[VIGIL_CONTROL_INTERNAL] = "internal",
	[VIGIL_CONTROL_PARSE_ERROR] = "parse_error",
	[VIGIL_CONTROL_UNKNOWN_COMMAND] = "unknown_command",
	[VIGIL_CONTROL_TOO_LARGE] = "too_large",
	[VIGIL_CONTROL_PERMISSION_DENIED] = "permission_denied",
	[VIGIL_CONTROL_BUSY] = "busy",
	[VIGIL_CONTROL_TIMEOUT] = "timeout",
	[VIGIL_CONTROL_NOT_SUPPORTED] = "not_supported",
};

const char *vigil_control_code_name(enum vigil_control_code c)
{
	return (size_t)c < VIGIL_ARRAY_SIZE(code_names) && code_names[c] ?
		       code_names[c] :
		       "internal";
}

static const char *const type_names[] = {
	[VIGIL_CONTROL_T_NULL] = "null",
	[VIGIL_CONTROL_T_BOOL] = "a boolean",
	[VIGIL_CONTROL_T_NUMBER] = "a number",
	[VIGIL_CONTROL_T_STRING] = "a string",
	[VIGIL_CONTROL_T_ARRAY] = "an array",
	[VIGIL_CONTROL_T_OBJECT] = "an object",
};

const char *vigil_control_type_name(enum vigil_control_type t)
{
	return (size_t)t < VIGIL_ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

/* ------------------------------------------------------------------ log */

static void VIGIL_PRINTF(3, 4)
	rl_log(struct ratelimit *rl, int level, const char *fmt, ...)
{
	vigil_time_ns now = vigil_monotonic();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (now < rl->until) {
		rl->suppressed++;
		vigil_log(VIGIL_LOG_DEBUG, LOG_PREFIX, "%s", msg);
		return;
	}
	if (rl->suppressed)
		vigil_log(level, LOG_PREFIX, "%s (and %u more like it in the "
			  "last minute, logged at debug)", msg, rl->suppressed);
	else
		vigil_log(level, LOG_PREFIX, "%s", msg);
	rl->until = now + LOG_WINDOW;
	rl->suppressed = 0;
}

/* --------------------------------------------------------------- replies */

static void gen_print(void *ctx, const char *str, size_t len)
{
	vigil_buf_add(ctx, str, len);
}

/* A generator printing compact JSON into `b`. */
static yajl_gen gen_new(struct vigil_buf *b)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g) {
		fprintf(stderr, "vigild: out of memory allocating a JSON "
				"generator\n");
		abort();
	}
	yajl_gen_config(g, yajl_gen_beautify, 0);
	yajl_gen_config(g, yajl_gen_validate_utf8, 1);
	yajl_gen_config(g, yajl_gen_print_callback, gen_print, b);
	return g;
}

/* {"ok":false,"error":"...","code":"..."} and a newline, appended to b. */
static void error_line(struct vigil_buf *b, enum vigil_control_code code,
		       const char *msg)
{
	yajl_gen g = gen_new(b);

	yajl_gen_map_open(g);
	vigil_json_kbool(g, "ok", 0);
	vigil_json_kstr(g, "error", msg && *msg ? msg :
					vigil_control_code_name(code));
	vigil_json_kstr(g, "code", vigil_control_code_name(code));
	yajl_gen_map_close(g);
	yajl_gen_free(g);
	vigil_buf_add(b, "\n", 1);
}

static void VIGIL_PRINTF(4, 5)
	reply_error(struct vigil_control *ctl, struct client *c,
		    enum vigil_control_code code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_line(&c->out, code, msg);
}

/* ------------------------------------------------------ parsing requests */

enum top_key { AT_OTHER, AT_CMD, AT_ARGS };

struct parse {
	int depth; /* 0 outside everything, 1 in the request, 2 in args... */
	enum top_key at; /* whose value comes next, at depth 1 */
	int in_args;     /* depth >= 2 is inside "args" */
	int has_cmd, has_args;
	enum vigil_control_type cmd_type, args_type;
	char *cmd;
	char *arg_key; /* the key whose value comes next in args */
	struct vigil_control_arg *args;
	size_t n_args, cap_args;
	/* Why a callback stopped the parse. */
	enum vigil_control_code code;
	char err[256];
};

static int VIGIL_PRINTF(3, 4) stop(struct parse *p,
				   enum vigil_control_code code,
				   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	p->code = code;
	return 0; /* yajl: cancel */
}

static void parse_free(struct parse *p)
{
	free(p->cmd);
	free(p->arg_key);
	for (size_t i = 0; i < p->n_args; i++) {
		free(p->args[i].key);
		free(p->args[i].text);
	}
	free(p->args);
}

/* A JSON string as a C string: NULL if it holds a NUL. */
static char *cstr(const unsigned char *s, size_t len)
{
	char *r;

	if (memchr(s, '\0', len))
		return NULL;
	r = vigil_xmalloc(len + 1);
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

/* A value of type t (a scalar, or a container about to be entered). */
static int on_value(struct parse *p, enum vigil_control_type t,
		    const unsigned char *s, size_t len, int b)
{
	struct vigil_control_arg *a;

	if (p->depth == 0)
		return stop(p, VIGIL_CONTROL_BAD_REQUEST,
			    "expected a JSON object like {\"cmd\":\"status\"}, "
			    "found %s", vigil_control_type_name(t));
	if (p->depth == 1) {
		if (p->at == AT_CMD) {
			p->has_cmd = 1;
			p->cmd_type = t;
			if (t == VIGIL_CONTROL_T_STRING &&
			    !(p->cmd = cstr(s, len)))
				return stop(p, VIGIL_CONTROL_BAD_REQUEST,
					    "\"cmd\" contains a NUL character");
		} else if (p->at == AT_ARGS) {
			p->has_args = 1;
			p->args_type = t;
		}
		return 1;
	}
	if (p->depth != 2 || !p->in_args)
		return 1; /* inside a value we do not look into */
	vigil_grow((void **)&p->args, &p->cap_args, p->n_args + 1,
		   sizeof(*p->args));
	a = &p->args[p->n_args];
	memset(a, 0, sizeof(*a));
	a->type = t;
	a->b = b;
	if (t == VIGIL_CONTROL_T_STRING || t == VIGIL_CONTROL_T_NUMBER) {
		a->text = cstr(s, len);
		if (!a->text)
			return stop(p, VIGIL_CONTROL_BAD_REQUEST,
				    "args.%s contains a NUL character",
				    p->arg_key);
	}
	a->key = p->arg_key;
	p->arg_key = NULL;
	p->n_args++;
	return 1;
}

static int enter(struct parse *p)
{
	if (p->depth >= MAX_DEPTH)
		return stop(p, VIGIL_CONTROL_BAD_REQUEST,
			    "the request nests more than %d levels deep",
			    MAX_DEPTH);
	p->depth++;
	return 1;
}

static int cb_null(void *ctx)
{
	return on_value(ctx, VIGIL_CONTROL_T_NULL, NULL, 0, 0);
}

static int cb_boolean(void *ctx, int b)
{
	return on_value(ctx, VIGIL_CONTROL_T_BOOL, NULL, 0, b);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	return on_value(ctx, VIGIL_CONTROL_T_NUMBER, (const unsigned char *)s,
			len, 0);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return on_value(ctx, VIGIL_CONTROL_T_STRING, s, len, 0);
}

static int cb_start_map(void *ctx)
{
	struct parse *p = ctx;

	if (p->depth == 0) {
		p->depth = 1;
		return 1;
	}
	if (!on_value(p, VIGIL_CONTROL_T_OBJECT, NULL, 0, 0))
		return 0;
	if (p->depth == 1 && p->at == AT_ARGS)
		p->in_args = 1;
	return enter(p);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
	struct parse *p = ctx;

	if (p->depth == 1) {
		p->at = AT_OTHER;
		if (len == 3 && memcmp(s, "cmd", 3) == 0) {
			if (p->has_cmd)
				return stop(p, VIGIL_CONTROL_BAD_REQUEST,
					    "\"cmd\" appears twice");
			p->at = AT_CMD;
		} else if (len == 4 && memcmp(s, "args", 4) == 0) {
			if (p->has_args)
				return stop(p, VIGIL_CONTROL_BAD_REQUEST,
					    "\"args\" appears twice");
			p->at = AT_ARGS;
		}
		return 1;
	}
	if (p->depth != 2 || !p->in_args)
		return 1;
	if (p->n_args >= VIGIL_CONTROL_MAX_ARGS)
		return stop(p, VIGIL_CONTROL_BAD_REQUEST,
			    "more than %d members in \"args\"",
			    VIGIL_CONTROL_MAX_ARGS);
	free(p->arg_key);
	if (!(p->arg_key = cstr(s, len)))
		return stop(p, VIGIL_CONTROL_BAD_REQUEST,
			    "a key of \"args\" contains a NUL character");
	for (size_t i = 0; i < p->n_args; i++)
		if (strcmp(p->args[i].key, p->arg_key) == 0)
			return stop(p, VIGIL_CONTROL_BAD_REQUEST,
				    "args.%s appears twice", p->arg_key);
	return 1;
}

static int cb_end_map(void *ctx)
{
	struct parse *p = ctx;

	if (--p->depth <= 1)
		p->in_args = 0;
	return 1;
}

static int cb_start_array(void *ctx)
{
	struct parse *p = ctx;

	if (!on_value(p, VIGIL_CONTROL_T_ARRAY, NULL, 0, 0))
		return 0;
	return enter(p);
}

static int cb_end_array(void *ctx)
{
	struct parse *p = ctx;

	p->depth--;
	return 1;
}

static const yajl_callbacks parse_callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end_map,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end_array,
};

/* Parses `line` into `p`. VIGIL_CONTROL_OK, or an error code with the
 * reason in p->err. */
static enum vigil_control_code parse_request(struct parse *p, const char *line,
					     size_t len)
{
	yajl_handle h = yajl_alloc(&parse_callbacks, NULL, p);
	yajl_status st;

	if (!h) {
		fprintf(stderr, "vigild: out of memory allocating a JSON "
				"parser\n");
		abort();
	}
	p->code = VIGIL_CONTROL_OK;
	st = yajl_parse(h, (const unsigned char *)line, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	if (st == yajl_status_error) {
		unsigned char *e = yajl_get_error(h, 0,
						  (const unsigned char *)line,
						  len);
		size_t n = e ? strlen((char *)e) : 0;

		while (n && isspace(e[n - 1]))
			e[--n] = '\0';
		snprintf(p->err, sizeof(p->err), "not valid JSON (%s); "
			 "expected one object per line, like "
			 "{\"cmd\":\"status\"}", e ? (char *)e : "?");
		if (e)
			yajl_free_error(h, e);
		p->code = VIGIL_CONTROL_PARSE_ERROR;
	} else if (st == yajl_status_client_canceled && !p->code) {
		snprintf(p->err, sizeof(p->err), "request refused");
		p->code = VIGIL_CONTROL_BAD_REQUEST;
	}
	yajl_free(h);
	if (p->code)
		return p->code;
	if (!p->has_cmd)
		stop(p, VIGIL_CONTROL_BAD_REQUEST, "no \"cmd\": expected "
		     "{\"cmd\":\"NAME\",\"args\":{...}}");
	else if (p->cmd_type != VIGIL_CONTROL_T_STRING)
		stop(p, VIGIL_CONTROL_BAD_REQUEST,
		     "\"cmd\" must be a string, found %s",
		     vigil_control_type_name(p->cmd_type));
	else if (p->has_args && p->args_type != VIGIL_CONTROL_T_OBJECT &&
		 p->args_type != VIGIL_CONTROL_T_NULL)
		stop(p, VIGIL_CONTROL_BAD_REQUEST,
		     "\"args\" must be an object, found %s",
		     vigil_control_type_name(p->args_type));
	return p->code;
}

/* ------------------------------------------------------------ arguments */

static const struct vigil_control_arg *arg_find(
	const struct vigil_control_req *req, const char *key)
{
	for (size_t i = 0; i < req->n_args; i++)
		if (strcmp(req->args[i].key, key) == 0)
			return req->args[i].type == VIGIL_CONTROL_T_NULL ?
				       NULL :
				       &req->args[i];
	return NULL;
}

/* "a string (\"yes\")", "the number 1.5", "true": what was sent. */
static void describe(const struct vigil_control_arg *a, char *buf, size_t len)
{
	switch (a->type) {
	case VIGIL_CONTROL_T_STRING:
		snprintf(buf, len, "a string (\"%.40s%s\")", a->text,
			 strlen(a->text) > 40 ? "..." : "");
		break;
	case VIGIL_CONTROL_T_NUMBER:
		snprintf(buf, len, "the number %.40s", a->text);
		break;
	case VIGIL_CONTROL_T_BOOL:
		snprintf(buf, len, "%s", a->b ? "true" : "false");
		break;
	default:
		snprintf(buf, len, "%s", vigil_control_type_name(a->type));
		break;
	}
}

static int arg_get(const struct vigil_control_req *req, const char *key,
		   enum vigil_control_type want, const char *expected,
		   const struct vigil_control_arg **out, char *err,
		   size_t errlen)
{
	const struct vigil_control_arg *a = arg_find(req, key);
	char found[96];

	*out = a;
	if (!a) {
		snprintf(err, errlen, "missing args.%s: expected %s", key,
			 expected);
		return -ENOENT;
	}
	if (a->type != want) {
		describe(a, found, sizeof(found));
		snprintf(err, errlen, "args.%s: expected %s, found %s", key,
			 expected, found);
		return -EINVAL;
	}
	return 0;
}

int vigil_control_arg_str(const struct vigil_control_req *req, const char *key,
			  const char **out, char *err, size_t errlen)
{
	const struct vigil_control_arg *a;
	int rc = arg_get(req, key, VIGIL_CONTROL_T_STRING, "a string", &a, err,
			 errlen);

	if (rc == 0)
		*out = a->text;
	return rc;
}

int vigil_control_arg_bool(const struct vigil_control_req *req,
			   const char *key, int *out, char *err, size_t errlen)
{
	const struct vigil_control_arg *a;
	int rc = arg_get(req, key, VIGIL_CONTROL_T_BOOL, "true or false", &a,
			 err, errlen);

	if (rc == 0)
		*out = a->b;
	return rc;
}

int vigil_control_arg_u64(const struct vigil_control_req *req, const char *key,
			  uint64_t *out, char *err, size_t errlen)
{
	static const char expected[] = "a non-negative integer";
	const struct vigil_control_arg *a;
	int rc = arg_get(req, key, VIGIL_CONTROL_T_NUMBER, expected, &a, err,
			 errlen);
	unsigned long long v;
	char *end;

	if (rc < 0)
		return rc;
	errno = 0;
	v = strtoull(a->text, &end, 10);
	if (!isdigit((unsigned char)a->text[0]) || *end || errno) {
		snprintf(err, errlen, "args.%s: expected %s, found the number "
			 "%.40s", key, expected, a->text);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int vigil_control_arg_duration(const struct vigil_control_req *req,
			       const char *key, vigil_time_ns *out, char *err,
			       size_t errlen)
{
	static const char expected[] =
		"a duration like \"30m\", \"2h\", \"1d\"";
	const struct vigil_control_arg *a;
	int rc = arg_get(req, key, VIGIL_CONTROL_T_STRING, expected, &a, err,
			 errlen);
	char why[160];

	if (rc < 0)
		return rc;
	if (vigil_parse_duration(a->text, out, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "args.%s = '%.40s': %s", key, a->text,
			 why);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------- commands */

static struct command *cmd_find(struct vigil_control *ctl, const char *name)
{
	for (size_t i = 0; i < ctl->n_cmds; i++)
		if (strcmp(ctl->cmds[i].name, name) == 0)
			return &ctl->cmds[i];
	return NULL;
}

void vigil_control_register(struct vigil_control *ctl, const char *cmd,
			    vigil_control_fn fn, void *user)
{
	struct command *c = cmd_find(ctl, cmd);
	size_t i;

	if (c) {
		c->fn = fn;
		c->user = user;
		return;
	}
	vigil_grow((void **)&ctl->cmds, &ctl->cap_cmds, ctl->n_cmds + 1,
		   sizeof(*ctl->cmds));
	for (i = ctl->n_cmds; i > 0 && strcmp(ctl->cmds[i - 1].name, cmd) > 0;
	     i--)
		ctl->cmds[i] = ctl->cmds[i - 1];
	ctl->cmds[i].name = vigil_xstrdup(cmd);
	ctl->cmds[i].fn = fn;
	ctl->cmds[i].user = user;
	ctl->n_cmds++;
}

static int ping(void *user, const struct vigil_control_req *req, yajl_gen out,
		char *err, size_t errlen)
{
	vigil_json_ki64(out, "protocol", VIGIL_CONTROL_PROTOCOL);
	vigil_json_kstr(out, "version", PACKAGE_VERSION);
	vigil_json_ki64(out, "pid", (int64_t)getpid());
	return VIGIL_CONTROL_OK;
}

static const char *peer_name(const struct client *c, char *buf, size_t len)
{
	snprintf(buf, len, "uid %u pid %d", (unsigned)c->uid, (int)c->pid);
	return buf;
}

/* Runs the request in `line` and queues its reply. */
static void handle_line(struct vigil_control *ctl, struct client *c,
			char *line, size_t len)
{
	struct parse p = {0};
	struct vigil_control_req req;
	struct command *cmd;
	enum vigil_control_code rc;
	char err[512], who[64];
	const char *name;
	yajl_gen g;

	while (len && isspace((unsigned char)line[len - 1]))
		len--; /* "\r\n" too */
	if (len == 0)
		return; /* a blank line: nothing asked */
	rc = parse_request(&p, line, len);
	if (rc) {
		rl_log(&ctl->rl_bad, VIGIL_LOG_WARNING, "%s: %s: %s",
		       peer_name(c, who, sizeof(who)),
		       vigil_control_code_name(rc), p.err);
		reply_error(ctl, c, rc, "%s", p.err);
		goto out;
	}
	cmd = cmd_find(ctl, p.cmd);
	if (!cmd) {
		struct vigil_buf known = {0};

		for (size_t i = 0; i < ctl->n_cmds; i++)
			vigil_buf_printf(&known, "%s%s", i ? ", " : "",
					 ctl->cmds[i].name);
		rl_log(&ctl->rl_bad, VIGIL_LOG_WARNING,
		       "%s: unknown command '%.64s'",
		       peer_name(c, who, sizeof(who)), p.cmd);
		reply_error(ctl, c, VIGIL_CONTROL_UNKNOWN_COMMAND,
			    "unknown command '%.64s'; known: %s", p.cmd,
			    known.data ? known.data : "none");
		vigil_buf_free(&known);
		goto out;
	}

	name = cmd->name; /* cmd itself may move if the handler registers */
	req = (struct vigil_control_req){
		.cmd = name, .args = p.args, .n_args = p.n_args,
		.uid = c->uid, .gid = c->gid, .pid = c->pid,
	};
	err[0] = '\0';
	ctl->scratch.len = 0;
	g = gen_new(&ctl->scratch);
	yajl_gen_map_open(g);
	vigil_json_kbool(g, "ok", 1);
	rc = (enum vigil_control_code)cmd->fn(cmd->user, &req, g, err,
					      sizeof(err));
	if (rc == VIGIL_CONTROL_OK &&
	    (yajl_gen_map_close(g) != yajl_gen_status_ok ||
	     yajl_gen_null(g) != yajl_gen_generation_complete)) {
		/* Unbalanced, or a write failed: nothing of it is sent. */
		snprintf(err, sizeof(err), "the reply to '%s' could not be "
			 "encoded", name);
		rc = VIGIL_CONTROL_INTERNAL;
	}
	yajl_gen_free(g);
	if (rc == VIGIL_CONTROL_OK) {
		vigil_buf_add(&c->out, ctl->scratch.data, ctl->scratch.len);
		vigil_buf_add(&c->out, "\n", 1);
	} else {
		if ((unsigned)rc >= VIGIL_ARRAY_SIZE(code_names))
			rc = VIGIL_CONTROL_INTERNAL;
		reply_error(ctl, c, rc, "%s", err);
	}
	vigil_log(rc == VIGIL_CONTROL_INTERNAL ? VIGIL_LOG_WARNING :
						 VIGIL_LOG_DEBUG,
		  LOG_PREFIX, "%s: %s: %s%s%s", peer_name(c, who, sizeof(who)),
		  name, vigil_control_code_name(rc), rc ? ": " : "",
		  rc ? err : "");
	if (ctl->scratch.cap > OUT_KEEP)
		vigil_buf_free(&ctl->scratch);
out:
	parse_free(&p);
}

/* -------------------------------------------------------------- clients */

static int has_output(const struct client *c)
{
	return c->out_off < c->out.len;
}

static void client_close(struct vigil_control *ctl, struct client *c)
{
	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	vigil_buf_free(&c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	ctl->n_clients--;
}

static void client_watch(struct vigil_control *ctl, struct client *c)
{
	struct epoll_event ev = {.data.ptr = c};

	ev.events = has_output(c) ? EPOLLOUT :
		    c->closing || c->eof ? 0 : EPOLLIN;
	if (ev.events == c->events)
		return;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = ev.events;
}

/* Writes what it can. 0, or -1 when the client is gone (and closed). */
static int client_flush(struct vigil_control *ctl, struct client *c)
{
	while (has_output(c)) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
				 c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			c->out_off += (size_t)n;
			c->last = vigil_monotonic();
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		client_close(ctl, c); /* EPIPE, ECONNRESET: it left */
		return -1;
	}
	c->out.len = c->out_off = 0;
	if (c->out.cap > OUT_KEEP)
		vigil_buf_free(&c->out);
	if (c->closing) {
		client_close(ctl, c);
		return -1;
	}
	return 0;
}

/* Takes one complete line from c->in, if there is one, and runs it. */
static int take_line(struct vigil_control *ctl, struct client *c)
{
	char *nl;
	size_t len;

	if (c->scanned == c->in_len)
		return 0; /* nothing new (c->in may still be NULL) */
	nl = memchr(c->in + c->scanned, '\n', c->in_len - c->scanned);
	if (!nl) {
		c->scanned = c->in_len;
		return 0;
	}
	len = (size_t)(nl - c->in);
	*nl = '\0';
	handle_line(ctl, c, c->in, len);
	memmove(c->in, nl + 1, c->in_len - len - 1);
	c->in_len -= len + 1;
	c->scanned = 0;
	return 1;
}

/* Runs buffered lines, one reply out before the next line, and reads
 * more. */
static void client_input(struct vigil_control *ctl, struct client *c)
{
	int reads = 0;
	char who[64];

	while (!c->closing) {
		size_t want;
		ssize_t n;

		/* The reply first: the next line waits until it is out. */
		if (has_output(c)) {
			if (client_flush(ctl, c) < 0)
				return;
			if (has_output(c))
				break; /* EPOLLOUT brings us back */
		}
		if (take_line(ctl, c))
			continue;
		if (c->in_len > VIGIL_CONTROL_MAX_REQUEST) {
			rl_log(&ctl->rl_bad, VIGIL_LOG_WARNING,
			       "%s: too_large: a request line over %d bytes",
			       peer_name(c, who, sizeof(who)),
			       VIGIL_CONTROL_MAX_REQUEST);
			reply_error(ctl, c, VIGIL_CONTROL_TOO_LARGE,
				    "request longer than %d bytes without a "
				    "newline; closing",
				    VIGIL_CONTROL_MAX_REQUEST);
			c->closing = 1;
			break;
		}
		if (c->eof) {
			/* An unterminated last line is a request too. */
			if (c->in_len) {
				c->in[c->in_len] = '\0';
				handle_line(ctl, c, c->in, c->in_len);
				c->in_len = c->scanned = 0;
			}
			c->closing = 1;
			break;
		}
		if (reads++ == READS_PER_DISPATCH)
			break;
		/* Room for one byte past the limit, to see it exceeded, and
		 * for a terminator. */
		want = VIGIL_CONTROL_MAX_REQUEST + 1 - c->in_len;
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		vigil_grow((void **)&c->in, &c->in_cap, c->in_len + want + 1,
			   1);
		n = read(c->fd, c->in + c->in_len, want);
		if (n > 0) {
			c->in_len += (size_t)n;
			c->last = vigil_monotonic();
		} else if (n == 0) {
			c->eof = 1;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else if (errno != EINTR) {
			client_close(ctl, c);
			return;
		}
	}
	if (client_flush(ctl, c) == 0)
		client_watch(ctl, c);
}

static void client_io(struct vigil_control *ctl, struct client *c,
		      uint32_t events)
{
	if (events & EPOLLERR) {
		client_close(ctl, c);
		return;
	}
	if (client_flush(ctl, c) < 0)
		return;
	client_input(ctl, c);
}

/* ------------------------------------------------------------ accepting */

/* Is `gid` among the groups of process `pid` (/proc/PID/status)? */
static int pid_in_group(pid_t pid, gid_t gid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char *p = line + 7, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == gid) {
				found = 1;
				break;
			}
			p = end;
		}
		break;
	}
	free(line);
	fclose(f);
	return found;
}

static int peer_allowed(const struct vigil_control *ctl,
			const struct ucred *cr)
{
	if (cr->uid == 0 || cr->uid == geteuid())
		return 1;
	if (ctl->gid == (gid_t)-1)
		return 0;
	return cr->gid == ctl->gid || pid_in_group(cr->pid, ctl->gid);
}

/* Replies `code` on a socket just accepted, and closes it. The socket's
 * buffer is empty: one short line fits without blocking. */
static void refuse(int fd, enum vigil_control_code code, const char *msg)
{
	struct vigil_buf b = {0};

	error_line(&b, code, msg);
	if (send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 &&
	    errno != EAGAIN)
		vigil_log(VIGIL_LOG_DEBUG, LOG_PREFIX,
			  "refusal not sent: %s", strerror(errno));
	vigil_buf_free(&b);
	close(fd);
}

static void accept_one(struct vigil_control *ctl, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *c = NULL;
	struct epoll_event ev = {.events = EPOLLIN};

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
		rl_log(&ctl->rl_refused, VIGIL_LOG_WARNING,
		       "refused a client: SO_PEERCRED: %s", strerror(errno));
		refuse(fd, VIGIL_CONTROL_PERMISSION_DENIED,
		       "cannot tell who you are");
		return;
	}
	if (!peer_allowed(ctl, &cr)) {
		rl_log(&ctl->rl_refused, VIGIL_LOG_WARNING,
		       "refused uid %u gid %u pid %d: not root, not vigild's "
		       "user%s", (unsigned)cr.uid, (unsigned)cr.gid,
		       (int)cr.pid,
		       ctl->gid == (gid_t)-1 ? " (no control_group is set)" :
					       ", not in control_group");
		refuse(fd, VIGIL_CONTROL_PERMISSION_DENIED,
		       ctl->gid == (gid_t)-1 ?
			       "permission denied: only root and vigild's "
			       "user may use the control socket" :
			       "permission denied: only root, vigild's user "
			       "and members of the control group may use the "
			       "control socket");
		return;
	}
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(ctl->clients); i++)
		if (ctl->clients[i].fd < 0) {
			c = &ctl->clients[i];
			break;
		}
	if (!c) {
		rl_log(&ctl->rl_refused, VIGIL_LOG_WARNING,
		       "refused uid %u pid %d: %d clients already connected",
		       (unsigned)cr.uid, (int)cr.pid,
		       VIGIL_CONTROL_MAX_CLIENTS);
		refuse(fd, VIGIL_CONTROL_BUSY,
		       "too many control clients connected; try again");
		return;
	}
	ev.data.ptr = c;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		vigil_log(VIGIL_LOG_WARNING, LOG_PREFIX, "epoll_ctl: %s",
			  strerror(errno));
		close(fd);
		return;
	}
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->uid = cr.uid;
	c->gid = cr.gid;
	c->pid = cr.pid;
	c->events = EPOLLIN;
	c->last = vigil_monotonic();
	ctl->n_clients++;
}

static void accept_all(struct vigil_control *ctl)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(ctl->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			accept_one(ctl, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		/* Out of fds or memory: the socket would stay readable and
		 * spin the loop. Pause; vigil_control_tick resumes. */
		rl_log(&ctl->rl_refused, VIGIL_LOG_WARNING,
		       "accept: %s; not accepting for a second",
		       strerror(errno));
		epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, ctl->lfd, NULL);
		ctl->accept_paused = vigil_monotonic() + ACCEPT_PAUSE;
		return;
	}
}

void vigil_control_dispatch(struct vigil_control *ctl)
{
	struct epoll_event evs[VIGIL_CONTROL_MAX_CLIENTS + 1];
	int n, listen_ready = 0;

	n = epoll_wait(ctl->epfd, evs, (int)VIGIL_ARRAY_SIZE(evs), 0);
	for (int i = 0; i < n; i++) {
		struct client *c = evs[i].data.ptr;

		if (evs[i].data.ptr == &ctl->lfd) {
			listen_ready = 1;
			continue;
		}
		if (c->fd >= 0)
			client_io(ctl, c, evs[i].events);
	}
	/* Last, so that no slot freed above is reused while an event of
	 * this batch may still name it. */
	if (listen_ready)
		accept_all(ctl);
}

vigil_time_ns vigil_control_tick(struct vigil_control *ctl, vigil_time_ns now)
{
	vigil_time_ns next = 0;
	char who[64];

	if (ctl->accept_paused && ctl->accept_paused <= now) {
		struct epoll_event ev = {.events = EPOLLIN,
					 .data.ptr = &ctl->lfd};

		if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev) == 0)
			ctl->accept_paused = 0;
		else
			ctl->accept_paused = now + ACCEPT_PAUSE;
	}
	if (ctl->accept_paused)
		next = ctl->accept_paused;
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(ctl->clients); i++) {
		struct client *c = &ctl->clients[i];
		vigil_time_ns due = c->last + VIGIL_CONTROL_IDLE_TIMEOUT;

		if (c->fd < 0)
			continue;
		if (due <= now) {
			rl_log(&ctl->rl_bad, VIGIL_LOG_NOTICE,
			       "%s: idle for %lld s with %s; closing",
			       peer_name(c, who, sizeof(who)),
			       (long long)(VIGIL_CONTROL_IDLE_TIMEOUT /
					   VIGIL_SEC),
			       has_output(c) ? "its reply unread" :
			       c->in_len ? "half a request" : "nothing sent");
			if (!has_output(c)) {
				struct vigil_buf b = {0};

				error_line(&b, VIGIL_CONTROL_TIMEOUT,
					   "no complete request in time; "
					   "closing");
				if (send(c->fd, b.data, b.len,
					 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					vigil_log(VIGIL_LOG_DEBUG, LOG_PREFIX,
						  "timeout reply not sent: %s",
						  strerror(errno));
				vigil_buf_free(&b);
			}
			client_close(ctl, c);
			continue;
		}
		if (!next || due < next)
			next = due;
	}
	return next;
}

size_t vigil_control_clients(const struct vigil_control *ctl)
{
	return ctl->n_clients;
}

int vigil_control_fd(const struct vigil_control *ctl)
{
	return ctl->epfd;
}

/* -------------------------------------------------------------- opening */

#define WHY(...) (why ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

/* mkdir -p of the directory holding `path`, 0755 for what it creates. */
static int make_parent(const char *path, char *why, size_t whylen)
{
	char *dir = vigil_xstrdup(path), *slash = strrchr(dir, '/');
	int rc = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		for (char *p = dir + 1;; p++) {
			char c = *p;

			if (c != '/' && c != '\0')
				continue;
			*p = '\0';
			if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
				rc = -errno;
				WHY("cannot create directory %s: %s", dir,
				    strerror(errno));
				break;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	free(dir);
	return rc;
}

/* A socket file left by a vigild that died is removed; one a live process
 * answers on is not, nor is anything that is not a socket. */
static int clear_stale(const char *path, const struct sockaddr_un *sa,
		       char *why, size_t whylen)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		WHY("cannot look at %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		WHY("%s exists and is not a socket; not replacing it", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		WHY("socket: %s", strerror(errno));
		return -errno;
	}
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	rc = rc == 0 ? 0 : errno;
	close(fd);
	if (rc == 0 || rc == EAGAIN || rc == EINPROGRESS) {
		WHY("%s is in use: another process (a vigild still running?) "
		    "listens on it", path);
		return -EADDRINUSE;
	}
	if (rc == ENOENT)
		return 0; /* gone meanwhile */
	if (rc != ECONNREFUSED) {
		WHY("cannot tell whether %s is still in use: %s", path,
		    strerror(rc));
		return -rc;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		WHY("cannot remove the stale socket %s: %s", path,
		    strerror(errno));
		return -errno;
	}
	vigil_log(VIGIL_LOG_INFO, LOG_PREFIX, "replaced the stale socket %s",
		  path);
	return 0;
}

int vigil_control_open(const char *path, mode_t mode, gid_t gid,
		       struct vigil_control **out, char *why, size_t whylen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct epoll_event ev = {.events = EPOLLIN};
	struct vigil_control *ctl;
	struct stat st;
	mode_t old;
	int rc;

	*out = NULL;
	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		WHY("a socket path must be 1 to %zu bytes long",
		    sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = make_parent(path, why, whylen);
	if (rc < 0)
		return rc;
	rc = clear_stale(path, &sa, why, whylen);
	if (rc < 0)
		return rc;

	ctl = vigil_xcalloc(1, sizeof(*ctl));
	ctl->epfd = ctl->lfd = -1;
	ctl->gid = gid;
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(ctl->clients); i++)
		ctl->clients[i].fd = -1;
	ctl->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			  0);
	if (ctl->lfd < 0) {
		rc = -errno;
		WHY("socket: %s", strerror(errno));
		goto fail;
	}
	/* Created with `mode` from the start: never wider, not even for
	 * the moment between bind() and a chmod(). */
	old = umask(~mode & 0777);
	rc = bind(ctl->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno :
								      0;
	umask(old);
	if (rc < 0) {
		WHY("cannot bind %s: %s", path, strerror(-rc));
		goto fail;
	}
	ctl->path = vigil_xstrdup(path);
	if (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) {
		rc = -errno;
		WHY("cannot give %s to group %u: %s", path, (unsigned)gid,
		    strerror(errno));
		goto fail;
	}
	if (lstat(path, &st) < 0) {
		rc = -errno;
		WHY("cannot look at %s: %s", path, strerror(errno));
		goto fail;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	if (listen(ctl->lfd, VIGIL_CONTROL_MAX_CLIENTS) < 0) {
		rc = -errno;
		WHY("listen: %s", strerror(errno));
		goto fail;
	}
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.ptr = &ctl->lfd;
	if (ctl->epfd < 0 ||
	    epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->lfd, &ev) < 0) {
		rc = -errno;
		WHY("epoll: %s", strerror(errno));
		goto fail;
	}
	vigil_control_register(ctl, "ping", ping, NULL);
	*out = ctl;
	return 0;
fail:
	vigil_control_close(ctl);
	return rc;
}

void vigil_control_close(struct vigil_control *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(ctl->clients); i++)
		if (ctl->clients[i].fd >= 0)
			client_close(ctl, &ctl->clients[i]);
	if (ctl->lfd >= 0)
		close(ctl->lfd);
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	/* Only our own: a newer vigild may have replaced it. */
	if (ctl->path && lstat(ctl->path, &st) == 0 &&
	    (!ctl->ino || (st.st_dev == ctl->dev && st.st_ino == ctl->ino)))
		unlink(ctl->path);
	free(ctl->path);
	for (size_t i = 0; i < ctl->n_cmds; i++)
		free(ctl->cmds[i].name);
	free(ctl->cmds);
	vigil_buf_free(&ctl->scratch);
	free(ctl);
}
