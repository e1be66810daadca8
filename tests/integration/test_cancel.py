"""Cancel: while reserving, while paying, after completion, after dispatch, edge cases."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402


class CancelMixin:

    def cancel(self, oid, reason=None, token=None):
        body = {"reason": reason} if reason is not None else None
        return self.oms.request("PUT", "/api/orders/%s/cancel" % oid, body=body,
                                token=token or self.token)

    def assertCancelAccepted(self, r, oid):
        self.assertIn(r.status, (200, 202), r)
        self.assertEqual(r.body["orderId"], oid)
        if r.status == 202:
            self.assertIs(r.body["cancelRequested"], True, r)
            self.assertNotIn(r.body["status"], ("CANCELLED", "FAILED"), r)
        else:
            self.assertEqual(r.body["status"], "CANCELLED", r)

    def assertCancelledOnce(self, oid):
        types = self.oms.notification_types(self.token, oid)
        self.assertEqual(types.count("ORDER_CANCELLED"), 1, types)
        self.assertEqual(types.count("ORDER_CREATED"), 1, types)
        self.assertNotIn("ORDER_FAILED", types)
        self.assertNotIn("PAYMENT_REFUNDED", types, "the refund inside a cancel is part of "
                                                    "ORDER_CANCELLED")


class CancelWhileReservingTest(CancelMixin, OmsTestCase):
    server_args = ("--inventory-delay-ms", "1500")

    def test_cancel_while_reserving(self):
        p = self.oms.new_product(self.staff, 10, price="3.00")
        o = self.oms.place_order(self.token, [item(p, 4, "3.00")])
        oid = o["orderId"]
        r = self.cancel(oid, reason="changed my mind")
        self.assertEqual(r.status, 202, r)
        self.assertCancelAccepted(r, oid)
        self.assertEqual(r.body["status"], "PENDING", r)
        # while compensation runs: same status, cancelRequested true; again → 202
        mid = self.oms.get_order(self.token, oid)
        if mid["status"] == "PENDING":
            self.assertIs(mid["cancelRequested"], True, mid)
            again = self.cancel(oid)
            if again.status == 202:
                self.assertIs(again.body["cancelRequested"], True, again)
            else:
                self.assertEqual(again.status, 200, again)
        done = self.oms.wait_status(self.token, oid, "CANCELLED")
        self.assertEqual(done["paymentStatus"], "SKIPPED", done)
        self.assertIn(done["inventoryStatus"], ("RELEASED", "FAILED"), done)
        self.assertIn(done["fulfillmentStatus"], (None, "CANCELLED"), done)
        self.assertTimestamp(done["cancelledAt"])
        self.assertIsNone(done["completedAt"])
        self.assertStock(p, 10, 0, 10)
        self.assertProblem(self.oms.request("GET", "/api/payments/order/" + oid,
                                            token=self.token), 404)
        saga = self.oms.saga(self.token, oid)
        self.assertEqual(saga["state"], "CANCELLED")
        states = [h["state"] for h in saga["history"]]
        self.assertEqual(states[-1], "CANCELLED", states)
        self.assertNotIn("PAYMENT_REQUESTED", states)
        self.assertCancelledOnce(oid)
        # cancel of a cancelled order → 200 with the order, nothing new
        r2 = self.cancel(oid)
        self.assertEqual(r2.status, 200, r2)
        self.assertEqual(r2.body["status"], "CANCELLED")
        self.assertCancelledOnce(oid)
        self.assertStock(p, 10, 0, 10)

    def test_cancel_reason_too_long(self):
        p = self.oms.new_product(self.staff, 10, price="3.00")
        o = self.oms.place_order(self.token, [item(p, 1, "3.00")])
        r = self.cancel(o["orderId"], reason="r" * 501)
        self.assertProblem(r, 400, field="reason")
        ok = self.cancel(o["orderId"], reason="r" * 500)
        self.assertCancelAccepted(ok, o["orderId"])
        self.oms.wait_status(self.token, o["orderId"], "CANCELLED")
        self.assertStock(p, 10, 0, 10)


class CancelWhilePayingTest(CancelMixin, OmsTestCase):
    server_args = ("--payment-delay-ms", "1500")

    def test_cancel_while_paying(self):
        p = self.oms.new_product(self.staff, 10, price="3.00")
        o = self.oms.place_order(self.token, [item(p, 4, "3.00")])
        oid = o["orderId"]
        # wait until the stock is reserved and the payment is outstanding
        wait_for(lambda: "PAYMENT_REQUESTED" in self.saga_states(oid), 20,
                 message="saga to request payment")
        self.assertStock(p, 6, 4, 10)
        r = self.cancel(oid)
        self.assertEqual(r.status, 202, r)
        self.assertCancelAccepted(r, oid)
        done = self.oms.wait_status(self.token, oid, "CANCELLED")
        self.assertIn(done["paymentStatus"], ("REFUNDED", "SKIPPED"), done)
        self.assertEqual(done["inventoryStatus"], "RELEASED", done)
        self.assertIn(done["fulfillmentStatus"], (None, "CANCELLED"), done)
        self.assertStock(p, 10, 0, 10)
        pay = self.oms.request("GET", "/api/payments/order/" + oid, token=self.token)
        if pay.status == 200:
            self.assertIn(pay.body["status"], ("REFUNDED", "FAILED"), pay)
        else:
            self.assertProblem(pay, 404)
        saga = self.oms.saga(self.token, oid)
        states = [h["state"] for h in saga["history"]]
        self.assertEqual(states[-2:], ["COMPENSATING", "CANCELLED"], states)
        self.assertNotIn("FULFILLMENT_REQUESTED", states)
        self.assertCancelledOnce(oid)
        self.assertNotIn("ORDER_COMPLETED", self.oms.notification_types(self.token, oid))


class CancelTest(CancelMixin, OmsTestCase):

    def test_cancel_after_completion(self):
        p = self.oms.new_product(self.staff, 10, price="12.50")
        o = self.oms.place_order(self.token, [item(p, 2, "12.50")])
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        self.assertStock(p, 8, 2, 10)
        r = self.cancel(oid, reason="no longer needed")
        self.assertCancelAccepted(r, oid)
        if r.status == 202:
            self.assertEqual(r.body["status"], "COMPLETED", r)
        done = self.oms.wait_status(self.token, oid, "CANCELLED")
        self.assertEqual(done["paymentStatus"], "REFUNDED", done)
        self.assertEqual(done["fulfillmentStatus"], "CANCELLED", done)
        self.assertEqual(done["inventoryStatus"], "RELEASED", done)
        self.assertTimestamp(done["cancelledAt"])
        self.assertStock(p, 10, 0, 10)
        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertEqual(pay["status"], "REFUNDED")
        task = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                              token=self.token))
        self.assertEqual(task["status"], "CANCELLED")
        saga = self.oms.saga(self.token, oid)
        self.assertEqual(saga["state"], "CANCELLED")
        states = [h["state"] for h in saga["history"]]
        self.assertEqual(states[:7], ["STARTED", "INVENTORY_REQUESTED", "INVENTORY_RESERVED",
                                      "PAYMENT_REQUESTED", "PAYMENT_COMPLETED",
                                      "FULFILLMENT_REQUESTED", "COMPLETED"], states)
        self.assertEqual(states[-2:], ["COMPENSATING", "CANCELLED"], states)
        self.assertCancelledOnce(oid)
        # a cancelled task can't be dispatched
        self.assertProblem(self.oms.request("POST", "/api/fulfillment/order/%s/dispatch" % oid,
                                            token=self.staff), 409)

    def test_cancel_twice_is_harmless(self):
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 3, "1.00")])
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        r1 = self.cancel(oid)
        r2 = self.cancel(oid)
        self.assertCancelAccepted(r1, oid)
        self.assertCancelAccepted(r2, oid)
        self.oms.wait_status(self.token, oid, "CANCELLED")
        r3 = self.cancel(oid)
        self.assertEqual(r3.status, 200, r3)
        self.assertEqual(r3.body["status"], "CANCELLED")
        self.assertStock(p, 10, 0, 10)
        self.assertCancelledOnce(oid)
        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertEqual(pay["status"], "REFUNDED")

    def test_cancel_after_dispatch_409(self):
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 3, "1.00")])
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        self.assertOk(self.oms.request("POST", "/api/fulfillment/order/%s/dispatch" % oid,
                                       token=self.staff))
        wait_for(lambda: self.oms.get_order(self.token, oid)["fulfillmentStatus"] == "DISPATCHED",
                 message="order to show DISPATCHED")
        r = self.cancel(oid)
        self.assertProblem(r, 409)
        o2 = self.oms.get_order(self.token, oid)
        self.assertEqual(o2["status"], "COMPLETED")
        self.assertIs(o2["cancelRequested"], False)
        self.assertEqual(o2["paymentStatus"], "COMPLETED")
        self.waitStock(p, 7, 0, 7)
        types = self.oms.notification_types(self.token, oid)
        self.assertNotIn("ORDER_CANCELLED", types)
        # after delivery as well
        self.assertOk(self.oms.request("POST", "/api/fulfillment/order/%s/deliver" % oid,
                                       token=self.staff))
        self.assertProblem(self.cancel(oid), 409)

    def test_cancel_failed_order_409(self):
        p = self.oms.new_product(self.staff, 1, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 5, "1.00")])
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "FAILED")
        self.assertProblem(self.cancel(oid), 409)
        after = self.oms.get_order(self.token, oid)
        self.assertEqual(after["status"], "FAILED")
        self.assertIs(after["cancelRequested"], False)
        self.assertNotIn("ORDER_CANCELLED", self.oms.notification_types(self.token, oid))

    def test_cancel_unknown_404(self):
        self.assertProblem(self.cancel(str(uuid.uuid4())), 404)
        self.assertProblem(self.cancel("not-a-uuid"), 404)

    def test_cancel_wrong_method(self):
        r = self.oms.request("POST", "/api/orders/%s/cancel" % uuid.uuid4(), token=self.token)
        self.assertProblem(r, 405)
        self.assertIn("PUT", r.headers.get("allow", ""), r)

    def test_cancel_empty_body_and_no_content_type(self):
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        r = self.oms.request("PUT", "/api/orders/%s/cancel" % oid, raw_body=b"",
                             content_type=None, token=self.token)
        self.assertCancelAccepted(r, oid)
        self.oms.wait_status(self.token, oid, "CANCELLED")


if __name__ == "__main__":
    unittest.main()
