#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS - build the libFuzzer targets with clang (ASan+UBSan)
# and run each for SECONDS, starting from the seed corpora in tests/fuzz/corpus/
# (plus, for the decoder, frames cut from the project's own captures in pcaps/
# and, when it is there, from the shared capture collection; those frames are
# cut into build-fuzz/ only and never enter the repository).
#
# New inputs that raise coverage are kept in build-fuzz/corpus-<target>/, so a
# later run starts where this one stopped. After each run the new inputs are
# merged (-merge=1) into tests/fuzz/corpus/<name>/ (decode, dns, capfile, lists, config, flow,
# dgamodel),
# capped at FUZZ_SAVE_MAX files of at most FUZZ_SAVE_BYTES bytes each, so the
# next run on a fresh clone starts from them; FUZZ_SAVE=0 turns that off. The
# merge counts edges only (-use_counters=0), which keeps the saved set small
# (about a hundred files) without losing an edge. Only
# inputs the fuzzer generated are saved: the seeds cut from shared captures
# are a read-only second corpus, and any saved decode input byte-identical to
# a frame of a shared capture is dropped.
#
# The reproducers in tests/fuzz/regress/<target>/ are run first: a fixed bug
# that comes back fails at once. SECONDS 0 runs them and every saved input
# once, without fuzzing (make test does, as fuzz-regress).
#
# A crash stops that target with exit 1 (the other targets still run) and
# leaves the reproducer in build-fuzz/<target>-crash-*.
#
# Environment: FUZZ_CC (clang), FUZZ_JOBS (targets run at once, default 1),
# FUZZ_TARGETS (which of them, default all seven, e.g. "fuzz_dgamodel fuzz_config"),
# FUZZ_SHARED_PCAPS (default ../shared/data/pcaps beside the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out"
CC=${FUZZ_CC:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -std=gnu11 -Idecoders -Icapture -Iconfig -Isensor"
save=${FUZZ_SAVE:-1}
save_max=${FUZZ_SAVE_MAX:-200}
save_bytes=${FUZZ_SAVE_BYTES:-2048}
shared=${FUZZ_SHARED_PCAPS:-../shared/data/pcaps}

build() {   # name sources...
    local name=$1; shift
    $CC $FLAGS -o "$out/$name" "$@"
}
build fuzz_decode tests/fuzz/fuzz_decode.c decoders/dec.c decoders/dispatch.c decoders/flow.c decoders/keysort.c decoders/dns.c decoders/dns_tcp.c decoders/dns_txn.c sensor/bigmem.c
build fuzz_flow tests/fuzz/fuzz_flow.c decoders/flow.c decoders/keysort.c sensor/bigmem.c
build fuzz_dns tests/fuzz/fuzz_dns.c decoders/dns.c decoders/dns_tcp.c decoders/dns_txn.c
build fuzz_capfile tests/fuzz/fuzz_capfile.c capture/cap_file.c sensor/bigmem.c
build fuzz_lists tests/fuzz/fuzz_lists.c detect/lists.c -Idetect -Iconfig
build fuzz_config tests/fuzz/fuzz_config.c config/cfg.c config/cfg_yaml.c -lyaml
build fuzz_dgamodel tests/fuzz/fuzz_dgamodel.c detect/dga.c detect/domain.c sensor/bigmem.c -Idetect -lm -lpsl -lpthread

# Decoder seeds: every frame of the project's own captures, prefixed with the
# link-type selector byte of fuzz_decode.c.
seeds=$out/seeds-decode
if [ ! -d "$seeds" ] && [ "$secs" != 0 ]; then
    mkdir -p "$seeds"
    python3 tests/fuzz/frames.py --max 2000 --max-per-file 400 "$seeds" pcaps/*/*.pcap* || true
fi
# ... and of the shared captures (VXLAN, GENEVE, VLAN, IPv6, DNS, ...), when
# they are there. The sha1 of every shared frame is kept so that no saved
# input can be one of them.
sseeds=$out/seeds-decode-shared
shash=$out/shared-frames.sha1
if [ -d "$shared" ] && [ ! -d "$sseeds" ] && [ "$secs" != 0 ]; then
    mapfile -t caps < <(find "$shared" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort)
    if [ ${#caps[@]} -gt 0 ]; then
        python3 tests/fuzz/frames.py --max 4000 --max-per-file 150 --hashes "$shash" \
            "$sseeds" "${caps[@]}" || true
    fi
fi

# name of the saved corpus of a target
corpus_name() { echo "${1#fuzz_}"; }

# Merge the new inputs of target $1 into tests/fuzz/corpus/<name>/, capped.
save_corpus() {
    local t=$1 name dest cand before f sz n
    name=$(corpus_name "$t")
    dest=tests/fuzz/corpus/$name
    mkdir -p "$dest"
    cand=$(mktemp -d "$out/cand-$t.XXXXXX")
    # Candidates: generated inputs that are small enough.
    find "$out/corpus-$t" -maxdepth 1 -type f -size -$((save_bytes + 1))c -exec cp -t "$cand" {} +
    before=$(mktemp "$out/before.XXXXXX")
    ls "$dest" | sort > "$before"
    "$out/$t" -merge=1 -use_counters=0 -max_len="$save_bytes" "$dest" "$cand" >"$out/$t.merge.log" 2>&1 || {
        echo "  $t: merge failed, see $out/$t.merge.log"; rm -rf "$cand" "$before"; return 0; }
    rm -rf "$cand"
    # Never keep a frame of a shared capture (the selector byte aside).
    if [ "$t" = fuzz_decode ] && [ -s "$shash" ]; then
        python3 - "$dest" "$shash" <<'EOF'
import hashlib, os, sys
d, hf = sys.argv[1], sys.argv[2]
bad = set(l.strip() for l in open(hf))
for n in os.listdir(d):
    p = os.path.join(d, n)
    b = open(p, 'rb').read()
    if hashlib.sha1(b[1:]).hexdigest() in bad or hashlib.sha1(b).hexdigest() in bad:
        os.unlink(p)
        print('  dropped %s: a frame of a shared capture' % n)
EOF
    fi
    # Cap: drop the largest of the files this merge added until at most
    # save_max remain (the hand-written seeds are never dropped).
    n=$(ls "$dest" | wc -l)
    if [ "$n" -gt "$save_max" ]; then
        ls "$dest" | sort | comm -13 "$before" - | while read -r f; do
            printf '%s %s\n' "$(stat -c %s "$dest/$f")" "$f"
        done | sort -n -r | head -n $((n - save_max)) | while read -r sz f; do
            rm -f "$dest/$f"
        done || true
    fi
    echo "  $t: saved corpus $dest: $(ls "$dest" | sort | comm -13 "$before" - | wc -l) new, $(ls "$dest" | wc -l) files"
    rm -f "$before"
}

run_target() {   # target: run, report, save
    local t=$1 corpus=$out/corpus-$1 rc=0
    local extra=() opts=() maxlen=4096
    mkdir -p "$corpus"
    case $t in
        fuzz_decode)
            extra=("$seeds")
            [ -d "$sseeds" ] && extra+=("$sseeds")
            [ -d tests/fuzz/corpus/decode ] && extra+=(tests/fuzz/corpus/decode)
            opts=(-dict=tests/fuzz/decode.dict) ;;
        fuzz_dns) extra=(tests/fuzz/corpus/dns) ;;
        fuzz_flow) extra=(tests/fuzz/corpus/flow); maxlen=16384 ;;
        fuzz_capfile) extra=(tests/fuzz/corpus/capfile) ;;
        fuzz_lists) extra=(tests/fuzz/corpus/lists) ;;
        fuzz_config) extra=(tests/fuzz/corpus/config); maxlen=8192 ;;
        fuzz_dgamodel) extra=(tests/fuzz/corpus/dgamodel); maxlen=32768 ;;
    esac
    "$out/$t" -max_total_time="$secs" -max_len="$maxlen" -artifact_prefix="$out/$t-" \
        -print_final_stats=1 "${opts[@]}" "$corpus" "${extra[@]}" 2>"$out/$t.log" || rc=$?
    {
        echo "== $t for ${secs}s"
        if [ $rc -ne 0 ]; then
            echo "$t: FAILED, see $out/$t.log"; tail -30 "$out/$t.log"
        fi
        grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb' "$out/$t.log" | sed "s/^/  $t /" || true
        grep -E '^#[0-9]+.*cov: ' "$out/$t.log" | tail -1 | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [^ ]+).*/  '"$t"' \1/' || true
        if [ "$save" = 1 ]; then save_corpus "$t"; fi
    } >"$out/$t.summary"
    return $rc
}

TARGETS=${FUZZ_TARGETS:-"fuzz_decode fuzz_dns fuzz_capfile fuzz_lists fuzz_config fuzz_dgamodel fuzz_flow"}

# Regression reproducers: each must run clean.
status=0
for t in $TARGETS; do
    d=tests/fuzz/regress/$t
    if [ -d "$d" ] && [ -n "$(ls -A "$d")" ]; then
        if ! "$out/$t" -artifact_prefix="$out/$t-regress-" "$d"/* >"$out/$t.regress.log" 2>&1; then
            echo "$t: a regression reproducer in $d fails, see $out/$t.regress.log"
            tail -30 "$out/$t.regress.log"; status=1
        fi
    fi
done

# SECONDS 0 (make test's fuzz-regress): no fuzzing; every saved input of each
# target's corpus in tests/fuzz/corpus/ is run once (-runs=0), so a change that
# makes any of them crash, leak or trip a check fails the tests.
if [ "$secs" = 0 ]; then
    for t in $TARGETS; do
        d=tests/fuzz/corpus/$(corpus_name "$t")
        [ -d "$d" ] || continue
        if "$out/$t" -runs=0 -max_len=65536 -artifact_prefix="$out/$t-corpus-" "$d" >"$out/$t.corpus.log" 2>&1; then
            echo "  $t: $(ls "$d" | wc -l) saved inputs ran clean"
        else
            echo "$t: a saved input in $d fails, see $out/$t.corpus.log"
            tail -30 "$out/$t.corpus.log"; status=1
        fi
    done
    exit $status
fi

jobs=${FUZZ_JOBS:-1}
pids=()
for t in $TARGETS; do
    if [ "$jobs" -le 1 ]; then
        run_target "$t" || status=1
        cat "$out/$t.summary"
    else
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
        run_target "$t" & pids+=($!)
    fi
done
if [ "$jobs" -gt 1 ]; then
    for p in "${pids[@]}"; do wait "$p" || status=1; done
    for t in $TARGETS; do cat "$out/$t.summary"; done
fi
exit $status
