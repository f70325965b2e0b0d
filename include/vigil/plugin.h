/*
 * vigil/plugin.h - the Vigil plugin ABI.
 *
 * This header is all a plugin includes. A plugin is a shared object that
 * exports exactly one symbol, `vigil_plugin` (see VIGIL_PLUGIN_DEFINE), a
 * struct vigil_plugin describing it. Plugins never link against daemon
 * symbols: at init the core hands each instance a struct vigil_host, a table
 * of function pointers through which the plugin logs, emits readings and
 * conditions, and reads its configuration.
 *
 * Build out of tree with:
 *
 *     cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags vigil-plugin) \
 *        -o myplugin.so myplugin.c
 *
 * COMPATIBILITY
 *
 *   Appending a field to a struct bumps VIGIL_ABI_MINOR; removing, reordering
 *   or retyping a field bumps VIGIL_ABI_MAJOR. The core refuses a plugin with
 *   a different major or a newer minor, and reads a field of the descriptor
 *   only where the plugin's `struct_size` covers it (the SQLite VFS iVersion
 *   rule). A plugin reads a field of struct vigil_host only where
 *   `host->size` covers it; VIGIL_HOST_HAS() tests that.
 *
 * PROCESS MODEL
 *
 *   The same binary runs either inside the core or in an isolated worker
 *   process forked by the core. Therefore every pointer the core passes into
 *   a callback (readings, events, labels, strings) is BORROWED FOR THE
 *   DURATION OF THAT CALL ONLY: copy what you need to keep. Everything a
 *   plugin hands to the host (emit_reading, emit_condition) is copied by the
 *   host before the call returns. The exceptions, valid from init() until
 *   fini() returns, are the host table, the instance's `ctx` (keep it in
 *   your state to log from fini) and strings returned by config_string().
 *
 *   Callbacks of one instance are never called concurrently. Different
 *   instances of the same plugin may run in different processes: keep state
 *   in the instance's `state`, not in globals.
 *
 * RETURN VALUES
 *
 *   Callbacks return 0 on success or a negative errno-style code
 *   (-EINVAL, -EIO, ...). VIGIL_EFATAL from init means "misconfigured, do not
 *   retry": the instance is marked failed without restarts.
 */
#ifndef VIGIL_PLUGIN_H
#define VIGIL_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* "VIGL" in ASCII: the first field of every descriptor. */
#define VIGIL_PLUGIN_MAGIC 0x5649474cu
#define VIGIL_ABI_MAJOR 1
#define VIGIL_ABI_MINOR 1

/* The one symbol a plugin exports. */
#define VIGIL_PLUGIN_SYMBOL "vigil_plugin"

/* Returned by init for an error that restarting will not fix (ABI 1.0). */
#define VIGIL_EFATAL (-10000)

#if defined(__GNUC__)
#define VIGIL_EXPORT __attribute__((visibility("default")))
#define VIGIL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define VIGIL_EXPORT
#define VIGIL_PRINTF(fmt, args)
#endif

/* ---------------------------------------------------------------------------
 * Plain data (ABI 1.0)
 * ------------------------------------------------------------------------- */

/* What a plugin does; a section [KIND.NAME] must name a plugin of that kind. */
enum vigil_kind {
	VIGIL_KIND_SENSOR = 1,
	VIGIL_KIND_RULE = 2,
	VIGIL_KIND_ACTION = 3,
	VIGIL_KIND_SINK = 4,
};

enum vigil_severity {
	VIGIL_SEV_INFO = 0,
	VIGIL_SEV_WARNING = 1,
	VIGIL_SEV_CRITICAL = 2,
};

/* How far a reading can be trusted. */
enum vigil_quality {
	VIGIL_QUALITY_GOOD = 0,
	VIGIL_QUALITY_UNCERTAIN = 1, /* e.g. first sample of a rate, clamped */
	VIGIL_QUALITY_BAD = 2,       /* value is a placeholder; source failed */
};

/* Log levels, syslog-compatible numbers. */
enum vigil_log_level {
	VIGIL_LOG_ERR = 3,
	VIGIL_LOG_WARNING = 4,
	VIGIL_LOG_NOTICE = 5,
	VIGIL_LOG_INFO = 6,
	VIGIL_LOG_DEBUG = 7,
};

/* Times are nanoseconds: wall clock since the Unix epoch unless named
 * monotonic. */
typedef int64_t vigil_time_ns;

#define VIGIL_MSEC ((vigil_time_ns)1000000)
#define VIGIL_SEC ((vigil_time_ns)1000000000)

/* A label: key is [A-Za-z0-9_-]+ (readings with other keys are refused);
 * value is any UTF-8 text without newlines, "" allowed. */
struct vigil_label {
	const char *key;
	const char *value;
};

/* One measurement. A sensor fills it and passes it to host->emit_reading;
 * rules and sinks receive it borrowed. */
struct vigil_reading {
	const char *metric; /* "cpu.usage_percent": [A-Za-z0-9_.:-]+ */
	const char *unit;                 /* "%", "C", "MB", "" for none */
	double value;
	vigil_time_ns time;               /* 0 when emitting: host stamps now */
	const struct vigil_label *labels; /* may be NULL when n_labels == 0 */
	size_t n_labels;
	enum vigil_quality quality;
	/* Set by the core on readings it delivers; ignored on emit. Identifies
	 * the series (sensor instance + metric + labels) for this run. */
	uint64_t series_id;
};

/* A rule's verdict on one series. Emit on state changes: firing with a
 * severity, a change of severity, and clear. */
struct vigil_condition {
	/* Dedupe key of the incident. NULL: the rule instance name plus the
	 * labels of `reading`, e.g. "disk_full{mount=/}". */
	const char *key;
	/* Incident type. NULL: the rule instance name. */
	const char *type;
	int firing; /* 1 firing, 0 clear */
	enum vigil_severity severity; /* of a firing condition; ignored on
				       * a clear */
	const char *message; /* human text; include the value and threshold */
	double value;
	/* Labels of the incident. NULL and 0: those of `reading`. */
	const struct vigil_label *labels;
	size_t n_labels;
	/* The reading that caused it, or NULL (e.g. from tick()). */
	const struct vigil_reading *reading;
};

enum vigil_event_type {
	VIGIL_EVENT_OPENED = 1,
	VIGIL_EVENT_ESCALATED = 2,   /* severity went up */
	VIGIL_EVENT_DEESCALATED = 3, /* severity went down, still firing */
	VIGIL_EVENT_RESOLVED = 4,
	VIGIL_EVENT_ACTION = 5, /* a remediation attempt finished */
	/* ABI 1.1. A sink built against 1.0 may see these: treat an unknown
	 * type as a plain notification about the incident. */
	VIGIL_EVENT_ACKNOWLEDGED = 6,  /* someone took it (vigilctl ack) */
	VIGIL_EVENT_REPEAT = 7,        /* still open: a reminder */
	VIGIL_EVENT_FLAPPING_START = 8, /* notifications pause */
	VIGIL_EVENT_FLAPPING_END = 9,   /* notifications resume */
	VIGIL_EVENT_REMEDIATION_FAILED = 10, /* attempts ran out, not cleared */
	VIGIL_EVENT_HEALTH = 11, /* periodic health report; fields as labels */
};

enum vigil_incident_status {
	VIGIL_STATUS_PENDING = 0,
	VIGIL_STATUS_OPEN = 1,
	VIGIL_STATUS_ACKNOWLEDGED = 2,
	VIGIL_STATUS_RESOLVED = 3,
};

enum vigil_action_outcome {
	VIGIL_ACTION_OK = 0,      /* ran and reported success */
	VIGIL_ACTION_FAILED = 1,  /* ran and reported failure */
	VIGIL_ACTION_TIMEOUT = 2, /* killed at its deadline */
	VIGIL_ACTION_ERROR = 3,   /* could not be started */
};

/* One remediation attempt, as recorded on the incident. */
struct vigil_action_record {
	const char *action; /* action instance name */
	vigil_time_ns start;
	vigil_time_ns duration;
	int exit_status; /* exit code, or 128 + signal, or -1 */
	enum vigil_action_outcome outcome;
	const char *output; /* excerpt of what it printed, may be "" */
};

/* A change in an incident's life, delivered to sinks and actions. */
struct vigil_event {
	enum vigil_event_type type;
	uint64_t incident_id; /* unique, never reused (kept in the journal) */
	const char *key;
	const char *incident_type;
	enum vigil_severity severity;
	enum vigil_severity previous_severity; /* for (DE)ESCALATED */
	enum vigil_incident_status status;
	const char *message;
	double value;
	const struct vigil_label *labels;
	size_t n_labels;
	vigil_time_ns time; /* when this event happened */
	vigil_time_ns created;
	vigil_time_ns resolved; /* 0 while unresolved */
	uint32_t occurrences;
	/* Attempts made so far; for VIGIL_EVENT_ACTION the last one is new. */
	const struct vigil_action_record *actions;
	size_t n_actions;
	/* ABI 1.1: read only if the plugin was built against 1.1 or later
	 * (the core always fills them). */
	uint32_t escalation; /* times severity was raised by the core
			      * (remediation_failed), 0 if never */
	int flapping;        /* 1 while the incident is flapping */
	int silenced;        /* 1 if a silence matches: recorded only */
	const char *comment; /* of the acknowledgement, or NULL */
};

/* What an action reports back from run(). The core provides `output`
 * (a buffer of `output_size` bytes) for an excerpt of what it printed. */
struct vigil_action_result {
	int exit_status;
	enum vigil_action_outcome outcome;
	char *output;
	size_t output_size;
};

/* ---------------------------------------------------------------------------
 * Configuration schema (ABI 1.0)
 *
 * A plugin lists the keys it accepts. The core validates every key of the
 * instance's section against it before init and refuses unknown keys and
 * bad values with file:line, so a plugin's init only reads valid values.
 * ------------------------------------------------------------------------- */

enum vigil_option_type {
	VIGIL_OPT_STRING = 1,
	VIGIL_OPT_BOOL = 2,     /* yes/no, true/false, on/off, 1/0 */
	VIGIL_OPT_INT = 3,      /* decimal, bounded by min/max */
	VIGIL_OPT_DOUBLE = 4,   /* bounded by min/max */
	VIGIL_OPT_DURATION = 5, /* 250ms, 10s, 5m, 1h, 1h30m; min/max in ns */
	VIGIL_OPT_SIZE = 6,     /* 512, 64k, 10M, 1G (powers of 1024) */
	VIGIL_OPT_ENUM = 7,     /* one of `choices` */
};

#define VIGIL_OPT_REQUIRED 0x1u /* no default: the section must set it */

struct vigil_option {
	const char *name;
	enum vigil_option_type type;
	const char *def; /* default, written as in the INI; NULL: unset */
	/* Numeric bounds (durations in ns, sizes in bytes). Both 0: no
	 * bounds. max 0 with min nonzero: a lower bound only. */
	double min, max;
	const char *choices; /* VIGIL_OPT_ENUM: "above|below" */
	const char *help;    /* one line, shown in errors and --help-plugin */
	unsigned flags;      /* VIGIL_OPT_* flags */
};

/* Terminates an option list. */
#define VIGIL_OPTIONS_END {NULL, (enum vigil_option_type)0, NULL, 0, 0, NULL, NULL, 0}

/* ---------------------------------------------------------------------------
 * The host table (ABI 1.0)
 * ------------------------------------------------------------------------- */

/* Opaque per-instance handle; pass it back to every host function. */
struct vigil_ctx;

struct vigil_host {
	uint32_t size;      /* sizeof(struct vigil_host) of the core */
	uint32_t abi_major; /* the core's VIGIL_ABI_MAJOR */
	uint32_t abi_minor; /* the core's VIGIL_ABI_MINOR */

	/* Log a line prefixed with the instance ("[sensor.cpu] ..."). */
	void (*log)(struct vigil_ctx *ctx, int level, const char *fmt, ...)
		VIGIL_PRINTF(3, 4);
	/* Nonzero if a line at `level` would be written: skip costly
	 * formatting otherwise. */
	int (*log_enabled)(struct vigil_ctx *ctx, int level);

	/* Sensors: hand over one reading (copied). Returns 0 when it was
	 * queued (a full queue makes room by dropping its oldest reading,
	 * counted and logged by the core), -EINVAL for a bad metric or label
	 * name, a label key twice, more than 256 labels or a quality that is
	 * none, -ENOSPC when the daemon's limit on
	 * distinct series is reached (too many label values), -EPERM when
	 * called from a thread
	 * other than the one running the instance's callback (emit only from
	 * the callback, on its thread). */
	int (*emit_reading)(struct vigil_ctx *ctx, const struct vigil_reading *r);
	/* Rules: hand over one condition (copied). -EINVAL for a severity
	 * that is none, a key over 1024 bytes, a type that is not letters,
	 * digits and '_.:-' (at most 128), more than 64 labels, a label
	 * without a valid name or with a value over 1024 bytes (a NULL value
	 * is ""); a message over 4096 bytes is cut, with "...". -EPERM from
	 * another thread, as emit_reading. */
	int (*emit_condition)(struct vigil_ctx *ctx,
			      const struct vigil_condition *c);

	/* The validated value of an option of this instance, or its default.
	 * `key =` with nothing after it is set, to "" (valid for STRING
	 * options only), which is not the same as leaving the key out.
	 * config_string works for every type and returns the text as written
	 * (NULL for an unset option without default); it is valid until
	 * fini() returns. The typed getters return `fallback` when the option
	 * is unset, or (with a warning in the log) when the option is of
	 * another type; config_int also reads an ENUM as the index of its
	 * choice, and config_double also reads an INT. */
	const char *(*config_string)(struct vigil_ctx *ctx, const char *key);
	int64_t (*config_int)(struct vigil_ctx *ctx, const char *key,
			      int64_t fallback);
	double (*config_double)(struct vigil_ctx *ctx, const char *key,
				double fallback);
	int (*config_bool)(struct vigil_ctx *ctx, const char *key, int fallback);
	vigil_time_ns (*config_duration)(struct vigil_ctx *ctx, const char *key,
					 vigil_time_ns fallback);
	uint64_t (*config_size)(struct vigil_ctx *ctx, const char *key,
				uint64_t fallback);

	/* Clocks. */
	vigil_time_ns (*now)(struct vigil_ctx *ctx);       /* wall clock */
	vigil_time_ns (*monotonic)(struct vigil_ctx *ctx); /* for intervals */

	/* "sensor.cpu": the section name; "cpu": the instance name. */
	const char *(*section_name)(struct vigil_ctx *ctx);
	const char *(*instance_name)(struct vigil_ctx *ctx);

	/* The daemon's state directory ([daemon] state_dir), which exists and
	 * is writable: resolve relative file names against it. */
	const char *(*state_dir)(struct vigil_ctx *ctx);

	/* log() taking a va_list, for a plugin's own logging helpers. */
	void (*vlog)(struct vigil_ctx *ctx, int level, const char *fmt,
		     va_list ap) VIGIL_PRINTF(3, 0);
};

/* True if the host table has the member (ABI minor may be older). */
#define VIGIL_HOST_HAS(host, member)                                         \
	((host)->size >= offsetof(struct vigil_host, member) +                 \
				 sizeof((host)->member) &&                     \
	 (host)->member != NULL)

/* ---------------------------------------------------------------------------
 * The descriptor (ABI 1.0)
 * ------------------------------------------------------------------------- */

struct vigil_plugin {
	/* Fixed fields, filled by VIGIL_PLUGIN_HEADER. */
	uint32_t magic;       /* VIGIL_PLUGIN_MAGIC */
	uint16_t abi_major;   /* VIGIL_ABI_MAJOR the plugin was built with */
	uint16_t abi_minor;   /* VIGIL_ABI_MINOR the plugin was built with */
	uint32_t struct_size; /* sizeof(struct vigil_plugin) at build time */
	uint32_t kind;        /* enum vigil_kind */
	const char *name;     /* "cpu": what `plugin =` in the INI names */
	const char *version;  /* the plugin's own version, "1.0.0" */

	const char *description; /* one line */
	const struct vigil_option *options; /* ends with VIGIL_OPTIONS_END */

	/* All kinds. init is required, fini optional. init validates the
	 * options it reads, sets *state (may stay NULL) and returns 0, a
	 * negative error, or VIGIL_EFATAL. */
	int (*init)(struct vigil_ctx *ctx, const struct vigil_host *host,
		    void **state);
	void (*fini)(void *state);

	/* Sensors (required): take one sample, emitting its readings. */
	int (*read)(void *state, struct vigil_ctx *ctx);

	/* Rules (required): look at one reading of a series the rule matches.
	 * `series_state` is a slot for this (rule instance, series) pair,
	 * NULL on the first reading: store per-series state there. */
	int (*eval)(void *state, struct vigil_ctx *ctx,
		    const struct vigil_reading *r, void **series_state);
	/* Rules (optional): free a series slot; NULL means free(). */
	void (*series_free)(void *state, void *series_state);
	/* Rules (optional): called periodically with the wall clock, for
	 * conditions that depend on time alone (staleness). Not called by
	 * vigild 0.1 yet. */
	int (*tick)(void *state, struct vigil_ctx *ctx, vigil_time_ns now);

	/* Actions (required): remediate one incident event and fill
	 * `result`. Must return by itself within its own timeout: in vigild
	 * 0.1 actions run inside the core and block it while they run.
	 * Return 0 when an attempt was made (result->outcome says how it
	 * went), or a negative error when none could be (recorded as
	 * VIGIL_ACTION_ERROR). A plugin that forks reaps its own children:
	 * the core leaves SIGCHLD at its default and never waits for
	 * children it did not start. */
	int (*run)(void *state, struct vigil_ctx *ctx,
		   const struct vigil_event *ev,
		   struct vigil_action_result *result);

	/* Sinks (at least one of deliver/write): deliver one incident event;
	 * write a batch of readings; flush buffered output (optional, called
	 * every flush_interval of [daemon] and at shutdown).
	 * deliver returns a negative error when the event did not get
	 * through: the core keeps it and delivers it again later, in order,
	 * so a sink that is down loses no alert (delivery is at least once).
	 * write returning an error drops that batch of readings (counted):
	 * metrics are perishable. */
	int (*deliver)(void *state, struct vigil_ctx *ctx,
		       const struct vigil_event *ev);
	int (*write)(void *state, struct vigil_ctx *ctx,
		     const struct vigil_reading *r, size_t n);
	int (*flush)(void *state, struct vigil_ctx *ctx);
};

/* The fixed fields, in order. */
#define VIGIL_PLUGIN_HEADER(kind_, name_, version_)                           \
	.magic = VIGIL_PLUGIN_MAGIC, .abi_major = VIGIL_ABI_MAJOR,            \
	.abi_minor = VIGIL_ABI_MINOR,                                         \
	.struct_size = (uint32_t)sizeof(struct vigil_plugin), .kind = (kind_), \
	.name = (name_), .version = (version_)

/* Declares the exported descriptor:
 *
 *     VIGIL_PLUGIN_DEFINE = {
 *         VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "cpu", "1.0.0"),
 *         .description = "CPU usage from /proc/stat",
 *         .options = cpu_options,
 *         .init = cpu_init, .read = cpu_read, .fini = cpu_fini,
 *     };
 */
#define VIGIL_PLUGIN_DEFINE                                                   \
	VIGIL_EXPORT extern const struct vigil_plugin vigil_plugin;           \
	VIGIL_EXPORT const struct vigil_plugin vigil_plugin

/* Handy for plugins: names of enum values as the INI and sinks spell them. */
static inline const char *vigil_severity_name(enum vigil_severity s)
{
	switch (s) {
	case VIGIL_SEV_INFO: return "info";
	case VIGIL_SEV_WARNING: return "warning";
	case VIGIL_SEV_CRITICAL: return "critical";
	}
	return "unknown";
}

static inline const char *vigil_event_type_name(enum vigil_event_type t)
{
	switch (t) {
	case VIGIL_EVENT_OPENED: return "opened";
	case VIGIL_EVENT_ESCALATED: return "escalated";
	case VIGIL_EVENT_DEESCALATED: return "deescalated";
	case VIGIL_EVENT_RESOLVED: return "resolved";
	case VIGIL_EVENT_ACTION: return "action";
	case VIGIL_EVENT_ACKNOWLEDGED: return "acknowledged";
	case VIGIL_EVENT_REPEAT: return "repeat";
	case VIGIL_EVENT_FLAPPING_START: return "flapping_start";
	case VIGIL_EVENT_FLAPPING_END: return "flapping_end";
	case VIGIL_EVENT_REMEDIATION_FAILED: return "remediation_failed";
	case VIGIL_EVENT_HEALTH: return "health";
	}
	return "unknown";
}

static inline const char *vigil_status_name(enum vigil_incident_status s)
{
	switch (s) {
	case VIGIL_STATUS_PENDING: return "pending";
	case VIGIL_STATUS_OPEN: return "open";
	case VIGIL_STATUS_ACKNOWLEDGED: return "acknowledged";
	case VIGIL_STATUS_RESOLVED: return "resolved";
	}
	return "unknown";
}

static inline const char *vigil_outcome_name(enum vigil_action_outcome o)
{
	switch (o) {
	case VIGIL_ACTION_OK: return "ok";
	case VIGIL_ACTION_FAILED: return "failed";
	case VIGIL_ACTION_TIMEOUT: return "timeout";
	case VIGIL_ACTION_ERROR: return "error";
	}
	return "unknown";
}

#ifdef __cplusplus
}
#endif

#endif /* VIGIL_PLUGIN_H */
