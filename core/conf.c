/*
 * conf.c - reading the INI file with inih, keeping line numbers.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the line a key came
 * from is counted here, in the reader inih pulls lines through. The reader
 * also sees every raw line, which lets it report every syntax error (inih
 * reports only the first), refuse what is not text (NUL bytes, UTF-16, CR
 * line endings, control characters, invalid UTF-8), skip the keys under a
 * broken section header (instead of one error each), strip leading blanks
 * (which inih would take as a continuation of the previous value), and
 * take lines longer than inih's buffer of 200 bytes, which inih would
 * split: such a value reaches inih as a placeholder and the handler takes
 * the value the reader kept.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "conf.h"
#include "utf8.h"
#include "util.h"

void vigil_diag_add(struct vigil_diag *d, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	vigil_grow((void **)&d->msgs, &d->cap, d->n + 1, sizeof(*d->msgs));
	d->msgs[d->n++] = s;
}

void vigil_diag_free(struct vigil_diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->msgs[i]);
	free(d->msgs);
	memset(d, 0, sizeof(*d));
}

/* The longest line read (inih's own buffer is far shorter: longer values
 * are handed to it as a placeholder, see conf_reader), and the largest
 * file: a configuration is a few kB; /dev/zero or a log named by mistake
 * is not read for ever. */
#define LINE_MAX_LEN 65535
#define CONF_MAX_BYTES (1024 * 1024)

/* What inih is given for a value too long for its buffer; conf_handler
 * takes the value kept in reader.pending instead. */
#define LONG_VALUE "\x01"

struct reader {
	FILE *f;          /* either a file ... */
	const char *text; /* ... or a string */
	const char *name;
	int line;
	struct vigil_conf *conf;
	struct vigil_diag *diag;
	struct vigil_conf_section *cur; /* section of the last header */
	int skipping;   /* under a broken header: its keys are not checked */
	int stop;       /* not text: the rest is not read */
	int read_errno; /* a read failed */
	size_t bytes;   /* read so far */
	char *buf;      /* LINE_MAX_LEN + 2 */
	char *pending;  /* the value behind LONG_VALUE */
};

static struct vigil_conf_section *find_section(struct vigil_conf *conf,
					       const char *name)
{
	for (size_t i = 0; i < conf->n; i++)
		if (strcmp(conf->sections[i].name, name) == 0)
			return &conf->sections[i];
	return NULL;
}

static struct vigil_conf_section *add_section(struct vigil_conf *conf,
					      const char *name, int line)
{
	struct vigil_conf_section *s;

	vigil_grow((void **)&conf->sections, &conf->cap, conf->n + 1,
		   sizeof(*conf->sections));
	s = &conf->sections[conf->n++];
	memset(s, 0, sizeof(*s));
	s->name = vigil_xstrdup(name);
	s->line = line;
	return s;
}

/* Reads one whole line into r->buf (no newline); *len is its length,
 * NUL bytes included. 0 at end of input, 1 for a line, 2 for a line
 * longer than LINE_MAX_LEN (its tail is discarded). */
static int read_line(struct reader *r, size_t *len)
{
	size_t n = 0;
	int c, too_long = 0, any = 0;

	for (;;) {
		if (r->f) {
			c = getc(r->f);
			if (c == EOF && ferror(r->f))
				r->read_errno = errno ? errno : EIO;
		} else {
			c = *r->text ? (unsigned char)*r->text : EOF;
			if (c != EOF)
				r->text++;
		}
		if (c == EOF)
			break;
		if (r->bytes++ == CONF_MAX_BYTES) {
			vigil_diag_add(r->diag,
				       "%s:%d: the file is larger than %d "
				       "bytes; stopped reading (is it the "
				       "configuration?)",
				       r->name, r->line + 1, CONF_MAX_BYTES);
			r->stop = 1;
			return 0;
		}
		any = 1;
		if (c == '\n')
			break;
		/* One more than the longest line: its CR, if CRLF. */
		if (n < LINE_MAX_LEN + 1)
			r->buf[n++] = (char)c;
		else
			too_long = 1;
	}
	r->buf[n] = '\0';
	if (!any)
		return 0;
	if (n && r->buf[n - 1] == '\r')
		r->buf[--n] = '\0';
	*len = n;
	return too_long || n > LINE_MAX_LEN ? 2 : 1;
}

/* Whether the line is text vigild can read: UTF-8, no NUL, no control
 * character but tab. A file that is not text at all (NUL bytes, UTF-16,
 * CR line endings: one long line) is reported once and not read further;
 * a stray byte costs its line only. */
static int line_is_text(struct reader *r, const char *line, size_t len)
{
	const unsigned char *u = (const unsigned char *)line;

	if (r->line == 1 && len >= 2 &&
	    ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
		vigil_diag_add(r->diag, "%s:1: the file is UTF-16 text; save it "
			       "as UTF-8", r->name);
		r->stop = 1;
		return 0;
	}
	for (size_t i = 0; i < len;) {
		size_t k;

		if (u[i] == '\0') {
			vigil_diag_add(r->diag,
				       "%s:%d: NUL byte at column %zu: not a "
				       "text file; stopped reading",
				       r->name, r->line, i + 1);
			r->stop = 1;
			return 0;
		}
		if (u[i] == '\r') {
			vigil_diag_add(r->diag,
				       "%s:%d: carriage return at column %zu, "
				       "inside a line: the file has CR line "
				       "endings? vigild reads LF or CRLF; "
				       "stopped reading",
				       r->name, r->line, i + 1);
			r->stop = 1;
			return 0;
		}
		if ((u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f) {
			vigil_diag_add(r->diag,
				       "%s:%d: control character 0x%02x at "
				       "column %zu; remove it",
				       r->name, r->line, u[i], i + 1);
			return 0;
		}
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		k = vigil_utf8_seq(u + i, len - i);
		if (!k) {
			vigil_diag_add(r->diag,
				       "%s:%d: byte 0x%02x at column %zu is "
				       "not UTF-8; save the file as UTF-8",
				       r->name, r->line, u[i], i + 1);
			return 0;
		}
		i += k;
	}
	return 1;
}

/* A section header that is no header: its keys are skipped, not filed
 * under the section before it nor each reported as outside any. */
static const char *broken_header(struct reader *r)
{
	r->cur = NULL;
	r->skipping = 1;
	return "";
}

/* Checks a section header line (p at '['): notes the section, or
 * reports what is wrong with it. Returns what inih is to see. */
static const char *check_header(struct reader *r, char *p)
{
	char *end = strchr(p, ']'), *name = p + 1;
	const char *rest;
	struct vigil_conf_section *s;

	if (!end) {
		vigil_diag_add(r->diag,
			       "%s:%d: section header '%s' has no closing ']'",
			       r->name, r->line, p);
		return broken_header(r);
	}
	*end = '\0';
	if (!*name || strcspn(name, "[;#") != strlen(name)) {
		vigil_diag_add(r->diag,
			       "%s:%d: section header '[%s]': expected "
			       "[KIND.NAME], a name without '[', ';' or '#'",
			       r->name, r->line, name);
		*end = ']';
		return broken_header(r);
	}
	rest = end + 1;
	while (isspace((unsigned char)*rest))
		rest++;
	if (*rest && *rest != ';' && *rest != '#')
		vigil_diag_add(r->diag,
			       "%s:%d: unexpected '%s' after section header [%s]",
			       r->name, r->line, rest, name);
	s = find_section(r->conf, name);
	if (s) {
		vigil_diag_add(r->diag,
			       "%s:%d: section [%s] appears twice (first at "
			       "line %d); merge them into one",
			       r->name, r->line, name, s->line);
	} else {
		s = add_section(r->conf, name, r->line);
	}
	r->cur = s;
	r->skipping = 0;
	*end = ']';
	return p;
}

/* Where inih's find_chars_or_comment stops in s: at one of `chars`, or at
 * an inline comment (';' after a blank). */
static const char *until(const char *s, const char *chars)
{
	int was_space = 0;

	while (*s && !(chars && strchr(chars, *s)) &&
	       !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* Checks the syntax of a line inih is about to see, notes section headers,
 * and returns the line with leading blanks stripped. */
static const char *check_line(struct reader *r, char *line)
{
	const char *sep;
	char *p = line;

	/* A UTF-8 byte order mark, as some editors write: inih would skip
	 * it, but the checks below see the line first. */
	if (r->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == ';' || *p == '#')
		return p;
	if (*p == '[')
		return check_header(r, p);
	/* As inih splits it: at the first '=' or ':', unless an inline
	 * comment (" ;") comes first, which inih refuses without a word. */
	sep = until(p, "=:");
	if (*sep != '=' && *sep != ':') {
		vigil_diag_add(r->diag,
			       "%s:%d: expected 'key = value' or '[section]', "
			       "found '%s'",
			       r->name, r->line, p);
		return "";
	}
	if (*p == '=' || *p == ':') {
		vigil_diag_add(r->diag, "%s:%d: a key is missing before '%c'",
			       r->name, r->line, *p);
		return "";
	}
	return p;
}

/* The length of the key of a `key = value` line, trailing blanks not
 * counted, as inih takes it. */
static size_t key_len(const char *line)
{
	const char *e = until(line, "=:");

	while (e > line && isspace((unsigned char)e[-1]))
		e--;
	return (size_t)(e - line);
}

/* A key = value line too long for inih's buffer (`room` bytes): inih is
 * handed "key = LONG_VALUE" and r->pending keeps the value, split as inih
 * splits a line (first '=' or ':', inline comment, blanks trimmed). NULL
 * if even the key does not fit. */
static char *long_entry(struct reader *r, const char *line, size_t room)
{
	const char *sep = until(line, "=:"), *v, *e;
	size_t klen = key_len(line);
	char *out;

	if (klen + sizeof(" = " LONG_VALUE "\n") > room)
		return NULL;
	/* As inih: the comment is looked for from right after the
	 * separator ("= ;x" is empty), then blanks are trimmed. */
	v = sep + 1;
	e = until(v, NULL);
	while (v < e && isspace((unsigned char)*v))
		v++;
	while (e > v && isspace((unsigned char)e[-1]))
		e--;
	free(r->pending);
	r->pending = vigil_xmalloc((size_t)(e - v) + 1);
	memcpy(r->pending, v, (size_t)(e - v));
	r->pending[e - v] = '\0';
	out = vigil_xmalloc(klen + sizeof(" = " LONG_VALUE));
	memcpy(out, line, klen);
	strcpy(out + klen, " = " LONG_VALUE);
	return out;
}

static char *conf_reader(char *str, int num, void *stream)
{
	struct reader *r = stream;
	const char *clean;
	char *entry = NULL;
	size_t len = 0;
	int rc;

	if (r->stop || !(rc = read_line(r, &len)))
		return NULL;
	r->line++;
	if (rc == 2)
		vigil_diag_add(r->diag,
			       "%s:%d: line is longer than %d characters; "
			       "shorten it",
			       r->name, r->line, LINE_MAX_LEN);
	if (rc == 2 || !line_is_text(r, r->buf, len)) {
		if (r->stop)
			return NULL;
		/* The line is lost; if it was a header, so are its keys. */
		clean = r->buf[strspn(r->buf, " \t")] == '[' ?
				broken_header(r) :
				"";
	} else {
		clean = check_line(r, r->buf);
	}
	if (strlen(clean) + 2 > (size_t)num) {
		if (*clean == ';' || *clean == '#') {
			clean = "";
		} else if (*clean == '[') {
			/* Checked and noted above: inih need not see it,
			 * only know that a section began (it reports keys
			 * before any section itself otherwise). */
			clean = "[-]";
		} else if ((entry = long_entry(r, clean, (size_t)num))) {
			clean = entry;
		} else {
			vigil_diag_add(r->diag,
				       "%s:%d: a key of %zu characters; "
				       "expected a short name",
				       r->name, r->line, key_len(clean));
			clean = "";
		}
	}
	snprintf(str, (size_t)num, "%s\n", clean);
	free(entry);
	return str;
}

static int conf_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	struct reader *r = user;
	struct vigil_conf_section *s = r->cur;
	struct vigil_conf_entry *e;
	char *long_value = NULL;

	(void)section; /* r->cur: the section as checked, or none */
	if (r->pending && strcmp(value, LONG_VALUE) == 0)
		long_value = r->pending;
	r->pending = NULL;
	if (r->skipping) {
		free(long_value);
		return 1;
	}
	if (!s) {
		vigil_diag_add(r->diag,
			       "%s:%d: key '%s' is outside any section; put "
			       "it under [daemon] or a plugin section",
			       r->name, r->line, name);
		free(long_value);
		return 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->entries[i].key, name) == 0) {
			vigil_diag_add(r->diag,
				       "%s:%d: [%s] key '%s' is set twice "
				       "(first at line %d); keep one",
				       r->name, r->line, s->name, name,
				       s->entries[i].line);
			free(long_value);
			return 1;
		}
	}
	vigil_grow((void **)&s->entries, &s->cap, s->n + 1, sizeof(*s->entries));
	e = &s->entries[s->n++];
	e->key = vigil_xstrdup(name);
	e->value = long_value ? long_value : vigil_xstrdup(value);
	e->line = r->line;
	return 1;
}

static int load(struct reader *r, struct vigil_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->path = vigil_xstrdup(r->name);
	r->conf = conf;
	r->buf = vigil_xmalloc(LINE_MAX_LEN + 2);
	/* Errors were all reported by the reader and handler; inih's own
	 * return value only repeats the first of them. */
	(void)ini_parse_stream(conf_reader, r, conf_handler, r);
	free(r->buf);
	free(r->pending);
	r->buf = r->pending = NULL;
	if (r->read_errno) {
		vigil_diag_add(r->diag, "%s: cannot read the configuration: %s",
			       r->name, strerror(r->read_errno));
		return -r->read_errno;
	}
	return 0;
}

int vigil_conf_load(const char *path, struct vigil_conf *conf,
		    struct vigil_diag *d)
{
	struct reader r = {.name = path, .diag = d};
	const char *why = NULL;
	struct stat st;
	int fd, rc = 0;

	/* Non-blocking to open: a FIFO without a writer would wait for one
	 * for ever (and with none, reads end at once). */
	fd = *path ? open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	if (!*path)
		why = "the file name is empty";
	else if (fd < 0)
		rc = -errno;
	else if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (S_ISDIR(st.st_mode))
		why = "it is a directory; expected the INI file";
	else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
		why = "not a regular file (a device or a socket); expected "
		      "the INI file";
	if (!rc && !why) {
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		r.f = fdopen(fd, "r");
		if (r.f)
			fd = -1;
		else
			rc = -errno;
	}
	if (fd >= 0)
		close(fd);
	if (rc || why) {
		memset(conf, 0, sizeof(*conf));
		conf->path = vigil_xstrdup(path);
		vigil_diag_add(d, "%s: cannot read the configuration: %s", path,
			       why ? why : strerror(-rc));
		return rc ? rc : -EINVAL;
	}
	rc = load(&r, conf);
	fclose(r.f);
	return rc;
}

int vigil_conf_load_string(const char *text, const char *name,
			   struct vigil_conf *conf, struct vigil_diag *d)
{
	struct reader r = {.text = text, .name = name, .diag = d};

	return load(&r, conf);
}

void vigil_conf_free(struct vigil_conf *conf)
{
	for (size_t i = 0; i < conf->n; i++) {
		struct vigil_conf_section *s = &conf->sections[i];
		for (size_t j = 0; j < s->n; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
		}
		free(s->entries);
		free(s->name);
	}
	free(conf->sections);
	free(conf->path);
	memset(conf, 0, sizeof(*conf));
}

const struct vigil_conf_section *
vigil_conf_section(const struct vigil_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n; i++)
		if (strcmp(conf->sections[i].name, name) == 0)
			return &conf->sections[i];
	return NULL;
}

const struct vigil_conf_entry *
vigil_conf_entry(const struct vigil_conf_section *s, const char *key)
{
	for (size_t i = 0; s && i < s->n; i++)
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	return NULL;
}
