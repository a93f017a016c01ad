#!/usr/bin/env bash
# Whole-project throughput of `lexer_demo mem DIR`: 200 generated programs
# (300 to 2,000 lines each, 221,000 lines in all), measured with 1 and with
# 2 workers, alternating, best of RUNS; then a check that the per-file
# figures are the same whatever the number of workers (the regression gate
# at 0% tolerance between the two runs' JSON).
#   scripts/project_bench.sh [RUNS]        # default 5
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release -q -p lexer_demo --bin lexer_demo --example gen_lox
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for i in $(seq 1 200); do
    target/release/examples/gen_lox $((300 + (i * 37) % 1700)) "$i" > "$dir/f$i.lox"
done
best() { sort -n | head -1; }
for jobs in 1 2; do : > "$dir/t$jobs"; done
for _ in $(seq 1 "$runs"); do
    for jobs in 1 2; do
        start=$(date +%s%N)
        target/release/lexer_demo mem --jobs "$jobs" "$dir" > /dev/null
        echo $(( ($(date +%s%N) - start) / 1000 )) >> "$dir/t$jobs"
    done
done
one=$(best < "$dir/t1")
two=$(best < "$dir/t2")
echo "1 worker: ${one} us, 2 workers: ${two} us (whole process, best of $runs)"
awk -v a="$one" -v b="$two" 'BEGIN { printf "throughput, 2 workers against 1: %.2fx\n", a / b }'
target/release/lexer_demo mem --json --jobs 2 "$dir" > "$dir/two.json"
target/release/lexer_demo mem --baseline "$dir/two.json" --tolerance 0% --jobs 1 "$dir" | tail -1
