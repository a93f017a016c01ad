#!/usr/bin/env bash
# Marginal instructions per operation for each alloc_ops mode, measured with
# callgrind between N=100,000 and N=200,000 (so set-up costs cancel out).
# Usage: scripts/alloc_ops.sh [MODE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
cargo build --release -q -p morph-runtime --example alloc_ops
bin=target/release/examples/alloc_ops
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(noop arena ctx-alloc ctx-pair pool-pair bump malloc-pair mimalloc-pair)
count() {
    local out
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" >/dev/null 2>&1
    grep -E '^(summary|totals):' "$out" | head -n 1 | awk '{print $2}'
    rm -f "$out"
}
printf '%-14s %s\n' mode instr/op
for m in "${modes[@]}"; do
    a=$(count "$m" 100000)
    b=$(count "$m" 200000)
    awk -v m="$m" -v a="$a" -v b="$b" 'BEGIN { printf "%-14s %.1f\n", m, (b - a) / 100000 }'
done
