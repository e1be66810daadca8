"""Operations: health, readiness, metrics, request ids, logs, command line."""
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, OmsProcess, item, metric_value, oms_bin, service_names, wait_for  # noqa: E402

METRIC_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*,?\})? '
    r'[-+]?(?:[0-9.eE+-]+|NaN|Inf|\+Inf|-Inf)( -?[0-9]+)?$')


class OpsTest(OmsTestCase):
    server_args = ("--log-level", "info")  # request logs are visible

    def test_healthz(self):
        r = self.oms.request("GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertIn("x-request-id", r.headers)

    def test_readyz(self):
        r = self.oms.request("GET", "/readyz")
        self.assertEqual(r.status, 200, r)

    def test_ops_wrong_method(self):
        r = self.oms.request("POST", "/healthz", body={})
        self.assertProblem(r, 405)
        self.assertIn("GET", r.headers.get("allow", ""))

    def test_metrics(self):
        r = self.oms.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), r)
        text = r.body
        for name in ("oms_http_requests_total", "oms_orders_created_total",
                     "oms_sagas_completed_total", "oms_sagas_failed_total",
                     "oms_sagas_cancelled_total", "oms_outbox_published_total",
                     "oms_bus_messages_handled_total", "oms_dead_letters_total"):
            with self.subTest(metric=name):
                self.assertIsNotNone(metric_value(text, name), "missing " + name)
        for line in text.splitlines():
            if line and not line.startswith("#"):
                self.assertRegex(line, METRIC_LINE)
        self.assertRegex(text, r'oms_http_requests_total\{[^}]*method="[A-Z]+"[^}]*\}')
        self.assertRegex(text, r'oms_http_requests_total\{[^}]*status="[0-9]{3}"[^}]*\}')

    def test_metrics_count_orders(self):
        before_orders = metric_value(self.oms.request("GET", "/metrics").body,
                                     "oms_orders_created_total")
        before_done = metric_value(self.oms.request("GET", "/metrics").body,
                                   "oms_sagas_completed_total")
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        after = self.oms.request("GET", "/metrics").body
        self.assertEqual(metric_value(after, "oms_orders_created_total"), before_orders + 1)
        wait_for(lambda: metric_value(self.oms.request("GET", "/metrics").body,
                                      "oms_sagas_completed_total") >= before_done + 1,
                 message="oms_sagas_completed_total to increase")

    def test_latency_histograms(self):
        text = self.oms.request("GET", "/metrics").body
        before = metric_value(text, "oms_saga_duration_seconds_count") or 0
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        wait_for(lambda: (metric_value(self.oms.request("GET", "/metrics").body,
                                       "oms_saga_duration_seconds_count") or 0) >= before + 1,
                 message="a finished saga to be observed in oms_saga_duration_seconds")
        text = self.oms.request("GET", "/metrics").body
        self.assertGreater(metric_value(text, "oms_http_request_duration_seconds_count") or 0, 0)
        self.assertGreater(metric_value(text, "oms_saga_duration_seconds_sum") or 0, 0)
        self.assertIn('oms_http_request_duration_seconds_bucket{le="0.005"}', text)

    def test_request_id_echo(self):
        for rid in ("abc-123", "A.b_C-9", "x" * 128, str(uuid.uuid4())):
            with self.subTest(rid=rid):
                r = self.oms.request("GET", "/healthz", headers={"X-Request-Id": rid})
                self.assertEqual(r.headers.get("x-request-id"), rid)
        # also on API responses and errors
        r = self.oms.request("GET", "/api/orders?limit=1", token=self.token,
                             headers={"X-Request-Id": "api-call-1"})
        self.assertEqual(r.headers.get("x-request-id"), "api-call-1")
        r = self.oms.request("GET", "/api/orders", headers={"X-Request-Id": "unauth-1"})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.headers.get("x-request-id"), "unauth-1")
        r = self.oms.request("GET", "/nope", headers={"X-Request-Id": "notfound-1"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers.get("x-request-id"), "notfound-1")

    def test_request_id_generated(self):
        seen = set()
        for bad in (None, "", "x" * 129, "has space", "semi;colon", "slash/no", "ünï"):
            with self.subTest(rid=bad):
                headers = {} if bad is None else {"X-Request-Id": bad}
                try:
                    r = self.oms.request("GET", "/healthz", headers=headers)
                except (ValueError, UnicodeEncodeError):
                    continue
                rid = r.headers.get("x-request-id")
                self.assertTrue(rid, r)
                self.assertNotEqual(rid, bad)
                self.assertRegex(rid, r"^[A-Za-z0-9._-]{1,128}$")
                seen.add(rid)
        self.assertGreaterEqual(len(seen), 5, "generated ids are unique: %r" % seen)

    def test_request_id_in_logs(self):
        rid = "log-probe-" + uuid.uuid4().hex
        p = self.oms.new_product(self.staff, 10, price="1.00")
        r = self.oms.create_order(self.token, [item(p, 1, "1.00")],
                                  headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers.get("x-request-id"), rid)
        wait_for(lambda: rid in self.oms.stderr_text(), 10, message="request id in the logs")
        lines = [l for l in self.oms.stderr_text().splitlines() if rid in l]
        for line in lines:
            rec = json.loads(line)  # structured JSON lines
            self.assertIsInstance(rec, dict)

    def test_logs_are_json_lines(self):
        text = self.oms.stderr_text()
        checked = 0
        for line in text.splitlines():
            if not line.strip() or line.startswith("===== start"):
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                self.fail("stderr line is not JSON: %r" % line[:300])
            self.assertIsInstance(rec, dict, line)
            checked += 1
        self.assertGreater(checked, 0, "info level should log something")


class TraceTest(OmsTestCase):
    server_args = ("--log-level", "debug")

    def test_request_id_reaches_every_service_it_touched(self):
        rid = "trace-" + uuid.uuid4().hex
        p = self.oms.new_product(self.staff, 10, price="1.00")
        r = self.oms.create_order(self.token, [item(p, 1, "1.00")], headers={"X-Request-Id": rid})
        self.assertEqual(r.status, 201, r)
        self.oms.wait_status(self.token, r.body["orderId"], "COMPLETED")
        expected = {"gateway", *service_names()}

        def services():
            out = set()
            for line in self.oms.stderr_text().splitlines():
                if rid in line:
                    rec = json.loads(line)
                    if rec.get("requestId") == rid:
                        out.add(rec.get("service"))
            return out
        wait_for(lambda: expected <= services(), 10,
                 message="request id in the logs of every service (saw %s)" % sorted(services()))
        for line in self.oms.stderr_text().splitlines():
            if rid in line and json.loads(line).get("service") != "gateway":
                self.assertEqual(json.loads(line).get("orderId"), r.body["orderId"], line)


class RateLimitTest(OmsTestCase):
    server_args = ("--rate-limit-rps", "5")

    def test_rate_limited_with_retry_after(self):
        limited = None
        for _ in range(200):
            r = self.oms.request("GET", "/api/orders?limit=1", token=self.token)
            if r.status == 429:
                limited = r
                break
            self.assertEqual(r.status, 200, r)
        self.assertIsNotNone(limited, "200 quick requests at --rate-limit-rps 5 never got a 429")
        self.assertProblem(limited, 429)
        retry = limited.headers.get("retry-after", "")
        self.assertRegex(retry, r"^[0-9]+$", limited)
        # the limit recovers
        wait_for(lambda: self.oms.request("GET", "/api/orders?limit=1",
                                          token=self.token).status == 200,
                 int(retry) + 10, interval=0.25, message="rate limit to recover")


class CommandLineTest(unittest.TestCase):

    def test_unknown_flag_fails(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([oms_bin(), "run", "--port", "0", "--data-dir", d,
                                "--no-such-flag", "1"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertNotIn(b"oms listening on", p.stdout)

    def test_bad_flag_value_fails(self):
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([oms_bin(), "run", "--port", "0", "--data-dir", d,
                                "--payment-decline-limit", "lots"], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertNotEqual(p.returncode, 0, p)

    def test_environment_variable_config(self):
        oms = OmsProcess(env={"OMS_PAYMENT_DECLINE_LIMIT": "5.00"})
        try:
            oms.start()
            token = oms.login("env")
            pid = "env-" + uuid.uuid4().hex[:8]
            r = oms.request("POST", "/api/inventory", body={"productId": pid, "initialStock": 5},
                            token=oms.login_staff())
            self.assertEqual(r.status, 201, r)
            o = oms.place_order(token, [item(pid, 1, "6.00")])
            done = oms.wait_settled(token, o["orderId"])
            self.assertEqual(done["status"], "FAILED", done)
            self.assertTrue(done["failureReason"].startswith("PAYMENT_DECLINED"), done)
            self.assertEqual(oms.stop(), 0, oms.stderr_tail())
        finally:
            oms.cleanup()


if __name__ == "__main__":
    unittest.main()
