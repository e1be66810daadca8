"""The order saga: happy path, inventory rejections, payment decline, saga API."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402

HAPPY = ["STARTED", "INVENTORY_REQUESTED", "INVENTORY_RESERVED", "PAYMENT_REQUESTED",
         "PAYMENT_COMPLETED", "FULFILLMENT_REQUESTED", "COMPLETED"]
SAGA_STATES = HAPPY + ["COMPENSATING", "FAILED", "CANCELLED"]


class SagaTest(OmsTestCase):

    def test_happy_path(self):
        a = self.oms.new_product(self.staff, 10, price="25.00")
        b = self.oms.new_product(self.staff, 5, price="10.10")
        email = "happy-%s@example.com" % uuid.uuid4().hex[:8]
        o = self.oms.place_order(self.token, [item(a, 2, "25.00"), item(b, 5, "10.10")],
                                 email=email)
        oid = o["orderId"]
        done = self.oms.wait_status(self.token, oid, "COMPLETED")
        self.assertEqual(done["paymentStatus"], "COMPLETED")
        self.assertEqual(done["inventoryStatus"], "RESERVED")
        self.assertEqual(done["fulfillmentStatus"], "INITIATED")
        self.assertIsNone(done["failureReason"])
        self.assertIs(done["cancelRequested"], False)
        self.assertTimestamp(done["completedAt"])
        self.assertIsNone(done["cancelledAt"])
        self.assertGreaterEqual(done["updatedAt"], done["createdAt"])
        self.assertMoney(done["totalAmount"], "100.50")
        self.assertStock(a, 8, 2, 10)
        self.assertStock(b, 0, 5, 5)

        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertUuid(pay["id"])
        self.assertEqual(pay["orderId"], oid)
        self.assertEqual(pay["status"], "COMPLETED")
        self.assertMoney(pay["amount"], "100.50")
        self.assertEqual(pay["currency"], "USD")
        self.assertTrue(pay["transactionId"])
        self.assertIsNone(pay["failureReason"])
        self.assertTimestamp(pay["createdAt"])

        task = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                              token=self.token))
        self.assertUuid(task["id"])
        self.assertEqual(task["orderId"], oid)
        self.assertEqual(task["status"], "INITIATED")

        saga = self.oms.saga(self.token, oid)
        self.assertEqual(saga["orderId"], oid)
        self.assertEqual(saga["state"], "COMPLETED")
        self.assertIsNone(saga["reason"])
        self.assertMoney(saga["amount"], "100.50")
        self.assertEqual([(i["productId"], i["quantity"], i["reserved"]) for i in saga["items"]],
                         [(a, 2, True), (b, 5, True)])
        self.assertMoney(saga["items"][0]["price"], "25.00")
        self.assertEqual([h["state"] for h in saga["history"]], HAPPY)
        ats = [h["at"] for h in saga["history"]]
        for at in ats:
            self.assertTimestamp(at)
        self.assertEqual(ats, sorted(ats), "history in order")
        self.assertTimestamp(saga["createdAt"])
        self.assertTimestamp(saga["updatedAt"])

        types = self.oms.notification_types(self.token, oid)
        self.assertEqual(types, ["ORDER_COMPLETED", "ORDER_CREATED"])

    def test_demo_catalog_order(self):
        p = self.oms.product(self.token, "prod-101")
        self.assertMoney(p["price"], "50.00")
        q = self.oms.product(self.token, "prod-202")
        self.assertMoney(q["price"], "100.50")
        before = self.oms.stock(self.token, "prod-101")
        o = self.oms.place_order(self.token, [item("prod-101", 2, "50.00")])
        done = self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertMoney(done["totalAmount"], "100.00")
        after = self.oms.stock(self.token, "prod-101")
        self.assertEqual(after, (before[0] - 2, before[1] + 2, before[2]))

    def test_product_without_catalog_price_takes_client_price(self):
        p = self.oms.new_product(self.staff, 10)
        o = self.oms.place_order(self.token, [item(p, 3, "7.77")])
        done = self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertMoney(done["totalAmount"], "23.31")
        self.assertStock(p, 7, 3, 10)

    def _assert_rejected(self, oid, prefix, subject, untouched):
        done = self.oms.wait_status(self.token, oid, "FAILED")
        self.assertTrue(done["failureReason"].startswith(prefix), done)
        self.assertIn(subject, done["failureReason"])
        self.assertEqual(done["paymentStatus"], "SKIPPED", done)
        self.assertEqual(done["inventoryStatus"], "FAILED", done)
        self.assertIsNone(done["fulfillmentStatus"], done)
        self.assertIsNone(done["completedAt"], done)
        for pid, stock in untouched:
            self.assertStock(pid, *stock)
        self.assertProblem(self.oms.request("GET", "/api/payments/order/" + oid,
                                            token=self.token), 404)
        self.assertProblem(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                            token=self.token), 404)
        saga = self.oms.saga(self.token, oid)
        self.assertEqual(saga["state"], "FAILED")
        self.assertTrue(saga["reason"].startswith(prefix), saga)
        states = [h["state"] for h in saga["history"]]
        # nothing took effect, so no COMPENSATING
        self.assertEqual(states, ["STARTED", "INVENTORY_REQUESTED", "FAILED"], saga)
        self.assertTrue(saga["history"][-1]["detail"], "failure step carries its reason")
        self.assertEqual(self.oms.notification_types(self.token, oid),
                         ["ORDER_CREATED", "ORDER_FAILED"])
        return done

    def test_insufficient_stock(self):
        short = self.oms.new_product(self.staff, 1, price="5.00")
        plenty = self.oms.new_product(self.staff, 50, price="5.00")
        o = self.oms.place_order(self.token, [item(plenty, 3, "5.00"), item(short, 2, "5.00")])
        self._assert_rejected(o["orderId"], "INSUFFICIENT_STOCK", short,
                              [(short, (1, 0, 1)), (plenty, (50, 0, 50))])

    def test_unknown_product(self):
        plenty = self.oms.new_product(self.staff, 50, price="5.00")
        ghost = "ghost-" + uuid.uuid4().hex[:10]
        o = self.oms.place_order(self.token, [item(plenty, 1, "5.00"), item(ghost, 1, "5.00")])
        self._assert_rejected(o["orderId"], "PRODUCT_NOT_FOUND", ghost, [(plenty, (50, 0, 50))])

    def test_price_mismatch(self):
        p = self.oms.new_product(self.staff, 50, price="5.00")
        other = self.oms.new_product(self.staff, 50, price="9.99")
        o = self.oms.place_order(self.token, [item(other, 1, "9.99"), item(p, 1, "4.99")])
        self._assert_rejected(o["orderId"], "PRICE_MISMATCH", p,
                              [(p, (50, 0, 50)), (other, (50, 0, 50))])

    def test_zero_stock_product(self):
        p = self.oms.new_product(self.staff, 0, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        self._assert_rejected(o["orderId"], "INSUFFICIENT_STOCK", p, [(p, (0, 0, 0))])

    def test_exact_stock_is_enough(self):
        p = self.oms.new_product(self.staff, 4, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 4, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertStock(p, 0, 4, 4)

    def test_saga_api(self):
        p = self.oms.new_product(self.staff, 5, price="2.00")
        ok = self.oms.place_order(self.token, [item(p, 1, "2.00")])
        bad = self.oms.place_order(self.token, [item(p, 99, "2.00")])
        self.oms.wait_status(self.token, ok["orderId"], "COMPLETED")
        self.oms.wait_status(self.token, bad["orderId"], "FAILED")

        done = self.assertOk(self.oms.request("GET", "/api/sagas?state=COMPLETED&limit=1000",
                                              token=self.token))
        self.assertIsInstance(done, list)
        self.assertTrue(all(s["state"] == "COMPLETED" for s in done), done)
        self.assertIn(ok["orderId"], [s["orderId"] for s in done])
        self.assertNotIn(bad["orderId"], [s["orderId"] for s in done])
        failed = self.assertOk(self.oms.request("GET", "/api/sagas?state=FAILED&limit=1000",
                                                token=self.token))
        self.assertTrue(all(s["state"] == "FAILED" for s in failed), failed)
        self.assertIn(bad["orderId"], [s["orderId"] for s in failed])
        for state in SAGA_STATES:
            with self.subTest(state=state):
                lst = self.assertOk(self.oms.request("GET", "/api/sagas?state=" + state,
                                                     token=self.token))
                self.assertTrue(all(s["state"] == state for s in lst), lst)
        one = self.assertOk(self.oms.request("GET", "/api/sagas?limit=1", token=self.token))
        self.assertEqual(len(one), 1)
        everything = self.assertOk(self.oms.request("GET", "/api/sagas?limit=1000",
                                                    token=self.token))
        created = [s["createdAt"] for s in everything]
        self.assertEqual(created, sorted(created, reverse=True), "newest first")
        for q in ("state=BOGUS", "state=completed_x", "limit=0", "limit=x"):
            with self.subTest(q=q):
                self.assertProblem(self.oms.request("GET", "/api/sagas?" + q, token=self.token),
                                   400)
        self.assertProblem(self.oms.request("GET", "/api/sagas/" + str(uuid.uuid4()),
                                            token=self.token), 404)
        self.assertProblem(self.oms.request("GET", "/api/sagas/not-a-uuid", token=self.token),
                           404)


class PaymentDeclineTest(OmsTestCase):
    server_args = ("--payment-decline-limit", "100.00")

    def test_payment_declined_compensates(self):
        p = self.oms.new_product(self.staff, 10, price="60.00")
        o = self.oms.place_order(self.token, [item(p, 2, "60.00")])
        oid = o["orderId"]
        done = self.oms.wait_status(self.token, oid, "FAILED")
        self.assertTrue(done["failureReason"].startswith("PAYMENT_DECLINED"), done)
        self.assertEqual(done["paymentStatus"], "FAILED", done)
        self.assertEqual(done["inventoryStatus"], "RELEASED", done)
        self.assertIsNone(done["fulfillmentStatus"], done)
        # stock is already restored when the order turns terminal
        self.assertStock(p, 10, 0, 10)
        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                             token=self.token))
        self.assertEqual(pay["status"], "FAILED")
        self.assertMoney(pay["amount"], "120.00")
        self.assertTrue(pay["failureReason"], pay)
        self.assertProblem(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                            token=self.token), 404)
        saga = self.oms.saga(self.token, oid)
        self.assertEqual(saga["state"], "FAILED")
        self.assertTrue(saga["reason"].startswith("PAYMENT_DECLINED"), saga)
        self.assertEqual([h["state"] for h in saga["history"]],
                         ["STARTED", "INVENTORY_REQUESTED", "INVENTORY_RESERVED",
                          "PAYMENT_REQUESTED", "COMPENSATING", "FAILED"])
        self.assertEqual(self.oms.notification_types(self.token, oid),
                         ["ORDER_CREATED", "ORDER_FAILED"])
        self.assertInvariants()

    def test_amount_at_limit_is_accepted(self):
        p = self.oms.new_product(self.staff, 10, price="50.00")
        o = self.oms.place_order(self.token, [item(p, 2, "50.00")])
        done = self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertEqual(done["paymentStatus"], "COMPLETED")
        self.assertStock(p, 8, 2, 10)

    def test_one_cent_over_limit_is_declined(self):
        p = self.oms.new_product(self.staff, 10)
        o = self.oms.place_order(self.token, [item(p, 1, "100.01")])
        done = self.oms.wait_status(self.token, o["orderId"], "FAILED")
        self.assertTrue(done["failureReason"].startswith("PAYMENT_DECLINED"), done)
        self.assertStock(p, 10, 0, 10)


if __name__ == "__main__":
    unittest.main()
