#!/usr/bin/env bash
# Runs every program of fixtures/bench/ with `lexer_demo run` on both
# engines (the tree-walker and the VM) and both backends (morph and heap),
# and, when CLOX=/path/to/clox is set, with the C reference implementation:
# the best wall time of N runs, the process heap peak (from the counting
# allocator) and, where /usr/bin/time exists, the peak resident set. Checks
# that every engine and backend prints the same thing (the C reference
# formats numbers differently, so its output is not compared).
#
#   scripts/run_bench.sh                    # 5 runs each
#   scripts/run_bench.sh 1                  # one run each (what CI does)
#   CLOX=/tmp/clox/clox scripts/run_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release -q -p lexer_demo
bin=target/release/lexer_demo
have_time=0
[ -x /usr/bin/time ] && have_time=1

# best_of CMD...: runs CMD $runs times; sets t_best (seconds) and rss (KB).
best_of() {
  t_best="" rss="-"
  for _ in $(seq "$runs"); do
    local start end t
    start=$(date +%s.%N)
    if [ $have_time = 1 ]; then
      /usr/bin/time -f '%M' -o /tmp/run_bench_rss "$@" >/tmp/run_bench_out 2>/tmp/run_bench_err
      local r
      r=$(tail -n 1 /tmp/run_bench_rss)
      if [ "$rss" = "-" ] || [ "$r" -gt "$rss" ]; then rss=$r; fi
    else
      "$@" >/tmp/run_bench_out 2>/tmp/run_bench_err
    fi
    end=$(date +%s.%N)
    t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
    if [ -z "$t_best" ] || awk "BEGIN{exit !($t < $t_best)}"; then t_best=$t; fi
  done
}

printf '%-14s %-10s %-6s %9s %10s\n' program engine backend "best s" "max RSS KB"
for prog in fixtures/bench/*.lox; do
  name=$(basename "$prog" .lox)
  first=""
  for engine in tree vm; do
    for backend in morph heap; do
      best_of "$bin" run --engine "$engine" --backend "$backend" "$prog"
      printf '%-14s %-10s %-6s %9.3f %10s\n' "$name" "$engine" "$backend" "$t_best" "$rss"
      if [ -z "$first" ]; then
        cp /tmp/run_bench_out /tmp/run_bench_first
        first=1
      elif ! cmp -s /tmp/run_bench_out /tmp/run_bench_first; then
        echo "$name: $engine on $backend printed something else than the tree-walker on morph" >&2
        exit 1
      fi
    done
  done
  if [ -n "${CLOX:-}" ]; then
    best_of "$CLOX" "$prog"
    printf '%-14s %-10s %-6s %9.3f %10s\n' "$name" "C ref" "-" "$t_best" "$rss"
  fi
done
