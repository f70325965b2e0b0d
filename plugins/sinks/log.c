/*
 * log.c - the "log" sink: incident events and readings as daemon log lines.
 *
 * Every incident event becomes one line through host->log, at a level
 * chosen by the incident's severity (an action's line by its outcome: notice
 * when it worked, warning when not), so that an operator who already
 * watches the daemon's log (journald, syslog, stderr) sees alerts without
 * configuring anything else:
 *
 *     incident #12 opened [critical] cpu_hot{zone=thermal_zone0}: ...
 *     incident #12 escalated [warning -> critical] cpu_hot{...}: ...
 *     incident #12 action renice: ok, exit 0 in 12 ms: reniced 1234
 *     incident #12 resolved [critical] cpu_hot{...}: ... after 5m12s
 *
 * Readings become one debug line each, and cost nothing unless debug
 * logging is on:
 *
 *     thermal.temperature{zone=thermal_zone0,type=cpu-thermal} = 48.3 C
 *
 * Which events and readings arrive here is the core's decision (severity
 * filter, metrics subscription); this sink writes whatever it is given.
 *
 * Text from outside the daemon (messages, label values, action output) is
 * escaped so that one event stays one log line: a newline in a message must
 * not let it forge a second, unrelated log line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

/* Longest excerpt of an action's output shown on its line: the log is for
 * a glance, the full excerpt is on the incident. */
#define LOG_OUTPUT_MAX 200

/* A line being built. On allocation failure `failed` sticks until reset,
 * so callers check once at the end instead of after every append. */
struct log_line {
	char *data;
	size_t len;
	size_t cap;
	int failed;
};

struct log_sink {
	const struct vigil_host *host;
	struct log_line line; /* reused for every line: no malloc per reading */
};

static void line_reset(struct log_line *l)
{
	l->len = 0;
	l->failed = 0;
	if (l->data != NULL)
		l->data[0] = '\0';
}

static int line_reserve(struct log_line *l, size_t more)
{
	size_t want, cap;
	char *p;

	if (l->failed)
		return -1;
	if (more < l->cap - l->len)
		return 0;
	want = l->len + more + 1;
	cap = l->cap != 0 ? l->cap : 128;
	while (cap < want)
		cap *= 2;
	p = realloc(l->data, cap);
	if (p == NULL) {
		l->failed = 1;
		return -1;
	}
	l->data = p;
	l->cap = cap;
	return 0;
}

static void line_putn(struct log_line *l, const char *s, size_t n)
{
	if (line_reserve(l, n) < 0)
		return;
	memcpy(l->data + l->len, s, n);
	l->len += n;
	l->data[l->len] = '\0';
}

static void line_puts(struct log_line *l, const char *s)
{
	line_putn(l, s, strlen(s));
}

static VIGIL_PRINTF(2, 3) void line_printf(struct log_line *l,
					   const char *fmt, ...)
{
	va_list ap;
	int n;

	if (line_reserve(l, 64) < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->data + l->len, l->cap - l->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		l->failed = 1;
		return;
	}
	if ((size_t)n >= l->cap - l->len) {
		if (line_reserve(l, (size_t)n) < 0)
			return;
		va_start(ap, fmt);
		vsnprintf(l->data + l->len, l->cap - l->len, fmt, ap);
		va_end(ap);
	}
	l->len += (size_t)n;
}

/*
 * Appends at most `max` bytes of `s` (no limit when max is 0), with control
 * characters escaped so the text cannot break the line. Stops at the first
 * newline when `first_line` is set. A cut never splits a UTF-8 sequence and
 * is marked with "...".
 */
static void line_put_text(struct log_line *l, const char *s, size_t max,
			  int first_line)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, end;

	if (s == NULL)
		return;
	while (p[n] != '\0' && !(first_line && (p[n] == '\n' || p[n] == '\r')))
		n++;
	end = n;
	if (max != 0 && end > max) {
		end = max;
		while (end > 0 && (p[end] & 0xc0) == 0x80)
			end--;
	}
	for (size_t i = 0; i < end; i++) {
		unsigned char c = p[i];

		if (c == '\n')
			line_puts(l, "\\n");
		else if (c == '\r')
			line_puts(l, "\\r");
		else if (c == '\t')
			line_puts(l, "\\t");
		else if (c < 0x20 || c == 0x7f)
			line_printf(l, "\\x%02x", c);
		else
			line_putn(l, (const char *)&p[i], 1);
	}
	if (end < n)
		line_puts(l, "...");
}

/*
 * Shortest of %.15g: enough digits for any sensor, and 0.1 + 0.2 still
 * reads "0.3". Negative zero (a rate that went 0 - 0) prints as "0", which
 * is what a reader expects.
 */
static void line_put_value(struct log_line *l, double v)
{
	if (v == 0.0)
		v = 0.0;
	line_printf(l, "%.15g", v);
}

/* "{zone=thermal_zone0,type=cpu-thermal}", or nothing without labels. */
static void line_put_labels(struct log_line *l, const struct vigil_label *lb,
			    size_t n)
{
	if (lb == NULL || n == 0)
		return;
	line_putn(l, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			line_putn(l, ",", 1);
		line_put_text(l, lb[i].key != NULL ? lb[i].key : "", 0, 0);
		line_putn(l, "=", 1);
		line_put_text(l, lb[i].value != NULL ? lb[i].value : "", 0, 0);
	}
	line_putn(l, "}", 1);
}

/* "45s", "5m12s", "2h03m": how long an incident was open, at a glance. */
static void line_put_age(struct log_line *l, vigil_time_ns ns)
{
	int64_t s = ns / VIGIL_SEC;

	if (s < 60)
		line_printf(l, "%" PRId64 "s", s);
	else if (s < 3600)
		line_printf(l, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		line_printf(l, "%" PRId64 "h%02" PRId64 "m", s / 3600,
			    s / 60 % 60);
}

static int level_for(const struct vigil_event *ev)
{
	if (ev->type == VIGIL_EVENT_RESOLVED)
		return VIGIL_LOG_NOTICE;
	/* A remediation is graded by how it went, not by the incident. */
	if (ev->type == VIGIL_EVENT_ACTION && ev->n_actions > 0)
		return ev->actions[ev->n_actions - 1].outcome == VIGIL_ACTION_OK ?
			       VIGIL_LOG_NOTICE :
			       VIGIL_LOG_WARNING;
	switch (ev->severity) {
	case VIGIL_SEV_CRITICAL:
		return VIGIL_LOG_ERR;
	case VIGIL_SEV_WARNING:
		return VIGIL_LOG_WARNING;
	case VIGIL_SEV_INFO:
		break;
	}
	return VIGIL_LOG_NOTICE;
}

/* "renice: ok, exit 0 in 12 ms: first line of output" */
static void line_put_action(struct log_line *l,
			    const struct vigil_action_record *a)
{
	line_put_text(l, a->action != NULL ? a->action : "?", 0, 0);
	line_printf(l, ": %s", vigil_outcome_name(a->outcome));
	/* -1 means there is no exit status: the action never ran. */
	if (a->exit_status >= 0)
		line_printf(l, ", exit %d", a->exit_status);
	line_printf(l, " in %" PRId64 " ms", a->duration / VIGIL_MSEC);
	if (a->output != NULL && a->output[0] != '\0' &&
	    a->output[0] != '\n' && a->output[0] != '\r') {
		line_puts(l, ": ");
		line_put_text(l, a->output, LOG_OUTPUT_MAX, 1);
	}
}

static void build_event(struct log_line *l, const struct vigil_event *ev)
{
	/* The periodic health report is about the device, not an
	 * incident: "health: degraded: disk / 93% used". */
	if (ev->type == VIGIL_EVENT_HEALTH) {
		line_puts(l, "health: ");
		line_put_text(l, ev->message != NULL ? ev->message : "?", 0, 0);
		return;
	}
	line_printf(l, "incident #%" PRIu64 " %s ", ev->incident_id,
		    vigil_event_type_name(ev->type));

	if (ev->type == VIGIL_EVENT_ACTION) {
		/* The newest attempt is the one this event announces. */
		if (ev->actions != NULL && ev->n_actions > 0)
			line_put_action(l, &ev->actions[ev->n_actions - 1]);
		else
			line_puts(l, "(no attempt recorded)");
		return;
	}

	if (ev->type == VIGIL_EVENT_ESCALATED ||
	    ev->type == VIGIL_EVENT_DEESCALATED)
		line_printf(l, "[%s -> %s] ",
			    vigil_severity_name(ev->previous_severity),
			    vigil_severity_name(ev->severity));
	else
		line_printf(l, "[%s] ", vigil_severity_name(ev->severity));

	line_put_text(l, ev->key != NULL ? ev->key : "?", 0, 0);
	if (ev->message != NULL && ev->message[0] != '\0') {
		line_puts(l, ": ");
		line_put_text(l, ev->message, 0, 0);
	}
	line_puts(l, " (value ");
	line_put_value(l, ev->value);
	line_putn(l, ")", 1);
	if (ev->type == VIGIL_EVENT_ACKNOWLEDGED && ev->comment != NULL &&
	    ev->comment[0] != '\0') {
		line_puts(l, ": ");
		line_put_text(l, ev->comment, LOG_OUTPUT_MAX, 1);
	}

	if (ev->type == VIGIL_EVENT_RESOLVED && ev->created != 0 &&
	    ev->resolved >= ev->created) {
		line_puts(l, " after ");
		line_put_age(l, ev->resolved - ev->created);
	}
}

static int log_deliver(void *state, struct vigil_ctx *ctx,
		       const struct vigil_event *ev)
{
	struct log_sink *ls = state;
	int level = level_for(ev);

	line_reset(&ls->line);
	build_event(&ls->line, ev);
	if (ls->line.failed) {
		/* Still say that something happened, without the details. */
		ls->host->log(ctx, level, "incident #%" PRIu64 " %s "
			      "(details lost: out of memory)",
			      ev->incident_id, vigil_event_type_name(ev->type));
		return -ENOMEM;
	}
	ls->host->log(ctx, level, "%s", ls->line.data);
	return 0;
}

static const char *quality_suffix(enum vigil_quality q)
{
	switch (q) {
	case VIGIL_QUALITY_GOOD:
		return "";
	case VIGIL_QUALITY_UNCERTAIN:
		return " (uncertain)";
	case VIGIL_QUALITY_BAD:
		return " (bad)";
	}
	return " (unknown quality)";
}

static int log_write(void *state, struct vigil_ctx *ctx,
		     const struct vigil_reading *r, size_t n)
{
	struct log_sink *ls = state;
	int err = 0;

	/* Once per batch: with debug off a batch costs one call. */
	if (!ls->host->log_enabled(ctx, VIGIL_LOG_DEBUG))
		return 0;

	for (size_t i = 0; i < n; i++) {
		struct log_line *l = &ls->line;

		line_reset(l);
		line_puts(l, r[i].metric != NULL ? r[i].metric : "?");
		line_put_labels(l, r[i].labels, r[i].n_labels);
		line_puts(l, " = ");
		line_put_value(l, r[i].value);
		if (r[i].unit != NULL && r[i].unit[0] != '\0') {
			line_putn(l, " ", 1);
			line_put_text(l, r[i].unit, 0, 0);
		}
		line_puts(l, quality_suffix(r[i].quality));
		if (l->failed) {
			err = -ENOMEM;
			continue;
		}
		ls->host->log(ctx, VIGIL_LOG_DEBUG, "%s", l->data);
	}
	return err;
}

static int log_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		    void **state)
{
	struct log_sink *ls = calloc(1, sizeof(*ls));

	if (ls == NULL)
		return -ENOMEM;
	ls->host = host;
	*state = ls;
	return 0;
}

static void log_fini(void *state)
{
	struct log_sink *ls = state;

	if (ls == NULL)
		return;
	free(ls->line.data);
	free(ls);
}

static const struct vigil_option log_options[] = {
	VIGIL_OPTIONS_END,
};

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "log", "1.0.0"),
	.description = "Incident events and readings as daemon log lines",
	.options = log_options,
	.init = log_init,
	.fini = log_fini,
	.deliver = log_deliver,
	.write = log_write,
};
