#!/usr/bin/env bash
# Builds the IKE parser fuzzer (Fuzz/ike_parse + Sources/IKE/Wire, one module, libFuzzer + ASan)
# and runs it for a bounded time. Usage: Fuzz/run-ike-fuzz.sh [seconds] [extra libFuzzer flags…]
# Crashes land in .build/fuzz/ike_parse/crash-*; turn each into a regression test in Tests/IKETests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
swiftc="${SWIFTC:-/opt/swift/usr/bin/swiftc}"
out=.build/fuzz/ike_parse
mkdir -p "$out/corpus"

"$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 \
    -module-name IKEFuzz \
    Sources/IKE/Wire/*.swift Fuzz/ike_parse/*.swift \
    -o "$out/ike_parse"

# Seeds: an IKE_SA_INIT request (RFC 7296 layout, strongSwan's payload order), an INFORMATIONAL
# with an SK payload (RFC 7634 Appendix B), and an inner IKE_AUTH chain.
seed() { printf '%s' "$2" | xxd -r -p > "$out/corpus/$1"; }
seed sa_init "1122334455667788 0000000000000000 21 20 22 08 00000000 000000d8
    22000030 0000002c01010004 0300000c0100000c800e0080 030000080300000c 0300000802000005 000000080400001f
    28000028001f0000 0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20
    29000024 a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf
    2900001c00004004 303132333435363738393a3b3c3d3e3f40414243
    2900001c00004005 505152535455565758595a5b5c5d5e5f60616263
    000000080000402e"
seed informational "c0c1c2c3c4c5c6c7d0d1d2d3d4d5d6d72e2025000000000900000045290000291011121314151617610394701f8d017f7c129248896b71bfe25236efd7cdc67066906315b2"
seed inner_auth "2327000c01000000c000020127000028020000004242424242424242424242424242424242424242424242424242424242424242"

"$out/ike_parse" -max_total_time="$seconds" -artifact_prefix="$out/" -print_final_stats=1 "$@" "$out/corpus"
