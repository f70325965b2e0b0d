/*
 * parse.h - pure parsers for configuration values and selectors.
 *
 * Each parser returns 0 and stores the value, or -EINVAL and writes into
 * `why` (of `whylen` bytes) what was expected, phrased to follow
 * "key = 'value': ".
 */
#ifndef VIGIL_PARSE_H
#define VIGIL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <vigil/plugin.h>

int vigil_parse_duration(const char *s, vigil_time_ns *out, char *why,
			 size_t whylen);
int vigil_parse_size(const char *s, uint64_t *out, char *why, size_t whylen);
int vigil_parse_bool(const char *s, int *out, char *why, size_t whylen);
int vigil_parse_int(const char *s, int64_t *out, char *why, size_t whylen);
int vigil_parse_double(const char *s, double *out, char *why, size_t whylen);
int vigil_parse_severity(const char *s, enum vigil_severity *out);

/* "1h30m", "250ms", "10s": the shortest exact spelling. */
void vigil_format_duration(vigil_time_ns ns, char *buf, size_t len);

/* A parsed option value. */
union vigil_optval {
	int64_t i;         /* INT, BOOL, DURATION (ns), ENUM (index) */
	uint64_t u;        /* SIZE */
	double d;          /* DOUBLE */
};

/* Checks `value` against `opt` (type, bounds, choices) and parses it. */
int vigil_option_parse(const struct vigil_option *opt, const char *value,
		       union vigil_optval *out, char *why, size_t whylen);

/* A short phrase for what an option takes: "a duration from 10ms to 1d". */
void vigil_option_describe(const struct vigil_option *opt, char *buf,
			   size_t len);

/*
 * Selectors choose readings: `metric_glob` or `metric_glob{k=v,k2=v2}`;
 * several, separated by spaces, match if any does. Globs are fnmatch(3)
 * patterns on the metric name; label values are compared for equality (and
 * may be globs too).
 */
struct vigil_selector_term {
	char *metric;
	struct vigil_label *labels; /* owned strings */
	size_t n_labels;
};

struct vigil_selector {
	struct vigil_selector_term *terms;
	size_t n_terms;
};

int vigil_selector_parse(const char *s, struct vigil_selector *sel, char *why,
			 size_t whylen);
/* Whether every term of sel can match a metric name (letters, digits,
 * '_.:-' and glob characters): for selectors of readings, not of incident
 * keys, which a rule may spell as it likes. 0, or -EINVAL with why. */
int vigil_selector_check_metrics(const struct vigil_selector *sel, char *why,
				 size_t whylen);
int vigil_selector_match(const struct vigil_selector *sel, const char *metric,
			 const struct vigil_label *labels, size_t n_labels);
/* Whether `sel` (an action's `on`, a sink's `match`) selects an incident:
 * its key or its type, either with its labels. */
int vigil_selector_match_incident(const struct vigil_selector *sel,
				  const char *key, const char *type,
				  const struct vigil_label *labels,
				  size_t n_labels);
void vigil_selector_free(struct vigil_selector *sel);

/* Instance and label names: [A-Za-z0-9_-]+, and metric names
 * [A-Za-z0-9_.:-]+. */
int vigil_valid_name(const char *s);
int vigil_valid_metric(const char *s);
/* Whether vigild refuses a reading for its names: 0 when the metric and
 * every label key are good, -1 for the metric, 1 for a label key that is
 * no name or repeats an earlier one (its index in *label). One rule for
 * the core and for a sensor's worker. */
int vigil_reading_names_bad(const char *metric, const struct vigil_label *l,
			    size_t n, size_t *label);
/* The most labels a reading may have (a frame carries no more). */
#define VIGIL_READING_LABELS_MAX 256

/* What a rule may emit, in both modes: a condition's key, type and labels
 * within these bounds (a message longer than VIGIL_COND_MESSAGE_MAX is
 * cut, see vigil_condition_message_len). A frame carries any condition
 * that passes, far below VIGIL_FRAME_MAX. */
#define VIGIL_COND_KEY_MAX 1024
#define VIGIL_COND_TYPE_MAX 128
#define VIGIL_COND_LABELS_MAX 64
#define VIGIL_COND_VALUE_MAX 1024
#define VIGIL_COND_MESSAGE_MAX 4096
/* 0, or -EINVAL with what is wrong in `why`: a severity that is no
 * severity, a key or type too long (a type is a metric-like name),
 * labels (its own, else its reading's) that are NULL, too many, with a
 * key that is no name or a value too long. */
int vigil_condition_bad(const struct vigil_condition *c, char *why,
			size_t size);
/* How many bytes of `message` a condition keeps: all of it up to
 * VIGIL_COND_MESSAGE_MAX, else less, cut before a UTF-8 sequence. */
size_t vigil_condition_message_len(const char *message);

#endif
