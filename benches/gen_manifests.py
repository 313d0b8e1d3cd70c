#!/usr/bin/env python3
"""Generate a channel repository of signed OTA manifests for the lint benchmark.

    python3 benches/gen_manifests.py OUTDIR [--count 10000] [--bad N]
    python3 benches/gen_manifests.py OUTDIR --channels 10000 [--bad N]

OUTDIR gets:

    otactl.toml                        channels canary/staging/stable, signatures required
    keys/ota_pubkey.pem                SPKI PEM of a fixed Ed25519 key (fixed seed)
    m/NNNNN/<channel>/manifest.json    COUNT manifests, channel cycling, house layout, signed
    gen.json                           what was generated (count, channels, bad, the bad files)

`--channels N` makes instead a channel repository of N configured channels, named
c00000, c00001, ... (`channels` of otactl.toml lists them all, in order), with one
signed manifest per channel in the standard layout, for plain `otactl lint`:

    channels/<channel>/manifest.json   N manifests (COUNT is N)

Manifest number i has the same fields in both layouts but for `channel`: the
contents come from the same random sequence, so the two data sets differ only in
how many channels there are and where the files sit.

Everything is deterministic: the same arguments give the same bytes. The key is a
benchmark key made from a fixed seed; it signs nothing but this test data.

`--bad N` makes N of the manifests invalid in assorted ways (each one fails
`otactl lint` with at least one error), so both linters can be checked to find the
same failing files. gen.json lists them with the way each was broken.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CHANNELS = ["canary", "staging", "stable"]
# Fixed seeds: the trusted benchmark key and a second, untrusted key.
TRUSTED_SEED = hashlib.sha256(b"otactl benchmark signing key v1").digest()
FOREIGN_SEED = hashlib.sha256(b"otactl benchmark foreign key v1").digest()
GEN_VERSION = 2

WORDS = (
    "fix charger handshake timeout retry ocpp firmware update watchdog meter "
    "display kiosk boot loader tls certificate rotation rollout stable canary "
    "staging power module relay cooling fan sensor calibration log upload "
    "network modem lte wifi reconnect backoff memory leak crash report session "
    "billing tariff rfid reader pin pad screen brightness locale translation "
    "security patch cve hardening build reproducible toolchain bump"
).split()

BAD_KINDS = [
    "tampered",          # notes changed after signing
    "foreign-key",       # signed with a key that is not trusted
    "bad-build-id",      # month 13, re-signed with the trusted key
    "unsigned",          # no signature, and signatures are required
    "wrong-folder",      # channel differs from its folder, signed
    "unknown-key",       # an extra top-level key (strict keys), signed
    "bad-sha256",        # uppercase hex, signed
    "plain-http",        # http:// to a non-loopback host, signed
    "min-after-build",   # min_build_id later than build_id, signed
    "created-fraction",  # created_utc with a fraction of a second, signed
    "future-build-id",   # build id in 2099, signed
    "duplicate-key",     # "notes" twice (the signature covers the last one)
    "not-nfc",           # decomposed e + U+0301 in notes, signed
    "bad-signature-b64", # signature that is not base64
    "bom",               # a UTF-8 byte-order mark before the object
]


def canonical(obj):
    """The signed bytes (SPEC 2.3)."""
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def house(obj):
    """The house layout on disk (SPEC 2.4)."""
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sign(obj, key):
    obj = {k: v for k, v in obj.items() if k != "signature"}
    obj["signature"] = base64.b64encode(key.sign(canonical(obj))).decode()
    return obj


def build_id(rng, year_from=2024, year_to=2025, sha=None):
    y = rng.randint(year_from, year_to)
    mo = rng.randint(1, 12)
    d = rng.randint(1, 28)
    h = rng.randint(0, 23)
    mi = rng.randint(0, 59)
    if sha is None:
        sha = "%0*x" % (7, rng.getrandbits(28))
        if rng.random() < 0.1:  # now and then a longer sha, up to 40 digits
            n = rng.randint(8, 40)
            sha = "%0*x" % (n, rng.getrandbits(4 * n))
    return (y, mo, d, h, mi), "%04d%02d%02d-%02d%02d-%s" % (y, mo, d, h, mi, sha)


def notes(rng):
    target = rng.randint(1, 200)
    out = []
    while len(" ".join(out)) < target:
        out.append(rng.choice(WORDS))
    text = " ".join(out)[:target].rstrip()
    return (text[:1].upper() + text[1:]) or "update"


def channel_names(n):
    """The channels of a repository of `n` (3: the default canary/staging/stable)."""
    if n == len(CHANNELS):
        return list(CHANNELS)
    width = max(5, len(str(n - 1)))
    return ["c%0*d" % (width, i) for i in range(n)]


def make_manifest(i, rng, channels):
    channel = channels[i % len(channels)]
    t, bid = build_id(rng)
    y, mo, d, h, mi = t
    created = "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, mo, d, h, mi, rng.randint(0, 59))
    sha = hashlib.sha256(("payload %d %s" % (i, bid)).encode()).hexdigest()
    if rng.random() < 0.5:
        repo = rng.choice(["CaiserSz/evse-ota", "acme/kiosk-os", "fleet/charger-fw"])
        name = repo.split("/")[1]
        art = {
            "kind": "source-tar",
            "sha256": sha,
            "url": "https://github.com/%s/releases/download/%s/%s-src-%s.tar.gz" % (repo, bid, name, bid),
        }
    else:
        device = rng.choice(["esp32-outdoor", "esp32-indoor", "evse-ac22", "kiosk-rpi4"])
        art = {
            "kind": "firmware",
            "sha256": sha,
            "url": "https://ota.example.com/releases/%s/%s/firmware-%s.bin" % (device, bid, bid),
        }
    obj = {
        "artifact": art,
        "build_id": bid,
        "channel": channel,
        "created_utc": created,
        "notes": notes(rng),
    }
    if rng.random() < 0.4:
        # min_build_id strictly earlier: the year before the build.
        _, mbid = build_id(rng, y - 1, y - 1)
        obj["min_build_id"] = mbid
    return channel, obj


def break_manifest(kind, channel, obj, key, foreign, rng, channels, one_per_channel):
    """Returns (folder, bytes) of a broken version of the manifest."""
    folder = channel
    if kind == "tampered":
        obj = sign(obj, key)
        obj["notes"] = obj["notes"] + " (edited)"
    elif kind == "foreign-key":
        obj = sign(obj, foreign)
    elif kind == "bad-build-id":
        bid = obj["build_id"]
        obj["build_id"] = bid[:4] + "13" + bid[6:]
        obj.pop("min_build_id", None)
        obj = sign(obj, key)
    elif kind == "unsigned":
        obj.pop("signature", None)
    elif kind == "wrong-folder":
        other = channels[(channels.index(channel) + 1) % len(channels)]
        if one_per_channel:
            # The other channel's folder is taken: the manifest names the other one.
            obj["channel"] = other
        else:
            folder = other
        obj = sign(obj, key)
    elif kind == "unknown-key":
        obj["rollout_percent"] = "10"
        obj = sign(obj, key)
    elif kind == "bad-sha256":
        obj["artifact"]["sha256"] = obj["artifact"]["sha256"].upper()
        obj = sign(obj, key)
    elif kind == "plain-http":
        obj["artifact"]["url"] = obj["artifact"]["url"].replace("https://", "http://", 1)
        obj = sign(obj, key)
    elif kind == "min-after-build":
        bid = obj["build_id"]
        obj["min_build_id"] = "%04d%s" % (int(bid[:4]) + 1, bid[4:13]) + "-abcdef0"
        obj = sign(obj, key)
    elif kind == "created-fraction":
        obj["created_utc"] = obj["created_utc"][:-1] + ".250Z"
        obj = sign(obj, key)
    elif kind == "future-build-id":
        obj["build_id"] = "2099" + obj["build_id"][4:]
        obj = sign(obj, key)
    elif kind == "duplicate-key":
        obj = sign(obj, key)
        text = house(obj).decode()
        line = '  "notes": %s,\n' % json.dumps("first " + obj["notes"], ensure_ascii=False)
        text = text.replace('  "notes":', line + '  "notes":', 1)
        return folder, text.encode()
    elif kind == "not-nfc":
        obj["notes"] = obj["notes"] + " cafe\u0301"
        obj = sign(obj, key)
    elif kind == "bad-signature-b64":
        obj["signature"] = "not base64!" + "A" * 77
    elif kind == "bom":
        obj = sign(obj, key)
        return folder, b"\xef\xbb\xbf" + house(obj)
    else:
        raise ValueError(kind)
    return folder, house(obj)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=None, help="manifests (default 10000; with --channels: N)")
    ap.add_argument(
        "--channels",
        type=int,
        default=None,
        metavar="N",
        help="N configured channels c00000... with one manifest each in channels/<channel>/manifest.json",
    )
    ap.add_argument("--bad", type=int, default=0, help="make N manifests invalid in assorted ways")
    args = ap.parse_args()
    if args.channels is not None:
        if args.channels < 2:
            ap.error("need --channels >= 2")
        if args.count is not None and args.count != args.channels:
            ap.error("with --channels N there is one manifest per channel: --count must be N or absent")
        args.count = args.channels
    elif args.count is None:
        args.count = 10000
    if args.count < 1 or not 0 <= args.bad <= args.count:
        ap.error("need --count >= 1 and 0 <= --bad <= --count")
    one_per_channel = args.channels is not None
    channels = channel_names(args.channels) if one_per_channel else list(CHANNELS)

    out = args.outdir
    stamp = os.path.join(out, "gen.json")
    if os.path.isdir(out) and os.listdir(out) and not os.path.exists(stamp):
        sys.exit("gen_manifests: %s exists and was not made by this script; refusing to overwrite it" % out)
    for sub in ("m", "channels", "keys"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    if os.path.exists(stamp):
        os.remove(stamp)
    os.makedirs(os.path.join(out, "keys"), exist_ok=True)

    key = Ed25519PrivateKey.from_private_bytes(TRUSTED_SEED)
    foreign = Ed25519PrivateKey.from_private_bytes(FOREIGN_SEED)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with open(os.path.join(out, "keys", "ota_pubkey.pem"), "wb") as f:
        f.write(pem)
    with open(os.path.join(out, "otactl.toml"), "w") as f:
        f.write(
            "# Benchmark channel repository written by benches/gen_manifests.py.\n"
            "channels = [%s]\n"
            "\n[signing]\n"
            'public_keys = ["keys/ota_pubkey.pem"]\n'
            "require = true\n" % ", ".join('"%s"' % c for c in channels)
        )

    rng = random.Random(20260115)
    bad_rng = random.Random(4242)
    bad_at = {i: BAD_KINDS[n % len(BAD_KINDS)] for n, i in enumerate(sorted(bad_rng.sample(range(args.count), args.bad)))}
    width = max(5, len(str(args.count - 1)))
    bad_files = []
    for i in range(args.count):
        channel, obj = make_manifest(i, rng, channels)
        if i in bad_at:
            folder, data = break_manifest(bad_at[i], channel, obj, key, foreign, rng, channels, one_per_channel)
        else:
            folder, data = channel, house(sign(obj, key))
        if one_per_channel:
            rel = os.path.join("channels", folder, "manifest.json")
        else:
            rel = os.path.join("m", "%0*d" % (width, i), folder, "manifest.json")
        os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(out, rel), "wb") as f:
            f.write(data)
        if i in bad_at:
            bad_files.append({"path": rel, "kind": bad_at[i]})

    with open(stamp, "w") as f:
        json.dump(
            {
                "version": GEN_VERSION,
                "count": args.count,
                "channels": len(channels),
                "layout": "channels" if one_per_channel else "m",
                "bad": args.bad,
                "bad_files": bad_files,
            },
            f,
            indent=2,
        )
        f.write("\n")
    print(
        "gen_manifests: %d manifests (%d bad), %d channels, in %s" % (args.count, args.bad, len(channels), out),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
