/*
 * hello.c - the smallest useful Vigil plugin: a sensor that emits one
 * reading, hello.value, each time it is read. Copy it to start your own.
 *
 *     [sensor.hello]
 *     interval = 10s
 *     value = 42          ; what to report (default 42)
 *
 * A plugin includes only <vigil/plugin.h>, never links against vigild, and
 * exports exactly one symbol, `vigil_plugin`, made by VIGIL_PLUGIN_DEFINE.
 * Everything else stays static (and the pkg-config flags add
 * -fvisibility=hidden), so two plugins never clash.
 */
#include <errno.h>
#include <stdlib.h>

#include <vigil/plugin.h>

/* One per instance: [sensor.a] and [sensor.b] may both use this plugin,
 * so keep state here, never in globals. */
struct hello {
	const struct vigil_host *host; /* valid until fini */
	double value;
};

/* The keys a [sensor.NAME] section may set beyond the core's (interval,
 * enabled, plugin). The core checks them before init, with file:line in
 * its errors, so init only ever sees valid values. */
static const struct vigil_option hello_options[] = {
	{.name = "value", .type = VIGIL_OPT_DOUBLE, .def = "42",
	 .help = "the number to report as hello.value"},
	VIGIL_OPTIONS_END,
};

static int hello_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		      void **state)
{
	struct hello *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return -ENOMEM; /* an error the core retries later */
	h->host = host;
	h->value = host->config_double(ctx, "value", 42);
	*state = h;
	return 0;
}

static void hello_fini(void *state)
{
	free(state);
}

/* Called every `interval`. The host copies the reading before
 * emit_reading returns, so a struct on the stack is fine. -ENOSPC from it
 * only means the reading was counted as dropped: not a failed read. */
static int hello_read(void *state, struct vigil_ctx *ctx)
{
	struct hello *h = state;
	struct vigil_reading r = {
		.metric = "hello.value",
		.unit = "",
		.value = h->value,
		.quality = VIGIL_QUALITY_GOOD,
		/* .time = 0: the host stamps it with the current time. */
	};

	return h->host->emit_reading(ctx, &r) == -EINVAL ? -EINVAL : 0;
}

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SENSOR, "hello", "1.0.0"),
	.description = "example sensor: reports a configured number",
	.options = hello_options,
	.init = hello_init,
	.fini = hello_fini,
	.read = hello_read,
};
