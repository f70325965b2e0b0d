#!/bin/bash
# The webhook sink POSTs each incident event as JSON, and a receiver that
# fails loses no event.
#
# A python3 receiver on 127.0.0.1 (an ephemeral port, written to a file)
# records every POST; what it answers is read from a file the test writes:
# ok (204), 500 or 400. Two sinks get every event: "hook" (webhook) and
# "witness" (file), in that order, so the witness shows an event only once
# the webhook has been handed it.
#
#  1. The first events arrive as JSON objects, byte for byte the witness's
#     lines, with the configured headers and bearer token, over one
#     reused connection.
#  2. The receiver answers 500, then 400, for a while: each is logged once
#     (the 400 as a refusal quoting the answer's body), with the URL less
#     its query, and the events made meanwhile are delivered in order once
#     it answers ok again: at the end the receiver has every event the
#     witness has, in the same order, none twice.
#  3. A third sink points at a port nobody listens on: one log line says
#     why (the URL without its user and password), however often the core
#     retries, and vigild stays up and stops cleanly.
# Also: --check-config refuses a URL that is not http(s) and a malformed
# header, naming the key.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

PLUGIN=$VIGIL_BUILDDIR/plugins/sinks/.libs/webhook.so
[ -f "$PLUGIN" ] ||
	skip "the webhook sink was not built (configure found no libcurl, or --without-libcurl; apt-get install libcurl4-openssl-dev)"

WITNESS=$TEST_DIR/witness.jsonl
RECEIVED=$TEST_DIR/received.jsonl
REQUESTS=$TEST_DIR/requests.log
MODE=$TEST_DIR/mode
PORT_FILE=$TEST_DIR/port

# --- the receiver
cat >"$TEST_DIR/receiver.py" <<'EOF'
import http.server, json, os, sys

d = sys.argv[1]
conns = 0

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the sink reuses it

    def setup(self):
        global conns
        conns += 1
        self.conn = conns
        super().setup()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8")
        try:
            mode = open(os.path.join(d, "mode")).read().strip()
        except OSError:
            mode = "ok"
        status, answer = {"ok": (204, b""),
                          "500": (500, b"database is down\n"),
                          "400": (400, b'{"error": "field \\"x\\" is required"}')}[mode]
        with open(os.path.join(d, "requests.log"), "a") as f:
            f.write(json.dumps({"status": status, "conn": self.conn,
                                "path": self.path,
                                "headers": dict(self.headers),
                                "body": body}) + "\n")
        if status == 204:
            with open(os.path.join(d, "received.jsonl"), "a") as f:
                f.write(body + "\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass

srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(d, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
srv.serve_forever()
EOF
echo ok >"$MODE"
"$PYTHON" "$TEST_DIR/receiver.py" "$TEST_DIR" 2>"$TEST_DIR/receiver.err" &
track_pid $!
wait_until 10 "the receiver's port" test -s "$PORT_FILE"
PORT=$(cat "$PORT_FILE")

# A port nobody listens on: bound, then closed again.
DEAD_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# --- configuration errors
cat >"$TEST_DIR/bad.ini" <<EOF
[sink.ftp]
plugin = webhook
url = ftp://127.0.0.1/

[sink.header]
plugin = webhook
url = http://127.0.0.1:$PORT/
headers = X-Good: 1\\nno colon here
EOF
check_config "$TEST_DIR/bad.ini" "$TEST_DIR/check.out"
[ "$rc" -eq 78 ] || { cat "$TEST_DIR/check.out"; fail "--check-config exited $rc on bad webhook options, expected 78"; }
grep -q '\[sink\.ftp\].*url must start with http:// or https://' "$TEST_DIR/check.out" ||
	{ cat "$TEST_DIR/check.out"; fail "no clear message for an ftp:// url"; }
grep -q "\[sink\.header\].*headers: \"no colon here\" is not 'Name: value'" "$TEST_DIR/check.out" ||
	{ cat "$TEST_DIR/check.out"; fail "no clear message for a malformed header"; }
note "bad url and header refused by --check-config"

# --- the run
cat >"$TEST_DIR/vigil.ini" <<EOF
# The sequence cycles every few hundred ms: flapping, by design, would
# pause its notifications; this test is about delivery.
[incidents]
flap_window = 0

[daemon]
flush_interval = 100ms

[sensor.synth]
plugin = synthetic
interval = 100ms
metric = test.value
shape = sequence
sequence = 10 60 95 95 60 10 10

[rule.hot]
plugin = threshold
match = test.value
warning = 50
critical = 90

[sink.hook]
plugin = webhook
url = http://127.0.0.1:$PORT/hook?token=s3cret
headers = X-Vigil-Test: one \\n X-Other: two
bearer_token = tok3n

[sink.witness]
plugin = file
path = $WITNESS
fsync = always

[sink.down]
plugin = webhook
url = http://vigil:pa55word@127.0.0.1:$DEAD_PORT/down#here
request_timeout = 1s
EOF
start_vigild "$TEST_DIR/vigil.ini"

# --- 1. events arrive as JSON
wait_for "$RECEIVED" '"event":"opened"' 20
wait_for "$RECEIVED" '"event":"resolved"' 20
"$PYTHON" - "$REQUESTS" "$WITNESS" <<'EOF' || fail "the first POSTs are not as expected (see above)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
witness = open(sys.argv[2]).read().splitlines()
bad = []
r = reqs[0]
ev = json.loads(r["body"])            # a JSON object, or this fails
h = {k.lower(): v for k, v in r["headers"].items()}
if (ev["event"], ev["key"], ev["severity"], ev["type"]) != ("opened", "hot", "warning", "hot"):
    bad.append(f"first event: {ev}")
if ev["value"] != 60 or ev["status"] != "open" or ev["labels"] != {}:
    bad.append(f"first event's value/status/labels: {ev}")
if h.get("content-type") != "application/json":
    bad.append(f"Content-Type {h.get('content-type')!r}")
if h.get("x-vigil-test") != "one" or h.get("x-other") != "two":
    bad.append(f"configured headers missing: {h}")
if h.get("authorization") != "Bearer tok3n":
    bad.append(f"Authorization {h.get('authorization')!r}")
if r["path"] != "/hook?token=s3cret":
    bad.append(f"path {r['path']!r}")
# The body is the file sink's line, byte for byte: one schema.
for i, q in enumerate(reqs):
    if i >= len(witness) or q["body"] != witness[i]:
        bad.append(f"POST {i + 1} is not witness line {i + 1}:\n  {q['body']}\n  {witness[i] if i < len(witness) else '(none)'}")
        break
# One connection, kept open.
conns = {q["conn"] for q in reqs}
if len(conns) != 1:
    bad.append(f"{len(reqs)} POSTs over {len(conns)} connections, expected one")
print(f"{len(reqs)} POST(s) over {len(conns)} connection(s)")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF
note "phase 1: events arrive as the file sink's JSON, with headers and token"

# --- 2. the receiver fails for a while
# count_status STATUS: requests answered with it so far.
count_status()
{
	grep -c "\"status\": $1," "$REQUESTS" 2>/dev/null || true
}
answered()
{
	[ "$(count_status "$1")" -ge "$2" ]
}
# Two 500s (the first attempt and the retry 1s later), then one 400 (2s
# later); the next retry (4s later) finds the receiver well again.
echo 500 >"$MODE"
wait_until 20 "two POSTs answered 500" answered 500 2
echo 400 >"$MODE"
wait_until 20 "a POST answered 400" answered 400 1
n_outage=$(count_lines "$WITNESS")
echo ok >"$MODE"
wait_for "$VIGILD_LOG" '\[sink\.hook\] POST http://127\.0\.0\.1:[0-9]+/hook\?\.\.\. works again' 30
# --- 3. an unreachable URL: retried by the core, said once
wait_for "$VIGILD_LOG" '\[sink\.down\] could not deliver incident' 20
# Let the core retry it at least twice (1s, then 2s later).
sleep 3.5
vigild_alive || fail "vigild died"
stop_vigild

grep -F 's3cret' "$VIGILD_LOG" && fail "the URL's query (a secret) is in the log"
grep -F 'tok3n' "$VIGILD_LOG" && fail "the bearer token is in the log"
grep -F 'pa55word' "$VIGILD_LOG" && fail "the URL's password is in the log"
n500=$(grep -c '\[sink\.hook\] POST http://127\.0\.0\.1:[0-9]*/hook?\.\.\. failed: HTTP 500 Internal Server Error: "database is down"; will retry' "$VIGILD_LOG")
[ "$n500" -eq 1 ] || fail "the 500s were logged $n500 times, expected once"
n400=$(grep -c '\[sink\.hook\] POST http://127\.0\.0\.1:[0-9]*/hook?\.\.\. was refused: HTTP 400 Bad Request: "{"error": "field \\"x\\" is required"}"; the server will likely refuse it again' "$VIGILD_LOG")
[ "$n400" -eq 1 ] || fail "the 400 was logged $n400 times, expected once as a refusal"
ndown=$(grep -c "\[sink\.down\] POST http://127\.0\.0\.1:$DEAD_PORT/down failed: .*Couldn't connect" "$VIGILD_LOG")
[ "$ndown" -eq 1 ] || fail "the unreachable URL was logged $ndown times, expected once"
note "phase 2/3: $(count_status 500) x 500 and $(count_status 400) x 400 logged once each; unreachable URL logged once: $(grep "\[sink\.down\] POST" "$VIGILD_LOG" | sed 's/.*\] //')"

"$PYTHON" - "$RECEIVED" "$WITNESS" "$n_outage" <<'EOF' || fail "events were lost, repeated or reordered across the receiver's outage"
import json, sys
received = open(sys.argv[1]).read().splitlines()
witness = open(sys.argv[2]).read().splitlines()
n_outage = int(sys.argv[3])
bad = []
# Stopping delivers what is still held: the receiver has every event.
if received != witness:
    bad.append(f"received {len(received)} event(s), the witness has {len(witness)}")
    for i, (x, y) in enumerate(zip(received, witness)):
        if x != y:
            bad.append(f"first difference at {i + 1}:\n  {x}\n  {y}")
            break
if len(witness) <= n_outage:
    bad.append("no events after the outage")
ids = [json.loads(l)["id"] for l in received]
if sorted(ids) != ids:
    bad.append(f"incident ids out of order: {ids}")
print(f"{len(received)} event(s) received, {n_outage} made by the end of the outage")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF

pass "events POSTed as the file sink's JSON; 500/400/unreachable logged once each; nothing lost or reordered"
