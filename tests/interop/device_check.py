#!/usr/bin/env python3
"""Device-side check of signed otactl channel manifests, as a station runs it.

    python3 tests/interop/device_check.py --pubkey PUB.pem [--expect-fail] MANIFEST.json...

For each file: parse the JSON (duplicate keys refused), require a non-empty
`signature`, remove it, compute the canonical bytes
`json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`,
require securesystemslib's `encode_canonical` to give the same bytes (SPEC 2.3),
strictly base64-decode the 64-byte signature (re-encoding must give the same
text: `b64decode(validate=True)` alone accepts non-zero padding bits, i.e. 16
spellings of one signature) and verify it with `cryptography`.

`cryptography` (OpenSSL) alone is not strict enough for SPEC 2.3: it accepts the
forgery R = identity, S = 0 under the identity public key. So this checker also
refuses, like ed25519-dalek's `verify_strict`:
  * a public key, or a signature R, that is one of the 8 small-order points
    (compared with the x-sign bit cleared, so their sign-flipped encodings are
    refused too) or a non-canonical encoding (y >= p);
  * a signature whose S is not below the group order L (malleated S + L).

Prints `ok PATH` or `FAIL PATH: REASON` per file (with --expect-fail,
`rejected, as expected: PATH: REASON`). Exit status: 0 when every
file passed (with --expect-fail: when every file failed), 1 otherwise, 2 on
usage errors (bad arguments, unreadable or non-Ed25519 public key). A weak
public key loads but makes every file FAIL, so --expect-fail can show it.
"""

import argparse
import base64
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from securesystemslib.formats import encode_canonical

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
SMALL_ORDER = [bytes.fromhex(h) for h in (
    "0100000000000000000000000000000000000000000000000000000000000000",  # order 1 (identity)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
    "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
    "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
)]
_SMALL_Y = {p[:31] + bytes([p[31] & 0x7F]) for p in SMALL_ORDER}


def weak_point(enc):
    """Why a 32-byte point encoding is refused, or None if it is acceptable."""
    y = enc[:31] + bytes([enc[31] & 0x7F])
    if int.from_bytes(y, "little") >= P:
        return "non-canonical point encoding"
    if y in _SMALL_Y:
        return "small-order point"
    return None


def load_pubkey(path):
    """Load an SPKI PEM Ed25519 public key (weakness is checked per file)."""
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate key {k!r}")
        obj[k] = v
    return obj


def check(path, key):
    """Verify one manifest file; raise ValueError with the reason on failure."""
    why = weak_point(key.public_bytes_raw())
    if why:
        raise ValueError(f"public key refused: {why}")
    with open(path, "rb") as f:
        obj = json.loads(f.read().decode("utf-8"), object_pairs_hook=_no_duplicates)
    if not isinstance(obj, dict):
        raise ValueError("manifest is not a JSON object")
    sig_b64 = obj.pop("signature", "")
    if not isinstance(sig_b64, str) or not sig_b64:
        raise ValueError("missing or empty signature")
    message = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    if encode_canonical(obj).encode() != message:
        raise ValueError("json.dumps and securesystemslib canonical forms differ")
    try:
        sig = base64.b64decode(sig_b64, validate=True)
    except ValueError as e:
        raise ValueError(f"signature is not strict base64: {e}") from None
    if len(sig) != 64:
        raise ValueError(f"signature is {len(sig)} bytes, not 64")
    if base64.b64encode(sig).decode() != sig_b64:
        raise ValueError("signature is not canonical base64 (non-zero padding bits)")
    if int.from_bytes(sig[32:], "little") >= L:
        raise ValueError("non-canonical signature: S >= L")
    why = weak_point(sig[:32])
    if why:
        raise ValueError(f"signature R is a {why}")
    try:
        key.verify(sig, message)
    except InvalidSignature:
        raise ValueError("bad signature") from None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pubkey", required=True, help="trusted Ed25519 public key (SPKI PEM)")
    ap.add_argument("--expect-fail", action="store_true",
                    help="succeed only if every manifest FAILS verification")
    ap.add_argument("manifests", nargs="+", metavar="MANIFEST.json")
    args = ap.parse_args(argv)
    try:
        key = load_pubkey(args.pubkey)
    except (OSError, ValueError) as e:
        print(f"device_check: cannot use public key {args.pubkey}: {e}", file=sys.stderr)
        return 2
    passed = 0
    for path in args.manifests:
        try:
            check(path, key)
        except (OSError, ValueError) as e:  # JSONDecodeError/UnicodeError are ValueErrors
            verdict = "rejected, as expected:" if args.expect_fail else "FAIL"
            print(f"{verdict} {path}: {e}")
        else:
            passed += 1
            print(f"ok {path}")
    if args.expect_fail:
        return 0 if passed == 0 else 1
    return 0 if passed == len(args.manifests) else 1


if __name__ == "__main__":
    sys.exit(main())
