#!/usr/bin/env bash
# Whole commands side by side (issue #3's performance goals), with hyperfine:
#
#   1. `otactl tar` against `git archive --format=tar.gz` on a medium repository
#      (identical bytes checked first), and peak RSS;
#   2. hashing a 1 GiB file: `otactl manifest new --from-file` (which hashes the file
#      once) against `openssl dgst -sha256`;
#   3. `otactl verify` of a 1 GiB artifact served on 127.0.0.1 against
#      `curl -s URL | openssl dgst -sha256`, and peak RSS.
#
#   bash benches/compare.sh [tar|hash|verify]...     # default: all three
#
# The medium repository is made from the Rust sources in cargo's registry cache
# (real code, about 200 MB, tens of thousands of files), committed once and packed
# with `git gc`, as a clone would be. Data goes under benches/data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
for tool in hyperfine curl; do
    command -v "$tool" >/dev/null 2>&1 || { as_root apt-get update -qq; as_root apt-get install -y -qq "$tool" >/dev/null; }
done
[ -x /usr/bin/time ] || { as_root apt-get update -qq; as_root apt-get install -y -qq time >/dev/null; }

cargo build --release --locked --quiet
otactl="$PWD/target/release/otactl"
data="$PWD/benches/data"
mkdir -p "$data"
md="$data/compare.md"
: > "$md"

{
    echo "machine: $(nproc) cores, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "git: $(git --version); openssl: $(openssl version); curl: $(curl --version | head -1 | cut -d' ' -f1-2)"
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$md" >&2

peak_rss() { # COMMAND... → the peak RSS in KiB of the command and its children, the largest
    /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1
}

own_peak_rss() { # COMMAND... → the peak RSS in KiB of that process alone (VmHWM, sampled)
    "$@" >/dev/null 2>&1 &
    local pid=$! hwm=0 v
    while kill -0 "$pid" 2>/dev/null; do
        v=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$v" ] && hwm=$v
        sleep 0.02
    done
    wait "$pid"
    echo "$hwm"
}

bench_tar() {
    local repo="$data/medium-repo"
    if [ ! -d "$repo/.git" ]; then
        echo "compare: making $repo from cargo's registry sources" >&2
        mkdir -p "$repo"
        cp -r "$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ | head -1)". "$repo/"
        # Secrets in third-party test data are not this benchmark's subject.
        git -C "$repo" init -q -b main
        git -C "$repo" add -A -f
        GIT_COMMITTER_DATE=2026-01-15T16:14:00Z GIT_AUTHOR_DATE=2026-01-15T16:14:00Z \
            git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid commit -q -m medium
        git -C "$repo" gc -q
    fi
    local files size id
    files=$(git -C "$repo" ls-files | wc -l)
    size=$(git -C "$repo" archive --format=tar HEAD | wc -c)
    id=$("$otactl" build-id --source "$repo")
    echo "tar: $files files, $((size / 1048576)) MiB of tar stream, build id $id" | tee -a "$md" >&2
    local ours="$data/ours.tar.gz" theirs="$data/theirs.tar.gz"
    local tar_cmd="$otactl tar --source $repo --name bench --allow-secret '*' -o $ours"
    local git_cmd="git -C $repo archive --format=tar.gz --prefix=bench-$id/ -o $theirs HEAD"
    eval "$tar_cmd" >/dev/null 2>&1
    eval "$git_cmd"
    cmp "$ours" "$theirs" && echo "tar: identical bytes ($(stat -c %s "$ours") bytes)" | tee -a "$md" >&2
    hyperfine --warmup 1 --runs 10 --export-markdown "$data/tar.md" \
        -n "otactl tar" "$tar_cmd" -n "git archive --format=tar.gz" "$git_cmd" >&2
    cat "$data/tar.md" >> "$md"
    echo "tar: peak RSS of the otactl process $(own_peak_rss "$otactl" tar --source "$repo" --name bench --allow-secret "*" -o "$ours") KiB; of its \`git archive --format=tar\` child $(peak_rss git -C "$repo" archive --format=tar --prefix="bench-$id/" HEAD) KiB; of \`git archive --format=tar.gz\` $(peak_rss git -C "$repo" archive --format=tar.gz --prefix="bench-$id/" -o "$theirs" HEAD) KiB" | tee -a "$md" >&2
}

big_file() {
    local file="$data/1GiB.bin"
    [ -f "$file" ] || head -c 1073741824 /dev/urandom > "$file"
    echo "$file"
}

bench_hash() {
    local file; file=$(big_file)
    local repo="$data/hash-repo"
    rm -rf "$repo"; mkdir -p "$repo"
    : > "$repo/otactl.toml" # its own channel repository, not the one above it
    local new_cmd="$otactl -q -C $repo manifest new --channel canary --build-id 20260115-1614-9121078 --url https://ota.example.com/20260115-1614-9121078/1GiB.bin --from-file $file"
    hyperfine --warmup 1 --runs 10 --export-markdown "$data/hash.md" \
        -n "otactl manifest new --from-file (sha256 of 1 GiB)" "$new_cmd" \
        -n "openssl dgst -sha256" "openssl dgst -sha256 $file" >&2
    cat "$data/hash.md" >> "$md"
}

bench_verify() {
    local file; file=$(big_file)
    local root="$data/serve" id=20260115-1614-9121078
    mkdir -p "$root/$id"
    ln -f "$file" "$root/$id/fw.bin" 2>/dev/null || cp "$file" "$root/$id/fw.bin"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$root" >/dev/null 2>&1 &
    local server=$!
    trap 'kill $server 2>/dev/null || true' RETURN
    sleep 1
    local url="http://127.0.0.1:$port/$id/fw.bin"
    local repo="$data/verify-repo"
    rm -rf "$repo"; mkdir -p "$repo"
    : > "$repo/otactl.toml"
    "$otactl" -q -C "$repo" manifest new --channel canary --build-id $id --url "$url" --kind firmware --from-file "$file" >/dev/null
    local verify_cmd="$otactl -q -C $repo verify --channel canary --max-size 2GiB"
    local curl_cmd="curl -s $url | openssl dgst -sha256"
    eval "$verify_cmd" >/dev/null
    hyperfine --warmup 1 --runs 10 --export-markdown "$data/verify.md" \
        -n "otactl verify (1 GiB over HTTP)" "$verify_cmd" -n "curl -s URL | openssl dgst -sha256" "$curl_cmd" >&2
    cat "$data/verify.md" >> "$md"
    echo "verify: peak RSS of otactl $(own_peak_rss "$otactl" -q -C "$repo" verify --channel canary --max-size 2GiB) KiB" | tee -a "$md" >&2
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tar hash verify)
for t in "${targets[@]}"; do "bench_$t"; done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$md" >&2
echo "compare: results in $md" >&2
