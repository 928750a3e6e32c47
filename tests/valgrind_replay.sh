#!/usr/bin/env bash
# The replay path under valgrind: no leak, no invalid access. Replays a
# generated JSON-lines file and the same events as an Avro container file
# (with invalid lines mixed in), with signals as JSON and as Avro.
set -euo pipefail
hirefire=${HIREFIRE:?HIREFIRE must name the hirefire binary}
src=${HF_SOURCE_DIR:?}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$hirefire" gen -q --seed 7 --customers 300 --events 3000 --output "$dir/events.jsonl"
"$hirefire" gen -q --seed 7 --customers 300 --events 3000 --format avro --output "$dir/events.avro"
{ head -n 1500 "$dir/events.jsonl"; echo 'not json'; echo '{"event_id":"x","type":"refund"}';
  tail -n +1501 "$dir/events.jsonl"; } > "$dir/mixed.jsonl"
vg=(valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99)
"${vg[@]}" "$hirefire" replay -q -i "$dir/mixed.jsonl" -c "$src/config/hirefire.properties" \
  -o "$dir/a.jsonl" -d "$dir/dl.jsonl" --advance-to 2025-12-31
"${vg[@]}" "$hirefire" replay -q -i "$dir/events.avro" -c "$src/config/hirefire.properties" \
  --output-format avro -o "$dir/b.avro"
"${vg[@]}" "$hirefire" replay -q -i - -o "$dir/c.jsonl" < "$dir/events.avro"
test "$(wc -l < "$dir/dl.jsonl")" -eq 2
test -s "$dir/a.jsonl" && test -s "$dir/b.avro" && test -s "$dir/c.jsonl"
echo "valgrind: replay path clean"
