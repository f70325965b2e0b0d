#!/bin/bash
# The mqtt sink publishes incident events and readings to a broker, and a
# broker that goes away loses no event.
#
# A private mosquitto on 127.0.0.1 (a free port, persistence in the test
# directory) and a mosquitto_sub with a persistent session (QoS 1, a fixed
# client id, -c) on vigil/#. Two sinks get every event: "mq" (mqtt, with
# metrics = yes) and "witness" (file), in that order.
#
#  1. The status topic says "online" (retained); incident events arrive
#     on the topic template's expansion, a label value's '/' made '_',
#     each payload byte for byte the witness's line; readings arrive as
#     JSON on vigil/HOST/metric/METRIC.
#  2. The broker is stopped mid-run (SIGTERM: it saves the subscriber's
#     session) while events keep coming; the sink says so, the core holds
#     the events. The broker comes back on the same port: vigild
#     reconnects by itself, the held events are published, in order, and
#     readings flow again.
#  3. A clean stop publishes "offline" on the status topic.
# At the end the subscriber has every event the witness has, in the same
# order (a repeat is allowed: delivery is at least once). Also:
# --check-config refuses an unknown placeholder, a wildcard in a topic and
# a server that is not tcp:// or ssl://.
. "${VIGIL_SRCDIR:-$(dirname "$0")/../..}/tests/integration/lib.sh" || exit 99
require_python

PLUGIN=$VIGIL_BUILDDIR/plugins/sinks/.libs/mqtt.so
[ -f "$PLUGIN" ] ||
	skip "the mqtt sink was not built (configure found no Paho MQTT C client, or --without-paho; apt-get install libpaho-mqtt-dev)"
MOSQUITTO=$(command -v mosquitto || command -v /usr/sbin/mosquitto) ||
	skip "mosquitto is not installed (apt-get install mosquitto)"
MOSQUITTO_SUB=$(command -v mosquitto_sub) ||
	skip "mosquitto_sub is not installed (apt-get install mosquitto-clients)"
MOSQUITTO_PUB=$(command -v mosquitto_pub) ||
	skip "mosquitto_pub is not installed (apt-get install mosquitto-clients)"

WITNESS=$TEST_DIR/witness.jsonl
SUB_OUT=$TEST_DIR/sub.out
BROKER_LOG=$TEST_DIR/broker.log
HOST=$("$PYTHON" -c 'import socket; print(socket.gethostname())')
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# --- configuration errors
cat >"$TEST_DIR/bad.ini" <<EOF
[sink.placeholder]
plugin = mqtt
topic = vigil/{hostname}/{nope}

[sink.wildcard]
plugin = mqtt
metrics_topic = vigil/+/{metric}

[sink.scheme]
plugin = mqtt
server = http://127.0.0.1:1883
EOF
check_config "$TEST_DIR/bad.ini" "$TEST_DIR/check.out"
[ "$rc" -eq 78 ] || { cat "$TEST_DIR/check.out"; fail "--check-config exited $rc on bad mqtt options, expected 78"; }
# One FILE:LINE line each, with the plugin's reason.
R='the mqtt plugin refused its configuration:'
for want in ':1: \[sink\.placeholder\] '"$R"' topic "vigil/\{hostname\}/\{nope\}": unknown placeholder \{nope\}; allowed: \{hostname\} \{instance\} \{type\} \{key\} \{severity\} \{event\}' \
	":5: \\[sink\\.wildcard\\] $R metrics_topic \"vigil/\\+/\\{metric\\}\": '\\+' is a wildcard" \
	':9: \[sink\.scheme\] '"$R"' server must be tcp://HOST:PORT'; do
	grep -Eq "$want" "$TEST_DIR/check.out" ||
		{ cat "$TEST_DIR/check.out"; fail "no message matching /$want/"; }
done
note "bad topics and server refused by --check-config"

# --- the broker and the subscriber
mkdir "$TEST_DIR/broker"
{
	echo "listener $PORT 127.0.0.1"
	echo "allow_anonymous true"
	echo "persistence true"
	echo "persistence_location $TEST_DIR/broker/"
	echo "log_dest stderr"
	# As root, mosquitto would become user mosquitto, who cannot write
	# into the private test directory.
	[ "$(id -u)" -ne 0 ] || echo "user root"
} >"$TEST_DIR/mosquitto.conf"

BROKER_PID=
SUB_PID=
BROKER_STARTS=0
broker_up()
{
	[ "$(grep -c 'mosquitto version .* running' "$BROKER_LOG")" -ge "$BROKER_STARTS" ]
}
start_broker()
{
	"$MOSQUITTO" -c "$TEST_DIR/mosquitto.conf" >>"$BROKER_LOG" 2>&1 &
	BROKER_PID=$!
	track_pid "$BROKER_PID"
	BROKER_STARTS=$((BROKER_STARTS + 1))
	wait_until 10 "mosquitto to listen on port $PORT" broker_up
	note "mosquitto (pid $BROKER_PID) listens on 127.0.0.1:$PORT"
}

# probed: publishes probe number PROBES; succeeds once the subscriber has
# it, which it has only once subscribed, and after all that came before.
PROBES=0
probed()
{
	"$MOSQUITTO_PUB" -h 127.0.0.1 -p "$PORT" -t vigil/probe -m "$PROBES" -q 1 2>/dev/null
	grep -qx "vigil/probe $PROBES" "$SUB_OUT" 2>/dev/null
}
start_sub()
{
	"$MOSQUITTO_SUB" -h 127.0.0.1 -p "$PORT" -t 'vigil/#' -q 1 -c \
		-i vigil-test-sub -v >>"$SUB_OUT" 2>>"$TEST_DIR/sub.err" &
	SUB_PID=$!
	track_pid "$SUB_PID"
	PROBES=$((PROBES + 1))
	wait_until 10 "the subscriber to receive a probe" probed
}

start_broker
start_sub

# --- the run
cat >"$TEST_DIR/vigil.ini" <<EOF
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

; A key with a '/' in it: disk_full{mount=/}.
[sensor.disk]
plugin = disk
interval = 1s
root = $TEST_DIR
mounts = /

[rule.disk_full]
plugin = threshold
match = disk.used_percent
direction = below
warning = 1000

[sink.mq]
plugin = mqtt
server = tcp://127.0.0.1:$PORT
topic = vigil/{hostname}/{instance}/{severity}/{key}
metrics = yes
metrics_match = test.value
connect_timeout = 2s
publish_timeout = 2s

[sink.witness]
plugin = file
path = $WITNESS
fsync = always
EOF
start_vigild "$TEST_DIR/vigil.ini"

# --- 1. events and readings arrive
ESC_HOST=$(printf '%s' "$HOST" | sed 's/[.[\*^$()+?{|]/\\&/g')
wait_for "$SUB_OUT" "^vigil/$ESC_HOST/status online\$" 20
wait_for "$SUB_OUT" "^vigil/$ESC_HOST/mq/warning/hot \\{.*\"event\":\"opened\"" 20
wait_for "$SUB_OUT" "^vigil/$ESC_HOST/mq/warning/disk_full\\{mount=_\\} \\{.*\"event\":\"opened\"" 20
wait_for "$SUB_OUT" "^vigil/$ESC_HOST/metric/test\\.value \\{" 20
wait_for "$VIGILD_LOG" '\[sink\.mq\] connected to tcp://127\.0\.0\.1:[0-9]+ as vigil-' 5
note "phase 1: status, events and readings arrive"

# --- 2. the broker goes away, and comes back
kill -TERM "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
kill_pid "$SUB_PID"
n_gone=$(count_lines "$WITNESS")
two_more_events()
{
	[ "$(count_lines "$WITNESS")" -ge $((n_gone + 2)) ]
}
wait_until 20 "two events while the broker is down" two_more_events
wait_for "$VIGILD_LOG" '\[sink\.mq\] (lost the connection to|cannot connect to) tcp://127\.0\.0\.1' 20
wait_for "$VIGILD_LOG" '\[sink\.mq\] could not deliver incident' 20
n_down=$(count_lines "$WITNESS")
sub_mark=$(count_lines "$SUB_OUT")
start_broker
start_sub
wait_for "$VIGILD_LOG" '\[sink\.mq\] connected to tcp://127\.0\.0\.1:[0-9]+ again after [0-9]+ failed attempt' 30
wait_for "$VIGILD_LOG" '\[sink\.mq\] delivering again: [0-9]+ delayed' 30
readings_again()
{
	tail -n +"$((sub_mark + 1))" "$SUB_OUT" | grep -q "^vigil/$ESC_HOST/metric/test\\.value {"
}
wait_until 20 "readings after the broker came back" readings_again
note "phase 2: vigild reconnected and delivered what it held"

# --- 3. a clean stop says offline
stop_vigild
wait_for "$SUB_OUT" "^vigil/$ESC_HOST/status offline\$" 10
# The subscriber has had all there is to have once a new probe is through.
PROBES=$((PROBES + 1))
wait_until 10 "the subscriber to receive a last probe" probed
kill_pid "$SUB_PID"

ncant=$(grep -c '\[sink\.mq\] cannot connect to' "$VIGILD_LOG")
[ "$ncant" -le 1 ] || fail "the broker being down was logged $ncant times, expected once"
note "the outage: $(grep -E '\[sink\.mq\] (lost|cannot)' "$VIGILD_LOG" | sed 's/.*\] //' | tr '\n' ';')"

"$PYTHON" - "$SUB_OUT" "$WITNESS" "$HOST" "$n_gone" "$n_down" <<'EOF' || fail "what the subscriber got is not as expected (see above)"
import json, sys
sub = open(sys.argv[1]).read().splitlines()
witness = open(sys.argv[2]).read().splitlines()
host, n_gone, n_down = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
bad = []
events, readings = [], []
for line in sub:
    topic, _, payload = line.partition(" ")
    parts = topic.split("/")
    if parts[:2] != ["vigil", host]:
        if topic != "vigil/probe":
            bad.append(f"unexpected topic {topic}")
        continue
    if parts[2] == "mq":
        ev = json.loads(payload)        # a JSON object, or this fails
        key = ev["key"].replace("/", "_")
        if parts[3:] != [ev["severity"], key]:
            bad.append(f"event {ev['id']} {ev['event']} on {topic}")
        events.append(payload)
    elif parts[2] == "metric":
        r = json.loads(payload)
        if parts[3] != r["metric"] or r["metric"] != "test.value":
            bad.append(f"reading {r} on {topic}")
        if set(r) != {"time", "metric", "value", "unit", "labels", "quality"}:
            bad.append(f"reading fields {sorted(r)}")
        readings.append(r)
    elif parts[2] != "status":
        bad.append(f"unexpected topic {topic}")
# At least once, in order: without repeats, the witness exactly.
seen, firsts = set(), []
for e in events:
    if e not in seen:
        seen.add(e)
        firsts.append(e)
if firsts != witness:
    bad.append(f"{len(firsts)} distinct event(s) received, the witness has {len(witness)}")
    for i, (x, y) in enumerate(zip(firsts, witness)):
        if x != y:
            bad.append(f"first difference at {i + 1}:\n  {x}\n  {y}")
            break
if n_down - n_gone < 2:
    bad.append("no events while the broker was down")
values = {r["value"] for r in readings}
if not values <= {10, 60, 95}:
    bad.append(f"reading values {values}")
status = [l.split(" ", 1)[1] for l in sub if l.startswith(f"vigil/{host}/status ")]
if status[:1] != ["online"] or status[-1:] != ["offline"] or status.count("online") < 2:
    bad.append(f"status messages {status}")
print(f"{len(events)} event message(s) ({len(events) - len(firsts)} repeated), "
      f"{len(readings)} reading(s), status {status}; {n_down - n_gone} event(s) made while the broker was down")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
EOF

pass "events and readings published; nothing lost across a broker restart; online/offline status"
