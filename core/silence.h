/*
 * silence.h - silences: for a while, incidents that match are recorded
 * but nobody is notified.
 *
 * A silence is a matcher, a time window [start, end), a comment and who
 * made it. It comes from vigilctl (through the control socket) or from a
 * [silence.NAME] section of the INI. Pure state with the clock passed in,
 * like the incident manager; the journal keeps it with the encode/decode
 * below.
 *
 * THE MATCHER
 *
 *   Terms separated by blanks; a silence matches when every term does:
 *
 *     key=GLOB           the incident key       key=cpu_temp*
 *     type=GLOB          the incident type      type=disk_full
 *     NAME=VALUE         label NAME is VALUE    instance=sda1
 *     {NAME=VALUE,...}   the same, several at once, in the selector
 *                        syntax of parse.h      {interface=wlan0}
 *
 *   GLOBs and VALUEs are fnmatch(3) patterns: `*`, `?`, `[...]`; a label
 *   the incident does not have never matches. NAME is [A-Za-z0-9_-]+; a
 *   label named key or type is written in braces, {type=ups}. At least
 *   one term is needed (key=* silences everything, on purpose).
 */
#ifndef VIGIL_SILENCE_H
#define VIGIL_SILENCE_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

#include "parse.h"

struct vigil_wire;
struct vigil_wire_reader;

struct vigil_silence_match {
	char *key;  /* glob, or NULL: any */
	char *type; /* glob, or NULL: any */
	struct vigil_selector labels; /* one term "*" with the labels, or
				       * none: any */
};

/* 0, or -EINVAL with, in `why`, what was found and what was expected. */
int vigil_silence_match_parse(const char *expr, struct vigil_silence_match *m,
			      char *why, size_t whylen);
int vigil_silence_match_test(const struct vigil_silence_match *m,
			     const char *key, const char *type,
			     const struct vigil_label *labels, size_t n);
void vigil_silence_match_free(struct vigil_silence_match *m);

struct vigil_silence {
	uint64_t id;   /* unique, never reused */
	char *name;    /* NAME of its [silence.NAME], or NULL */
	char *expr;    /* the matcher as written */
	struct vigil_silence_match m;
	vigil_time_ns start, end; /* it silences in [start, end) */
	vigil_time_ns created;
	char *comment; /* may be NULL */
	char *creator; /* may be NULL */
};

void vigil_silence_free(struct vigil_silence *s);

struct vigil_silences {
	struct vigil_silence **v; /* lowest id first */
	size_t n, cap;
	uint64_t next_id;
};

void vigil_silences_init(struct vigil_silences *set);
void vigil_silences_free(struct vigil_silences *set);
/* Ids continue from at least `next_id`; never lowers it. */
void vigil_silences_seed(struct vigil_silences *set, uint64_t next_id);

/*
 * Adds a silence of `expr` over [start, end) (vigilctl silence). start 0
 * means `now`. Returns 0 and sets *id, or -EINVAL with the reason in
 * `why`: a bad matcher, or an end not after the start. `comment` and
 * `creator` may be NULL.
 */
int vigil_silences_add(struct vigil_silences *set, const char *expr,
		       vigil_time_ns start, vigil_time_ns end,
		       const char *comment, const char *creator,
		       vigil_time_ns now, uint64_t *id, char *why,
		       size_t whylen);
/* 0, or -ENOENT. */
int vigil_silences_remove(struct vigil_silences *set, uint64_t id);
const struct vigil_silence *vigil_silences_get(const struct vigil_silences *set,
					       uint64_t id);
const struct vigil_silence *
vigil_silences_find_name(const struct vigil_silences *set, const char *name);
/* Removes the silences over at `now`; returns how many. */
size_t vigil_silences_expire(struct vigil_silences *set, vigil_time_ns now);

/* The first silence active at `now` that matches, or NULL. */
const struct vigil_silence *
vigil_silences_match(const struct vigil_silences *set, const char *key,
		     const char *type, const struct vigil_label *labels,
		     size_t n, vigil_time_ns now);

/* The next time after `now` at which a silence starts or ends, or 0. */
vigil_time_ns vigil_silences_next_change(const struct vigil_silences *set,
					 vigil_time_ns now);

/*
 * A time as the INI and vigilctl write it: RFC 3339 with its zone,
 * "2025-06-01T02:00:00Z", "2025-06-01 04:00+02:00" (seconds and their
 * fraction optional, 'T' or a blank between date and time), or "now".
 * 0, or -EINVAL with what was expected in `why`.
 */
int vigil_silence_parse_time(const char *s, vigil_time_ns now,
			     vigil_time_ns *out, char *why, size_t whylen);

/*
 * A [silence.NAME] section: its values as written (NULL for a key left
 * out). `match` is required; `start` is a time (default: now, that is
 * when the configuration is loaded); exactly one of `end` (a time) and
 * `duration` (from start) is required.
 */
struct vigil_silence_ini {
	const char *name;
	const char *match;
	const char *start;
	const char *end;
	const char *duration;
	const char *comment;
};

/*
 * Adds the silence of an INI section, created by "config"; one of the
 * same name is replaced, keeping its id (a reload). Returns 0 and sets
 * *id, or 0 with *id = 0 when the silence is over already (not added: the
 * caller may warn), or -EINVAL with the reason in `why` and, in *bad_key,
 * the key whose value is wrong ("match", "start", "end", "duration"), or
 * NULL when it is the section that is (say, neither end nor duration):
 * enough for "FILE:LINE: [silence.NAME] KEY = 'VALUE': why".
 */
int vigil_silence_from_ini(struct vigil_silences *set,
			   const struct vigil_silence_ini *ini,
			   vigil_time_ns now, uint64_t *id,
			   const char **bad_key, char *why, size_t whylen);

/* ------------------------------------------------------ journal */

#define VIGIL_SILENCE_WIRE_VERSION 1

/* Appends the silence as fields to `w` (begun by the caller). */
void vigil_silence_encode(const struct vigil_silence *s,
			  struct vigil_wire *w);
/* Reads one back (its matcher parsed again): a new silence in no set, or
 * NULL with r->err set. */
struct vigil_silence *vigil_silence_decode(struct vigil_wire_reader *r);
/* Puts a decoded silence into the set, taking it: one of the same id is
 * replaced, and ids continue above it. */
void vigil_silences_restore(struct vigil_silences *set,
			    struct vigil_silence *s);

#endif
