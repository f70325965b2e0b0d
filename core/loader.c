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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <limits.h>
#include <math.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"
#include "log.h"
#include "proto.h"
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

static void module_free(struct vigil_module *m);

void vigil_loader_free(struct vigil_loader *l)
{
	for (size_t i = 0; i < l->n_mods; i++)
		module_free(l->mods[i]);
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

/* The most options a plugin may declare: past it, its list is taken
 * for one without VIGIL_OPTIONS_END. */
#define OPTIONS_MAX 256

/* The plugin's option schema: each option named, typed, with bounds that
 * can hold and choices for an enum, once. A broken schema is the plugin's
 * fault, said as such, not reported later as the user's key. */
static int check_options(const struct vigil_plugin *p, char *err,
			 size_t errlen)
{
	const struct vigil_option *o = p->options;

	for (size_t i = 0; o && o[i].name; i++) {
		const char *bad = NULL;

		if (i == OPTIONS_MAX) {
			ERR("plugin '%s' declares more than %d options, or its "
			    "list does not end with VIGIL_OPTIONS_END",
			    p->name, OPTIONS_MAX);
			return -EINVAL;
		}
		if (!vigil_valid_name(o[i].name))
			bad = "a name that is not letters, digits, '_' and '-'";
		else if (o[i].type < VIGIL_OPT_STRING ||
			 o[i].type > VIGIL_OPT_ENUM)
			bad = "an unknown type";
		else if (isnan(o[i].min) || isnan(o[i].max))
			bad = "a bound that is NaN";
		else if (o[i].max != 0 && o[i].min > o[i].max)
			bad = "min greater than max";
		else if (o[i].type == VIGIL_OPT_ENUM &&
			 (!o[i].choices || !*o[i].choices))
			bad = "no choices for an enum";
		for (size_t j = 0; !bad && j < i; j++)
			if (strcmp(o[j].name, o[i].name) == 0)
				bad = "a name declared twice";
		if (bad) {
			ERR("plugin '%s': option %zu '%s' has %s; the plugin "
			    "is broken (rebuild it, or tell its author)",
			    p->name, i + 1,
			    vigil_valid_name(o[i].name) ? o[i].name : "?", bad);
			return -EINVAL;
		}
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
	if (check_options(copy, err, errlen) < 0)
		return -EINVAL;
	return check_callbacks(copy, err, errlen);
}

/* Resolves `name` to a readable file, or writes where it looked. */
static int find_file(struct vigil_loader *l, const char *name, char *out,
		     size_t outlen, char *err, size_t errlen)
{
	struct vigil_buf looked = {0};

	if (strchr(name, '/') && name[0] != '/') {
		/* It would depend on the working directory: / under systemd,
		 * wherever vigild was started from otherwise. */
		ERR("plugin file %s: a path must be absolute (from /), or give "
		    "a plain name found in plugin_path",
		    name);
		return -ENOENT;
	}
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

/* dlopen()s `real` and checks its descriptor into `desc`. */
static int dlopen_checked(const char *real, void **handle_out,
			  struct vigil_plugin *desc, char *err, size_t errlen)
{
	const ElfW(Sym) *sym = NULL;
	char why[512];
	struct stat st;
	Dl_info info;
	void *handle, *addr;
	int rc;

	/* dlopen() of a FIFO waits for a writer for ever, and of a device
	 * reads it: only a regular file can be a shared object. */
	if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
		ERR("%s: cannot load: not a regular file (%s); a plugin is a "
		    "shared object built with -shared",
		    real, S_ISFIFO(st.st_mode) ? "a FIFO" :
			  S_ISDIR(st.st_mode)  ? "a directory" :
						 "a device or a socket");
		return -ELIBBAD;
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
	rc = vigil_descriptor_check(addr, sym->st_size, desc, why, sizeof(why));
	if (rc < 0) {
		ERR("%s: %s", real, why);
		dlclose(handle);
		return rc;
	}
	*handle_out = handle;
	return 0;
}

/* ------------------------------------------------------------- probing */

/*
 * A probed module was opened only in a child process: a constructor that
 * crashes or hangs takes the child, not vigild. What the core needs (kind,
 * names, the option schema) comes back over a pipe; its callbacks are
 * stubs, for the core never calls an isolated plugin itself.
 */

#define PROBE_DEADLINE (5 * VIGIL_SEC)

enum {
	CB_INIT = 1u << 0, CB_FINI = 1u << 1, CB_READ = 1u << 2,
	CB_EVAL = 1u << 3, CB_SERIES_FREE = 1u << 4, CB_TICK = 1u << 5,
	CB_RUN = 1u << 6, CB_DELIVER = 1u << 7, CB_WRITE = 1u << 8,
	CB_FLUSH = 1u << 9,
};

static void stub_called(void)
{
	vigil_err("internal error: the core called an isolated plugin "
		  "directly");
}
static int stub_init(struct vigil_ctx *c, const struct vigil_host *h, void **s)
{
	stub_called();
	return -ENOSYS;
}
static void stub_fini(void *s)
{
	stub_called();
}
static int stub_read(void *s, struct vigil_ctx *c)
{
	stub_called();
	return -ENOSYS;
}
static int stub_eval(void *s, struct vigil_ctx *c,
		     const struct vigil_reading *r, void **ss)
{
	stub_called();
	return -ENOSYS;
}
static void stub_series_free(void *s, void *ss)
{
	stub_called();
}
static int stub_tick(void *s, struct vigil_ctx *c, vigil_time_ns now)
{
	stub_called();
	return -ENOSYS;
}
static int stub_run(void *s, struct vigil_ctx *c, const struct vigil_event *e,
		    struct vigil_action_result *r)
{
	stub_called();
	return -ENOSYS;
}
static int stub_deliver(void *s, struct vigil_ctx *c,
			const struct vigil_event *e)
{
	stub_called();
	return -ENOSYS;
}
static int stub_write(void *s, struct vigil_ctx *c,
		      const struct vigil_reading *r, size_t n)
{
	stub_called();
	return -ENOSYS;
}
static int stub_flush(void *s, struct vigil_ctx *c)
{
	stub_called();
	return -ENOSYS;
}

static unsigned callback_mask(const struct vigil_plugin *d)
{
	return (d->init ? CB_INIT : 0) | (d->fini ? CB_FINI : 0) |
	       (d->read ? CB_READ : 0) | (d->eval ? CB_EVAL : 0) |
	       (d->series_free ? CB_SERIES_FREE : 0) |
	       (d->tick ? CB_TICK : 0) | (d->run ? CB_RUN : 0) |
	       (d->deliver ? CB_DELIVER : 0) | (d->write ? CB_WRITE : 0) |
	       (d->flush ? CB_FLUSH : 0);
}

static void set_stubs(struct vigil_plugin *d, unsigned m)
{
	d->init = m & CB_INIT ? stub_init : NULL;
	d->fini = m & CB_FINI ? stub_fini : NULL;
	d->read = m & CB_READ ? stub_read : NULL;
	d->eval = m & CB_EVAL ? stub_eval : NULL;
	d->series_free = m & CB_SERIES_FREE ? stub_series_free : NULL;
	d->tick = m & CB_TICK ? stub_tick : NULL;
	d->run = m & CB_RUN ? stub_run : NULL;
	d->deliver = m & CB_DELIVER ? stub_deliver : NULL;
	d->write = m & CB_WRITE ? stub_write : NULL;
	d->flush = m & CB_FLUSH ? stub_flush : NULL;
}

/* In the child: open, check, and describe the plugin on `fd`. */
static void __attribute__((noreturn)) probe_child(const char *real, int fd)
{
	struct vigil_wire w = {0};
	struct vigil_plugin d;
	char err[1024];
	void *handle;
	size_t n = 0;

	/* Handlers inherited from vigild (a sanitizer's SIGSEGV handler,
	 * say) would turn a crashing constructor into an exit: a crash must
	 * die by its signal, to be told apart from a refusal. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	vigil_wire_begin(&w, VIGIL_MSG_REPLY, 0);
	if (dlopen_checked(real, &handle, &d, err, sizeof(err)) < 0) {
		vigil_wire_put_u32(&w, 1);
		vigil_wire_put_str(&w, err);
	} else {
		vigil_wire_put_u32(&w, 0);
		vigil_wire_put_u32(&w, d.magic);
		vigil_wire_put_u32(&w, d.abi_major);
		vigil_wire_put_u32(&w, d.abi_minor);
		vigil_wire_put_u32(&w, d.struct_size);
		vigil_wire_put_u32(&w, d.kind);
		vigil_wire_put_str(&w, d.name);
		vigil_wire_put_str(&w, d.version);
		vigil_wire_put_str(&w, d.description);
		vigil_wire_put_u32(&w, callback_mask(&d));
		for (const struct vigil_option *o = d.options; o && o->name; o++)
			n++;
		vigil_wire_put_u32(&w, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			const struct vigil_option *o = &d.options[i];
			vigil_wire_put_str(&w, o->name);
			vigil_wire_put_u32(&w, (uint32_t)o->type);
			vigil_wire_put_str(&w, o->def);
			vigil_wire_put_f64(&w, o->min);
			vigil_wire_put_f64(&w, o->max);
			vigil_wire_put_str(&w, o->choices);
			vigil_wire_put_str(&w, o->help);
			vigil_wire_put_u32(&w, o->flags);
		}
	}
	vigil_wire_end(&w);
	for (size_t off = 0; off < w.b.len;) {
		ssize_t k = write(fd, w.b.data + off, w.b.len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(1);
		off += (size_t)k;
	}
	_exit(0);
}

/* Reads all the child sends, until EOF or `deadline` (monotonic). */
static int read_until_eof(int fd, struct vigil_buf *b, vigil_time_ns deadline)
{
	char chunk[4096];

	for (;;) {
		vigil_time_ns left = deadline - vigil_monotonic();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t k;
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(left / VIGIL_MSEC) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return 0;
		if (b->len + (size_t)k > VIGIL_FRAME_MAX)
			return -EMSGSIZE;
		vigil_buf_add(b, chunk, (size_t)k);
	}
}

static int probe_decode(struct vigil_module *m, const struct vigil_frame *f,
			const char *real, char *err, size_t errlen)
{
	struct vigil_wire_reader r;
	struct vigil_plugin *d = &m->desc;
	struct vigil_option *opts;
	uint32_t n, failed;

	vigil_wire_reader_init(&r, f);
	failed = vigil_wire_get_u32(&r);
	if (failed) {
		const char *why = vigil_wire_get_str(&r);
		ERR("%s", why ? why : "refused, for no reason it could send");
		return -ELIBBAD;
	}
	memset(d, 0, sizeof(*d));
	d->magic = vigil_wire_get_u32(&r);
	d->abi_major = (uint16_t)vigil_wire_get_u32(&r);
	d->abi_minor = (uint16_t)vigil_wire_get_u32(&r);
	d->struct_size = vigil_wire_get_u32(&r);
	d->kind = vigil_wire_get_u32(&r);
	d->name = vigil_wire_get_str(&r);
	d->version = vigil_wire_get_str(&r);
	d->description = vigil_wire_get_str(&r);
	set_stubs(d, vigil_wire_get_u32(&r));
	n = vigil_wire_get_u32(&r);
	if (r.err || n > 4096 || !d->name) {
		ERR("%s: its description could not be read back", real);
		return -EPROTO;
	}
	opts = vigil_xcalloc((size_t)n + 1, sizeof(*opts));
	for (uint32_t i = 0; i < n; i++) {
		opts[i].name = vigil_wire_get_str(&r);
		opts[i].type = (enum vigil_option_type)vigil_wire_get_u32(&r);
		opts[i].def = vigil_wire_get_str(&r);
		opts[i].min = vigil_wire_get_f64(&r);
		opts[i].max = vigil_wire_get_f64(&r);
		opts[i].choices = vigil_wire_get_str(&r);
		opts[i].help = vigil_wire_get_str(&r);
		opts[i].flags = vigil_wire_get_u32(&r);
		if (!opts[i].name)
			r.err = 1;
	}
	m->probe_options = opts;
	d->options = opts;
	if (r.err) {
		ERR("%s: its option table could not be read back", real);
		return -EPROTO;
	}
	return 0;
}

/* Opens `real` in a child and fills `m` from what it says. */
static int probe(struct vigil_module *m, const char *real, char *err,
		 size_t errlen)
{
	struct vigil_buf b = {0};
	struct vigil_frame f;
	char why[160];
	size_t used;
	int fds[2], status = 0, rc;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		ERR("%s: cannot probe: pipe: %s", real, strerror(errno));
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(fds[0]);
		close(fds[1]);
		ERR("%s: cannot probe: fork: %s", real, strerror(-rc));
		return rc;
	}
	if (pid == 0) {
		close(fds[0]);
		probe_child(real, fds[1]);
	}
	close(fds[1]);
	rc = read_until_eof(fds[0], &b, vigil_monotonic() + PROBE_DEADLINE);
	close(fds[0]);
	if (rc < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status) || rc == -ETIMEDOUT) {
		char reason[96];
		vigil_exit_reason(status, reason, sizeof(reason));
		ERR("%s: %s while being loaded (%s): its initialisation code "
		    "(a constructor) fails; fix or remove the plugin",
		    real, rc == -ETIMEDOUT ? "hung" : "crashed",
		    rc == -ETIMEDOUT ? "no answer within 5s" : reason);
		vigil_buf_free(&b);
		return -ECHILD;
	}
	if (rc < 0 || !b.data ||
	    vigil_frame_parse((const uint8_t *)b.data, b.len, &f, &used, why,
			      sizeof(why)) != 1) {
		ERR("%s: the probe of it said nothing readable%s%s", real,
		    rc < 0 ? ": " : "", rc < 0 ? strerror(-rc) : "");
		vigil_buf_free(&b);
		return -EPROTO;
	}
	m->probe_buf = b.data; /* the strings of m->desc point into it */
	return probe_decode(m, &f, real, err, errlen);
}

static void module_free(struct vigil_module *m)
{
	/* Keep plugins mapped under valgrind/ASan so leak reports still name
	 * their functions. */
	if (m->handle && !getenv("VIGIL_NO_DLCLOSE"))
		dlclose(m->handle);
	free(m->probe_options);
	free(m->probe_buf);
	free(m->path);
	free(m);
}

static int open_module(struct vigil_loader *l, const char *name,
		       enum vigil_kind want, int isolated,
		       struct vigil_module **out, char *err, size_t errlen)
{
	char file[PATH_MAX], real[PATH_MAX];
	struct vigil_module *m = NULL;
	int rc;

	rc = find_file(l, name, file, sizeof(file), err, errlen);
	if (rc < 0)
		return rc;
	if (!realpath(file, real))
		snprintf(real, sizeof(real), "%s", file);

	for (size_t i = 0; i < l->n_mods; i++)
		if (strcmp(l->mods[i]->path, real) == 0)
			m = l->mods[i];
	if (m && !isolated && !m->handle) {
		/* Probed before, now wanted in-process: the probe showed
		 * that loading it is safe. */
		struct vigil_plugin desc;
		rc = dlopen_checked(real, &m->handle, &desc, err, errlen);
		if (rc < 0)
			return rc;
		m->desc = desc;
	}
	if (!m) {
		m = vigil_xcalloc(1, sizeof(*m));
		m->path = vigil_xstrdup(real);
		rc = isolated ? probe(m, real, err, errlen) :
				dlopen_checked(real, &m->handle, &m->desc, err,
					       errlen);
		if (rc < 0) {
			module_free(m);
			return rc;
		}
		for (size_t i = 0; i < l->n_mods; i++) {
			if (strcmp(l->mods[i]->desc.name, m->desc.name) == 0) {
				ERR("%s: duplicate plugin name '%s', already "
				    "provided by %s; remove one of the two "
				    "files",
				    real, m->desc.name, l->mods[i]->path);
				module_free(m);
				return -EEXIST;
			}
		}
		vigil_grow((void **)&l->mods, &l->cap, l->n_mods + 1,
			   sizeof(*l->mods));
		l->mods[l->n_mods++] = m;
	}
	if (want && m->desc.kind != want) {
		ERR("%s: plugin '%s' is a %s plugin, but the section asks for a "
		    "%s; use it in a [%s.NAME] section or pick a %s plugin",
		    real, m->desc.name, vigil_kind_name(m->desc.kind),
		    vigil_kind_name(want), vigil_kind_name(m->desc.kind),
		    vigil_kind_name(want));
		return -EINVAL;
	}
	m->refs++;
	*out = m;
	return 0;
}

int vigil_loader_open(struct vigil_loader *l, const char *name,
		      enum vigil_kind want, struct vigil_module **out,
		      char *err, size_t errlen)
{
	return open_module(l, name, want, 0, out, err, errlen);
}

int vigil_loader_probe(struct vigil_loader *l, const char *name,
		       enum vigil_kind want, struct vigil_module **out,
		       char *err, size_t errlen)
{
	return open_module(l, name, want, 1, out, err, errlen);
}

int vigil_module_load_here(struct vigil_module *m, char *err, size_t errlen)
{
	struct vigil_plugin desc;
	int rc;

	if (m->handle)
		return 0;
	rc = dlopen_checked(m->path, &m->handle, &desc, err, errlen);
	if (rc == 0)
		m->desc = desc;
	return rc;
}

void vigil_exit_reason(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status)) {
		const char *abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(buf, len, "killed by signal %d (SIG%s)",
			 WTERMSIG(status), abbrev ? abbrev : "?");
	} else if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else {
		snprintf(buf, len, "stopped (status 0x%x)", status);
	}
}
