#!/usr/bin/env bash
# bench/latency.sh — latency from an event's produce to its signal being
# visible to a read_committed consumer, for `hirefire run` with Redis state
# and exactly_once, at half the maximum rate.
#
#   bench/latency.sh [--seconds N] [--warmup N] [--broker-warmup N] [--max-events N]
#                    [--live-max-events N] [--half-of live|catch-up] [--rate N]
#                    [--partitions N] [--bin PATH]
#
# Starts a throwaway Kafka broker (scripts/kafka) and redis-server
# (scripts/redis) in a temporary directory, and warms the broker up with
# --broker-warmup seconds (default 30; 0: none) of live processing at
# 100,000 events/s, not measured (a fresh broker's JVM is slow for its first
# runs). Then it measures two maxima:
#   catch-up  --max-events events (default 500,000) loaded with `hirefire gen
#             --topic`, then one timed `hirefire run` over them: hirefire
#             alone, nothing produced meanwhile;
#   live      `hirefire run` on an empty topic while `hirefire gen --topic`
#             produces --live-max-events events (default 2,000,000) as fast
#             as it can at the clients' priority (below): the rate at which
#             the whole set-up (producing, broker, hirefire, Redis) keeps up,
#             timed from the first event's create time to hirefire done.
# Then, on fresh topics, `hirefire run` runs live while `hirefire gen --topic
# --rate R` produces for --seconds (default 20) at R = half the live maximum
# (--half-of catch-up: half the catch-up maximum), and `kcat -C -X
# isolation.level=read_committed -u` reads the signals topic; each line is
# stamped with the wall time it arrived.
# A signal's latency is its arrival time minus the Kafka timestamp of the
# event that triggered it (the producer's create time; the signal names the
# event's partition and offset). Signals caused by expiries have no trigger
# and are not counted; neither are those of the events of the first --warmup
# seconds (default 3: the new group's first fetches and transactions), which
# are produced at the same rate before the measured --seconds. Prints p50,
# p90, p99 and the maximum (target: p99 < 300 ms), and the part up to
# hirefire producing the signal. --rate N skips the maxima and produces at
# N events/s. Figures only; everything started is stopped on exit, error or
# Ctrl-C.
#
# The generator and the measuring consumer stand for clients on other
# hosts, so they run at the lowest CPU priority (nice 19): on a small
# machine they get what hirefire, the broker and redis-server leave, and do
# not delay them. A consumer that runs later only makes latencies longer;
# a generator that falls behind would produce less, so the rate it reached
# (events over the span of their create times) is printed with the figures.
# The same priority makes the live maximum the rate at which the machine is
# saturated: the generator produces with the CPU the rest leave it. (On a
# machine where the generator is the slower part, the live maximum is the
# generator's, and hirefire's lag when it ended, printed too, stays near 0.)
#
# Environment: HIREFIRE (binary; default build/hirefire, or --bin), TMPDIR,
# HF_LATENCY_FETCH_WAIT_MS (the measuring consumer's fetch.wait.max.ms, 500),
# HF_LATENCY_NICE (the generator's and the measuring consumer's niceness,
# 19; 0 runs them like the rest).
# Needs: scripts/kafka's needs (java 17+, kcat, python3), redis-server.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=20
warmup=3
max_events=500000
live_max_events=2000000
half_of=live
partitions=8
fixed_rate=0
broker_warmup=30
consumer_wait=${HF_LATENCY_FETCH_WAIT_MS:-500}
client_nice=${HF_LATENCY_NICE:-19}
bin=${HIREFIRE:-$repo/build/hirefire}

die() { echo "bench/latency.sh: $*" >&2; exit 1; }
note() { echo "bench/latency.sh: $*" >&2; }
usage() { sed -n '6,8{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&"${2:-2}"; exit "${1:-2}"; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) posint "$1" "${2:-}"; seconds=$2; shift 2 ;;
    --warmup) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--warmup must be a whole number of seconds, not '${2:-}'"
      warmup=$2; shift 2 ;;
    --broker-warmup) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--broker-warmup must be a whole number of seconds, not '${2:-}'"
      broker_warmup=$2; shift 2 ;;
    --max-events) posint "$1" "${2:-}"; max_events=$2; shift 2 ;;
    --live-max-events) posint "$1" "${2:-}"; live_max_events=$2; shift 2 ;;
    --half-of) [[ "${2:-}" == live || "${2:-}" == catch-up ]] ||
      die "--half-of must be live or catch-up, not '${2:-}'"
      half_of=$2; shift 2 ;;
    --rate) posint "$1" "${2:-}"; fixed_rate=$2; shift 2 ;;
    --partitions) posint "$1" "${2:-}"; partitions=$2; shift 2 ;;
    --bin) bin=${2:?--bin needs a path}; shift 2 ;;
    -h|--help) usage 0 1 ;;
    *) note "unknown argument '$1'"; usage ;;
  esac
done
[[ "$client_nice" =~ ^[0-9]+$ && $client_nice -le 19 ]] ||
  die "HF_LATENCY_NICE must be a niceness from 0 to 19, not '$client_nice'"
[[ -x "$bin" ]] || die "$bin is not an executable (build it, or give --bin / HIREFIRE)"
command -v kcat >/dev/null || die "kcat not found (Debian: apt-get install kcat)"
command -v redis-server >/dev/null || die "redis-server not found (Debian: apt-get install redis-server)"

work=$(mktemp -d "${TMPDIR:-/tmp}/hirefire-bench-latency.XXXXXX")
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  "$repo/scripts/redis" stop --dir "$work/redis" >/dev/null 2>&1 || true
  "$repo/scripts/kafka" stop --dir "$work/kafka" >/dev/null 2>&1 || true
  rm -rf -- "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

note "starting a Kafka broker and redis-server in $work"
"$repo/scripts/kafka" start --dir "$work/kafka" --watch $$ >/dev/null
"$repo/scripts/redis" start --dir "$work/redis" --watch $$ >/dev/null
KAFKA_BOOTSTRAP="" REDIS_URL=""
# shellcheck disable=SC1091
. "$work/kafka/env"
# shellcheck disable=SC1091
. "$work/redis/env"
"$repo/scripts/kafka" topic --dir "$work/kafka" lat.max "$partitions" lat.events "$partitions" \
  lat.signals "$partitions" lat.dead 1 lat.warmup "$partitions" lat.livemax "$partitions" 2>"$work/topics.log" ||
  { cat "$work/topics.log" >&2; die "creating the topics failed"; }

# config INPUT GROUP: a configuration for `hirefire run` on INPUT.
config() {
  {
    grep -E '^behaviour\.' "$repo/config/hirefire.properties" || true
    echo "input.topics=$1"
    echo "input.format=json"
    echo "output.topic=lat.signals"
    echo "output.format=json"
    echo "dead_letter.topic=lat.dead"
    echo "store.backend=redis"
    echo "redis.url=$REDIS_URL"
    echo "processing.guarantee=exactly_once"
    echo "kafka.bootstrap.servers=$KAFKA_BOOTSTRAP"
    echo "kafka.group.id=$2"
    echo "http.listen="
  } >"$work/$2.properties"
  echo "$work/$2.properties"
}

# start_run TOPIC LOG ARGS...: `hirefire run ARGS` in the background (stderr
# to LOG), once it has been assigned TOPIC (or after 10 s); RUN_PID is its pid.
start_run() {
  local topic=$1 log=$2
  shift 2
  "$bin" run "$@" 2>"$log" &
  RUN_PID=$!
  pids+=("$RUN_PID")
  for _ in $(seq 100); do
    grep -q "assigned $topic" "$log" 2>/dev/null && break
    sleep 0.1
  done
}

# --- the broker's warm-up -----------------------------------------------------------

# A fresh broker's JVM is slow until it has compiled its fetch, produce and
# transaction paths: at 112,000 events/s, four 13-s runs one after the other
# on a new broker gave p99 293, 215, 120 and 142 ms (the maximum rate measured
# after a short warm-up was also lower). So first --broker-warmup seconds of
# live processing (not measured): `hirefire run` on lat.warmup while
# `hirefire gen` produces there at 100,000 events/s.
if [[ $broker_warmup -gt 0 ]]; then
  warm_rate=100000
  note "warming the broker up: $broker_warmup s of live processing at $warm_rate events/s (not measured)"
  start_run lat.warmup "$work/run-warmup.log" -c "$(config lat.warmup lat-warmup)" \
    -X output.topic=lat.dead -X redis.key.prefix=warmup
  warm_pid=$RUN_PID
  "$bin" gen -q --events $((warm_rate * broker_warmup)) --customers $((warm_rate * broker_warmup / 10)) \
    --seed 5 --rate "$warm_rate" --topic lat.warmup --brokers "$KAFKA_BOOTSTRAP" --format json \
    2>"$work/gen-warmup.log" || { cat "$work/gen-warmup.log" >&2; die "hirefire gen failed"; }
  kill -TERM "$warm_pid"
  wait "$warm_pid" || { tail -n 20 "$work/run-warmup.log" >&2; die "hirefire run (warm-up) failed"; }
fi

# --- the maxima --------------------------------------------------------------------

# messages_in LOG: the "N messages" of the run summary in LOG.
messages_in() { sed -n 's/^hirefire run: \([0-9]*\) messages.*/\1/p' "$1" | tail -n 1; }

if [[ $fixed_rate -gt 0 ]]; then
  rate=$fixed_rate max_rate=0 live_rate=0
else
  note "maximum rate, catching up: loading $max_events events into lat.max"
  "$bin" gen -q --events "$max_events" --customers $((max_events / 10)) --seed 7 \
    --topic lat.max --brokers "$KAFKA_BOOTSTRAP" --format json 2>"$work/gen-max.log" ||
    { cat "$work/gen-max.log" >&2; die "hirefire gen failed"; }
  note "maximum rate, catching up: hirefire run over them"
  t0=$EPOCHREALTIME
  "$bin" run -c "$(config lat.max lat-max)" -X output.topic=lat.dead --max-idle-ms 2000 \
    2>"$work/run-max.log" || { tail -n 20 "$work/run-max.log" >&2; die "hirefire run failed"; }
  t1=$EPOCHREALTIME
  max_rate=$(awk -v n="$max_events" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a - 2) }')

  # Live: hirefire waits on an empty topic (it stops 5 s after the last
  # batch that reached the end), the generator produces as fast as it can
  # at the clients' priority. From the first event's create time to the end
  # of hirefire's last batch.
  note "maximum rate, live: hirefire run while the generator produces $live_max_events events (nice $client_nice)"
  idle_ms=5000
  start_run lat.livemax "$work/run-livemax.log" -c "$(config lat.livemax lat-livemax)" \
    -X output.topic=lat.dead --max-idle-ms "$idle_ms"
  livemax_pid=$RUN_PID
  nice -n "$client_nice" "$bin" gen -q --events "$live_max_events" --customers $((live_max_events / 10)) \
    --seed 9 --topic lat.livemax --brokers "$KAFKA_BOOTSTRAP" --format json 2>"$work/gen-livemax.log" ||
    { cat "$work/gen-livemax.log" >&2; die "hirefire gen failed"; }
  gen_done=$EPOCHREALTIME
  wait "$livemax_pid" || { tail -n 20 "$work/run-livemax.log" >&2; die "hirefire run failed"; }
  run_done=$EPOCHREALTIME
  got=$(messages_in "$work/run-livemax.log")
  [[ "$got" == "$live_max_events" ]] ||
    { tail -n 20 "$work/run-livemax.log" >&2
      die "hirefire run (live maximum) processed ${got:-no} events of $live_max_events (it stops after $idle_ms ms without any: did the generator start late?)"; }
  first_ms=$(for ((p = 0; p < partitions; p++)); do
      kcat -C -b "$KAFKA_BOOTSTRAP" -t lat.livemax -p "$p" -o beginning -c 1 -e -q -f '%T\n' 2>>"$work/kcat.log"
    done | sort -n | head -n 1)
  [[ -n "$first_ms" ]] || die "could not read the first event of lat.livemax"
  read -r live_rate live_lag < <(awk -v n="$live_max_events" -v first="$first_ms" -v g="$gen_done" \
    -v b="$run_done" -v idle="$idle_ms" \
    'BEGIN { end = b - idle / 1000; printf "%d %.2f\n", n / (end - first / 1000), end - g }')
  note "maximum rate: catching up $max_rate events/s, live $live_rate events/s (hirefire done $live_lag s after the generator)"
  if [[ $half_of == live ]]; then
    rate=$((live_rate / 2))
  else
    rate=$((max_rate / 2))
  fi
fi
[[ $rate -gt 0 ]] || die "could not measure the maximum rate"

# --- latency at half of it ----------------------------------------------------------

if [[ $fixed_rate -gt 0 ]]; then at="the given rate"; else at="half the $half_of maximum"; fi
note "latency: $seconds s (after $warmup s of warm-up) at $rate events/s ($at)"
cat >"$work/stamp.py" <<'PY'
import os, signal, subprocess, sys, time
# Runs the consumer given as arguments and writes its lines, each prefixed
# with the wall time (ms) it arrived, to sys.argv[1]. The time is taken once
# per read from the pipe (what arrived together), and the file is written
# in blocks, so that stamping takes little of the machine it measures: a
# line at a time, with a write per line, took 2 us of CPU a line (a tenth of
# a vCPU at 50,000 signals/s); this takes ~0.6.
kcat = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE)
def stop(*_):
    kcat.terminate()
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
fd, carry = kcat.stdout.fileno(), b""
with open(sys.argv[1], "wb") as out:
    while chunk := os.read(fd, 1 << 20):
        prefix = b"%.3f " % (time.time() * 1000)
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        if lines:
            out.write(prefix + (b"\n" + prefix).join(lines) + b"\n")
PY
nice -n "$client_nice" python3 "$work/stamp.py" "$work/arrivals" kcat -C -b "$KAFKA_BOOTSTRAP" -t lat.signals -u -q \
  -X isolation.level=read_committed -X fetch.wait.max.ms="$consumer_wait" -o beginning -f '%T %s\n' \
  2>"$work/kcat.log" &
pids+=($!)
start_run lat.events "$work/run-live.log" -c "$(config lat.events lat-live)"
run_pid=$RUN_PID
measured_from=$(( ${EPOCHREALTIME/./} / 1000 + warmup * 1000 ))
nice -n "$client_nice" "$bin" gen -q --events $((rate * (seconds + warmup))) --customers $((rate * seconds / 10 + 1)) --seed 8 \
  --rate "$rate" --topic lat.events --brokers "$KAFKA_BOOTSTRAP" --format json \
  2>"$work/gen-live.log" || { cat "$work/gen-live.log" >&2; die "hirefire gen failed"; }
sleep 3
kill -TERM "$run_pid"
wait "$run_pid" || { tail -n 20 "$work/run-live.log" >&2; die "hirefire run failed"; }
sleep 1
kcat -C -b "$KAFKA_BOOTSTRAP" -t lat.events -e -q -o beginning -f '%p %o %T\n' \
  >"$work/events" 2>>"$work/kcat.log"

python3 - "$work/events" "$work/arrivals" "$rate" "$max_rate" "$measured_from" "$client_nice" \
  "$live_rate" "$half_of" "${live_lag:-0}" <<'PY'
import json, sys
since = int(sys.argv[5])
created = {}
with open(sys.argv[1]) as f:
    for line in f:
        p, o, t = line.split()
        created[(int(p), int(o))] = int(t)
lat, made = [], []
with open(sys.argv[2]) as f:
    for line in f:
        at, produced, payload = line.split(" ", 2)
        trig = json.loads(payload).get("trigger")
        if trig and trig.get("topic") == "lat.events" and "partition" in trig:
            t = created.get((trig["partition"], trig["offset"]))
            if t is not None and t >= since:
                lat.append(float(at) - t)
                made.append(int(produced) - t)
if not lat:
    sys.exit("bench/latency.sh: no signal could be matched to its event")
lat.sort()
made.sort()
# The rate the generator reached over the measured part (its create times).
ts = sorted(t for t in created.values() if t >= since)
reached = len(ts) / max((ts[-1] - ts[0]) / 1000, 1e-3)
pick = lambda q, v=lat: v[min(len(v) - 1, int(q * len(v)))]
rate, top, live, half_of = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[7]), sys.argv[8]
if top:
    print(f"Maximum rate, catching up on a backlog (hirefire alone): {top:,} events/s")
    print(f"Maximum rate, live (the generator producing as fast as the machine lets it): {live:,} events/s"
          f"  (hirefire done {float(sys.argv[9]):.2f} s after the generator)")
print(f"Latency, produce to visible (read_committed), hirefire run with Redis and exactly_once:")
half = f"half the {half_of} maximum" if top else "given rate"
print(f"  at {rate:,} events/s ({half}): p50 {pick(0.5):.0f} ms  p90 {pick(0.9):.0f} ms"
      f"  p99 {pick(0.99):.0f} ms  max {lat[-1]:.0f} ms  ({len(lat):,} signals)"
      f"   target p99 < 300 ms")
print(f"  produced at {reached:,.0f} events/s over the measured part"
      f" (generator and measuring consumer at nice {sys.argv[6]})")
print(f"  of which event produced -> signal produced by hirefire: p50 {pick(0.5, made):.0f} ms"
      f"  p99 {pick(0.99, made):.0f} ms")
PY
