/*
 * synthetic - a deterministic reading generator for tests, demos and
 * benchmarks.
 *
 * Every read() emits `count` readings of `metric` whose value is a pure
 * function of the tick number (how many times read() ran before), so a test
 * knows in advance what tick N produces:
 *
 *   constant  value
 *   step      value for `period` ticks, then value + amplitude for `period`
 *             ticks, and again
 *   ramp      a sawtooth: value at the first tick of each period, rising by
 *             amplitude / period per tick, back to value after `period` ticks
 *   sine      value + amplitude * sin(2 pi tick / period)
 *   sequence  the numbers of `sequence` in turn, cycling
 *
 * With count > 1 each reading of a tick carries the label n=0 .. n=count-1
 * and the same value: that makes count distinct series. The label strings
 * are built once in init because the throughput benchmark drives this
 * plugin at millions of readings per second: read() neither allocates nor
 * formats.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <vigil/plugin.h>

#define SYNTHETIC_MAX_COUNT 1000000
/* M_PI is not ISO C: spelled out so -std=c11 builds too. */
#define SYNTHETIC_TWO_PI 6.28318530717958647692

enum shape {
	SHAPE_CONSTANT,
	SHAPE_STEP,
	SHAPE_RAMP,
	SHAPE_SINE,
	SHAPE_SEQUENCE,
};

/* Everything synthetic_value() depends on, apart from the tick. */
struct cfg {
	enum shape shape;
	double value;
	double amplitude;
	uint64_t period;
	double *seq; /* shape = sequence only */
	size_t n_seq;
};

struct synthetic {
	const struct vigil_host *host;
	struct cfg cfg;
	const char *metric; /* from config_string: valid until fini */
	const char *unit;
	uint64_t tick;
	size_t count;
	/* count > 1 only: labels[i] is n=<i>, its value in label_text. */
	struct vigil_label *labels;
	char *label_text;
};

static const struct vigil_option synthetic_options[] = {
	{"metric", VIGIL_OPT_STRING, "synthetic.value", 0, 0, NULL,
	 "metric name of the readings ([a-z0-9_.])", 0},
	{"unit", VIGIL_OPT_STRING, "", 0, 0, NULL,
	 "unit of the readings, e.g. \"C\" or \"%\"", 0},
	{"shape", VIGIL_OPT_ENUM, "constant", 0, 0,
	 "constant|step|ramp|sine|sequence",
	 "how the value changes from tick to tick", 0},
	{"value", VIGIL_OPT_DOUBLE, "0", 0, 0, NULL,
	 "the constant, or the base the other shapes start from", 0},
	{"amplitude", VIGIL_OPT_DOUBLE, "100", 0, 0, NULL,
	 "step height, ramp rise per period, or sine amplitude", 0},
	{"period", VIGIL_OPT_INT, "10", 1, 0, NULL,
	 "length of a step, ramp or sine cycle, in ticks", 0},
	{"sequence", VIGIL_OPT_STRING, NULL, 0, 0, NULL,
	 "shape = sequence: space-separated numbers emitted in turn, cycling",
	 0},
	{"count", VIGIL_OPT_INT, "1", 1, SYNTHETIC_MAX_COUNT, NULL,
	 "readings per tick; above 1 each gets a label n=0..count-1", 0},
	VIGIL_OPTIONS_END,
};

/* The value of tick `tick` (0 for the first read). Pure, so tests can
 * compute what the plugin emits without running it. */
static double synthetic_value(const struct cfg *c, uint64_t tick)
{
	/* Reduce the tick first: sin() of a huge argument loses precision,
	 * and a long benchmark must not drift. */
	uint64_t phase = tick % c->period;

	switch (c->shape) {
	case SHAPE_CONSTANT:
		break;
	case SHAPE_STEP:
		if ((tick / c->period) % 2 == 1)
			return c->value + c->amplitude;
		break;
	case SHAPE_RAMP:
		return c->value +
		       c->amplitude * (double)phase / (double)c->period;
	case SHAPE_SINE:
		return c->value +
		       c->amplitude * sin(SYNTHETIC_TWO_PI * (double)phase /
					  (double)c->period);
	case SHAPE_SEQUENCE:
		return c->seq[tick % c->n_seq];
	}
	return c->value;
}

static int parse_shape(const char *s, enum shape *out)
{
	static const char *const names[] = {
		[SHAPE_CONSTANT] = "constant", [SHAPE_STEP] = "step",
		[SHAPE_RAMP] = "ramp",         [SHAPE_SINE] = "sine",
		[SHAPE_SEQUENCE] = "sequence",
	};
	size_t i;

	for (i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum shape)i;
			return 0;
		}
	}
	return -1;
}

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* Parses `text` into c->seq. Logs the first bad word and returns
 * VIGIL_EFATAL, or -ENOMEM. */
static int parse_sequence(struct synthetic *st, struct vigil_ctx *ctx,
			  const char *text)
{
	const char *p;
	size_t n = 0, i = 0;
	int in_word = 0;

	for (p = text; *p; p++) {
		if (!is_space(*p) && !in_word)
			n++;
		in_word = !is_space(*p);
	}
	if (n == 0) {
		st->host->log(ctx, VIGIL_LOG_ERR,
			      "shape = sequence but sequence is %s: expected "
			      "space-separated numbers, e.g. \"10 10 90 90\"",
			      text[0] ? "only blanks" : "not set");
		return VIGIL_EFATAL;
	}
	st->cfg.seq = calloc(n, sizeof(*st->cfg.seq));
	if (!st->cfg.seq)
		return -ENOMEM;

	p = text;
	while (i < n) {
		char *end;

		while (is_space(*p))
			p++;
		errno = 0;
		st->cfg.seq[i] = strtod(p, &end);
		/* Only a whole word counts: "12abc" is a typo, not 12. NaN is
		 * accepted on purpose, to exercise the NaN paths of rules. */
		if (end == p || (*end && !is_space(*end)) || errno == ERANGE) {
			int len = 0;

			while (p[len] && !is_space(p[len]))
				len++;
			st->host->log(ctx, VIGIL_LOG_ERR,
				      "sequence: word %zu \"%.*s\" is not a "
				      "number: expected space-separated "
				      "numbers, e.g. \"10 10 90 90\"",
				      i + 1, len, p);
			return VIGIL_EFATAL;
		}
		p = end;
		i++;
	}
	st->cfg.n_seq = n;
	return 0;
}

/* Writes `i` in decimal; `out` has room for the digits of
 * SYNTHETIC_MAX_COUNT - 1 and the NUL. (snprintf would do, but cannot be
 * shown to fit and warns.) */
static void format_index(char *out, size_t i)
{
	char digits[8];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0 && n < sizeof(digits));
	while (n > 0)
		*out++ = digits[--n];
	*out = '\0';
}

/* Builds labels n=0 .. n=count-1 once, so read() only points at them. */
static int build_labels(struct synthetic *st)
{
	/* The largest index, 999999, has 6 digits: 8 bytes a slot is room
	 * enough for the digits and the NUL. */
	enum { SLOT = 8 };
	size_t i;

	st->labels = calloc(st->count, sizeof(*st->labels));
	st->label_text = malloc(st->count * SLOT);
	if (!st->labels || !st->label_text)
		return -ENOMEM;
	for (i = 0; i < st->count; i++) {
		char *slot = st->label_text + i * SLOT;

		format_index(slot, i);
		st->labels[i].key = "n";
		st->labels[i].value = slot;
	}
	return 0;
}

static int valid_metric(const char *m)
{
	if (!m || !*m)
		return 0;
	for (; *m; m++) {
		if (!((*m >= 'a' && *m <= 'z') || (*m >= '0' && *m <= '9') ||
		      *m == '_' || *m == '.'))
			return 0;
	}
	return 1;
}

static void synthetic_fini(void *state)
{
	struct synthetic *st = state;

	if (!st)
		return;
	free(st->cfg.seq);
	free(st->labels);
	free(st->label_text);
	free(st);
}

static int synthetic_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			  void **state)
{
	struct synthetic *st;
	const char *shape, *seq;
	int64_t period, count;
	int rc;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;

	st->metric = host->config_string(ctx, "metric");
	if (!valid_metric(st->metric)) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "metric = \"%s\" is not a valid metric name: "
			  "expected lowercase letters, digits, '_' and '.', "
			  "e.g. \"synthetic.value\"",
			  st->metric ? st->metric : "");
		rc = VIGIL_EFATAL;
		goto fail;
	}
	st->unit = host->config_string(ctx, "unit");
	if (!st->unit)
		st->unit = "";

	shape = host->config_string(ctx, "shape");
	if (parse_shape(shape ? shape : "constant", &st->cfg.shape) < 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "shape = \"%s\": expected constant, step, ramp, sine "
			  "or sequence",
			  shape);
		rc = VIGIL_EFATAL;
		goto fail;
	}
	st->cfg.value = host->config_double(ctx, "value", 0);
	st->cfg.amplitude = host->config_double(ctx, "amplitude", 100);

	/* The core enforces the bounds; checked again because a zero period
	 * would divide by zero in synthetic_value(). */
	period = host->config_int(ctx, "period", 10);
	if (period < 1) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "period = %lld: expected a number of ticks >= 1",
			  (long long)period);
		rc = VIGIL_EFATAL;
		goto fail;
	}
	st->cfg.period = (uint64_t)period;

	count = host->config_int(ctx, "count", 1);
	if (count < 1 || count > SYNTHETIC_MAX_COUNT) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "count = %lld: expected 1 to %d readings per tick",
			  (long long)count, SYNTHETIC_MAX_COUNT);
		rc = VIGIL_EFATAL;
		goto fail;
	}
	st->count = (size_t)count;

	seq = host->config_string(ctx, "sequence");
	if (st->cfg.shape == SHAPE_SEQUENCE) {
		rc = parse_sequence(st, ctx, seq ? seq : "");
		if (rc < 0)
			goto fail;
	} else if (seq) {
		host->log(ctx, VIGIL_LOG_WARNING,
			  "sequence is set but shape = %s: the sequence is "
			  "ignored unless shape = sequence",
			  shape ? shape : "constant");
	}

	if (st->count > 1) {
		rc = build_labels(st);
		if (rc < 0)
			goto fail;
	}

	*state = st;
	return 0;

fail:
	synthetic_fini(st);
	return rc;
}

static int synthetic_read(void *state, struct vigil_ctx *ctx)
{
	struct synthetic *st = state;
	struct vigil_reading r = {
		.metric = st->metric,
		.unit = st->unit,
		.quality = VIGIL_QUALITY_GOOD,
	};
	size_t i;

	r.value = synthetic_value(&st->cfg, st->tick++);
	/* One clock read per tick rather than one per reading: cheaper, and
	 * the readings of a tick share a timestamp as a real sample would. */
	r.time = st->host->now(ctx);

	if (!st->labels)
		return st->host->emit_reading(ctx, &r) == -EINVAL ? -EINVAL : 0;

	r.n_labels = 1;
	for (i = 0; i < st->count; i++) {
		r.labels = &st->labels[i];
		/* -ENOSPC means the host counted a drop: keep going so the
		 * benchmark's drop count is exact. */
		if (st->host->emit_reading(ctx, &r) == -EINVAL)
			return -EINVAL;
	}
	return 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "synthetic", "1.0.0"),
	.description = "deterministic generated readings for tests, demos "
		       "and benchmarks",
	.options = synthetic_options,
	.init = synthetic_init,
	.fini = synthetic_fini,
	.read = synthetic_read,
};
