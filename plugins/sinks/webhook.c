/*
 * webhook.c - the "webhook" sink: each incident event POSTed as JSON.
 *
 * One HTTP POST per incident event to `url`, with a JSON object as its
 * body: the same object, field for field, that the file sink writes as a
 * line (see file.c), so that a receiver and a collector of the JSON Lines
 * file read one schema:
 *
 *   {"time":"2026-11-24T10:01:02.123Z","event":"opened","id":12,
 *    "key":"cpu_hot{zone=thermal_zone0}","type":"cpu_hot",
 *    "severity":"warning","status":"open","message":"...","value":72.5,
 *    "labels":{"zone":"thermal_zone0"},"created":"...","occurrences":1,
 *    "actions":[]}
 *
 * A 2xx answer is a delivery. Anything else (another status, a refused
 * connection, a timeout, a TLS failure) returns -EIO: the core keeps the
 * event, and those after it, and delivers them again in order with
 * backoff, so a receiver that is down loses nothing. The reason is logged
 * once when it starts and again only when it changes (a 500 that turns
 * into a refused connection), with the URL less its user, password and
 * query, which may hold secrets. A 4xx other than 408 and 429 means the
 * server refused this request and will likely refuse it again: the log
 * line says so and quotes the start of the answer's body.
 *
 * deliver() waits for the answer, and whoever calls it with it (vigild
 * itself, for a sink that is not isolated): `request_timeout` bounds each
 * attempt, connecting included. One curl easy handle per instance keeps
 * its connection open between deliveries. Redirects are not followed, and
 * only http and https are spoken.
 */
#define _GNU_SOURCE /* asprintf */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <vigil/plugin.h>

#include "sink_json.h"

/* A buffer above this is given back after use. */
#define JSON_BUF_KEEP (64 * 1024)

/* Bytes of a response body kept, for the log line of a failure. */
#define WEBHOOK_REPLY_MAX 200

/* The separator of `headers`: backslash and n, as two characters, since
 * an INI value is one line. */
#define WEBHOOK_HEADER_SEP "\\n"

/* --------------------------------------------------------------- state */

struct webhook {
	const struct vigil_host *host;
	CURL *curl;
	struct curl_slist *headers; /* ours and the user's; the token too */
	char *shown;                /* url without credentials or query */
	int global;                 /* curl_global_init succeeded */
	struct sink_json json;

	/* The answer to the request under way. */
	char reply[WEBHOOK_REPLY_MAX + 1]; /* start of the body */
	size_t reply_len;
	int reply_cut;     /* the body was longer than `reply` */
	char reason[64];   /* "Internal Server Error" of the status line */
	char errbuf[CURL_ERROR_SIZE];

	/* The failure last reported, so that a receiver that is down is
	 * reported when it goes down and when it comes back, not on every
	 * retry in between: an HTTP status, or 1000 + a CURLcode. */
	long fail_sig;
	unsigned failures; /* attempts failed since the last success */
};

/* ------------------------------------------------------------- helpers */

/* Appends the first bytes of a response body to wh->reply. Always takes
 * the whole chunk: a long body is cut, never a reason to fail. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct webhook *wh = user;
	size_t n = size * nmemb;
	size_t room = WEBHOOK_REPLY_MAX - wh->reply_len;

	if (n > room) {
		wh->reply_cut = 1;
		memcpy(wh->reply + wh->reply_len, data, room);
		wh->reply_len += room;
	} else {
		memcpy(wh->reply + wh->reply_len, data, n);
		wh->reply_len += n;
	}
	wh->reply[wh->reply_len] = '\0';
	return n;
}

/* Keeps the reason phrase of the last status line ("HTTP/1.1 503
 * Service Unavailable"); HTTP/2 has none. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *user)
{
	struct webhook *wh = user;
	size_t n = size * nmemb, i = 0, k = 0;

	if (n < 5 || memcmp(data, "HTTP/", 5) != 0)
		return n;
	wh->reason[0] = '\0';
	while (i < n && data[i] != ' ') /* HTTP/1.1 */
		i++;
	while (i < n && data[i] == ' ')
		i++;
	while (i < n && data[i] != ' ' && data[i] != '\r' && data[i] != '\n')
		i++; /* 503 */
	while (i < n && data[i] == ' ')
		i++;
	while (i < n && k + 1 < sizeof(wh->reason) && data[i] != '\r' &&
	       data[i] != '\n') {
		unsigned char c = (unsigned char)data[i++];

		wh->reason[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	wh->reason[k] = '\0';
	return n;
}

/* The start of the response body, fit for one log line: whitespace runs
 * become one space, other control characters and bytes that are not
 * UTF-8 become '?', and a cut says "...". Writes into `out`. */
static void reply_excerpt(const struct webhook *wh, char *out, size_t size)
{
	const unsigned char *p = (const unsigned char *)wh->reply;
	size_t n = wh->reply_len, i = 0, k = 0;
	int space = 0;

	while (i < n && k + 8 < size) {
		size_t len;

		if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
		    p[i] == '\n') {
			space = k > 0;
			i++;
			continue;
		}
		if (space) {
			out[k++] = ' ';
			space = 0;
		}
		len = vigil_utf8_seq(p + i, n - i);
		if (len == 0 || p[i] < 0x20 || p[i] == 0x7f) {
			/* A sequence cut at the end of the excerpt is
			 * not worth a '?'. */
			if (len == 0 && wh->reply_cut && n - i < 4)
				break;
			out[k++] = '?';
			i++;
			continue;
		}
		if (k + len + 8 >= size)
			break;
		memcpy(out + k, p + i, len);
		k += len;
		i += len;
	}
	if (i < n || wh->reply_cut) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

/* Says once why deliveries fail, and again only when the reason
 * changes; `sig` identifies the reason. */
static VIGIL_PRINTF(4, 5) void report_failure(struct webhook *wh,
					      struct vigil_ctx *ctx, long sig,
					      const char *fmt, ...)
{
	va_list ap;

	wh->failures++;
	if (wh->failures > 1 && sig == wh->fail_sig)
		return;
	wh->fail_sig = sig;
	va_start(ap, fmt);
	wh->host->vlog(ctx, VIGIL_LOG_ERR, fmt, ap);
	va_end(ap);
}

/* Logs why a request was answered with a status that is not 2xx. */
static void report_status(struct webhook *wh, struct vigil_ctx *ctx,
			  long status)
{
	char body[WEBHOOK_REPLY_MAX + 16];
	const char *sp = wh->reason[0] != '\0' ? " " : "";
	const char *hint;

	reply_excerpt(wh, body, sizeof(body));
	if (status >= 400 && status < 500 && status != 408 && status != 429) {
		if (status == 401 || status == 403)
			hint = "check bearer_token, username and password";
		else if (status == 404 || status == 405)
			hint = "check url";
		else
			hint = "check url, headers and the receiver";
		report_failure(wh, ctx, status,
			       "POST %s was refused: HTTP %ld%s%s%s%s%s; the "
			       "server will likely refuse it again, and the "
			       "events after it wait behind it: %s",
			       wh->shown, status, sp, wh->reason,
			       body[0] != '\0' ? ": \"" : "", body,
			       body[0] != '\0' ? "\"" : "", hint);
		return;
	}
	report_failure(wh, ctx, status,
		       "POST %s failed: HTTP %ld%s%s%s%s%s%s; will retry",
		       wh->shown, status, sp, wh->reason,
		       body[0] != '\0' ? ": \"" : "", body,
		       body[0] != '\0' ? "\"" : "",
		       status >= 300 && status < 400
			       ? " (redirects are not followed: set url to "
				 "the new location)"
			       : "");
}

/* ----------------------------------------------------------- callbacks */

static int webhook_deliver(void *state, struct vigil_ctx *ctx,
			   const struct vigil_event *ev)
{
	struct webhook *wh = state;
	vigil_time_ns t0 = wh->host->monotonic(ctx);
	long status = 0;
	CURLcode rc;
	int err;

	err = sink_json_event(&wh->json, ev, wh->host->now(ctx));
	if (err < 0) {
		wh->host->log(ctx, VIGIL_LOG_ERR,
			      "cannot encode incident #%" PRIu64 ": %s",
			      ev->incident_id, strerror(-err));
		return err;
	}
	curl_easy_setopt(wh->curl, CURLOPT_POSTFIELDS, wh->json.out.data);
	curl_easy_setopt(wh->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)wh->json.out.len);
	wh->reply_len = 0;
	wh->reply[0] = '\0';
	wh->reply_cut = 0;
	wh->reason[0] = '\0';
	wh->errbuf[0] = '\0';

	rc = curl_easy_perform(wh->curl);
	sink_json_clear(&wh->json);
	if (rc != CURLE_OK) {
		report_failure(wh, ctx, 1000 + (long)rc, "POST %s failed: %s",
			       wh->shown,
			       wh->errbuf[0] != '\0' ? wh->errbuf
						     : curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(wh->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		report_status(wh, ctx, status);
		return -EIO;
	}
	if (wh->failures > 0) {
		wh->host->log(ctx, VIGIL_LOG_NOTICE,
			      "POST %s works again (HTTP %ld) after %u failed "
			      "attempt(s)",
			      wh->shown, status, wh->failures);
		wh->failures = 0;
		wh->fail_sig = 0;
	} else if (wh->host->log_enabled(ctx, VIGIL_LOG_DEBUG)) {
		wh->host->log(ctx, VIGIL_LOG_DEBUG,
			      "incident #%" PRIu64 " %s: HTTP %ld in %" PRId64
			      " ms",
			      ev->incident_id, vigil_event_type_name(ev->type),
			      status,
			      (wh->host->monotonic(ctx) - t0) / VIGIL_MSEC);
	}
	return 0;
}

/* --------------------------------------------------------------- init */

/*
 * Checks that s is an http or https URL with a host, and makes
 * wh->shown: the URL without user, password and fragment, and with a
 * query replaced by "?...", since either may carry a secret. The message
 * never repeats an invalid URL, for the same reason.
 */
static int parse_url(struct webhook *wh, struct vigil_ctx *ctx,
		     const char *s)
{
	CURLU *u = curl_url();
	CURLUcode uc;
	char *scheme = NULL, *query = NULL, *shown = NULL;
	int err = VIGIL_EFATAL;

	if (u == NULL)
		return -ENOMEM;
	if (strstr(s, "://") == NULL) {
		wh->host->log(ctx, VIGIL_LOG_ERR,
			      "url must start with http:// or https://");
		goto out;
	}
	uc = curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		wh->host->log(ctx, VIGIL_LOG_ERR,
			      "url is not a valid URL (%s); expected "
			      "http://HOST[:PORT]/PATH or https://...",
			      curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		wh->host->log(ctx, VIGIL_LOG_ERR,
			      "url must start with http:// or https://, not "
			      "%s://",
			      scheme != NULL ? scheme : "?");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, "...", 0) != CURLUE_OK)
		goto nomem;
	if (curl_url_set(u, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &shown, 0) != CURLUE_OK)
		goto nomem;
	wh->shown = strdup(shown);
	err = wh->shown != NULL ? 0 : -ENOMEM;
	goto out;
nomem:
	err = -ENOMEM;
out:
	curl_free(shown);
	curl_free(query);
	curl_free(scheme);
	curl_url_cleanup(u);
	return err;
}

/* RFC 9110 token characters, which a header name is made of. */
static int is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Whether `name` (of length n) is one of the headers in the list. */
static int has_header(const struct curl_slist *l, const char *name,
		      size_t n)
{
	for (; l != NULL; l = l->next)
		if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
			return 1;
	return 0;
}

static int add_header(struct webhook *wh, const char *line)
{
	struct curl_slist *l = curl_slist_append(wh->headers, line);

	if (l == NULL)
		return -ENOMEM;
	wh->headers = l;
	return 0;
}

/*
 * Adds each "Name: value" of `s`, separated by WEBHOOK_HEADER_SEP, to
 * the request headers; blanks around each are dropped, and so are empty
 * ones. "Name:" with nothing after it removes a header curl would send.
 */
static int parse_headers(struct webhook *wh, struct vigil_ctx *ctx,
			 const char *s)
{
	size_t sep = strlen(WEBHOOK_HEADER_SEP);

	while (*s != '\0') {
		const char *end = strstr(s, WEBHOOK_HEADER_SEP);
		size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
		size_t name = 0;
		char *line;
		int err;

		while (n > 0 && isspace((unsigned char)*s)) {
			s++;
			n--;
		}
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		while (name < n && is_tchar((unsigned char)s[name]))
			name++;
		if (n > 0 && (name == 0 || name == n || s[name] != ':')) {
			wh->host->log(ctx, VIGIL_LOG_ERR,
				      "headers: \"%.*s\" is not 'Name: value' "
				      "(several are separated by %s)",
				      (int)n, s, WEBHOOK_HEADER_SEP);
			return VIGIL_EFATAL;
		}
		if (n > 0) {
			line = strndup(s, n);
			if (line == NULL)
				return -ENOMEM;
			err = add_header(wh, line);
			free(line);
			if (err < 0)
				return err;
		}
		s += n;
		while (*s != '\0' && strncmp(s, WEBHOOK_HEADER_SEP, sep) != 0)
			s++; /* the trailing blanks */
		if (*s != '\0')
			s += sep;
	}
	return 0;
}

static void webhook_fini(void *state)
{
	struct webhook *wh = state;

	if (wh == NULL)
		return;
	if (wh->curl != NULL)
		curl_easy_cleanup(wh->curl);
	curl_slist_free_all(wh->headers);
	if (wh->global)
		curl_global_cleanup();
	sink_json_fini(&wh->json);
	free(wh->shown);
	free(wh);
}

static int webhook_init(struct vigil_ctx *ctx, const struct vigil_host *host,
			void **state)
{
	struct webhook *wh;
	const char *url, *s, *token, *user, *pass, *ca;
	vigil_time_ns timeout;
	CURL *c;
	int err;

	wh = calloc(1, sizeof(*wh));
	if (wh == NULL)
		return -ENOMEM;
	wh->host = host;

	url = host->config_string(ctx, "url");
	if (url == NULL || url[0] == '\0') {
		host->log(ctx, VIGIL_LOG_ERR,
			  "url must be an http:// or https:// URL");
		err = VIGIL_EFATAL;
		goto fail;
	}
	err = parse_url(wh, ctx, url);
	if (err < 0)
		goto fail;

	/* The user's first: ours only where they set none of the name. */
	s = host->config_string(ctx, "headers");
	if (s != NULL && (err = parse_headers(wh, ctx, s)) < 0)
		goto fail;
	if (!has_header(wh->headers, "Content-Type", 12) &&
	    (err = add_header(wh, "Content-Type: application/json")) < 0)
		goto fail;
	/* No "Expect: 100-continue" round trip for a large event. */
	if (!has_header(wh->headers, "Expect", 6) &&
	    (err = add_header(wh, "Expect:")) < 0)
		goto fail;

	token = host->config_string(ctx, "bearer_token");
	user = host->config_string(ctx, "username");
	pass = host->config_string(ctx, "password");
	if (token != NULL && token[0] == '\0')
		token = NULL;
	if (user != NULL && user[0] == '\0')
		user = NULL;
	if (pass != NULL && pass[0] == '\0')
		pass = NULL;
	if (token != NULL && (user != NULL || pass != NULL)) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "set bearer_token or username and password, not "
			  "both");
		err = VIGIL_EFATAL;
		goto fail;
	}
	if (pass != NULL && user == NULL) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "password is set without username");
		err = VIGIL_EFATAL;
		goto fail;
	}
	if ((token != NULL || user != NULL) &&
	    has_header(wh->headers, "Authorization", 13)) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "headers has an Authorization header, and %s is "
			  "set too: keep one",
			  token != NULL ? "bearer_token" : "username");
		err = VIGIL_EFATAL;
		goto fail;
	}
	if (token != NULL) {
		char *line;

		for (s = token; *s != '\0'; s++) {
			if ((unsigned char)*s <= ' ' || *s == 0x7f) {
				host->log(ctx, VIGIL_LOG_ERR,
					  "bearer_token must not contain "
					  "blanks or control characters");
				err = VIGIL_EFATAL;
				goto fail;
			}
		}
		if (asprintf(&line, "Authorization: Bearer %s", token) < 0) {
			err = -ENOMEM;
			goto fail;
		}
		err = add_header(wh, line);
		free(line);
		if (err < 0)
			goto fail;
	}

	ca = host->config_string(ctx, "ca_file");
	if (ca != NULL && ca[0] == '\0')
		ca = NULL;
	if (ca != NULL && access(ca, R_OK) < 0) {
		err = -errno;
		host->log(ctx, VIGIL_LOG_ERR, "cannot read ca_file %s: %s", ca,
			  strerror(-err));
		/* A missing file may be a mount still to come: retry. */
		if (err != -ENOENT)
			err = VIGIL_EFATAL;
		goto fail;
	}
	timeout = host->config_duration(ctx, "request_timeout",
					  5 * VIGIL_SEC);

	/* Counted by libcurl: once per process in effect, and undone by
	 * the last curl_global_cleanup. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		host->log(ctx, VIGIL_LOG_ERR, "cannot initialize libcurl");
		err = -ENOMEM;
		goto fail;
	}
	wh->global = 1;
	if ((err = sink_json_init(&wh->json, JSON_BUF_KEEP, 0)) < 0)
		goto fail;
	c = wh->curl = curl_easy_init();
	if (c == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK) {
		err = -ENOMEM;
		goto fail;
	}
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* No SIGALRM for DNS timeouts: vigild owns its signals. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, wh->headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil-webhook/1.0.0");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout / VIGIL_MSEC));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(timeout / VIGIL_MSEC));
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, wh->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, wh);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, wh);
	if (user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, pass != NULL ? pass : "");
	}
	if (!host->config_bool(ctx, "tls_verify", 1)) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (ca != NULL && curl_easy_setopt(c, CURLOPT_CAINFO, ca) != CURLE_OK) {
		host->log(ctx, VIGIL_LOG_ERR,
			  "this libcurl cannot use ca_file");
		err = VIGIL_EFATAL;
		goto fail;
	}
	*state = wh;
	return 0;

fail:
	webhook_fini(wh);
	return err;
}

static const struct vigil_option webhook_options[] = {
	{.name = "url",
	 .type = VIGIL_OPT_STRING,
	 .help = "http:// or https:// URL to POST each incident event to, as "
		 "a JSON object",
	 .flags = VIGIL_OPT_REQUIRED},
	{.name = "request_timeout",
	 .type = VIGIL_OPT_DURATION,
	 .def = "5s",
	 .min = 100e6,
	 .max = 60e9,
	 .help = "longest one delivery may take, connecting included; vigild "
		 "waits for it (100ms to 60s)"},
	{.name = "headers",
	 .type = VIGIL_OPT_STRING,
	 .help = "extra request headers 'Name: value', several separated by "
		 "\\n as two characters: X-Env: prod\\nX-Team: ops"},
	{.name = "bearer_token",
	 .type = VIGIL_OPT_STRING,
	 .help = "sent as 'Authorization: Bearer TOKEN'"},
	{.name = "username",
	 .type = VIGIL_OPT_STRING,
	 .help = "user name for HTTP basic authentication (with password)"},
	{.name = "password",
	 .type = VIGIL_OPT_STRING,
	 .help = "password for HTTP basic authentication"},
	{.name = "tls_verify",
	 .type = VIGIL_OPT_BOOL,
	 .def = "yes",
	 .help = "check the https server's certificate and host name; no "
		 "only for testing"},
	{.name = "ca_file",
	 .type = VIGIL_OPT_STRING,
	 .help = "PEM file of the CA certificates to trust, instead of the "
		 "system's"},
	VIGIL_OPTIONS_END,
};

VIGIL_PLUGIN_DEFINE = {
	VIGIL_PLUGIN_HEADER(VIGIL_KIND_SINK, "webhook", "1.0.0"),
	.description = "Incident events POSTed as JSON to an HTTP(S) URL",
	.options = webhook_options,
	.init = webhook_init,
	.fini = webhook_fini,
	.deliver = webhook_deliver,
};
