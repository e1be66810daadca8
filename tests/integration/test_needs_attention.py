"""A compensation that keeps failing is a state, not a loop (API.md "Saga", issue 9 item 1): it is
retried with exponential backoff up to a bound, then the saga is NEEDS_ATTENTION — listed, counted
by a gauge, one OPERATOR_ALERT to the operators — until an admin retries or resolves it. Transient
errors of a participant are retried; business rejections compensate at once. Faults are injected
at run time (issue 9 item 2)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, metric_value, wait_for  # noqa: E402

OPERATORS = "ops@localhost"


class NeedsAttentionTest(OmsTestCase):
    # a 1 s step: the refund is sent 5 times, 1 + 2 + 4 + 8 + 8 s apart (plus jitter)
    server_args = ("--fault-injection", "--step-timeout-ms", "1000")

    def saga(self, oid, token=None):
        return self.assertOk(self.oms.request("GET", "/api/sagas/" + oid, token=token or self.staff))

    def admin_step(self, oid, step, token=None, body=None):
        return self.oms.request("POST", "/api/admin/saga/sagas/%s/%s" % (oid, step), token=token or self.admin,
                                body=body)

    def gauge(self):
        return metric_value(self.oms.request("GET", "/metrics").body, "oms_sagas_needing_attention")

    def test_a_refund_that_keeps_failing_waits_for_an_admin(self):
        pid = self.oms.new_product(self.staff, 10, price="4.00")
        a = self.oms.place_order(self.token, [item(pid, 1, "4.00")])["orderId"]
        b = self.oms.place_order(self.token, [item(pid, 2, "4.00")])["orderId"]
        for oid in (a, b):
            self.oms.wait_status(self.token, oid, "COMPLETED")
        self.assertOk(self.oms.request("PUT", "/api/admin/payment/faults", token=self.admin,
                                       body={"refund": {"failRate": 1.0}}))
        for oid in (a, b):
            self.assertEqual(self.oms.request("PUT", "/api/orders/%s/cancel" % oid, token=self.token).status, 202)
        for oid in (a, b):
            wait_for(lambda: self.saga(oid)["state"] == "NEEDS_ATTENTION", 90,
                     message="saga %s to need attention" % oid)

        # visible: listed, on the order, counted, one alert to the operators (not to the customer)
        listed = [s["orderId"] for s in self.assertOk(self.oms.request(
            "GET", "/api/sagas?state=NEEDS_ATTENTION&limit=1000", token=self.staff))]
        self.assertIn(a, listed)
        self.assertIn(b, listed)
        order = self.oms.get_order(self.token, a)
        self.assertEqual(order["status"], "COMPLETED", order)
        self.assertEqual(order["failureReason"], "NEEDS_ATTENTION: refund failed 5 times", order)
        self.assertTrue(order["cancelRequested"], order)
        wait_for(lambda: self.gauge() == 2, 15, message="oms_sagas_needing_attention 2")
        wait_for(lambda: "OPERATOR_ALERT" in self.oms.notification_types(self.staff, a), 15,
                 message="the operator alert")
        alerts = [n for n in self.oms.notifications(self.staff, a) if n["type"] == "OPERATOR_ALERT"]
        self.assertEqual(len(alerts), 1, alerts)
        self.assertEqual(alerts[0]["recipient"], OPERATORS)
        self.assertNotIn("OPERATOR_ALERT", self.oms.notification_types(self.token, a), "staff only")
        self.assertNotIn("ORDER_CANCELLED", self.oms.notification_types(self.staff, a))
        self.assertEqual(self.oms.request("GET", "/api/payments/order/" + a, token=self.token).body["status"],
                         "COMPLETED")
        steps = [h["state"] for h in self.saga(a)["history"]]
        self.assertEqual(steps.count("NEEDS_ATTENTION"), 1, steps)

        # only admins answer it
        for token in (self.token, self.staff):
            self.assertProblem(self.admin_step(a, "retry", token), 403)
            self.assertProblem(self.admin_step(b, "resolve", token, {"note": "x"}), 403)

        # resolve: settled by hand, ends where it was heading, the note in its history
        self.assertProblem(self.admin_step(b, "resolve"), 415)  # the note is a JSON body
        self.assertProblem(self.admin_step(b, "resolve", body={}), 400, field="note")
        self.assertProblem(self.admin_step(b, "resolve", body={"note": ""}), 400, field="note")
        r = self.admin_step(b, "resolve", body={"note": "refunded by bank transfer"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["state"], "COMPENSATING", "the stock is released after the refund settled by hand")
        done = self.oms.wait_settled(self.token, b)
        self.assertEqual(done["status"], "CANCELLED", done)
        self.assertEqual(done["paymentStatus"], "REFUNDED", done)
        self.assertEqual(done["inventoryStatus"], "RELEASED", done)
        details = [h["detail"] for h in self.saga(b)["history"]]
        self.assertIn("resolved by admin: refunded by bank transfer", details)
        self.assertProblem(self.admin_step(b, "resolve", body={"note": "again"}), 409)
        self.assertProblem(self.admin_step(b, "retry"), 409)

        # retry: once the cause is fixed, the compensation goes on from the failed step
        self.assertOk(self.oms.request("PUT", "/api/admin/payment/faults", token=self.admin, body={}))
        r = self.admin_step(a, "retry")
        self.assertEqual(r.status, 202, r)
        done = self.oms.wait_settled(self.token, a, timeout=30)
        self.assertEqual(done["status"], "CANCELLED", done)
        self.assertEqual(done["paymentStatus"], "REFUNDED", done)
        self.assertEqual(self.oms.stock(self.token, pid), (10, 0, 10), "every unit back, nothing reserved")
        self.assertProblem(self.admin_step(a, "retry"), 409)
        wait_for(lambda: self.gauge() == 0, 15, message="oms_sagas_needing_attention back to 0")
        log = self.assertOk(self.oms.request("GET", "/api/admin/saga/audit-log", token=self.admin))
        self.assertTrue({("saga.retry", a), ("saga.resolve", b)} <= {(e["action"], e["target"]) for e in log}, log)
        self.assertProblem(self.admin_step("00000000-0000-7000-8000-000000000000", "retry"), 404)


class ParticipantErrorsTest(OmsTestCase):
    server_args = ("--fault-injection",)

    def test_a_transient_error_is_retried(self):
        """The provider fails, then recovers before the bus gives up: the order completes."""
        pid = self.oms.new_product(self.staff, 10, price="2.00")
        self.assertOk(self.oms.request("PUT", "/api/admin/payment/faults", token=self.admin,
                                       body={"authorize": {"failRate": 1.0}}))
        oid = self.oms.place_order(self.token, [item(pid, 1, "2.00")])["orderId"]
        wait_for(lambda: "injected fault: authorize failed" in self.oms.stderr_text(), 20,
                 message="the provider to fail once")
        self.assertOk(self.oms.request("PUT", "/api/admin/payment/faults", token=self.admin, body={}))
        done = self.oms.wait_settled(self.token, oid)
        self.assertEqual(done["status"], "COMPLETED", done)
        self.assertEqual(done["paymentStatus"], "COMPLETED", done)
        dead = self.assertOk(self.oms.request("GET", "/api/admin/payment/dead-letters", token=self.admin))
        self.assertEqual(dead, [], "retried, not given up")

    def test_a_business_rejection_compensates_at_once(self):
        pid = self.oms.new_product(self.staff, 1, price="2.00")
        oid = self.oms.place_order(self.token, [item(pid, 5, "2.00")])["orderId"]
        done = self.oms.wait_settled(self.token, oid)
        self.assertEqual(done["status"], "FAILED", done)
        self.assertTrue(done["failureReason"].startswith("INSUFFICIENT_STOCK"), done)
        states = [h["state"] for h in self.assertOk(self.oms.request(
            "GET", "/api/sagas/" + oid, token=self.token))["history"]]
        self.assertEqual(states, ["STARTED", "INVENTORY_REQUESTED", "FAILED"], "no retry, no compensation")


if __name__ == "__main__":
    unittest.main()
