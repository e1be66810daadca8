"""Black-box test harness for the `oms` binary.

Only the Python standard library is used. The binary under test is given by the
environment variable OMS_BIN (required), e.g.

    OMS_BIN=build/asan/oms python3 -m unittest -v tests/integration/test_orders.py

Everything here talks to the process over HTTP exactly as a client would.
"""

import base64
import collections
import decimal
import glob
import hashlib
import hmac
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
import unittest
import uuid
from decimal import Decimal

# OMS_TEST_MODE=cluster runs every test against a distributed deployment (scripts/cluster up:
# PostgreSQL, nats-server and one `oms serve` process per service) instead of `oms run`.
MODE = os.environ.get("OMS_TEST_MODE", "embedded")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLUSTER = os.path.join(ROOT, "scripts", "cluster")
CLUSTER_REPLICAS = int(os.environ.get("OMS_TEST_REPLICAS", "1"))

READY_RE = re.compile(r"^oms listening on http://(?P<host>[^:/\s]+):(?P<port>\d+)\s*$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
DEFAULT_WAIT = float(os.environ.get("OMS_TEST_WAIT", "20"))
# Roles (API.md, "Roles"): the defaults of --staff-users and --admin-users, and the operator
# password every system under test gets (OMS_ADMIN_PASSWORD; a test of the generated one clears it).
STAFF_USER = "staff"
ADMIN_USER = "admin"
OPERATOR_PASSWORD = "it-operator-" + uuid.uuid4().hex
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
HTTP_TIMEOUT = 60.0
STDERR_TAIL = 6000


def oms_bin():
    path = os.environ.get("OMS_BIN")
    if not path:
        raise RuntimeError(
            "OMS_BIN is not set: point it at the oms binary, e.g. "
            "OMS_BIN=build/asan/oms python3 -m unittest -v tests/integration/test_orders.py")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError("OMS_BIN=%r is not an executable file" % path)
    return os.path.abspath(path)


def service_names():
    """The services, in the binary's own words (`oms services`; the list is services/catalog.cpp)."""
    out = subprocess.run([oms_bin(), "services"], stdout=subprocess.PIPE, text=True, check=True).stdout
    return tuple(line.split("\t")[0] for line in out.splitlines() if line.strip())


# --------------------------------------------------------------------------- JSON helpers

def dumps(value):
    """json.dumps that writes Decimal values as JSON numbers verbatim (e.g. 50.00)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k)) + ":" + dumps(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError("cannot serialize %r" % (value,))


def loads(text):
    return json.loads(text, parse_float=Decimal)


def D(s):
    return Decimal(str(s))


def unique_email(prefix="buyer"):
    return "%s-%s@example.com" % (prefix, uuid.uuid4().hex[:10])


def item(product_id, quantity, price):
    return {"productId": product_id, "quantity": quantity, "price": D(price)}


# --------------------------------------------------------------------------- JWT helpers

def metric_value(text, name):
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^%s(\{[^}]*\})? (\S+)" % re.escape(name), line)
        if m:
            total += float(m.group(2))
            found = True
    return total if found else None


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    s += "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s.encode())


def jwt_parts(token):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


def make_jwt(claims, secret, alg="HS256", header=None):
    hdr = header if header is not None else {"alg": alg, "typ": "JWT"}
    signing_input = b64url(json.dumps(hdr, separators=(",", ":"))) + "." + \
        b64url(json.dumps(claims, separators=(",", ":")))
    if alg == "none":
        sig = ""
    else:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        key = secret.encode() if isinstance(secret, str) else secret
        sig = b64url(hmac.new(key, signing_input.encode(), digest).digest())
    return signing_input + "." + sig


# --------------------------------------------------------------------------- waiting

def wait_for(pred, timeout=DEFAULT_WAIT, interval=0.02, message="condition"):
    """Poll pred() every `interval` s until it returns a truthy value; return that value.

    Fails (AssertionError) after `timeout` s, showing the last value / exception."""
    deadline = time.monotonic() + timeout
    last = None
    last_exc = None
    while True:
        try:
            last = pred()
            last_exc = None
            if last:
                return last
        except AssertionError as e:
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s; last value: %r%s" % (
                timeout, message, last, ("; last error: %s" % last_exc) if last_exc else ""))
        time.sleep(interval)


# --------------------------------------------------------------------------- HTTP

class Response(tuple):
    """(status, headers, body) with attribute access and the raw text in .raw."""

    def __new__(cls, status, headers, body, raw):
        self = super().__new__(cls, (status, headers, body))
        self.raw = raw
        return self

    @property
    def status(self):
        return self[0]

    @property
    def headers(self):
        return self[1]

    @property
    def body(self):
        return self[2]

    def __repr__(self):
        raw = self.raw if len(self.raw) < 2000 else self.raw[:2000] + "...(truncated)"
        return "<HTTP %s %s %s>" % (self.status, self.headers.get("content-type"), raw)


_JSON_DEFAULT = object()


def http_request(host, port, method, path, body=None, headers=None, token=None,
                 raw_body=None, content_type=_JSON_DEFAULT, timeout=HTTP_TIMEOUT):
    hdrs = {}
    data = None
    if raw_body is not None:
        data = raw_body.encode() if isinstance(raw_body, str) else raw_body
    elif body is not None:
        data = dumps(body).encode()
    if data is not None:
        ct = "application/json" if content_type is _JSON_DEFAULT else content_type
        if ct is not None:
            hdrs["Content-Type"] = ct
    elif content_type not in (_JSON_DEFAULT, None):
        hdrs["Content-Type"] = content_type
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
        out_headers = {}
        for k, v in resp.getheaders():
            k = k.lower()
            out_headers[k] = (out_headers[k] + ", " + v) if k in out_headers else v
        text = payload.decode("utf-8", errors="replace")
        parsed = text
        if "json" in out_headers.get("content-type", "") and text:
            try:
                parsed = loads(text)
            except ValueError:
                parsed = text
        return Response(resp.status, out_headers, parsed, text)
    finally:
        conn.close()


def raw_http(host, port, data, timeout=30.0, shutdown_write=True):
    """Send raw bytes, read until the server closes (or timeout); tolerate early closes.

    Returns (status or None, headers dict, body bytes, all raw bytes). Only the first response
    is parsed; send `Connection: close` so the server closes after it."""
    sock = socket.create_connection((host, port), timeout=timeout)
    chunks = []
    try:
        try:
            sock.sendall(data)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before reading everything
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = sock.recv(65536)
            except (ConnectionResetError, OSError):
                break
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
    finally:
        sock.close()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = None
    m = re.match(rb"^HTTP/1\.[01] (\d{3})", lines[0]) if lines and lines[0] else None
    if m:
        status = int(m.group(1))
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    if "content-length" in headers:
        try:
            body = body[:int(headers["content-length"])]
        except ValueError:
            pass
    return status, headers, body, raw


# --------------------------------------------------------------------------- process

class OmsProcess:
    """The system under test: one `oms run` process on a private data directory or, with
    OMS_TEST_MODE=cluster, a whole distributed deployment (scripts/cluster) in a private
    directory. Either way: start/stop/kill9/restart, the gateway's address, and the logs."""

    def __new__(cls, *args, **kwargs):
        if cls is OmsProcess and MODE == "cluster":
            return super().__new__(OmsCluster)
        return super().__new__(cls)

    def __init__(self, extra_args=(), env=None, data_dir=None, name="oms"):
        self.bin = oms_bin()
        self.extra_args = list(extra_args)
        self.env = env
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="oms-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.gateway_data_dir = self.data_dir  # where the gateway keeps its JWT secret
        self.stderr_path = os.path.join(self.tmp, "stderr.log")
        self.stdout_lines = []
        self.proc = None
        self.host = "127.0.0.1"
        self.port = None
        self.starts = 0

    # -- lifecycle -----------------------------------------------------------------------

    def command(self):
        cmd = [self.bin, "run", "--host", "127.0.0.1", "--port", "0", "--data-dir", self.data_dir]
        if "--log-level" not in self.extra_args:
            cmd += ["--log-level", "warn"]
        return cmd + self.extra_args

    def start(self):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        env = dict(os.environ, OMS_ADMIN_PASSWORD=OPERATOR_PASSWORD)
        if self.env:
            env.update(self.env)
        self.starts += 1
        errf = open(self.stderr_path, "ab")
        errf.write(("\n===== start #%d: %s\n" % (self.starts, " ".join(self.command()))).encode())
        errf.flush()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=errf, env=env)
        errf.close()
        ready = threading.Event()
        found = {}
        proc = self.proc

        def reader():
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                self.stdout_lines.append(line)
                m = READY_RE.match(line)
                if m and not ready.is_set():
                    found["host"], found["port"] = m.group("host"), int(m.group("port"))
                    ready.set()
            proc.stdout.close()

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not ready.wait(0.05):
            if proc.poll() is not None:
                t.join(2)
                if ready.is_set():
                    break
                raise RuntimeError("oms exited with code %s before printing the ready line\n"
                                   "stdout: %r\nstderr tail:\n%s" % (
                                       proc.returncode, self.stdout_lines[-20:], self.stderr_tail()))
            if time.monotonic() > deadline:
                self._hard_kill()
                raise RuntimeError("oms did not print 'oms listening on http://127.0.0.1:PORT' "
                                   "within %ss\nstdout: %r\nstderr tail:\n%s" % (
                                       READY_TIMEOUT, self.stdout_lines[-20:], self.stderr_tail()))
        self.host, self.port = found["host"], found["port"]
        return self

    def _hard_kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait up to 20 s; returns the exit code (or 'timeout' after SIGKILL)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._hard_kill()
                return "did not exit within %ss of SIGTERM" % STOP_TIMEOUT
        return self.proc.returncode

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, extra_args=None):
        """Start again on the same data dir (new port). Stops a running process first."""
        rc = None
        if self.running():
            rc = self.stop()
        if extra_args is not None:
            self.extra_args = list(extra_args)
        self.start()
        return rc

    def cleanup(self):
        if self.running():
            self._hard_kill()
        if not os.environ.get("OMS_KEEP_DATA"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def stderr_tail(self, n=STDERR_TAIL):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", errors="replace")
        except OSError:
            return "<no stderr>"

    def stdout_text(self):
        """What the process printed on stdout (the ready line, a generated operator password)."""
        return "\n".join(self.stdout_lines)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    # -- client --------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, token=None, raw_body=None,
                content_type=_JSON_DEFAULT, timeout=HTTP_TIMEOUT):
        return http_request(self.host, self.port, method, path, body=body, headers=headers,
                            token=token, raw_body=raw_body, content_type=content_type,
                            timeout=timeout)

    def login(self, user, password=None):
        """A token for `user`: a customer by user id alone; staff and admin (STAFF_USER,
        ADMIN_USER) with the operator password, in the JSON body."""
        if password is None:
            r = self.request("POST", "/api/auth/login?userId=" + _q(user))
        else:
            r = self.request("POST", "/api/auth/login", body={"userId": user, "password": password})
        if r.status != 200 or not isinstance(r.body, dict) or "token" not in r.body:
            raise AssertionError("login(%r) failed: %r" % (user, r))
        return r.body["token"]

    def login_staff(self, user=None):
        return self.login(user or STAFF_USER, OPERATOR_PASSWORD)

    def login_admin(self, user=None):
        return self.login(user or ADMIN_USER, OPERATOR_PASSWORD)

    def create_order(self, token, items, email="buyer@example.com", key=None, currency=None,
                     headers=None):
        body = {"customerEmail": email, "items": items}
        if currency is not None:
            body["currency"] = currency
        hdrs = {"Idempotency-Key": key or str(uuid.uuid4())}
        if headers:
            hdrs.update(headers)
        return self.request("POST", "/api/orders", body=body, headers=hdrs, token=token)

    def place_order(self, token, items, email="buyer@example.com", key=None):
        """create_order that must answer 201; returns the order body."""
        r = self.create_order(token, items, email=email, key=key)
        if r.status != 201:
            raise AssertionError("create order failed: %r" % (r,))
        return r.body

    def get_order(self, token, order_id):
        r = self.request("GET", "/api/orders/" + order_id, token=token)
        if r.status != 200:
            raise AssertionError("GET order %s: %r" % (order_id, r))
        return r.body

    def wait_settled(self, token, order_id, timeout=DEFAULT_WAIT):
        """Wait until the order is terminal, no cancel is in progress and its outcome
        notification exists (the outcome reaches the notification service beside the order
        service, not through it: in distributed mode a moment later); return the order.
        (A CANCELLED order may keep cancelRequested: true; API.md does not reset it.)"""
        try:
            return wait_for(lambda: self.settled_or_none(token, order_id), timeout,
                            message="order %s to settle" % order_id)
        except AssertionError as e:
            last = self.request("GET", "/api/orders/" + order_id, token=token)
            saga = self.request("GET", "/api/sagas/" + order_id, token=token)
            notes = self.request("GET", "/api/notifications?orderId=" + _q(order_id), token=token)
            raise AssertionError("%s\nlast order: %r\nsaga: %r\nnotifications: %r\n%s" % (
                e, last, saga, notes, self.log_evidence(order_id))) from None

    def log_evidence(self, order_id, n=40):
        """What the logs say that may explain a stuck order: its own lines and every warning or
        error (the last n of them), so that a failure seen once in CI can be understood."""
        picked = []
        for line in self.stderr_text().splitlines():
            if order_id in line or '"level":"warn' in line or '"level":"error' in line:
                picked.append(line[:400])
        return "log lines about the order, warnings and errors (last %d of %d):\n%s" % (
            min(n, len(picked)), len(picked), "\n".join(picked[-n:]))

    def settled_or_none(self, token, order_id):
        """The order if it is settled (see wait_settled), else None; None also while the
        service answers something else than 200 (e.g. 503 during an outage)."""
        r = self.request("GET", "/api/orders/" + order_id, token=token, timeout=10)
        if r.status != 200:
            return None
        o = r.body
        terminal = o["status"] in ("FAILED", "CANCELLED") or \
            (o["status"] == "COMPLETED" and not o.get("cancelRequested"))
        if terminal and "ORDER_" + o["status"] in self.notification_types(token, order_id):
            return o
        return None

    def wait_all_settled(self, token, order_ids, timeout=DEFAULT_WAIT):
        """wait_settled for many orders; returns {order id: order}."""
        out = {}

        def check():
            for oid in order_ids:
                if oid not in out:
                    o = self.settled_or_none(token, oid)
                    if o is not None:
                        out[oid] = o
            return len(out) == len(order_ids)
        try:
            wait_for(check, timeout, interval=0.1, message="%d orders to settle" % len(order_ids))
        except AssertionError as e:
            left = [oid for oid in order_ids if oid not in out]
            first = self.request("GET", "/api/orders/" + left[0], token=token, timeout=10)
            saga = self.request("GET", "/api/sagas/" + left[0], token=token, timeout=10)
            raise AssertionError("%s: %d of %d settled; the first that did not: %r\nits saga: %r" % (
                e, len(out), len(order_ids), first, saga)) from None
        return out

    def wait_status(self, token, order_id, status, timeout=DEFAULT_WAIT):
        o = self.wait_settled(token, order_id, timeout)
        if o["status"] != status:
            raise AssertionError("order %s settled as %s, expected %s: %r" % (
                order_id, o["status"], status, o))
        return o

    def new_product(self, token, stock, price=None, name=None, prefix="it"):
        pid = "%s-%s" % (prefix, uuid.uuid4().hex[:16])
        body = {"productId": pid, "initialStock": stock}
        if price is not None:
            body["price"] = D(price)
        if name is not None:
            body["name"] = name
        r = self.request("POST", "/api/inventory", body=body, token=token)
        if r.status != 201:
            raise AssertionError("create product failed: %r" % (r,))
        return pid

    def product(self, token, pid):
        r = self.request("GET", "/api/inventory/" + _q(pid), token=token)
        if r.status != 200:
            raise AssertionError("GET product %s: %r" % (pid, r))
        return r.body

    def stock(self, token, pid):
        p = self.product(token, pid)
        return (p["availableQuantity"], p["reservedQuantity"], p["totalQuantity"])

    def notifications(self, token, order_id=None, recipient=None, limit=None):
        q = []
        if order_id is not None:
            q.append("orderId=" + _q(order_id))
        if recipient is not None:
            q.append("recipient=" + _q(recipient))
        if limit is not None:
            q.append("limit=%s" % limit)
        r = self.request("GET", "/api/notifications" + ("?" + "&".join(q) if q else ""),
                         token=token)
        if r.status != 200 or not isinstance(r.body, list):
            raise AssertionError("GET notifications: %r" % (r,))
        return r.body

    def notification_types(self, token, order_id):
        return sorted(n["type"] for n in self.notifications(token, order_id=order_id))

    def saga(self, token, order_id):
        r = self.request("GET", "/api/sagas/" + order_id, token=token)
        if r.status != 200:
            raise AssertionError("GET saga %s: %r" % (order_id, r))
        return r.body

    def all_products(self, token):
        out, after = [], None
        while True:
            path = "/api/inventory?limit=1000" + ("&after=" + _q(after) if after else "")
            r = self.request("GET", path, token=token)
            if r.status != 200 or not isinstance(r.body, list):
                raise AssertionError("GET inventory: %r" % (r,))
            out.extend(r.body)
            if len(r.body) < 1000:
                return out
            after = r.body[-1]["productId"]


class OmsCluster(OmsProcess):
    """A distributed deployment started by scripts/cluster in the test's temp directory
    (PostgreSQL and nats-server on free loopback ports, CLUSTER_REPLICAS replicas per service).
    Extra args go to every oms process. The data dir is the cluster dir; the gateway's own data
    dir (its JWT secret, as `oms run` keeps it in its data dir) is gateway/ inside it."""

    def __init__(self, extra_args=(), env=None, data_dir=None, name="oms", replicas=None, nats_nodes=1):
        super().__init__(extra_args, env, data_dir, name)
        self.nats_nodes = nats_nodes
        self.gateway_data_dir = os.path.join(self.data_dir, "gateway")
        # the postgres user needs to traverse into it when the tests run as root
        os.chmod(self.tmp, 0o711)
        self.replicas = replicas or CLUSTER_REPLICAS
        self.up = False

    def cluster(self, *args, check=True, timeout=240):
        env = dict(os.environ, OMS_ADMIN_PASSWORD=OPERATOR_PASSWORD)
        if self.env:
            env.update(self.env)
        cmd = [sys.executable, CLUSTER] + list(args[:1]) + ["--dir", self.data_dir] + list(args[1:])
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        with open(self.stderr_path, "a") as f:
            f.write("\n===== %s -> %d\n%s" % (" ".join(args[:1]), p.returncode, out))
        if check and p.returncode != 0:
            raise RuntimeError("scripts/cluster %s failed (%d):\n%s\nlogs:\n%s" % (
                " ".join(args), p.returncode, out, self.stderr_tail()))
        return p.returncode, out

    def state(self):
        with open(os.path.join(self.data_dir, "cluster.json")) as f:
            return json.load(f)

    def start(self):
        self.starts += 1
        extra = list(self.extra_args)
        if "--log-level" not in extra:
            extra += ["--log-level", "warn"]
        args = ["up", "--free-ports", "--bin", self.bin] + \
            (["--replicas", str(self.replicas), "--nats-nodes", str(self.nats_nodes)] if self.starts == 1 else []) + \
            ["--"] + extra
        self.up = True
        self.cluster(*args)
        self.port = self.state()["ports"]["gateway"]
        return self

    def running(self):
        return self.up and self.port is not None and any(
            _alive(p) for p in self.oms_pids().values())

    def oms_pids(self):
        """{process name: pid} of the oms processes that run now."""
        out = {}
        run = os.path.join(self.data_dir, "run")
        for f in os.listdir(run) if os.path.isdir(run) else []:
            if f.endswith(".pid"):
                try:
                    with open(os.path.join(run, f)) as fh:
                        pid = int(fh.read().strip())
                except (OSError, ValueError):
                    continue
                if _alive(pid):
                    out[f[:-4]] = pid
        return out

    def stop(self):
        """`cluster down`: 0 when every oms process exited 0 on SIGTERM."""
        if not self.up:
            return None
        rc, out = self.cluster("down", check=False)
        self.up = False
        return 0 if rc == 0 else "scripts/cluster down exited %d:\n%s" % (rc, out)

    def kill9(self, *names):
        """kill -9 the oms processes (all, or the named ones, e.g. 'order.2'); PostgreSQL and
        NATS keep running, as they would on their own hosts."""
        self.cluster("kill", *names)

    def cleanup(self):
        if os.path.exists(os.path.join(self.data_dir, "cluster.json")):
            try:
                self.cluster("down", check=False, timeout=120)
            except Exception:  # noqa: BLE001 - best effort: the temp dir goes anyway
                pass
        if not os.environ.get("OMS_KEEP_DATA"):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _logs(self):
        parts = []
        for path in sorted(glob.glob(os.path.join(self.data_dir, "logs", "*.log"))):
            if os.path.basename(path) == "nats.log":
                continue  # nats-server's own format; the oms processes' logs are JSON lines
            with open(path, "rb") as f:
                parts.append(f.read().decode("utf-8", errors="replace"))
        return "\n".join(parts)

    def stderr_text(self):
        return self._logs()

    def stdout_text(self):
        try:
            with open(os.path.join(self.data_dir, "run", "gateway.out"), "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_evidence(self, order_id, n=40):
        return "oms processes running: %s\n%s" % (
            sorted(self.oms_pids()), super().log_evidence(order_id, n))

    def stderr_tail(self, n=STDERR_TAIL):
        try:
            with open(self.stderr_path, "rb") as f:
                own = f.read().decode("utf-8", errors="replace")
        except OSError:
            own = ""
        return (own + "\n" + self._logs())[-n:]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def _q(s):
    from urllib.parse import quote
    return quote(str(s), safe="")


# --------------------------------------------------------------------------- test base

class OmsTestCase(unittest.TestCase):
    """A test class sharing one oms process (class attribute `oms`).

    Subclasses set `server_args` for extra flags. tearDownClass asserts the process exits 0
    on SIGTERM (AddressSanitizer / LeakSanitizer reports make it non-zero)."""

    server_args = ()
    server_env = None
    user = "alice"

    @classmethod
    def make_oms(cls):
        return OmsProcess(cls.server_args, env=cls.server_env, name=cls.__name__)

    @classmethod
    def setUpClass(cls):
        cls.oms = cls.make_oms()
        try:
            cls.oms.start()
            cls.token = cls.oms.login(cls.user)  # a customer: its own orders only
            cls.staff = cls.oms.login_staff()    # every order, inventory, refunds, shipments
            cls.admin = cls.oms.login_admin()    # staff, plus /api/admin
        except BaseException:
            cls.oms.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        oms = cls.oms
        try:
            rc = oms.stop()
            if rc != 0:
                raise AssertionError("oms exited with %r on SIGTERM (expected 0); stderr tail:\n%s"
                                     % (rc, oms.stderr_tail()))
        finally:
            oms.cleanup()

    # -- assertions ----------------------------------------------------------------------

    def assertProblem(self, r, status, field=None, msg=None):
        """Status plus RFC 9457 problem+json body with status/title/detail."""
        ctx = "%s%r" % ((msg + ": ") if msg else "", r)
        self.assertEqual(r.status, status, ctx)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/problem+json"),
                        "content type not application/problem+json: " + ctx)
        self.assertIsInstance(r.body, dict, ctx)
        self.assertEqual(r.body.get("status"), status, ctx)
        self.assertIsInstance(r.body.get("title"), str, ctx)
        self.assertTrue(r.body.get("title"), ctx)
        self.assertIsInstance(r.body.get("detail"), str, ctx)
        self.assertTrue(r.body.get("detail"), ctx)
        if field is not None:
            fields = field if isinstance(field, (list, tuple)) else [field]
            self.assertTrue(any(f in r.body["detail"] for f in fields),
                            "detail should name %s: %s" % (" or ".join(fields), ctx))

    def assertOk(self, r, status=200, msg=None):
        self.assertEqual(r.status, status, "%s%r" % ((msg + ": ") if msg else "", r))
        return r.body

    def assertMoney(self, value, expected, msg=None):
        """A JSON number with exactly two decimals equal to `expected`."""
        self.assertIsInstance(value, Decimal, "%s: money %r should be a JSON number with two "
                              "decimals" % (msg or "", value))
        self.assertEqual(value.as_tuple().exponent, -2,
                         "%s: money %r should carry exactly two decimals" % (msg or "", value))
        self.assertEqual(value, D(expected), msg)

    def assertUuid(self, value, msg=None):
        self.assertIsInstance(value, str, msg)
        self.assertRegex(value, UUID_RE, msg)

    def assertTimestamp(self, value, msg=None):
        self.assertIsInstance(value, str, msg)
        self.assertRegex(value, TS_RE, msg)

    def assertStock(self, pid, available, reserved, total, token=None, msg=None):
        self.assertEqual(self.oms.stock(token or self.token, pid), (available, reserved, total),
                         "%s (available, reserved, total) of %s" % (msg or "", pid))

    def waitStock(self, pid, available, reserved, total, token=None, timeout=DEFAULT_WAIT):
        want = (available, reserved, total)
        wait_for(lambda: self.oms.stock(token or self.token, pid) == want, timeout,
                 message="stock of %s to become (available, reserved, total)=%r" % (pid, want))

    def assertInvariants(self, token=None):
        for p in self.oms.all_products(token or self.token):
            self.assertEqual(p["totalQuantity"], p["availableQuantity"] + p["reservedQuantity"],
                             "total = available + reserved violated: %r" % p)
            self.assertGreaterEqual(p["availableQuantity"], 0, p)
            self.assertGreaterEqual(p["reservedQuantity"], 0, p)

    def saga_states(self, order_id, token=None):
        return [h["state"] for h in self.oms.saga(token or self.token, order_id)["history"]]
