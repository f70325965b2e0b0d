/*
 * control_json.c - incidents and their parts as JSON, for control replies.
 *
 * The file sink writes the same fields for its events, but a plugin shares
 * no code with the core: the number and time formats below are kept the
 * same as its own (shortest exact number, RFC 3339 with milliseconds) so
 * that what vigilctl shows and what events.jsonl holds read alike.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control_json.h"
#include "json_number.h"
#include "utf8.h"
#include "util.h"

/* ------------------------------------------------------------- strings */


void vigil_json_key(yajl_gen g, const char *key)
{
	yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

void vigil_json_str(yajl_gen g, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct vigil_buf clean = {0};
	size_t n, i, k;

	if (!s) {
		yajl_gen_null(g);
		return;
	}
	n = strlen(s);
	for (i = 0; i < n; i += k)
		if ((k = vigil_utf8_seq(p + i, n - i)) == 0)
			break;
	if (i == n) {
		yajl_gen_string(g, p, n);
		return;
	}
	vigil_buf_add(&clean, s, i);
	while (i < n) {
		k = vigil_utf8_seq(p + i, n - i);
		if (k == 0) {
			vigil_buf_add(&clean, "?", 1);
			i++;
		} else {
			vigil_buf_add(&clean, s + i, k);
			i += k;
		}
	}
	yajl_gen_string(g, (const unsigned char *)clean.data, clean.len);
	vigil_buf_free(&clean);
}

/* ------------------------------------------------------------- numbers */

void vigil_json_u64(yajl_gen g, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);

	yajl_gen_number(g, num, (size_t)n);
}

void vigil_json_i64(yajl_gen g, int64_t v)
{
	yajl_gen_integer(g, (long long)v);
}

/* As JSON number text (json_number.h): exact and short, where yajl's own
 * %.20g turns 48.3 into 48.29999999999999716; not finite is null. */
void vigil_json_double(yajl_gen g, double v)
{
	char num[VIGIL_JSON_NUMBER_MAX];
	int n = vigil_json_number(num, v);

	if (n < 0)
		yajl_gen_null(g);
	else
		yajl_gen_number(g, num, (size_t)n);
}

void vigil_json_bool(yajl_gen g, int v)
{
	yajl_gen_bool(g, v != 0);
}

void vigil_json_null(yajl_gen g)
{
	yajl_gen_null(g);
}

/* "2026-11-24T10:01:02.123Z"; 0 is null. */
void vigil_json_time(yajl_gen g, vigil_time_ns t)
{
	int64_t sec = t / VIGIL_SEC, rem = t % VIGIL_SEC;
	char stamp[32], str[48];
	time_t tt;
	struct tm tm;
	int n;

	if (t == 0) {
		yajl_gen_null(g);
		return;
	}
	if (rem < 0) { /* before 1970: floor, not truncate */
		sec -= 1;
		rem += VIGIL_SEC;
	}
	tt = (time_t)sec;
	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999 ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		yajl_gen_null(g);
		return;
	}
	n = snprintf(str, sizeof(str), "%s.%03dZ", stamp,
		     (int)(rem / VIGIL_MSEC));
	yajl_gen_string(g, (const unsigned char *)str, (size_t)n);
}

void vigil_json_kstr(yajl_gen g, const char *key, const char *s)
{
	vigil_json_key(g, key);
	vigil_json_str(g, s);
}

void vigil_json_ku64(yajl_gen g, const char *key, uint64_t v)
{
	vigil_json_key(g, key);
	vigil_json_u64(g, v);
}

void vigil_json_ki64(yajl_gen g, const char *key, int64_t v)
{
	vigil_json_key(g, key);
	vigil_json_i64(g, v);
}

void vigil_json_kbool(yajl_gen g, const char *key, int v)
{
	vigil_json_key(g, key);
	vigil_json_bool(g, v);
}

void vigil_json_ktime(yajl_gen g, const char *key, vigil_time_ns t)
{
	vigil_json_key(g, key);
	vigil_json_time(g, t);
}

/* ------------------------------------------------------------ incidents */

void vigil_json_labels(yajl_gen g, const struct vigil_label *l, size_t n)
{
	yajl_gen_map_open(g);
	for (size_t i = 0; l && i < n; i++) {
		vigil_json_str(g, l[i].key ? l[i].key : "");
		vigil_json_str(g, l[i].value ? l[i].value : "");
	}
	yajl_gen_map_close(g);
}

void vigil_json_action(yajl_gen g, const struct vigil_action_rec *a)
{
	yajl_gen_map_open(g);
	vigil_json_kstr(g, "action", a->action);
	vigil_json_ktime(g, "start", a->start);
	vigil_json_ki64(g, "duration_ms", a->duration / VIGIL_MSEC);
	vigil_json_ki64(g, "exit_status", a->exit_status);
	vigil_json_kstr(g, "outcome", vigil_outcome_name(a->outcome));
	vigil_json_kstr(g, "output", a->output ? a->output : "");
	yajl_gen_map_close(g);
}

void vigil_json_incident(yajl_gen g, const struct vigil_incident *inc,
			 int with_actions)
{
	yajl_gen_map_open(g);
	vigil_json_ku64(g, "id", inc->id);
	vigil_json_kstr(g, "key", inc->key);
	vigil_json_kstr(g, "type", inc->type);
	vigil_json_kstr(g, "severity", vigil_severity_name(inc->severity));
	vigil_json_kstr(g, "peak", vigil_severity_name(inc->peak));
	vigil_json_kstr(g, "status", vigil_status_name(inc->status));
	vigil_json_kstr(g, "message", inc->message ? inc->message : "");
	vigil_json_key(g, "value");
	vigil_json_double(g, inc->value);
	vigil_json_key(g, "labels");
	vigil_json_labels(g, inc->labels.v, inc->labels.n);
	vigil_json_ktime(g, "created", inc->created);
	vigil_json_ktime(g, "updated", inc->updated);
	vigil_json_ktime(g, "resolved", inc->resolved);
	vigil_json_ku64(g, "occurrences", inc->occurrences);
	vigil_json_ku64(g, "action_count", inc->n_actions);
	vigil_json_ku64(g, "escalation", inc->escalation);
	vigil_json_kbool(g, "flapping", inc->flapping);
	vigil_json_kbool(g, "silenced", inc->silenced);
	vigil_json_ktime(g, "acked", inc->acked);
	vigil_json_kstr(g, "acked_by", inc->acked_by);
	vigil_json_kstr(g, "comment", inc->comment);
	if (with_actions) {
		vigil_json_key(g, "actions");
		yajl_gen_array_open(g);
		for (size_t i = 0; i < inc->n_actions; i++)
			vigil_json_action(g, &inc->actions[i]);
		yajl_gen_array_close(g);
	}
	yajl_gen_map_close(g);
}

static int by_id(const void *a, const void *b)
{
	const struct vigil_incident *const *x = a, *const *y = b;

	return (*x)->id < (*y)->id ? -1 : (*x)->id > (*y)->id;
}

struct collect {
	const struct vigil_incident **v;
	size_t n, cap;
};

static int collect_one(void *user, struct vigil_incident *inc)
{
	struct collect *c = user;

	vigil_grow((void **)&c->v, &c->cap, c->n + 1, sizeof(*c->v));
	c->v[c->n++] = inc;
	return 0;
}

void vigil_json_incident_list(yajl_gen g, const struct vigil_incidents *im,
			      int all)
{
	struct collect c = {0};

	/* Open ones by id, then history by resolution: one order, by id. */
	vigil_incidents_foreach(im, all, collect_one, &c);
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_id);
	vigil_json_key(g, "incidents");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < c.n; i++)
		vigil_json_incident(g, c.v[i], 0);
	yajl_gen_array_close(g);
	free(c.v);
}

void vigil_json_silence(yajl_gen g, const struct vigil_silence *s)
{
	yajl_gen_map_open(g);
	vigil_json_ku64(g, "id", s->id);
	vigil_json_kstr(g, "match", s->expr);
	vigil_json_ktime(g, "start", s->start);
	vigil_json_ktime(g, "end", s->end);
	vigil_json_kstr(g, "comment", s->comment);
	vigil_json_kstr(g, "created_by", s->creator);
	vigil_json_ktime(g, "created", s->created);
	vigil_json_kstr(g, "name", s->name);
	yajl_gen_map_close(g);
}

void vigil_json_plugin(yajl_gen g, const struct vigil_json_plugin *p)
{
	yajl_gen_map_open(g);
	vigil_json_kstr(g, "section", p->section);
	vigil_json_kstr(g, "plugin", p->plugin);
	vigil_json_kstr(g, "kind", p->kind);
	vigil_json_kstr(g, "state", p->state);
	vigil_json_ku64(g, "restarts", p->restarts);
	vigil_json_ku64(g, "calls", p->calls);
	vigil_json_ku64(g, "errors", p->errors);
	vigil_json_ku64(g, "queue_drops", p->queue_drops);
	vigil_json_kstr(g, "last_exit", p->last_exit);
	vigil_json_kstr(g, "isolation", p->isolation);
	if (p->worker)
		vigil_json_kstr(g, "worker", p->worker);
	yajl_gen_map_close(g);
}
