#!/usr/bin/env bash
# Times a (nearly) 256 MiB file going publisher -> broker -> subscriber at QoS 1:
#   mq-pub -f FILE          -> broker -> mq-sub -C 1 > out
#   mosquitto_pub -f FILE   -> broker -> mosquitto_sub -C 1 > out
# through the same broker, rounds interleaved, against Mosquitto's broker and (when built) `mq broker`.
# Reports the median / min / max time from the start of the publisher to the end of the subscriber, and
# the peak RSS of each client, and checks every received file byte for byte.
#
# Usage: bench/large-file.sh [ROUNDS]      (default 5; needs a release build: cargo build --release)
# Environment: MQ_BIN (default target/release), SIZE (bytes; default 268435000, the largest round
# number that MQTT can carry with this topic: 256 MiB itself is one byte too many).

set -euo pipefail

ROUNDS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MQ_BIN=${MQ_BIN:-$ROOT/target/release}
SIZE=${SIZE:-268435000}
TOPIC=bench/large

for tool in mosquitto mosquitto_pub mosquitto_sub; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
for tool in mq-pub mq-sub; do
    [ -x "$MQ_BIN/$tool" ] || { echo "$MQ_BIN/$tool missing: cargo build --release -p mq" >&2; exit 1; }
done
TIME=/usr/bin/time
[ -x "$TIME" ] || TIME=""
STDBUF=$(command -v stdbuf || true)

WORK=$(mktemp -d)
chmod 0755 "$WORK"
BROKER_PIDS=()
cleanup() {
    for pid in "${BROKER_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000))
}

# start_broker KIND: starts it in this shell (so that it can be stopped) and sets PORT
start_broker() {
    local kind=$1 port conf
    port=$(free_port)
    conf="$WORK/$kind.conf"
    printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > "$conf"
    if [ "$kind" = mosquitto ]; then
        mosquitto -c "$conf" > "$WORK/$kind.log" 2>&1 &
    else
        "$MQ_BIN/mq" broker -c "$conf" > "$WORK/$kind.log" 2>&1 &
    fi
    BROKER_PIDS+=($!)
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then PORT=$port; return; fi
        sleep 0.05
    done
    echo "broker $kind did not start: $(cat "$WORK/$kind.log")" >&2
    exit 1
}

echo "Generating a $SIZE-byte file..." >&2
head -c "$SIZE" /dev/urandom > "$WORK/file"

now() { date +%s.%N; }

# one_round BROKER_PORT CLIENTS(mq|mosquitto) -> prints "seconds pub_rss_kib sub_rss_kib"
one_round() {
    local port=$1 clients=$2 pub sub out="$WORK/out" t0 t1 subpid start
    if [ "$clients" = mq ]; then
        pub=("$MQ_BIN/mq-pub"); sub=("$MQ_BIN/mq-sub")
    else
        # libmosquitto prints -d lines with printf(): line-buffer them so the SUBACK line can be seen.
        pub=(mosquitto_pub); sub=(${STDBUF:+$STDBUF -oL} mosquitto_sub)
    fi
    rm -f "$out" "$WORK/pub.rss" "$WORK/sub.rss"
    if [ -n "$TIME" ]; then
        $TIME -f %M -o "$WORK/sub.rss" "${sub[@]}" -p "$port" -t "$TOPIC" -q 1 -C 1 -d > "$out" &
    else
        "${sub[@]}" -p "$port" -t "$TOPIC" -q 1 -C 1 -d > "$out" &
    fi
    subpid=$!
    for _ in $(seq 400); do grep -q 'received SUBACK' "$out" 2>/dev/null && break; sleep 0.01; done
    t0=$(now)
    if [ -n "$TIME" ]; then
        $TIME -f %M -o "$WORK/pub.rss" "${pub[@]}" -p "$port" -t "$TOPIC" -q 1 -f "$WORK/file"
    else
        "${pub[@]}" -p "$port" -t "$TOPIC" -q 1 -f "$WORK/file"
    fi
    wait "$subpid"
    t1=$(now)
    # The payload follows the PUBACK line of the -d output; check it byte for byte.
    start=$(grep -abo 'sending PUBACK (m[0-9]*, rc0)' "$out" | head -1 | awk -F: '{ print $1 + length($2) + 1 }')
    if ! tail -c +$((start + 1)) "$out" | head -c "$SIZE" | cmp -s - "$WORK/file"; then
        echo "received file differs ($clients clients)" >&2
        exit 1
    fi
    printf '%s %s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(cat "$WORK/pub.rss" 2>/dev/null || echo 0)" \
        "$(cat "$WORK/sub.rss" 2>/dev/null || echo 0)"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
minimum() { sort -n | head -1; }
maximum() { sort -n | tail -1; }

BROKERS=(mosquitto)
[ -x "$MQ_BIN/mq" ] && "$MQ_BIN/mq" broker --help >/dev/null 2>&1 && BROKERS+=(mq)

printf '\n%s-byte file, QoS 1, %s rounds, medians (min-max); peak RSS of each client in MiB\n\n' "$SIZE" "$ROUNDS"
printf '| broker | clients | time s | pub RSS | sub RSS |\n|---|---|---|---|---|\n'
for broker in "${BROKERS[@]}"; do
    start_broker "$broker"
    port=$PORT
    : > "$WORK/mq.res"
    : > "$WORK/mosquitto.res"
    for _ in $(seq "$ROUNDS"); do
        one_round "$port" mq >> "$WORK/mq.res"
        one_round "$port" mosquitto >> "$WORK/mosquitto.res"
    done
    for clients in mq mosquitto; do
        res="$WORK/$clients.res"
        label=$([ "$clients" = mq ] && echo "mq-pub / mq-sub" || echo "mosquitto_pub / mosquitto_sub")
        printf '| %s | %s | %.2f (%.2f-%.2f) | %.0f | %.0f |\n' "$broker" "$label" \
            "$(cut -d' ' -f1 "$res" | median)" "$(cut -d' ' -f1 "$res" | minimum)" "$(cut -d' ' -f1 "$res" | maximum)" \
            "$(cut -d' ' -f2 "$res" | median | awk '{ print $1 / 1024 }')" \
            "$(cut -d' ' -f3 "$res" | median | awk '{ print $1 / 1024 }')"
    done
    kill "${BROKER_PIDS[-1]}" 2>/dev/null || true
done
