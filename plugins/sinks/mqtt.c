/*
 * mqtt.c - the "mqtt" sink: incident events and readings published to an
 * MQTT broker.
 *
 * Each incident event is one message on `topic` (by default
 * vigil/HOSTNAME/incident/TYPE), its payload the JSON object the file
 * sink writes as a line (see file.c), so that every consumer reads one
 * schema. With `metrics = yes` each reading is one message on
 * `metrics_topic` (vigil/HOSTNAME/metric/METRIC), its payload the file
 * sink's reading object: {"time":...,"metric":...,"value":...,"unit":...,
 * "labels":{...},"quality":"good"}.
 *
 * Topics are templates: {hostname}, {instance}, {type}, {key},
 * {severity}, {event} and, in metrics_topic, {metric} stand for the
 * event's or reading's values. A value cannot add topic levels or make a
 * wildcard: '/', '+', '#', control characters and bytes that are not
 * UTF-8 in it become '_' ("disk_full{mount=/}" is "disk_full{mount=_}").
 *
 * The client is Paho's synchronous MQTTClient, which runs no thread of its
 * own: every network exchange happens inside a callback, bounded by
 * connect_timeout (connecting) and publish_timeout (waiting for the
 * broker's acknowledgements). It connects on the first event or batch of
 * readings to send, not at start (so --check-config stays off the
 * network), and from then on flush(), called every [daemon]
 * flush_interval, keeps the connection alive (keepalive pings) and brings
 * it back after a loss, with backoff from 1s to 60s.
 *
 * An event counts as delivered once the broker has acknowledged it (QoS
 * 1 and 2; QoS 0 once written to the socket). Otherwise deliver() returns
 * -EIO and the core keeps the event, and those after it, for delivery in
 * order when the broker is back: at least once, so a subscriber may see
 * an event twice. Readings are perishable: a batch that cannot be sent is
 * dropped (and counted by the core).
 *
 * With `status_topic` (default vigil/HOSTNAME/status), "online" is
 * published there, retained, on every connection, the broker publishes
 * the last will "offline" if vigild vanishes, and a clean stop publishes
 * "offline" itself.
 *
 * Why the broker cannot be reached is logged once, and again only when
 * the reason changes; reconnecting is logged too.
 */
#define _GNU_SOURCE /* asprintf, strndup */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <MQTTClient.h>
#include <vigil/plugin.h>

#include "sink_json.h"

/* A buffer above this is given back after use. */
#define JSON_BUF_KEEP (64 * 1024)

/* How long each wait for the broker's answers lasts, in milliseconds:
 * an acknowledgement is seen at most this late. */
#define MQTT_PUMP_MS 5

/* Messages that may await their acknowledgement at once: a whole batch
 * of readings (the core writes up to 256). */
#define MQTT_INFLIGHT 256

/* Backoff of the reconnections flush() and write() try. */
#define MQTT_BACKOFF_MIN VIGIL_SEC
#define MQTT_BACKOFF_MAX (60 * VIGIL_SEC)

/* -------------------------------------------------------------- topics */

/* What a topic template may name. */
enum mqtt_var {
	VAR_HOSTNAME,
	VAR_INSTANCE,
	VAR_TYPE,
	VAR_KEY,
	VAR_SEVERITY,
	VAR_EVENT,
	VAR_METRIC,
	N_VARS
};

static const char *const var_names[N_VARS] = {
	"hostname", "instance", "type", "key", "severity", "event", "metric",
};

/* The placeholders each template may use: a bit per enum mqtt_var. */
#define VARS_STATUS ((1u << VAR_HOSTNAME) | (1u << VAR_INSTANCE))
#define VARS_EVENT                                                        \
	(VARS_STATUS | (1u << VAR_TYPE) | (1u << VAR_KEY) |                 \
	 (1u << VAR_SEVERITY) | (1u << VAR_EVENT))
#define VARS_METRIC (VARS_STATUS | (1u << VAR_METRIC))

static int var_find(const char *name, size_t n)
{
	for (int v = 0; v < N_VARS; v++)
		if (strlen(var_names[v]) == n &&
		    strncmp(var_names[v], name, n) == 0)
			return v;
	return -1;
}

/*
 * Appends a placeholder's value: '/', '+' and '#' (which would add levels
 * or make a wildcard), control characters and bytes that are not UTF-8
 * become '_', and so does an empty value (an empty level).
 */
static void topic_put_value(struct sink_json_buf *b, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v), i = 0;

	if (n == 0)
		sink_json_buf_put(b, "_", 1);
	while (i < n) {
		size_t k = vigil_utf8_seq(p + i, n - i);

		if (k == 0 || p[i] < 0x20 || p[i] == 0x7f || p[i] == '/' ||
		    p[i] == '+' || p[i] == '#') {
			sink_json_buf_put(b, "_", 1);
			i++;
		} else {
			sink_json_buf_put(b, p + i, k);
			i += k;
		}
	}
}

/* Expands a template that topic_check accepted into b, NUL-terminated. */
static int topic_expand(struct sink_json_buf *b, const char *tmpl,
			const char *const vals[N_VARS])
{
	b->len = 0;
	b->failed = 0;
	for (const char *p = tmpl; *p != '\0';) {
		const char *end = *p == '{' ? strchr(p, '}') : NULL;
		int v = end != NULL ? var_find(p + 1, (size_t)(end - p - 1))
				    : -1;

		if (v < 0 || vals[v] == NULL) {
			sink_json_buf_put(b, p, 1);
			p++;
			continue;
		}
		topic_put_value(b, vals[v]);
		p = end + 1;
	}
	sink_json_buf_put(b, "", 1);
	return b->failed ? -ENOMEM : 0;
}

/* " {hostname} {instance} ...": the placeholders of `allowed`. */
static void vars_list(unsigned allowed, char *out, size_t size)
{
	size_t k = 0;

	out[0] = '\0';
	for (int v = 0; v < N_VARS; v++) {
		if (!(allowed & (1u << v)))
			continue;
		int n = snprintf(out + k, size - k, " {%s}", var_names[v]);

		if (n < 0 || (size_t)n >= size - k)
			break;
		k += (size_t)n;
	}
}

/* Checks the template of option `key`: text one may publish to, and
 * placeholders among `allowed`. Logs why not. */
static int topic_check(const struct vigil_host *host, struct vigil_ctx *ctx,
		       const char *key, const char *tmpl, unsigned allowed)
{
	const unsigned char *p = (const unsigned char *)tmpl;
	size_t n = strlen(tmpl);
	char list[128];

	vars_list(allowed, list, sizeof(list));
	if (n == 0) {
		host->log(ctx, VIGIL_LOG_ERR, "%s must not be empty", key);
		return -1;
	}
	if (tmpl[0] == '$') {
		host->log(ctx, VIGIL_LOG_ERR,
			  "%s \"%s\": topics starting with '$' are the "
			  "broker's",
			  key, tmpl);
		return -1;
	}
	if (!vigil_utf8_valid(p, n)) {
		host->log(ctx, VIGIL_LOG_ERR, "%s is not valid UTF-8", key);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const char *end;
		int v;

		if (p[i] < 0x20 || p[i] == 0x7f) {
			host->log(ctx, VIGIL_LOG_ERR,
				  "%s must not contain control characters",
				  key);
			return -1;
		}
		if (p[i] == '+' || p[i] == '#') {
			host->log(ctx, VIGIL_LOG_ERR,
				  "%s \"%s\": '%c' is a wildcard, which "
				  "cannot be published to",
				  key, tmpl, p[i]);
			return -1;
		}
		if (p[i] == '}') {
			host->log(ctx, VIGIL_LOG_ERR,
				  "%s \"%s\": '}' without '{'", key, tmpl);
			return -1;
		}
		if (p[i] != '{')
			continue;
		end = strchr(tmpl + i, '}');
		v = end != NULL ? var_find(tmpl + i + 1,
					   (size_t)(end - tmpl - i - 1))
				: -1;
		if (v < 0 || !(allowed & (1u << v))) {
			int len = end != NULL ? (int)(end - tmpl - i) + 1
					      : (int)(n - i);

			host->log(ctx, VIGIL_LOG_ERR,
				  "%s \"%s\": unknown placeholder %.*s; "
				  "allowed:%s",
				  key, tmpl, len, tmpl + i, list);
			return -1;
		}
		i = (size_t)(end - tmpl);
	}
	return 0;
}

/* --------------------------------------------------------------- state */

struct mqtt_sink {
	const struct vigil_host *host;
	struct vigil_ctx *ctx; /* for fini */
	MQTTClient client;
	const char *server;
	char *client_id;
	char hostname[256];
	const char *instance;
	const char *topic;         /* templates */
	const char *metrics_topic;
	char *status;              /* the expanded status_topic, or NULL */
	int qos, metrics_qos;
	int retain;
	int clean_session;
	int keepalive;       /* seconds; 0: no pings */
	int connect_timeout; /* seconds */
	vigil_time_ns publish_timeout;
	const char *username, *password;
	int tls, tls_verify;
	const char *ca_file;
	char tls_error[128]; /* OpenSSL's reason of a failed handshake */

	int wanted;                 /* asked to send: flush reconnects */
	vigil_time_ns next_connect; /* monotonic: flush and write wait */
	vigil_time_ns backoff;

	/* The failure last reported, so that a broker that is down is
	 * reported when it goes and when it comes back, not on every retry
	 * in between; and attempts failed since the last success. */
	int fail_sig;
	unsigned failures;

	struct sink_json json;
	struct sink_json_buf topic_buf; /* the topic being published to */
};

/* Signatures of failures, for report_failure: a Paho return code is
 * added to the first two. */
#define SIG_CONNECT 1000
#define SIG_PUBLISH 2000
#define SIG_TIMEOUT 3000
#define SIG_LOST 3001

static VIGIL_PRINTF(4, 5) void report_failure(struct mqtt_sink *ms,
					      struct vigil_ctx *ctx, int sig,
					      const char *fmt, ...)
{
	va_list ap;

	ms->failures++;
	if (ms->failures > 1 && sig == ms->fail_sig)
		return;
	ms->fail_sig = sig;
	va_start(ap, fmt);
	ms->host->vlog(ctx, VIGIL_LOG_ERR, fmt, ap);
	va_end(ap);
}

/* After a failed connection: flush and write try again only later. */
static void backoff(struct mqtt_sink *ms, struct vigil_ctx *ctx)
{
	if (ms->backoff == 0)
		ms->backoff = MQTT_BACKOFF_MIN;
	else if (ms->backoff < MQTT_BACKOFF_MAX / 2)
		ms->backoff *= 2;
	else
		ms->backoff = MQTT_BACKOFF_MAX;
	ms->next_connect = ms->host->monotonic(ctx) + ms->backoff;
}

/* What a CONNACK refusal (MQTT 3.1.1) means. */
static const char *connack_name(int rc)
{
	switch (rc) {
	case 1:
		return "the broker refused the connection: unacceptable "
		       "protocol version";
	case 2:
		return "the broker refused the connection: client_id "
		       "rejected";
	case 3:
		return "the broker refused the connection: server unavailable";
	case 4:
		return "the broker refused the connection: bad username or "
		       "password";
	case 5:
		return "the broker refused the connection: not authorized";
	}
	return NULL;
}

/* --------------------------------------------------------------- paho */

/* Lets Paho read what the broker sent (acknowledgements, the answer to a
 * ping, the end of the connection) for `msec` milliseconds; 0 reads what
 * is there without waiting. Paho's own MQTTClient_yield() always takes
 * 100 ms. */
static void mqtt_pump(struct mqtt_sink *ms, unsigned long msec)
{
	char *topic = NULL;
	int len = 0;
	MQTTClient_message *m = NULL;

	MQTTClient_receive(ms->client, &topic, &len, &m, msec);
	if (m != NULL)
		MQTTClient_freeMessage(&m);
	if (topic != NULL)
		MQTTClient_free(topic);
}

/* Waits until the broker has acknowledged everything published: 0,
 * -ENOTCONN when the connection went, -ETIMEDOUT after publish_timeout.
 */
static int mqtt_settle(struct mqtt_sink *ms, struct vigil_ctx *ctx)
{
	vigil_time_ns deadline =
		ms->host->monotonic(ctx) + ms->publish_timeout;

	for (;;) {
		MQTTClient_deliveryToken *tokens = NULL;

		if (!MQTTClient_isConnected(ms->client))
			return -ENOTCONN;
		if (MQTTClient_getPendingDeliveryTokens(ms->client, &tokens) !=
		    MQTTCLIENT_SUCCESS)
			return -ENOMEM;
		if (tokens == NULL)
			return 0;
		MQTTClient_free(tokens);
		if (ms->host->monotonic(ctx) >= deadline)
			return -ETIMEDOUT;
		mqtt_pump(ms, MQTT_PUMP_MS);
	}
}

/* Says why what was published did not get through, and drops a
 * connection that stopped answering, so that the next attempt starts
 * afresh. */
static void settle_failed(struct mqtt_sink *ms, struct vigil_ctx *ctx,
			  const char *topic, int err)
{
	if (err == -ETIMEDOUT) {
		report_failure(ms, ctx, SIG_TIMEOUT,
			       "%s did not acknowledge %s within %" PRId64
			       " ms; reconnecting",
			       ms->server, topic,
			       ms->publish_timeout / VIGIL_MSEC);
		MQTTClient_disconnect(ms->client, 0);
	} else {
		report_failure(ms, ctx, SIG_LOST,
			       "lost the connection to %s while publishing "
			       "to %s",
			       ms->server, topic);
	}
}

static int mqtt_publish(struct mqtt_sink *ms, struct vigil_ctx *ctx,
			const char *topic, const void *payload, size_t len,
			int qos, int retain)
{
	MQTTClient_deliveryToken dt = 0;
	int rc;

	if (len > INT32_MAX)
		return -EMSGSIZE;
	rc = MQTTClient_publish(ms->client, topic, (int)len, payload, qos,
				retain, &dt);
	if (rc == MQTTCLIENT_SUCCESS)
		return 0;
	report_failure(ms, ctx, SIG_PUBLISH + rc,
		       "cannot publish to %s on %s: %s", topic, ms->server,
		       MQTTClient_strerror(rc));
	return -EIO;
}

#ifdef VIGIL_MQTT_TLS
/* OpenSSL's errors of a failed handshake, through Paho, one line each:
 * "thread:error:code:library:function:reason:file:line:data". Keeps the
 * reason of the first ("certificate verify failed") for the log. */
static int on_tls_error(const char *str, size_t len, void *user)
{
	struct mqtt_sink *ms = user;
	const char *p = str, *end = str + len;
	size_t n;

	if (ms->tls_error[0] != '\0')
		return 0;
	for (int field = 0; field < 5 && p < end; field++) {
		p = memchr(p, ':', (size_t)(end - p));
		p = p != NULL ? p + 1 : end;
	}
	if (p >= end)
		p = str;
	n = (size_t)(end - p);
	if (memchr(p, ':', n) != NULL)
		n = (size_t)((const char *)memchr(p, ':', n) - p);
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n >= sizeof(ms->tls_error))
		n = sizeof(ms->tls_error) - 1;
	memcpy(ms->tls_error, p, n);
	ms->tls_error[n] = '\0';
	return 0;
}
#endif

/*
 * Connects, announces "online" on the status topic and waits for it to
 * be acknowledged: 0, or -EIO with the reason logged (once). Bounded by
 * connect_timeout, then publish_timeout.
 */
static int mqtt_connect(struct mqtt_sink *ms, struct vigil_ctx *ctx)
{
	MQTTClient_connectOptions co = MQTTClient_connectOptions_initializer;
	MQTTClient_willOptions will = MQTTClient_willOptions_initializer;
#ifdef VIGIL_MQTT_TLS
	MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
#endif
	vigil_time_ns t0 = ms->host->monotonic(ctx), took;
	const char *why;
	char tls_why[160];
	int rc, err;

	ms->wanted = 1;
	co.keepAliveInterval = ms->keepalive;
	co.cleansession = ms->clean_session;
	co.reliable = 0;
	co.maxInflightMessages = MQTT_INFLIGHT;
	co.connectTimeout = ms->connect_timeout;
	co.retryInterval = 0;
	/* Only 3.1.1: the default also tries 3.1 after a failure, which
	 * doubles the time a broker that is down holds vigild. */
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.username = ms->username;
	co.password = ms->password;
	if (ms->status != NULL) {
		will.topicName = ms->status;
		will.message = "offline";
		will.retained = 1;
		will.qos = ms->qos;
		co.will = &will;
	}
#ifdef VIGIL_MQTT_TLS
	if (ms->tls) {
		ssl.trustStore = ms->ca_file;
		ssl.enableServerCertAuth = ms->tls_verify;
		ssl.verify = ms->tls_verify;
		ssl.ssl_error_cb = on_tls_error;
		ssl.ssl_error_context = ms;
		co.ssl = &ssl;
	}
#endif
	ms->tls_error[0] = '\0';
	rc = MQTTClient_connect(ms->client, &co);
	if (rc != MQTTCLIENT_SUCCESS) {
		took = ms->host->monotonic(ctx) - t0;
		why = connack_name(rc);
		if (why == NULL && ms->tls_error[0] != '\0') {
			snprintf(tls_why, sizeof(tls_why), "TLS handshake "
				 "failed: %s", ms->tls_error);
			why = tls_why;
		}
		if (why == NULL && took >= (vigil_time_ns)ms->connect_timeout *
						    VIGIL_SEC)
			why = "no answer within connect_timeout";
		if (why == NULL)
			why = ms->tls ? "connection or TLS handshake failed "
					"(is the broker running there? is its "
					"certificate trusted?)"
				      : "connection failed (is the broker "
					"running there?)";
		report_failure(ms, ctx, SIG_CONNECT + rc,
			       "cannot connect to %s: %s (MQTT code %d); "
			       "will retry",
			       ms->server, why, rc);
		backoff(ms, ctx);
		return -EIO;
	}
	if (ms->status != NULL) {
		err = mqtt_publish(ms, ctx, ms->status, "online", 6, ms->qos,
				   1);
		if (err == 0)
			err = mqtt_settle(ms, ctx);
		if (err < 0) {
			if (err != -EIO)
				settle_failed(ms, ctx, ms->status, err);
			MQTTClient_disconnect(ms->client, 0);
			backoff(ms, ctx);
			return -EIO;
		}
	}
	if (ms->failures > 0)
		ms->host->log(ctx, VIGIL_LOG_NOTICE,
			      "connected to %s again after %u failed "
			      "attempt(s)",
			      ms->server, ms->failures);
	else
		ms->host->log(ctx, VIGIL_LOG_NOTICE, "connected to %s as %s",
			      ms->server, ms->client_id);
	ms->failures = 0;
	ms->fail_sig = 0;
	ms->backoff = 0;
	return 0;
}

/*
 * Makes sure there is a connection to publish on: looks first whether the
 * broker has closed it (publishing into a dead socket would only fail
 * later), and connects when there is none; `force` connects even during
 * the backoff (deliver: the core spaces its own retries).
 */
static int mqtt_ready(struct mqtt_sink *ms, struct vigil_ctx *ctx, int force)
{
	if (MQTTClient_isConnected(ms->client)) {
		mqtt_pump(ms, 0);
		if (MQTTClient_isConnected(ms->client))
			return 0;
		ms->host->log(ctx, VIGIL_LOG_WARNING,
			      "lost the connection to %s", ms->server);
	}
	if (!force && ms->host->monotonic(ctx) < ms->next_connect)
		return -EAGAIN;
	return mqtt_connect(ms, ctx);
}

/* ----------------------------------------------------------- callbacks */

static int mqtt_deliver(void *state, struct vigil_ctx *ctx,
			const struct vigil_event *ev)
{
	struct mqtt_sink *ms = state;
	const char *vals[N_VARS] = {
		[VAR_HOSTNAME] = ms->hostname,
		[VAR_INSTANCE] = ms->instance,
		[VAR_TYPE] = ev->incident_type != NULL ? ev->incident_type
						       : "unknown",
		[VAR_KEY] = ev->key != NULL ? ev->key : "unknown",
		[VAR_SEVERITY] = vigil_severity_name(ev->severity),
		[VAR_EVENT] = vigil_event_type_name(ev->type),
	};
	int err;

	err = sink_json_event(&ms->json, ev, ms->host->now(ctx));
	if (err == 0)
		err = topic_expand(&ms->topic_buf, ms->topic, vals);
	if (err < 0) {
		ms->host->log(ctx, VIGIL_LOG_ERR,
			      "cannot encode incident #%" PRIu64 ": %s",
			      ev->incident_id, strerror(-err));
		return err;
	}
	if (mqtt_ready(ms, ctx, 1) < 0)
		return -EIO;
	err = mqtt_publish(ms, ctx, ms->topic_buf.data, ms->json.out.data,
			   ms->json.out.len, ms->qos, ms->retain);
	sink_json_clear(&ms->json);
	if (err < 0)
		return -EIO;
	err = mqtt_settle(ms, ctx);
	if (err < 0) {
		settle_failed(ms, ctx, ms->topic_buf.data, err);
		return -EIO;
	}
	if (ms->failures > 0) {
		ms->host->log(ctx, VIGIL_LOG_NOTICE,
			      "publishing to %s works again after %u failed "
			      "attempt(s)",
			      ms->server, ms->failures);
		ms->failures = 0;
		ms->fail_sig = 0;
	}
	return 0;
}

static int mqtt_write(void *state, struct vigil_ctx *ctx,
		      const struct vigil_reading *r, size_t n)
{
	struct mqtt_sink *ms = state;
	const char *vals[N_VARS] = {
		[VAR_HOSTNAME] = ms->hostname,
		[VAR_INSTANCE] = ms->instance,
	};
	vigil_time_ns now = ms->host->now(ctx);
	size_t bad = 0;
	int err = 0, first = 0;

	if (n == 0)
		return 0;
	if (mqtt_ready(ms, ctx, 0) < 0)
		return -EIO;
	for (size_t i = 0; i < n && err == 0; i++) {
		int e;

		vals[VAR_METRIC] = r[i].metric != NULL ? r[i].metric : "";
		e = sink_json_reading(&ms->json, &r[i], now);
		if (e == 0)
			e = topic_expand(&ms->topic_buf, ms->metrics_topic,
					 vals);
		if (e < 0) {
			first = first != 0 ? first : e;
			bad++;
			continue;
		}
		err = mqtt_publish(ms, ctx, ms->topic_buf.data,
				   ms->json.out.data, ms->json.out.len,
				   ms->metrics_qos, ms->retain);
	}
	sink_json_clear(&ms->json);
	if (err == 0 && ms->metrics_qos > 0) {
		err = mqtt_settle(ms, ctx);
		if (err < 0) {
			settle_failed(ms, ctx, ms->topic_buf.data, err);
			err = -EIO;
		}
	}
	if (bad > 0) {
		ms->host->log(ctx, VIGIL_LOG_WARNING,
			      "%zu of %zu reading(s) could not be encoded: %s",
			      bad, n, strerror(-first));
		if (err == 0)
			err = first;
	}
	return err;
}

/* Every flush_interval: answers the broker (keepalive pings) and, once
 * connected at all, reconnects after a loss. */
static int mqtt_flush(void *state, struct vigil_ctx *ctx)
{
	struct mqtt_sink *ms = state;

	if (!ms->wanted)
		return 0;
	/* A failure is logged by mqtt_connect, and retried with backoff;
	 * the core need not hear of it too. */
	(void)mqtt_ready(ms, ctx, 0);
	return 0;
}

/* --------------------------------------------------------------- init */

/* "tcp://host:port" and the like: 1 for TLS, 0 for plain, -1 for
 * neither. */
static int server_scheme(const char *s)
{
	static const char *const plain[] = {"tcp://", "mqtt://"};
	static const char *const tls[] = {"ssl://", "mqtts://"};

	for (size_t i = 0; i < 2; i++) {
		if (strncmp(s, plain[i], strlen(plain[i])) == 0)
			return s[strlen(plain[i])] != '\0' ? 0 : -1;
		if (strncmp(s, tls[i], strlen(tls[i])) == 0)
			return s[strlen(tls[i])] != '\0' ? 1 : -1;
	}
	return -1;
}

static const char *nonempty(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

static void mqtt_fini(void *state)
{
	struct mqtt_sink *ms = state;

	if (ms == NULL)
		return;
	if (ms->client != NULL) {
		/* A clean goodbye: the broker drops the will on DISCONNECT,
		 * so say "offline" ourselves. */
		if (MQTTClient_isConnected(ms->client)) {
			if (ms->status != NULL &&
			    mqtt_publish(ms, ms->ctx, ms->status, "offline", 7,
					 ms->qos, 1) == 0)
				(void)mqtt_settle(ms, ms->ctx);
			MQTTClient_disconnect(ms->client, 0);
		}
		MQTTClient_destroy(&ms->client);
	}
	sink_json_fini(&ms->json);
	free(ms->topic_buf.data);
	free(ms->status);
	free(ms->client_id);
	free(ms);
}

static int mqtt_init(struct vigil_ctx *ctx, const struct vigil_host *host,
		     void **state)
{
	struct mqtt_sink *ms;
	const char *s, *status;
	const char *vals[N_VARS] = {NULL};
	int tls, rc, err = VIGIL_EFATAL;
	vigil_time_ns d;

	ms = calloc(1, sizeof(*ms));
	if (ms == NULL)
		return -ENOMEM;
	ms->host = host;
	ms->ctx = ctx;
	ms->instance = host->instance_name(ctx);
	if (gethostname(ms->hostname, sizeof(ms->hostname) - 1) < 0 ||
	    ms->hostname[0] == '\0')
		strcpy(ms->hostname, "localhost");

	ms->server = host->config_string(ctx, "server");
	if (ms->server == NULL)
		ms->server = "tcp://127.0.0.1:1883";
	tls = server_scheme(ms->server);
	if (tls < 0) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "server must be tcp://HOST:PORT (or mqtt://), or "
			  "ssl://HOST:PORT (or mqtts://) for TLS, not \"%s\"",
			  ms->server);
		goto fail;
	}
#ifndef VIGIL_MQTT_TLS
	if (tls) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "server %s needs TLS, but this mqtt sink was built "
			  "with paho-mqtt3c, which has none (rebuild with "
			  "libpaho-mqtt3cs)",
			  ms->server);
		goto fail;
	}
#endif
	ms->tls = tls;
	ms->tls_verify = host->config_bool(ctx, "tls_verify", 1);
	ms->ca_file = nonempty(host->config_string(ctx, "ca_file"));
	if (ms->ca_file != NULL && !tls) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "ca_file is set, but server %s is not ssl:// or "
			  "mqtts://",
			  ms->server);
		goto fail;
	}
	if (ms->ca_file != NULL && access(ms->ca_file, R_OK) < 0) {
		err = -errno;
		host->log(ctx, VIGIL_LOG_ERR, "cannot read ca_file %s: %s",
			  ms->ca_file, strerror(-err));
		/* A missing file may be a mount still to come: retry. */
		if (err != -ENOENT)
			err = VIGIL_EFATAL;
		goto fail;
	}

	s = nonempty(host->config_string(ctx, "client_id"));
	if (s != NULL)
		ms->client_id = strdup(s);
	else if (asprintf(&ms->client_id, "vigil-%s-%s", ms->hostname,
			  ms->instance) < 0)
		ms->client_id = NULL;
	if (ms->client_id == NULL) {
		err = -ENOMEM;
		goto fail;
	}

	ms->topic = host->config_string(ctx, "topic");
	if (ms->topic == NULL)
		ms->topic = "vigil/{hostname}/incident/{type}";
	ms->metrics_topic = host->config_string(ctx, "metrics_topic");
	if (ms->metrics_topic == NULL)
		ms->metrics_topic = "vigil/{hostname}/metric/{metric}";
	status = host->config_string(ctx, "status_topic");
	if (status == NULL)
		status = "vigil/{hostname}/status";
	if (topic_check(host, ctx, "topic", ms->topic, VARS_EVENT) < 0 ||
	    topic_check(host, ctx, "metrics_topic", ms->metrics_topic,
			VARS_METRIC) < 0 ||
	    (status[0] != '\0' &&
	     topic_check(host, ctx, "status_topic", status, VARS_STATUS) < 0))
		goto fail;
	if (status[0] != '\0') {
		vals[VAR_HOSTNAME] = ms->hostname;
		vals[VAR_INSTANCE] = ms->instance;
		if (topic_expand(&ms->topic_buf, status, vals) < 0 ||
		    (ms->status = strdup(ms->topic_buf.data)) == NULL) {
			err = -ENOMEM;
			goto fail;
		}
	}

	ms->qos = (int)host->config_int(ctx, "qos", 1);
	ms->metrics_qos = (int)host->config_int(ctx, "metrics_qos", 0);
	ms->retain = host->config_bool(ctx, "retain", 0);
	ms->clean_session = host->config_bool(ctx, "clean_session", 1);
	d = host->config_duration(ctx, "keepalive", 30 * VIGIL_SEC);
	ms->keepalive = (int)((d + VIGIL_SEC / 2) / VIGIL_SEC);
	d = host->config_duration(ctx, "connect_timeout", 5 * VIGIL_SEC);
	ms->connect_timeout = (int)((d + VIGIL_SEC - 1) / VIGIL_SEC);
	ms->publish_timeout =
		host->config_duration(ctx, "publish_timeout", 5 * VIGIL_SEC);

	ms->username = nonempty(host->config_string(ctx, "username"));
	ms->password = nonempty(host->config_string(ctx, "password"));
	if (ms->password != NULL && ms->username == NULL) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "password is set without username");
		goto fail;
	}

	if ((err = sink_json_init(&ms->json, JSON_BUF_KEEP, 0)) < 0)
		goto fail;
	/* No connection yet: that waits for something to send. */
	rc = MQTTClient_create(&ms->client, ms->server, ms->client_id,
			       MQTTCLIENT_PERSISTENCE_NONE, NULL);
	if (rc != MQTTCLIENT_SUCCESS) {
		ms->client = NULL;
		host->log(ctx, VIGIL_LOG_ERR,
			  "cannot create an MQTT client for %s as %s: %s",
			  ms->server, ms->client_id, MQTTClient_strerror(rc));
		err = VIGIL_EFATAL;
		goto fail;
	}
	*state = ms;
	return 0;

fail:
	mqtt_fini(ms);
	return err;
}

static const struct vigil_option mqtt_options[] = {
	{.name = "server",
	 .type = VIGIL_OPT_STRING,
	 .def = "tcp://127.0.0.1:1883",
	 .help = "broker: tcp://HOST:PORT, or ssl://HOST:PORT for TLS"},
	{.name = "client_id",
	 .type = VIGIL_OPT_STRING,
	 .help = "MQTT client identifier; default vigil-HOSTNAME-INSTANCE"},
	{.name = "topic",
	 .type = VIGIL_OPT_STRING,
	 .def = "vigil/{hostname}/incident/{type}",
	 .help = "topic of incident events; {hostname} {instance} {type} "
		 "{key} {severity} {event} are replaced"},
	{.name = "metrics_topic",
	 .type = VIGIL_OPT_STRING,
	 .def = "vigil/{hostname}/metric/{metric}",
	 .help = "topic of readings (with metrics = yes); {hostname} "
		 "{instance} {metric} are replaced"},
	{.name = "status_topic",
	 .type = VIGIL_OPT_STRING,
	 .def = "vigil/{hostname}/status",
	 .help = "retained \"online\" on connect, \"offline\" as last will "
		 "and on stop; empty: none"},
	{.name = "qos",
	 .type = VIGIL_OPT_INT,
	 .def = "1",
	 .min = 0,
	 .max = 2,
	 .help = "QoS of incident events and status: 0 at most once, 1 at "
		 "least once, 2 exactly once"},
	{.name = "metrics_qos",
	 .type = VIGIL_OPT_INT,
	 .def = "0",
	 .min = 0,
	 .max = 2,
	 .help = "QoS of readings (perishable: 0 is usually right)"},
	{.name = "retain",
	 .type = VIGIL_OPT_BOOL,
	 .def = "no",
	 .help = "publish events and readings retained: the broker keeps the "
		 "last of each topic for new subscribers"},
	{.name = "username",
	 .type = VIGIL_OPT_STRING,
	 .help = "user name to connect with"},
	{.name = "password",
	 .type = VIGIL_OPT_STRING,
	 .help = "password to connect with (needs username)"},
	{.name = "keepalive",
	 .type = VIGIL_OPT_DURATION,
	 .def = "30s",
	 .min = 0,
	 .max = 65535e9,
	 .help = "most time without traffic before a ping; 0 none; served at "
		 "each flush_interval"},
	{.name = "connect_timeout",
	 .type = VIGIL_OPT_DURATION,
	 .def = "5s",
	 .min = 1e9,
	 .max = 60e9,
	 .help = "longest a connection attempt may take; vigild waits for it "
		 "(1s to 60s)"},
	{.name = "publish_timeout",
	 .type = VIGIL_OPT_DURATION,
	 .def = "5s",
	 .min = 100e6,
	 .max = 60e9,
	 .help = "longest wait for the broker to acknowledge what was "
		 "published (100ms to 60s)"},
	{.name = "clean_session",
	 .type = VIGIL_OPT_BOOL,
	 .def = "yes",
	 .help = "start every connection with a clean MQTT session"},
	{.name = "tls_verify",
	 .type = VIGIL_OPT_BOOL,
	 .def = "yes",
	 .help = "with ssl://: check the broker's certificate and host name; "
		 "no only for testing"},
	{.name = "ca_file",
	 .type = VIGIL_OPT_STRING,
	 .help = "with ssl://: PEM file of the CA certificates to trust, "
		 "instead of the system's"},
	VIGIL_OPTIONS_END,
};

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "mqtt", "1.0.0"),
	.description = "Incident events and readings published to an MQTT "
		       "broker, as JSON",
	.options = mqtt_options,
	.init = mqtt_init,
	.fini = mqtt_fini,
	.deliver = mqtt_deliver,
	.write = mqtt_write,
	.flush = mqtt_flush,
};
