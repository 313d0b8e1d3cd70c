#!/usr/bin/env bash
# Interop check: manifests written and signed by otactl must verify on a device
# running Python (tests/interop/device_check.py: json.dumps canonical bytes,
# securesystemslib's encode_canonical, `cryptography` Ed25519), and a tampered
# copy must be rejected.
#
#   tests/interop/run.sh [PATH/TO/otactl]      # default: target/debug/otactl
#
# Runs Python from the virtual environment target/venv, which scripts/install-deps
# makes with tests/interop/requirements.txt installed. Everything happens in a
# temporary folder (outside any git work tree, so `key generate` accepts to
# write the private key there), removed on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${1:-$root/target/debug/otactl}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if [[ ! -x "$bin" ]]; then
    echo "run.sh: no otactl binary at $bin (build it with cargo build)" >&2
    exit 2
fi
py="$root/target/venv/bin/python3"
if [[ ! -x "$py" ]]; then
    echo "run.sh: no Python virtual environment at $root/target/venv (make it with scripts/install-deps)" >&2
    exit 2
fi
check=("$py" "$here/device_check.py")
unset OTACTL_SIGNING_KEY OTACTL_SIGNING_KEY_FILE

tmp="$(mktemp -d "${TMPDIR:-/tmp}/otactl-interop.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
repo="$tmp/repo"
mkdir -p "$repo/channels/stable" "$repo/channels/staging" "$repo/channels/canary" "$tmp/out"

"$bin" -C "$repo" key generate --private "$tmp/keys/signing.pem" --public "$repo/keys/ota_pubkey.pem"

build_id=20260115-1614-9121078
min_build_id=20251201-0930-1a2b3c4
gh_url="https://github.com/CaiserSz/evse-ota/releases/download/$build_id/evse-src-$build_id.tar.gz"
manifest="$repo/channels/stable/manifest.json"

# sign_case NAME URL NOTES [extra `manifest new` flags...]
# Writes a fresh stable manifest (the previous one is removed first, so no
# downgrade check or inherited min_build_id gets in the way) and signs it to
# $tmp/out/NAME.json.
sign_case() {
    local name="$1" url="$2" notes="$3"
    shift 3
    local sha
    sha="$("$py" -c 'import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "$name")"
    rm -f "$manifest"
    "$bin" -C "$repo" manifest new --channel stable --build-id "$build_id" \
        --url "$url" --sha256 "$sha" --notes "$notes" "$@"
    "$bin" -C "$repo" manifest sign "$manifest" --key "$tmp/keys/signing.pem" --out "$tmp/out/$name.json"
}

sign_case ascii-notes "$gh_url" "Routine stable release for EVSE stations." --min-build-id "$min_build_id"
sign_case quotes-backslashes-slashes "$gh_url" 'say "hi" C:\temp\ota a/b' --min-build-id "$min_build_id"
sign_case firmware-url-query "https://ota.example.com/fw.bin?device=esp32&rev=2" "Firmware with a query URL." \
    --kind firmware --min-build-id "$min_build_id"
sign_case turkish-notes "$gh_url" "Şarj istasyonu güncellemesi: ğüşıöç İĞÜŞÖÇ" --min-build-id "$min_build_id"
sign_case no-min-build-id "$gh_url" "No min_build_id."
sign_case oci-url "oci://registry.example.com/my-repository/esp32-outdoor:0.1.2" "OCI firmware." \
    --kind oci --min-build-id "$min_build_id"
sign_case file-url "file:///srv/ota/releases/$build_id/evse-src-$build_id.tar.gz" "Local release folder." \
    --min-build-id "$min_build_id"

pub="$repo/keys/ota_pubkey.pem"
signed=("$tmp"/out/*.json)
"${check[@]}" --pubkey "$pub" "${signed[@]}"

# The signature does not depend on the file layout: re-indented, unsorted,
# \u-escaped copies still verify.
mkdir -p "$tmp/relayout"
"$py" - "$tmp/out" "$tmp/relayout" <<'PY'
import json, pathlib, sys
src, dst = map(pathlib.Path, sys.argv[1:])
for f in sorted(src.glob("*.json")):
    obj = json.loads(f.read_text(encoding="utf-8"))
    obj = dict(reversed(list(obj.items())))
    (dst / f.name).write_text(json.dumps(obj, indent=4, ensure_ascii=True), encoding="utf-8")
PY
"${check[@]}" --pubkey "$pub" "$tmp"/relayout/*.json

# A tampered copy (notes changed after signing) must be rejected.
mkdir -p "$tmp/tampered"
"$py" - "$tmp/out/ascii-notes.json" "$tmp/tampered/ascii-notes.json" <<'PY'
import json, sys
obj = json.load(open(sys.argv[1], encoding="utf-8"))
obj["notes"] += " (tampered)"
with open(sys.argv[2], "w", encoding="utf-8") as f:
    f.write(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
PY
"${check[@]}" --expect-fail --pubkey "$pub" "$tmp/tampered/ascii-notes.json"

echo "interop: ${#signed[@]} manifests signed by otactl verified by Python"
