#!/usr/bin/env bash
# bench/live.sh — live throughput of `hirefire run` against the raw consume
# rate of librdkafka, on a real Kafka broker.
#
#   bench/live.sh [--events N] [--customers N] [--partitions N] [--rounds N]
#                 [--warmup-events N] [--warmup-runs N] [--bin PATH] [--no-redis]
#
# Starts a throwaway Kafka broker (scripts/kafka) in a temporary directory,
# creates an input topic with --partitions partitions (default 8), loads
# --events synthetic events (default 2,000,000; --customers default events/10)
# as Confluent-framed Avro with `hirefire gen --topic`, then measures in the
# same run, after untimed warm-ups (--warmup-runs runs of `hirefire run`,
# default 3, over a separate topic of --warmup-events events, default
# --events/2: first with the memory store, before kcat's rounds, then with
# Redis before the Redis rounds; a fresh broker's JVM compiles its fetch,
# produce and transaction paths on the first runs, and after one warm-up
# run of a tenth of the events it still took 0.9-1.3 s of CPU per memory
# run, against ~0.45 s on a broker that had served a few runs):
#   kcat          `kcat -C -e -o beginning -q > /dev/null` over the topic: the
#                 raw librdkafka consume rate; then the same with
#                 -X queued.min.messages=1000000 (as hirefire sets it); the
#                 faster of the two is the baseline;
#   run memory    `hirefire run` with store.backend=memory (at_least_once:
#                 the memory store has no transactions), --max-idle-ms 2000,
#                 timed from start to exit minus the idle wait;
#   run redis     the same with store.backend=redis and exactly_once against a
#                 throwaway redis-server (scripts/redis), when `hirefire run`
#                 supports that combination (found out by a short run on an
#                 empty topic); skipped with the reason otherwise; each
#                 round against a freshly started redis-server.
# Each is measured --rounds times (default 3: kcat's rounds first, then
# hirefire's) and the median round is reported, with the range of the
# rounds' times: on two vCPUs shared with the broker one run can be 20%
# off the next. Prints events/s and CPU seconds (user + system) of each, the broker's CPU
# seconds meanwhile (a busy broker on a small machine slows both), the ratios
# run/kcat (targets: memory >= 0.7, redis >= 0.5). Figures only: nothing is
# asserted, the exit status only says whether the benchmark itself ran.
# Everything started is stopped on exit, error or Ctrl-C.
#
# Environment: HIREFIRE (binary; default build/hirefire, or --bin), TMPDIR.
# Needs: scripts/kafka's needs (java 17+, kcat, python3), redis-server for the
# Redis run.
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
events=2000000
customers=""
partitions=8
rounds=3
warm_events=""
warm_runs=3
bin=${HIREFIRE:-$repo/build/hirefire}
with_redis=1
idle_ms=2000

die() { echo "bench/live.sh: $*" >&2; exit 1; }
note() { echo "bench/live.sh: $*" >&2; }
usage() { sed -n '5,6{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2; exit 2; }
posint() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, not '$2'"; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --events) posint "$1" "${2:-}"; events=$2; shift 2 ;;
    --customers) posint "$1" "${2:-}"; customers=$2; shift 2 ;;
    --partitions) posint "$1" "${2:-}"; partitions=$2; shift 2 ;;
    --rounds) posint "$1" "${2:-}"; rounds=$2; shift 2 ;;
    --warmup-events) posint "$1" "${2:-}"; warm_events=$2; shift 2 ;;
    --warmup-runs) [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--warmup-runs must be a whole number, not '${2:-}'"
      warm_runs=$2; shift 2 ;;
    --bin) bin=${2:?--bin needs a path}; shift 2 ;;
    --no-redis) with_redis=0; shift ;;
    -h|--help) usage ;;
    *) note "unknown argument '$1'"; usage ;;
  esac
done
customers=${customers:-$(( events / 10 > 0 ? events / 10 : 1 ))}
[[ -x "$bin" ]] || die "$bin is not an executable (build it, or give --bin / HIREFIRE)"
command -v kcat >/dev/null || die "kcat not found (Debian: apt-get install kcat)"

# --- clean-up -------------------------------------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/hirefire-bench-live.XXXXXX")
child=""          # the measured process while it runs
kafka_started=0
redis_started=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$child" ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  [[ $redis_started -eq 0 ]] || "$repo/scripts/redis" stop --dir "$work/redis" >/dev/null 2>&1 || true
  [[ $kafka_started -eq 0 ]] || "$repo/scripts/kafka" stop --dir "$work/kafka" >/dev/null 2>&1 || true
  rm -rf -- "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- measuring ------------------------------------------------------------------

# Sets CHILD_U and CHILD_S to the CPU seconds (user, system) of this shell's
# finished children so far. `times` must run in this shell (a command
# substitution's subshell has no children), so its output goes through a file.
children_cpu() {
  local line
  times >"$work/times"
  line=$(sed -n 2p "$work/times")   # e.g. "0m1.234s 0m0.567s"
  read -r CHILD_U CHILD_S < <(awk -v u="${line%% *}" -v s="${line##* }" '
    function sec(t,  m) {
      m = t; sub(/m.*/, "", m); sub(/^[0-9]+m/, "", t); sub(/s$/, "", t)
      return m * 60 + t
    }
    BEGIN { printf "%.3f %.3f\n", sec(u), sec(s) }')
}

# Prints the broker's CPU seconds so far (user + system, from /proc), or 0.
broker_cpu() {
  local stat
  stat=$(cat "/proc/${KAFKA_PID:-0}/stat" 2>/dev/null) || { echo 0; return; }
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' <<<"$stat"
}

# measure LOG CMD...: runs CMD in the background (so that a signal can stop
# it) with stdout to /dev/null and stderr to LOG; sets WALL (seconds), CPU_U,
# CPU_S (seconds), BROKER (the broker's CPU seconds meanwhile) and RC.
measure() {
  local log=$1 t0 t1 u0 s0 b0
  shift
  b0=$(broker_cpu)
  children_cpu
  u0=$CHILD_U s0=$CHILD_S
  t0=$EPOCHREALTIME
  "$@" >/dev/null 2>"$log" &
  child=$!
  RC=0
  wait "$child" || RC=$?
  t1=$EPOCHREALTIME
  child=""
  children_cpu
  BROKER=$(awk -v a="$b0" -v b="$(broker_cpu)" 'BEGIN { printf "%.2f", b - a }')
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  CPU_U=$(awk -v a="$u0" -v b="$CHILD_U" 'BEGIN { printf "%.2f", b - a }')
  CPU_S=$(awk -v a="$s0" -v b="$CHILD_S" 'BEGIN { printf "%.2f", b - a }')
}

# keep KIND: records the last measurement (WALL, CPU_U, CPU_S, BROKER) as a
# round of KIND.
declare -A R_WALL R_U R_S R_B R_N
keep() {
  local k=$1 i=${R_N[$1]:-0}
  R_WALL[$k,$i]=$WALL R_U[$k,$i]=$CPU_U R_S[$k,$i]=$CPU_S R_B[$k,$i]=$BROKER
  R_N[$k]=$((i + 1))
}

# pick KIND: sets M_WALL, M_U, M_S, M_B to KIND's median round (by time) and
# M_RANGE to "N rounds: MIN-MAX s".
pick() {
  local k=$1 n=${R_N[$1]:-0} i lo hi
  read -r i lo hi < <(for ((i = 0; i < n; i++)); do echo "${R_WALL[$k,$i]} $i"; done |
    sort -n | awk '{ w[NR] = $1; ix[NR] = $2 } END { print ix[int((NR + 1) / 2)], w[1], w[NR] }')
  M_WALL=${R_WALL[$k,$i]} M_U=${R_U[$k,$i]} M_S=${R_S[$k,$i]} M_B=${R_B[$k,$i]}
  M_RANGE="$n rounds: $lo-$hi s"
}

rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0) ? n / t : 0 }'; }
grouped() { sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/;ta' <<<"$1"; }

# row LABEL SECONDS EVENTS CPU_U CPU_S BROKER_CPU [NOTE]: one line of figures.
row() {
  local r cpu
  r=$(rate "$3" "$2")
  cpu=$(awk -v u="$4" -v s="$5" 'BEGIN { printf "%.2f", u + s }')
  printf '  %-34s %8.2f s %12s events/s   cpu %6.2f s (user %.2f, sys %.2f), %.2f us/event; broker cpu %.2f s%s\n' \
    "$1" "$2" "$(grouped "$r")" "$cpu" "$4" "$5" \
    "$(awk -v c="$cpu" -v n="$3" 'BEGIN { printf "%.3f", c * 1e6 / n }')" "$6" "${7:+   ($7)}"
}

# --- the broker and the data ------------------------------------------------------

note "starting a Kafka broker in $work/kafka"
kafka_started=1
"$repo/scripts/kafka" start --dir "$work/kafka" --watch $$ >/dev/null
KAFKA_BOOTSTRAP="" KAFKA_VERSION="" KAFKA_PID=""
# shellcheck disable=SC1091
. "$work/kafka/env"
topic=bench.events
"$repo/scripts/kafka" topic --dir "$work/kafka" "$topic" "$partitions" \
  bench.signals "$partitions" bench.dead-letter 1 bench.probe 1 \
  bench.warmup "$partitions" 2>"$work/topics.log" ||
  { cat "$work/topics.log" >&2; die "creating the topics failed"; }

mkdir -p "$work/schemas"
cp "$repo/schemas/customer_event.avsc" "$work/schemas/1.avsc"

# The behaviours of the example configuration, no HTTP endpoint, signals as
# Avro with a fixed schema id (no registry).
config=$work/bench.properties
{
  grep -E '^behaviour\.' "$repo/config/hirefire.properties" || true
  echo "input.topics=$topic"
  echo "input.format=avro"
  echo "input.schema.dir=$work/schemas"
  echo "output.topic=bench.signals"
  echo "output.format=avro"
  echo "output.schema.id=2"
  echo "dead_letter.topic=bench.dead-letter"
  echo "kafka.bootstrap.servers=$KAFKA_BOOTSTRAP"
  echo "http.listen="
} >"$config"

note "loading $events events ($customers customers) into $topic ($partitions partitions)"
measure "$work/gen.log" "$bin" gen --events "$events" --customers "$customers" \
  --topic "$topic" --brokers "$KAFKA_BOOTSTRAP" --format avro --schema-id 1 -q
[[ $RC -eq 0 ]] || { cat "$work/gen.log" >&2; die "hirefire gen failed (exit $RC)"; }
gen_wall=$WALL gen_u=$CPU_U gen_s=$CPU_S gen_b=$BROKER

# --- warm-up ---------------------------------------------------------------------

# A fresh broker's JVM is slow until it has compiled its fetch, produce and
# transaction paths: `hirefire run` over a separate topic, --warmup-runs
# times (not timed), before kcat's and hirefire's rounds. With one warm-up
# run of a tenth of the events the broker still took 0.9-1.3 s of CPU per
# memory run, against ~0.45 s once it had served a few runs.
mem_guarantee=at_least_once
warm_events=${warm_events:-$(( events / 2 > 0 ? events / 2 : 1 ))}
note "warming the broker up: $warm_runs runs over $warm_events events (not timed)"
measure "$work/gen-warmup.log" "$bin" gen --events "$warm_events" \
  --customers $(( warm_events / 10 > 0 ? warm_events / 10 : 1 )) --seed 2 \
  --topic bench.warmup --brokers "$KAFKA_BOOTSTRAP" --format avro --schema-id 1 -q
[[ $RC -eq 0 ]] || { cat "$work/gen-warmup.log" >&2; die "hirefire gen (warm-up) failed (exit $RC)"; }
for ((r = 1; r <= warm_runs; r++)); do
  measure "$work/run-warmup.log" "$bin" run --config "$config" -X input.topics=bench.warmup \
    -X kafka.group.id="bench-warmup-$r" -X store.backend=memory \
    -X processing.guarantee="$mem_guarantee" --max-idle-ms 500
  [[ $RC -eq 0 ]] || { tail -n 20 "$work/run-warmup.log" >&2; die "the warm-up run failed (exit $RC)"; }
  note "  warm-up $r: $WALL s, broker cpu $BROKER s"
done

# --- (a) kcat -------------------------------------------------------------------

# Plain, then with queued.min.messages raised as hirefire raises it:
# librdkafka 2.0 stops fetching a partition for a second whenever its queue
# holds 100,000 messages, which plain kcat hits on some runs and not others.
# The faster median of the two is the baseline of the ratios.
for ((r = 1; r <= rounds; r++)); do
  note "kcat: consuming $topic (round $r of $rounds)"
  measure "$work/kcat.log" kcat -C -b "$KAFKA_BOOTSTRAP" -t "$topic" -e -o beginning -q
  [[ $RC -eq 0 ]] || { cat "$work/kcat.log" >&2; die "kcat failed (exit $RC)"; }
  keep kcat
  note "kcat: consuming $topic (queued.min.messages=1000000, round $r of $rounds)"
  measure "$work/kcat2.log" kcat -X queued.min.messages=1000000 -C -b "$KAFKA_BOOTSTRAP" \
    -t "$topic" -e -o beginning -q
  [[ $RC -eq 0 ]] || { cat "$work/kcat2.log" >&2; die "kcat failed (exit $RC)"; }
  keep kcat2
done
pick kcat
kcat_wall=$M_WALL kcat_u=$M_U kcat_s=$M_S kcat_b=$M_B kcat_range=$M_RANGE
pick kcat2
kcat2_wall=$M_WALL kcat2_u=$M_U kcat2_s=$M_S kcat2_b=$M_B kcat2_range=$M_RANGE
base_wall=$(awk -v a="$kcat_wall" -v b="$kcat2_wall" 'BEGIN { print (a < b) ? a : b }')

# --- (b), (c) hirefire run -------------------------------------------------------

# probe LOG SETTINGS...: a short run on the empty probe topic; true if it ran
# with exactly these settings (exit 0, nothing "not available").
probe() {
  local log=$1
  shift
  measure "$log" "$bin" run --config "$config" -X input.topics=bench.probe \
    -X kafka.group.id="bench-probe-$RANDOM" "$@" --max-idle-ms 300
  [[ $RC -eq 0 ]] || return 1
  ! grep -qi "not available\|not supported\|not implemented" "$log"
}

# run_bench NAME SETTINGS...: one timed run over the whole topic; sets
# RUN_SECS and prints its row, or notes what went wrong.
run_bench() {
  local name=$1 log=$work/run-$1.log
  shift
  note "hirefire run: $name"
  measure "$log" "$bin" run --config "$config" -X kafka.group.id="bench-$name" \
    "$@" --max-idle-ms "$idle_ms"
  if [[ $RC -ne 0 ]]; then
    tail -n 20 "$log" >&2
    note "hirefire run ($name) failed (exit $RC)"
    return 1
  fi
  local msgs
  msgs=$(sed -n 's/^hirefire run: \([0-9]*\) messages.*/\1/p' "$log" | tail -n 1)
  if [[ "$msgs" != "$events" ]]; then
    note "hirefire run ($name) read ${msgs:-an unknown number of} messages, not $events:"
    tail -n 5 "$log" >&2
  fi
  RUN_SECS=$(awk -v w="$WALL" -v i="$idle_ms" 'BEGIN { printf "%.3f", w - i / 1000 }')
  WALL=$RUN_SECS
  note "  $name: $RUN_SECS s, broker cpu $BROKER s"
  keep "${name%-*}"
  RUN_SUMMARY=$(grep -E '^hirefire run: [0-9]+ messages' "$log" | tail -n 1 || true)
}

# warm_redis: the transactional path's warm-up, as the memory one (not timed).
warm_redis() {
  local r
  note "warming the broker's transactions up: $warm_runs runs over $warm_events events (not timed)"
  for ((r = 1; r <= warm_runs; r++)); do
    measure "$work/run-warmup-redis.log" "$bin" run --config "$config" \
      -X input.topics=bench.warmup -X kafka.group.id="bench-warmup-redis-$r" \
      -X store.backend=redis -X redis.url="$REDIS_URL" -X redis.key.prefix="warmup$r" \
      -X processing.guarantee=exactly_once --max-idle-ms 500
    [[ $RC -eq 0 ]] || return 1
    note "  warm-up $r: $WALL s, broker cpu $BROKER s"
  done
}

for ((r = 1; r <= rounds; r++)); do
  run_bench "memory-$r" -X store.backend=memory -X processing.guarantee="$mem_guarantee" ||
    die "the memory run failed"
done
mem_summary=$RUN_SUMMARY
pick memory
mem_secs=$M_WALL mem_u=$M_U mem_s=$M_S mem_b=$M_B mem_range=$M_RANGE

redis_note=""
if [[ $with_redis -eq 0 ]]; then
  redis_note="skipped (--no-redis)"
elif ! command -v redis-server >/dev/null; then
  redis_note="skipped: redis-server not found"
else
  redis_started=1
  "$repo/scripts/redis" start --dir "$work/redis" --watch $$ >/dev/null
  REDIS_URL=""
  # shellcheck disable=SC1091
  . "$work/redis/env"
  if ! probe "$work/probe-redis.log" -X store.backend=redis -X redis.url="$REDIS_URL" \
       -X processing.guarantee=exactly_once; then
    redis_note="skipped: this hirefire run does not support store.backend=redis with exactly_once yet ($(grep -m1 -i 'not available\|not supported\|not implemented\|error' "$work/probe-redis.log" || tail -n 1 "$work/probe-redis.log"))"
  elif ! warm_redis; then
    redis_note="failed: the warm-up run with Redis failed ($(tail -n 1 "$work/run-warmup-redis.log"))"
  else
    for ((r = 1; r <= rounds; r++)); do
      # Each round on an empty Redis, as the first one.
      "$repo/scripts/redis" stop --dir "$work/redis" >/dev/null
      "$repo/scripts/redis" start --dir "$work/redis" --watch $$ >/dev/null
      # shellcheck disable=SC1091
      . "$work/redis/env"
      if ! run_bench "redis-$r" -X store.backend=redis -X redis.url="$REDIS_URL" \
           -X processing.guarantee=exactly_once; then
        redis_note="failed (log above)"
        break
      fi
    done
    if [[ -z "$redis_note" ]]; then
      redis_summary=$RUN_SUMMARY
      pick redis
      redis_secs=$M_WALL redis_u=$M_U redis_s=$M_S redis_b=$M_B redis_range=$M_RANGE
    fi
  fi
fi

# --- report ---------------------------------------------------------------------

# ratio KCAT_SECS RUN_SECS: run's rate / kcat's rate.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

echo "Live throughput: $events events, $customers customers, $partitions partitions," \
     "Kafka $KAFKA_VERSION on 127.0.0.1, $(nproc) CPUs"
row "load (hirefire gen --topic)" "$gen_wall" "$events" "$gen_u" "$gen_s" "$gen_b"
row "kcat -C (raw librdkafka consume)" "$kcat_wall" "$events" "$kcat_u" "$kcat_s" "$kcat_b" \
  "$kcat_range"
row "kcat -C, queued.min.messages=1e6" "$kcat2_wall" "$events" "$kcat2_u" "$kcat2_s" "$kcat2_b" \
  "$kcat2_range"
row "run memory, $mem_guarantee" "$mem_secs" "$events" "$mem_u" "$mem_s" "$mem_b" "$mem_range"
if [[ -n "${redis_secs:-}" ]]; then
  row "run redis, exactly_once" "$redis_secs" "$events" "$redis_u" "$redis_s" "$redis_b" \
    "$redis_range"
else
  echo "  run redis, exactly_once: $redis_note"
fi
echo "  (each the median of $rounds rounds, their range in brackets)"
echo "  (run times are start to exit minus the ${idle_ms} ms idle wait; cpu includes that wait)"
echo "  (before kcat's rounds and before the Redis rounds, $warm_runs untimed runs over $warm_events other events warmed the broker up)"
echo "  (ratios against the faster kcat, ${base_wall} s; against plain kcat in brackets)"
echo "  ratio run memory / kcat: $(ratio "$base_wall" "$mem_secs") ($(ratio "$kcat_wall" "$mem_secs"))   (target >= 0.7)"
if [[ -n "${redis_secs:-}" ]]; then
  echo "  ratio run redis / kcat:  $(ratio "$base_wall" "$redis_secs") ($(ratio "$kcat_wall" "$redis_secs"))   (target >= 0.5)"
fi
echo "  memory: ${mem_summary#hirefire run: }"
if [[ -n "${redis_summary:-}" ]]; then
  echo "  redis:  ${redis_summary#hirefire run: }"
fi
