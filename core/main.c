/*
 * main.c - vigild's command line.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "daemon.h"
#include "log.h"
#include "parse.h"

#define EXIT_USAGE 64

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vigild [OPTION]...\n"
		"Vigil monitoring daemon: reads sensors, evaluates rules, opens\n"
		"incidents, runs remediations and delivers alerts. Runs in the\n"
		"foreground (under systemd, or a terminal).\n"
		"\n"
		"  -c, --config FILE       configuration file (default %s)\n"
		"  -t, --check-config      check the configuration and every plugin it\n"
		"                          names, run nothing; exit 0, or 78 if invalid\n"
		"  -p, --plugin-path DIRS  colon-separated plugin directories\n"
		"                          (overrides [daemon] plugin_path; default %s)\n"
		"  -s, --state-dir DIR     state directory (overrides [daemon] state_dir)\n"
		"  -S, --control-socket PATH  the socket vigilctl talks to (overrides\n"
		"                          [daemon] control_socket; default %s)\n"
		"  -l, --log-level LEVEL   error, warning, notice, info or debug\n"
		"  -v, --verbose           same as --log-level debug: shows every reading\n"
		"                          the log sink receives\n"
		"      --log-target T      stderr or syslog\n"
		"      --list-plugins      list the plugins found in the plugin path\n"
		"                          (-p, else plugin_path of the -c file)\n"
		"      --help-plugin NAME  describe a plugin and its configuration keys\n"
		"  -V, --version           print the version and plugin ABI and exit\n"
		"  -h, --help              print this help and exit\n",
		VIGIL_CONFIG_FILE, VIGIL_PLUGIN_DIR, VIGIL_CONTROL_SOCKET);
}

/* The line number of a "FILE:LINE: ..." message, or 0. */
static long diag_line(const char *msg)
{
	const char *colon = strchr(msg, ':');
	char *end;
	long line;

	if (!colon)
		return 0;
	line = strtol(colon + 1, &end, 10);
	return end > colon + 1 && *end == ':' ? line : 0;
}

static int diag_cmp(const void *a, const void *b)
{
	long x = diag_line(*(char *const *)a), y = diag_line(*(char *const *)b);

	return (x > y) - (x < y);
}

/* Prints in the order of the file, as a person reads it. */
static void print_diag(struct vigil_diag *d, const char *what)
{
	/* Insertion sort: stable, so messages of one line keep the order
	 * they were found in; a config has few errors. */
	for (size_t i = 1; i < d->n; i++)
		for (size_t j = i; j > 0 && diag_cmp(&d->msgs[j - 1],
						     &d->msgs[j]) > 0;
		     j--) {
			char *t = d->msgs[j];
			d->msgs[j] = d->msgs[j - 1];
			d->msgs[j - 1] = t;
		}
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "vigild: %s%s\n", what, d->msgs[i]);
}

static void describe_option(const struct vigil_option *o)
{
	char desc[160];

	vigil_option_describe(o, desc, sizeof(desc));
	printf("  %-16s %s; %s%s%s\n", o->name, desc,
	       o->flags & VIGIL_OPT_REQUIRED ? "required" : "default ",
	       o->flags & VIGIL_OPT_REQUIRED ? "" : (o->def ? o->def : "unset"),
	       "");
	if (o->help)
		printf("  %-16s   %s\n", "", o->help);
}

static int help_plugin(const char *path, const char *name)
{
	struct vigil_loader l;
	struct vigil_module *m;
	char err[1024];
	int rc = 0;

	vigil_loader_init(&l, path);
	if (vigil_loader_open(&l, name, 0, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "vigild: %s\n", err);
		rc = 1;
	} else {
		const struct vigil_option *o;
		printf("%s %s (%s plugin, ABI %u.%u): %s\n%s\n\n", m->desc.name,
		       m->desc.version, vigil_kind_name(m->desc.kind),
		       m->desc.abi_major, m->desc.abi_minor,
		       m->desc.description, m->path);
		printf("Keys every [%s.NAME] section takes:\n",
		       vigil_kind_name(m->desc.kind));
		for (o = vigil_core_options(m->desc.kind); o->name; o++)
			describe_option(o);
		printf("\nKeys of the %s plugin:\n", m->desc.name);
		for (o = m->desc.options; o && o->name; o++)
			describe_option(o);
	}
	vigil_loader_free(&l);
	return rc;
}

static int list_plugins(const char *path)
{
	struct vigil_loader l;
	int found = 0;

	vigil_loader_init(&l, path);
	for (size_t i = 0; i < l.n_dirs; i++) {
		DIR *dir = opendir(l.dirs[i]);
		struct dirent *e;

		if (!dir)
			continue;
		while ((e = readdir(dir))) {
			size_t n = strlen(e->d_name);
			char file[4096], err[1024];
			struct vigil_module *m;

			if (n < 4 || strcmp(e->d_name + n - 3, ".so") != 0)
				continue;
			snprintf(file, sizeof(file), "%s/%s", l.dirs[i],
				 e->d_name);
			if (vigil_loader_open(&l, file, 0, &m, err,
					      sizeof(err)) < 0) {
				printf("%-8s %-14s refused: %s\n", "?", e->d_name,
				       err);
				continue;
			}
			printf("%-8s %-14s %-8s %s\n",
			       vigil_kind_name(m->desc.kind), m->desc.name,
			       m->desc.version, m->desc.description);
			found++;
		}
		closedir(dir);
	}
	if (!found)
		printf("no plugins found in %s\n", path);
	vigil_loader_free(&l);
	return 0;
}

/* The plugin path vigild would use: -p, else [daemon] plugin_path of the
 * configuration file (when it can be read), else the built-in one. */
static char *plugin_path_of(const struct vigil_daemon_opts *opts)
{
	struct vigil_diag ignored = {0};
	struct vigil_conf conf;
	const struct vigil_conf_entry *e;
	char *path;

	if (opts->plugin_path)
		return strdup(opts->plugin_path);
	vigil_conf_load(opts->config, &conf, &ignored);
	e = vigil_conf_entry(vigil_conf_section(&conf, "daemon"), "plugin_path");
	path = strdup(e ? e->value : VIGIL_PLUGIN_DIR);
	vigil_conf_free(&conf);
	vigil_diag_free(&ignored);
	return path;
}

int main(int argc, char **argv)
{
	enum { OPT_LOG_TARGET = 256, OPT_LIST, OPT_HELP_PLUGIN };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", no_argument, NULL, 't'},
		{"plugin-path", required_argument, NULL, 'p'},
		{"state-dir", required_argument, NULL, 's'},
		{"control-socket", required_argument, NULL, 'S'},
		{"log-level", required_argument, NULL, 'l'},
		{"verbose", no_argument, NULL, 'v'},
		{"log-target", required_argument, NULL, OPT_LOG_TARGET},
		{"list-plugins", no_argument, NULL, OPT_LIST},
		{"help-plugin", required_argument, NULL, OPT_HELP_PLUGIN},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct vigil_daemon_opts opts = {
		.config = VIGIL_CONFIG_FILE,
		.log_level = -1,
		.log_target = -1,
	};
	struct vigil_diag errors = {0}, warnings = {0};
	struct vigil_daemon d;
	const char *help_name = NULL;
	int check = 0, list = 0, c, rc;

	while ((c = getopt_long(argc, argv, "c:tp:s:S:l:vVh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'c': opts.config = optarg; break;
		case 't': check = 1; break;
		case 'p': opts.plugin_path = optarg; break;
		case 's': opts.state_dir = optarg; break;
		case 'S': opts.control_socket = optarg; break;
		case 'l':
			opts.log_level = vigil_log_parse_level(optarg);
			if (opts.log_level < 0) {
				fprintf(stderr, "vigild: --log-level '%s': "
					"expected error, warning, notice, info "
					"or debug\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'v': opts.log_level = VIGIL_LOG_DEBUG; break;
		case OPT_LOG_TARGET:
			if (strcmp(optarg, "stderr") == 0)
				opts.log_target = VIGIL_LOG_TO_STDERR;
			else if (strcmp(optarg, "syslog") == 0)
				opts.log_target = VIGIL_LOG_TO_SYSLOG;
			else {
				fprintf(stderr, "vigild: --log-target '%s': "
					"expected stderr or syslog\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_LIST: list = 1; break;
		case OPT_HELP_PLUGIN: help_name = optarg; break;
		case 'V':
			printf("vigild %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
			       VIGIL_ABI_MAJOR, VIGIL_ABI_MINOR);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigild: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	vigil_log_setup(VIGIL_LOG_TO_STDERR,
			opts.log_level >= 0 ? opts.log_level : VIGIL_LOG_INFO);
	if (list || help_name) {
		char *path = plugin_path_of(&opts);
		rc = list ? list_plugins(path) : help_plugin(path, help_name);
		free(path);
		return rc;
	}

	vigil_daemon_load(&d, &opts, &errors, &warnings);
	if (errors.n == 0) {
		const struct vigil_optslot *lv =
			vigil_optslot_find(d.dopts, d.n_dopts, "log_level");
		const struct vigil_optslot *lt =
			vigil_optslot_find(d.dopts, d.n_dopts, "log_target");
		int level = opts.log_level >= 0 ? opts.log_level :
			    lv ? vigil_log_parse_level(lv->value) :
				 VIGIL_LOG_INFO;
		int target = opts.log_target >= 0 ? opts.log_target :
			     lt && strcmp(lt->value, "syslog") == 0 ?
						  VIGIL_LOG_TO_SYSLOG :
						  VIGIL_LOG_TO_STDERR;
		if (!check)
			vigil_log_setup(target, level);
	}
	if (check && errors.n == 0)
		vigil_daemon_check(&d, &errors, &warnings);
	/* A plugin that crashes as it loads does not stop vigild from
	 * running the rest; but a configuration being checked is not OK. */
	if (check)
		for (size_t i = 0; i < d.n_broken; i++)
			vigil_diag_add(&errors, "%s:%d: [%s] %s", opts.config,
				       d.broken[i]->line, d.broken[i]->section,
				       d.broken[i]->broken);
	print_diag(&warnings, "warning: ");
	if (errors.n) {
		print_diag(&errors, "");
		fprintf(stderr, "vigild: %s: %zu error(s); nothing was started\n",
			opts.config, errors.n);
		rc = VIGIL_EXIT_CONFIG;
	} else if (check) {
		printf("%s: configuration OK (%zu instance(s) enabled, %zu "
		       "disabled)\n",
		       opts.config, d.n_all, d.n_disabled);
		rc = 0;
	} else {
		rc = vigil_daemon_run(&d) < 0 ? 1 : 0;
	}
	vigil_daemon_free(&d);
	vigil_diag_free(&errors);
	vigil_diag_free(&warnings);
	return rc;
}
