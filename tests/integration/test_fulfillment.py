"""Fulfillment: dispatch / deliver lifecycle, stock on dispatch, listing filters."""
import os
import re
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402

TRK_RE = re.compile(r"^TRK-[0-9A-F]{12}$")


class FulfillmentTest(OmsTestCase):

    def completed_order(self, qty=2, stock=10):
        p = self.oms.new_product(self.staff, stock, price="3.00")
        o = self.oms.place_order(self.token, [item(p, qty, "3.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        return o["orderId"], p

    def dispatch(self, oid, body=None):
        return self.oms.request("POST", "/api/fulfillment/order/%s/dispatch" % oid, body=body,
                                token=self.staff)

    def deliver(self, oid):
        return self.oms.request("POST", "/api/fulfillment/order/%s/deliver" % oid,
                                token=self.staff)

    def order_field(self, oid, field, value):
        wait_for(lambda: self.oms.get_order(self.token, oid)[field] == value,
                 message="order %s %s == %s" % (oid, field, value))

    def test_lifecycle(self):
        oid, p = self.completed_order(qty=2)
        task = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                              token=self.token))
        self.assertEqual(task["status"], "INITIATED")
        self.assertTimestamp(task["createdAt"])
        self.assertStock(p, 8, 2, 10)

        self.assertProblem(self.deliver(oid), 409)  # INITIATED → DELIVERED is illegal

        d = self.assertOk(self.dispatch(oid))
        self.assertEqual(d["status"], "DISPATCHED")
        self.assertEqual(d["orderId"], oid)
        self.assertEqual(d["id"], task["id"])
        self.assertRegex(d["trackingNumber"], TRK_RE)
        self.order_field(oid, "fulfillmentStatus", "DISPATCHED")
        self.waitStock(p, 8, 0, 8)  # shipped units leave: reserved and total drop
        o = self.oms.get_order(self.token, oid)
        self.assertEqual(o["status"], "COMPLETED")
        wait_for(lambda: "ORDER_DISPATCHED" in self.oms.notification_types(self.token, oid),
                 message="ORDER_DISPATCHED notification")

        self.assertProblem(self.dispatch(oid), 409)  # twice is illegal
        d2 = self.assertOk(self.deliver(oid))
        self.assertEqual(d2["status"], "DELIVERED")
        self.assertEqual(d2["trackingNumber"], d["trackingNumber"])
        self.order_field(oid, "fulfillmentStatus", "DELIVERED")
        self.assertProblem(self.deliver(oid), 409)
        self.assertProblem(self.dispatch(oid), 409)
        self.assertStock(p, 8, 0, 8)
        got = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                             token=self.token))
        self.assertEqual(got["status"], "DELIVERED")
        types = self.oms.notification_types(self.token, oid)
        self.assertEqual(types, ["ORDER_COMPLETED", "ORDER_CREATED", "ORDER_DISPATCHED"])
        self.assertInvariants()

    def test_dispatch_with_tracking_number(self):
        oid, _ = self.completed_order(qty=1)
        self.assertProblem(self.dispatch(oid, {"trackingNumber": "bad track!"}), 400,
                           field="trackingNumber")
        self.assertProblem(self.dispatch(oid, {"trackingNumber": "T" * 65}), 400,
                           field="trackingNumber")
        self.assertProblem(self.dispatch(oid, {"trackingNumber": ""}), 400,
                           field="trackingNumber")
        still = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                               token=self.token))
        self.assertEqual(still["status"], "INITIATED")
        d = self.assertOk(self.dispatch(oid, {"trackingNumber": "UPS-1Z.999_x"}))
        self.assertEqual(d["trackingNumber"], "UPS-1Z.999_x")

    def test_dispatch_empty_body(self):
        oid, _ = self.completed_order(qty=1)
        r = self.oms.request("POST", "/api/fulfillment/order/%s/dispatch" % oid, raw_body=b"",
                             content_type=None, token=self.staff)
        self.assertRegex(self.assertOk(r)["trackingNumber"], TRK_RE)

    def test_not_found(self):
        for action in ("dispatch", "deliver"):
            with self.subTest(action=action):
                self.assertProblem(self.oms.request(
                    "POST", "/api/fulfillment/order/%s/%s" % (uuid.uuid4(), action),
                    token=self.staff), 404)
                self.assertProblem(self.oms.request(
                    "POST", "/api/fulfillment/order/not-a-uuid/%s" % action,
                    token=self.staff), 404)
        self.assertProblem(self.oms.request("GET", "/api/fulfillment/order/" + str(uuid.uuid4()),
                                            token=self.token), 404)
        # an order that failed has no task
        p = self.oms.new_product(self.staff, 0, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "FAILED")
        self.assertProblem(self.dispatch(o["orderId"]), 404)
        self.assertProblem(self.oms.request("GET", "/api/fulfillment/order/" + o["orderId"],
                                            token=self.token), 404)

    def test_list_filters(self):
        initiated, _ = self.completed_order(qty=1)
        dispatched, _ = self.completed_order(qty=1)
        delivered, _ = self.completed_order(qty=1)
        cancelled, _ = self.completed_order(qty=1)
        self.assertOk(self.dispatch(dispatched))
        self.assertOk(self.dispatch(delivered))
        self.assertOk(self.deliver(delivered))
        self.assertIn(self.oms.request("PUT", "/api/orders/%s/cancel" % cancelled,
                                       token=self.token).status, (200, 202))
        self.oms.wait_status(self.token, cancelled, "CANCELLED")

        def listing(q=""):
            r = self.oms.request("GET", "/api/fulfillment?limit=1000" + q, token=self.token)
            lst = self.assertOk(r)
            self.assertIsInstance(lst, list)
            return {t["orderId"]: t["status"] for t in lst}

        active = listing()
        self.assertEqual(active.get(initiated), "INITIATED")
        self.assertEqual(active.get(dispatched), "DISPATCHED")
        self.assertNotIn(delivered, active)
        self.assertNotIn(cancelled, active)
        self.assertTrue(set(active.values()) <= {"INITIATED", "DISPATCHED"}, active)

        everything = listing("&status=ALL")
        self.assertEqual(everything.get(initiated), "INITIATED")
        self.assertEqual(everything.get(dispatched), "DISPATCHED")
        self.assertEqual(everything.get(delivered), "DELIVERED")
        self.assertEqual(everything.get(cancelled), "CANCELLED")

        for status, oid in (("INITIATED", initiated), ("DISPATCHED", dispatched),
                            ("DELIVERED", delivered), ("CANCELLED", cancelled)):
            with self.subTest(status=status):
                one = listing("&status=" + status)
                self.assertEqual(one.get(oid), status)
                self.assertTrue(set(one.values()) <= {status}, one)
        for bad in ("BOGUS", "delivered_x"):
            with self.subTest(bad=bad):
                self.assertProblem(self.oms.request("GET", "/api/fulfillment?status=" + bad,
                                                    token=self.token), 400)
        lim = self.assertOk(self.oms.request("GET", "/api/fulfillment?status=ALL&limit=1",
                                             token=self.token))
        self.assertEqual(len(lim), 1)


if __name__ == "__main__":
    unittest.main()
