/*
 * bench_journal - appends per second to the journal under each fsync
 * policy.
 *
 * For each policy (always, interval, never) a new journal is opened in
 * DIR (default: a mkdtemp directory under $TMPDIR or /tmp, removed
 * afterwards) and records of SIZE bytes (default 200, about what an
 * incident event takes) are appended back to back through
 * vigil_journal_append, until COUNT records or SECONDS have passed,
 * whichever comes first. Under `interval` the loop calls
 * vigil_journal_tick after every append, as the event loop would on
 * each wake-up, so the interval's fdatasyncs are in the time. Each
 * append's latency is taken (CLOCK_MONOTONIC) for the median, p99 and
 * maximum; the journal's stats give the number of fdatasyncs.
 *
 * The journal is then closed and opened again, and its replay must give
 * back every record appended (a run that lost records fails instead of
 * looking fast); the replay's rate is printed too. What the disk is
 * matters more than anything here: the filesystem type of DIR is printed
 * with the table.
 *
 * Run it through `make bench-journal` (BENCH_JOURNAL_ARGS='...'), or see
 * --help.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "util.h"

#define DEFAULT_COUNT 1000000
#define DEFAULT_SECONDS 3.0
#define DEFAULT_SIZE 200

struct policy {
	const char *name;
	struct vigil_journal_opts opts;
};

static const struct policy policies[] = {
	{"always", {.sync = VIGIL_JOURNAL_SYNC_ALWAYS}},
	{"interval 1s",
	 {.sync = VIGIL_JOURNAL_SYNC_INTERVAL, .sync_interval = VIGIL_SEC}},
	{"never", {.sync = VIGIL_JOURNAL_SYNC_NEVER}},
};

struct result {
	uint64_t n, syncs, bytes;
	double seconds;
	vigil_time_ns p50, p99, max;
	uint64_t replayed;
	double replay_seconds;
};

static int cmp_ns(const void *a, const void *b)
{
	vigil_time_ns x = *(const vigil_time_ns *)a;
	vigil_time_ns y = *(const vigil_time_ns *)b;

	return x < y ? -1 : x > y;
}

static int count_record(void *arg, uint8_t type, const void *data,
			size_t len)
{
	(*(uint64_t *)arg)++;
	return 0;
}

static int run_policy(const struct policy *p, const char *path,
		      uint64_t count, double seconds, size_t size,
		      struct result *res)
{
	vigil_time_ns start, end, limit = (vigil_time_ns)(seconds * 1e9);
	struct vigil_journal_stats st;
	struct vigil_journal *j;
	vigil_time_ns *lat;
	uint8_t *rec;
	uint64_t n = 0;
	int err;

	unlink(path);
	err = vigil_journal_open(&j, path, &p->opts, NULL, NULL);
	if (err < 0) {
		fprintf(stderr, "bench: cannot open %s: %s\n", path,
			strerror(-err));
		return err;
	}
	lat = vigil_xmalloc(count * sizeof(*lat));
	rec = vigil_xmalloc(size ? size : 1);
	for (size_t k = 0; k < size; k++)
		rec[k] = (uint8_t)(k * 7);

	start = vigil_monotonic();
	end = start;
	while (n < count && end - start < limit) {
		vigil_time_ns t0 = end;

		memcpy(rec, &n, size < sizeof(n) ? size : sizeof(n));
		err = vigil_journal_append(j, 1, rec, size);
		if (err < 0) {
			fprintf(stderr, "bench: %s: append %llu: %s\n",
				p->name, (unsigned long long)n, strerror(-err));
			break;
		}
		end = vigil_monotonic();
		if (p->opts.sync == VIGIL_JOURNAL_SYNC_INTERVAL) {
			err = vigil_journal_tick(j, end);
			end = vigil_monotonic();
			if (err < 0)
				break;
		}
		lat[n++] = end - t0;
	}
	vigil_journal_stats(j, &st);
	res->n = n;
	res->seconds = (double)(end - start) / 1e9;
	res->syncs = st.syncs;
	res->bytes = st.size;
	err = err < 0 ? err : vigil_journal_close(j);

	qsort(lat, n, sizeof(*lat), cmp_ns);
	res->p50 = n ? lat[n / 2] : 0;
	res->p99 = n ? lat[n * 99 / 100] : 0;
	res->max = n ? lat[n - 1] : 0;
	free(lat);
	free(rec);
	if (err < 0)
		return err;

	/* Everything appended must come back. */
	res->replayed = 0;
	start = vigil_monotonic();
	err = vigil_journal_open(&j, path, &p->opts, count_record,
				 &res->replayed);
	res->replay_seconds = (double)(vigil_monotonic() - start) / 1e9;
	if (err < 0)
		return err;
	vigil_journal_close(j);
	unlink(path);
	if (res->replayed != n) {
		fprintf(stderr, "bench: %s: %llu records appended, %llu "
				"replayed\n",
			p->name, (unsigned long long)n,
			(unsigned long long)res->replayed);
		return -EIO;
	}
	return 0;
}

static const char *fs_name(const char *dir)
{
	struct statfs sf;

	if (statfs(dir, &sf) < 0)
		return "unknown";
	switch ((unsigned long)sf.f_type) {
	case 0xef53: return "ext2/3/4";
	case 0x01021994: return "tmpfs";
	case 0x58465342: return "xfs";
	case 0x9123683e: return "btrfs";
	case 0xf2f52010: return "f2fs";
	case 0x794c7630: return "overlayfs";
	case 0x4d44: return "vfat";
	default: return "other";
	}
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: bench_journal [-n COUNT] [-t SECONDS] [-s SIZE] [DIR]\n"
		"  Appends SIZE-byte records (default %d) to a journal in DIR\n"
		"  (default: a new directory under $TMPDIR or /tmp) under each\n"
		"  fsync policy, for COUNT records (default %d) or SECONDS\n"
		"  (default %.0f), whichever ends first.\n",
		DEFAULT_SIZE, DEFAULT_COUNT, DEFAULT_SECONDS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t count = DEFAULT_COUNT;
	double seconds = DEFAULT_SECONDS;
	size_t size = DEFAULT_SIZE;
	char *dir = NULL, *path;
	int c, own_dir = 0, failed = 0;

	while ((c = getopt_long(argc, argv, "n:t:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 't': seconds = strtod(optarg, NULL); break;
		case 's': size = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (count == 0 || seconds <= 0 || size > VIGIL_JOURNAL_RECORD_MAX ||
	    argc - optind > 1) {
		usage(stderr);
		return 2;
	}
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_WARNING);
	if (optind < argc) {
		dir = vigil_xstrdup(argv[optind]);
	} else {
		const char *base = getenv("TMPDIR");

		dir = vigil_xasprintf("%s/vigil-bench-journal-XXXXXX",
				      base && *base ? base : "/tmp");
		if (!mkdtemp(dir)) {
			fprintf(stderr, "bench: cannot create %s: %s\n", dir,
				strerror(errno));
			return 1;
		}
		own_dir = 1;
	}
	path = vigil_xasprintf("%s/bench.journal", dir);

	printf("journal appends: %zu-byte records (%llu bytes each in the "
	       "file), up to %llu records or %.1f s per policy\n",
	       size, (unsigned long long)vigil_journal_record_bytes(size),
	       (unsigned long long)count, seconds);
	printf("file: %s (%s)\n\n", path, fs_name(dir));
	printf("| policy      | appends | seconds | appends/s | p50 us | "
	       "p99 us | max us | fdatasyncs | replay records/s |\n");
	printf("|-------------|--------:|--------:|----------:|-------:|"
	       "-------:|-------:|-----------:|-----------------:|\n");
	for (size_t i = 0; i < VIGIL_ARRAY_SIZE(policies); i++) {
		struct result r = {0};

		if (run_policy(&policies[i], path, count, seconds, size, &r) <
		    0) {
			failed = 1;
			continue;
		}
		printf("| %-11s | %7llu | %7.2f | %9.0f | %6.1f | %6.1f | "
		       "%6.0f | %10llu | %16.0f |\n",
		       policies[i].name, (unsigned long long)r.n, r.seconds,
		       (double)r.n / r.seconds, (double)r.p50 / 1e3,
		       (double)r.p99 / 1e3, (double)r.max / 1e3,
		       (unsigned long long)r.syncs,
		       (double)r.replayed / r.replay_seconds);
		fflush(stdout);
	}
	unlink(path);
	if (own_dir)
		rmdir(dir);
	free(path);
	free(dir);
	return failed;
}
