#!/usr/bin/env bash
# Builds the libFuzzer targets (our code instrumented for libFuzzer and AddressSanitizer by
# Package.swift when FASTERAPI_FUZZ is set) and runs each over its seed corpus
# (Fuzz/Corpus/<target>/) for a bounded time; new inputs go to .build-fuzz/corpus/<target>/,
# crashes to .build-fuzz/crashes/ (keep a fixed one in the corpus so the tests replay it).
#   Fuzz/run.sh [seconds per target] [target...]
# Targets: HTTP1ParserFuzzer (HTTP/1.1 and multipart parsers), FuzzFrames, FuzzPackets,
# FuzzTransportParameters (the QUIC parsers; their properties in Fuzz/Sources/QUICFuzzProperties).
# Replay one input: SWIFT_BACKTRACE=enable=no .build-fuzz/debug/FuzzFrames FILE
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
targets=("$@")
((${#targets[@]})) || targets=(HTTP1ParserFuzzer FuzzFrames FuzzPackets FuzzTransportParameters)
export FASTERAPI_FUZZ=1
# Swift's own crash backtracer trips AddressSanitizer and hides the stack; libFuzzer prints it.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
for target in "${targets[@]}"; do
  swift build --product "$target" --scratch-path .build-fuzz \
    2>&1 | { grep -v "Cannot export local symbol '__asan" || true; }
done
mkdir -p .build-fuzz/crashes
failed=()
for target in "${targets[@]}"; do
  mkdir -p ".build-fuzz/corpus/$target"
  echo "== $target: ${seconds}s over Fuzz/Corpus/$target"
  if ! ".build-fuzz/debug/$target" ".build-fuzz/corpus/$target" "Fuzz/Corpus/$target" -max_total_time="$seconds" -max_len=4096 \
    -artifact_prefix=".build-fuzz/crashes/$target-" -print_final_stats=1; then
    failed+=("$target")
  fi
done
if ((${#failed[@]})); then
  echo "failed: ${failed[*]} (inputs in .build-fuzz/crashes/)" >&2
  exit 1
fi
