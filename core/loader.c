/*
 * loader.c - finding, opening and checking plugin shared objects.
 *
 * The checks follow nginx's and SQLite's: one exact line per refusal, a
 * version first, and optional fields read only where the plugin's own
 * struct_size says it has them.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "log.h"
#include "parse.h"
#include "util.h"

#define ERR(...) snprintf(err, errlen, __VA_ARGS__)

static const char *const kind_names[] = {
	[VIGIL_KIND_SENSOR] = "sensor",
	[VIGIL_KIND_RULE] = "rule",
	[VIGIL_KIND_ACTION] = "action",
	[VIGIL_KIND_SINK] = "sink",
};

const char *vigil_kind_name(enum vigil_kind k)
{
	if ((size_t)k < VIGIL_ARRAY_SIZE(kind_names) && kind_names[k])
		return kind_names[k];
	return "unknown";
}

int vigil_kind_parse(const char *s)
{
	for (size_t i = 1; i < VIGIL_ARRAY_SIZE(kind_names); i++)
		if (strcmp(s, kind_names[i]) == 0)
			return (int)i;
	return 0;
}

void vigil_loader_init(struct vigil_loader *l, const char *path)
{
	char *copy = vigil_xstrdup(path ? path : ""), *save = NULL;
	size_t cap = 0;

	memset(l, 0, sizeof(*l));
	for (char *d = strtok_r(copy, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		vigil_grow((void **)&l->dirs, &cap, l->n_dirs + 1,
			   sizeof(*l->dirs));
		l->dirs[l->n_dirs++] = vigil_xstrdup(d);
	}
	free(copy);
}

void vigil_loader_free(struct vigil_loader *l)
{
	for (size_t i = 0; i < l->n_mods; i++) {
		struct vigil_module *m = l->mods[i];
		/* Keep plugins mapped under valgrind/ASan so leak reports
		 * still name their functions. */
		if (m->handle && !getenv("VIGIL_NO_DLCLOSE"))
			dlclose(m->handle);
		free(m->path);
		free(m);
	}
	free(l->mods);
	for (size_t i = 0; i < l->n_dirs; i++)
		free(l->dirs[i]);
	free(l->dirs);
	memset(l, 0, sizeof(*l));
}

/* The callbacks a kind cannot do without. */
static int check_callbacks(const struct vigil_plugin *d, char *err,
			   size_t errlen)
{
	const char *missing = NULL;

	if (!d->init)
		missing = "init";
	else if (d->kind == VIGIL_KIND_SENSOR && !d->read)
		missing = "read";
	else if (d->kind == VIGIL_KIND_RULE && !d->eval)
		missing = "eval";
	else if (d->kind == VIGIL_KIND_ACTION && !d->run)
		missing = "run";
	else if (d->kind == VIGIL_KIND_SINK && !d->deliver && !d->write)
		missing = "deliver or write";
	if (missing) {
		ERR("%s plugin '%s' has no %s callback, which a %s plugin "
		    "requires; fix the plugin's descriptor",
		    vigil_kind_name(d->kind), d->name, missing,
		    vigil_kind_name(d->kind));
		return -EINVAL;
	}
	return 0;
}

int vigil_descriptor_check(const void *sym, size_t avail,
			   struct vigil_plugin *copy, char *err, size_t errlen)
{
	/* The fields every ABI major keeps in place: magic, versions, size. */
	const size_t head = offsetof(struct vigil_plugin, kind);
	const struct vigil_plugin *d = sym;

	memset(copy, 0, sizeof(*copy));
	if (avail < head) {
		ERR("symbol '%s' is %zu bytes, too small for a plugin "
		    "descriptor; it was not made with VIGIL_PLUGIN_DEFINE",
		    VIGIL_PLUGIN_SYMBOL, avail);
		return -EINVAL;
	}
	if (d->magic != VIGIL_PLUGIN_MAGIC) {
		ERR("bad magic 0x%08x in '%s' (expected 0x%08x); it is not a "
		    "Vigil plugin descriptor",
		    d->magic, VIGIL_PLUGIN_SYMBOL, VIGIL_PLUGIN_MAGIC);
		return -EINVAL;
	}
	if (d->abi_major != VIGIL_ABI_MAJOR) {
		ERR("built for plugin ABI %u.%u, this vigild speaks %d.%d: "
		    "the major version differs; rebuild the plugin against "
		    "this vigild's plugin.h",
		    d->abi_major, d->abi_minor, VIGIL_ABI_MAJOR,
		    VIGIL_ABI_MINOR);
		return -EPROTO;
	}
	if (d->abi_minor > VIGIL_ABI_MINOR) {
		ERR("built for plugin ABI %u.%u, newer than this vigild's "
		    "%d.%d; upgrade vigild or rebuild the plugin against this "
		    "vigild's plugin.h",
		    d->abi_major, d->abi_minor, VIGIL_ABI_MAJOR,
		    VIGIL_ABI_MINOR);
		return -EPROTO;
	}
	if (d->struct_size < VIGIL_PLUGIN_SIZE_1_0) {
		ERR("descriptor struct_size %u is smaller than ABI %u.%u's %zu "
		    "bytes; the plugin is corrupt or its header was edited",
		    d->struct_size, d->abi_major, d->abi_minor,
		    (size_t)VIGIL_PLUGIN_SIZE_1_0);
		return -EINVAL;
	}
	if (avail < d->struct_size) {
		ERR("descriptor claims %u bytes but the symbol is %zu bytes",
		    d->struct_size, avail);
		return -EINVAL;
	}
	memcpy(copy, d,
	       d->struct_size < sizeof(*copy) ? d->struct_size : sizeof(*copy));
	if (!copy->name || !vigil_valid_name(copy->name)) {
		ERR("descriptor has no valid name (expected letters, digits, "
		    "'_' or '-')");
		return -EINVAL;
	}
	if (copy->kind < VIGIL_KIND_SENSOR || copy->kind > VIGIL_KIND_SINK) {
		ERR("plugin '%s' has unknown kind %u (expected 1 sensor, 2 "
		    "rule, 3 action or 4 sink)",
		    copy->name, copy->kind);
		return -EINVAL;
	}
	if (!copy->version)
		copy->version = "?";
	if (!copy->description)
		copy->description = "";
	return check_callbacks(copy, err, errlen);
}

/* Resolves `name` to a readable file, or writes where it looked. */
static int find_file(struct vigil_loader *l, const char *name, char *out,
		     size_t outlen, char *err, size_t errlen)
{
	struct vigil_buf looked = {0};

	if (strchr(name, '/')) {
		if (access(name, R_OK) == 0) {
			snprintf(out, outlen, "%s", name);
			return 0;
		}
		ERR("plugin file %s: %s", name, strerror(errno));
		return -ENOENT;
	}
	for (size_t i = 0; i < l->n_dirs; i++) {
		snprintf(out, outlen, "%s/%s.so", l->dirs[i], name);
		if (access(out, R_OK) == 0) {
			vigil_buf_free(&looked);
			return 0;
		}
		vigil_buf_printf(&looked, "%s%s", i ? ":" : "", l->dirs[i]);
	}
	ERR("plugin '%s' not found: no %s.so in %s; check the name, or add "
	    "its directory to plugin_path in [daemon] or --plugin-path",
	    name, name, looked.data ? looked.data : "(empty plugin path)");
	vigil_buf_free(&looked);
	return -ENOENT;
}

int vigil_loader_open(struct vigil_loader *l, const char *name,
		      enum vigil_kind want, struct vigil_module **out,
		      char *err, size_t errlen)
{
	char file[PATH_MAX], real[PATH_MAX], why[512];
	struct vigil_plugin desc;
	const ElfW(Sym) *sym = NULL;
	Dl_info info;
	void *handle, *addr;
	int rc;

	rc = find_file(l, name, file, sizeof(file), err, errlen);
	if (rc < 0)
		return rc;
	if (!realpath(file, real))
		snprintf(real, sizeof(real), "%s", file);

	for (size_t i = 0; i < l->n_mods; i++) {
		if (strcmp(l->mods[i]->path, real) == 0) {
			desc = l->mods[i]->desc;
			goto check_kind_cached;
		}
	}

	dlerror();
	handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		const char *e = dlerror();
		ERR("%s: cannot load: %s", real, e ? e : "unknown dlopen error");
		return -ELIBBAD;
	}
	dlerror();
	addr = dlsym(handle, VIGIL_PLUGIN_SYMBOL);
	if (!addr) {
		ERR("%s: no '%s' symbol; a Vigil plugin exports its descriptor "
		    "with VIGIL_PLUGIN_DEFINE",
		    real, VIGIL_PLUGIN_SYMBOL);
		dlclose(handle);
		return -ELIBBAD;
	}
	if (!dladdr1(addr, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym) {
		ERR("%s: cannot find the size of '%s'", real,
		    VIGIL_PLUGIN_SYMBOL);
		dlclose(handle);
		return -ELIBBAD;
	}
	if (ELF64_ST_TYPE(sym->st_info) != STT_OBJECT) {
		ERR("%s: '%s' is a function, not a descriptor; a Vigil plugin "
		    "exports its descriptor with VIGIL_PLUGIN_DEFINE",
		    real, VIGIL_PLUGIN_SYMBOL);
		dlclose(handle);
		return -ELIBBAD;
	}
	rc = vigil_descriptor_check(addr, sym->st_size, &desc, why, sizeof(why));
	if (rc < 0) {
		ERR("%s: %s", real, why);
		dlclose(handle);
		return rc;
	}
	for (size_t i = 0; i < l->n_mods; i++) {
		if (strcmp(l->mods[i]->desc.name, desc.name) == 0) {
			ERR("%s: duplicate plugin name '%s', already provided "
			    "by %s; remove one of the two files",
			    real, desc.name, l->mods[i]->path);
			dlclose(handle);
			return -EEXIST;
		}
	}
	{
		struct vigil_module *m = vigil_xcalloc(1, sizeof(*m));
		m->path = vigil_xstrdup(real);
		m->handle = handle;
		m->desc = desc;
		vigil_grow((void **)&l->mods, &l->cap, l->n_mods + 1,
			   sizeof(*l->mods));
		l->mods[l->n_mods++] = m;
	}

check_kind_cached:
	if (want && desc.kind != want) {
		ERR("%s: plugin '%s' is a %s plugin, but the section asks for a "
		    "%s; use it in a [%s.NAME] section or pick a %s plugin",
		    real, desc.name, vigil_kind_name(desc.kind),
		    vigil_kind_name(want), vigil_kind_name(desc.kind),
		    vigil_kind_name(want));
		return -EINVAL;
	}
	for (size_t i = 0; i < l->n_mods; i++) {
		if (strcmp(l->mods[i]->path, real) == 0) {
			l->mods[i]->refs++;
			*out = l->mods[i];
			return 0;
		}
	}
	ERR("%s: internal error: module vanished", real);
	return -EINVAL;
}
