/*
 * control.h - the control socket: vigilctl's way into a running vigild.
 *
 * A UNIX stream socket (0660, owned by a configured group) speaking
 * newline-delimited JSON: one request object per line in, one reply object
 * per line out (docs/control-protocol.md):
 *
 *   {"cmd":"ack","args":{"id":12,"comment":"on it"}}
 *   {"ok":true,"incident":{...}}
 *   {"ok":false,"error":"no incident 42","code":"not_found"}
 *
 * The server never blocks and never starts a thread. It owns an epoll fd of
 * its own holding the listening socket and every client; the daemon adds
 * that one fd to its loop and calls vigil_control_dispatch() when it is
 * readable (nested epoll), and vigil_control_tick() at the deadline it
 * returns, to close idle clients. Every client has its own input and output
 * buffers, so one that sends half a line, or never reads its reply, costs
 * its buffers and a slot, never the loop; slots are bounded, and so is the
 * time a client may sit idle.
 *
 * The peer's credentials (SO_PEERCRED) are checked on accept: root, the
 * daemon's own user, and members of the configured group get in; anyone
 * else gets a permission_denied reply and is closed.
 *
 * Commands are registered by the daemon: a handler gets the parsed request
 * (typed access to its "args" below) and writes its reply's fields into a
 * yajl generator whose top-level map is already open and already holds
 * "ok":true; or it returns an error code and a message, and the server
 * replies with those instead (what the handler wrote is discarded).
 * Handlers run in the loop: they must be quick and must not block.
 */
#ifndef VIGIL_CONTROL_H
#define VIGIL_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <yajl/yajl_gen.h>

#include <vigil/plugin.h>

/* Version of the protocol: replies to "ping" carry it. */
#define VIGIL_CONTROL_PROTOCOL 1
/* A request line longer than this (newline excluded) is refused with
 * too_large, and the client closed. */
#define VIGIL_CONTROL_MAX_REQUEST (64 * 1024)
/* Clients connected at once; more are refused with busy. */
#define VIGIL_CONTROL_MAX_CLIENTS 16
/* A client that neither sends nor reads for this long is closed. */
#define VIGIL_CONTROL_IDLE_TIMEOUT (30 * VIGIL_SEC)
/* Arguments in one request. */
#define VIGIL_CONTROL_MAX_ARGS 32

/* Error codes, as replies spell them ("code"). A handler returns one of
 * the first four or NOT_SUPPORTED; the others are the server's own. */
enum vigil_control_code {
	VIGIL_CONTROL_OK = 0,
	VIGIL_CONTROL_BAD_REQUEST = 1,       /* "bad_request" */
	VIGIL_CONTROL_NOT_FOUND = 2,         /* "not_found" */
	VIGIL_CONTROL_CONFLICT = 3,          /* "conflict" */
	VIGIL_CONTROL_INTERNAL = 4,          /* "internal" */
	VIGIL_CONTROL_PARSE_ERROR = 5,       /* "parse_error": not JSON */
	VIGIL_CONTROL_UNKNOWN_COMMAND = 6,   /* "unknown_command" */
	VIGIL_CONTROL_TOO_LARGE = 7,         /* "too_large" */
	VIGIL_CONTROL_PERMISSION_DENIED = 8, /* "permission_denied" */
	VIGIL_CONTROL_BUSY = 9,              /* "busy": no free slot */
	VIGIL_CONTROL_TIMEOUT = 10,          /* "timeout": idle too long */
	VIGIL_CONTROL_NOT_SUPPORTED = 11,    /* "not_supported": a command
					      * this vigild knows of but
					      * cannot do yet (reload) */
};

const char *vigil_control_code_name(enum vigil_control_code c);

/* The JSON type of an argument's value. */
enum vigil_control_type {
	VIGIL_CONTROL_T_NULL = 0,
	VIGIL_CONTROL_T_BOOL,
	VIGIL_CONTROL_T_NUMBER,
	VIGIL_CONTROL_T_STRING,
	VIGIL_CONTROL_T_ARRAY, /* contents not kept */
	VIGIL_CONTROL_T_OBJECT, /* contents not kept */
};

/* "a string", "a number", ...: for "expected X, found Y" messages. */
const char *vigil_control_type_name(enum vigil_control_type t);

/* One member of "args". */
struct vigil_control_arg {
	char *key;
	enum vigil_control_type type;
	char *text; /* STRING: the value; NUMBER: as written; else NULL */
	int b;      /* BOOL */
};

/* A request, valid for the duration of the handler's call. */
struct vigil_control_req {
	const char *cmd;
	const struct vigil_control_arg *args;
	size_t n_args;
	/* Who asked (SO_PEERCRED): for "created_by", "acked_by" and the
	 * log. */
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/*
 * Typed access to args.KEY. Each returns 0 and sets *out; -ENOENT when the
 * argument is absent or null; -EINVAL when it has another type or an
 * invalid value. On either error `err` (of `errlen` bytes) says what was
 * expected and what was found ("args.id: expected a positive integer,
 * found a string"), ready to be returned with VIGIL_CONTROL_BAD_REQUEST;
 * a handler for which the argument is optional ignores -ENOENT.
 */
int vigil_control_arg_str(const struct vigil_control_req *req, const char *key,
			  const char **out, char *err, size_t errlen);
int vigil_control_arg_bool(const struct vigil_control_req *req,
			   const char *key, int *out, char *err, size_t errlen);
/* A JSON number that is a non-negative integer (no fraction, exponent or
 * sign) of at most 2^64 - 1. */
int vigil_control_arg_u64(const struct vigil_control_req *req, const char *key,
			  uint64_t *out, char *err, size_t errlen);
/* A string read by vigil_parse_duration: "30m", "2h", "1d". */
int vigil_control_arg_duration(const struct vigil_control_req *req,
			       const char *key, vigil_time_ns *out, char *err,
			       size_t errlen);

/*
 * A command's handler: writes its reply's members into `out` (its
 * top-level map is open) and returns VIGIL_CONTROL_OK, or returns an error
 * code with a message in `err` (of `errlen` bytes). A handler that leaves
 * `out` unbalanced or in error gets an internal error reply instead. Text
 * that did not come from the handler's own literals goes through
 * vigil_json_str (control_json.h), which keeps the reply valid UTF-8. A
 * handler may register commands but must not close the server: one that
 * should (a reload that moves the socket) sets a flag, and the daemon
 * closes it after vigil_control_dispatch() returns.
 */
typedef int (*vigil_control_fn)(void *user, const struct vigil_control_req *req,
				yajl_gen out, char *err, size_t errlen);

struct vigil_control;

/*
 * Listens on `path`. A stale socket there (nobody answers) is replaced; a
 * socket a live process answers on, or anything that is not a socket, is
 * left alone and refused (-EADDRINUSE, -EEXIST). The parent directory is
 * created (0755) when missing. The socket is created with `mode` (umask
 * set around bind(), so it never exists with a wider one) and, when `gid`
 * is not (gid_t)-1, handed to that group. Returns 0, or -errno with `why`
 * (of `whylen` bytes) saying what failed.
 */
int vigil_control_open(const char *path, mode_t mode, gid_t gid,
		       struct vigil_control **out, char *why, size_t whylen);

/* Closes every client and the socket, and removes the socket file if it
 * is still the one we made. NULL is allowed. */
void vigil_control_close(struct vigil_control *ctl);

/* The one fd for the daemon's epoll (EPOLLIN): readable when anything in
 * the control server wants attention. */
int vigil_control_fd(const struct vigil_control *ctl);

/* Adds command `cmd` ("status", "silence.add"); a second registration of
 * the same name replaces the first. "ping" is built in. */
void vigil_control_register(struct vigil_control *ctl, const char *cmd,
			    vigil_control_fn fn, void *user);

/* Does all the I/O that is ready (accepts, reads, runs handlers, writes),
 * without blocking. */
void vigil_control_dispatch(struct vigil_control *ctl);

/* Closes clients idle since before `now` - VIGIL_CONTROL_IDLE_TIMEOUT
 * (monotonic). Returns the next time it has something to do, or 0 when no
 * client is connected. */
vigil_time_ns vigil_control_tick(struct vigil_control *ctl, vigil_time_ns now);

/* Clients connected now. */
size_t vigil_control_clients(const struct vigil_control *ctl);

#endif
