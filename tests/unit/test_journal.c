/*
 * test_journal.c - the append-only journal: round trips and replay order,
 * a tail torn at every byte of the last record, bits flipped in the
 * middle, files that are not journals, compaction, a full disk (an
 * RLIMIT_FSIZE in a forked child), and the fsync policies.
 *
 * Each test has a private mkdtemp directory holding `incidents.journal`;
 * the log (stderr) goes to a file beside it, which the tests read.
 * Record i of a test is always gen(i): its type, length and bytes follow
 * from i, so what is replayed is checked byte for byte.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "log.h"
#include "proto.h"
#include "unit.h"
#include "util.h"

static char *dir;     /* this test's directory */
static char *path;    /* dir/incidents.journal */
static char *logpath; /* where stderr, hence the log, goes */
static int saved_stderr = -1;

static const struct vigil_journal_opts never = {
	.sync = VIGIL_JOURNAL_SYNC_NEVER,
};

/* ------------------------------------------------------------ records */

#define MAX_SEEN 4096
#define GEN_MAX 300

/* Record i: type 1-255 and 0-250 bytes, all derived from i. */
static size_t gen(unsigned i, uint8_t *type, uint8_t *buf)
{
	size_t len = (i * 37u) % 251u;

	*type = (uint8_t)(i % 255u + 1u);
	for (size_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 131u + k * 7u);
	return len;
}

static void append_gen(struct vigil_journal *j, unsigned i)
{
	uint8_t buf[GEN_MAX], type;
	size_t len = gen(i, &type, buf);

	ck_assert_int_eq(vigil_journal_append(j, type, buf, len), 0);
}

/* What a replay handed over, copied. */
struct seen {
	size_t n;
	uint8_t type[MAX_SEEN];
	size_t len[MAX_SEEN];
	uint8_t *data[MAX_SEEN];
	long fail_at; /* the callback fails on this record; -1 never */
};

static int collect(void *arg, uint8_t type, const void *data, size_t len)
{
	struct seen *s = arg;

	if ((long)s->n == s->fail_at)
		return -EBADMSG;
	ck_assert_uint_lt(s->n, MAX_SEEN);
	s->type[s->n] = type;
	s->len[s->n] = len;
	s->data[s->n] = vigil_xmalloc(len ? len : 1);
	memcpy(s->data[s->n], data, len);
	s->n++;
	return 0;
}

static void seen_reset(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->data[i]);
	s->n = 0;
	s->fail_at = -1;
}

/* Fails unless record `at` of the replay is gen(i). */
static void assert_gen(const struct seen *s, size_t at, unsigned i)
{
	uint8_t buf[GEN_MAX], type;
	size_t len = gen(i, &type, buf);

	ck_assert_uint_lt(at, s->n);
	ck_assert_msg(s->type[at] == type && s->len[at] == len &&
			      !memcmp(s->data[at], buf, len),
		      "record %zu: type %u, %zu bytes; expected gen(%u): "
		      "type %u, %zu bytes",
		      at, s->type[at], s->len[at], i, type, len);
}

/* Opens `path`, replaying into `s` (reset first); asserts success. */
static struct vigil_journal *open_into(const struct vigil_journal_opts *o,
				       struct seen *s)
{
	struct vigil_journal *j;

	seen_reset(s);
	ck_assert_int_eq(vigil_journal_open(&j, path, o, collect, s), 0);
	ck_assert_ptr_nonnull(j);
	return j;
}

static void close_ok(struct vigil_journal *j)
{
	ck_assert_int_eq(vigil_journal_close(j), 0);
}

/* ------------------------------------------------------------- files */

static uint64_t file_size(const char *p)
{
	struct stat st;

	ck_assert_msg(stat(p, &st) == 0, "stat %s: %s", p, strerror(errno));
	return (uint64_t)st.st_size;
}

static int exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/* The whole file, malloc'ed; *n its size. */
static uint8_t *slurp(const char *p, size_t *n)
{
	size_t size = (size_t)file_size(p);
	uint8_t *b = vigil_xmalloc(size ? size : 1);
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, b, size), (ssize_t)size);
	close(fd);
	*n = size;
	return b;
}

/* Replaces the file with b[0..n). */
static void spit(const char *p, const void *b, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static void flip_bit(const char *p, uint64_t off, int bit)
{
	int fd = open(p, O_RDWR | O_CLOEXEC);
	uint8_t c;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
	c ^= (uint8_t)(1u << bit);
	ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* How many entries of `dir` start with `prefix`; the first one's name in
 * `first` (malloc'ed) if asked. */
static int count_prefixed(const char *prefix, char **first)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix, strlen(prefix))) {
			if (!n && first)
				*first = vigil_xasprintf("%s/%s", dir,
							 e->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static void rm_dir(const char *p)
{
	DIR *d = opendir(p);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			char *f = vigil_xasprintf("%s/%s", p, e->d_name);

			unlink(f);
			free(f);
		}
	closedir(d);
	rmdir(p);
}

/* ----------------------------------------------------------- the log */

/* How many lines of the log so far contain `level` (as the log spells
 * it: "error", "warning") and both texts (b may be NULL). */
static int logged(const char *level, const char *a, const char *b)
{
	char line[4096];
	int n = 0;
	FILE *f;

	fflush(stderr);
	f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, level) && strstr(line, a) &&
		    (!b || strstr(line, b)))
			n++;
	fclose(f);
	return n;
}

static int log_lines(void)
{
	char line[4096];
	int n = 0;
	FILE *f;

	fflush(stderr);
	f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* ------------------------------------------------------ setup, teardown */

static struct seen seen;

static void setup(void)
{
	dir = unit_tmpdir();
	path = vigil_xasprintf("%s/incidents.journal", dir);
	logpath = vigil_xasprintf("%s.log", dir);
	saved_stderr = unit_capture_stderr(logpath);
	vigil_log_setup(VIGIL_LOG_TO_STDERR, VIGIL_LOG_DEBUG);
	seen.fail_at = -1;
}

static void teardown(void)
{
	seen_reset(&seen);
	unit_restore_stderr(&saved_stderr);
	unlink(logpath);
	free(logpath);
	rm_dir(dir);
	free(dir);
	free(path);
}

/* ------------------------------------------------------------- basics */

START_TEST(crc32c_check_value)
{
	uint32_t whole = vigil_crc32c(0, "123456789", 9);

	ck_assert_uint_eq(whole, 0xe3069283u);
	ck_assert_uint_eq(vigil_crc32c(vigil_crc32c(0, "1234", 4), "56789", 5),
			  whole);
	ck_assert_uint_eq(vigil_crc32c(0, "", 0), 0);
}
END_TEST

START_TEST(round_trip)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(NULL, &seen);

	/* A new journal is its header and nothing else, already on disk. */
	ck_assert_uint_eq(seen.n, 0);
	ck_assert_uint_eq(file_size(path), VIGIL_JOURNAL_HEADER);
	/* Beside it only its lock file. */
	ck_assert_int_eq(count_prefixed("incidents.journal.", NULL), 1);
	ck_assert_int_eq(count_prefixed("incidents.journal.lock", NULL), 1);
	ck_assert_int_eq(vigil_journal_append(j, 7, "hello", 5), 0);
	ck_assert_int_eq(vigil_journal_append(j, 255, NULL, 0), 0);
	ck_assert_int_eq(vigil_journal_append(j, 1, "\0\1\2", 3), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.records, 3);
	ck_assert_uint_eq(st.appended, 3);
	ck_assert_uint_eq(st.size, VIGIL_JOURNAL_HEADER + 3 * 12 + 8);
	ck_assert_uint_eq(st.size, file_size(path));
	ck_assert_str_eq(vigil_journal_path(j), path);
	close_ok(j);

	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 3);
	ck_assert_uint_eq(seen.type[0], 7);
	ck_assert_uint_eq(seen.len[0], 5);
	ck_assert(!memcmp(seen.data[0], "hello", 5));
	ck_assert_uint_eq(seen.type[1], 255);
	ck_assert_uint_eq(seen.len[1], 0);
	ck_assert_uint_eq(seen.type[2], 1);
	ck_assert(!memcmp(seen.data[2], "\0\1\2", 3));
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.replayed, 3);
	ck_assert_uint_eq(st.records, 3);
	ck_assert_uint_eq(st.cut, 0);
	ck_assert_uint_eq(st.appended, 0);
	close_ok(j);
	/* A clean journal is opened without a word above info. */
	ck_assert_int_eq(logged("error", "journal", NULL), 0);
	ck_assert_int_eq(logged("warning", "journal", NULL), 0);
}
END_TEST

START_TEST(replay_order_and_sizes)
{
	static uint8_t big[VIGIL_JOURNAL_RECORD_MAX + 1];
	struct vigil_journal *j = open_into(&never, &seen);
	unsigned i;

	for (i = 0; i < 1000; i++)
		append_gen(j, i);
	/* Larger than the replay's read chunk, and the largest allowed. */
	memset(big, 0xa5, sizeof(big));
	ck_assert_int_eq(vigil_journal_append(j, 9, big, 200000), 0);
	ck_assert_int_eq(vigil_journal_append(j, 10, big,
					      VIGIL_JOURNAL_RECORD_MAX),
			 0);
	ck_assert_int_eq(vigil_journal_append(j, 11, big, sizeof(big)),
			 -EMSGSIZE);
	ck_assert_int_eq(vigil_journal_append(j, 0, "x", 1), -EINVAL);
	append_gen(j, 1000);
	close_ok(j);

	j = open_into(&never, &seen);
	ck_assert_uint_eq(seen.n, 1003);
	for (i = 0; i < 1000; i++)
		assert_gen(&seen, i, i);
	ck_assert_uint_eq(seen.len[1000], 200000);
	ck_assert_uint_eq(seen.len[1001], VIGIL_JOURNAL_RECORD_MAX);
	ck_assert(!memcmp(seen.data[1001], big, VIGIL_JOURNAL_RECORD_MAX));
	assert_gen(&seen, 1002, 1000);
	close_ok(j);
}
END_TEST

START_TEST(wire_payloads)
{
	struct vigil_journal *j = open_into(NULL, &seen);
	struct vigil_wire_reader r;
	struct vigil_wire w = {0};

	vigil_wire_begin(&w, 0, 0);
	vigil_wire_put_u32(&w, 42);
	vigil_wire_put_str(&w, "disk_full{mount=/}");
	vigil_wire_put_str(&w, NULL);
	vigil_wire_put_f64(&w, 97.5);
	ck_assert_int_eq(vigil_journal_append_wire(j, 3, &w), 0);
	vigil_wire_free(&w);
	close_ok(j);

	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.type[0], 3);
	vigil_journal_wire_reader(&r, seen.data[0], seen.len[0]);
	ck_assert_uint_eq(vigil_wire_get_u32(&r), 42);
	ck_assert_str_eq(vigil_wire_get_str(&r), "disk_full{mount=/}");
	ck_assert_ptr_null(vigil_wire_get_str(&r));
	ck_assert(vigil_wire_get_f64(&r) == 97.5);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(r.left, 0);
	vigil_wire_get_u32(&r);
	ck_assert_int_ne(r.err, 0); /* nothing past the payload */
	vigil_wire_reader_free(&r);
	close_ok(j);
}
END_TEST

START_TEST(replay_callback_error_stops_open)
{
	struct vigil_journal *j = open_into(NULL, &seen);
	uint64_t size;

	for (unsigned i = 0; i < 5; i++)
		append_gen(j, i);
	close_ok(j);
	size = file_size(path);

	seen_reset(&seen);
	seen.fail_at = 2;
	ck_assert_int_eq(vigil_journal_open(&j, path, NULL, collect, &seen),
			 -EBADMSG);
	ck_assert_ptr_null(j);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_uint_eq(file_size(path), size); /* nothing cut */
	ck_assert_int_eq(logged("error", path, "replay stopped at record 3"),
			 1);
	/* Without a callback the records are only counted. */
	ck_assert_int_eq(vigil_journal_open(&j, path, NULL, NULL, NULL), 0);
	close_ok(j);
}
END_TEST

START_TEST(locked_while_open)
{
	struct vigil_journal *j = open_into(NULL, &seen), *k;

	ck_assert_int_eq(vigil_journal_open(&k, path, NULL, NULL, NULL),
			 -EBUSY);
	ck_assert_ptr_null(k);
	ck_assert_int_eq(logged("error", path, "in use by another process"),
			 1);
	close_ok(j);
	ck_assert_int_eq(vigil_journal_open(&k, path, NULL, NULL, NULL), 0);
	close_ok(k);
}
END_TEST

START_TEST(not_a_regular_file)
{
	struct vigil_journal *j;

	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(vigil_journal_open(&j, path, NULL, NULL, NULL),
			 -EISDIR);
	ck_assert_ptr_null(j);
	ck_assert_int_eq(logged("error", path, "not a regular file"), 1);
	rmdir(path);
}
END_TEST

/* ------------------------------------------------------- torn and bad */

START_TEST(torn_tail_at_every_offset)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(&never, &seen);
	uint64_t last, end;
	uint8_t *pristine;
	size_t n;

	for (unsigned i = 0; i < 4; i++)
		append_gen(j, i);
	vigil_journal_stats(j, &st);
	last = st.size;
	append_gen(j, 4); /* gen(4): 148 bytes, the one torn */
	vigil_journal_stats(j, &st);
	end = st.size;
	close_ok(j);
	pristine = slurp(path, &n);
	ck_assert_uint_eq(n, end);
	ck_assert_uint_gt(end - last, VIGIL_JOURNAL_RECORD_HEADER + 100);

	/* As a crash can leave it: any prefix of the last record. */
	for (uint64_t len = last; len < end; len++) {
		int lines = log_lines(), torn;
		char where[64];

		snprintf(where, sizeof(where), "record 5 at offset %llu",
			 (unsigned long long)last);
		torn = logged("warning", path, where);
		spit(path, pristine, len);
		j = open_into(&never, &seen);
		ck_assert_uint_eq(seen.n, 4);
		for (unsigned i = 0; i < 4; i++)
			assert_gen(&seen, i, i);
		vigil_journal_stats(j, &st);
		ck_assert_uint_eq(st.size, last);
		ck_assert_uint_eq(st.cut, len - last);
		ck_assert_uint_eq(file_size(path), last);
		if (len == last) {
			ck_assert_int_eq(log_lines(), lines);
		} else {
			char cut[64];

			/* One line: path, offset, what, bytes cut. */
			snprintf(cut, sizeof(cut), "cut %llu bytes",
				 (unsigned long long)(len - last));
			ck_assert_int_eq(log_lines(), lines + 1);
			ck_assert_int_eq(logged("warning", path, where),
					 torn + 1);
			ck_assert_int_eq(logged("warning", where, cut), 1);
			ck_assert_int_eq(logged("warning", cut,
						"the file ends inside a "
						"record"),
					 1);
		}
		/* And the journal goes on from there. */
		append_gen(j, 99);
		close_ok(j);
		j = open_into(&never, &seen);
		ck_assert_uint_eq(seen.n, 5);
		assert_gen(&seen, 3, 3);
		assert_gen(&seen, 4, 99);
		close_ok(j);
	}
	free(pristine);
}
END_TEST

/* Five records, then what is at `rel` in the sixth (of ten) flipped:
 * the first five stay, the rest is cut and logged as an error. */
static void flip_in_middle(uint64_t rel, int bit, const char *what)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(&never, &seen);
	uint64_t sixth = 0, end;
	char where[64];

	for (unsigned i = 0; i < 10; i++) {
		if (i == 5) {
			vigil_journal_stats(j, &st);
			sixth = st.size;
		}
		append_gen(j, i);
	}
	vigil_journal_stats(j, &st);
	end = st.size;
	close_ok(j);

	flip_bit(path, sixth + rel, bit);
	j = open_into(&never, &seen);
	ck_assert_uint_eq(seen.n, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_gen(&seen, i, i);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.records, 5);
	ck_assert_uint_eq(st.size, sixth);
	ck_assert_uint_eq(st.cut, end - sixth);
	ck_assert_uint_eq(file_size(path), sixth);
	snprintf(where, sizeof(where), "record 6 at offset %llu",
		 (unsigned long long)sixth);
	ck_assert_msg(logged("error", where, what) == 1,
		      "no error line with '%s' and '%s'", where, what);
	append_gen(j, 5);
	close_ok(j);
	j = open_into(&never, &seen);
	ck_assert_uint_eq(seen.n, 6);
	assert_gen(&seen, 5, 5);
	close_ok(j);
}

START_TEST(flipped_bit_in_payload)
{
	flip_in_middle(VIGIL_JOURNAL_RECORD_HEADER + 10, 3, "checksum 0x");
}
END_TEST

START_TEST(flipped_bit_in_crc)
{
	flip_in_middle(9, 0, "checksum 0x");
}
END_TEST

START_TEST(flipped_bit_in_type)
{
	flip_in_middle(4, 6, "checksum 0x");
}
END_TEST

START_TEST(flipped_bit_in_length)
{
	/* Low bit: a record one byte longer, whose checksum then fails. */
	flip_in_middle(0, 0, "checksum 0x");
}
END_TEST

START_TEST(flipped_high_bit_in_length)
{
	/* A length beyond the limit is refused before anything is read. */
	flip_in_middle(3, 7, "more than the 1048576 allowed");
}
END_TEST

/* A record made by hand from journal.h's description of the format. */
static size_t hand_record(uint8_t *out, uint8_t type, const char *payload)
{
	size_t len = strlen(payload);
	uint32_t crc;

	out[0] = (uint8_t)len; /* little-endian u32 */
	out[1] = out[2] = out[3] = 0;
	out[4] = type;
	out[5] = out[6] = out[7] = 0;
	crc = vigil_crc32c(vigil_crc32c(0, out, 8), payload, len);
	for (int k = 0; k < 4; k++)
		out[8 + k] = (uint8_t)(crc >> (8 * k));
	memcpy(out + 12, payload, len);
	return 12 + len;
}

START_TEST(format_as_documented)
{
	uint8_t file[128] = {'V', 'G', 'L', 'J', 1, 0, 0, 0}, *b;
	size_t n = 8, second, m;
	struct vigil_journal *j;

	n += hand_record(file + n, 42, "ack 17");
	second = n;
	n += hand_record(file + n, 0, "x"); /* a good checksum, type 0 */
	spit(path, file, n);
	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert_uint_eq(seen.type[0], 42);
	ck_assert_uint_eq(seen.len[0], 6);
	ck_assert(!memcmp(seen.data[0], "ack 17", 6));
	ck_assert_uint_eq(file_size(path), second);
	ck_assert_int_eq(logged("error", "record 2 at offset 26", "type 0"),
			 1);
	/* What the journal writes is byte for byte the same. */
	ck_assert_int_eq(vigil_journal_append(j, 7, "silence", 7), 0);
	close_ok(j);
	n = second + hand_record(file + second, 7, "silence");
	b = slurp(path, &m);
	ck_assert_uint_eq(m, n);
	ck_assert(!memcmp(b, file, n));
	free(b);
}
END_TEST

START_TEST(zero_filled_tail)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(&never, &seen);
	uint64_t end;
	int fd;

	for (unsigned i = 0; i < 3; i++)
		append_gen(j, i);
	vigil_journal_stats(j, &st);
	end = st.size;
	close_ok(j);
	/* What a power loss can leave: the size grew, the data did not. */
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_eq(ftruncate(fd, (off_t)end + 4096), 0);
	close(fd);

	j = open_into(&never, &seen);
	ck_assert_uint_eq(seen.n, 3);
	ck_assert_uint_eq(file_size(path), end);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.cut, 4096);
	ck_assert_int_eq(logged("error", "all zeroes", "cut 4096 bytes"), 1);
	close_ok(j);
}
END_TEST

/* Opens a file holding `text` of `n` bytes where the journal should be:
 * expects it moved aside (when `moved`) with its bytes intact, and an
 * empty journal in its place. */
static void open_garbage(const void *text, size_t n, int moved)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j;
	char *aside = NULL;

	spit(path, text, n);
	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(file_size(path), VIGIL_JOURNAL_HEADER);
	ck_assert_int_eq(count_prefixed("incidents.journal.corrupt-", &aside),
			 moved);
	if (moved) {
		uint8_t *b;
		size_t m;

		b = slurp(aside, &m);
		ck_assert_uint_eq(m, n);
		ck_assert(!memcmp(b, text, n));
		free(b);
		ck_assert_int_eq(logged("error", path, "not a journal"), 1);
		ck_assert_int_eq(logged("error", "moved to", aside), 1);
		free(aside);
	}
	append_gen(j, 1);
	close_ok(j);
	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 1);
	close_ok(j);
	ck_assert_int_eq(count_prefixed("incidents.journal.tmp", NULL), 0);
}

START_TEST(bad_magic_moved_aside)
{
	const char text[] = "[daemon]\nlog_level = info\n";

	open_garbage(text, sizeof(text) - 1, 1);
	ck_assert_int_eq(logged("error", "expected the magic \"VGLJ\"",
				"5b 64 61 65"),
			 1);
}
END_TEST

START_TEST(bad_version_moved_aside)
{
	const uint8_t text[] = {'V', 'G', 'L', 'J', 99, 0, 0, 0, 1, 2, 3};

	open_garbage(text, sizeof(text), 1);
	ck_assert_int_eq(logged("error", "format version 99",
				"reads version 1"),
			 1);
}
END_TEST

START_TEST(short_garbage_moved_aside)
{
	open_garbage("xyz", 3, 1);
}
END_TEST

START_TEST(torn_header_starts_afresh)
{
	/* A prefix of the header: a crash as the file was made. */
	open_garbage("VGLJ\1", 5, 0);
	ck_assert_int_eq(logged("warning", path, "ends inside its header"), 1);
}
END_TEST

START_TEST(empty_file_starts_afresh)
{
	open_garbage("", 0, 0);
	ck_assert_int_eq(logged("error", "journal", NULL), 0);
	ck_assert_int_eq(logged("warning", "journal", NULL), 0);
}
END_TEST

START_TEST(stale_tmp_removed)
{
	char *tmp = vigil_xasprintf("%s.tmp", path);
	struct vigil_journal *j = open_into(NULL, &seen);

	append_gen(j, 0);
	close_ok(j);
	spit(tmp, "half a compaction", 17);
	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 1);
	ck_assert(!exists(tmp));
	ck_assert_int_eq(logged("notice", tmp, "did not finish"), 1);
	close_ok(j);
	free(tmp);
}
END_TEST

/* --------------------------------------------------------- compaction */

/* The live state of the compaction tests: keys 0..99 set by record type
 * 1 (payload: the key), deleted by type 2. */
struct live {
	int set[100];
	int fail; /* the dump fails with this after 3 records */
};

static int dump_live(void *arg, struct vigil_journal *into)
{
	struct live *l = arg;
	int n = 0;

	for (unsigned k = 0; k < 100; k++) {
		uint8_t key = (uint8_t)k;
		int err;

		if (!l->set[k])
			continue;
		if (l->fail && n == 3)
			return l->fail;
		err = vigil_journal_append(into, 1, &key, 1);
		if (err < 0)
			return err;
		n++;
	}
	return 0;
}

START_TEST(compaction_keeps_the_live_records)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(NULL, &seen);
	struct live live;
	uint64_t before;

	memset(&live, 0, sizeof(live));
	for (unsigned k = 0; k < 100; k++) {
		uint8_t key = (uint8_t)k;

		ck_assert_int_eq(vigil_journal_append(j, 1, &key, 1), 0);
		live.set[k] = 1;
	}
	for (unsigned k = 0; k < 100; k++) {
		uint8_t key = (uint8_t)k;

		if (k % 10 == 3)
			continue;
		ck_assert_int_eq(vigil_journal_append(j, 2, &key, 1), 0);
		live.set[k] = 0;
	}
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.records, 190);
	before = st.size;
	ck_assert(vigil_journal_compact_due(st.size,
					    10 * vigil_journal_record_bytes(1),
					    1024));
	ck_assert(!vigil_journal_compact_due(st.size,
					     10 * vigil_journal_record_bytes(1),
					     1 << 20));

	/* A dump that fails leaves everything as it was. */
	live.fail = -EIO;
	ck_assert_int_eq(vigil_journal_compact(j, dump_live, &live), -EIO);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.records, 190);
	ck_assert_uint_eq(st.size, before);
	ck_assert_uint_eq(st.compactions, 0);
	ck_assert_uint_eq(file_size(path), before);
	ck_assert_int_eq(count_prefixed("incidents.journal.tmp", NULL), 0);
	ck_assert_int_eq(logged("error", path, "compaction abandoned"), 1);

	live.fail = 0;
	ck_assert_int_eq(vigil_journal_compact(j, dump_live, &live), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.records, 10);
	ck_assert_uint_eq(st.compactions, 1);
	ck_assert_uint_eq(st.size, VIGIL_JOURNAL_HEADER +
					   10 * vigil_journal_record_bytes(1));
	ck_assert_uint_eq(file_size(path), st.size);
	/* No PATH.tmp left: beside it only its lock file. */
	ck_assert_int_eq(count_prefixed("incidents.journal.", NULL), 1);
	ck_assert_int_eq(count_prefixed("incidents.journal.lock", NULL), 1);
	ck_assert(!vigil_journal_compact_due(st.size,
					     10 * vigil_journal_record_bytes(1),
					     0));
	/* Appends go on in the new file. */
	ck_assert_int_eq(vigil_journal_append(j, 2, "\3", 1), 0);
	close_ok(j);

	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 11);
	for (unsigned i = 0; i < 10; i++) {
		ck_assert_uint_eq(seen.type[i], 1);
		ck_assert_uint_eq(seen.data[i][0], i * 10 + 3);
	}
	ck_assert_uint_eq(seen.type[10], 2);
	close_ok(j);
}
END_TEST

START_TEST(compaction_to_nothing)
{
	struct vigil_journal *j = open_into(NULL, &seen);
	struct live live;

	memset(&live, 0, sizeof(live));
	for (unsigned i = 0; i < 20; i++)
		append_gen(j, i);
	ck_assert_int_eq(vigil_journal_compact(j, dump_live, &live), 0);
	ck_assert_uint_eq(file_size(path), VIGIL_JOURNAL_HEADER);
	close_ok(j);
	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 0);
	close_ok(j);
}
END_TEST

/* ---------------------------------------------------------- disk full */

/* A full disk, played by RLIMIT_FSIZE (writes past it fail with EFBIG
 * once SIGXFSZ is ignored), in a child of its own so the limit dies with
 * it. The child reports the first step that went wrong as its exit
 * status; it must not use ck_assert. */
static int full_disk_child(void)
{
	uint8_t buf[GEN_MAX], type;
	struct vigil_journal *j;
	struct vigil_journal_stats st;
	struct rlimit rl;
	struct stat sb;
	size_t len;

	signal(SIGXFSZ, SIG_IGN);
	if (vigil_journal_open(&j, path, &never, NULL, NULL) < 0)
		return 10;
	for (unsigned i = 0; i < 10; i++) {
		len = gen(i, &type, buf);
		if (vigil_journal_append(j, type, buf, len) < 0)
			return 11;
	}
	vigil_journal_stats(j, &st);
	if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 12;
	/* Room for a 50-byte record, not for the 148 of gen(4). */
	rl.rlim_cur = st.size + 100;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 13;
	len = gen(4, &type, buf);
	if (vigil_journal_append(j, type, buf, len) != -EFBIG)
		return 14;
	if (stat(path, &sb) < 0 || (uint64_t)sb.st_size != st.size)
		return 15; /* the part that fitted was cut off again */
	if (vigil_journal_append(j, type, buf, len) != -EFBIG)
		return 16;
	if (vigil_journal_append(j, 50, buf, 50) != 0)
		return 17; /* a record that fits still goes in */
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		return 18;
	if (vigil_journal_append(j, type, buf, len) != 0)
		return 19; /* room again */
	if (vigil_journal_close(j) < 0)
		return 20;
	return 0;
}

START_TEST(full_disk_keeps_the_file_whole)
{
	struct vigil_journal *j;
	int status;
	pid_t pid;

	fflush(stderr);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(full_disk_child());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child failed at step %d (status 0x%x)",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);

	j = open_into(NULL, &seen);
	ck_assert_uint_eq(seen.n, 12);
	for (unsigned i = 0; i < 10; i++)
		assert_gen(&seen, i, i);
	ck_assert_uint_eq(seen.type[10], 50);
	ck_assert_uint_eq(seen.len[10], 50);
	assert_gen(&seen, 11, 4);
	close_ok(j);
	/* Reported when it started (once for two failures) and when it
	 * cleared. */
	ck_assert_int_eq(logged("error", path, "File too large"), 1);
	ck_assert_int_eq(logged("notice", path, "appending again"), 1);
	ck_assert_int_eq(logged("warning", "journal", NULL), 0);
}
END_TEST

/* ------------------------------------------------------ fsync policies */

START_TEST(sync_always)
{
	const struct vigil_journal_opts o = {.sync = VIGIL_JOURNAL_SYNC_ALWAYS};
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(&o, &seen);

	for (unsigned i = 0; i < 3; i++)
		append_gen(j, i);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 3);
	ck_assert_int_eq(st.dirty, 0);
	ck_assert_int_eq(vigil_journal_next_tick(j), 0);
	close_ok(j);
	j = open_into(&o, &seen);
	ck_assert_uint_eq(seen.n, 3);
	close_ok(j);
}
END_TEST

START_TEST(sync_interval)
{
	const struct vigil_journal_opts o = {
		.sync = VIGIL_JOURNAL_SYNC_INTERVAL,
		.sync_interval = 2 * VIGIL_SEC,
	};
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(&o, &seen);
	vigil_time_ns due;

	/* Nothing to sync, nothing due. */
	ck_assert_int_eq(vigil_journal_next_tick(j), 0);
	ck_assert_int_eq(vigil_journal_tick(j, vigil_monotonic() + 60 * VIGIL_SEC),
			 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 0);

	append_gen(j, 0);
	append_gen(j, 1);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 0);
	ck_assert_int_eq(st.dirty, 1);
	due = vigil_journal_next_tick(j);
	ck_assert_int_gt(due, 0);
	ck_assert_int_le(due, vigil_monotonic() + 2 * VIGIL_SEC);

	ck_assert_int_eq(vigil_journal_tick(j, due - 1), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 0);
	ck_assert_int_eq(vigil_journal_tick(j, due), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 1);
	ck_assert_int_eq(st.dirty, 0);
	ck_assert_int_eq(vigil_journal_next_tick(j), 0);

	/* The next one is due an interval after that sync. */
	append_gen(j, 2);
	ck_assert_int_eq(vigil_journal_next_tick(j), due + 2 * VIGIL_SEC);
	ck_assert_int_eq(vigil_journal_tick(j, due + VIGIL_SEC), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 1);
	/* close syncs what is left. */
	close_ok(j);
	j = open_into(&o, &seen);
	ck_assert_uint_eq(seen.n, 3);
	close_ok(j);
}
END_TEST

START_TEST(sync_interval_default)
{
	const struct vigil_journal_opts o = {
		.sync = VIGIL_JOURNAL_SYNC_INTERVAL,
	};
	struct vigil_journal *j = open_into(&o, &seen);
	vigil_time_ns before = vigil_monotonic(), due;

	append_gen(j, 0);
	due = vigil_journal_next_tick(j);
	ck_assert_int_le(due, before + VIGIL_SEC);
	ck_assert_int_gt(due, before + VIGIL_SEC - VIGIL_SEC / 2);
	close_ok(j);
}
END_TEST

START_TEST(sync_never)
{
	struct vigil_journal_stats st;
	struct vigil_journal *j = open_into(&never, &seen);

	append_gen(j, 0);
	ck_assert_int_eq(vigil_journal_next_tick(j), 0);
	ck_assert_int_eq(vigil_journal_tick(j, vigil_monotonic() + 3600 * VIGIL_SEC),
			 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 0);
	ck_assert_int_eq(st.dirty, 1);
	/* Asked for explicitly, it syncs all the same. */
	ck_assert_int_eq(vigil_journal_sync(j), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 1);
	ck_assert_int_eq(st.dirty, 0);
	ck_assert_int_eq(vigil_journal_sync(j), 0);
	vigil_journal_stats(j, &st);
	ck_assert_uint_eq(st.syncs, 1); /* nothing dirty: no fdatasync */
	append_gen(j, 1);
	close_ok(j);
	j = open_into(&never, &seen);
	ck_assert_uint_eq(seen.n, 2);
	close_ok(j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal");
	TCase *tc;

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, crc32c_check_value);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, replay_order_and_sizes);
	tcase_add_test(tc, wire_payloads);
	tcase_add_test(tc, replay_callback_error_stops_open);
	tcase_add_test(tc, locked_while_open);
	tcase_add_test(tc, not_a_regular_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("damage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, torn_tail_at_every_offset);
	tcase_add_test(tc, flipped_bit_in_payload);
	tcase_add_test(tc, flipped_bit_in_crc);
	tcase_add_test(tc, flipped_bit_in_type);
	tcase_add_test(tc, flipped_bit_in_length);
	tcase_add_test(tc, flipped_high_bit_in_length);
	tcase_add_test(tc, zero_filled_tail);
	tcase_add_test(tc, format_as_documented);
	tcase_add_test(tc, bad_magic_moved_aside);
	tcase_add_test(tc, bad_version_moved_aside);
	tcase_add_test(tc, short_garbage_moved_aside);
	tcase_add_test(tc, torn_header_starts_afresh);
	tcase_add_test(tc, empty_file_starts_afresh);
	tcase_add_test(tc, stale_tmp_removed);
	tcase_add_test(tc, full_disk_keeps_the_file_whole);
	suite_add_tcase(s, tc);

	tc = tcase_create("compaction");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, compaction_keeps_the_live_records);
	tcase_add_test(tc, compaction_to_nothing);
	suite_add_tcase(s, tc);

	tc = tcase_create("sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sync_always);
	tcase_add_test(tc, sync_interval);
	tcase_add_test(tc, sync_interval_default);
	tcase_add_test(tc, sync_never);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
