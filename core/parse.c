/*
 * parse.c - pure parsers for configuration values and selectors.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"
#include "util.h"

#define WHY(...) (why ? (void)snprintf(why, whylen, __VA_ARGS__) : (void)0)

static const struct {
	const char *suffix;
	vigil_time_ns mult;
} duration_units[] = {
	{"ns", 1},
	{"us", 1000},
	{"ms", VIGIL_MSEC},
	{"s", VIGIL_SEC},
	{"m", 60 * VIGIL_SEC},
	{"h", 3600 * VIGIL_SEC},
	{"d", 86400 * VIGIL_SEC},
};

int vigil_parse_duration(const char *s, vigil_time_ns *out, char *why,
			 size_t whylen)
{
	const char *p = s;
	long double total = 0;
	int terms = 0;

	while (isspace((unsigned char)*p))
		p++;
	if (strcmp(p, "0") == 0) {
		*out = 0;
		return 0;
	}
	while (*p) {
		size_t nlen = strspn(p, "0123456789."), ulen = 0;
		vigil_time_ns mult = 0;
		long double v;
		char num[64], *end;

		/* Plain decimals only: strtold alone would take "0x10" and
		 * "1e3" too. */
		if (nlen == 0 || nlen >= sizeof(num))
			goto bad;
		memcpy(num, p, nlen);
		num[nlen] = '\0';
		errno = 0;
		v = strtold(num, &end);
		if (*end || errno)
			goto bad;
		p += nlen;
		for (size_t i = 0; i < VIGIL_ARRAY_SIZE(duration_units); i++) {
			size_t l = strlen(duration_units[i].suffix);
			if (strncmp(p, duration_units[i].suffix, l) == 0 &&
			    !isalpha((unsigned char)p[l]) && l > ulen) {
				ulen = l;
				mult = duration_units[i].mult;
			}
		}
		if (!mult) {
			if (*p == '\0' && terms == 0)
				WHY("a duration needs a unit (did you mean '%ss'? "
				    "units: ms, s, m, h, d)", s);
			else
				WHY("not a duration (expected a number with a "
				    "unit: 250ms, 10s, 5m, 1h, 1h30m)");
			return -EINVAL;
		}
		total += v * mult;
		p += ulen;
		terms++;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (terms == 0)
		goto bad;
	if (total > (long double)INT64_MAX) {
		WHY("duration too long");
		return -EINVAL;
	}
	*out = (vigil_time_ns)total;
	return 0;
bad:
	WHY("not a duration (expected a number with a unit: 250ms, 10s, 5m, "
	    "1h, 1h30m)");
	return -EINVAL;
}

void vigil_format_duration(vigil_time_ns ns, char *buf, size_t len)
{
	static const struct {
		const char *u;
		vigil_time_ns m;
	} parts[] = {{"d", 86400 * VIGIL_SEC}, {"h", 3600 * VIGIL_SEC},
		     {"m", 60 * VIGIL_SEC},   {"s", VIGIL_SEC},
		     {"ms", VIGIL_MSEC},      {"us", 1000},
		     {"ns", 1}};
	size_t off = 0;

	if (len == 0)
		return;
	if (ns <= 0) {
		snprintf(buf, len, "0");
		return;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(parts) && ns > 0; i++) {
		if (ns >= parts[i].m) {
			int n;

			if (off >= len)
				break; /* cut short; buf is terminated */
			n = snprintf(buf + off, len - off, "%" PRId64 "%s",
				     ns / parts[i].m, parts[i].u);
			if (n > 0)
				off += (size_t)n;
			ns %= parts[i].m;
		}
	}
}

int vigil_parse_size(const char *s, uint64_t *out, char *why, size_t whylen)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	if (!isdigit((unsigned char)*s))
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE) {
		WHY("size too large");
		return -EINVAL;
	}
	if (errno)
		goto bad;
	switch (*end) {
	case '\0': break;
	case 'B': break; /* "512B": taken below */
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	default: goto bad;
	}
	if (mult > 1 && (strcmp(end, "B") == 0 || strcmp(end, "iB") == 0))
		end += strlen(end);
	if (strcmp(end, "B") == 0)
		end++;
	if (*end)
		goto bad;
	if (v > UINT64_MAX / mult) {
		WHY("size too large");
		return -EINVAL;
	}
	*out = v * mult;
	return 0;
bad:
	WHY("not a size (expected bytes or a number with k, M or G: 512, 64k, "
	    "10M)");
	return -EINVAL;
}

int vigil_parse_bool(const char *s, int *out, char *why, size_t whylen)
{
	static const char *yes[] = {"yes", "true", "on", "1"};
	static const char *no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	WHY("not a boolean (expected yes or no)");
	return -EINVAL;
}

int vigil_parse_int(const char *s, int64_t *out, char *why, size_t whylen)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end != s && !*end && errno == ERANGE) {
		WHY("too large a number");
		return -EINVAL;
	}
	if (end == s || *end || errno) {
		WHY("not a whole number");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int vigil_parse_double(const char *s, double *out, char *why, size_t whylen)
{
	char *end;
	double v;

	/* strtod also reads hexadecimal (0x10, 0x1p3), which nobody means
	 * in a threshold. */
	if (strpbrk(s, "xX")) {
		WHY("not a number (hexadecimal is not taken: write it in "
		    "decimal)");
		return -EINVAL;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end != s && !*end && errno == ERANGE && !isfinite(v)) {
		WHY("too large a number");
		return -EINVAL;
	}
	if (end == s || *end || errno || !isfinite(v)) {
		WHY("not a number");
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int vigil_parse_severity(const char *s, enum vigil_severity *out)
{
	static const enum vigil_severity all[] = {
		VIGIL_SEV_INFO, VIGIL_SEV_WARNING, VIGIL_SEV_CRITICAL};

	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(all); i++) {
		if (strcasecmp(s, vigil_severity_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* Index of `s` in the '|'-separated `choices`, or -1. */
static int choice_index(const char *choices, const char *s)
{
	size_t n = strlen(s);
	int idx = 0;

	for (const char *p = choices; p && *p; idx++) {
		const char *bar = strchr(p, '|');
		size_t l = bar ? (size_t)(bar - p) : strlen(p);

		if (l == n && strncmp(p, s, n) == 0)
			return idx;
		p = bar ? bar + 1 : NULL;
	}
	return -1;
}

static int has_bounds(const struct vigil_option *opt)
{
	return opt->min != 0 || opt->max != 0;
}

/* max 0 with a nonzero min: a lower bound only. */
static int has_max(const struct vigil_option *opt)
{
	return opt->max != 0;
}

void vigil_option_describe(const struct vigil_option *opt, char *buf,
			   size_t len)
{
	char lo[32], hi[32];

	switch (opt->type) {
	case VIGIL_OPT_STRING:
		snprintf(buf, len, "a string");
		return;
	case VIGIL_OPT_BOOL:
		snprintf(buf, len, "yes or no");
		return;
	case VIGIL_OPT_ENUM: {
		struct vigil_buf b = {0};
		const char *p = opt->choices ? opt->choices : "";
		vigil_buf_puts(&b, "one of ");
		for (; *p; p++)
			vigil_buf_puts(&b, *p == '|' ? ", " : (char[]){*p, 0});
		snprintf(buf, len, "%s", b.data);
		vigil_buf_free(&b);
		return;
	}
	case VIGIL_OPT_DURATION:
		vigil_format_duration((vigil_time_ns)opt->min, lo, sizeof(lo));
		vigil_format_duration((vigil_time_ns)opt->max, hi, sizeof(hi));
		if (has_bounds(opt) && !has_max(opt))
			snprintf(buf, len, "a duration of at least %s", lo);
		else if (has_bounds(opt))
			snprintf(buf, len, "a duration from %s to %s", lo, hi);
		else
			snprintf(buf, len, "a duration (250ms, 10s, 5m, 1h)");
		return;
	case VIGIL_OPT_SIZE:
		if (has_bounds(opt) && !has_max(opt))
			snprintf(buf, len, "a size of at least %.0f bytes",
				 opt->min);
		else if (has_bounds(opt))
			snprintf(buf, len, "a size from %.0f to %.0f bytes",
				 opt->min, opt->max);
		else
			snprintf(buf, len, "a size (512, 64k, 10M)");
		return;
	case VIGIL_OPT_INT:
		if (has_bounds(opt) && !has_max(opt))
			snprintf(buf, len, "a whole number of at least %.0f",
				 opt->min);
		else if (has_bounds(opt))
			snprintf(buf, len, "a whole number from %.0f to %.0f",
				 opt->min, opt->max);
		else
			snprintf(buf, len, "a whole number");
		return;
	case VIGIL_OPT_DOUBLE:
		if (has_bounds(opt) && !has_max(opt))
			snprintf(buf, len, "a number of at least %g", opt->min);
		else if (has_bounds(opt))
			snprintf(buf, len, "a number from %g to %g", opt->min,
				 opt->max);
		else
			snprintf(buf, len, "a number");
		return;
	}
	snprintf(buf, len, "a value");
}

int vigil_option_parse(const struct vigil_option *opt, const char *value,
		       union vigil_optval *out, char *why, size_t whylen)
{
	char desc[160];
	double num = 0;
	int rc = 0;

	vigil_option_describe(opt, desc, sizeof(desc));
	switch (opt->type) {
	case VIGIL_OPT_STRING:
		out->i = 0;
		return 0;
	case VIGIL_OPT_BOOL: {
		int b;
		rc = vigil_parse_bool(value, &b, why, whylen);
		out->i = b;
		return rc;
	}
	case VIGIL_OPT_ENUM: {
		int idx = choice_index(opt->choices, value);
		if (idx < 0) {
			WHY("not allowed (expected %s)", desc);
			return -EINVAL;
		}
		out->i = idx;
		return 0;
	}
	case VIGIL_OPT_DURATION:
		rc = vigil_parse_duration(value, &out->i, why, whylen);
		num = (double)out->i;
		break;
	case VIGIL_OPT_SIZE:
		rc = vigil_parse_size(value, &out->u, why, whylen);
		num = (double)out->u;
		break;
	case VIGIL_OPT_INT:
		rc = vigil_parse_int(value, &out->i, why, whylen);
		num = (double)out->i;
		break;
	case VIGIL_OPT_DOUBLE:
		rc = vigil_parse_double(value, &out->d, why, whylen);
		num = out->d;
		break;
	default:
		WHY("option has an unknown type %d in its plugin", opt->type);
		return -EINVAL;
	}
	if (rc < 0) {
		/* Append the allowed range to the parser's own complaint. */
		if (why && has_bounds(opt)) {
			size_t l = strlen(why);
			snprintf(why + l, whylen - l, "; allowed: %s", desc);
		}
		return rc;
	}
	if (has_bounds(opt) &&
	    (num < opt->min || (has_max(opt) && num > opt->max))) {
		WHY("out of range (expected %s)", desc);
		return -EINVAL;
	}
	return 0;
}

int vigil_valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return 0;
	return 1;
}

/* A character of a metric name. */
static int metric_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("_.:-", c));
}

int vigil_valid_metric(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!metric_char(*s))
			return 0;
	return 1;
}

int vigil_reading_names_bad(const char *metric, const struct vigil_label *l,
			    size_t n, size_t *label)
{
	if (!vigil_valid_metric(metric))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!l || !l[i].key || !vigil_valid_name(l[i].key)) {
			*label = i;
			return 1;
		}
		/* Twice the same key: {"a":"1","a":"2"} in every JSON sink.
		 * (Once per new series, and few labels: quadratic is fine.) */
		for (size_t j = 0; j < i; j++)
			if (strcmp(l[j].key, l[i].key) == 0) {
				*label = i;
				return 1;
			}
	}
	return 0;
}

int vigil_condition_bad(const struct vigil_condition *c, char *why,
			size_t size)
{
	const struct vigil_label *l = c->labels;
	size_t n = c->n_labels;

	if ((unsigned)c->severity > VIGIL_SEV_CRITICAL) {
		snprintf(why, size, "severity %d is not info, warning or "
			 "critical", (int)c->severity);
		return -EINVAL;
	}
	if (c->key && strlen(c->key) > VIGIL_COND_KEY_MAX) {
		snprintf(why, size, "a key of %zu bytes (at most %d)",
			 strlen(c->key), VIGIL_COND_KEY_MAX);
		return -EINVAL;
	}
	if (c->type && (strlen(c->type) > VIGIL_COND_TYPE_MAX ||
			!vigil_valid_metric(c->type))) {
		snprintf(why, size, "type is not letters, digits and '_.:-' "
			 "(at most %d)", VIGIL_COND_TYPE_MAX);
		return -EINVAL;
	}
	if (!l && !n && c->reading) {
		l = c->reading->labels;
		n = c->reading->n_labels;
	}
	if (n > VIGIL_COND_LABELS_MAX || (n && !l)) {
		snprintf(why, size, "%zu labels%s (at most %d)", n,
			 l ? "" : " and no array", VIGIL_COND_LABELS_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!l[i].key || !vigil_valid_name(l[i].key)) {
			snprintf(why, size, "label %zu has no valid name", i);
			return -EINVAL;
		}
		if (l[i].value && strlen(l[i].value) > VIGIL_COND_VALUE_MAX) {
			snprintf(why, size, "label %s has a value of %zu bytes "
				 "(at most %d)", l[i].key, strlen(l[i].value),
				 VIGIL_COND_VALUE_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

size_t vigil_condition_message_len(const char *message)
{
	size_t n = strlen(message);

	if (n <= VIGIL_COND_MESSAGE_MAX)
		return n;
	n = VIGIL_COND_MESSAGE_MAX;
	while (n && ((unsigned char)message[n] & 0xc0) == 0x80)
		n--; /* not inside a UTF-8 sequence */
	return n;
}

static void term_free(struct vigil_selector_term *t)
{
	free(t->metric);
	for (size_t i = 0; i < t->n_labels; i++) {
		free((char *)t->labels[i].key);
		free((char *)t->labels[i].value);
	}
	free(t->labels);
}

void vigil_selector_free(struct vigil_selector *sel)
{
	for (size_t i = 0; i < sel->n_terms; i++)
		term_free(&sel->terms[i]);
	free(sel->terms);
	sel->terms = NULL;
	sel->n_terms = 0;
}

static char *trimmed_dup(const char *p, size_t n)
{
	while (n && isspace((unsigned char)*p))
		p++, n--;
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return strndup(p, n);
}

/* Parses one term at *pp, advancing past it. */
/* The label just added to t: a name a reading's label can have, not
 * twice, and no '=' in its value (a ',' forgotten between two labels). */
static int label_bad(const struct vigil_selector_term *t, char *why,
		     size_t whylen)
{
	const struct vigil_label *l = &t->labels[t->n_labels - 1];

	if (!*l->key) {
		WHY("empty label name in selector");
		return -EINVAL;
	}
	if (!vigil_valid_name(l->key)) {
		WHY("label name '%s' cannot match: label names are letters, "
		    "digits, '_' and '-'", l->key);
		return -EINVAL;
	}
	if (strchr(l->value, '=')) {
		WHY("label %s = '%s': '=' inside a value (a ',' missing "
		    "between two labels?)", l->key, l->value);
		return -EINVAL;
	}
	for (size_t i = 0; i + 1 < t->n_labels; i++)
		if (strcmp(t->labels[i].key, l->key) == 0) {
			WHY("label %s twice in one selector", l->key);
			return -EINVAL;
		}
	return 0;
}

static int term_parse(const char **pp, struct vigil_selector_term *t,
		      char *why, size_t whylen)
{
	const char *p = *pp, *start = p;
	size_t cap = 0;

	memset(t, 0, sizeof(*t));
	while (*p && !isspace((unsigned char)*p) && *p != '{')
		p++;
	t->metric = strndup(start, (size_t)(p - start));
	if (p == start) {
		/* "net.* {iface=eth0}" would otherwise be two terms, the
		 * first matching every label value. */
		WHY("a metric name or glob must come right before '{' (e.g. "
		    "disk.used_percent{mount=/}, without a space)");
		return -EINVAL;
	}
	if (*p == '{') {
		p++;
		for (;;) {
			const char *eq, *end;
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '}') {
				p++;
				break;
			}
			end = p + strcspn(p, ",}");
			eq = memchr(p, '=', (size_t)(end - p));
			if (!*end || !eq) {
				WHY("not a selector (expected metric or "
				    "metric{label=value,...}, e.g. "
				    "disk.used_percent{mount=/})");
				return -EINVAL;
			}
			vigil_grow((void **)&t->labels, &cap, t->n_labels + 1,
				   sizeof(*t->labels));
			t->labels[t->n_labels].key =
				trimmed_dup(p, (size_t)(eq - p));
			t->labels[t->n_labels].value =
				trimmed_dup(eq + 1, (size_t)(end - eq - 1));
			t->n_labels++;
			if (label_bad(t, why, whylen) < 0)
				return -EINVAL;
			p = *end == ',' ? end + 1 : end;
		}
	}
	if (*p && !isspace((unsigned char)*p)) {
		WHY("unexpected '%c' after '}' in selector", *p);
		return -EINVAL;
	}
	*pp = p;
	return 0;
}

int vigil_selector_parse(const char *s, struct vigil_selector *sel, char *why,
			 size_t whylen)
{
	const char *p = s;
	size_t cap = 0;

	memset(sel, 0, sizeof(*sel));
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		vigil_grow((void **)&sel->terms, &cap, sel->n_terms + 1,
			   sizeof(*sel->terms));
		if (term_parse(&p, &sel->terms[sel->n_terms], why, whylen) < 0) {
			sel->n_terms++;
			vigil_selector_free(sel);
			return -EINVAL;
		}
		sel->n_terms++;
	}
	if (sel->n_terms == 0) {
		WHY("empty selector (expected a metric name or glob, e.g. "
		    "cpu.usage_percent or disk.*)");
		return -EINVAL;
	}
	return 0;
}

int vigil_selector_check_metrics(const struct vigil_selector *sel, char *why,
				 size_t whylen)
{
	for (size_t i = 0; i < sel->n_terms; i++) {
		const char *m = sel->terms[i].metric;

		for (const char *p = m; *p; p++) {
			if (metric_char(*p) || strchr("*?[]!^", *p))
				continue;
			WHY("'%s' cannot match a metric: metric names are "
			    "letters, digits and '_.:-' (globs add * ? [...])",
			    m);
			return -EINVAL;
		}
	}
	return 0;
}

int vigil_selector_match_incident(const struct vigil_selector *sel,
				  const char *key, const char *type,
				  const struct vigil_label *labels,
				  size_t n_labels)
{
	return vigil_selector_match(sel, key, labels, n_labels) ||
	       vigil_selector_match(sel, type, labels, n_labels);
}

int vigil_selector_match(const struct vigil_selector *sel, const char *metric,
			 const struct vigil_label *labels, size_t n_labels)
{
	for (size_t i = 0; i < sel->n_terms; i++) {
		const struct vigil_selector_term *t = &sel->terms[i];
		size_t j;

		if (fnmatch(t->metric, metric, 0) != 0)
			continue;
		for (j = 0; j < t->n_labels; j++) {
			const char *v = vigil_labels_get(labels, n_labels,
							 t->labels[j].key);
			if (!v || fnmatch(t->labels[j].value, v, 0) != 0)
				break;
		}
		if (j == t->n_labels)
			return 1;
	}
	return 0;
}
