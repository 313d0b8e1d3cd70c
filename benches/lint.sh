#!/usr/bin/env bash
# Benchmark: `otactl lint` over COUNT signed manifests, side by side with a Python
# verifier doing the same checks (benches/py_lint.py: json + cryptography), in one
# process and on every core (--jobs $(nproc)).
#
#   bash benches/lint.sh [COUNT]          # default 10000
#
# Goal (issue): otactl ≤ 0.5 s wall for 10,000 manifests on a 2-core machine, and
# at least 20x faster than the Python verifier.
#
#   bash benches/lint.sh channels [COUNT] [--runs N] [--before BIN]...
#
# The second case: the same number of files in a repository of COUNT configured
# channels (c00000, c00001, ...; one manifest each in channels/<channel>/manifest.json,
# `otactl -C benches/data/lint-channels lint`, which walks every configured channel)
# beside the 3-channel set above (`otactl -C benches/data/lint-clean lint m`, COUNT
# files m/NNNNN/<channel>/manifest.json). The contents of manifest i are the same in
# both but for `channel`. A third command lints the many-channel repository by PATH
# (`lint channels`), as the 3-channel set is, to tell the cost of the channels apart
# from that of finding the files. Each --before BIN (an otactl binary built from
# another commit, e.g. the one before a change) is measured the same way beside
# target/release/otactl. Each command: one hyperfine run of its own (warmup 2, at
# least N runs, default 20), with the load average before and after it. Goal
# (issue): the many-channel case within 1.3x of the 3-channel case. Markdown and
# JSON in benches/data/lint-channels.{md,json}.
#
# Steps: print the machine; build otactl (release, --locked); generate the data sets
# under benches/data/ (only when missing, of another size, or older than the
# generator); sanity check that both linters agree (zero errors on the clean set,
# the same failing files on a set with 25 bad manifests); measure with hyperfine
# (warmup 2, at least 10 runs, markdown in benches/data/lint.md); report the peak RSS
# of one otactl run (and one Python run) with /usr/bin/time -v.
#
# Needs: cargo; runs Python from target/venv (with `cryptography`, made by
# scripts/install-deps); installs hyperfine and time with apt-get when missing (as
# root, or through sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: bash benches/lint.sh [COUNT]    or    bash benches/lint.sh channels [COUNT] [--runs N] [--before BIN]..." >&2
    exit 2
}
MODE=python
if [ "${1:-}" = channels ]; then
    MODE=channels
    shift
fi
COUNT=10000
case "${1:-}" in [0-9]*) COUNT="$1"; shift ;; esac
BEFORE=()
RUNS=20
while [ $# -gt 0 ]; do
    case "$1" in
        --runs)
            [ "$MODE" = channels ] && [ $# -ge 2 ] || usage
            case "$2" in '' | *[!0-9]*) usage ;; esac
            [ "$2" -ge 10 ] || { echo "lint.sh: --runs must be at least 10" >&2; exit 2; }
            RUNS="$2"
            shift 2
            ;;
        --before)
            [ "$MODE" = channels ] && [ $# -ge 2 ] || usage
            [ -x "$2" ] || { echo "lint.sh: --before \`$2\` is not an executable file (build the other commit with cargo build --release --locked)" >&2; exit 2; }
            BEFORE+=("$2")
            shift 2
            ;;
        *) usage ;;
    esac
done
BAD=25
case "$COUNT" in '' | *[!0-9]*) usage ;; esac
if [ "$COUNT" -lt "$BAD" ]; then echo "lint.sh: COUNT must be at least $BAD" >&2; exit 2; fi

DATA=benches/data/lint-clean
BADDATA=benches/data/lint-bad
CHDATA=benches/data/lint-channels
OTACTL=target/release/otactl
JOBS=$(nproc)
MD=benches/data/lint.md
JSON=benches/data/lint.json

say() { printf '\n== %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() { # PACKAGE
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; then
        as_root apt-get update -qq >/dev/null
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
    fi
}

command -v hyperfine >/dev/null 2>&1 || { echo "lint.sh: installing hyperfine" >&2; apt_install hyperfine; }
[ -x /usr/bin/time ] || { echo "lint.sh: installing time" >&2; apt_install time; }
scripts/install-deps
PATH="$PWD/target/venv/bin:$PATH"
mkdir -p benches/data

# ---------------------------------------------------------------- the machine
say "machine"
{
    echo "nproc:        $(nproc)"
    echo "cpu:          $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "memory:       $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel:       $(uname -sr)"
    echo "rustc:        $(rustc --version)"
    echo "python:       $(python3 --version 2>&1)"
    echo "cryptography: $(python3 -c 'import cryptography; print(cryptography.__version__)')"
    echo "openssl:      $(python3 -c 'from cryptography.hazmat.backends.openssl.backend import backend; print(backend.openssl_version_text())')"
    echo "hyperfine:    $(hyperfine --version)"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine makes the numbers noisy)"
} | tee benches/data/machine.txt >&2

# ------------------------------------------------------------------ build
say "build"
cargo build --release --locked >&2

# ------------------------------------------- the many-channel case (MODE=channels)
# Sanity check, then one hyperfine run per command (so that each figure has the load
# average of its own run), then the table with the ratios.
measure_channels() {
    local md=benches/data/lint-channels.md json=benches/data/lint-channels.json
    local bin i
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/otactl-bench.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    # Each binary with its name: the one built here, then each --before.
    local bins=("$OTACTL") names=("HEAD ($(git rev-parse --short HEAD))")
    for bin in "${BEFORE[@]}"; do
        bins+=("$bin")
        names+=("$(git -C "$(dirname "$bin")" rev-parse --short HEAD 2>/dev/null || echo "$bin")")
    done

    say "sanity check: every binary finds the $COUNT manifests of both sets valid"
    local ok=1
    for i in "${!bins[@]}"; do
        bin="${bins[$i]}"
        for item in "3:$DATA:m" "$COUNT:$CHDATA:" "$COUNT:$CHDATA:channels"; do
            IFS=: read -r n dir path <<<"$item"
            local rc=0
            # shellcheck disable=SC2086 # $path is empty or one word
            "$bin" -C "$dir" lint $path --format json >"$tmp/report.json" 2>"$tmp/err" || rc=$?
            if ! python3 - "$tmp/report.json" "$COUNT" "$rc" <<'PY'; then
import json, sys
report, count, rc = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
paths = [f["path"] for f in report["files"]]
ok = rc == 0 and report["errors"] == 0 and report["warnings"] == 0 and len(set(paths)) == len(paths) == count
sys.exit(0 if ok else 1)
PY
                echo "  MISMATCH: $bin -C $dir lint${path:+ $path} (exit $rc): $(tail -n1 "$tmp/err")" >&2
                ok=0
            else
                echo "  ${names[$i]}: $n channels, \`lint${path:+ $path}\`: $(tail -n1 "$tmp/err")" >&2
            fi
        done
    done
    local rc=0
    python3 benches/py_lint.py "$CHDATA" channels >/dev/null 2>"$tmp/py.err" || rc=$?
    echo "  py_lint $CHDATA channels (exit $rc): $(tail -n1 "$tmp/py.err")" >&2
    [ "$rc" = 0 ] || ok=0
    if [ "$ok" != 1 ]; then
        echo "lint.sh: the sanity check failed (see MISMATCH above); not measuring" >&2
        exit 1
    fi

    say "measure: $COUNT files, 3 channels and $COUNT channels, warmup 2, at least $RUNS runs each"
    : >"$tmp/runs.tsv"
    local n=0 item label args load0 load1
    # One binary after the other, its three commands one after the other: a ratio
    # compares figures taken minutes apart at most.
    for i in "${!bins[@]}"; do
        for item in "3 channels, lint m|-C $DATA lint m" \
            "$COUNT channels, lint|-C $CHDATA lint" \
            "$COUNT channels, lint channels|-C $CHDATA lint channels"; do
            label="${item%%|*}"
            args="${item#*|}"
            n=$((n + 1))
            load0=$(cut -d' ' -f1 /proc/loadavg)
            hyperfine --shell=none --warmup 2 --min-runs "$RUNS" --style basic \
                --export-json "$tmp/run$n.json" \
                --command-name "${names[$i]}: $label" "${bins[$i]} $args" >&2
            load1=$(cut -d' ' -f1 /proc/loadavg)
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tmp/run$n.json" "${names[$i]}" "$label" "${bins[$i]} $args" "$load0" "$load1" >>"$tmp/runs.tsv"
        done
    done

    say "result"
    python3 - "$tmp/runs.tsv" "$json" "$COUNT" <<'PY' | tee "$md"
import json, sys
rows, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
results = []
for line in open(rows):
    path, name, label, command, load0, load1 = line.rstrip("\n").split("\t")
    r = json.load(open(path))["results"][0]
    results.append({"binary": name, "case": label, "command": "otactl " + command.split(" ", 1)[1],
                    "mean": r["mean"], "stddev": r["stddev"], "min": r["min"], "runs": len(r["times"]),
                    "load_before": float(load0), "load_after": float(load1)})
json.dump(results, open(out, "w"), indent=2)
base = {r["binary"]: r for r in results if r["case"].startswith("3 channels")}
print("| binary | case | command | mean ± σ | min | runs | load (1 min) before → after | ratio of means (of minima) to 3 channels |")
print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
for r in results:
    b = base[r["binary"]]
    print("| %s | %s | `%s` | %.1f ms ± %.1f | %.1f ms | %d | %.2f → %.2f | %.2f× (%.2f×) |"
          % (r["binary"], r["case"], r["command"], r["mean"] * 1e3, r["stddev"] * 1e3, r["min"] * 1e3,
             r["runs"], r["load_before"], r["load_after"], r["mean"] / b["mean"], r["min"] / b["min"]))
print()
for r in results:
    if r["case"] == "%d channels, lint" % count:
        b = base[r["binary"]]
        ratio, low = r["mean"] / b["mean"], r["min"] / b["min"]
        print("%s: %d channels / 3 channels for %d files = %.2f× by the means, %.2f× by the minima (goal ≤ 1.3×: %s)"
              % (r["binary"], count, count, ratio, low,
                 "met" if max(ratio, low) <= 1.3 else "NOT met" if min(ratio, low) > 1.3 else "met by one measure only"))
PY
    {
        echo
        echo '```'
        cat benches/data/machine.txt
        echo '```'
    } >>"$md"
    echo "markdown: $md; json: $json" >&2
}

# ------------------------------------------------------------------ data
generate() { # DIR BAD [CHANNELS]: CHANNELS set, one manifest per channel in channels/
    local dir="$1" bad="$2" channels="${3:-}" stamp="$1/gen.json"
    if [ -f "$stamp" ] && [ "$stamp" -nt benches/gen_manifests.py ] &&
        python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); sys.exit(0 if (g["count"], g["bad"], g.get("layout")) == (int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]) else 1)' \
            "$stamp" "$COUNT" "$bad" "${channels:+channels}${channels:-m}"; then
        echo "$dir: $COUNT manifests ($bad bad${channels:+, $channels channels}), up to date" >&2
    elif [ -n "$channels" ]; then
        python3 benches/gen_manifests.py "$dir" --channels "$channels" --bad "$bad"
    else
        python3 benches/gen_manifests.py "$dir" --count "$COUNT" --bad "$bad"
    fi
}
say "data"
generate "$DATA" 0
echo "data set: $(du -sh "$DATA" | cut -f1) on disk, $(find "$DATA/m" -name manifest.json | wc -l) manifest.json files" >&2
if [ "$MODE" = channels ]; then
    generate "$CHDATA" 0 "$COUNT"
    echo "data set: $(du -sh "$CHDATA" | cut -f1) on disk, $(find "$CHDATA/channels" -name manifest.json | wc -l) manifest.json files, $(find "$CHDATA/channels" -mindepth 1 -maxdepth 1 -type d | wc -l) channel folders" >&2
    measure_channels
    exit 0
fi
generate "$BADDATA" "$BAD"

# ------------------------------------------------------------ sanity check
say "sanity check: both linters agree"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/otactl-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# lint_both DIR: runs both linters with their verdicts in $tmp; prints their exit codes.
lint_both() {
    local dir="$1" rc_o=0 rc_p=0
    "$OTACTL" -C "$dir" lint m --format json >"$tmp/otactl.json" 2>"$tmp/otactl.err" || rc_o=$?
    python3 benches/py_lint.py "$dir" m >"$tmp/py.txt" 2>"$tmp/py.err" || rc_p=$?
    echo "  otactl (exit $rc_o): $(tail -n1 "$tmp/otactl.err")" >&2
    echo "  py_lint (exit $rc_p): $(tail -n1 "$tmp/py.err")" >&2
    echo "$rc_o $rc_p"
}

# compare DIR EXPECTED_FAILING: the failing files of both linters (and of gen.json).
compare() {
    python3 - "$1" "$2" "$tmp/otactl.json" "$tmp/py.txt" <<'PY'
import json, sys
data, expected, o_path, p_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
report = json.load(open(o_path))
o_fail = {f["path"]: [x["message"] for x in f["findings"] if x["severity"] == "error"] for f in report["files"]}
o_fail = {p: m for p, m in o_fail.items() if m}
p_fail = {}
for line in open(p_path):
    path, _, rest = line.rstrip("\n").partition(": ")
    p_fail[path] = rest
gen = json.load(open(data + "/gen.json"))
made = {b["path"]: b["kind"] for b in gen["bad_files"]}
p_err = sum(int(r.split(" ", 1)[0]) for r in p_fail.values())
print("  failing files: otactl %d, py_lint %d, generated bad %d (expected %d); errors: otactl %d, py_lint %d"
      % (len(o_fail), len(p_fail), len(made), expected, report["errors"], p_err), file=sys.stderr)
ok = len(o_fail) == len(p_fail) == len(made) == expected and set(o_fail) == set(p_fail) == set(made)
for path in sorted(set(o_fail) | set(p_fail) | set(made)):
    if path in o_fail and path in p_fail and path in made:
        continue
    print("  MISMATCH %s (generated as %s)\n    otactl:  %s\n    py_lint: %s"
          % (path, made.get(path, "good"), o_fail.get(path, "ok"), p_fail.get(path, "ok")), file=sys.stderr)
# Same verdict, different number of errors: an extra consequence reported by one side.
for path in sorted(set(o_fail) & set(p_fail)):
    n = int(p_fail[path].split(" ", 1)[0])
    if n != len(o_fail[path]):
        print("  note: %s (%s): otactl %d errors, py_lint %d\n    otactl:  %s\n    py_lint: %s"
              % (path, made.get(path), len(o_fail[path]), n, "; ".join(o_fail[path]), p_fail[path]), file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}

read -r rc_o rc_p < <(lint_both "$DATA")
clean_ok=1
[ "$rc_o" = 0 ] && [ "$rc_p" = 0 ] || clean_ok=0
compare "$DATA" 0 || clean_ok=0
read -r rc_o rc_p < <(lint_both "$BADDATA")
bad_ok=1
[ "$rc_o" = 1 ] && [ "$rc_p" = 1 ] || bad_ok=0
compare "$BADDATA" "$BAD" || bad_ok=0
python3 benches/py_lint.py "$BADDATA" m --jobs "$JOBS" >"$tmp/py-jobs.txt" 2>/dev/null || true
if cmp -s "$tmp/py.txt" "$tmp/py-jobs.txt"; then
    echo "  py_lint --jobs $JOBS: the same output as one process" >&2
else
    echo "  MISMATCH: py_lint --jobs $JOBS reports otherwise than one process" >&2
    bad_ok=0
fi
if [ "$clean_ok" = 1 ] && [ "$bad_ok" = 1 ]; then
    echo "  sanity check passed: 0 errors on the clean set; the same $BAD failing files on the bad set" >&2
else
    echo "lint.sh: the sanity check failed (see MISMATCH above); not measuring" >&2
    exit 1
fi

# ------------------------------------------------------------------ measure
say "measure: $COUNT manifests, warmup 2, at least 10 runs (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
hyperfine --shell=none --warmup 2 --min-runs 10 \
    --export-markdown "$MD" --export-json "$JSON" \
    --command-name "otactl lint" "$OTACTL -C $DATA lint m" \
    --command-name "py_lint (1 process)" "python3 benches/py_lint.py $DATA m" \
    --command-name "py_lint (--jobs $JOBS)" "python3 benches/py_lint.py $DATA m --jobs $JOBS" >&2

say "peak memory (one run each, /usr/bin/time -v)"
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}'; }
rss_o=$(rss "$OTACTL" -C "$DATA" lint m)
rss_p=$(rss python3 benches/py_lint.py "$DATA" m)
echo "  otactl lint:         ${rss_o} KiB peak RSS" >&2
echo "  py_lint (1 process): ${rss_p} KiB peak RSS" >&2

say "result"
python3 - "$JSON" "$COUNT" "$rss_o" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
count, rss = int(sys.argv[2]), int(sys.argv[3])
o = results[0]
goal_s = 0.5 * count / 10000
print("otactl lint: mean %.3f s ± %.3f (min %.3f, median %.3f) for %d manifests = %.1f µs/manifest; peak RSS %.1f MiB"
      % (o["mean"], o["stddev"], o["min"], o["median"], count, o["mean"] / count * 1e6, rss / 1024))
print("  goal ≤ %.2f s wall: %s" % (goal_s, "met" if o["mean"] <= goal_s else "NOT met (mean %.3f s)" % o["mean"]))
for r in results[1:]:
    ratio = r["mean"] / o["mean"]
    print("  vs %-22s mean %.3f s: otactl is %.1fx faster (goal ≥ 20x: %s)"
          % (r["command"], r["mean"], ratio, "met" if ratio >= 20 else "NOT met"))
PY
{
    echo
    echo "$COUNT manifests; commands (run from the repository root, hyperfine --shell=none --warmup 2 --min-runs 10):"
    echo
    echo "- otactl lint: \`$OTACTL -C $DATA lint m\`"
    echo "- py_lint (1 process): \`python3 benches/py_lint.py $DATA m\`"
    echo "- py_lint (--jobs $JOBS): \`python3 benches/py_lint.py $DATA m --jobs $JOBS\`"
    echo
    echo "Peak RSS (/usr/bin/time -v, one run): otactl ${rss_o} KiB, py_lint (1 process) ${rss_p} KiB."
    echo
    echo '```'
    cat benches/data/machine.txt
    echo '```'
} >>"$MD"
echo "markdown: $MD" >&2
cat "$MD"
