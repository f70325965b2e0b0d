/*
 * threshold - fire when a value goes above (or below) a warning and/or a
 * critical level.
 *
 * Each configured level behaves like a Schmitt trigger, per series: it
 * turns on when the value goes past the level (strictly: value > level for
 * direction = above, value < level for below) and off only when the value
 * comes back past level - hysteresis (level + hysteresis for below). A level
 * counts once its trigger has stayed on for `for`, measured on reading
 * timestamps. The emitted state of a series is then:
 *
 *   - up to the highest level that counts, as soon as one counts (so a
 *     value that jumps past critical fires critical directly; escalation
 *     from warning to critical also waits `for`);
 *   - down to the highest level whose trigger is still on, at once (clear
 *     and critical -> warning are not delayed: hysteresis guards them);
 *   - otherwise unchanged.
 *
 * A condition is emitted only when the emitted state changes. The first
 * reading of a series emits a clear when nothing is beyond a level, so a
 * restarted daemon resolves incidents left open by its predecessor; while
 * a level waits for `for` on a new series nothing is emitted, so such an
 * incident is neither resolved nor reopened in the meantime.
 *
 * Readings of BAD quality and NaN values are ignored: they change nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

enum th_level {
	TH_UNKNOWN = -1, /* nothing emitted for the series yet */
	TH_OK = 0,
	TH_WARNING = 1,
	TH_CRITICAL = 2,
};
#define TH_LEVELS 3 /* OK, WARNING, CRITICAL: array index is the level */

/* What threshold_step() asks the caller to emit. */
enum th_emit {
	TH_EMIT_NONE = 0,
	TH_EMIT_CLEAR,
	TH_EMIT_WARNING,
	TH_EMIT_CRITICAL,
};

struct cfg {
	int below;                /* direction = below */
	int has[TH_LEVELS];       /* has[TH_WARNING], has[TH_CRITICAL] */
	double limit[TH_LEVELS];  /* the levels as configured */
	double hysteresis;        /* >= 0 */
	vigil_time_ns hold;       /* for = */
};

/* Per-series state, in the series_state slot. Plain data: free() frees it. */
struct series {
	enum th_level level;           /* last emitted */
	int on[TH_LEVELS];             /* trigger of each level */
	vigil_time_ns since[TH_LEVELS]; /* when on[k] last turned on */
};

struct threshold {
	const struct vigil_host *host;
	struct cfg cfg;
	const char *message; /* template, or NULL for the built-in text */
};

static const struct vigil_option threshold_options[] = {
	{"direction", VIGIL_OPT_ENUM, "above", 0, 0, "above|below",
	 "fire when the value goes above or below the levels", 0},
	{"warning", VIGIL_OPT_DOUBLE, NULL, 0, 0, NULL,
	 "warning level (set warning, critical or both)", 0},
	{"critical", VIGIL_OPT_DOUBLE, NULL, 0, 0, NULL,
	 "critical level (set warning, critical or both)", 0},
	/* min 0 with max 0 would read as "no bounds", and a huge max would
	 * show in the core's range message: init refuses negatives instead. */
	{"hysteresis", VIGIL_OPT_DOUBLE, "0", 0, 0, NULL,
	 "a level clears only once the value is this far back past it", 0},
	{"for", VIGIL_OPT_DURATION, "0", 0, 7 * 86400 * 1e9, NULL,
	 "how long a level must hold, by reading timestamps, before it fires",
	 0},
	{"message", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "message template: {metric} {value} {threshold} {severity} {unit} "
	 "{labels}",
	 0},
	VIGIL_OPTIONS_END,
};

static const char *const placeholders[] = {
	"metric", "value", "threshold", "severity", "unit", "labels",
};

/*
 * The transition logic, pure so that tests reach it without a host: feeds
 * one value at time `t` to the series and returns what to emit. `s->level`
 * is updated to the new emitted state; the caller restores it if the
 * emission fails, so the next reading tries again.
 */
static enum th_emit threshold_step(const struct cfg *c, struct series *s,
				   double value, vigil_time_ns t)
{
	/* Compare in "above" terms: negating value and levels for below
	 * turns "< level" into "> -level" and "level + h" into "-level - h". */
	double x = c->below ? -value : value;
	enum th_level highest_on = TH_OK, counts = TH_OK, next;
	int k;

	for (k = TH_WARNING; k <= TH_CRITICAL; k++) {
		double lim;

		if (!c->has[k])
			continue;
		lim = c->below ? -c->limit[k] : c->limit[k];
		if (s->on[k] && x <= lim - c->hysteresis) {
			s->on[k] = 0;
		} else if (!s->on[k] && x > lim) {
			s->on[k] = 1;
			s->since[k] = t;
		}
		if (!s->on[k])
			continue;
		/* A clock stepped back would otherwise leave the level
		 * waiting until the clock catches up. */
		if (t < s->since[k])
			s->since[k] = t;
		highest_on = (enum th_level)k;
		if (t - s->since[k] >= c->hold)
			counts = (enum th_level)k;
	}

	if (s->level == TH_UNKNOWN) {
		/* Waiting for `for` on a new series: neither clear (the value
		 * is not ok) nor fire (not yet). */
		if (counts == TH_OK && highest_on != TH_OK)
			return TH_EMIT_NONE;
		next = counts;
	} else {
		/* Go up only to a level that counts; go down only as far as
		 * the triggers say, which hysteresis already delayed. */
		next = highest_on < s->level ? highest_on : s->level;
		if (counts > next)
			next = counts;
	}
	if (next == s->level)
		return TH_EMIT_NONE;
	s->level = next;
	switch (next) {
	case TH_CRITICAL:
		return TH_EMIT_CRITICAL;
	case TH_WARNING:
		return TH_EMIT_WARNING;
	default:
		return TH_EMIT_CLEAR;
	}
}

/* ---------------------------------------------------------------------------
 * Messages
 * ------------------------------------------------------------------------- */

/* A bounded string builder: appends past the end are cut, never overrun. */
struct text {
	char *buf;
	size_t cap, len;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	size_t room = t->cap - 1 - t->len;

	if (n > room)
		n = room;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	if (s)
		text_add(t, s, strlen(s));
}

/* Numbers for people: 81.2 rather than 81.200000000000003 or 8.12e+01, and
 * 1234567 rather than 1.23457e+06. */
static void text_num(struct text *t, double v)
{
	char num[48];
	double mag = fabs(v);

	if (mag >= 1 && mag < 1e15) {
		size_t n;

		snprintf(num, sizeof(num), "%.3f", v);
		n = strlen(num);
		while (num[n - 1] == '0')
			num[--n] = '\0';
		if (num[n - 1] == '.')
			num[--n] = '\0';
	} else {
		snprintf(num, sizeof(num), "%.3g", v);
	}
	text_str(t, num);
}

static void text_labels(struct text *t, const struct vigil_reading *r)
{
	size_t i;

	for (i = 0; i < r->n_labels; i++) {
		if (i > 0)
			text_str(t, ",");
		text_str(t, r->labels[i].key);
		text_str(t, "=");
		text_str(t, r->labels[i].value);
	}
}

/* The level a message talks about: the one fired, or for a clear the
 * lowest configured, whose clear point was crossed. */
static enum th_level message_level(const struct cfg *c, enum th_level level)
{
	if (level != TH_OK)
		return level;
	return c->has[TH_WARNING] ? TH_WARNING : TH_CRITICAL;
}

static const char *level_name(enum th_level level)
{
	switch (level) {
	case TH_WARNING:
		return "warning";
	case TH_CRITICAL:
		return "critical";
	default:
		return "ok";
	}
}

/* Appends the value of placeholder `name` (`n` bytes, no braces); returns
 * 0, or -1 if it is not a placeholder. */
static int expand(struct text *t, const char *name, size_t n,
		  const struct cfg *c, const struct vigil_reading *r,
		  enum th_level level)
{
#define IS(word) (n == sizeof(word) - 1 && memcmp(name, word, n) == 0)
	if (IS("metric"))
		text_str(t, r->metric);
	else if (IS("value"))
		text_num(t, r->value);
	else if (IS("threshold"))
		text_num(t, c->limit[message_level(c, level)]);
	else if (IS("severity"))
		text_str(t, level_name(level));
	else if (IS("unit"))
		text_str(t, r->unit);
	else if (IS("labels"))
		text_labels(t, r);
	else
		return -1;
	return 0;
#undef IS
}

/* Finds the next "{name}" at or after `p` with name made of [a-z_]; sets
 * *name and *n and returns the '{', or NULL. Anything else in braces is
 * literal text. */
static const char *next_placeholder(const char *p, const char **name,
				    size_t *n)
{
	for (; (p = strchr(p, '{')) != NULL; p++) {
		const char *q = p + 1;

		while ((*q >= 'a' && *q <= 'z') || *q == '_')
			q++;
		if (*q == '}' && q > p + 1) {
			*name = p + 1;
			*n = (size_t)(q - (p + 1));
			return p;
		}
	}
	return NULL;
}

/* "cpu.temp is 81.2 C, above critical threshold 80", or the template. */
static void format_message(char *buf, size_t size, const struct threshold *th,
			   const struct vigil_reading *r, enum th_level level)
{
	const struct cfg *c = &th->cfg;
	struct text t = {buf, size, 0};
	const char *p, *brace, *name;
	size_t n;

	buf[0] = '\0';
	if (th->message) {
		for (p = th->message;
		     (brace = next_placeholder(p, &name, &n)) != NULL;
		     p = name + n + 1) {
			text_add(&t, p, (size_t)(brace - p));
			if (expand(&t, name, n, c, r, level) < 0)
				text_add(&t, brace, n + 2);
		}
		text_str(&t, p);
		return;
	}

	text_str(&t, r->metric);
	if (r->n_labels > 0) {
		text_str(&t, "{");
		text_labels(&t, r);
		text_str(&t, "}");
	}
	text_str(&t, " is ");
	text_num(&t, r->value);
	if (r->unit && r->unit[0]) {
		text_str(&t, " ");
		text_str(&t, r->unit);
	}
	if (level == TH_OK) {
		text_str(&t, ", ok (");
		text_str(&t, level_name(message_level(c, level)));
		text_str(&t, " threshold ");
	} else {
		text_str(&t, c->below ? ", below " : ", above ");
		text_str(&t, level_name(level));
		text_str(&t, " threshold ");
	}
	text_num(&t, c->limit[message_level(c, level)]);
	if (level == TH_OK)
		text_str(&t, ")");
}

/* ---------------------------------------------------------------------------
 * Callbacks
 * ------------------------------------------------------------------------- */

static void threshold_fini(void *state)
{
	free(state);
}

/* Reads an optional level; returns 1 if set, 0 if not, -1 if unusable. */
static int read_level(struct vigil_ctx *ctx, const struct vigil_host *host,
		      const char *key, double *out)
{
	/* NaN as the fallback tells "unset" apart from every real value. */
	double v = host->config_double(ctx, key, NAN);

	if (isnan(v))
		return 0;
	if (isinf(v)) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "%s = %g: expected a finite number", key, v);
		return -1;
	}
	*out = v;
	return 1;
}

static int check_template(struct vigil_ctx *ctx, const struct vigil_host *host,
			  const char *tmpl)
{
	const char *p = tmpl, *name;
	size_t n, i;

	while ((p = next_placeholder(p, &name, &n)) != NULL) {
		for (i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]);
		     i++) {
			if (strlen(placeholders[i]) == n &&
			    memcmp(placeholders[i], name, n) == 0)
				break;
		}
		if (i == sizeof(placeholders) / sizeof(placeholders[0])) {
			host->log(ctx, VIGIL_LOG_ERR,
				  "message: unknown placeholder {%.*s}: "
				  "expected {metric}, {value}, {threshold}, "
				  "{severity}, {unit} or {labels}",
				  (int)n, name);
			return -1;
		}
		p = name + n + 1;
	}
	return 0;
}

static int threshold_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			  void **state)
{
	struct threshold *th;
	struct cfg *c;
	const char *dir;
	int w, k;

	th = calloc(1, sizeof(*th));
	if (!th)
		return -ENOMEM;
	th->host = host;
	c = &th->cfg;

	dir = host->config_string(ctx, "direction");
	if (!dir || strcmp(dir, "above") == 0) {
		c->below = 0;
	} else if (strcmp(dir, "below") == 0) {
		c->below = 1;
	} else {
		host->log(ctx, VIGIL_LOG_ERR,
			  "direction = \"%s\": expected above or below", dir);
		goto fatal;
	}

	w = read_level(ctx, host, "warning", &c->limit[TH_WARNING]);
	k = read_level(ctx, host, "critical", &c->limit[TH_CRITICAL]);
	if (w < 0 || k < 0)
		goto fatal;
	c->has[TH_WARNING] = w;
	c->has[TH_CRITICAL] = k;
	if (!w && !k) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "neither warning nor critical is set: expected at "
			  "least one level, e.g. critical = 90");
		goto fatal;
	}
	if (w && k &&
	    (c->below ? c->limit[TH_WARNING] < c->limit[TH_CRITICAL]
		      : c->limit[TH_WARNING] > c->limit[TH_CRITICAL])) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "warning = %g is %s critical = %g: with direction = "
			  "%s, expected warning %s critical",
			  c->limit[TH_WARNING], c->below ? "below" : "above",
			  c->limit[TH_CRITICAL], c->below ? "below" : "above",
			  c->below ? ">=" : "<=");
		goto fatal;
	}

	c->hysteresis = host->config_double(ctx, "hysteresis", 0);
	if (!(c->hysteresis >= 0) || isinf(c->hysteresis)) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "hysteresis = %g: expected a finite number >= 0",
			  c->hysteresis);
		goto fatal;
	}
	c->hold = host->config_duration(ctx, "for", 0);
	if (c->hold < 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "for = %lld ns: expected a duration >= 0",
			  (long long)c->hold);
		goto fatal;
	}

	th->message = host->config_string(ctx, "message");
	if (th->message && check_template(ctx, host, th->message) < 0)
		goto fatal;

	*state = th;
	return 0;

fatal:
	free(th);
	return VIGIL_EFATAL;
}

static int threshold_eval(void *state, struct vigil_ctx *ctx,
			  const struct vigil_reading *r, void **series_state)
{
	struct threshold *th = state;
	struct series *s = *series_state;
	struct vigil_condition cond;
	enum th_level before;
	enum th_emit what;
	char msg[512];
	int rc;

	if (r->quality == VIGIL_QUALITY_BAD || isnan(r->value))
		return 0;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->level = TH_UNKNOWN;
		*series_state = s;
	}

	before = s->level;
	what = threshold_step(&th->cfg, s, r->value, r->time);
	if (what == TH_EMIT_NONE)
		return 0;

	format_message(msg, sizeof(msg), th, r, s->level);
	memset(&cond, 0, sizeof(cond));
	cond.firing = what != TH_EMIT_CLEAR;
	switch (what) {
	case TH_EMIT_CRITICAL:
		cond.severity = VIGIL_SEV_CRITICAL;
		break;
	case TH_EMIT_WARNING:
		cond.severity = VIGIL_SEV_WARNING;
		break;
	default:
		/* A clear carries the severity it ends, if there was one. */
		cond.severity = before == TH_CRITICAL  ? VIGIL_SEV_CRITICAL
				: before == TH_WARNING ? VIGIL_SEV_WARNING
						       : VIGIL_SEV_INFO;
		break;
	}
	cond.message = msg;
	cond.value = r->value;
	cond.reading = r;

	rc = th->host->emit_condition(ctx, &cond);
	if (rc < 0) {
		/* Not emitted: the next reading sees the old state and tries
		 * again. */
		s->level = before;
		return rc;
	}
	return 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_RULE, "threshold", "1.0.0"),
	.description = "warning/critical levels with hysteresis and a hold "
		       "time",
	.options = threshold_options,
	.init = threshold_init,
	.fini = threshold_fini,
	.eval = threshold_eval,
	/* series_free NULL: struct series is plain data, free() will do. */
};
