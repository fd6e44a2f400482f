#!/usr/bin/env bash
# Builds the ESP decapsulation fuzzer (Fuzz/esp_open + Sources/ESP, one module, libFuzzer + ASan)
# and runs it for a bounded time. Usage: Fuzz/run-esp-fuzz.sh [seconds] [extra libFuzzer flags…]
# Crashes land in .build/fuzz/esp_open/crash-*; turn each into a regression test in Tests/ESPTests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
swiftc="${SWIFTC:-/opt/swift/usr/bin/swiftc}"
out=.build/fuzz/esp_open
mkdir -p "$out/corpus"

"$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name ESPFuzz -I Sources/COpenSSL \
    Sources/ESP/*.swift Fuzz/esp_open/*.swift \
    -lcrypto -o "$out/esp_open"

# Seeds: one input per suite and mode, so coverage starts past the suite/mode dispatch.
for suite in $(seq 0 12); do
    for mode in 0 4 8 17 21 41; do
        printf "\\x$(printf %02x "$suite")\\x$(printf %02x "$mode")E\x00\x00\x14\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x01\x02\x02\x04" \
            > "$out/corpus/seed-$suite-$mode"
    done
done

"$out/esp_open" -max_total_time="$seconds" -artifact_prefix="$out/" -print_final_stats=1 "$@" "$out/corpus"
