#!/usr/bin/env bash
# Builds the parser fuzzer with libFuzzer + AddressSanitizer and runs it for a bounded time.
#   Fuzz/run.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
export FASTERAPI_FUZZ=1
swift build --product HTTP1ParserFuzzer --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
mkdir -p .build-fuzz/corpus-http1
.build-fuzz/debug/HTTP1ParserFuzzer .build-fuzz/corpus-http1 Fuzz/Corpus/http1 -max_total_time="$seconds" -max_len=4096
