#!/usr/bin/env bash
# `otactl release --file` of a 1 GiB firmware image to a release folder: CPU and wall
# time of the whole flow (hash, copy, manifest, sign, the checklist's download),
# one binary after another, each run on a fresh release folder and channel.
#
#   bash benches/release.sh [OTACTL]...     # default: target/release/otactl
#
# Give two binaries (e.g. a build of an older commit and this one) to compare them
# side by side; the rounds alternate between them so that the page cache and the
# disk treat both alike. Data goes under benches/data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
[ -x /usr/bin/time ] || { as_root apt-get update -qq; as_root apt-get install -y -qq time >/dev/null; }

if [ "$#" -eq 0 ]; then
    cargo build --release --locked --quiet
    set -- "$PWD/target/release/otactl"
fi
data="$PWD/benches/data/release"
rounds=${ROUNDS:-3}
rm -rf "$data"
mkdir -p "$data/repo"
# otactl writes a private key only outside every git work tree (this one too).
key=$(mktemp -d "${TMPDIR:-/tmp}/otactl-bench-key.XXXXXX")
trap 'rm -rf "$key"' EXIT
head -c 1G /dev/urandom >"$data/fw.bin"
cd "$data/repo"
git init -q -b main
"$1" key generate --private "$key/signing.pem" --public keys/ota_pubkey.pem >/dev/null 2>&1
"$1" init --yes --name fw --dir-path "$data/out" >/dev/null 2>&1
git add -A
git -c user.name=bench -c user.email=bench@example.invalid commit -q -m init

echo "round binary user_s sys_s wall_s"
for round in $(seq "$rounds"); do
    for otactl in "$@"; do
        rm -rf "$data/out" channels/canary/manifest.json
        mkdir -p "$data/out"
        OTACTL_SIGNING_KEY_FILE="$key/signing.pem" /usr/bin/time -o "$data/time" \
            -f "%U %S %e" "$otactl" release --channel canary --file "$data/fw.bin" \
            --target dir --no-pr --yes >/dev/null 2>"$data/stderr" \
            || { cat "$data/stderr" >&2; exit 1; }
        echo "$round $otactl $(cat "$data/time")"
    done
done
