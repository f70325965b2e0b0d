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
	void *handle;
	/* A zero-filled copy of the plugin's descriptor: fields past the
	 * plugin's struct_size read as NULL, so the core never reads past
	 * what the plugin defined. */
	struct vigil_plugin desc;
	int refs;
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
 * a path containing '/') and checks it; `want` is the kind the section asks
 * for, or 0 for any. On refusal returns a negative error and writes one line
 * naming the file, what was found, what was expected and what to do.
 */
int vigil_loader_open(struct vigil_loader *l, const char *name,
		      enum vigil_kind want, struct vigil_module **out,
		      char *err, size_t errlen);

/*
 * Checks a descriptor the plugin exported, of which `avail` bytes exist
 * (the symbol's size), and fills `copy`. Pure, for tests.
 */
int vigil_descriptor_check(const void *sym, size_t avail,
			   struct vigil_plugin *copy, char *err, size_t errlen);

const char *vigil_kind_name(enum vigil_kind k);
int vigil_kind_parse(const char *s); /* 0 if unknown */

#endif
