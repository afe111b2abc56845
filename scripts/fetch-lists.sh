#!/usr/bin/env bash
# fetch-lists.sh - turn public threat feeds into mirrorguard list files
# (txt format: one entry a line, '#' comments), for lists.threat[] with the
# category that selects the finding type (see config/mirrorguard.example.yaml).
#
#   scripts/fetch-lists.sh [OUTDIR]        (default /etc/mirrorguard/lists)
#
# Run it by hand or from cron on a machine with internet access, then reload
# the sensor (SIGHUP). It is never run by the sensor: mirrorguard only reads
# the files. Each list is written to a temporary file and renamed into place
# only when it downloaded and holds at least one entry, so a failed fetch
# keeps the previous file.
#
#   file                    category   source
#   feodo-c2.txt            c2         abuse.ch Feodo Tracker botnet C2 IP blocklist
#   sslbl-c2.txt            c2         abuse.ch SSLBL botnet C2 IP blacklist
#   tor-relays.txt          tor        Tor Onionoo: running relays (Guard/Authority flags), "ip flags"
#   mining-pools.txt        mining     maltrail crypto_mining trail + NoCoin hosts (domains)
set -euo pipefail

OUT=${1:-/etc/mirrorguard/lists}
CURL=(curl -fsSL --max-time 120 --retry 2)
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# install NAME: move $tmp/NAME to $OUT/NAME if it has an entry.
install_list() {
    local name=$1
    if grep -qv '^[[:space:]]*\(#\|$\)' "$tmp/$name"; then
        mv "$tmp/$name" "$OUT/$name"
        echo "$OUT/$name: $(grep -cv '^[[:space:]]*\(#\|$\)' "$OUT/$name") entries"
    else
        echo "$name: no entries, previous file kept" >&2
    fi
}

fetch() {                       # fetch URL FILE: 0 or 1 (warned)
    if ! "${CURL[@]}" "$1" -o "$2"; then
        echo "fetch-lists: cannot download $1" >&2
        return 1
    fi
}

# abuse.ch Feodo Tracker: plain IPs with '#' comments.
if fetch https://feodotracker.abuse.ch/downloads/ipblocklist.txt "$tmp/feodo.raw"; then
    { echo "# abuse.ch Feodo Tracker, $(date -u +%FT%TZ)"; grep -Eo '^[0-9.]+' "$tmp/feodo.raw" || true; } \
        >"$tmp/feodo-c2.txt"
    install_list feodo-c2.txt
fi

# abuse.ch SSLBL botnet C2 IPs: CSV "Firstseen,DstIP,DstPort".
if fetch https://sslbl.abuse.ch/blacklist/sslipblacklist.csv "$tmp/sslbl.raw"; then
    { echo "# abuse.ch SSLBL, $(date -u +%FT%TZ)"
      grep -v '^#' "$tmp/sslbl.raw" | awk -F, 'NF >= 2 { print $2 }' | sort -u; } >"$tmp/sslbl-c2.txt"
    install_list sslbl-c2.txt
fi

# Tor relays from Onionoo: "ip flag flag ..." (the txt loader takes the first field).
if fetch 'https://onionoo.torproject.org/details?type=relay&running=true&fields=or_addresses,flags' \
        "$tmp/onionoo.json"; then
    { echo "# Tor relays (Onionoo), $(date -u +%FT%TZ)"
      python3 - "$tmp/onionoo.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1])).get("relays", []):
    flags = " ".join(r.get("flags", []))
    for a in r.get("or_addresses", []):
        host = a.rsplit(":", 1)[0].strip("[]")
        print(host, flags)
PY
    } >"$tmp/tor-relays.txt"
    install_list tor-relays.txt
fi

# Mining pools: maltrail's trail (domains/IPs, '#' comments) and the NoCoin
# host list ("0.0.0.0 host" or bare names).
: >"$tmp/mining.raw"
# shellcheck disable=SC2015  # "fetch && append || true": a failed source is skipped
fetch https://raw.githubusercontent.com/stamparm/maltrail/master/trails/static/suspicious/crypto_mining.txt \
    "$tmp/maltrail.raw" && grep -v '^#' "$tmp/maltrail.raw" >>"$tmp/mining.raw" || true
# shellcheck disable=SC2015
fetch https://raw.githubusercontent.com/hoshsadiq/adblock-nocoin-list/master/hosts.txt \
    "$tmp/nocoin.raw" && awk '!/^#/ && NF >= 2 { print $2 } !/^#/ && NF == 1 { print $1 }' \
    "$tmp/nocoin.raw" >>"$tmp/mining.raw" || true
{ echo "# mining pools (maltrail, NoCoin), $(date -u +%FT%TZ)"
  grep -v '^[[:space:]]*$' "$tmp/mining.raw" | grep -v '^0\.0\.0\.0$' | sort -u; } >"$tmp/mining-pools.txt"
install_list mining-pools.txt
