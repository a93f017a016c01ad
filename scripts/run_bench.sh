#!/usr/bin/env bash
# Runs every program of fixtures/bench/ with the morph and heap backends of
# `lexer_demo run`, side by side: the best wall time of N runs, the process
# heap peak (from the counting allocator) and, where /usr/bin/time exists,
# the peak resident set. Checks that both backends print the same thing.
#
#   scripts/run_bench.sh        # 5 runs each
#   scripts/run_bench.sh 1      # one run each (what CI does)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release -q -p lexer_demo
bin=target/release/lexer_demo
have_time=0
[ -x /usr/bin/time ] && have_time=1

printf '%-16s %-6s %9s %12s %10s\n' program backend "best s" "heap peak B" "max RSS KB"
for prog in fixtures/bench/*.lox; do
  name=$(basename "$prog" .lox)
  declare -A best=()
  for backend in morph heap; do
    t_best="" peak="" rss=""
    for _ in $(seq "$runs"); do
      if [ $have_time = 1 ]; then
        /usr/bin/time -f '%M' -o /tmp/run_bench_rss "$bin" run --stats --json --backend "$backend" "$prog" \
          >/tmp/run_bench_out_$backend 2>/tmp/run_bench_stats
        r=$(tail -n 1 /tmp/run_bench_rss)
        [ -z "$rss" ] || [ "$r" -gt "$rss" ] && rss=$r
      else
        "$bin" run --stats --json --backend "$backend" "$prog" >/tmp/run_bench_out_$backend 2>/tmp/run_bench_stats
        rss="-"
      fi
      line=$(grep '^{' /tmp/run_bench_stats)
      s=$(sed -E 's/.*"seconds":([0-9.e-]+).*/\1/' <<<"$line")
      p=$(sed -E 's/.*"process_heap_peak_bytes":([0-9]+).*/\1/' <<<"$line")
      if [ -z "$t_best" ] || awk "BEGIN{exit !($s < $t_best)}"; then t_best=$s; fi
      peak=$p
    done
    best[$backend]=$t_best
    printf '%-16s %-6s %9.3f %12s %10s\n' "$name" "$backend" "$t_best" "$peak" "$rss"
  done
  if ! cmp -s /tmp/run_bench_out_morph /tmp/run_bench_out_heap; then
    echo "$name: the backends printed different output" >&2
    exit 1
  fi
  awk -v n="$name" -v m="${best[morph]}" -v h="${best[heap]}" \
    'BEGIN { printf "%-16s heap/morph time: %.2fx\n", n, h / m }'
  unset best
done
