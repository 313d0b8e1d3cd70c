#!/usr/bin/env python3
"""A Python verifier doing what `otactl lint` checks per manifest file.

    python3 benches/py_lint.py REPO_DIR PATH [--jobs N] [--no-strict-keys]

Reads REPO_DIR/otactl.toml (channels, [signing] public_keys / require / ascii_only),
finds every manifest.json under PATH (relative to REPO_DIR, like `otactl -C REPO_DIR
lint PATH`) and checks each one against SPEC 2.1-2.4: size, BOM, JSON syntax,
duplicate keys, types, required and unknown keys, text rules, build ids, created_utc,
channel and folder, artifact, URL rules, the signature (strict base64, Ed25519 under
the trusted keys, required) and the house layout.

It prints one line per failing file on stdout and `checked N manifests: E errors, W
warnings` on stderr, and exits 1 when any error was found (2 on a usage or
configuration error). It is the yardstick of benches/lint.sh: stdlib + `cryptography`,
written to be faithful and reasonably fast (regexes compiled once, the trusted keys
loaded once, no per-file subprocesses).

By default it runs in ONE process: that is what a device-side verifier or a Python
CI step does. `--jobs N` spreads the files over N worker processes
(multiprocessing.Pool) so that the comparison can also be shown on all cores, like
otactl, which checks files on every core.

Known, deliberate differences from otactl (none matters for the benchmark data):
URLs are checked with urllib.parse and ipaddress rather than a WHATWG URL parser,
so exotic URLs (backslashes, `https:host` without slashes, IDNA failures, odd IPv4
forms like `127.1`) may be judged differently; the house-layout comparison uses
Python's encoder, which differs from serde_json only for non-string values (already
errors); the signed bytes use json.dumps, which escapes control characters where
OLPC canonical JSON does not (such files already fail the text rules).
"""

import argparse
import base64
import binascii
import datetime
import hashlib
import ipaddress
import json
import os
import re
import sys
import tomllib
import unicodedata
import urllib.parse
from json.encoder import encode_basestring as _q  # the C string encoder, ensure_ascii=False

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MAX_MANIFEST_BYTES = 64 * 1024
MAX_NOTES_CHARS = 500
TOP_KEYS = frozenset(["artifact", "build_id", "channel", "created_utc", "min_build_id", "notes", "signature"])
REQUIRED_TOP = ("artifact", "build_id", "channel", "created_utc", "notes")
ARTIFACT_KEYS = ("kind", "sha256", "url")
ARTIFACT_KEY_SET = frozenset(ARTIFACT_KEYS)
KINDS = frozenset(["source-tar", "firmware", "oci"])

# re.ASCII: `\d` and friends must not match non-ASCII digits; fullmatch, never `$`
# (which also matches before a final newline).
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
SPACE_RE = re.compile(r"\s")  # str patterns: the characters of str.isspace()
SHA256_RE = re.compile(r"[0-9a-f]{64}")
HEX_RE = re.compile(r"[0-9a-fA-F]{64}")
LOWER_HEX_RE = re.compile(r"[0-9a-f]*")
DIGITS_RE = re.compile(r"[0-9]*")
CREATED_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z")
SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")
B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
OCI_PART_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
OCI_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
FORBIDDEN_HOST_CHARS = frozenset(" #/:<>?@[\\]^|")

# Encodings (sign bit cleared) of the Ed25519 points of small order, including the
# non-canonical ones: ed25519-dalek refuses them as keys (`is_weak`) and as `R` in
# `verify_strict`; OpenSSL (under `cryptography`) does not, so check them here.
SMALL_ORDER = frozenset(
    bytes.fromhex(h)
    for h in (
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    )
)


def small_order(enc):
    return enc[:31] + bytes([enc[31] & 0x7F]) in SMALL_ORDER


class Config:
    """What every file is checked against (the run's settings)."""

    def __init__(self, channels, trusted, require, ascii_only, strict_keys, now):
        self.channels = channels
        self.channel_set = frozenset(channels)
        self.trusted = trusted  # list of (key id, Ed25519PublicKey)
        self.require = require
        self.ascii_only = ascii_only
        self.strict_keys = strict_keys
        # Build ids may not lie more than a day after now; compared as tuples.
        limit = now + datetime.timedelta(days=1)
        self.future_limit = (limit.year, limit.month, limit.day, limit.hour, limit.minute, limit.second, limit.microsecond)


class DuplicateKeys(list):
    pass


def _no_constant(name):
    raise ValueError("invalid JSON: `%s` is not JSON" % name)


# ---------------------------------------------------------------- dates and ids


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _real_date(y, mo, d):
    # Year 0 is a real year for otactl (the `time` crate); datetime starts at year 1,
    # so the calendar is checked by hand.
    if not 1 <= mo <= 12:
        return False
    days = 29 if mo == 2 and _leap(y) else _DAYS[mo]
    return 1 <= d <= days


def parse_build_id(s):
    """Returns ((y, mo, d, h, mi), None) or (None, reason), like otactl's BuildId."""
    if len(s) < 21 or s[8] != "-" or s[13] != "-":
        return None, "it does not have the three parts `YYYYMMDD`, `HHMM` and a git sha"
    if not (DIGITS_RE.fullmatch(s, 0, 8) and DIGITS_RE.fullmatch(s, 9, 13)):
        return None, "the date and time must be digits"
    sha = s[14:]
    if len(sha.encode()) > 40:
        return None, "the git sha is longer than 40 hex digits"
    if not LOWER_HEX_RE.fullmatch(sha):
        return None, "the git sha must be lowercase hex digits"
    y, mo, d, h, mi = int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[9:11]), int(s[11:13])
    if not 1 <= mo <= 12:
        return None, "month %02d does not exist" % mo
    if not _real_date(y, mo, d):
        return None, "day %02d does not exist in %04d-%02d" % (d, y, mo)
    if h > 23:
        return None, "hour %02d does not exist" % h
    if mi > 59:
        return None, "minute %02d does not exist" % mi
    return (y, mo, d, h, mi), None


def check_created_utc(s):
    """None when `s` is `YYYY-MM-DDTHH:MM:SSZ` and a real instant, else the reason."""
    if len(s) > 19 and s[19] == ".":
        return "has a fraction of a second"
    if len(s) >= 19 and not s.endswith("Z"):
        return "has a UTC offset instead of `Z`" if s[19:20] in ("+", "-") else "does not end with `Z`"
    if len(s) != 20:
        return "is not in the required form"
    m = CREATED_RE.fullmatch(s)
    if m is None:
        return "is not a real date and time"
    y, mo, d, h, mi, sec = map(int, m.groups())
    if not _real_date(y, mo, d) or h > 23 or mi > 59 or sec > 59:
        return "is not a real date and time"
    return None


# ---------------------------------------------------------------------- URLs


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_oci_url(s):
    bad = "`%s` is not of the form `oci://REGISTRY/REPOSITORY:TAG`" % s
    rest = s[len("oci://"):]
    registry, slash, path = rest.partition("/")
    if not slash:
        return bad
    repository, colon, tag = path.rpartition(":")
    if not colon:
        return bad
    if not registry or not repository or not all(OCI_PART_RE.fullmatch(p) for p in repository.split("/")):
        return bad
    if not OCI_TAG_RE.fullmatch(tag) or tag[0] in ".-":
        return bad
    return None


def check_url(s, kind):
    """None when the URL obeys SPEC 2.1 for this artifact kind, else the reason."""
    if SPACE_RE.search(s):
        return "contains white space"
    try:
        u = urllib.parse.urlsplit(s)
        u.port  # raises ValueError on a bad port
    except ValueError as e:
        return "`%s` is not a URL: %s" % (s, e)
    scheme = u.scheme
    if not scheme:
        return "`%s` is not a URL: relative URL without a base" % s
    if "@" in u.netloc:
        return "must not carry a user name or password; use a token or registry credentials instead"
    host = u.hostname or ""
    if "[" in u.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "`%s` is not a URL: invalid IPv6 address" % s
    elif any(c in FORBIDDEN_HOST_CHARS for c in host):
        return "`%s` is not a URL: invalid domain character" % s
    is_oci = scheme == "oci"
    if scheme == "https":
        pass
    elif scheme == "http":
        if not _loopback(host):
            return "`%s` uses plain http; use https (http is accepted only for loopback hosts)" % s
    elif scheme == "file":
        if len(u.path) <= 1:
            return "`%s` names no file" % s
    elif is_oci:
        reason = check_oci_url(s)
        if reason:
            return reason
    else:
        return "has the scheme `%s`; use `https://`, `file://` or `oci://REGISTRY/REPOSITORY:TAG`" % scheme
    if not is_oci and not host and scheme != "file":
        return "`%s` names no host" % s
    if kind == "oci" and not is_oci:
        return "must be `oci://REGISTRY/REPOSITORY:TAG` for `artifact.kind` `oci`"
    if is_oci and kind is not None and kind != "oci":
        return "is an `oci://` URL but `artifact.kind` is `%s`; use kind `oci`" % kind
    return None


# ------------------------------------------------------------------ the checks


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return "a string"


def _has_surrogate(v):
    if isinstance(v, str):
        try:
            v.encode()
            return False
        except UnicodeEncodeError:
            return True
    if isinstance(v, dict):
        return any(_has_surrogate(k) or _has_surrogate(x) for k, x in v.items())
    if isinstance(v, list):
        return any(_has_surrogate(x) for x in v)
    return False


def b64_strict(s):
    """Standard base64 with canonical padding and zero trailing bits, else None."""
    if len(s) % 4 or not B64_RE.fullmatch(s):
        return None
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == s else None


def check_bytes(data, folder, cfg):
    """Checks one manifest file's bytes; returns (errors, warnings), lists of messages."""
    errors = []
    warnings = []
    if not data:
        errors.append("the file is empty; a manifest is a JSON object")
        return errors, warnings
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        errors.append("the file starts with a byte-order mark (U+FEFF)")
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        errors.append("the file is not valid UTF-8")
        return errors, warnings

    dups = DuplicateKeys()

    def pairs_hook(pairs):
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen = set()
            for k, _ in pairs:
                if k in seen:
                    dups.append(k)
                seen.add(k)
        return obj

    try:
        obj = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        errors.append("invalid JSON: %s" % e)
        return errors, warnings
    # serde_json refuses lone surrogates (`"\ud800"`), Python's json does not.
    if "\\" in text and SURROGATE_ESCAPE_RE.search(text) and _has_surrogate(obj):
        errors.append("invalid JSON: lone surrogate in a \\u escape")
        return errors, warnings
    if not isinstance(obj, dict):
        errors.append("the manifest must be a JSON object, found %s" % _type_name(obj))
        return errors, warnings
    for k in dups:
        errors.append('duplicate key "%s"' % k)

    ascii_only = cfg.ascii_only

    def string(key, value):
        """The text rules; returns the string when it passes them."""
        if type(value) is not str:
            errors.append("`%s` must be a string, found %s" % (key, _type_name(value)))
            return None
        if value.isascii():
            if CONTROL_RE.search(value):
                errors.append("`%s` contains a control character" % key)
                return None
            return value
        ok = True
        if CONTROL_RE.search(value):
            errors.append("`%s` contains a control character" % key)
            ok = False
        if not unicodedata.is_normalized("NFC", value):
            errors.append("`%s` is not in Unicode NFC form" % key)
            ok = False
        if ascii_only:
            errors.append("`%s` contains non-ASCII text (`ascii_only` is set)" % key)
            ok = False
        else:
            warnings.append("`%s` contains non-ASCII text" % key)
        return value if ok else None

    # Keys: unknown and missing.
    for key in obj:
        if key not in TOP_KEYS:
            if cfg.strict_keys:
                errors.append('unknown key "%s" (strict keys)' % key)
            else:
                warnings.append('unknown key "%s"' % key)
    for key in REQUIRED_TOP:
        if key not in obj:
            errors.append('missing required key "%s"' % key)

    strings = {}
    for key, value in obj.items():
        if key != "artifact":
            s = string(key, value)
            if s is not None:
                strings[key] = s

    if "artifact" in obj:
        art = obj["artifact"]
        if type(art) is dict:
            for key in art:
                if key not in ARTIFACT_KEY_SET:
                    if cfg.strict_keys:
                        errors.append('unknown key "artifact.%s" (strict keys)' % key)
                    else:
                        warnings.append('unknown key "artifact.%s"' % key)
            for key in ARTIFACT_KEYS:
                if key not in art:
                    errors.append('missing required key "artifact.%s"' % key)
            astr = {}
            for key, value in art.items():
                s = string("artifact." + key, value)
                if s is not None:
                    astr[key] = s
            kind = astr.get("kind")
            if kind is not None and kind not in KINDS:
                errors.append("`artifact.kind` `%s` is not one of `source-tar`, `firmware`, `oci`" % kind)
                kind = None
            sha = astr.get("sha256")
            if sha is not None and not SHA256_RE.fullmatch(sha):
                found = "uppercase hex digits" if HEX_RE.fullmatch(sha) else "%d characters" % len(sha)
                errors.append("`artifact.sha256` must be 64 lowercase hex digits, found %s" % found)
            url = astr.get("url")
            if url is not None:
                reason = check_url(url, kind)
                if reason:
                    errors.append("`artifact.url` " + reason)
        else:
            errors.append("`artifact` must be an object, found %s" % _type_name(art))

    channel = strings.get("channel")
    if channel is not None:
        if channel not in cfg.channel_set:
            errors.append("`channel` `%s` is not one of the repository's channels (%s)" % (channel, ", ".join(cfg.channels)))
        elif folder is not None and folder != channel:
            errors.append("`channel` is `%s` but the file is in the folder `%s`" % (channel, folder))

    build = None
    bid = strings.get("build_id")
    if bid is not None:
        build, reason = parse_build_id(bid)
        if reason:
            errors.append("`build_id`: `%s` is not a build id: %s" % (bid, reason))
        elif build + (0, 0) > cfg.future_limit:
            errors.append("`build_id` `%s` is more than a day in the future" % bid)
    mid = strings.get("min_build_id")
    if mid is not None:
        minimum, reason = parse_build_id(mid)
        if reason:
            errors.append("`min_build_id`: `%s` is not a build id: %s" % (mid, reason))
        elif build is not None and minimum > build:
            errors.append("`min_build_id` `%s` is later than `build_id` `%s`" % (mid, bid))
    created = strings.get("created_utc")
    if created is not None:
        reason = check_created_utc(created)
        if reason:
            errors.append("`created_utc` `%s` %s; expected `YYYY-MM-DDTHH:MM:SSZ` in UTC" % (created, reason))
    note = strings.get("notes")
    if note is not None and len(note) > MAX_NOTES_CHARS:
        errors.append("`notes` is %d characters long, more than %d" % (len(note), MAX_NOTES_CHARS))

    # Signature: strict base64 of 64 bytes, required by policy, valid under a trusted key.
    sig_text = obj.get("signature")
    sig = None
    if type(sig_text) is str and sig_text:
        sig = b64_strict(sig_text)
        if "signature" in strings:
            if sig is None:
                errors.append("`signature` is not standard base64 with padding")
            elif len(sig) != 64:
                errors.append("`signature` decodes to %d bytes; an Ed25519 signature is 64 bytes" % len(sig))
        if sig is not None and len(sig) != 64:
            sig = None
    elif cfg.require:
        errors.append("the manifest is not signed, and signatures are required")
    if sig is not None:
        if not cfg.trusted:
            warnings.append("the signature was not checked: no trusted public key")
        else:
            unsigned = dict(obj)
            del unsigned["signature"]
            message = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
                "utf-8", "surrogatepass"
            )
            if not verify(cfg.trusted, message, sig):
                errors.append(
                    "the signature does not verify under any trusted key (%s)" % ", ".join(k for k, _ in cfg.trusted)
                )

    # House layout (a warning, as in otactl; not checked after a BOM, which is an error).
    if not bom:
        layout = house_layout(obj).encode("utf-8", "surrogatepass")
        if layout != data:
            warnings.append("not in the house layout (sorted keys, two-space indent, final newline)")
    return errors, warnings


def house_layout(obj):
    """json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n".

    The indenting encoder of the json module is pure Python; for the usual shape
    (strings, and one object of strings) the same text is built with the C string
    encoder, else json.dumps does it.
    """
    parts = []
    for k in sorted(obj):
        v = obj[k]
        if type(v) is str:
            parts.append("  %s: %s" % (_q(k), _q(v)))
        elif type(v) is dict and v and all(type(x) is str for x in v.values()):
            inner = ",\n".join("    %s: %s" % (_q(ik), _q(v[ik])) for ik in sorted(v))
            parts.append("  %s: {\n%s\n  }" % (_q(k), inner))
        else:
            return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if not parts:
        return "{}\n"
    return "{\n" + ",\n".join(parts) + "\n}\n"


def verify(trusted, message, sig):
    # verify_strict: a small-order R is refused (OpenSSL already refuses S >= L).
    if small_order(sig[:32]):
        return False
    for _, key in trusted:
        try:
            key.verify(sig, message)
            return True
        except InvalidSignature:
            pass
    return False


# ------------------------------------------------------------ files and config


def check_file(path, cfg):
    """(path, errors, warnings) for one file."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_MANIFEST_BYTES:
                return path, ["the file is %d bytes, more than the %d a manifest may have" % (size, MAX_MANIFEST_BYTES)], []
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as e:
        return path, ["cannot read: %s" % e.strerror], []
    if len(data) > MAX_MANIFEST_BYTES:
        return path, ["the file is larger than %d bytes" % MAX_MANIFEST_BYTES], []
    # The folder that holds a `manifest.json` must be its channel.
    folder = os.path.basename(os.path.dirname(path)) if os.path.basename(path) == "manifest.json" else None
    errors, warnings = check_bytes(data, folder, cfg)
    return path, errors, warnings


def find_manifests(path):
    if not os.path.isdir(path):
        return [path]
    found = []
    stack = [path]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                if e.is_dir(follow_symlinks=False):
                    if e.name != ".git":
                        stack.append(e.path)
                elif e.name == "manifest.json":
                    found.append(e.path)
    found.sort()
    return found


def load_key(path):
    """(key id, key) of a trusted SPKI public key file; a weak key is refused."""
    with open(path, "rb") as f:
        data = f.read(64 * 1024 + 1)
    if data.lstrip().startswith(b"-----BEGIN "):
        key = serialization.load_pem_public_key(data)
    else:
        key = serialization.load_der_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("is not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    if small_order(raw):
        raise ValueError("is a weak Ed25519 public key (small order)")
    return hashlib.sha256(raw).hexdigest()[:16], key


def load_config(repo, strict_keys):
    """The settings of `otactl.toml` in the repository (defaults when absent)."""
    conf = {}
    path = os.path.join(repo, "otactl.toml")
    if os.path.exists(path):
        with open(path, "rb") as f:
            conf = tomllib.load(f)
    signing = conf.get("signing", {})
    channels = conf.get("channels", ["canary", "staging", "stable"])
    trusted = []
    key_errors = []
    for p in signing.get("public_keys", []):
        try:
            trusted.append(load_key(os.path.join(repo, p)))
        except (OSError, ValueError) as e:
            key_errors.append((p, "trusted key file %s" % e))
    now = datetime.datetime.now(datetime.timezone.utc)
    cfg = Config(channels, trusted, bool(signing.get("require", False)), bool(signing.get("ascii_only", False)), strict_keys, now)
    return cfg, key_errors


_worker_cfg = None


def _init_worker(cfg_args):
    global _worker_cfg
    repo, strict_keys = cfg_args
    _worker_cfg, _ = load_config(repo, strict_keys)


def _check_in_worker(path):
    return check_file(path, _worker_cfg)


def main():
    ap = argparse.ArgumentParser(description="Python verifier with the checks of `otactl lint` (benchmark yardstick).")
    ap.add_argument("repo", help="the channel repository (holds otactl.toml)")
    ap.add_argument("path", help="folder (searched for manifest.json) or file, relative to REPO")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: a single process)")
    ap.add_argument("--no-strict-keys", action="store_true", help="unknown keys are warnings")
    args = ap.parse_args()

    try:
        os.chdir(args.repo)
        cfg, key_errors = load_config(".", not args.no_strict_keys)
        files = find_manifests(args.path)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2

    results = [(p, [m], []) for p, m in key_errors]
    if args.jobs > 1 and len(files) >= 64:
        import multiprocessing

        chunk = max(1, len(files) // (args.jobs * 8))
        with multiprocessing.Pool(args.jobs, _init_worker, ((".", not args.no_strict_keys),)) as pool:
            results.extend(pool.imap(_check_in_worker, files, chunksize=chunk))
    else:
        # A single process: what a device-side or CI Python verifier does.
        results.extend(check_file(p, cfg) for p in files)

    n_err = n_warn = 0
    out = []
    for path, errors, warnings in results:
        n_err += len(errors)
        n_warn += len(warnings)
        if errors:
            out.append("%s: %d error%s: %s" % (path, len(errors), "" if len(errors) == 1 else "s", "; ".join(errors)))
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    print(
        "%s %d manifests: %d errors, %d warnings" % ("checked" if n_err == 0 else "failed", len(results), n_err, n_warn),
        file=sys.stderr,
    )
    return 1 if n_err else 0


if __name__ == "__main__":
    sys.exit(main())
