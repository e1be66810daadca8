"""Notifications: one per event per order, filters (API.md "Notifications")."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for, _q  # noqa: E402


class NotificationsTest(OmsTestCase):

    def test_completed_order_notifications(self):
        email = "note-%s@example.com" % uuid.uuid4().hex[:8]
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")], email=email)
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        notes = wait_for(lambda: (lambda n: n if len(n) >= 2 else None)(
            self.oms.notifications(self.token, order_id=oid)),
            message="two notifications")
        self.assertEqual(sorted(n["type"] for n in notes), ["ORDER_COMPLETED", "ORDER_CREATED"])
        for n in notes:
            self.assertUuid(n["id"])
            self.assertEqual(n["orderId"], oid)
            self.assertEqual(n["recipient"], email)
            self.assertIsInstance(n["subject"], str)
            self.assertTrue(n["subject"])
            self.assertIsInstance(n["body"], str)
            self.assertTimestamp(n["sentAt"])
        self.assertEqual(len({n["id"] for n in notes}), 2)
        sent = [n["sentAt"] for n in notes]
        self.assertEqual(sent, sorted(sent, reverse=True), "newest first")

    def test_failed_order_notifications(self):
        p = self.oms.new_product(self.staff, 0, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        oid = o["orderId"]
        self.oms.wait_status(self.token, oid, "FAILED")
        self.assertEqual(self.oms.notification_types(self.token, oid),
                         ["ORDER_CREATED", "ORDER_FAILED"])

    def test_recipient_filter_case_insensitive(self):
        email = "Case.Mixed-%s@Example.Org" % uuid.uuid4().hex[:8]
        p = self.oms.new_product(self.staff, 10, price="1.00")
        a = self.oms.place_order(self.token, [item(p, 1, "1.00")], email=email)
        b = self.oms.place_order(self.token, [item(p, 1, "1.00")], email=email.lower())
        other = self.oms.place_order(self.token, [item(p, 1, "1.00")],
                                     email="other-%s@example.org" % uuid.uuid4().hex[:8])
        for oid in (a["orderId"], b["orderId"], other["orderId"]):
            self.oms.wait_status(self.token, oid, "COMPLETED")
        expected = None
        for variant in (email, email.lower(), email.upper()):
            with self.subTest(variant=variant):
                notes = self.oms.notifications(self.token, recipient=variant)
                got = sorted((n["orderId"], n["type"]) for n in notes)
                want = sorted([(a["orderId"], "ORDER_CREATED"), (a["orderId"], "ORDER_COMPLETED"),
                               (b["orderId"], "ORDER_CREATED"), (b["orderId"], "ORDER_COMPLETED")])
                self.assertEqual(got, want)
                expected = expected or got
                self.assertEqual(got, expected)
        both = self.oms.notifications(self.token, order_id=a["orderId"], recipient=email.upper())
        self.assertEqual(sorted(n["type"] for n in both), ["ORDER_COMPLETED", "ORDER_CREATED"])
        none = self.oms.notifications(self.token, order_id=other["orderId"], recipient=email)
        self.assertEqual(none, [])

    def test_order_filter_and_unknown(self):
        self.assertEqual(self.oms.notifications(self.token, order_id=str(uuid.uuid4())), [])
        self.assertEqual(self.oms.notifications(
            self.token, recipient="nobody-%s@example.com" % uuid.uuid4().hex), [])

    def test_unfiltered_and_limit(self):
        p = self.oms.new_product(self.staff, 10, price="1.00")
        o = self.oms.place_order(self.token, [item(p, 1, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        wait_for(lambda: len(self.oms.notifications(self.token, order_id=o["orderId"])) == 2,
                 message="notifications of the new order")
        newest = self.oms.notifications(self.token)
        self.assertLessEqual(len(newest), 100)
        sent = [n["sentAt"] for n in newest]
        self.assertEqual(sent, sorted(sent, reverse=True))
        self.assertIn(o["orderId"], [n["orderId"] for n in newest[:10]])
        self.assertEqual(len(self.oms.notifications(self.token, limit=1)), 1)
        for q in ("limit=0", "limit=abc"):
            with self.subTest(q=q):
                self.assertProblem(self.oms.request("GET", "/api/notifications?" + q,
                                                    token=self.token), 400)

    def test_exactly_once_per_event_across_lifecycle(self):
        p = self.oms.new_product(self.staff, 10, price="2.00")
        done = self.oms.place_order(self.token, [item(p, 1, "2.00")])
        shipped = self.oms.place_order(self.token, [item(p, 1, "2.00")])
        cancelled = self.oms.place_order(self.token, [item(p, 1, "2.00")])
        refunded = self.oms.place_order(self.token, [item(p, 1, "2.00")])
        for o in (done, shipped, cancelled, refunded):
            self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertOk(self.oms.request("POST", "/api/fulfillment/order/%s/dispatch"
                                       % shipped["orderId"], token=self.staff))
        self.assertOk(self.oms.request("POST", "/api/fulfillment/order/%s/deliver"
                                       % shipped["orderId"], token=self.staff))
        self.assertIn(self.oms.request("PUT", "/api/orders/%s/cancel" % cancelled["orderId"],
                                       token=self.token).status, (200, 202))
        self.oms.wait_status(self.token, cancelled["orderId"], "CANCELLED")
        self.assertOk(self.oms.request("POST", "/api/payments/refund/" + refunded["orderId"],
                                       token=self.staff))
        self.assertOk(self.oms.request("POST", "/api/payments/refund/" + refunded["orderId"],
                                       token=self.staff))
        expected = {
            done["orderId"]: ["ORDER_COMPLETED", "ORDER_CREATED"],
            shipped["orderId"]: ["ORDER_COMPLETED", "ORDER_CREATED", "ORDER_DISPATCHED"],
            cancelled["orderId"]: ["ORDER_CANCELLED", "ORDER_COMPLETED", "ORDER_CREATED"],
            refunded["orderId"]: ["ORDER_COMPLETED", "ORDER_CREATED", "PAYMENT_REFUNDED"],
        }
        for oid, types in expected.items():
            wait_for(lambda: self.oms.notification_types(self.token, oid) == types,
                     message="notifications of %s to be %r" % (oid, types))
        # a later saga for another order must not re-send anything
        extra = self.oms.place_order(self.token, [item(p, 1, "2.00")])
        self.oms.wait_status(self.token, extra["orderId"], "COMPLETED")
        for oid, types in expected.items():
            self.assertEqual(self.oms.notification_types(self.token, oid), types, oid)

    def test_recipient_filter_is_not_a_pattern(self):
        for q in ("%", "_", "*", "' OR '1'='1"):
            with self.subTest(q=q):
                self.assertEqual(self.oms.notifications(self.token, recipient=q), [])


if __name__ == "__main__":
    unittest.main()
