#!/usr/bin/env bash
# Runs fuzz/decode_analyse_fuzzer (built by `make fuzz-build` into build-fuzz/).
#
#   fuzz/run.sh smoke SECONDS   # `make fuzz-smoke` (part of `make test`): one
#                               # process, stops and fails at the first finding
#   fuzz/run.sh long SECONDS    # `make fuzz`: every seed once, then fork mode
#                               # for SECONDS: keeps going after a finding
#
# Environment: FUZZ_BUILD (build-fuzz), LIKENESS_FACES_DIR (../shared/faces),
# LIKENESS_CORPORA (Debian bad-image corpora, see tools/corpora.sh; optional),
# LIKENESS_MODELS (the models the fuzzer loads).
# Seeds are remade in $FUZZ_BUILD/seeds-<mode> (fuzz/seeds.py); what the fuzzer
# finds goes to $FUZZ_BUILD/corpus (long runs; kept between runs),
# $FUZZ_BUILD/smoke-corpus (smoke; fresh each time), reproducers to
# $FUZZ_BUILD/artifacts/ (smoke: artifacts/smoke/), logs to
# $FUZZ_BUILD/fuzz-<mode>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:?usage: fuzz/run.sh smoke|long SECONDS}
seconds=${2:?usage: fuzz/run.sh smoke|long SECONDS}
build=${FUZZ_BUILD:-build-fuzz}
faces=${LIKENESS_FACES_DIR:-../shared/faces}
corpora=${LIKENESS_CORPORA:-}
bin=$build/decode_analyse_fuzzer
[ -x "$bin" ] || { echo "fuzz/run.sh: $bin is missing: run make fuzz-build" >&2; exit 2; }

seeds=$build/seeds-$mode
seed_args=("$seeds" "$faces" "$corpora")
[ "$mode" = smoke ] && seed_args+=(--smoke)
/usr/bin/python3 fuzz/seeds.py "${seed_args[@]}"
# Reproducers: $build/artifacts/ (long runs), $build/artifacts/smoke/.
artifacts=$build/artifacts
[ "$mode" = smoke ] && artifacts=$build/artifacts/smoke
mkdir -p "$artifacts" "$build/corpus"
log=$build/fuzz-$mode.log

# ASan: dedup_token_length lets fork mode tell findings apart by their top
# frames. LSan: fuzz/lsan.supp is where the system libraries' process-lifetime
# allocations would be listed (none needed so far). UBSan: stop at the first
# report, with its stack. The symbolizer is Debian's llvm-symbolizer.
export ASAN_OPTIONS=${ASAN_OPTIONS:-dedup_token_length=3}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:dedup_token_length=3}
command -v llvm-symbolizer >/dev/null || export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14

# -timeout: one input may take 10 s (long runs; a 4 MP scan with no face takes
# ~5 s under ASan on an idle core, so a slower one is a finding); the smoke
# run, which fails `make test` on any finding, allows 30 s so that a busy CI
# machine does not fail it.
timeout=10
[ "$mode" = smoke ] && timeout=30
common=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout="$timeout" -dict=fuzz/image.dict
  -artifact_prefix="$artifacts/" -print_final_stats=1)
start=$(date +%s)
stamp=$build/.fuzz-$mode-start
touch "$stamp"
set +e
if [ "$mode" = smoke ]; then
  # Fresh corpus from the smoke seeds: the run's length does not grow with
  # what earlier long runs collected.
  rm -rf "$build/smoke-corpus" && mkdir -p "$build/smoke-corpus"
  "$bin" "${common[@]}" "$build/smoke-corpus" "$seeds" >"$log" 2>&1
  rc=$?
else
  # -fork=1: one fuzzing process at a time (-jobs/-workers 1), restarted after
  # a crash, timeout or OOM so one finding does not end a long run. The jobs
  # run a copy of the binary: a rebuild meanwhile (make test) cannot swap it.
  cp "$bin" "$build/decode_analyse_fuzzer.long.new" && mv -f "$build/decode_analyse_fuzzer.long.new" "$build/decode_analyse_fuzzer.long"
  # Fork mode's first merge drops a seed that crashes without a word: run
  # every seed once first, in one process, so that such a seed is a finding.
  "$build/decode_analyse_fuzzer.long" -runs=0 -rss_limit_mb=2048 -timeout="$timeout" \
    -artifact_prefix="$artifacts/" "$seeds" >"$build/fuzz-seeds.log" 2>&1 ||
    echo "fuzz: a seed failed (log $build/fuzz-seeds.log); fuzzing on"
  "$build/decode_analyse_fuzzer.long" "${common[@]}" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    "$build/corpus" "$seeds" >"$log" 2>&1
  rc=$?
fi
elapsed=$(($(date +%s) - start))

# Summary from the log (set +e still: a grep that finds nothing is no error):
# executions, coverage (libFuzzer's counters on likeness's own code: OpenCV
# and libvips are not instrumented), corpus size, findings.
if [ "$mode" = smoke ]; then
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
else
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  execs=$(echo "$last" | sed -E 's/^#([0-9]+):.*/\1/')
fi
cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
found=$(find "$artifacts" -maxdepth 1 -type f -newer "$stamp" | sort)
for a in $found; do
  case $(basename "$a") in
    timeout-* | slow-unit-*)
      # Wall-clock limits: on a busy machine (a long run is niced) these may
      # be starvation. Time the input again alone.
      again=$("$bin" "$a" 2>&1 | grep -o 'Executed .* in [0-9]* ms' | grep -o '[0-9]* ms$')
      echo "finding: $a (again, alone: ${again:-crashed or timed out})" ;;
    *) echo "finding: $a" ;;
  esac
done
grep -hE 'ERROR:|runtime error:|^SUMMARY:' "$log" | sed -E 's/==[0-9]+==/==/' | sort | uniq -c | sort -rn | head -20
echo "fuzz-$mode: ${execs:-0} executions in ${elapsed} s (fuzzing limit ${seconds} s), coverage cov ${cov:-?} ft ${ft:-?}," \
  "corpus ${corp:-?} inputs, $(echo -n "$found" | grep -c .) finding(s); log $log"
if [ "$mode" = smoke ] && [ "$rc" -ne 0 ]; then
  if grep -q 'ERROR:' "$log"; then
    sed -n '/ERROR:/,/^SUMMARY:/p' "$log" | head -100 >&2
  else
    tail -20 "$log" >&2
  fi
  echo "fuzz-smoke: FAILED (libFuzzer exit $rc); reproduce with: $bin <artifact>" >&2
  exit 1
fi
exit 0
