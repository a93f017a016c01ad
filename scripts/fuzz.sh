#!/usr/bin/env bash
# Runs one fuzz target for SECONDS seconds: scripts/fuzz.sh TARGET SECONDS
#   TARGET: frontend | context_ops | vm
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# The frontend and vm corpora are seeded from fixtures/ on first use. Findings land in
# fuzz/artifacts/TARGET/; each one fixed becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
corpus=corpus/$target
mkdir -p "$corpus"
if { [ "$target" = frontend ] || [ "$target" = vm ]; } && [ -z "$(ls -A "$corpus")" ]; then
    find ../fixtures -name '*.lox' -size -64k -exec cp {} "$corpus"/ \;
fi
dict=()
if [ "$target" = frontend ] || [ "$target" = vm ]; then dict=(-dict=lox.dict); fi
exec cargo +nightly fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=4096 "${dict[@]}"
