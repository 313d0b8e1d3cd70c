#!/usr/bin/env bash
# Benchmark of issue #8: upload of a 1 GiB asset to a local sink.
#
#   Goal: peak RSS of otactl <= 32 MiB; wall time <= 1.11x that of `curl -T FILE` to the
#   same endpoint, in one paired run.
#
#   bash benches/upload.sh [--rounds N] [--warmup N] [--curl-only]
#
#   --rounds N    paired rounds (default 5); round i runs curl then otactl when i is
#                 odd, otactl then curl when i is even
#   --warmup N    untimed rounds first (default 1)
#   --curl-only   no build and no otactl: curl against the sink alone (checks the sink)
#   env SIZE      bytes of the asset (default 1073741824; e.g. SIZE=67108864 to try the
#                 script); the file is benches/data/upload-1g.bin for 1 GiB, else
#                 benches/data/upload-SIZE.bin, random bytes, made once
#   env OTACTL    an otactl binary to use instead of building target/release/otactl
#
# Each round starts a fresh benches/github_sink.py (standard-library Python: a minimal
# GitHub releases API + upload sink on 127.0.0.1, which reads bodies in 1 MiB chunks and
# throws them away) and runs, each under `/usr/bin/time -f '%e %M'`:
#
#   curl -sS -T FILE http://127.0.0.1:PORT/sink/NAME -o /dev/null
#   otactl publish github FILE --tag vROUND --repo o/r --api-url http://127.0.0.1:PORT
#                                                          (GH_TOKEN=bench-token)
#
# The otactl figure is the whole command: find the release, create it, list its assets,
# upload, publish (PATCH), re-read; that is what a user waits for. The sink also logs
# the seconds from the first to the last byte of each body it receives: the upload
# alone, for both. Before the rounds, a sender that hands the file to the kernel
# (socket.sendfile) measures what the sink takes at most. Wall times are taken with
# nanosecond clocks around /usr/bin/time (its %e has 10 ms steps) and kept beside %e.
#
# What it expects of `otactl publish github` (else the round stops with its stderr):
# `publish github --help` exits 0; with GH_TOKEN set (GITHUB_TOKEN unset) and an empty
# otactl.toml in its working directory it runs the flow of the contract against the
# sink over plain http on 127.0.0.1, exits 0, prints exactly the asset's
# browser_download_url (http://127.0.0.1:PORT/o/r/releases/download/vN/NAME) on stdout,
# and the sink sees one upload of the whole file. The sink answers "digest": null and
# keeps no bytes (a download through the asset API gets 404).
#
# On a 2-core VM the loopback itself tops out near 1.5 GB/s (a C receiver does no
# better than the sink), and curl -T reaches about that: the ratio compares otactl with
# what the machine can carry.
#
# Results: the table is printed and appended to benches/data/upload.md (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '7,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
ROUNDS=5
WARMUP=1
CURL_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) [ $# -ge 2 ] || usage; ROUNDS="$2"; shift 2 ;;
        --warmup) [ $# -ge 2 ] || usage; WARMUP="$2"; shift 2 ;;
        --curl-only) CURL_ONLY=1; shift ;;
        -h | --help) usage ;;
        *) echo "upload.sh: unknown argument \`$1\`" >&2; usage ;;
    esac
done
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "upload.sh: --rounds takes a number >= 1, not \`$ROUNDS\`" >&2; exit 2 ;; esac
case "$WARMUP" in '' | *[!0-9]*) echo "upload.sh: --warmup takes a number >= 0, not \`$WARMUP\`" >&2; exit 2 ;; esac
SIZE="${SIZE:-1073741824}"
case "$SIZE" in '' | *[!0-9]* | 0) echo "upload.sh: SIZE takes a number of bytes >= 1, not \`$SIZE\`" >&2; exit 2 ;; esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() { # PACKAGE
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; then
        as_root apt-get update -qq >/dev/null
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
    fi
}
command -v curl >/dev/null 2>&1 || { echo "upload.sh: installing curl" >&2; apt_install curl; }
[ -x /usr/bin/time ] || { echo "upload.sh: installing time" >&2; apt_install time; }

say() { printf '\n== %s\n' "$*" >&2; }
data="$PWD/benches/data"
mkdir -p "$data"
md="$data/upload.md"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/otactl-upload.XXXXXX")
sink_pid=
cleanup() {
    if [ -n "$sink_pid" ]; then kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ------------------------------------------------------------------ the file
if [ "$SIZE" = 1073741824 ]; then file="$data/upload-1g.bin"; else file="$data/upload-$SIZE.bin"; fi
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" != "$SIZE" ]; then
    say "making $file ($SIZE random bytes)"
    head -c "$SIZE" /dev/urandom >"$file.part"
    mv "$file.part" "$file"
fi
name=$(basename "$file")
cat "$file" >/dev/null # in the page cache for both, from the start

# ------------------------------------------------------------------ otactl
otactl=
if [ "$CURL_ONLY" = 0 ]; then
    if [ -n "${OTACTL:-}" ]; then
        otactl="$OTACTL"
    else
        say "build"
        cargo build --release --locked --quiet
        otactl="$PWD/target/release/otactl"
    fi
    [ -x "$otactl" ] || { echo "upload.sh: \`$otactl\` is not an executable file (set OTACTL, or let the script build)" >&2; exit 2; }
    if ! "$otactl" publish github --help >/dev/null 2>&1; then
        echo "upload.sh: \`$otactl publish github --help\` fails: this otactl has no \`publish github\` (issue #8); run with --curl-only to check the sink alone" >&2
        exit 2
    fi
    otactl=$(cd "$(dirname "$otactl")" && pwd)/$(basename "$otactl")
fi
work="$tmp/work" # otactl runs here: an empty channel repository, no git remote to guess from
mkdir -p "$work"
: >"$work/otactl.toml"

# ------------------------------------------------------------------ the sink
say "sink self-test"
python3 benches/github_sink.py --self-test 2>"$tmp/selftest.err" || { cat "$tmp/selftest.err" >&2; echo "upload.sh: github_sink.py --self-test failed" >&2; exit 1; }
tail -n1 "$tmp/selftest.err" >&2

start_sink() { # LOG → sets sink_pid and port
    rm -f "$tmp/port"
    python3 benches/github_sink.py --port-file "$tmp/port" --log "$1" --idle-exit 300 >/dev/null 2>>"$tmp/sink.err" &
    sink_pid=$!
    local i
    for i in $(seq 1 200); do
        [ -s "$tmp/port" ] && break
        kill -0 "$sink_pid" 2>/dev/null || { cat "$tmp/sink.err" >&2; echo "upload.sh: the sink did not start" >&2; exit 1; }
        sleep 0.05
    done
    [ -s "$tmp/port" ] || { echo "upload.sh: the sink wrote no port in 10 s" >&2; exit 1; }
    port=$(cat "$tmp/port")
}
stop_sink() {
    kill "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
    sink_pid=
}

# timed LABEL COMMAND...: runs it under /usr/bin/time; appends "LABEL ns %e %M rc" to runs.
timed() {
    local label="$1" t0 t1 rc=0
    shift
    t0=$(date +%s%N)
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    t1=$(date +%s%N)
    echo "$label $((t1 - t0)) $(tail -n1 "$tmp/time") $rc" >>"$tmp/runs"
    return "$rc"
}

run_curl() { # ROUND LOG
    local url="http://127.0.0.1:$port/sink/$name"
    if ! timed "curl $1" curl -sS -T "$file" "$url" -o /dev/null; then
        cat "$tmp/err" >&2; echo "upload.sh: round $1: curl -T failed" >&2; exit 1
    fi
}

run_otactl() { # ROUND LOG
    local tag="v$1" rc=0
    ( cd "$work" && timed "otactl $1" env -u GITHUB_TOKEN GH_TOKEN=bench-token "$otactl" publish github "$file" --tag "$tag" --repo o/r --api-url "http://127.0.0.1:$port" ) || rc=$?
    local want="http://127.0.0.1:$port/o/r/releases/download/$tag/$name"
    if [ "$rc" != 0 ] || [ "$(cat "$tmp/out")" != "$want" ]; then
        echo "upload.sh: round $1: otactl publish github exited $rc; stdout \`$(head -c 300 "$tmp/out")\` (want \`$want\`); stderr:" >&2
        tail -n 20 "$tmp/err" >&2
        exit 1
    fi
    local n
    n=$(python3 -c 'import json,sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["path"].startswith("/uploads/") and json.loads(l)["bytes"] == int(sys.argv[2])))' "$2" "$SIZE")
    [ "$n" = 1 ] || { echo "upload.sh: round $1: the sink saw $n uploads of $SIZE bytes from otactl, not 1" >&2; exit 1; }
}

# ------------------------------------------------------------------ the machine
say "machine"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
machine="machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM; $(uname -sr); $(curl --version | head -1 | cut -d' ' -f1-2); $(python3 --version 2>&1); load average before: $load_before"
echo "$machine" >&2

# ------------------------------------------------------ the sink's ceiling
# A sender that costs next to nothing (the kernel copies the file from the page cache):
# what the sink takes at most, so that it is known not to be the limit.
say "sink ceiling: socket.sendfile of $name to the sink, 3 times"
: >"$tmp/probe.jsonl"
start_sink "$tmp/probe.jsonl"
python3 - "$port" "$file" <<'PY' >&2
import os, socket, sys, time
port, path = int(sys.argv[1]), sys.argv[2]
size = os.path.getsize(path)
for _ in range(3):
    with socket.create_connection(("127.0.0.1", port)) as s, open(path, "rb") as f:
        t0 = time.monotonic()
        s.sendall(b"PUT /sink/probe.bin HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
        s.sendfile(f)
        answer = s.recv(4096)
        t1 = time.monotonic()
        assert answer.startswith(b"HTTP/1.1 201"), answer[:100]
        print("  %.3f s, %.2f GB/s" % (t1 - t0, size / (t1 - t0) / 1e9))
PY
stop_sink
ceiling=$(python3 -c 'import json,sys,statistics; v=[json.loads(l) for l in open(sys.argv[1])]; print("%.3f" % statistics.median(x["first_to_last"] for x in v))' "$tmp/probe.jsonl")

# ------------------------------------------------------------------ the rounds
: >"$tmp/runs"
if [ "$CURL_ONLY" = 1 ]; then what="curl -T only"; else what="curl -T and otactl publish github, paired"; fi
say "$what: $WARMUP warm-up round(s), then $ROUNDS round(s), each with a fresh sink"
for r in $(seq 1 "$((WARMUP + ROUNDS))"); do
    if [ "$r" -le "$WARMUP" ]; then round="w$r"; else round=$((r - WARMUP)); fi
    log="$tmp/bodies-$round.jsonl"
    : >"$log"
    start_sink "$log"
    if [ "$CURL_ONLY" = 1 ]; then
        run_curl "$round" "$log"
    elif [ $((r % 2)) = 1 ]; then
        run_curl "$round" "$log"; run_otactl "$round" "$log"
    else
        run_otactl "$round" "$log"; run_curl "$round" "$log"
    fi
    stop_sink
    echo "  round $round: $(grep -E "^(curl|otactl) $round " "$tmp/runs" | awk '{printf "%s %.3f s %d KiB; ", $1, $3/1e9, $5}')" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ------------------------------------------------------------------ the table
say "result"
{
    echo
    echo "## $name ($SIZE bytes) to benches/github_sink.py, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
    echo
    echo "$machine; after: $load_after"
    echo
    python3 - "$tmp" "$SIZE" "$ROUNDS" "$CURL_ONLY" "$ceiling" "$otactl" <<'PY'
import json, statistics, sys
tmp, size, rounds, curl_only, ceiling, otactl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", float(sys.argv[5]), sys.argv[6]
runs = {}
for line in open(tmp + "/runs"):
    who, rnd, ns, e, m, rc = line.split()
    runs[(who, rnd)] = {"wall": int(ns) / 1e9, "e": float(e), "rss": int(m)}
for rnd in map(str, range(1, rounds + 1)):
    bodies = [json.loads(l) for l in open("%s/bodies-%s.jsonl" % (tmp, rnd))]
    for b in bodies:
        who = "otactl" if b["path"].startswith("/uploads/") else "curl"
        if b["bytes"] == size and (who, rnd) in runs:
            runs[(who, rnd)]["body"] = b["first_to_last"]
whos = ["curl"] + ([] if curl_only else ["otactl"])
gb = lambda s: size / s / 1e9 if s > 0 else float("inf")
hdr = "| round | " + " | ".join("%s wall s (%%e) | %s peak RSS KiB | %s body s, sink's view" % (w, w, w) for w in whos)
print(hdr + (" | otactl/curl wall |" if not curl_only else " |"))
print("| ---: |" + " ---: | ---: | ---: |" * len(whos) + (" ---: |" if not curl_only else ""))
ratios = []
for rnd in map(str, range(1, rounds + 1)):
    cells = []
    for w in whos:
        r = runs[(w, rnd)]
        cells += ["%.3f (%.2f)" % (r["wall"], r["e"]), "%d" % r["rss"], "%.3f" % r.get("body", float("nan"))]
    row = "| %s | %s |" % (rnd, " | ".join(cells))
    if not curl_only:
        ratio = runs[("otactl", rnd)]["wall"] / runs[("curl", rnd)]["wall"]
        ratios.append(ratio)
        row += " %.3f |" % ratio
    print(row)
med = {}
for w in whos:
    rs = [runs[(w, str(i))] for i in range(1, rounds + 1)]
    med[w] = {"wall": statistics.median(r["wall"] for r in rs), "rss": max(r["rss"] for r in rs),
              "body": statistics.median(r.get("body", float("nan")) for r in rs)}
cells = []
for w in whos:
    cells += ["**%.3f**" % med[w]["wall"], "max %d" % med[w]["rss"], "%.3f" % med[w]["body"]]
print("| median | %s |%s" % (" | ".join(cells), " %.3f |" % statistics.median(ratios) if ratios else ""))
print()
print("- curl -T: median wall %.3f s = %.2f GB/s end to end; the sink received the body in %.3f s (median) = %.2f GB/s"
      % (med["curl"]["wall"], gb(med["curl"]["wall"]), med["curl"]["body"], gb(med["curl"]["body"])))
print("- the sink's ceiling (socket.sendfile sender, median of 3, first to last byte): %.3f s = %.2f GB/s, %.2fx curl's rate"
      % (ceiling, gb(ceiling), med["curl"]["body"] / ceiling if ceiling else float("inf")))
if not curl_only:
    ratio = med["otactl"]["wall"] / med["curl"]["wall"]
    print("- otactl publish github (`%s`): median wall %.3f s, the upload body alone %.3f s (%.2f GB/s); the rest of the command (API calls, start) about %.3f s"
          % (otactl, med["otactl"]["wall"], med["otactl"]["body"], gb(med["otactl"]["body"]), med["otactl"]["wall"] - med["otactl"]["body"]))
    print("- **wall otactl/curl: %.3f** by the medians (%.3f median of the paired ratios); goal <= 1.11: **%s**"
          % (ratio, statistics.median(ratios), "met" if max(ratio, statistics.median(ratios)) <= 1.11 else "NOT met"))
    print("- upload alone, otactl/curl (sink's view, medians): %.3f" % (med["otactl"]["body"] / med["curl"]["body"]))
    print("- **peak RSS of otactl: max %d KiB = %.1f MiB** over %d rounds; goal <= 32 MiB: **%s**"
          % (med["otactl"]["rss"], med["otactl"]["rss"] / 1024, rounds, "met" if med["otactl"]["rss"] <= 32 * 1024 else "NOT met"))
print()
print("%d round(s) after the warm-up; round i runs curl first when i is odd%s; each round a fresh sink. Wall: nanosecond clock around `/usr/bin/time -f '%%e %%M'` (its %%e in brackets)."
      % (rounds, "" if curl_only else ", otactl first when even"))
PY
} | tee -a "$md"
echo "upload.sh: appended to $md" >&2
