#!/usr/bin/env bash
# Builds the TUN offload fuzzer (Fuzz/tcp_offload + Sources/DataPlane/TCPOffload.swift, one module,
# libFuzzer + ASan) and runs it for a bounded time. Usage: Fuzz/run-offload-fuzz.sh [seconds] [flags…]
# Crashes land in .build/fuzz/tcp_offload/crash-*; turn each into a regression test in Tests/DataPlaneTests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
swiftc="${SWIFTC:-/opt/swift/usr/bin/swiftc}"
out=.build/fuzz/tcp_offload
mkdir -p "$out/corpus"

"$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 \
    -module-name OffloadFuzz \
    Sources/DataPlane/TCPOffload.swift Fuzz/tcp_offload/*.swift \
    -o "$out/tcp_offload"

# Seed: a TSO super-packet header (NEEDS_CSUM, TCPv4, gso_size 1000) and an IPv4/TCP packet with
# a timestamp option and 3000 bytes of payload.
python3 - "$out/corpus/tso" <<'PY'
import struct, sys
payload = bytes(i * 7 & 0xff for i in range(3000))
tcp = struct.pack("!HHIIBBHHH", 40000, 5201, 1000, 77, 8 << 4, 0x18, 500, 0, 0) + bytes([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2])
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6, 0, bytes([10, 1, 0, 4]), bytes([10, 2, 0, 4]))
hdr = struct.pack("<BBHHHH", 1, 1, 52, 1000, 20, 16)
open(sys.argv[1], "wb").write(hdr + ip + tcp + payload)
PY

"$out/tcp_offload" -max_total_time="$seconds" -max_len=70000 -artifact_prefix="$out/" -print_final_stats=1 "$@" "$out/corpus"
