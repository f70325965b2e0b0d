/*
 * loader.h - finding, opening and checking plugin shared objects.
 */
#ifndef VIGIL_LOADER_H
#define VIGIL_LOADER_H

#include <stddef.h>

#include <vigil/plugin.h>

/* The size of a descriptor of ABI 1.0: every field up to `flush`. */
#define VIGIL_PLUGIN_SIZE_1_0                                                 \
	(offsetof(struct vigil_plugin, flush) + sizeof(void (*)(void)))

/* One opened .so, shared by every instance that names it. */
struct vigil_module {
	char *path;
	void *handle; /* NULL while only probed */
	/* A zero-filled copy of the plugin's descriptor: fields past the
	 * plugin's struct_size read as NULL, so the core never reads past
	 * what the plugin defined. */
	struct vigil_plugin desc;
	int refs;
	/* A probed module's strings and option table (see
	 * vigil_loader_probe); its callbacks are stubs never to be called. */
	char *probe_buf;
	struct vigil_option *probe_options;
};

struct vigil_loader {
	char **dirs;
	size_t n_dirs;
	struct vigil_module **mods;
	size_t n_mods, cap;
};

/* `path` is colon-separated. */
void vigil_loader_init(struct vigil_loader *l, const char *path);
void vigil_loader_free(struct vigil_loader *l);

/*
 * Opens the plugin `name` (a plain name searched as NAME.so in the path, or
 * an absolute path; a relative one is refused) and checks it; `want` is the kind the section asks
 * for, or 0 for any. On refusal returns a negative error and writes one line
 * naming the file, what was found, what was expected and what to do.
 */
int vigil_loader_open(struct vigil_loader *l, const char *name,
		      enum vigil_kind want, struct vigil_module **out,
		      char *err, size_t errlen);

/*
 * The same, but the plugin is opened and checked in a child process, so a
 * constructor that crashes or hangs costs the child only: that refusal
 * returns -ECHILD. For instances that run in worker processes: the core gets the
 * descriptor's kind, names and option schema, and stub callbacks.
 */
int vigil_loader_probe(struct vigil_loader *l, const char *name,
		       enum vigil_kind want, struct vigil_module **out,
		       char *err, size_t errlen);

/* dlopen()s a probed module in this process (a worker, after fork), which
 * replaces the stubs with the plugin's callbacks. */
int vigil_module_load_here(struct vigil_module *m, char *err, size_t errlen);

/* "killed by signal 11 (SIGSEGV)", "exited with status 3" for a wait
 * status. */
void vigil_exit_reason(int status, char *buf, size_t len);

/*
 * Checks a descriptor the plugin exported, of which `avail` bytes exist
 * (the symbol's size), and fills `copy`. Pure, for tests.
 */
int vigil_descriptor_check(const void *sym, size_t avail,
			   struct vigil_plugin *copy, char *err, size_t errlen);

const char *vigil_kind_name(enum vigil_kind k);
int vigil_kind_parse(const char *s); /* 0 if unknown */

#endif
