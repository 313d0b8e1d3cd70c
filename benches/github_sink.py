#!/usr/bin/env python3
"""A minimal GitHub releases API and upload sink for benches/upload.sh (issue #8).

    python3 benches/github_sink.py [--port-file FILE] [--log FILE] [--token T] [--idle-exit S]
    python3 benches/github_sink.py --self-test        # plays the publish flow by hand; exit 0/1

Listens on 127.0.0.1 on a free port and prints that port as the first line of stdout
(and writes it to --port-file, if given). Threaded, HTTP/1.1 with keep-alive, standard
library only. It answers just enough of GitHub's REST API for
`otactl publish github FILE --tag T --repo O/R --api-url http://127.0.0.1:PORT`:

    GET    /repos/O/R/releases?per_page=&page=       list (drafts too), Link header
    POST   /repos/O/R/releases                       201 a draft (or not) release
    GET    /repos/O/R/releases/ID                    the release with its assets
    GET    /repos/O/R/releases/tags/TAG              published releases only, as GitHub
    PATCH  /repos/O/R/releases/ID                    draft, name, tag_name, ...
    GET    /repos/O/R/releases/ID/assets?per_page=   its assets
    GET    /repos/O/R/releases/assets/ID             the asset JSON (no bytes are kept)
    DELETE /repos/O/R/releases/assets/ID             204
    POST   /uploads/repos/O/R/releases/ID/assets?name=N   the body is read by
           Content-Length and thrown away (no hashing: the sink must not be the
           bottleneck), 201 an asset with "digest": null; 422 already_exists for a
           second asset of the same name, as GitHub
    PUT/POST /sink/ANYTHING                          the body is thrown away, 201 {}
                                                     (for `curl -T FILE URL`)

The API and uploads share the one port (upload_url names it). Every answer carries
x-ratelimit-limit/-remaining/-reset. The API and upload paths need the header
`Authorization: Bearer|token <--token>` (default bench-token); /sink/ needs none.

For each body received (uploads and /sink/) the sink writes one line to stderr and,
with --log FILE, one JSON line to FILE: {"path", "bytes", "first_to_last" (seconds
from the first to the last byte of the body, as the sink sees it), "headers_to_last"
(from the end of the headers), "expect_100"}. The sink stops on SIGTERM/SIGINT, or by
itself after --idle-exit seconds without a request (default 900).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20  # one read of a body
NAME_OK = re.compile(r"^[A-Za-z0-9._+-]+$")
DOCS = "https://docs.github.com/rest/releases"


class State:
    """The releases of every repository, behind one lock."""

    def __init__(self, token, log):
        self.token = token
        self.log_path = log
        self.lock = threading.Lock()
        self.next_id = 1000
        self.releases = {}  # id -> release dict (internal form)
        self.assets = {}  # asset id -> (release id, asset dict)
        self.last_request = time.monotonic()
        self.busy = 0
        self.connections = 0  # accepted, for the self-test of keep-alive

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def record(self, entry):
        line = json.dumps(entry)
        print("github_sink: body %s: %d bytes, %.3f s first to last byte (%.0f MB/s)"
              % (entry["path"], entry["bytes"], entry["first_to_last"],
                 entry["bytes"] / max(entry["first_to_last"], 1e-9) / 1e6), file=sys.stderr, flush=True)
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(line + "\n")


def untagged(rid):
    return "untagged-%016x" % ((rid * 0x9E3779B97F4A7C15) % (1 << 64))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "github_sink/1"
    # The headers of an answer go out with its body in one write (answer() flushes),
    # and without Nagle's delay.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def handle_expect_100(self):
        # The base class writes the 100 into the buffered wfile and does not flush it:
        # curl would wait its 1 s for it before sending the body.
        ok = super().handle_expect_100()
        self.wfile.flush()
        return ok

    def log_message(self, fmt, *args):  # quiet: the bench reads stderr for body lines only
        pass

    def setup(self):
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1

    # ------------------------------------------------------------ plumbing
    @property
    def state(self):
        return self.server.state

    def base(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def answer(self, status, body=None, headers=()):
        data = b"" if body is None else json.dumps(body, indent=None).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ratelimit-limit", "5000")
        self.send_header("x-ratelimit-remaining", "4999")
        self.send_header("x-ratelimit-reset", str(int(time.time()) + 3600))
        self.send_header("x-ratelimit-used", "1")
        self.send_header("x-github-api-version-selected", "2022-11-28")
        for k, v in headers:
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def error(self, status, message, **extra):
        body = {"message": message, "documentation_url": DOCS, "status": str(status)}
        body.update(extra)
        self.answer(status, body)

    def body_length(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return None
        v = self.headers.get("Content-Length")
        if v is None:
            return 0
        try:
            n = int(v)
        except ValueError:
            return -1
        return n if n >= 0 else -1

    def refuse_body(self, status, message, **extra):
        """An error before the body is read: the connection cannot be reused."""
        self.close_connection = True
        self.error(status, message, **extra)

    def read_json(self):
        n = self.body_length()
        if n is None or n < 0:
            self.refuse_body(411, "Content-Length required")
            return None
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            self.error(400, "Problems parsing JSON")
            return None
        if not isinstance(value, dict):
            self.error(400, "Problems parsing JSON")
            return None
        return value

    def discard_body(self, n):
        """Reads n bytes in CHUNK readinto calls into one buffer and drops them."""
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        t_headers = time.monotonic()
        left = n
        t_first = None
        if left:
            # peek blocks until the first byte is there: the time of the first byte.
            if not self.rfile.peek(1):
                self.close_connection = True
                return None
            t_first = time.monotonic()
        readinto = self.rfile.readinto
        while left:
            got = readinto(view[:left] if left < CHUNK else view)
            if not got:
                self.close_connection = True
                print("github_sink: %s: the client closed after %d of %d bytes" % (self.path, n - left, n),
                      file=sys.stderr, flush=True)
                return None
            left -= got
        t_last = time.monotonic()
        entry = {"path": urllib.parse.urlsplit(self.path).path, "bytes": n,
                 "first_to_last": (t_last - t_first) if t_first else 0.0,
                 "headers_to_last": t_last - t_headers,
                 "expect_100": self.headers.get("Expect", "").lower() == "100-continue"}
        self.state.record(entry)
        return entry

    def authorised(self):
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip() == self.state.token:
            return True
        return False

    # ------------------------------------------------------------- JSON
    def asset_json(self, rel, a):
        tag = untagged(rel["id"]) if rel["draft"] else rel["tag_name"]
        return {
            "id": a["id"], "node_id": "RA_%d" % a["id"], "name": a["name"], "label": a["label"],
            "state": a["state"], "content_type": a["content_type"], "size": a["size"],
            "digest": None, "download_count": 0,
            "created_at": a["created_at"], "updated_at": a["created_at"],
            "url": "%s/repos/%s/releases/assets/%d" % (self.base(), rel["repo"], a["id"]),
            "browser_download_url": "%s/%s/releases/download/%s/%s"
            % (self.base(), rel["repo"], urllib.parse.quote(tag, safe=""), urllib.parse.quote(a["name"], safe="")),
            "uploader": {"login": "bench"},
        }

    def release_json(self, rel):
        tag = untagged(rel["id"]) if rel["draft"] else rel["tag_name"]
        base, repo, rid = self.base(), rel["repo"], rel["id"]
        return {
            "id": rid, "node_id": "RE_%d" % rid, "tag_name": rel["tag_name"], "name": rel["name"],
            "body": rel["body"], "draft": rel["draft"], "prerelease": rel["prerelease"],
            "immutable": False, "target_commitish": rel["target_commitish"],
            "created_at": rel["created_at"], "published_at": rel["published_at"],
            "url": "%s/repos/%s/releases/%d" % (base, repo, rid),
            "assets_url": "%s/repos/%s/releases/%d/assets" % (base, repo, rid),
            "upload_url": "%s/uploads/repos/%s/releases/%d/assets{?name,label}" % (base, repo, rid),
            "html_url": "%s/%s/releases/tag/%s" % (base, repo, urllib.parse.quote(tag, safe="")),
            "tarball_url": "%s/repos/%s/tarball/%s" % (base, repo, rel["tag_name"]),
            "zipball_url": "%s/repos/%s/zipball/%s" % (base, repo, rel["tag_name"]),
            "author": {"login": "bench"},
            "assets": [self.asset_json(rel, a) for a in rel["assets"]],
        }

    def paginate(self, items, query, path):
        try:
            per_page = max(1, min(100, int(query.get("per_page", ["30"])[0])))
            page = max(1, int(query.get("page", ["1"])[0]))
        except ValueError:
            per_page, page = 30, 1
        chunk = items[(page - 1) * per_page: page * per_page]
        last = max(1, (len(items) + per_page - 1) // per_page)
        links = []
        url = "%s%s?per_page=%d&page=%%d" % (self.base(), path, per_page)
        if page < last:
            links += ['<%s>; rel="next"' % (url % (page + 1)), '<%s>; rel="last"' % (url % last)]
        if page > 1:
            links += ['<%s>; rel="first"' % (url % 1), '<%s>; rel="prev"' % (url % (page - 1))]
        self.answer(200, chunk, [("Link", ", ".join(links))] if links else [])

    # ----------------------------------------------------------- routing
    def do_GET(self):
        self.route("GET")

    def do_HEAD(self):
        self.route("HEAD")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        st = self.state
        with st.lock:
            st.busy += 1
        try:
            self.route_inner(method)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            self.close_connection = True
            try:
                self.error(500, "github_sink: internal error (see its stderr)")
            except OSError:
                pass
        finally:
            with st.lock:
                st.busy -= 1
                st.last_request = time.monotonic()

    def route_inner(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        seg = [urllib.parse.unquote(s) for s in url.path.split("/")[1:]]

        if seg and seg[0] == "sink":
            if method not in ("PUT", "POST"):
                return self.refuse_body(405, "the sink takes PUT or POST of a body")
            n = self.body_length()
            if n is None or n < 0:
                return self.refuse_body(411, "Content-Length required")
            if self.discard_body(n) is not None:
                self.answer(201, {})
            return

        if not self.authorised():
            return self.refuse_body(401, "Bad credentials")

        if len(seg) >= 6 and seg[0] == "uploads" and seg[1] == "repos" and seg[4] == "releases" and seg[6:] == ["assets"] and len(seg) == 7:
            if method != "POST":
                return self.refuse_body(404, "Not Found")
            return self.upload(seg[2] + "/" + seg[3], seg[5], query)

        if len(seg) < 4 or seg[0] != "repos" or seg[3] != "releases":
            return self.refuse_body(404, "Not Found")
        repo, rest = seg[1] + "/" + seg[2], seg[4:]

        if rest == [] and method in ("GET", "HEAD"):
            with self.state.lock:
                rels = [r for r in self.state.releases.values() if r["repo"] == repo]
                rels.sort(key=lambda r: -r["id"])  # newest first, as GitHub
                items = [self.release_json(r) for r in rels]
            return self.paginate(items, query, url.path)
        if rest == [] and method == "POST":
            return self.create_release(repo)
        if len(rest) == 2 and rest[0] == "tags" and method in ("GET", "HEAD"):
            with self.state.lock:
                for r in self.state.releases.values():
                    if r["repo"] == repo and r["tag_name"] == rest[1] and not r["draft"]:
                        return self.answer(200, self.release_json(r))
            return self.error(404, "Not Found")
        if len(rest) == 2 and rest[0] == "assets":
            return self.asset_by_id(repo, rest[1], method)
        if rest and rest[0].isdigit():
            with self.state.lock:
                rel = self.state.releases.get(int(rest[0]))
                if rel is None or rel["repo"] != repo:
                    rel = None
            if rel is None:
                return self.refuse_body(404, "Not Found")
            if len(rest) == 1 and method in ("GET", "HEAD"):
                with self.state.lock:
                    return self.answer(200, self.release_json(rel))
            if len(rest) == 1 and method == "PATCH":
                return self.patch_release(rel)
            if len(rest) == 1 and method == "DELETE":
                with self.state.lock:
                    self.state.releases.pop(rel["id"], None)
                    for a in rel["assets"]:
                        self.state.assets.pop(a["id"], None)
                return self.answer(204)
            if rest[1:] == ["assets"] and method in ("GET", "HEAD"):
                with self.state.lock:
                    items = [self.asset_json(rel, a) for a in rel["assets"]]
                return self.paginate(items, query, url.path)
        return self.refuse_body(404, "Not Found")

    # ---------------------------------------------------------- endpoints
    def create_release(self, repo):
        body = self.read_json()
        if body is None:
            return
        tag = body.get("tag_name")
        if not isinstance(tag, str) or not tag:
            return self.error(422, "Validation Failed",
                              errors=[{"resource": "Release", "code": "missing_field", "field": "tag_name"}])
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.state.lock:
            for r in self.state.releases.values():
                # GitHub refuses a second published release of a tag; drafts may share one.
                if r["repo"] == repo and r["tag_name"] == tag and not r["draft"] and not body.get("draft", False):
                    return self.error(422, "Validation Failed",
                                      errors=[{"resource": "Release", "code": "already_exists", "field": "tag_name"}])
            rid = self.state.new_id()
            draft = bool(body.get("draft", False))
            rel = {"id": rid, "repo": repo, "tag_name": tag, "name": body.get("name") or tag,
                   "body": body.get("body") or "", "draft": draft,
                   "prerelease": bool(body.get("prerelease", False)),
                   "target_commitish": body.get("target_commitish") or "main",
                   "created_at": now, "published_at": None if draft else now, "assets": []}
            self.state.releases[rid] = rel
            out = self.release_json(rel)
        self.answer(201, out, [("Location", out["url"])])

    def patch_release(self, rel):
        body = self.read_json()
        if body is None:
            return
        with self.state.lock:
            for key in ("tag_name", "name", "body", "target_commitish"):
                if isinstance(body.get(key), str):
                    rel[key] = body[key]
            for key in ("draft", "prerelease"):
                if isinstance(body.get(key), bool):
                    rel[key] = body[key]
            if not rel["draft"] and rel["published_at"] is None:
                rel["published_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            out = self.release_json(rel)
        self.answer(200, out)

    def asset_by_id(self, repo, aid, method):
        with self.state.lock:
            found = self.state.assets.get(int(aid)) if aid.isdigit() else None
            rel = self.state.releases.get(found[0]) if found else None
            if rel is None or rel["repo"] != repo:
                found = None
        if found is None:
            return self.refuse_body(404, "Not Found")
        asset = found[1]
        if method == "DELETE":
            with self.state.lock:
                rel["assets"] = [a for a in rel["assets"] if a["id"] != asset["id"]]
                self.state.assets.pop(asset["id"], None)
            return self.answer(204)
        if method in ("GET", "HEAD"):
            if "application/octet-stream" in self.headers.get("Accept", ""):
                return self.error(404, "github_sink keeps no asset bytes: it cannot serve a download")
            with self.state.lock:
                return self.answer(200, self.asset_json(rel, asset))
        return self.refuse_body(404, "Not Found")

    def upload(self, repo, rid, query):
        with self.state.lock:
            rel = self.state.releases.get(int(rid)) if rid.isdigit() else None
            if rel is not None and rel["repo"] != repo:
                rel = None
        if rel is None:
            return self.refuse_body(404, "Not Found")
        name = query.get("name", [""])[0]
        if not name:
            return self.refuse_body(422, "Validation Failed",
                                    errors=[{"resource": "ReleaseAsset", "code": "missing_field", "field": "name"}])
        if not NAME_OK.match(name):
            # GitHub renames such a file; otactl refuses it before uploading.
            return self.refuse_body(422, "Validation Failed: github_sink takes only [A-Za-z0-9._+-] names",
                                    errors=[{"resource": "ReleaseAsset", "code": "invalid", "field": "name"}])
        n = self.body_length()
        if n is None or n < 0:
            return self.refuse_body(411, "Content-Length required")
        if n == 0:
            return self.refuse_body(422, "Validation Failed: an empty asset",
                                    errors=[{"resource": "ReleaseAsset", "code": "invalid", "field": "size"}])
        if n >= 1 << 31:
            return self.refuse_body(422, "Validation Failed: an asset must be under 2 GiB",
                                    errors=[{"resource": "ReleaseAsset", "code": "invalid", "field": "size"}])
        with self.state.lock:
            if any(a["name"] == name for a in rel["assets"]):
                return self.refuse_body(422, "Validation Failed",
                                        errors=[{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
        if self.discard_body(n) is None:
            return
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self.state.lock:
            if any(a["name"] == name for a in rel["assets"]):  # a parallel upload won
                return self.error(422, "Validation Failed",
                                  errors=[{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}])
            asset = {"id": self.state.new_id(), "name": name, "label": query.get("label", [""])[0],
                     "state": "uploaded", "size": n, "created_at": now,
                     "content_type": self.headers.get("Content-Type") or "application/octet-stream"}
            rel["assets"].append(asset)
            self.state.assets[asset["id"]] = (rel["id"], asset)
            out = self.asset_json(rel, asset)
        self.answer(201, out)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def make_server(token="bench-token", log=None):
    server = Server(("127.0.0.1", 0), Handler)
    server.state = State(token, log)
    return server


def idle_watch(server, idle):
    while True:
        time.sleep(min(5.0, idle / 4))
        st = server.state
        with st.lock:
            quiet = st.busy == 0 and time.monotonic() - st.last_request > idle
        if quiet:
            print("github_sink: no request for %d s, stopping" % idle, file=sys.stderr, flush=True)
            server.shutdown()
            return


def serve(args):
    server = make_server(args.token, args.log)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    print(port, flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.idle_exit > 0:
        threading.Thread(target=idle_watch, args=(server, args.idle_exit), daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


# ------------------------------------------------------------------ self-test
def self_test():
    failures = []

    def check(what, ok, detail=""):
        print("  %s %s%s" % ("ok  " if ok else "FAIL", what, "" if ok else ": " + str(detail)), file=sys.stderr)
        if not ok:
            failures.append(what)

    tmp = tempfile.mkdtemp(prefix="github_sink-")
    log = os.path.join(tmp, "bodies.jsonl")
    server = make_server("bench-token", log)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    auth = {"Authorization": "Bearer bench-token", "Accept": "application/vnd.github+json",
            "User-Agent": "github_sink-self-test"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(method, path, body=None, headers=None, raw=None):
        h = dict(auth)
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        text = resp.read()
        value = json.loads(text) if text else None
        return resp, value

    print("github_sink --self-test on 127.0.0.1:%d" % port, file=sys.stderr)
    try:
        r, v = call("GET", "/repos/o/r/releases?per_page=100")
        check("list releases at first: 200 []", r.status == 200 and v == [], (r.status, v))
        check("x-ratelimit-remaining: 4999 and x-ratelimit-reset on an answer",
              r.getheader("x-ratelimit-remaining") == "4999" and (r.getheader("x-ratelimit-reset") or "").isdigit())

        r, v = call("POST", "/repos/o/r/releases", {"tag_name": "v1", "name": "v1", "draft": True})
        check("create release: 201", r.status == 201, (r.status, v))
        rid = v["id"]
        want = "http://127.0.0.1:%d/uploads/repos/o/r/releases/%d/assets{?name,label}" % (port, rid)
        check("create release: upload_url", v["upload_url"] == want, v["upload_url"])
        check("create release: draft, tag, assets [], immutable false, url",
              v["draft"] is True and v["tag_name"] == "v1" and v["assets"] == [] and v["immutable"] is False
              and v["url"] == "http://127.0.0.1:%d/repos/o/r/releases/%d" % (port, rid), v)

        r, v = call("GET", "/repos/o/r/releases?per_page=100")
        check("list releases: the draft", r.status == 200 and [x["id"] for x in v] == [rid] and v[0]["draft"], v)
        r, v = call("GET", "/repos/o/r/releases/tags/v1")
        check("tags/v1 of a draft: 404 (as GitHub)", r.status == 404, r.status)

        r, v = call("GET", "/repos/o/r/releases/%d/assets?per_page=100" % rid)
        check("list assets: 200 []", r.status == 200 and v == [], (r.status, v))

        payload = os.urandom(3 * CHUNK + 12345)
        upload = want.split("{")[0].replace("http://127.0.0.1:%d" % port, "")
        r, v = call("POST", upload + "?name=fw-1.bin", raw=payload,
                    headers={"Content-Type": "application/octet-stream"})
        check("upload: 201 with name, size, state uploaded, digest null",
              r.status == 201 and v["name"] == "fw-1.bin" and v["size"] == len(payload)
              and v["state"] == "uploaded" and v["digest"] is None, (r.status, v))
        aid = v["id"] if r.status == 201 else None

        r, v = call("POST", upload + "?name=fw-1.bin", raw=b"x" * 10)
        check("upload again: 422 already_exists", r.status == 422
              and v["errors"][0]["code"] == "already_exists", (r.status, v))
        conn.close()  # that refusal closes the connection: the body was not read

        r, v = call("GET", "/repos/o/r/releases/%d/assets?per_page=100" % rid)
        check("list assets: the one asset", r.status == 200 and [x["id"] for x in v] == [aid], v)

        r, v = call("PATCH", "/repos/o/r/releases/%d" % rid, {"draft": False})
        check("patch draft false: 200, published", r.status == 200 and v["draft"] is False
              and v["published_at"], (r.status, v))

        r, v = call("GET", "/repos/o/r/releases/%d" % rid)
        url = "http://127.0.0.1:%d/o/r/releases/download/v1/fw-1.bin" % port
        check("get release: its asset and browser_download_url",
              r.status == 200 and len(v["assets"]) == 1 and v["assets"][0]["browser_download_url"] == url, v)
        r, v = call("GET", "/repos/o/r/releases/tags/v1")
        check("tags/v1 once published: 200", r.status == 200 and v["id"] == rid, r.status)
        r, v = call("GET", "/repos/o/r/releases/assets/%d" % aid)
        check("asset by id: 200", r.status == 200 and v["id"] == aid, r.status)

        call("POST", "/repos/o/r/releases", {"tag_name": "v2", "draft": True})
        r, v = call("GET", "/repos/o/r/releases?per_page=1")
        check("paging: per_page=1 of 2 releases has a Link rel=next",
              len(v) == 1 and 'rel="next"' in (r.getheader("Link") or ""), r.getheader("Link"))

        r, v = call("GET", "/repos/o/r/releases", headers={"Authorization": "Bearer wrong"})
        check("a wrong token: 401 Bad credentials", r.status == 401 and v["message"] == "Bad credentials", r.status)
        conn.close()
        r, v = call("GET", "/repos/o/r/releases", headers={"Authorization": ""})
        check("no token: 401", r.status == 401, r.status)
        conn.close()

        before = server.state.connections
        for _ in range(3):
            call("GET", "/repos/o/r/releases?per_page=100")
        r, v = call("PUT", "/sink/x.bin", raw=payload, headers={"Authorization": ""})
        check("PUT /sink/x.bin: 201 {} without a token", r.status == 201 and v == {}, (r.status, v))
        check("keep-alive: 4 requests on one connection", server.state.connections == before + 1,
              server.state.connections - before)

        r, v = call("GET", "/nowhere")
        check("an unknown path: 404", r.status == 404, r.status)
        conn.close()

        # Expect: 100-continue (curl sends it for bodies over 1 MiB, and waits up to 1 s
        # for the 100 otherwise): the 100 must come before the body is sent.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"PUT /sink/e.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            try:
                first = s.recv(4096)
            except socket.timeout:
                first = b"(nothing in 5 s)"
            check("Expect: 100-continue: 100 Continue before the body", first.startswith(b"HTTP/1.1 100 "), first[:60])
            s.sendall(b"hello")
            rest = first.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in first else b""
            while b"\r\n\r\n" not in rest:
                got = s.recv(4096)
                if not got:
                    break
                rest += got
            check("Expect: 100-continue: then 201", rest.startswith(b"HTTP/1.1 201 "), rest[:60])

        curl = shutil.which("curl")
        if curl:
            f = os.path.join(tmp, "big.bin")
            with open(f, "wb") as out:
                out.write(os.urandom(2 * CHUNK + 7))  # over 1 MiB: curl sends Expect: 100-continue
            p = subprocess.run([curl, "-sS", "-T", f, "-o", "/dev/null", "-w", "%{http_code} %{size_upload}",
                                "http://127.0.0.1:%d/sink/big.bin" % port], capture_output=True, text=True, timeout=30)
            check("curl -T FILE /sink/big.bin: 201, the whole file sent",
                  p.returncode == 0 and p.stdout == "201 %d" % (2 * CHUNK + 7), (p.returncode, p.stdout, p.stderr))
        else:
            print("  skip curl -T (no curl on PATH)", file=sys.stderr)

        time.sleep(0.05)
        lines = [json.loads(x) for x in open(log)] if os.path.exists(log) else []
        sizes = [(x["path"], x["bytes"]) for x in lines]
        want_sizes = [(upload, len(payload)), ("/sink/x.bin", len(payload)), ("/sink/e.bin", 5)]
        if curl:
            want_sizes.append(("/sink/big.bin", 2 * CHUNK + 7))
        check("--log: one line per body with its size and timing", sizes == want_sizes
              and all(x["first_to_last"] >= 0 and x["headers_to_last"] >= x["first_to_last"] for x in lines), sizes)
        if curl:
            check("--log: curl's Expect: 100-continue seen", lines[-1]["expect_100"] is True, lines[-1])
    except Exception as e:  # a crash of the test is a failure, with its trace
        traceback.print_exc()
        failures.append("exception: %r" % e)
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("github_sink --self-test: %d FAILED: %s" % (len(failures), "; ".join(failures)), file=sys.stderr)
        return 1
    print("github_sink --self-test: all passed", file=sys.stderr)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", help="also write the port to this file (atomically)")
    p.add_argument("--log", help="append one JSON line per body received to this file")
    p.add_argument("--token", default="bench-token", help="the token the API and uploads take")
    p.add_argument("--idle-exit", type=float, default=900, help="stop after this many seconds without a request (0: never)")
    p.add_argument("--self-test", action="store_true", help="play the publish flow against a sink in this process")
    args = p.parse_args()
    if args.self_test:
        return self_test()
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
