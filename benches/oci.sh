#!/usr/bin/env bash
# `otactl publish oci` of a 1 GiB file against `skopeo copy` of the same file from an
# OCI layout (issue #10's performance goal: wall ratio <= 1.0, peak RSS <= 32 MiB),
# both into Debian's docker-registry on 127.0.0.1, each run into a fresh registry
# (empty storage, new port; skopeo's blob cache cleared) so that neither finds the
# blob there already. Paired rounds alternate which goes first.
#
#   bash benches/oci.sh [--rounds N]        # SIZE=bytes (default 1 GiB); OTACTL=path skips the build
#
# Results: printed, and appended to benches/data/oci.md (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=5
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS="$2"; shift 2 ;;
        *) echo "oci.sh: unknown argument \`$1\`; usage: bash benches/oci.sh [--rounds N]" >&2; exit 2 ;;
    esac
done
case "$ROUNDS" in '' | *[!0-9]* | 0) echo "oci.sh: --rounds takes a number >= 1" >&2; exit 2 ;; esac
SIZE="${SIZE:-1073741824}"

scripts/install-deps >/dev/null
for tool in docker-registry skopeo python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "oci.sh: \`$tool\` is missing after scripts/install-deps" >&2; exit 1; }
done

data="$PWD/benches/data"
mkdir -p "$data"
md="$data/oci.md"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/otactl-oci.XXXXXX")
registry_pid=
cleanup() {
    if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

file="$data/oci-$SIZE.bin"
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" != "$SIZE" ]; then
    head -c "$SIZE" /dev/urandom >"$file.part" && mv "$file.part" "$file"
fi
cat "$file" >/dev/null

if [ -n "${OTACTL:-}" ]; then otactl="$OTACTL"; else cargo build --release --locked --quiet; otactl="$PWD/target/release/otactl"; fi

# The OCI layout skopeo copies from: the same file as its one layer, the same empty
# config; the blob is a hard link, not a copy.
layout="$tmp/layout"
python3 - "$file" "$layout" <<'PY'
import hashlib, json, os, sys
src, layout = sys.argv[1], sys.argv[2]
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs)
h = hashlib.sha256()
with open(src, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
layer = h.hexdigest()
os.link(src, os.path.join(blobs, layer))
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return d
config = put(b"{}")
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.otactl.artifact.v1",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:" + config, "size": 2},
    "layers": [{"mediaType": "application/vnd.otactl.artifact.v1", "digest": "sha256:" + layer,
                "size": os.path.getsize(src)}],
}).encode()
m = put(manifest)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
          "digest": "sha256:" + m, "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "1.0.0"}}]},
          open(os.path.join(layout, "index.json"), "w"))
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
PY

start_registry() { # a fresh registry on a new port with empty storage: no run finds a blob there
    stop_registry
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -rf "$tmp/data"
    cat >"$tmp/config.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/data
http:
  addr: 127.0.0.1:$port
  secret: bench
YML
    docker-registry serve "$tmp/config.yml" >"$tmp/registry.log" 2>&1 &
    registry_pid=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.1; done
    echo "oci.sh: the registry did not start" >&2; exit 1
}
stop_registry() {
    if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; registry_pid=; fi
}
# skopeo remembers where blobs are and mounts them from there: no memory between runs.
forget() { rm -rf /var/lib/containers/cache "${HOME:-/root}/.local/share/containers/cache" 2>/dev/null || true; }

work="$tmp/work"; mkdir -p "$work"; : >"$work/otactl.toml"
timed() { # NAME COMMAND... → "wall_seconds peak_kib" in $tmp/result (no subshell: the registry's PID stays known)
    local start end
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$tmp/rss" "${@:2}" >/dev/null 2>"$tmp/$1.err" || { cat "$tmp/$1.err" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$(awk -v a="$end" -v b="$start" 'BEGIN {printf "%.3f", a - b}') $(tail -1 "$tmp/rss")" >"$tmp/result"
}
run_otactl() { start_registry; cd "$work"; timed otactl "$otactl" -q publish oci "$file" --ref "127.0.0.1:$port/bench/otactl-$1:1.0.0" --build-id 20260115-1614-9121078; cd - >/dev/null; }
run_skopeo() { start_registry; forget; timed skopeo skopeo copy -q --dest-tls-verify=false "oci:$layout:1.0.0" "docker://127.0.0.1:$port/bench/skopeo-$1:1.0.0"; }

{
    echo
    echo "## publish oci, $SIZE bytes, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD)"
    echo
    echo "machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo); $(skopeo --version); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| round | skopeo s | skopeo KiB | otactl s | otactl KiB | ratio |"
    echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
} | tee -a "$md"
run_otactl w; run_skopeo w
: >"$tmp/ratios"
for i in $(seq 1 "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then
        run_skopeo "$i"; s=$(cat "$tmp/result"); run_otactl "$i"; o=$(cat "$tmp/result")
    else
        run_otactl "$i"; o=$(cat "$tmp/result"); run_skopeo "$i"; s=$(cat "$tmp/result")
    fi
    read -r sw sk <<<"$s"; read -r ow ok <<<"$o"
    ratio=$(awk -v a="$ow" -v b="$sw" 'BEGIN {printf "%.3f", a / b}')
    echo "$sw $ow $ok $ratio" >>"$tmp/ratios"
    echo "| $i | $sw | $sk | $ow | $ok | $ratio |" | tee -a "$md"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
sm=$(cut -d' ' -f1 "$tmp/ratios" | median); om=$(cut -d' ' -f2 "$tmp/ratios" | median)
maxrss=$(cut -d' ' -f3 "$tmp/ratios" | sort -n | tail -1)
{
    echo
    echo "- median wall: skopeo $sm s, otactl $om s; ratio of medians $(awk -v a="$om" -v b="$sm" 'BEGIN {printf "%.3f", a / b}') (goal <= 1.0); paired ratios' median $(cut -d' ' -f4 "$tmp/ratios" | median)"
    echo "- otactl peak RSS: max $maxrss KiB = $(awk -v a="$maxrss" 'BEGIN {printf "%.1f", a / 1024}') MiB (goal <= 32 MiB); load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$md"
