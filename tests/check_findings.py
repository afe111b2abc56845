#!/usr/bin/env python3
"""check_findings.py - compare the findings a replay published with the
expected ones.

  check_findings.py TRUTH_JSON FINDINGS_JSONL

FINDINGS_JSONL holds every published version of every finding (a new one,
then its updates); the last version of each id counts. TRUTH_JSON has
{"findings": [{"type", "local", "remote", "count"}]}: local is the
instance's IP, remote the other side's IP or, for DNS findings, the domain.
Also checks that every line is a GuardDuty-shaped finding (the fields
existing tooling reads) and that ids are stable (one id per key)."""
import json
import sys

REQUIRED = ["schemaVersion", "accountId", "region", "partition", "id", "arn", "type",
            "severity", "title", "description", "createdAt", "updatedAt", "resource", "service"]


def ip_of(d):
    return d.get("ipAddressV4") or d.get("ipAddressV6")


def key_of(f):
    act = f["service"]["action"]
    t = f["type"]
    if act["actionType"] == "DNS_REQUEST":
        nis = f["resource"]["instanceDetails"].get("networkInterfaces") or [{}]
        local = nis[0].get("privateIpAddress", "")
        return (t, local, act["dnsRequestAction"]["domain"])
    if act["actionType"] == "NETWORK_CONNECTION":
        n = act["networkConnectionAction"]
        return (t, ip_of(n["localIpDetails"]), ip_of(n["remoteIpDetails"]))
    # Port probes aggregate per instance (many probers in one finding): the
    # remote part of the key is the unspecified address.
    d = act["portProbeAction"]["portProbeDetails"][0]
    local = ip_of(d["localIpDetails"])
    return (t, local, "::" if ":" in local else "0.0.0.0")


def main():
    truth = json.load(open(sys.argv[1]))
    last = {}
    keys = {}
    bad = []
    for n, line in enumerate(open(sys.argv[2]), 1):
        f = json.loads(line)
        miss = [k for k in REQUIRED if k not in f]
        if miss:
            bad.append("line %d: missing %s" % (n, miss))
            continue
        if not (1.0 <= f["severity"] <= 10.0):
            bad.append("line %d: severity %r" % (n, f["severity"]))
        k = key_of(f)
        if keys.setdefault(k, f["id"]) != f["id"]:
            bad.append("two ids for %s" % (k,))
        last[f["id"]] = f
    got = {}
    for f in last.values():
        k = key_of(f)
        got[k] = got.get(k, 0) + f["service"]["count"]
    want = {(e["type"], e["local"], e["remote"]): e["count"] for e in truth["findings"]}
    for k, c in sorted(want.items()):
        if got.get(k) != c:
            bad.append("expected %s count %d, got %s" % (k, c, got.get(k)))
    for k in sorted(set(got) - set(want)):
        bad.append("unexpected finding %s count %d" % (k, got[k]))
    for b in bad:
        print("MISMATCH " + b)
    print("findings: %d expected, %d published ids, %d mismatches" % (len(want), len(last), len(bad)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
