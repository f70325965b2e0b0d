/*
 * conf.h - the INI file as read: sections, keys, values and their lines,
 * and the list of diagnostics gathered while checking it.
 *
 * This layer knows INI syntax only; what a section and key mean is checked
 * against the schemas of the core and the plugins in daemon.c.
 */
#ifndef VIGIL_CONF_H
#define VIGIL_CONF_H

#include <stddef.h>

#include <vigil/plugin.h>

/* Messages for the user, all gathered before any is printed. */
struct vigil_diag {
	char **msgs;
	size_t n, cap;
};
void vigil_diag_add(struct vigil_diag *d, const char *fmt, ...)
	VIGIL_PRINTF(2, 3);
void vigil_diag_free(struct vigil_diag *d);

struct vigil_conf_entry {
	char *key;
	char *value;
	int line;
};

struct vigil_conf_section {
	char *name; /* "sensor.cpu" */
	int line;   /* of the [header] */
	struct vigil_conf_entry *entries;
	size_t n, cap;
};

struct vigil_conf {
	char *path; /* as given, for messages */
	struct vigil_conf_section *sections;
	size_t n, cap;
};

/* Reads `path` into `conf`. Syntax errors go to `d` as "path:line: ...".
 * Returns 0, or -errno if the file cannot be read (also in `d`). A conf is
 * returned even with syntax errors, so later checks can add theirs. */
int vigil_conf_load(const char *path, struct vigil_conf *conf,
		    struct vigil_diag *d);
/* The same from a string; `name` stands for the path in messages. */
int vigil_conf_load_string(const char *text, const char *name,
			   struct vigil_conf *conf, struct vigil_diag *d);
void vigil_conf_free(struct vigil_conf *conf);

const struct vigil_conf_section *
vigil_conf_section(const struct vigil_conf *conf, const char *name);
const struct vigil_conf_entry *
vigil_conf_entry(const struct vigil_conf_section *s, const char *key);

#endif
