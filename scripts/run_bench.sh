#!/usr/bin/env bash
# Runs every program of fixtures/bench/ on the VM: the lean `lox` binary
# (objects in a MorphContext), `lexer_demo run` on the morph backend and on
# the heap backend (one system allocation per object), and, when
# CLOX=/path/to/clox is set, the C reference implementation. Runs are
# alternating (one of each command, RUNS times); each figure is the best:
# the least wall time and the least peak resident set (from /usr/bin/time).
# Checks that our three commands print the same thing (the C reference
# formats numbers differently, so its output is not compared), then prints
# the ratios and their geometric means.
#
# `lox` is linked static-pie where the C library's static archive exists,
# so that it maps only the parts of the C library it uses; otherwise it is
# linked as usual (the table says which).
#
#   scripts/run_bench.sh                    # 5 runs each
#   scripts/run_bench.sh 1                  # one run each (what CI does)
#   CLOX=/tmp/clox/clox scripts/run_bench.sh 7
#   BENCH_DIR=/some/dir COMPARE=0 scripts/run_bench.sh 3
#                                           # other programs; COMPARE=0 for
#                                           # ones that print times
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release -q -p lexer_demo --bin lexer_demo
linked=static
if ! cargo rustc --release -q -p lexer_demo --bin lox -- -C target-feature=+crt-static 2>/dev/null; then
  linked=dynamic
  cargo build --release -q -p lexer_demo --bin lox
fi
bin=target/release/lexer_demo
lox=target/release/lox
have_time=0
[ -x /usr/bin/time ] && have_time=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# once NAME CMD...: runs CMD once; keeps the best time and RSS under NAME.
declare -A t_best rss_best
once() {
  local name=$1
  shift
  local start end t r=0
  start=$(date +%s.%N)
  if [ $have_time = 1 ]; then
    /usr/bin/time -f '%M' -o "$tmp/rss" "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" || true
    r=$(tail -n 1 "$tmp/rss")
  else
    "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" || true
  fi
  end=$(date +%s.%N)
  t=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
  if [ -z "${t_best[$name]:-}" ] || awk "BEGIN{exit !($t < ${t_best[$name]})}"; then
    t_best[$name]=$t
  fi
  if [ -z "${rss_best[$name]:-}" ] || [ "$r" -lt "${rss_best[$name]}" ]; then
    rss_best[$name]=$r
  fi
}

# addlog SUM RATIO: SUM + ln(RATIO); a ratio not measured ("-") adds nothing.
addlog() { awk -v g="$1" -v r="$2" 'BEGIN { if (r == "-") print g; else print g + log(r) }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

echo "lox: linked $linked; best of $runs alternating runs; times in s, peak RSS in KB"
header="program        lox s  lox KB  morph s  heap s  morph KB  heap KB  heap/morph t  heap/morph KB"
[ -n "${CLOX:-}" ] && header="$header  clox s  clox KB  lox/clox t  morph/clox t  lox/clox KB"
echo "$header"
gm_t=0 gm_rt=0 gm_m=0 gm_ht=0 gm_hm=0 n=0
for prog in "${BENCH_DIR:-fixtures/bench}"/*.lox; do
  name=$(basename "$prog" .lox)
  t_best=() rss_best=()
  for _ in $(seq "$runs"); do
    once lox "$lox" "$prog"
    once morph "$bin" run "$prog"
    once heap "$bin" run --backend heap "$prog"
    [ -n "${CLOX:-}" ] && once clox "$CLOX" "$prog"
  done
  for other in morph heap; do
    [ "${COMPARE:-1}" = 0 ] && break
    if ! cmp -s "$tmp/out.lox" "$tmp/out.$other" || ! cmp -s "$tmp/err.lox" "$tmp/err.$other"; then
      echo "$name: $other printed something else than lox" >&2
      exit 1
    fi
  done
  ht=$(ratio "${t_best[heap]}" "${t_best[morph]}")
  hm=$(ratio "${rss_best[heap]}" "${rss_best[morph]}")
  line=$(printf '%-14s %6.3f %7s %8.3f %7.3f %9s %8s %13s %14s' "$name" \
    "${t_best[lox]}" "${rss_best[lox]}" "${t_best[morph]}" "${t_best[heap]}" \
    "${rss_best[morph]}" "${rss_best[heap]}" "$ht" "$hm")
  gm_ht=$(addlog "$gm_ht" "$ht")
  gm_hm=$(addlog "$gm_hm" "$hm")
  if [ -n "${CLOX:-}" ]; then
    ct=$(ratio "${t_best[lox]}" "${t_best[clox]}")
    rt=$(ratio "${t_best[morph]}" "${t_best[clox]}")
    cm=$(ratio "${rss_best[lox]}" "${rss_best[clox]}")
    line=$(printf '%s %7.3f %8s %11s %13s %12s' "$line" "${t_best[clox]}" "${rss_best[clox]}" "$ct" "$rt" "$cm")
    gm_t=$(addlog "$gm_t" "$ct")
    gm_rt=$(addlog "$gm_rt" "$rt")
    gm_m=$(addlog "$gm_m" "$cm")
  fi
  n=$((n + 1))
  echo "$line"
done
geo() { awk -v g="$1" -v n="$n" 'BEGIN { printf "%.2f", exp(g / n) }'; }
echo "geometric mean heap/morph: time $(geo "$gm_ht"), peak RSS $(geo "$gm_hm")"
if [ -n "${CLOX:-}" ]; then
  echo "geometric mean lox/clox: time $(geo "$gm_t"), peak RSS $(geo "$gm_m"); morph/clox time $(geo "$gm_rt")"
fi
