/*
 * disk - space and inodes used on mounted filesystems
 *
 * SYNOPSIS
 *     [sensor.disk]
 *     plugin = disk
 *     mounts = / /boot /var/log
 *
 * DESCRIPTION
 *     statvfs()s each mount point (below `root`) and reports as df does:
 *     used space is a share of what non-root users can have, used /
 *     (used + available), so a disk "100% full" is full for them while
 *     root may still have its reserved blocks. A mount point that cannot be
 *     statvfs()ed is skipped and logged when it starts and stops failing.
 *
 *     statvfs() on a hung network filesystem blocks; list only local mounts
 *     or run the sensor in an isolated worker.
 *
 * OPTIONS
 *     root    directory that stands for / (default "/")
 *     mounts  space-separated mount points (default "/")
 *
 * METRICS
 *     disk.used_percent         "%"   mount=<as written>
 *     disk.free_mb              "MB"  space available to non-root users, MiB
 *     disk.inodes_used_percent  "%"   only for filesystems with inodes
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <vigil/plugin.h>

#include "sensor_util.h"

struct mount {
	char *mount; /* as written in `mounts`: the label */
	char *path;  /* <root><mount>: what is statvfs()ed */
	int err;     /* errno of the last statvfs, 0 when it worked */
};

struct disk_state {
	const struct vigil_host *host;
	struct mount *mounts;
	size_t n_mounts;
};

static const struct vigil_option disk_options[] = {
	SENSOR_ROOT_OPTION,
	{
		.name = "mounts",
		.type = VIGIL_OPT_STRING,
		.def = "/",
		.help = "space-separated mount points to report, e.g. \"/ /boot\"",
	},
	VIGIL_OPTIONS_END,
};

static void disk_fini(void *state)
{
	struct disk_state *st = state;

	if (!st)
		return;
	for (size_t i = 0; i < st->n_mounts; i++) {
		free(st->mounts[i].mount);
		free(st->mounts[i].path);
	}
	free(st->mounts);
	free(st);
}

/* Splits `mounts` into st->mounts. Returns 0, -ENOMEM, or VIGIL_EFATAL
 * after logging what is wrong with the list. */
static int parse_mounts(struct disk_state *st, struct vigil_ctx *ctx,
			const char *root, const char *list)
{
	const char *seps = " \t";
	char *copy, *word, *save = NULL;
	size_t max;
	int rc = 0;

	copy = strdup(list);
	if (!copy)
		return -ENOMEM;
	/* Every word is at least one character and a separator. */
	max = strlen(list) / 2 + 1;
	st->mounts = calloc(max, sizeof(*st->mounts));
	if (!st->mounts) {
		free(copy);
		return -ENOMEM;
	}
	for (word = strtok_r(copy, seps, &save); word;
	     word = strtok_r(NULL, seps, &save)) {
		struct mount *m = &st->mounts[st->n_mounts];

		if (word[0] != '/') {
			st->host->log(ctx, VIGIL_LOG_ERR,
				      "mounts: '%s' is not a mount point, expected an absolute path like /boot",
				      word);
			rc = VIGIL_EFATAL;
			break;
		}
		for (size_t i = 0; i < st->n_mounts; i++) {
			if (strcmp(st->mounts[i].mount, word) == 0) {
				st->host->log(ctx, VIGIL_LOG_ERR,
					      "mounts: '%s' is listed twice",
					      word);
				rc = VIGIL_EFATAL;
				break;
			}
		}
		if (rc)
			break;
		m->mount = strdup(word);
		m->path = sensor_root_path(root, word);
		st->n_mounts++;
		if (!m->mount || !m->path) {
			rc = -ENOMEM;
			break;
		}
	}
	free(copy);
	if (rc == 0 && st->n_mounts == 0) {
		st->host->log(ctx, VIGIL_LOG_ERR,
			      "mounts is empty, expected mount points like \"/ /boot\"");
		rc = VIGIL_EFATAL;
	}
	return rc;
}

static int disk_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	const char *list = host->config_string(ctx, "mounts");
	struct disk_state *st;
	int rc;

	if (sensor_root_check(host, ctx) < 0)
		return VIGIL_EFATAL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->host = host;
	rc = parse_mounts(st, ctx, sensor_root(host, ctx), list ? list : "/");
	if (rc < 0) {
		disk_fini(st);
		return rc;
	}
	*state = st;
	return 0;
}

static void emit(struct disk_state *st, struct vigil_ctx *ctx,
		 const struct mount *m, const char *metric, const char *unit,
		 double value)
{
	sensor_emit(st->host, ctx, metric, unit, value, "mount", m->mount);
}

/* Logs a mount's statvfs state when it changes, not on every read. */
static void mount_set_err(struct disk_state *st, struct vigil_ctx *ctx,
			  struct mount *m, int err)
{
	if (err == m->err)
		return;
	if (err)
		st->host->log(ctx, VIGIL_LOG_WARNING, "cannot statvfs %s: %s",
			      m->path, strerror(err));
	else
		st->host->log(ctx, VIGIL_LOG_NOTICE,
			      "%s can be statvfs()ed again", m->path);
	m->err = err;
}

static void report(struct disk_state *st, struct vigil_ctx *ctx,
		   const struct mount *m, const struct statvfs *sv)
{
	/* Block counts are in f_frsize units; f_bsize is only the preferred
	 * I/O size, though old kernels left f_frsize 0. */
	uint64_t frsize = sv->f_frsize ? sv->f_frsize : sv->f_bsize;
	uint64_t used, avail = sv->f_bavail;

	used = sv->f_blocks >= sv->f_bfree ? sv->f_blocks - sv->f_bfree : 0;
	/* Pseudo filesystems have no blocks; df prints "-" for them. */
	if (used + avail > 0)
		emit(st, ctx, m, "disk.used_percent", "%",
		     (double)used * 100.0 / (double)(used + avail));
	emit(st, ctx, m, "disk.free_mb", "MB",
	     (double)avail * (double)frsize / (1024.0 * 1024.0));
	/* f_files is 0 where a filesystem has no fixed inode table (btrfs,
	 * vfat): there is nothing to run out of. */
	if (sv->f_files > 0) {
		uint64_t ifree = sv->f_ffree > sv->f_files ? sv->f_files
							   : sv->f_ffree;

		emit(st, ctx, m, "disk.inodes_used_percent", "%",
		     (double)(sv->f_files - ifree) * 100.0 /
			     (double)sv->f_files);
	}
}

static int disk_read(void *state, struct vigil_ctx *ctx)
{
	struct disk_state *st = state;
	size_t n_read = 0;

	for (size_t i = 0; i < st->n_mounts; i++) {
		struct mount *m = &st->mounts[i];
		struct statvfs sv;

		if (statvfs(m->path, &sv) < 0) {
			mount_set_err(st, ctx, m, errno);
			continue;
		}
		mount_set_err(st, ctx, m, 0);
		report(st, ctx, m, &sv);
		n_read++;
	}
	return n_read > 0 ? 0 : -EIO;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "disk", "1.0.0"),
	.description = "space and inodes used on mounted filesystems",
	.options = disk_options,
	.init = disk_init,
	.read = disk_read,
	.fini = disk_fini,
};
