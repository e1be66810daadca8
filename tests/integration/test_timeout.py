"""Step deadlines: a slow participant fails the saga with TIMEOUT: <step> and is compensated."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402


def settle_until(deadline):
    """Let a delayed participant finish before checking that nothing stayed captured.
    (Not an assertion: the checks after it are state checks.)"""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


class PaymentTimeoutTest(OmsTestCase):
    # The steps before payment must finish inside the step deadline even on a loaded CI machine
    # (an ASan build beside a cluster test): 500 ms once was not enough for the inventory step.
    server_args = ("--payment-delay-ms", "5000", "--step-timeout-ms", "2000")

    def test_payment_timeout(self):
        p = self.oms.new_product(self.staff, 10, price="4.00")
        t0 = time.monotonic()
        o = self.oms.place_order(self.token, [item(p, 3, "4.00")])
        oid = o["orderId"]
        done = self.oms.wait_status(self.token, oid, "FAILED", timeout=40)
        self.assertTrue(done["failureReason"].startswith("TIMEOUT: payment"), done)
        self.assertNotEqual(done["paymentStatus"], "COMPLETED", done)
        self.assertEqual(done["inventoryStatus"], "RELEASED", done)
        self.assertIsNone(done["fulfillmentStatus"], done)
        self.waitStock(p, 10, 0, 10)
        saga = self.oms.saga(self.token, oid)
        self.assertEqual(saga["state"], "FAILED")
        self.assertTrue(saga["reason"].startswith("TIMEOUT: payment"), saga)
        states = [h["state"] for h in saga["history"]]
        self.assertEqual(states[:4], ["STARTED", "INVENTORY_REQUESTED", "INVENTORY_RESERVED",
                                      "PAYMENT_REQUESTED"], states)
        self.assertEqual(states[-2:], ["COMPENSATING", "FAILED"], states)
        self.assertNotIn("PAYMENT_COMPLETED", states)

        # let the 5 s simulator call finish (plus margin for ASan), then everything must
        # still be compensated: no captured payment, stock restored, order still FAILED
        settle_until(t0 + 8.0)
        wait_for(lambda: self.oms.stock(self.token, p) == (10, 0, 10), 10,
                 message="stock restored after the late payment")
        later = self.oms.get_order(self.token, oid)
        self.assertEqual(later["status"], "FAILED", later)
        self.assertIn(later["paymentStatus"], ("FAILED", "REFUNDED", "SKIPPED"), later)
        pay = self.oms.request("GET", "/api/payments/order/" + oid, token=self.token)
        if pay.status == 200:
            self.assertIn(pay.body["status"], ("FAILED", "REFUNDED"), pay)
        else:
            self.assertProblem(pay, 404)
        self.assertEqual(self.oms.saga(self.token, oid)["state"], "FAILED")
        types = self.oms.notification_types(self.token, oid)
        self.assertEqual(types, ["ORDER_CREATED", "ORDER_FAILED"])
        self.assertInvariants()


class InventoryTimeoutTest(OmsTestCase):
    server_args = ("--inventory-delay-ms", "3000", "--step-timeout-ms", "500")

    def test_inventory_timeout(self):
        p = self.oms.new_product(self.staff, 10, price="4.00")
        t0 = time.monotonic()
        o = self.oms.place_order(self.token, [item(p, 3, "4.00")])
        oid = o["orderId"]
        done = self.oms.wait_status(self.token, oid, "FAILED", timeout=40)
        self.assertTrue(done["failureReason"].startswith("TIMEOUT: inventory"), done)
        self.assertEqual(done["paymentStatus"], "SKIPPED", done)
        self.assertIsNone(done["fulfillmentStatus"], done)
        settle_until(t0 + 6.0)
        wait_for(lambda: self.oms.stock(self.token, p) == (10, 0, 10), 10,
                 message="stock never left reserved after the late reservation")
        later = self.oms.get_order(self.token, oid)
        self.assertEqual(later["status"], "FAILED")
        self.assertIn(later["inventoryStatus"], ("RELEASED", "FAILED"), later)
        self.assertProblem(self.oms.request("GET", "/api/payments/order/" + oid,
                                            token=self.token), 404)
        self.assertEqual(self.oms.notification_types(self.token, oid),
                         ["ORDER_CREATED", "ORDER_FAILED"])
        self.assertInvariants()


if __name__ == "__main__":
    unittest.main()
