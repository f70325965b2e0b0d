/*
 * conf.c - reading the INI file with inih, keeping line numbers.
 *
 * Debian's inih is built without INI_HANDLER_LINENO, so the line a key came
 * from is counted here, in the reader inih pulls lines through. The reader
 * also sees every raw line, which lets it report every syntax error (inih
 * reports only the first), catch lines longer than inih's buffer (which it
 * would silently split), and strip leading blanks (which inih would take as
 * a continuation of the previous value).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
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

struct reader {
	FILE *f;          /* either a file ... */
	const char *text; /* ... or a string */
	const char *name;
	int line;
	struct vigil_conf *conf;
	struct vigil_diag *diag;
	struct vigil_conf_section *cur; /* section of the last header */
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

/* Reads one whole line into `buf` (no newline). 0 at end of input, 1 for a
 * line, 2 for a line too long for `size` (its tail is discarded). */
static int read_line(struct reader *r, char *buf, size_t size)
{
	size_t n = 0;
	int c, too_long = 0, any = 0;

	for (;;) {
		if (r->f) {
			c = getc(r->f);
		} else {
			c = *r->text ? (unsigned char)*r->text : EOF;
			if (c != EOF)
				r->text++;
		}
		if (c == EOF)
			break;
		any = 1;
		if (c == '\n')
			break;
		if (n + 1 < size)
			buf[n++] = (char)c;
		else
			too_long = 1;
	}
	buf[n] = '\0';
	if (!any)
		return 0;
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return too_long ? 2 : 1;
}

/* Checks the syntax of a line inih is about to see, notes section headers,
 * and returns the line with leading blanks stripped. */
static const char *check_line(struct reader *r, char *line)
{
	char *p = line, *end;

	/* A UTF-8 byte order mark, as some editors write: inih would skip
	 * it, but the checks below see the line first. */
	if (r->line == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == ';' || *p == '#')
		return p;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end) {
			vigil_diag_add(r->diag,
				       "%s:%d: section header '%s' has no "
				       "closing ']'",
				       r->name, r->line, p);
			r->cur = NULL;
			return "";
		}
		*end = '\0';
		{
			char *name = p + 1;
			const char *rest = end + 1;
			struct vigil_conf_section *s;

			while (isspace((unsigned char)*rest))
				rest++;
			if (*rest && *rest != ';' && *rest != '#')
				vigil_diag_add(r->diag,
					       "%s:%d: unexpected '%s' after "
					       "section header [%s]",
					       r->name, r->line, rest, name);
			s = find_section(r->conf, name);
			if (s) {
				vigil_diag_add(r->diag,
					       "%s:%d: section [%s] appears "
					       "twice (first at line %d); merge "
					       "them into one",
					       r->name, r->line, name, s->line);
			} else {
				s = add_section(r->conf, name, r->line);
			}
			r->cur = s;
		}
		*end = ']';
		return p;
	}
	if (!strchr(p, '=') && !strchr(p, ':')) {
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

static char *conf_reader(char *str, int num, void *stream)
{
	struct reader *r = stream;
	char line[4096];
	const char *clean;
	int rc;

	rc = read_line(r, line, sizeof(line));
	if (rc == 0)
		return NULL;
	r->line++;
	if (rc == 2 || strlen(line) + 2 > (size_t)num) {
		vigil_diag_add(r->diag,
			       "%s:%d: line is longer than %d characters; "
			       "shorten it",
			       r->name, r->line, num - 2);
		clean = "";
	} else {
		clean = check_line(r, line);
	}
	snprintf(str, (size_t)num, "%s\n", clean);
	return str;
}

static int conf_handler(void *user, const char *section, const char *name,
		       const char *value)
{
	struct reader *r = user;
	struct vigil_conf_section *s = r->cur;
	struct vigil_conf_entry *e;

	if (!*section || !s) {
		vigil_diag_add(r->diag,
			       "%s:%d: key '%s' is outside any section; put "
			       "it under [daemon] or a plugin section",
			       r->name, r->line, name);
		return 1;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->entries[i].key, name) == 0) {
			vigil_diag_add(r->diag,
				       "%s:%d: [%s] key '%s' is set twice "
				       "(first at line %d); keep one",
				       r->name, r->line, s->name, name,
				       s->entries[i].line);
			return 1;
		}
	}
	vigil_grow((void **)&s->entries, &s->cap, s->n + 1, sizeof(*s->entries));
	e = &s->entries[s->n++];
	e->key = vigil_xstrdup(name);
	e->value = vigil_xstrdup(value);
	e->line = r->line;
	return 1;
}

static int load(struct reader *r, struct vigil_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->path = vigil_xstrdup(r->name);
	r->conf = conf;
	/* Errors were all reported by the reader and handler; inih's own
	 * return value only repeats the first of them. */
	(void)ini_parse_stream(conf_reader, r, conf_handler, r);
	return 0;
}

int vigil_conf_load(const char *path, struct vigil_conf *conf,
		    struct vigil_diag *d)
{
	struct reader r = {.name = path, .diag = d};
	int rc;

	r.f = fopen(path, "re");
	if (!r.f) {
		rc = -errno;
		memset(conf, 0, sizeof(*conf));
		conf->path = vigil_xstrdup(path);
		vigil_diag_add(d, "%s: cannot read the configuration: %s", path,
			       strerror(-rc));
		return rc;
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
