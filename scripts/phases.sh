#!/usr/bin/env bash
# The phase workload (runtime/examples/phases.rs) on a context, mimalloc and
# glibc, each in its own process, for both variants: the resident set after
# each phase, and the context's reserved bytes.
#   scripts/phases.sh              # both variants
#   scripts/phases.sh scattered    # one
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p morph-runtime --example phases
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(contiguous scattered)
for v in "${variants[@]}"; do
    for a in ctx mimalloc glibc; do
        target/release/examples/phases "$a" "$v"
        echo
    done
done
