#!/usr/bin/env bash
# Regenerates the golden test data of mq-format from the REAL mosquitto_sub (2.0.x).
#
# Needs: mosquitto, mosquitto_sub, mosquitto_pub, gcc (for the fake-clock shim), python3 (to
# find a free port). Run from anywhere: bash shared/format/tests/data/capture.sh
#
# What it does:
# * starts `mosquitto` on a free 127.0.0.1 port (killed by PID on exit);
# * for every case, runs `mosquitto_sub -V 5 -C 1 <options>` and publishes one message with
#   `mosquitto_pub -V 5 <options>`, then stores what mosquitto_sub wrote;
# * mosquitto_sub runs with LD_PRELOAD=fake_clock.so, which pins CLOCK_REALTIME to the case's
#   `now`, and with the case's TZ, so even time fields (%I %U %j @... @N) are byte-exact;
# * `shape/` cases run with the real clock (no shim), to check the shim changes nothing but
#   the time values: the Rust test compares their shape only;
# * `errors/` cases store mosquitto_sub's stderr for rejected -F strings.
#
# Layout of tests/data/cases/<name>/ (read by tests/golden.rs):
#   options   key=value lines: mode=plain|verbose|format, eol=0|1, pretty=0|1, tz=<TZ value>,
#             now=<secs>.<9-digit nanos>
#   format    the -F string, raw bytes (mode=format only)
#   message   tab-separated lines: topic, qos, retain, mid, then `prop <name> <value> [<value>]`
#             in the order mosquitto's broker sends them (subscription identifier first, then the
#             publisher's properties, message-expiry-interval last)
#   payload   raw payload bytes
#   stdout    mosquitto_sub's exact stdout
#   stderr    mosquitto_sub's exact stderr
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
BROKER_PID=
cleanup() {
    if [[ -n $BROKER_PID ]]; then kill "$BROKER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in mosquitto mosquitto_sub mosquitto_pub gcc python3; do
    command -v "$tool" >/dev/null || { echo "capture.sh: $tool not found" >&2; exit 1; }
done
VERSION=$(mosquitto_sub --help 2>&1 || true)
[[ $VERSION == *"mosquitto_sub version 2.0."* ]] || {
    echo "capture.sh: mosquitto_sub 2.0.x required" >&2; exit 1; }

gcc -shared -fPIC -O2 -o "$WORK/fake_clock.so" "$HERE/fake_clock.c" -ldl
SHIM=$WORK/fake_clock.so

# No user config file may add options.
export XDG_CONFIG_HOME=$WORK/config
mkdir -p "$XDG_CONFIG_HOME"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" >"$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/broker.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
    if mosquitto_pub -p "$PORT" -t ping -n 2>/dev/null; then break; fi
    sleep 0.1
done

rm -rf "$HERE/cases" "$HERE/errors" "$HERE/shape"
mkdir -p "$HERE/cases" "$HERE/errors" "$HERE/shape"

DEFAULT_NOW=1795641972.026730123
DEFAULT_TZ=UTC

# c NAME [mosquitto_sub options...] -- [mosquitto_pub options...]
# Environment overrides: NOW (fake clock), TZV (TZ value), TOPIC, KIND (cases|shape).
c() {
    local name=$1
    shift
    local -a sub=() pub=()
    while [[ $# -gt 0 && $1 != -- ]]; do sub+=("$1"); shift; done
    shift
    pub=("$@")
    local kind=${KIND:-cases}
    local topic=${TOPIC:-test/x} now=${NOW:-$DEFAULT_NOW} tz=${TZV-$DEFAULT_TZ}
    local dir=$HERE/$kind/$name
    mkdir -p "$dir"

    # What the formatter is asked to do.
    local mode=plain eol=1 pretty=0 subq=0 subid= v311=0 i
    for ((i = 0; i < ${#sub[@]}; i++)); do
        case ${sub[i]} in
            -v) [[ $mode == format ]] || mode=verbose ;;
            -N) eol=0 ;;
            --pretty) pretty=1 ;;
            -F) mode=format; i=$((i + 1)); printf '%s' "${sub[i]}" >"$dir/format" ;;
            -q) i=$((i + 1)); subq=${sub[i]} ;;
            -D) subid=${sub[i + 3]}; i=$((i + 3)) ;;
            -V) i=$((i + 1)); [[ ${sub[i]} == 311 ]] && v311=1 ;;
        esac
    done
    printf 'mode=%s\neol=%s\npretty=%s\ntz=%s\nnow=%s\n' "$mode" "$eol" "$pretty" "$tz" "$now" >"$dir/options"

    # The message as mosquitto_sub will receive it.
    local pubq=0 retain=0 expiry=
    local -a props=()
    : >"$dir/payload"
    for ((i = 0; i < ${#pub[@]}; i++)); do
        case ${pub[i]} in
            -m) i=$((i + 1)); printf '%s' "${pub[i]}" >"$dir/payload" ;;
            -f) i=$((i + 1)); cp "${pub[i]}" "$dir/payload" ;;
            -n) ;;
            -q) i=$((i + 1)); pubq=${pub[i]} ;;
            -r) retain=1 ;;
            -D)
                local pname=${pub[i + 2]}
                if [[ $pname == user-property ]]; then
                    props+=("prop	$pname	${pub[i + 3]}	${pub[i + 4]}")
                    i=$((i + 4))
                elif [[ $pname == message-expiry-interval ]]; then
                    expiry="prop	$pname	${pub[i + 3]}"
                    i=$((i + 3))
                else
                    props+=("prop	$pname	${pub[i + 3]}")
                    i=$((i + 3))
                fi
                ;;
        esac
    done
    local qos=$((pubq < subq ? pubq : subq)) mid=0
    ((qos > 0)) && mid=1
    # An MQTT 3.1.1 subscriber receives no properties.
    ((v311)) && { props=(); expiry=; subid=; }
    {
        printf 'topic\t%s\nqos\t%s\nretain\t%s\nmid\t%s\n' "$topic" "$qos" "$retain" "$mid"
        [[ -n $subid ]] && printf 'prop\tsubscription-identifier\t%s\n' "$subid"
        for p in "${props[@]+"${props[@]}"}"; do printf '%s\n' "$p"; done
        [[ -n $expiry ]] && printf '%s\n' "$expiry"
    } >"$dir/message"

    # Retained messages are published first so the subscription delivers them with retain=1;
    # others are published once the subscriber is connected.
    if ((retain)); then
        mosquitto_pub -p "$PORT" -V 5 -t "$topic" "${pub[@]}"
    fi
    local -a pre=()
    [[ $kind == cases ]] && pre=(env LD_PRELOAD="$SHIM" FAKE_REALTIME="$now")
    "${pre[@]+"${pre[@]}"}" env TZ="$tz" mosquitto_sub -p "$PORT" -V 5 -C 1 -W 10 -t "$topic" \
        "${sub[@]+"${sub[@]}"}" >"$dir/stdout" 2>"$dir/stderr" &
    local spid=$!
    sleep 0.3
    if ((!retain)); then
        mosquitto_pub -p "$PORT" -V 5 -t "$topic" "${pub[@]}"
    fi
    local rc=0
    wait "$spid" || rc=$?
    if ((retain)); then
        mosquitto_pub -p "$PORT" -V 5 -t "$topic" -r -n
    fi
    if ((rc != 0)); then
        echo "capture.sh: case $name: mosquitto_sub exited $rc: $(cat "$dir/stderr")" >&2
        exit 1
    fi
}

# e NAME FORMAT: a -F string mosquitto_sub rejects at startup.
e() {
    local dir=$HERE/errors/$1
    mkdir -p "$dir"
    printf '%s' "$2" >"$dir/format"
    local rc=0
    mosquitto_sub -p "$PORT" -t x -F "$2" >"$dir/stdout" 2>"$dir/stderr" || rc=$?
    if ((rc != 1)) || [[ -s $dir/stdout ]]; then
        echo "capture.sh: error case $1: expected exit 1 and no stdout, got $rc" >&2
        exit 1
    fi
}

# --- test payloads -----------------------------------------------------------------------
BIN=$WORK/binary.bin
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)))' >"$BIN"
NUL=$WORK/nul.bin
printf 'ab\0cd' >"$NUL"
LATIN1=$WORK/latin1.bin
printf 'caf\xe9 \xff\xfe' >"$LATIN1"
CTRL=$WORK/ctrl.bin
printf 'tab\there\nnl "q" back\\slash \x01\x1f\x7f /' >"$CTRL"
JSONNUL=$WORK/jsonnul.bin
printf '{}\0' >"$JSONNUL"
BIG=$WORK/big.bin
python3 -c 'import sys; sys.stdout.buffer.write(bytes(i % 251 for i in range(5000)))' >"$BIG"

PROPS=(-q 1
    -D publish content-type text/plain
    -D publish user-property k1 v1
    -D publish user-property k2 "v 2"
    -D publish correlation-data abc
    -D publish response-topic resp/t
    -D publish payload-format-indicator 1
    -D publish user-property k1 dup
    -D publish message-expiry-interval 300)
SUBID=(-q 2 -D subscribe subscription-identifier 7)
ALL='t=%t p=%p l=%l q=%q r=%r m=%m A=%A C=%C D=%D E=%E F=%F P=%P R=%R S=%S'

# --- modes -------------------------------------------------------------------------------
c plain -- -m hello
c plain_empty -- -n
c plain_noeol -N -- -m hello
c plain_binary -- -f "$BIN"
c plain_big -- -f "$BIG"
c verbose -v -- -m hello
c verbose_empty -v -- -n
c verbose_empty_noeol -v -N -- -n
c verbose_noeol -v -N -- -m hi
c verbose_binary -v -- -f "$BIN"
TOPIC='test/ünïcode/x' c verbose_unicode_topic -v -- -m 'héllo'
c format_overrides_verbose -v -F '%t:%p' -- -m x
c format_empty -F '' -- -m x
c format_noeol -F '%t %p' -N -- -m x
c format_empty_payload -F '[%p][%x][%l]' -- -n

# --- every specifier, with and without properties -----------------------------------------
for spec in t p x X l q r m A C D E F P R S I U j J %; do
    name=$spec
    [[ $spec == % ]] && name=percent
    [[ $spec =~ [A-Z] ]] && name=upper_$spec
    c "spec_${name}_props" -F "%$spec" "${SUBID[@]}" -- "${PROPS[@]}" -m '{"k":[1,2.5,"x"]}'
    c "spec_${name}_bare" -F "%$spec" -- -m 'plain text'
done
c all_fields_props -F "$ALL" "${SUBID[@]}" -- "${PROPS[@]}" -m payload
c all_fields_bare -F "$ALL" -- -m payload
c all_fields_qos2 -F "$ALL" -q 2 -- -q 2 -m payload
c all_fields_retained -F "$ALL" -q 1 -- -q 1 -r -m kept
c all_fields_v311 -F "$ALL" -V 311 -- "${PROPS[@]}" -m old
c j_v311 -F '%j' -V 311 -- "${PROPS[@]}" -m old
c at_literals -F '@@ %% @N \\' -- -m x
c escapes -F '\e[31m%t\e[0m|\t|\0|\a|\v|\r|\n|\\|' -- -m x

# --- flags, width, precision ---------------------------------------------------------------
W1='%10.10t|%-20t|%20t|%.3t|%5.2t|%-5.2t|%.0t|%.t|%-0005t|%05t|%0.2t|'
W2='%05l|%-5l|%5l|%-05l|%10m|%05m|%-5m|%1l|%0l|'
W3='%010p|%-10p|%10p|%3p|%-p|%.2p|%-3p|'
W4='%x|%10x|%-10x|%010X|%3x|%4x|%-x|%-3X|%.1x|'
W5='%5A|%05A|%-5A|%5E|%05E|%-05E|%-5E|%5S|%05S|%-5S|%05F|%5F|%-5F|'
W6='%10C|%-10C|%.2C|%05C|%5R|%-5R|%.2R|%5.1R|'
W7='%30I|%-30I|%.10I|%5.3I|'
for w in 1 2 3 4 5 6 7; do
    var=W$w
    c "width${w}_props" -F "${!var}" "${SUBID[@]}" -- "${PROPS[@]}" -m 'payload-text'
    c "width${w}_bare" -F "${!var}" -- -m 'payload-text'
    c "width${w}_empty" -F "${!var}" -- -n
done
c width_long_topic -F '%5t|%-5t|%.50t|' -- -m x
TOPIC='test/ü' c width_utf8_cut -F '%.6t|%8t|' -- -m x
c width_negative_expiry -F '%E|%5E|%05E' -- -D publish message-expiry-interval 4294967295 -m x

# --- JSON ----------------------------------------------------------------------------------
c j_plain -F '%j' -- -m 'hello "world" \ /'
c j_empty -F '%j' -- -n
c j_nul -F '%j' -- -f "$NUL"
c j_latin1 -F '%j' -- -f "$LATIN1"
c j_ctrl -F '%j' -- -f "$CTRL"
c j_binary -F '%j' -- -f "$BIN"
c j_qos1 -F '%j' -q 1 -- -q 1 -m q1
c j_qos2_retained -F '%j' -q 2 -- -q 2 -r -m q2
c j_props -F '%j' "${SUBID[@]}" -- "${PROPS[@]}" -m 'with props'
c j_props_pretty -F '%j' --pretty "${SUBID[@]}" -- "${PROPS[@]}" -m 'with props'
c j_pretty -F '%j' --pretty -- -m 'pretty'
c j_pretty_empty -F '%j' --pretty -- -n
c j_corr_binary -F '%j|%D' -- -D publish correlation-data 'co rr' -m x
c j_two -F '%j %j' -- -m twice
TOPIC='test/"quoted"\x' c j_topic_escape -F '%j' -- -m x
J1='{"a":"\u00e9\/\u0000x","b":[{"c":{}},[]],"d":{},"e":null,"f":true,"g":false}'
J2='[1.0,-0.0,1e400,0.1,123456789012345678,1.5e-7,-.5,1.e5,100000000000000000000,0.30000000000000004,0.3333333333333333,1.4142135623730951,-1e-300,5e-324,2147483647,2147483648,-2147483649]'
J3='  {"x" : [ 1 , { } , [ ] , "s" ] }  '
J4='"\ud83d\ude00 \b\f\n\r\t\u0001"'
J5='{"dup":1,"dup":2,"nested":{"a":{"b":{"c":[[[]]]}}}}'
J6=$'\xef\xbb\xbf{"bom":1}'
J7='"\uzzzzabc"'
J8=$'{"raw":"tab\there \x01 \xff"}'
J9='0012'
i=0
J10="[$(printf '%064d' 1),$(printf '1%.0s' $(seq 400)).5e-390]"
for j in "$J1" "$J2" "$J3" "$J4" "$J5" "$J6" "$J7" "$J8" "$J9" "$J10" 'true' 'null' '-0' '"s"' '[]' '{}'; do
    i=$((i + 1))
    c "jj_valid_$i" -F '%J' -- -m "$j"
    c "jj_valid_${i}_pretty" -F '%J' --pretty -- -m "$j"
done
c jj_props_pretty -F '%J' --pretty "${SUBID[@]}" -- "${PROPS[@]}" -m "$J5"
c jj_empty -F '%J' -- -n
c jj_empty_pretty -F '%J' --pretty -- -n
i=0
for j in 'not json' '{' '{}}' '[1,]' '{"a"}' '{a:1}' '"\x"' '"\ud800"' '1e' '.5' '+1' 'nul' 'nullx' '{} {}' ' ' \
    '"\udc00"' '[1e5e]' '--1' '{"a":1,}' '[' '"\'; do
    i=$((i + 1))
    c "jj_invalid_$i" -F '%J' -- -m "$j"
done
c jj_invalid_nul -F '%J' -- -f "$JSONNUL"
c jj_invalid_binary -F '%J' -- -f "$BIN"
c jj_invalid_twice -F 'A%JB%JC' -- -m 'nope'
c jj_invalid_with_j -F '%j|%J|%t' -- -m 'nope'
c jj_invalid_noeol -F '%J' -N -- -m 'nope'
c jj_mixed -F '%J %j' -- -m '[1]'

# --- time: fixed clock in several zones ------------------------------------------------------
SWEEP=''
for code in $(seq 32 126) 1 9 195 255; do
    SWEEP+="@$(printf "\\$(printf '%03o' "$code")")\\0"
done
TIMES=(
    "1795641972.026730123 UTC"
    "1795641972.999999999 Asia/Kolkata"
    "1783000000.500000000 America/New_York"
    "1609459200.000000000 Europe/Berlin"
    "1735516800.000000001 UTC"
    "946684799.123456789 America/Los_Angeles"
    "0.000000000 UTC"
    "43200.000000000 Pacific/Chatham"
    "-86401.500000000 UTC"
    "1700000000.000000000 EST5EDT,M3.2.0,M11.1.0"
    "1700000000.000000000 <+0530>-5:30"
    "1700000000.000000000 :Europe/Paris"
    "1700000000.000000000 "
)
i=0
for t in "${TIMES[@]}"; do
    i=$((i + 1))
    now=${t%% *}
    tz=${t#* }
    NOW=$now TZV=$tz c "time_${i}_fields" -F '%I|%U|@N|%20I|%-30I|%.10I|' -- -m x
    NOW=$now TZV=$tz c "time_${i}_sweep" -F "$SWEEP" -- -m x
    NOW=$now TZV=$tz c "time_${i}_json" -F '%j' -- -m x
done
NOW=1795641972.026730123 TZV=Asia/Kolkata c time_json_pretty -F '%J' --pretty -- -m '{"a":1}'

# --- real clock: shape only ------------------------------------------------------------------
KIND=shape c shape_fields -F '%I|%U|@N|@s|' -- -m x
KIND=shape c shape_json -F '%j' -- -m x

# --- rejected format strings -----------------------------------------------------------------
i=0
for f in '%' '%-' '%0' '%5' '%5.' '%.5' '%-5.3' '@' '\' '\q' '%e' '%5.5.t' '%0-t' '%--t' 'ab%' \
    '%é' '\é' '%%%' '%.' '%-.' '%d' '%f' '%T' '%L' '%s' '%a' '%z' '% t' '\x' '\%' 'ok %t %y' \
    '\n\c' '%-5' '@@@'; do
    i=$((i + 1))
    e "error_$i" "$f"
done

echo "captured: $(find "$HERE/cases" -mindepth 1 -maxdepth 1 | wc -l) cases," \
    "$(find "$HERE/shape" -mindepth 1 -maxdepth 1 | wc -l) shape cases," \
    "$(find "$HERE/errors" -mindepth 1 -maxdepth 1 | wc -l) error cases"
