#!/usr/bin/env bash
# Runs the same load scenarios against `mq broker`, Mosquitto and rumqttd (each when installed) on free
# loopback ports, alternating brokers, several rounds, and prints medians and the ratios mq / Mosquitto
# and mq / rumqttd.
#
#   bench/compare.sh                 # every scenario, 3 rounds
#   ROUNDS=5 SCENARIOS="fanin0 latency" bench/compare.sh
#   RUMQTTD=/path/to/rumqttd bench/compare.sh   # rumqttd from elsewhere than $PATH
#
# The shapes of the independent harness: hfanin0 hfanout0 hfanout1 hlatency hidle hbig (sizes overridable
# for smoke runs: HPUBS, HSUBS, HMSGS, HLAT_RATES, HIDLE_COUNTS, BIG_SIZES).
# Scenarios: fanin0 fanin1 fanout0 fanout1 latency sparse idle idlesub big persist restart bridge, and over TLS and
# WebSockets over TLS: tlsconn tlsfanout0 tlsbig tlsidle, each over TLS and over WSS (a CA and server
# certificate are made with openssl for the run, the same for both brokers). Needs a release build (`cargo build --release -p mq`); the load
# generator is `mq bench`, the same for both brokers. Everything stays on 127.0.0.1 and every run is
# bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
SCENARIOS=${SCENARIOS:-"fanin0 fanin1 fanout0 fanout1 latency sparse idle idlesub big persist restart bridge tlsconn tlsfanout0 tlsbig tlsidle hfanin0 hfanout0 hfanout1 hlatency hidle"}
BRIDGE_QUEUED=${BRIDGE_QUEUED:-100000}   # bridge: QoS 1 messages queued while the remote is down
MQ=${MQ:-target/release/mq}
BENCH=${BENCH:-$MQ}   # the `mq bench` binary (to compare brokers under one load generator)
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}
RUMQTTD=${RUMQTTD:-$(command -v rumqttd || true)}
# The harness shapes: publishers and subscribers (fan-in, fan-out), messages per publisher, paced rates
# for latency, idle client counts, payload sizes for big/hbig.
HPUBS=${HPUBS:-100}
HSUBS=${HSUBS:-100}
HMSGS=${HMSGS:-2000}
HLAT_RATES=${HLAT_RATES:-"2000 20000"}
HIDLE_COUNTS=${HIDLE_COUNTS:-"10000 100000"}
BIG_SIZES=${BIG_SIZES:-"67108864 268435000"}
# Scenarios rumqttd cannot run alike: persistence, bridges, and TLS/WebSockets listeners set up differently.
RUMQTTD_SKIP=" persist restart bridge tlsconn tlsfanout0 tlsbig tlsidle "
OUT=$(mktemp -d)
chmod 755 "$OUT"   # a broker started as root drops to another user, which must reach its store
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
ulimit -n "$(ulimit -Hn)"

[ -x "$MQ" ] || { echo "build first: cargo build --release -p mq" >&2; exit 1; }
BROKERS="mq"
if [ -x "$MOSQUITTO" ]; then BROKERS="$BROKERS mosquitto"; else echo "Mosquitto not installed: skipped" >&2; fi
if [ -n "$RUMQTTD" ] && [ -x "$RUMQTTD" ]; then BROKERS="$BROKERS rumqttd"; else echo "rumqttd not installed: skipped" >&2; fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_broker NAME EXTRA_CONF: starts a broker, sets PORT and BPID.
start_broker() {
  start_broker_on "$1" "$2" "$(free_port)"
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT),1)" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "broker $1 did not start:" >&2; cat "$OUT/$1.log" >&2; exit 1
}
# start_broker_on NAME EXTRA_CONF PORT: starts a broker on PORT without waiting; sets PORT and BPID. NAME is
# mq, mosquitto or rumqttd, or either of the first two with a suffix (mq-remote) for a second broker of
# the same kind. EXTRA_CONF is mosquitto.conf syntax: rumqttd takes none (its scenarios need none).
start_broker_on() {
  PORT=$3
  local conf="$OUT/$1.conf"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n%b' "$PORT" "$2" > "$conf"
  if [ "$1" = rumqttd ]; then
    [ -z "$2" ] || { echo "rumqttd takes no mosquitto.conf options ($2)" >&2; exit 1; }
    rumqttd_conf "$PORT" > "$OUT/rumqttd.toml"
    "$RUMQTTD" -q -c "$OUT/rumqttd.toml" > "$OUT/$1.log" 2>&1 &
  elif [ "${1%%-*}" = mq ]; then
    "$MQ" broker -c "$conf" > "$OUT/$1.log" 2>&1 &
  else
    [ "$(id -u)" = 0 ] && printf '\nuser root\n' >> "$conf"
    "$MOSQUITTO" -c "$conf" > "$OUT/$1.log" 2>&1 &
  fi
  BPID=$!
  # Scenarios run in a subshell: make sure its broker goes with it, even when a step fails.
  trap 'kill "$BPID" 2>/dev/null || true' EXIT
}
# rumqttd's configuration: one MQTT 3.1.1 listener, no console or metrics; limits high enough for every
# scenario (110,000 connections, 256 MiB payloads, no delay between accepts) and a commit log large
# enough (10 segments of 100 MiB per filter) that a burst does not overrun a subscriber's position.
rumqttd_conf() {
  cat <<EOF
id = 0

[router]
id = 0
max_connections = 110000
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:$1"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 268435456
    max_inflight_count = 100
    dynamic_filters = true
EOF
}
stop_broker() { kill "$BPID" 2>/dev/null || true; wait "$BPID" 2>/dev/null || true; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

bench() { "$BENCH" bench "$@" -p "$PORT" --json; }
# Seconds until the broker on $PORT accepts a connection.
accept_s() { python3 - "$PORT" <<'PY'
import socket, sys, time
t = time.time()
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.05).close(); break
    except OSError:
        time.sleep(0.002)
print(round(time.time() - t, 3))
PY
}
# retain_fill N: N retained messages of 100 B on ret/0 .. ret/N-1 (QoS 0, one connection), then a
# PINGREQ answered once the broker has read them all.
retain_fill() { python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(bytes([0x10, 17, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 60, 0, 5]) + b"rfill")
assert s.recv(4)[:2] == b"\x20\x02"
payload = b"r" * 100
batch = []
for i in range(int(sys.argv[2])):
    t = b"ret/%d" % i
    body = len(t).to_bytes(2, "big") + t + payload
    batch.append(bytes([0x31, len(body)]) + body)
    if len(batch) == 10000:
        s.sendall(b"".join(batch)); batch = []
s.sendall(b"".join(batch) + b"\xc0\x00")
buf = b""
while not buf.endswith(b"\xd0\x00"):
    buf += s.recv(65536)
PY
}
# A CA and a server certificate for localhost and 127.0.0.1, made once for the run and used by both
# brokers: X.509 v3 with subjectAltName (rustls refuses v1 certificates and ignores the CN), P-256 keys.
make_certs() {
  printf '[srv]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > "$OUT/ext.cnf"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$OUT/ca.key" -out "$OUT/ca.crt" -days 2 -subj "/CN=bench CA" 2>/dev/null
  openssl req "${ec[@]}" -keyout "$OUT/server.key" -out "$OUT/server.csr" -subj /CN=localhost 2>/dev/null
  openssl x509 -req -in "$OUT/server.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -out "$OUT/server.crt" -days 2 -extfile "$OUT/ext.cnf" -extensions srv 2>/dev/null
  chmod 644 "$OUT/server.key"   # Mosquitto may run as another user
}
case " $SCENARIOS " in *" tls"*) make_certs ;; esac
# start_tls_broker NAME tls|wss: start_broker with a second listener on a new $TPORT with TLS, or
# WebSockets over TLS, waited for; sets URL to the `mq bench` options that reach it. The plain listener
# stays first: Mosquitto 2.0.11 does not start with only a websockets listener ("Unable to start any
# listening sockets").
start_tls_broker() {
  TPORT=$(free_port)
  local ws=''; URL=()
  [ "$2" = wss ] && { ws='protocol websockets\n'; URL=(-L wss://localhost); }
  start_broker "$1" "listener $TPORT 127.0.0.1\n${ws}certfile $OUT/server.crt\nkeyfile $OUT/server.key\n"
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$TPORT),1)" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "broker $1 did not open its TLS listener:" >&2; cat "$OUT/$1.log" >&2; exit 1
}
# tbench: mq bench over TLS to $TPORT (with "${URL[@]}" for WebSockets over TLS).
tbench() { "$MQ" bench "$@" -p "$TPORT" --cafile "$OUT/ca.crt" --json; }
# wait_bridge PORT: until the bridge `bench-edge` of the broker on PORT says it is connected.
wait_bridge() {
  for _ in $(seq 100); do
    [ "$("$MQ" sub -p "$1" -t '$SYS/broker/connection/bench-edge/state' -C 1 -W 2 2>/dev/null)" = 1 ] && return 0
    sleep 0.1
  done
  echo "the bridge on $1 did not connect:" >&2; cat "$OUT"/*.log >&2; exit 1
}
# The bridge section of the local broker (scenario bridge) to 127.0.0.1:$1, topic bench/# out at QoS $2.
bridge_conf() {
  printf 'max_queued_messages 0\nconnection bench\naddress 127.0.0.1:%s\nremote_clientid bench-edge\nrestart_timeout 1\ntopic bench/# out %s\n' "$1" "$2"
}
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1], {}, d))" "$1"; }

# One measurement: prints "name value" lines for the scenario.
run_scenario() {
  local s=$1 b=$2
  case $s in
    fanin0)   # 100 publishers -> 1 wildcard subscriber, QoS 0, 64 B, offered 100 x 5,000 msg/s
      start_broker "$b" ""
      bench sub -c 1 -t 'bench/#' -D $((DURATION + 3)) > "$OUT/sub" & local sp=$!
      sleep 0.5; bench pub -c 100 -t 'bench/%i' -r 5000 -D "$DURATION" > "$OUT/pub"; wait $sp
      echo "fanin0_rate $(field rate < "$OUT/sub")"
      echo "fanin0_loss_pct $(python3 -c "print(round(100*(1-$(field received < "$OUT/sub")/max(1,$(field sent < "$OUT/pub"))),2))")"
      stop_broker ;;
    fanin1)   # 100 publishers -> 1 subscriber, QoS 1, as fast as acknowledgements allow
      for q in default unlimited; do
        [ "$q" = unlimited ] && [ "$b" = rumqttd ] && continue   # no queue limit to lift
        [ "$q" = unlimited ] && extra='max_queued_messages 0\n' || extra=''
        start_broker "$b" "$extra"
        bench sub -c 1 -q 1 -t 'bench/#' -D $((DURATION + 3)) > "$OUT/sub" & local sp=$!
        sleep 0.5; bench pub -c 100 -q 1 -t 'bench/%i' -D "$DURATION" > "$OUT/pub"; wait $sp
        echo "fanin1_${q}_rate $(field rate < "$OUT/sub")"
        echo "fanin1_${q}_loss_pct $(python3 -c "print(round(100*(1-$(field received < "$OUT/sub")/max(1,$(field sent < "$OUT/pub"))),2))")"
        stop_broker
      done ;;
    fanout0)  # 1 publisher -> 100 subscribers, QoS 0, offered 40,000 msg/s (4,000,000 deliveries/s)
      start_broker "$b" ""
      bench sub -c 100 -t 'fan/x' -D $((DURATION + 4)) > "$OUT/sub" & local sp=$!
      sleep 1.5; bench pub -c 1 -t 'fan/x' -r 40000 -D "$DURATION" > "$OUT/pub"; wait $sp
      echo "fanout0_rate $(field rate < "$OUT/sub")"
      stop_broker ;;
    fanout1)  # 1 publisher -> 100 subscribers, QoS 1
      start_broker "$b" ""
      bench sub -c 100 -q 1 -t 'fan/x' -D $((DURATION + 4)) > "$OUT/sub" & local sp=$!
      sleep 1.5; bench pub -c 1 -q 1 -t 'fan/x' -D "$DURATION" > "$OUT/pub"; wait $sp
      echo "fanout1_rate $(field rate < "$OUT/sub")"
      echo "fanout1_loss_pct $(python3 -c "print(round(100*(1-$(field received < "$OUT/sub")/max(1,100*$(field sent < "$OUT/pub"))),2))")"
      stop_broker ;;
    latency)  # 1 publisher at 2,000 msg/s -> 1 subscriber
      start_broker "$b" ""
      bench sub -c 1 -t 'lat/x' -D $((DURATION + 2)) > "$OUT/sub" & local sp=$!
      sleep 0.5; bench pub -c 1 -t 'lat/x' -r 2000 -D "$DURATION" > "$OUT/pub"; wait $sp
      echo "latency_p50_us $(field "latency_us['p50']" < "$OUT/sub")"
      echo "latency_p99_us $(field "latency_us['p99']" < "$OUT/sub")"
      echo "latency_max_us $(field "latency_us['max']" < "$OUT/sub")"
      stop_broker ;;
    sparse)   # 10,000 connected clients, each publishing once every 10 s (1,000 msg/s in all, most
              # connections idle between their messages) -> 1 subscriber: end-to-end p50 / p99 / max
      start_broker "$b" ""
      bench sub -c 1 -t 'sparse/#' -D 120 --idle-timeout 3 > "$OUT/sub" & local sp=$!
      sleep 0.5; bench pub -c 10000 -R 20000 --connect-concurrency 200 -t 'sparse/%i' -r 0.1 -D 30 > "$OUT/pub"; wait $sp
      echo "sparse_p50_us $(field "latency_us['p50']" < "$OUT/sub")"
      echo "sparse_p99_us $(field "latency_us['p99']" < "$OUT/sub")"
      echo "sparse_max_us $(field "latency_us['max']" < "$OUT/sub")"
      echo "sparse_loss_pct $(python3 -c "print(round(100*(1-$(field received < "$OUT/sub")/max(1,$(field sent < "$OUT/pub"))),2))")"
      stop_broker ;;
    idle)     # 10,000 idle connections, then as many as the open-file limit allows
      local max=$(( $(ulimit -Hn) - 200 ))
      for n in 10000 "$max"; do
        start_broker "$b" ""
        local before; before=$(rss_kib "$BPID")
        bench conn -c "$n" -R 20000 -D 3 > "$OUT/conn" &
        local cp=$!
        # Sample the broker's memory while every connection is held.
        sleep 1; for _ in $(seq 3000); do [ "$(ss -tn state established "( dport = :$PORT )" | wc -l)" -gt "$n" ] && break; sleep 0.1; done
        local during; during=$(rss_kib "$BPID")
        wait $cp
        local label=$([ "$n" = 10000 ] && echo 10k || echo max)
        echo "idle_${label}_connect_rate $(field connect_rate < "$OUT/conn")"
        echo "idle_${label}_connected $(field connected < "$OUT/conn")"
        echo "idle_${label}_kib_per_conn $(python3 -c "print(round(($during-$before)/max(1,$(field connected < "$OUT/conn")),3))")"
        stop_broker
      done ;;
    idlesub)  # 10,000 clients, each CONNECT (keep alive 600) + SUBSCRIBE to a topic of its own, held 5 s;
              # then each with 10 subscriptions: broker memory per connection
      for subs in 1 10; do
        start_broker "$b" ""
        local before; before=$(rss_kib "$BPID")
        bench conn -c 10000 -R 20000 --connect-concurrency 200 -k 600 -t 'idle/%i' --subscriptions "$subs" -D 5 > "$OUT/conn" &
        local cp=$!
        # Sample once every client is connected and subscribed (the clients then hold for 5 s).
        sleep 2; for _ in $(seq 3000); do [ "$(ss -tn state established "( dport = :$PORT )" | wc -l)" -gt 10000 ] && break; sleep 0.1; done
        sleep 2
        local during; during=$(rss_kib "$BPID")
        wait $cp
        echo "idlesub${subs}_kib_per_conn $(python3 -c "print(round(($during-$before)/max(1,$(field connected < "$OUT/conn")),3))")"
        echo "idlesub${subs}_connect_rate $(field connect_rate < "$OUT/conn")"
        echo "idlesub${subs}_errors $(field errors < "$OUT/conn")"
        stop_broker
      done ;;
    big|hbig) # one 64 MiB and one 256 MiB payload, QoS 1, publisher -> subscriber; the subscriber times
              # the transfer from the send time in the payload to the last byte received (hbig: the
              # harness's shape, the same)
      for size in $BIG_SIZES; do
        start_broker "$b" ""
        bench sub -c 1 -q 1 -t 'big/x' -n 1 -D 60 > "$OUT/sub" & local sp=$!
        sleep 0.5
        bench pub -c 1 -q 1 -t 'big/x' -s "$size" -n 1 -D 60 > "$OUT/pub"
        wait $sp
        local label=$((size / 1048576))
        [ "$size" = 268435000 ] && label=256   # the largest MQTT payload, a few bytes short of 256 MiB
        echo "${s}${label}_mib_per_s $(python3 -c "print(round($size/1048576/max(1e-6,$(field "latency_us['max']" < "$OUT/sub")/1e6),1))")"
        stop_broker
      done ;;
    persist)  # 100 publishers -> 1 persistent subscriber, QoS 1: without persistence, with it (mq: each
              # persistence_fsync mode; Mosquitto snapshots instead, so it has one mode)
      local modes="off on"; [ "$b" = mq ] && modes="off on always never"
      for m in $modes; do
        rm -rf "$OUT/store"; mkdir -p "$OUT/store"; chmod 777 "$OUT/store"
        case $m in
          off) extra='' ;;
          on) extra="persistence true\npersistence_location $OUT/store/\n" ;;
          *) extra="persistence true\npersistence_location $OUT/store/\npersistence_fsync $m\n" ;;
        esac
        start_broker "$b" "${extra}max_queued_messages 0\n"
        bench sub -c 1 -q 1 -t 'bench/#' --persistent -D $((DURATION + 3)) > "$OUT/sub" & local sp=$!
        sleep 0.5; bench pub -c 100 -q 1 -t 'bench/%i' -D "$DURATION" > "$OUT/pub"; wait $sp
        echo "persist_${m}_rate $(field rate < "$OUT/sub")"
        stop_broker
      done ;;
    restart)  # 1,000,000 retained messages of 100 B and 100,000 queued for an offline session; mq is
              # killed (kill -9), Mosquitto stopped cleanly (it saves on exit; killed, it would lose all)
      rm -rf "$OUT/store"; mkdir -p "$OUT/store"; chmod 777 "$OUT/store"
      local conf="persistence true\npersistence_location $OUT/store/\nmax_queued_messages 0\n"
      start_broker "$b" "$conf"
      "$MQ" sub -p "$PORT" -c -i qsub -q 1 -t 'q/#' -E
      seq -f "%0100g" 100000 | "$MQ" pub -p "$PORT" -i qpub -q 1 -t q/t -l
      retain_fill 1000000
      sleep 1.5
      if [ "$b" = mq ]; then kill -9 "$BPID"; wait "$BPID" 2>/dev/null || true; else stop_broker; fi
      echo "restart_store_mib $(du -sk "$OUT/store" | awk '{printf "%.1f", $1/1024}')"
      local port=$PORT
      local t0; t0=$(date +%s.%N)
      start_broker_on "$b" "$conf" "$port"
      echo "restart_accept_s $(accept_s)"
      "$MQ" sub -p "$PORT" -c -i qsub -q 1 -t 'q/#' -C 100000 -W 300 > /dev/null
      echo "restart_queued_all_s $(python3 -c "import time; print(round(time.time()-$t0,2))")"
      "$MQ" sub -p "$PORT" -t 'ret/#' --retained-only -C 1000000 -W 300 > /dev/null
      echo "restart_retained_all_s $(python3 -c "import time; print(round(time.time()-$t0,2))")"
      echo "restart_rss_mib $(( $(rss_kib "$BPID") / 1024 ))"
      stop_broker ;;
    bridge)   # Two brokers of a kind, the local one bridged to the remote (topic bench/# out): 10 publishers
              # on the local -> 1 subscriber on the remote, QoS 0 (offered 10 x 10,000 msg/s) and QoS 1 (as
              # fast as acknowledgements allow); then $BRIDGE_QUEUED QoS 1 messages queued on the local
              # while the remote is down, and the time from the remote's restart until its (persistent)
              # subscriber has them all (restart_timeout 1 included)
      for q in 0 1; do
        start_broker "$b-remote" ""; local rport=$PORT; RPID=$BPID
        start_broker "$b" "$(bridge_conf "$rport" "$q")"; local lport=$PORT; LPID=$BPID
        trap 'kill "$RPID" "$LPID" 2>/dev/null || true' EXIT
        wait_bridge "$lport"
        local rate=(); [ "$q" = 0 ] && rate=(-r 10000)
        "$BENCH" bench sub -p "$rport" -c 1 -q "$q" -t 'bench/#' -D $((DURATION + 3)) --json > "$OUT/sub" & local sp=$!
        sleep 0.5
        "$BENCH" bench pub -p "$lport" -c 10 -q "$q" -t 'bench/%i' "${rate[@]}" -D "$DURATION" --json > "$OUT/pub"; wait $sp
        echo "bridge${q}_rate $(field rate < "$OUT/sub")"
        echo "bridge${q}_loss_pct $(python3 -c "print(round(100*(1-$(field received < "$OUT/sub")/max(1,$(field sent < "$OUT/pub"))),2))")"
        BPID=$LPID; stop_broker; BPID=$RPID; stop_broker
      done
      rm -rf "$OUT/rstore"; mkdir -p "$OUT/rstore"; chmod 777 "$OUT/rstore"
      local rconf="persistence true\npersistence_location $OUT/rstore/\nmax_queued_messages 0\n"
      start_broker "$b-remote" "$rconf"; local rport=$PORT
      "$MQ" sub -p "$rport" -c -i drain-sub -q 1 -t 'bench/#' -E
      stop_broker
      start_broker "$b" "$(bridge_conf "$rport" 1)"; LPID=$BPID
      seq -f "%0100g" "$BRIDGE_QUEUED" | "$MQ" pub -p "$PORT" -i qpub -q 1 -t bench/q -l
      local t0; t0=$(date +%s.%N)
      start_broker_on "$b-remote" "$rconf" "$rport"; RPID=$BPID
      trap 'kill "$RPID" "$LPID" 2>/dev/null || true' EXIT
      accept_s > /dev/null
      "$MQ" sub -p "$rport" -c -i drain-sub -q 1 -t 'bench/#' -C "$BRIDGE_QUEUED" -W 300 > /dev/null
      local secs; secs=$(python3 -c "import time; print(round(time.time()-$t0,2))")
      echo "bridge_drain_s $secs"
      echo "bridge_drain_msg_per_s $(python3 -c "print(round($BRIDGE_QUEUED/max(0.001,$secs)))")"
      BPID=$LPID; stop_broker; BPID=$RPID; stop_broker ;;
    tlsconn)  # 10,000 clients connecting over TLS, then over WebSockets over TLS (TLS 1.3, P-256):
              # handshakes, upgrades and CONNACKs per second
      for kind in tls wss; do
        start_tls_broker "$b" "$kind"
        tbench conn "${URL[@]}" -c 10000 -R 0 --connect-concurrency 100 -D 1 > "$OUT/conn"
        echo "${kind}conn_rate $(field connect_rate < "$OUT/conn")"
        echo "${kind}conn_connected $(field connected < "$OUT/conn")"
        stop_broker
      done ;;
    tlsfanout0) # fanout0 over TLS and over WSS: 1 publisher -> 100 subscribers, QoS 0, offered 40,000 msg/s
      for kind in tls wss; do
        start_tls_broker "$b" "$kind"
        tbench sub "${URL[@]}" -c 100 -t 'fan/x' -D $((DURATION + 4)) > "$OUT/sub" & local sp=$!
        sleep 1.5; tbench pub "${URL[@]}" -c 1 -t 'fan/x' -r 40000 -D "$DURATION" > "$OUT/pub"; wait $sp
        echo "${kind}fanout0_rate $(field rate < "$OUT/sub")"
        stop_broker
      done ;;
    tlsbig)   # one 64 MiB payload, QoS 1, over TLS, publisher -> subscriber (as big); over WSS one 1 MiB
              # payload: Mosquitto 2.0.11 sends a large message to a WebSocket subscriber at about
              # 40 KiB/s (1 MiB in 26 s), so 64 MiB would take half an hour
      for kind in tls wss; do
        local mib=64; [ "$kind" = wss ] && mib=1
        start_tls_broker "$b" "$kind"
        tbench sub "${URL[@]}" -c 1 -q 1 -t 'big/x' -n 1 -D 90 > "$OUT/sub" & local sp=$!
        sleep 0.5
        tbench pub "${URL[@]}" -c 1 -q 1 -t 'big/x' -s $((mib * 1048576)) -n 1 -D 60 > "$OUT/pub"
        wait $sp
        local secs; secs=$(field "latency_us['max']/1e6" < "$OUT/sub")
        if [ "$kind" = tls ]; then echo "tlsbig64_mib_per_s $(python3 -c "print(round(64/max(1e-6,$secs),1))")"
        else echo "wssbig1_kib_per_s $(python3 -c "print(round(1024/max(1e-6,$secs),1))")"; fi
        stop_broker
      done ;;
    tlsidle)  # 2,000 idle connections over TLS, then over WSS: the broker's RSS growth per connection
              # 5 s after the last one connected (mq parks idle connections by then)
      local n=2000
      for kind in tls wss; do
        start_tls_broker "$b" "$kind"
        sleep 1
        local before; before=$(rss_kib "$BPID")
        tbench conn "${URL[@]}" -c "$n" -R 0 --connect-concurrency 100 -D 8 > "$OUT/conn" &
        local cp=$!
        for _ in $(seq 600); do [ "$(ss -tn state established "( dport = :$TPORT )" | wc -l)" -gt "$n" ] && break; sleep 0.1; done
        sleep 5
        local during; during=$(rss_kib "$BPID")
        wait $cp
        echo "${kind}idle_connected $(field connected < "$OUT/conn")"
        echo "${kind}idle_bytes_per_conn $(python3 -c "print(round(($during-$before)*1024/max(1,$(field connected < "$OUT/conn"))))")"
        stop_broker
      done ;;
    hfanin0)  # harness: $HPUBS publishers x $HMSGS messages of 64 B, QoS 0, as fast as TCP allows (writes
              # of ~16 KiB) -> 1 subscriber on prefix/+: delivered msg/s and messages lost
      start_broker "$b" ""
      local total=$((HPUBS * HMSGS))
      bench sub -c 1 -t 'prefix/+' -n "$total" --idle-timeout 2 -D 120 > "$OUT/sub" & local sp=$!
      sleep 0.5
      bench pub -c "$HPUBS" -t 'prefix/%i' -s 64 -n "$HMSGS" -r 0 --batch 16384 -D 120 > "$OUT/pub"; wait $sp
      echo "hfanin0_rate $(field rate < "$OUT/sub")"
      echo "hfanin0_lost $(field lost < "$OUT/sub")"
      stop_broker ;;
    hfanout0|hfanout1) # harness: 1 publisher x $HMSGS messages of 64 B, as fast as TCP allows -> $HSUBS
              # subscribers, QoS 0 (hfanout1: QoS 1, 20 in flight): deliveries/s and deliveries lost
      local q=${s#hfanout}
      start_broker "$b" ""
      bench sub -c "$HSUBS" -q "$q" -t 'fan/x' -n "$HMSGS" --idle-timeout 2 -D 120 > "$OUT/sub" & local sp=$!
      sleep 1.5
      bench pub -c 1 -q "$q" --inflight 20 -t 'fan/x' -s 64 -n "$HMSGS" -r 0 --batch 16384 -D 120 > "$OUT/pub"; wait $sp
      echo "${s}_rate $(field rate < "$OUT/sub")"
      echo "${s}_lost $(field lost < "$OUT/sub")"
      stop_broker ;;
    hlatency) # harness: 1 publisher at each rate of $HLAT_RATES msg/s -> 1 subscriber: p50 / p99 / max
      for r in $HLAT_RATES; do
        start_broker "$b" ""
        bench sub -c 1 -t 'lat/x' -D $((DURATION + 2)) > "$OUT/sub" & local sp=$!
        sleep 0.5; bench pub -c 1 -t 'lat/x' -r "$r" -D "$DURATION" > "$OUT/pub"; wait $sp
        local label=$r; [ $((r % 1000)) = 0 ] && label=$((r / 1000))k
        echo "hlatency${label}_p50_us $(field "latency_us['p50']" < "$OUT/sub")"
        echo "hlatency${label}_p99_us $(field "latency_us['p99']" < "$OUT/sub")"
        echo "hlatency${label}_max_us $(field "latency_us['max']" < "$OUT/sub")"
        stop_broker
      done ;;
    hidle)    # harness: each count of $HIDLE_COUNTS clients CONNECT (keep alive 600) + SUBSCRIBE to a
              # topic of its own, held 5 s: broker RSS growth per connection and connects/s. Beyond
              # 20,000 clients they connect from several source addresses (127.0.0.1, .2, ...: about
              # 28,000 ephemeral ports each); counts beyond the open-file limit are skipped.
      for n in $HIDLE_COUNTS; do
        if [ $((n + 1000)) -gt "$(ulimit -n)" ]; then
          echo "hidle: $n clients need more than the open-file limit $(ulimit -n) (ulimit -Hn): skipped" >&2
          continue
        fi
        local bind=() k
        if [ "$n" -gt 20000 ]; then
          for k in $(seq $(( (n + 19999) / 20000 ))); do bind+=(--bind "127.0.0.$k"); done
        fi
        start_broker "$b" ""
        local before; before=$(rss_kib "$BPID")
        bench conn -c "$n" -R 20000 --connect-concurrency 200 -k 600 -t 'idle/%i' "${bind[@]}" -D 5 > "$OUT/conn" &
        local cp=$!
        # Sample once every client is connected and subscribed (the clients then hold for 5 s).
        sleep 1; for _ in $(seq 3000); do [ "$(ss -tn state established "( dport = :$PORT )" | wc -l)" -gt "$n" ] && break; sleep 0.1; done
        sleep 2
        local during; during=$(rss_kib "$BPID")
        wait $cp
        local label=$n; [ $((n % 1000)) = 0 ] && label=$((n / 1000))k
        echo "hidle${label}_kib_per_conn $(python3 -c "print(round(($during-$before)/max(1,$(field connected < "$OUT/conn")),3))")"
        echo "hidle${label}_connect_rate $(field connect_rate < "$OUT/conn")"
        echo "hidle${label}_connected $(field connected < "$OUT/conn")"
        stop_broker
      done ;;
  esac
}

declare -A RESULTS
for round in $(seq "$ROUNDS"); do
  for s in $SCENARIOS; do
    for b in $BROKERS; do
      if [ "$b" = rumqttd ] && [[ $RUMQTTD_SKIP == *" $s "* ]]; then
        [ "$round" = 1 ] && echo "$s: skipped on rumqttd (no persistence, bridge or TLS setup alike)" >&2
        continue
      fi
      echo "round $round: $s on $b" >&2
      # Each round's values go to stderr as they come, so the noise behind a median can be seen.
      while read -r k v; do RESULTS["$b:$k"]+="$v "; echo "  $b $k $v" >&2; done < <(run_scenario "$s" "$b")
    done
  done
done

median() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(round(statistics.median(v),1) if v else '-')" $1; }
ratio() { python3 -c "a,b='$1','$2'; print('-' if '-' in (a,b) or float(b)==0 else round(float(a)/float(b),2))"; }
# One column per broker that ran, then mq / each other broker.
PEERS=${BROKERS#mq}
header="| metric |"; rule="|---|"
for b in $BROKERS; do header+=" $b |"; rule+="---|"; done
for p in $PEERS; do header+=" mq / $p |"; rule+="---|"; done
printf '\n%s\n%s\n' "$header" "$rule"
for key in $(for k in "${!RESULTS[@]}"; do echo "${k#*:}"; done | sort -u); do
  line="| $key |"
  declare -A med=()
  for b in $BROKERS; do med[$b]=$(median "${RESULTS[$b:$key]:-}"); line+=" ${med[$b]} |"; done
  for p in $PEERS; do line+=" $(ratio "${med[mq]}" "${med[$p]}") |"; done
  unset med
  echo "$line"
done
