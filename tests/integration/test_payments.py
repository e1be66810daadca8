"""Payments: lookup and manual refund (API.md "Payments")."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402


class PaymentsTest(OmsTestCase):
    server_args = ("--payment-decline-limit", "1000.00")

    def refund(self, oid):
        return self.oms.request("POST", "/api/payments/refund/" + oid, token=self.staff)

    def completed_order(self, qty=2, price="15.00"):
        p = self.oms.new_product(self.staff, 10, price=price)
        o = self.oms.place_order(self.token, [item(p, qty, price)])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        return o["orderId"], p

    def test_payment_lookup(self):
        oid, _ = self.completed_order()
        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertUuid(pay["id"])
        self.assertEqual(pay["orderId"], oid)
        self.assertEqual(pay["status"], "COMPLETED")
        self.assertMoney(pay["amount"], "30.00")
        self.assertEqual(pay["currency"], "USD")
        self.assertIsInstance(pay["transactionId"], str)
        self.assertTrue(pay["transactionId"])
        self.assertIsNone(pay["failureReason"])
        self.assertTimestamp(pay["createdAt"])
        self.assertTimestamp(pay["updatedAt"])

    def test_manual_refund(self):
        oid, p = self.completed_order()
        r1 = self.refund(oid)
        pay = self.assertOk(r1)
        self.assertEqual(pay["status"], "REFUNDED")
        self.assertEqual(pay["orderId"], oid)
        self.assertMoney(pay["amount"], "30.00")
        r2 = self.refund(oid)
        again = self.assertOk(r2)
        self.assertEqual(again, pay, "a second refund returns the payment unchanged")
        got = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertEqual(got["status"], "REFUNDED")
        # only paymentStatus changes on the order
        o = wait_for(lambda: (lambda x: x if x["paymentStatus"] == "REFUNDED" else None)(
            self.oms.get_order(self.token, oid)), message="order paymentStatus REFUNDED")
        self.assertEqual(o["status"], "COMPLETED", o)
        self.assertEqual(o["inventoryStatus"], "RESERVED", o)
        self.assertEqual(o["fulfillmentStatus"], "INITIATED", o)
        self.assertIsNone(o["cancelledAt"])
        self.assertStock(p, 8, 2, 10)
        task = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                              token=self.token))
        self.assertEqual(task["status"], "INITIATED")
        wait_for(lambda: "PAYMENT_REFUNDED" in self.oms.notification_types(self.token, oid),
                 message="PAYMENT_REFUNDED notification")
        self.assertOk(self.refund(oid))
        types = self.oms.notification_types(self.token, oid)
        self.assertEqual(types, ["ORDER_COMPLETED", "ORDER_CREATED", "PAYMENT_REFUNDED"])
        self.assertEqual(self.oms.saga(self.token, oid)["state"], "COMPLETED")

    def test_refund_declined_payment_409(self):
        p = self.oms.new_product(self.staff, 10, price="600.00")
        o = self.oms.place_order(self.token, [item(p, 2, "600.00")])
        oid = o["orderId"]
        done = self.oms.wait_status(self.token, oid, "FAILED")
        self.assertTrue(done["failureReason"].startswith("PAYMENT_DECLINED"), done)
        self.assertProblem(self.refund(oid), 409)
        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertEqual(pay["status"], "FAILED")
        self.assertNotIn("PAYMENT_REFUNDED", self.oms.notification_types(self.token, oid))

    def test_refund_without_payment_404(self):
        p = self.oms.new_product(self.staff, 0, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "FAILED")
        self.assertProblem(self.refund(o["orderId"]), 404)
        self.assertProblem(self.refund(str(uuid.uuid4())), 404)
        self.assertProblem(self.refund("not-a-uuid"), 404)

    def test_payment_lookup_404(self):
        self.assertProblem(self.oms.request("GET", "/api/payments/order/" + str(uuid.uuid4()),
                                            token=self.token), 404)
        self.assertProblem(self.oms.request("GET", "/api/payments/order/xyz", token=self.token),
                           404)

    def test_refund_wrong_method(self):
        r = self.oms.request("GET", "/api/payments/refund/" + str(uuid.uuid4()),
                             token=self.staff)
        self.assertProblem(r, 405)
        self.assertIn("POST", r.headers.get("allow", ""), r)

    def test_cancel_after_manual_refund(self):
        # repeated a few times: the interleaving of the refund event and the cancel is racy
        for _ in range(5):
            oid, p = self.completed_order(qty=1, price="5.00")
            self.assertOk(self.refund(oid))
            r = self.oms.request("PUT", "/api/orders/%s/cancel" % oid, token=self.token)
            self.assertIn(r.status, (200, 202), r)
            # API.md: while compensation runs the order keeps its status, cancelRequested true
            seen = []

            def cancelled():
                o = self.oms.get_order(self.token, oid)
                state = (o["status"], o["cancelRequested"], o["paymentStatus"])
                if not seen or seen[-1] != state:
                    seen.append(state)
                return o if o["status"] == "CANCELLED" else None
            done = wait_for(cancelled, interval=0.005, message="order to be CANCELLED")
            self.assertFalse([st for st in seen if st[0] != "CANCELLED" and st[1] is not True],
                             "cancelRequested dropped back to false while the cancel was still "
                             "running; states seen: %r" % seen)
            self.assertEqual(done["paymentStatus"], "REFUNDED")
            self.assertEqual(done["fulfillmentStatus"], "CANCELLED")
            self.assertStock(p, 10, 0, 10)
            # the outcome reaches the notification service beside the order service, not
            # through it: wait for it, then count
            self.oms.wait_settled(self.token, oid)
            types = self.oms.notification_types(self.token, oid)
            self.assertEqual(types.count("PAYMENT_REFUNDED"), 1, types)
            self.assertEqual(types.count("ORDER_CANCELLED"), 1, types)

if __name__ == "__main__":
    unittest.main()
