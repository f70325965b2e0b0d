/*
 * silence.c - silences: matchers over a time window.
 *
 * A matcher keeps a glob for the key, one for the type, and its label
 * terms as a one-term selector of parse.h ("*" with the labels), matched
 * with vigil_selector_match: label values are globs there too, and a
 * label the incident lacks never matches. The set is a small array in id
 * order: a device has a handful of silences, so matching walks it.
 * Times are wall clock; RFC 3339 times are converted without the C
 * library's time zone (days from the civil date), so parsing does not
 * depend on TZ.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "silence.h"
#include "util.h"

#define WHY(...) (why ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

#define EXPECTED                                                              \
	"expected key=GLOB, type=GLOB, LABEL=VALUE or {LABEL=VALUE,...}, "    \
	"separated by blanks"

/* ------------------------------------------------------------ matcher */

void vigil_silence_match_free(struct vigil_silence_match *m)
{
	free(m->key);
	free(m->type);
	vigil_selector_free(&m->labels);
	memset(m, 0, sizeof(*m));
}

/* Appends label NAME=VALUE (n and v bytes) to the one term. */
static void add_label(struct vigil_silence_match *m, const char *name,
		      size_t n, const char *value, size_t v)
{
	struct vigil_selector_term *t;

	if (!m->labels.n_terms) {
		m->labels.terms = vigil_xcalloc(1, sizeof(*m->labels.terms));
		m->labels.n_terms = 1;
		m->labels.terms[0].metric = vigil_xstrdup("*");
	}
	t = &m->labels.terms[0];
	t->labels = vigil_xrealloc(t->labels,
				   (t->n_labels + 1) * sizeof(*t->labels));
	t->labels[t->n_labels].key = strndup(name, n);
	t->labels[t->n_labels].value = strndup(value, v);
	if (!t->labels[t->n_labels].key || !t->labels[t->n_labels].value)
		abort(); /* as vigil_xstrdup would */
	t->n_labels++;
}

static int valid_name_n(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* One NAME=VALUE of a term (n bytes at s); `what` is the whole term, for
 * messages. */
static int pair_parse(struct vigil_silence_match *m, const char *s, size_t n,
		      int braced, const char *what, int what_n, char *why,
		      size_t whylen)
{
	const char *eq;
	size_t name_n, val_n;
	char **glob = NULL;

	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	eq = memchr(s, '=', n);
	if (!eq) {
		WHY("'%.*s' is not a term (%s)", what_n, what, EXPECTED);
		return -EINVAL;
	}
	name_n = (size_t)(eq - s);
	val_n = n - name_n - 1;
	while (name_n && isspace((unsigned char)s[name_n - 1]))
		name_n--;
	if (!braced && name_n == 3 && strncmp(s, "key", 3) == 0)
		glob = &m->key;
	else if (!braced && name_n == 4 && strncmp(s, "type", 4) == 0)
		glob = &m->type;
	if (glob) {
		if (*glob) {
			WHY("%.*s= given twice, in '%.*s' (expected one "
			    "%.*s=GLOB)",
			    (int)name_n, s, what_n, what, (int)name_n, s);
			return -EINVAL;
		}
		if (val_n == 0) {
			WHY("'%.*s' has nothing after '=' (expected %.*s=GLOB, "
			    "e.g. %s)",
			    what_n, what, (int)name_n, s,
			    name_n == 3 ? "key=cpu_temp*" : "type=disk_full");
			return -EINVAL;
		}
		*glob = strndup(eq + 1, val_n);
		if (!*glob)
			abort();
		return 0;
	}
	if (!valid_name_n(s, name_n)) {
		WHY("'%.*s' in '%.*s' is not a label name (expected letters, "
		    "digits, '_' and '-' before '=')",
		    (int)name_n, s, what_n, what);
		return -EINVAL;
	}
	eq++;
	while (braced && val_n && isspace((unsigned char)*eq))
		eq++, val_n--;
	add_label(m, s, name_n, eq, val_n);
	return 0;
}

/* {NAME=VALUE,...} at *pp, advancing past the '}'. */
static int block_parse(struct vigil_silence_match *m, const char **pp,
		       char *why, size_t whylen)
{
	const char *open = *pp, *close = strchr(open, '}'), *p = open + 1;
	int what_n;

	if (!close) {
		WHY("'%s' has no closing '}' (%s)", open, EXPECTED);
		return -EINVAL;
	}
	what_n = (int)(close - open + 1);
	if (strspn(p, " \t") == (size_t)(close - p)) {
		WHY("'%.*s' is empty (expected {LABEL=VALUE,...})", what_n,
		    open);
		return -EINVAL;
	}
	while (p < close) {
		const char *end = memchr(p, ',', (size_t)(close - p));
		if (!end)
			end = close;
		if (pair_parse(m, p, (size_t)(end - p), 1, open, what_n, why,
			       whylen) < 0)
			return -EINVAL;
		p = end + 1;
	}
	if (close[1] && !isspace((unsigned char)close[1])) {
		WHY("'%c' right after '%.*s' (%s)", close[1], what_n, open,
		    EXPECTED);
		return -EINVAL;
	}
	*pp = close + 1;
	return 0;
}

int vigil_silence_match_parse(const char *expr, struct vigil_silence_match *m,
			      char *why, size_t whylen)
{
	const char *p = expr ? expr : "";
	int terms = 0;

	memset(m, 0, sizeof(*m));
	for (;;) {
		size_t n;

		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		terms++;
		if (*p == '{') {
			if (block_parse(m, &p, why, whylen) < 0)
				goto bad;
			continue;
		}
		n = strcspn(p, " \t\r\n");
		if (*p == '=') {
			WHY("'%.*s' has no name before '=' (%s)", (int)n, p,
			    EXPECTED);
			goto bad;
		}
		if (pair_parse(m, p, n, 0, p, (int)n, why, whylen) < 0)
			goto bad;
		p += n;
	}
	if (!terms) {
		WHY("an empty matcher (%s; key=* matches everything)",
		    EXPECTED);
		goto bad;
	}
	return 0;
bad:
	vigil_silence_match_free(m);
	return -EINVAL;
}

int vigil_silence_match_test(const struct vigil_silence_match *m,
			     const char *key, const char *type,
			     const struct vigil_label *labels, size_t n)
{
	if (m->key && fnmatch(m->key, key ? key : "", 0) != 0)
		return 0;
	if (m->type && fnmatch(m->type, type ? type : "", 0) != 0)
		return 0;
	if (m->labels.n_terms &&
	    !vigil_selector_match(&m->labels, "", labels, n))
		return 0;
	return 1;
}

/* ------------------------------------------------------------ times */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* Exactly `n` digits at *pp, advancing; -1 if not. */
static int digits(const char **pp, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*pp)[i]))
			return -1;
		v = v * 10 + ((*pp)[i] - '0');
	}
	*pp += n;
	return v;
}

static int month_days(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

int vigil_silence_parse_time(const char *s, vigil_time_ns now,
			     vigil_time_ns *out, char *why, size_t whylen)
{
	const char *p = s;
	int y, mo, d, h, mi, sec = 0, off = 0;
	vigil_time_ns frac = 0;
	int64_t secs;

	while (isspace((unsigned char)*p))
		p++;
	if (strcmp(p, "now") == 0) {
		*out = now;
		return 0;
	}
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' ||
	    (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		goto bad;
	if (*p != 'T' && *p != 't' && *p != ' ')
		goto bad;
	p++;
	if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0)
		goto bad;
	if (*p == ':') {
		p++;
		if ((sec = digits(&p, 2)) < 0)
			goto bad;
		if (*p == '.') {
			vigil_time_ns unit = VIGIL_SEC;
			p++;
			if (!isdigit((unsigned char)*p))
				goto bad;
			for (; isdigit((unsigned char)*p); p++)
				if ((unit /= 10) > 0)
					frac += unit * (*p - '0');
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if ((oh = digits(&p, 2)) < 0)
			goto bad;
		if (*p == ':')
			p++;
		if ((om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
			goto bad;
		off = sign * (oh * 60 + om);
	} else {
		WHY("'%s' has no time zone (expected Z or an offset, e.g. "
		    "2025-06-01T02:00:00Z or 2025-06-01 04:00+02:00)",
		    s);
		return -EINVAL;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) ||
	    h > 23 || mi > 59 || sec > 60)
		goto bad;
	secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	       h * 3600 + mi * 60 + sec - off * 60;
	if (secs < 0) {
		WHY("'%s' is before 1970 (expected a time to come, or lately "
		    "past)",
		    s);
		return -EINVAL;
	}
	*out = secs * VIGIL_SEC + frac;
	return 0;
bad:
	WHY("'%s' is not a time (expected RFC 3339 with its zone, e.g. "
	    "2025-06-01T02:00:00Z or 2025-06-01 04:00+02:00, or now)",
	    s);
	return -EINVAL;
}

/* ------------------------------------------------------------ the set */

void vigil_silence_free(struct vigil_silence *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->expr);
	vigil_silence_match_free(&s->m);
	free(s->comment);
	free(s->creator);
	free(s);
}

void vigil_silences_init(struct vigil_silences *set)
{
	memset(set, 0, sizeof(*set));
	set->next_id = 1;
}

void vigil_silences_free(struct vigil_silences *set)
{
	for (size_t i = 0; i < set->n; i++)
		vigil_silence_free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}

void vigil_silences_seed(struct vigil_silences *set, uint64_t next_id)
{
	if (next_id > set->next_id)
		set->next_id = next_id;
}

static char *dup_or_null(const char *s)
{
	return s ? vigil_xstrdup(s) : NULL;
}

/* Into the array by id (at the end, but for a replay out of order). */
static void insert(struct vigil_silences *set, struct vigil_silence *s)
{
	size_t i = set->n;

	vigil_grow((void **)&set->v, &set->cap, set->n + 1, sizeof(*set->v));
	while (i > 0 && set->v[i - 1]->id > s->id)
		i--;
	memmove(set->v + i + 1, set->v + i, (set->n - i) * sizeof(*set->v));
	set->v[i] = s;
	set->n++;
	if (s->id >= set->next_id)
		set->next_id = s->id + 1;
}

static size_t index_of(const struct vigil_silences *set, uint64_t id)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->id == id)
			return i;
	return set->n;
}

static void remove_at(struct vigil_silences *set, size_t i)
{
	vigil_silence_free(set->v[i]);
	memmove(set->v + i, set->v + i + 1,
		(set->n - i - 1) * sizeof(*set->v));
	set->n--;
}

static int check_window(vigil_time_ns start, vigil_time_ns end, char *why,
			size_t whylen)
{
	if (end <= start) {
		WHY("the silence would end before it starts (expected an end "
		    "after the start)");
		return -EINVAL;
	}
	return 0;
}

int vigil_silences_add(struct vigil_silences *set, const char *expr,
		       vigil_time_ns start, vigil_time_ns end,
		       const char *comment, const char *creator,
		       vigil_time_ns now, uint64_t *id, char *why,
		       size_t whylen)
{
	struct vigil_silence *s = vigil_xcalloc(1, sizeof(*s));

	if (!start)
		start = now;
	if (vigil_silence_match_parse(expr, &s->m, why, whylen) < 0 ||
	    check_window(start, end, why, whylen) < 0) {
		vigil_silence_free(s);
		return -EINVAL;
	}
	s->id = set->next_id;
	s->expr = vigil_xstrdup(expr);
	s->start = start;
	s->end = end;
	s->created = now;
	s->comment = dup_or_null(comment);
	s->creator = dup_or_null(creator);
	insert(set, s);
	*id = s->id;
	return 0;
}

int vigil_silences_remove(struct vigil_silences *set, uint64_t id)
{
	size_t i = index_of(set, id);

	if (i == set->n)
		return -ENOENT;
	remove_at(set, i);
	return 0;
}

const struct vigil_silence *vigil_silences_get(const struct vigil_silences *set,
					       uint64_t id)
{
	size_t i = index_of(set, id);

	return i < set->n ? set->v[i] : NULL;
}

const struct vigil_silence *
vigil_silences_find_name(const struct vigil_silences *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->name && strcmp(set->v[i]->name, name) == 0)
			return set->v[i];
	return NULL;
}

size_t vigil_silences_expire(struct vigil_silences *set, vigil_time_ns now)
{
	size_t gone = 0;

	for (size_t i = set->n; i-- > 0;)
		if (set->v[i]->end <= now) {
			remove_at(set, i);
			gone++;
		}
	return gone;
}

const struct vigil_silence *
vigil_silences_match(const struct vigil_silences *set, const char *key,
		     const char *type, const struct vigil_label *labels,
		     size_t n, vigil_time_ns now)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct vigil_silence *s = set->v[i];

		if (s->start <= now && now < s->end &&
		    vigil_silence_match_test(&s->m, key, type, labels, n))
			return s;
	}
	return NULL;
}

vigil_time_ns vigil_silences_next_change(const struct vigil_silences *set,
					 vigil_time_ns now)
{
	vigil_time_ns t = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct vigil_silence *s = set->v[i];
		vigil_time_ns when = s->start > now ? s->start : s->end;

		if (when > now && (!t || when < t))
			t = when;
	}
	return t;
}

/* ------------------------------------------------------------ INI */

int vigil_silence_from_ini(struct vigil_silences *set,
			   const struct vigil_silence_ini *ini,
			   vigil_time_ns now, uint64_t *id,
			   const char **bad_key, char *why, size_t whylen)
{
	const struct vigil_silence *old;
	struct vigil_silence *s;
	struct vigil_silence_match m;
	vigil_time_ns start = now, end = 0;

	*id = 0;
	*bad_key = NULL;
	if (!ini->match) {
		WHY("a silence needs match = (e.g. match = type=disk_full "
		    "instance=sda1)");
		return -EINVAL;
	}
	if (!ini->end == !ini->duration) {
		if (ini->end)
			*bad_key = "duration";
		WHY("a silence needs %s end = TIME or duration = DURATION",
		    ini->end ? "only one of" : "either");
		return -EINVAL;
	}
	if (vigil_silence_match_parse(ini->match, &m, why, whylen) < 0) {
		*bad_key = "match";
		return -EINVAL;
	}
	if (ini->start && vigil_silence_parse_time(ini->start, now, &start,
						   why, whylen) < 0) {
		*bad_key = "start";
		goto bad;
	}
	if (ini->end && vigil_silence_parse_time(ini->end, now, &end, why,
						 whylen) < 0) {
		*bad_key = "end";
		goto bad;
	}
	if (ini->duration) {
		vigil_time_ns d;

		*bad_key = "duration";
		if (vigil_parse_duration(ini->duration, &d, why, whylen) < 0)
			goto bad;
		if (d <= 0) {
			WHY("a silence of no time (expected a duration of more "
			    "than 0, e.g. 2h)");
			goto bad;
		}
		end = start + d;
	}
	/* Without a start, "from now": an end passed is a stale section. */
	if (ini->start && check_window(start, end, why, whylen) < 0) {
		*bad_key = "end";
		goto bad;
	}
	*bad_key = NULL;
	old = ini->name ? vigil_silences_find_name(set, ini->name) : NULL;
	if (end <= now) {
		/* Over already: a stale section, not an error. */
		if (old)
			vigil_silences_remove(set, old->id);
		vigil_silence_match_free(&m);
		return 0;
	}
	s = vigil_xcalloc(1, sizeof(*s));
	s->id = old ? old->id : set->next_id;
	s->name = dup_or_null(ini->name);
	s->expr = vigil_xstrdup(ini->match);
	s->m = m;
	s->start = start;
	s->end = end;
	s->created = now;
	s->comment = dup_or_null(ini->comment);
	s->creator = vigil_xstrdup("config");
	vigil_silences_restore(set, s);
	*id = s->id;
	return 0;
bad:
	vigil_silence_match_free(&m);
	return -EINVAL;
}

/* ------------------------------------------------------------ journal */

void vigil_silence_encode(const struct vigil_silence *s, struct vigil_wire *w)
{
	vigil_wire_put_u32(w, VIGIL_SILENCE_WIRE_VERSION);
	vigil_wire_put_u64(w, s->id);
	vigil_wire_put_str(w, s->name);
	vigil_wire_put_str(w, s->expr);
	vigil_wire_put_i64(w, s->start);
	vigil_wire_put_i64(w, s->end);
	vigil_wire_put_i64(w, s->created);
	vigil_wire_put_str(w, s->comment);
	vigil_wire_put_str(w, s->creator);
}

struct vigil_silence *vigil_silence_decode(struct vigil_wire_reader *r)
{
	struct vigil_silence in = {0}, *s;
	const char *name, *expr, *comment, *creator;
	uint32_t version = vigil_wire_get_u32(r);

	if (r->err || version != VIGIL_SILENCE_WIRE_VERSION) {
		r->err = 1;
		return NULL;
	}
	in.id = vigil_wire_get_u64(r);
	name = vigil_wire_get_str(r);
	expr = vigil_wire_get_str(r);
	in.start = vigil_wire_get_i64(r);
	in.end = vigil_wire_get_i64(r);
	in.created = vigil_wire_get_i64(r);
	comment = vigil_wire_get_str(r);
	creator = vigil_wire_get_str(r);
	if (r->err || in.id == 0 || !expr || in.start < 0 || in.end < 0 ||
	    in.created < 0 ||
	    vigil_silence_match_parse(expr, &in.m, NULL, 0) < 0) {
		r->err = 1;
		return NULL;
	}
	s = vigil_xmalloc(sizeof(*s));
	*s = in;
	s->name = dup_or_null(name);
	s->expr = vigil_xstrdup(expr);
	s->comment = dup_or_null(comment);
	s->creator = dup_or_null(creator);
	return s;
}

void vigil_silences_restore(struct vigil_silences *set,
			    struct vigil_silence *s)
{
	size_t i = index_of(set, s->id);

	if (i < set->n)
		remove_at(set, i);
	insert(set, s);
}
