"""Admission control: new orders wait (503 + Retry-After) while too many are PENDING."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402


class AdmissionTest(OmsTestCase):
    # Payments take 1.5 s, so orders stay PENDING long enough to fill the limit of 3.
    server_args = ("--max-pending-orders", "3", "--payment-delay-ms", "1500")

    def test_new_orders_wait_while_too_many_are_pending(self):
        p = self.oms.new_product(self.staff, 100, price="1.00")
        accepted = []
        for i in range(3):
            r = self.oms.create_order(self.token, [item(p, 1, "1.00")], key="adm-%d" % i)
            self.assertEqual(r.status, 201, r)
            accepted.append(r.body["orderId"])
        r = self.oms.create_order(self.token, [item(p, 1, "1.00")], key="adm-over")
        self.assertProblem(r, 503)
        self.assertIn("retry-after", r.headers)
        # a shed request is counted, not logged (a client retrying against a full system would
        # otherwise write a line per attempt)
        metrics = self.oms.request("GET", "/metrics").body
        metrics = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
        self.assertRegex(metrics, r'oms_http_requests_total\{[^}]*status="503"[^}]*\} [1-9]')
        if getattr(self.oms, "stderr_path", None):
            with open(self.oms.stderr_path, "rb") as f:
                self.assertNotIn(b"POST /api/orders 503", f.read())
        # nothing was stored for the refused order: the same key works later for a new order
        listed = self.oms.request("GET", "/api/orders?limit=1000", token=self.token).body
        self.assertEqual(len([o for o in listed if o["orderId"] not in accepted]), 0, listed)
        # a replay of an accepted order is still answered
        again = self.oms.create_order(self.token, [item(p, 1, "1.00")], key="adm-0")
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        for oid in accepted:
            self.oms.wait_status(self.token, oid, "COMPLETED")
        late = {}

        def accepted_again():
            r = self.oms.create_order(self.token, [item(p, 1, "1.00")], key="adm-over")
            late["r"] = r
            return r.status == 201
        wait_for(accepted_again, 10, message="orders accepted again once the backlog drained")
        self.oms.wait_status(self.token, late["r"].body["orderId"], "COMPLETED")
        stock = self.oms.request("GET", "/api/inventory/" + p, token=self.token).body
        self.assertEqual(stock["reservedQuantity"], 4, stock)


if __name__ == "__main__":
    unittest.main()
