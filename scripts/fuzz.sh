#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS - build the libFuzzer targets with clang (ASan+UBSan)
# and run each for SECONDS, starting from the seed corpora in tests/fuzz/corpus/
# (plus, for the decoder, frames cut from the project's own captures in pcaps/).
# New inputs that raise coverage are kept in build-fuzz/corpus-<target>/, so a
# later run starts where this one stopped. A crash stops the run with exit 1
# and leaves the reproducer in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out"
CC=${FUZZ_CC:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=gnu11 -Idecoders -Icapture -Iconfig"

build() {   # name sources...
    local name=$1; shift
    $CC $FLAGS -o "$out/$name" "$@"
}
build fuzz_decode tests/fuzz/fuzz_decode.c decoders/dec.c decoders/flow.c decoders/dns.c decoders/dns_tcp.c decoders/dns_txn.c
build fuzz_dns tests/fuzz/fuzz_dns.c decoders/dns.c decoders/dns_tcp.c decoders/dns_txn.c
build fuzz_capfile tests/fuzz/fuzz_capfile.c capture/cap_file.c

# Decoder seeds: every frame of the project's own captures, prefixed with the
# link-type selector byte (0 = Ethernet).
seeds=$out/seeds-decode
if [ ! -d "$seeds" ]; then
    mkdir -p "$seeds"
    python3 scripts/pcap-frames.py --prefix 0 --max 400 "$seeds" pcaps/*/*.pcap* || true
fi

status=0
for t in fuzz_decode fuzz_dns fuzz_capfile; do
    corpus=$out/corpus-$t
    mkdir -p "$corpus"
    extra=()
    case $t in
        fuzz_decode) extra=("$seeds") ;;
        fuzz_dns) extra=(tests/fuzz/corpus/dns) ;;
        fuzz_capfile) extra=(tests/fuzz/corpus/capfile) ;;
    esac
    echo "== $t for ${secs}s"
    if ! "$out/$t" -max_total_time="$secs" -max_len=4096 -artifact_prefix="$out/$t-" \
            -print_final_stats=1 "$corpus" "${extra[@]}" 2>"$out/$t.log"; then
        echo "$t: FAILED, see $out/$t.log"; tail -30 "$out/$t.log"; status=1
    fi
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/$t.log" | sed "s/^/  $t /"
done
exit $status
