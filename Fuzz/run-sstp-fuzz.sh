#!/usr/bin/env bash
# Builds the SSTP codec fuzzer (Fuzz/sstp_parse + Sources/SSTP/Wire) and the PPP parser/negotiation
# fuzzer (Fuzz/ppp_parse + Sources/PPP/{Wire,Negotiation} + the import-free Session files), each one
# module with libFuzzer + ASan, and runs each for a bounded time.
# Usage: Fuzz/run-sstp-fuzz.sh [seconds per target] [sstp_parse|ppp_parse|all] [extra libFuzzer flags…]
# Crashes land in .build/fuzz/<target>/crash-*; turn each into a regression test in
# Tests/SSTPTests or Tests/PPPTests.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
which="${2:-all}"
shift 2 || shift $# || true
extra=("$@")
swiftc="${SWIFTC:-/opt/swift/usr/bin/swiftc}"

seed() { printf '%s' "$3" | xxd -r -p > ".build/fuzz/$1/corpus/$2"; }

build_sstp() {
    local out=.build/fuzz/sstp_parse
    mkdir -p "$out/corpus"
    "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 \
        -module-name SSTPFuzz \
        Sources/SSTP/Wire/*.swift Fuzz/sstp_parse/*.swift \
        -o "$out/sstp_parse"
    # Seeds: the [MS-SSTP] §4.7 packets, a data packet with an LCP frame, an abort with STATUS_INFO,
    # and sstpc's HTTP hello.
    seed sstp_parse connect_request "10 01 00 0E 00 01 00 01 00 01 00 06 00 01"
    seed sstp_parse connect_ack "10 01 00 30 00 02 00 01 00 04 00 28 00 00 00 03 $(printf '%064d' 0)"
    seed sstp_parse call_connected "10 01 00 70 00 04 00 01 00 03 00 68 00 00 00 02 $(printf '%0192d' 0)"
    seed sstp_parse data_lcp "10 00 00 12 FF 03 C0 21 01 01 00 0A 01 04 05 78 05 06"
    seed sstp_parse abort "10 01 00 14 00 05 00 01 00 02 00 0C 00 00 00 03 00 00 00 04"
    printf 'SSTP_DUPLEX_POST /sra_{BA195980-CD49-458b-9E23-C84EE0ADCD75}/ HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\nSSTPCORRELATIONID: {x}\r\n\r\n\x10\x01\x00\x0e\x00\x01\x00\x01\x00\x01\x00\x06\x00\x01' > "$out/corpus/hello"
}

build_ppp() {
    local out=.build/fuzz/ppp_parse
    mkdir -p "$out/corpus"
    "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 \
        -module-name PPPFuzz \
        Sources/PPP/Wire/*.swift Sources/PPP/Negotiation/*.swift \
        Sources/PPP/Session/PPPFailure.swift Sources/PPP/Session/Environment.swift \
        Fuzz/ppp_parse/*.swift \
        -o "$out/ppp_parse"
    # Seeds: pppd's LCP Configure-Request (ACCM, magic, PFC, ACFC), an IPCP request for 0.0.0.0 with
    # DNS and VJ, a CHAP challenge, an echo request.
    seed ppp_parse lcp_request "FF 03 C0 21 01 01 00 14 02 06 00 00 00 00 05 06 12 34 56 78 07 02 08 02"
    seed ppp_parse ipcp_request "80 21 01 02 00 1C 02 06 00 2D 0F 01 03 06 00 00 00 00 81 06 00 00 00 00 83 06 00 00 00 00"
    seed ppp_parse chap_challenge "C2 23 01 05 00 19 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 76 70 6E 67 77"
    seed ppp_parse lcp_echo "C0 21 09 07 00 08 12 34 56 78"
    seed ppp_parse pfc_ipv4 "21 45 00 00 14"
}

run() {
    local name=$1
    local out=.build/fuzz/$name
    "$out/$name" -max_total_time="$seconds" -artifact_prefix="$out/" -print_final_stats=1 ${extra[@]+"${extra[@]}"} "$out/corpus"
}

case "$which" in
    sstp_parse) build_sstp; run sstp_parse ;;
    ppp_parse) build_ppp; run ppp_parse ;;
    all) build_sstp; build_ppp; run sstp_parse; run ppp_parse ;;
    *) echo "unknown target $which (sstp_parse, ppp_parse, all)" >&2; exit 2 ;;
esac
