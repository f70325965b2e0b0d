/*
 * bench_pipeline - in-process throughput of the core's data path.
 *
 * For each scenario this builds a real configuration (an INI file written
 * to $TMPDIR), loads it with vigil_daemon_load (the loader opens the real
 * plugins), starts the instances on the real pipeline as vigild does, and
 * then does what vigild does when a sensor is due, as fast as it can: the
 * sensor's read(), which emits its readings through the host table into
 * the reading ring, then vigil_pipeline_run(), which interns and routes
 * each reading, hands it to the rules that match, turns conditions into
 * incident events and writes the readings to the metric sinks. Only the
 * event loop (epoll, timerfd, scheduling) is left out: the sensor is read
 * back to back instead of at its interval.
 *
 * Timed: that loop, for a fixed number of readings, after a warm-up that
 * creates every series. Wall time is CLOCK_MONOTONIC, CPU time
 * CLOCK_PROCESS_CPUTIME_ID. Each scenario is repeated; the median, the
 * minimum and the maximum are reported. The counting sink's totals are
 * checked against what the sensor emitted, so a run that lost or dropped
 * readings fails instead of looking fast.
 *
 * Run it through `make bench`, or see --help.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counting_sink.h"
#include "daemon.h"
#include "log.h"
#include "pipeline.h"

#define DEFAULT_READINGS 20000000ull
#define DEFAULT_REPS 5
#define DEFAULT_TARGET 2000000.0
#define MAX_REPS 101
#define SERIES 1000 /* readings per sensor read, one per series */

struct scenario {
	const char *name;
	const char *what;
	const char *ini; /* the sections; [daemon] is added */
};

/* The headline pipeline: 1000 series whose common value follows a sine of
 * 1000 ticks, so once per period every series goes warning, critical, back
 * to warning and clear: 4 conditions and 4 incident events per series per
 * 1000 readings of it, i.e. 0.4% of readings cause an incident event. */
#define SENSOR_SINE                                                           \
	"[sensor.gen]\n"                                                      \
	"isolation = none\n"                                                  \
	"plugin = synthetic\n"                                                \
	"metric = bench.value\n"                                              \
	"unit = %\n"                                                         \
	"shape = sine\n"                                                      \
	"value = 0\n"                                                         \
	"amplitude = 100\n"                                                   \
	"period = 1000\n"                                                     \
	"count = 1000\n"                                                      \
	"interval = 1s\n"

#define SINK_COUNTING                                                         \
	"[sink.count]\n"                                                      \
	"isolation = none\n"                                                  \
	"plugin = counting\n"                                                 \
	"metrics = yes\n"                                                     \
	"events = yes\n"

static const struct scenario scenarios[] = {
	{"rule",
	 "synthetic (1000 series, 1 label) -> threshold -> counting; "
	 "0.4% of readings change an incident",
	 /* Each series goes through an incident every 1000 readings, many
	  * times a second here: flap detection would (rightly) pause their
	  * notifications, and this scenario measures their delivery. */
	 "[incidents]\nflap_window = 0\n\n"
	 SENSOR_SINE
	 "\n[rule.hot]\n"
	 "isolation = none\n"
	 "plugin = threshold\n"
	 "match = bench.*\n"
	 "warning = 80\n"
	 "critical = 95\n"
	 "hysteresis = 5\n"
	 "\n" SINK_COUNTING},
	{"rule-quiet",
	 "as rule, with levels the value never reaches: no conditions",
	 SENSOR_SINE
	 "\n[rule.hot]\n"
	 "isolation = none\n"
	 "plugin = threshold\n"
	 "match = bench.*\n"
	 "warning = 1000\n"
	 "critical = 2000\n"
	 "\n" SINK_COUNTING},
	{"no-rule",
	 "synthetic (1000 series, 1 label) -> counting",
	 SENSOR_SINE "\n" SINK_COUNTING},
	{"labels-0",
	 "labelgen (1000 series by metric name, no labels) -> counting",
	 "[sensor.gen]\nisolation = none\nplugin = labelgen\ncount = 1000\nlabels = 0\n"
	 "interval = 1s\n\n" SINK_COUNTING},
	{"labels-1",
	 "labelgen (1000 series, 1 label) -> counting",
	 "[sensor.gen]\nisolation = none\nplugin = labelgen\ncount = 1000\nlabels = 1\n"
	 "interval = 1s\n\n" SINK_COUNTING},
	{"labels-4",
	 "labelgen (1000 series, 4 labels) -> counting",
	 "[sensor.gen]\nisolation = none\nplugin = labelgen\ncount = 1000\nlabels = 4\n"
	 "interval = 1s\n\n" SINK_COUNTING},
	{"labels-8",
	 "labelgen (1000 series, 8 labels) -> counting",
	 "[sensor.gen]\nisolation = none\nplugin = labelgen\ncount = 1000\nlabels = 8\n"
	 "interval = 1s\n\n" SINK_COUNTING},
};

struct result {
	double rate[MAX_REPS];    /* readings per wall second */
	double cpu_ns[MAX_REPS];  /* CPU ns per reading */
	uint64_t events, conditions; /* per repetition, the last one */
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n)
{
	double s[MAX_REPS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double min_of(const double *v, size_t n)
{
	double m = v[0];

	for (size_t i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double max_of(const double *v, size_t n)
{
	double m = v[0];

	for (size_t i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* What vigild's read_sensor() does for a due sensor, minus the
 * scheduling: read, then run the pipeline to empty. */
__attribute__((noinline)) static void ticks(struct vigil_pipeline *pl,
					    struct vigil_instance *sensor,
					    uint64_t n)
{
	for (uint64_t t = 0; t < n; t++) {
		int rc;

		sensor->calls++;
		rc = sensor->desc->read(sensor->state, &sensor->ctx);
		if (rc < 0) {
			fprintf(stderr, "bench: [%s] read failed: %s\n",
				sensor->section, strerror(-rc));
			exit(1);
		}
		vigil_pipeline_run(pl);
	}
}

/* The timed loop, a function of its own so that callgrind can count it
 * alone: --toggle-collect=bench_ticks leaves out set-up and warm-up. */
__attribute__((noinline)) void bench_ticks(struct vigil_pipeline *pl,
					   struct vigil_instance *sensor,
					   uint64_t n);
__attribute__((noinline)) void bench_ticks(struct vigil_pipeline *pl,
					   struct vigil_instance *sensor,
					   uint64_t n)
{
	ticks(pl, sensor, n);
	/* Not a tail call: callgrind must see this function return. */
	__asm__ volatile("" ::: "memory");
}

static char *write_config(const struct scenario *sc)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	FILE *f;
	int fd;

	path = vigil_xasprintf("%s/vigil-bench-XXXXXX.ini",
			       dir && *dir ? dir : "/tmp");
	fd = mkstemps(path, 4);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		fprintf(stderr, "bench: cannot create %s: %s\n", path,
			strerror(errno));
		exit(1);
	}
	fprintf(f, "[daemon]\nlog_level = warning\nreading_queue = 65536\n\n");
	fputs(sc->ini, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "bench: cannot write %s\n", path);
		exit(1);
	}
	return path;
}

/* As vigild does, and every instance must start. */
static void start_all(struct vigil_daemon *d)
{
	if (vigil_daemon_start_all(d, vigil_monotonic()) != d->n_all) {
		for (size_t i = 0; i < d->n_all; i++)
			if (!d->all[i]->started)
				fprintf(stderr, "bench: [%s] did not start\n",
					d->all[i]->section);
		exit(1);
	}
}

static int run_scenario(const struct scenario *sc, const char *plugin_path,
			uint64_t readings, int reps, struct result *res)
{
	struct vigil_daemon_opts opts = {
		.plugin_path = plugin_path,
		.log_level = -1,
		.log_target = -1,
	};
	struct vigil_diag errors = {0}, warnings = {0};
	struct vigil_daemon d;
	struct vigil_instance *sensor, *sink;
	const struct vigil_optslot *q;
	struct counting_totals *tot;
	uint64_t n_ticks = (readings + SERIES - 1) / SERIES;
	char *path = write_config(sc);

	opts.config = path;
	vigil_daemon_load(&d, &opts, &errors, &warnings);
	for (size_t i = 0; i < warnings.n; i++)
		fprintf(stderr, "bench: warning: %s\n", warnings.msgs[i]);
	if (errors.n) {
		for (size_t i = 0; i < errors.n; i++)
			fprintf(stderr, "bench: %s\n", errors.msgs[i]);
		fprintf(stderr, "bench: is the plugin path right? %s\n",
			plugin_path);
		unlink(path);
		free(path);
		return -1;
	}
	unlink(path);
	free(path);

	q = vigil_optslot_find(d.dopts, d.n_dopts, "reading_queue");
	vigil_pipeline_init(&d.pl, q ? (size_t)q->v.i : 65536,
			    d.by_kind[VIGIL_KIND_RULE], d.n_kind[VIGIL_KIND_RULE],
			    d.by_kind[VIGIL_KIND_SINK], d.n_kind[VIGIL_KIND_SINK],
			    d.by_kind[VIGIL_KIND_ACTION],
			    d.n_kind[VIGIL_KIND_ACTION]);
	/* As vigild does: [incidents] applies. */
	vigil_incidents_set_policy(&d.pl.incidents, &d.policy);
	start_all(&d);
	sensor = d.by_kind[VIGIL_KIND_SENSOR][0];
	sink = d.by_kind[VIGIL_KIND_SINK][0];
	tot = sink->state;

	/* Warm-up: one sine period, which creates every series and takes
	 * each through one incident. */
	ticks(&d.pl, sensor, 1000);

	for (int r = 0; r < reps; r++) {
		struct vigil_pipeline_stats before = d.pl.stats;
		uint64_t sunk = tot->readings, events = tot->events;
		double w0, c0, w1, c1;
		uint64_t n;

		w0 = clock_s(CLOCK_MONOTONIC);
		c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		bench_ticks(&d.pl, sensor, n_ticks);
		c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		w1 = clock_s(CLOCK_MONOTONIC);

		n = d.pl.stats.readings_in - before.readings_in;
		if (n != n_ticks * SERIES || tot->readings - sunk != n ||
		    d.pl.stats.readings_dropped != before.readings_dropped ||
		    d.pl.stats.readings_refused != before.readings_refused ||
		    d.pl.series.count != SERIES) {
			fprintf(stderr,
				"bench: %s: readings do not add up: %llu "
				"emitted, %llu in, %llu at the sink, %llu "
				"dropped, %llu refused, %zu series\n",
				sc->name,
				(unsigned long long)(n_ticks * SERIES),
				(unsigned long long)n,
				(unsigned long long)(tot->readings - sunk),
				(unsigned long long)d.pl.stats.readings_dropped,
				(unsigned long long)d.pl.stats.readings_refused,
				d.pl.series.count);
			return -1;
		}
		res->rate[r] = (double)n / (w1 - w0);
		res->cpu_ns[r] = (c1 - c0) * 1e9 / (double)n;
		res->events = tot->events - events;
		res->conditions = d.pl.stats.conditions - before.conditions;
	}

	/* As vigild stops: rules free their per-series slots while still
	 * started, then everything stops. */
	vigil_pipeline_free(&d.pl);
	vigil_daemon_stop_all(&d);
	vigil_daemon_free(&d);
	vigil_diag_free(&errors);
	vigil_diag_free(&warnings);
	return 0;
}

static void cpu_model(char *out, size_t n)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];

	snprintf(out, n, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += 2;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, n, "%s", colon);
		break;
	}
	fclose(f);
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: bench_pipeline [-p PLUGIN_PATH] [-n READINGS] [-r REPS]\n"
		"                      [-s SCENARIO]... [-c CPU] [-t RATE] [--strict]\n"
		"                      [--list] [--print-config SCENARIO]\n"
		"\n"
		"  -p, --plugin-path  colon-separated plugin directories (default:\n"
		"                     $VIGIL_BENCH_PLUGIN_PATH); must hold synthetic,\n"
		"                     threshold, counting and labelgen\n"
		"  -n, --readings     readings timed per repetition (default %llu)\n"
		"  -r, --reps         repetitions per scenario (default %d)\n"
		"  -s, --scenario     run only this scenario (repeatable)\n"
		"  -c, --cpu          pin the process to this CPU\n"
		"  -t, --target       readings/s the rule scenario should reach\n"
		"                     (default %.0f)\n"
		"      --strict       exit 2 if the target is not met\n"
		"      --list         list the scenarios\n"
		"      --print-config print the INI a scenario runs\n",
		DEFAULT_READINGS, DEFAULT_REPS, DEFAULT_TARGET);
}

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(scenarios); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	fprintf(stderr, "bench: no scenario '%s'; see --list\n", name);
	exit(64);
}

int main(int argc, char **argv)
{
	enum { OPT_STRICT = 256, OPT_LIST, OPT_PRINT };
	static const struct option longopts[] = {
		{"plugin-path", required_argument, NULL, 'p'},
		{"readings", required_argument, NULL, 'n'},
		{"reps", required_argument, NULL, 'r'},
		{"scenario", required_argument, NULL, 's'},
		{"cpu", required_argument, NULL, 'c'},
		{"target", required_argument, NULL, 't'},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"list", no_argument, NULL, OPT_LIST},
		{"print-config", required_argument, NULL, OPT_PRINT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const struct scenario *chosen[VIGIL_ARRAY_SIZE(scenarios)];
	size_t n_chosen = 0;
	const char *plugin_path = getenv("VIGIL_BENCH_PLUGIN_PATH");
	unsigned long long readings = DEFAULT_READINGS;
	double target = DEFAULT_TARGET, headline = -1;
	int reps = DEFAULT_REPS, cpu = -1, strict = 0, c;
	char model[256];

	while ((c = getopt_long(argc, argv, "p:n:r:s:c:t:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'p': plugin_path = optarg; break;
		case 'n': readings = strtoull(optarg, NULL, 10); break;
		case 'r': reps = atoi(optarg); break;
		case 's':
			if (n_chosen < VIGIL_ARRAY_SIZE(chosen))
				chosen[n_chosen++] = find_scenario(optarg);
			break;
		case 'c': cpu = atoi(optarg); break;
		case 't': target = strtod(optarg, NULL); break;
		case OPT_STRICT: strict = 1; break;
		case OPT_LIST:
			for (size_t i = 0; i < VIGIL_ARRAY_SIZE(scenarios); i++)
				printf("%-11s %s\n", scenarios[i].name,
				       scenarios[i].what);
			return 0;
		case OPT_PRINT:
			printf("[daemon]\nlog_level = warning\n"
			       "reading_queue = 65536\n\n");
			fputs(find_scenario(optarg)->ini, stdout);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 64;
		}
	}
	if (optind < argc || reps < 1 || reps > MAX_REPS ||
	    readings < SERIES) {
		usage(stderr);
		return 64;
	}
	if (!plugin_path) {
		fprintf(stderr, "bench: no plugin path: give -p or set "
			"VIGIL_BENCH_PLUGIN_PATH (`make bench` does)\n");
		return 64;
	}
	if (n_chosen == 0)
		for (size_t i = 0; i < VIGIL_ARRAY_SIZE(scenarios); i++)
			chosen[n_chosen++] = &scenarios[i];
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "bench: cannot pin to CPU %d: %s\n",
				cpu, strerror(errno));
			return 1;
		}
	}
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_WARNING);

	cpu_model(model, sizeof(model));
	printf("vigil %s pipeline throughput, in-process\n", PACKAGE_VERSION);
	printf("cpu: %s, %ld online%s; compiler: %s%s\n", model,
	       sysconf(_SC_NPROCESSORS_ONLN),
	       cpu >= 0 ? " (pinned)" : "",
#ifdef __VERSION__
	       "gcc-compatible " __VERSION__,
#else
	       "unknown",
#endif
#ifdef __OPTIMIZE__
	       ", optimised"
#else
	       ", NOT optimised"
#endif
	);
	printf("%llu readings per repetition (%d series), %d repetitions, "
	       "after a warm-up of 1000 reads\n\n",
	       (unsigned long long)((readings + SERIES - 1) / SERIES * SERIES),
	       SERIES, reps);
	printf("| scenario   | readings/s median | min        | max        "
	       "| ns/reading median | min   | max   | CPU ns/reading "
	       "| events/rep |\n");
	printf("|------------|------------------:|-----------:|-----------:"
	       "|------------------:|------:|------:|---------------:"
	       "|-----------:|\n");
	fflush(stdout);

	for (size_t i = 0; i < n_chosen; i++) {
		struct result res = {0};
		double med, lo, hi;

		if (run_scenario(chosen[i], plugin_path, readings, reps,
				 &res) < 0)
			return 1;
		med = median(res.rate, (size_t)reps);
		lo = min_of(res.rate, (size_t)reps);
		hi = max_of(res.rate, (size_t)reps);
		/* ns per reading: the slowest run has the most. */
		printf("| %-10s | %17.0f | %10.0f | %10.0f | %17.1f | %5.1f "
		       "| %5.1f | %14.1f | %10llu |\n",
		       chosen[i]->name, med, lo, hi, 1e9 / med, 1e9 / hi,
		       1e9 / lo, median(res.cpu_ns, (size_t)reps),
		       (unsigned long long)res.events);
		fflush(stdout);
		if (strcmp(chosen[i]->name, "rule") == 0)
			headline = med;
	}
	printf("\n");
	for (size_t i = 0; i < n_chosen; i++)
		printf("%-10s  %s\n", chosen[i]->name, chosen[i]->what);
	if (headline >= 0) {
		printf("\ntarget: %.0f readings/s for `rule`: %s (median %.0f)\n",
		       target, headline >= target ? "met" : "NOT met",
		       headline);
		if (strict && headline < target)
			return 2;
	}
	return 0;
}
