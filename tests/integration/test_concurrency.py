"""Concurrency: no oversell, no deadlock on opposite line order, atomic restocks, cancel races."""
import os
import sys
import threading
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, item, wait_for  # noqa: E402

SETTLE = 90  # seconds; dozens of sagas under AddressSanitizer


class ConcurrencyTest(OmsTestCase):

    def settle_all(self, order_ids, timeout=SETTLE):
        return self.oms.wait_all_settled(self.token, order_ids, timeout)

    def fire(self, n, threads, make):
        barrier = threading.Barrier(threads)
        counter = iter(range(n))
        lock = threading.Lock()
        results = []

        def worker():
            barrier.wait(10)
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                r = make(i)
                with lock:
                    results.append(r)

        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        return results

    def test_no_oversell(self):
        pid = self.oms.new_product(self.staff, 20, price="10.00")
        results = self.fire(60, 8, lambda i: self.oms.create_order(
            self.token, [item(pid, 1, "10.00")], email="rush-%d@example.com" % i))
        self.assertEqual(len(results), 60)
        self.assertTrue(all(r.status == 201 for r in results),
                        [r for r in results if r.status != 201][:3])
        ids = [r.body["orderId"] for r in results]
        self.assertEqual(len(set(ids)), 60)
        orders = self.settle_all(ids)
        completed = [o for o in orders.values() if o["status"] == "COMPLETED"]
        failed = [o for o in orders.values() if o["status"] == "FAILED"]
        self.assertEqual(len(completed), 20, "exactly the stock is sold")
        self.assertEqual(len(failed), 40)
        for o in failed:
            self.assertTrue(o["failureReason"].startswith("INSUFFICIENT_STOCK"), o)
            self.assertEqual(o["paymentStatus"], "SKIPPED", o)
        for o in completed:
            self.assertEqual((o["paymentStatus"], o["inventoryStatus"], o["fulfillmentStatus"]),
                             ("COMPLETED", "RESERVED", "INITIATED"), o)
        self.assertStock(pid, 0, 20, 20)
        self.assertInvariants()

    def test_no_oversell_mixed_quantities(self):
        pid = self.oms.new_product(self.staff, 100, price="1.00")
        qty = [1 + (i * 7) % 5 for i in range(80)]
        results = self.fire(80, 16, lambda i: (qty[i], self.oms.create_order(
            self.token, [item(pid, qty[i], "1.00")])))
        self.assertTrue(all(r.status == 201 for _, r in results), results[:3])
        orders = self.settle_all([r.body["orderId"] for _, r in results])
        sold = 0
        for o in orders.values():
            if o["status"] == "COMPLETED":
                sold += o["items"][0]["quantity"]
            else:
                self.assertEqual(o["status"], "FAILED", o)
                self.assertTrue(o["failureReason"].startswith("INSUFFICIENT_STOCK"), o)
        self.assertLessEqual(sold, 100)
        self.assertGreaterEqual(sold, 96, "an order failed although its quantity was available")
        self.assertStock(pid, 100 - sold, sold, 100)

    def same_order_burst(self, n, make):
        barrier = threading.Barrier(n)

        def go(_):
            barrier.wait(10)
            return make()
        with ThreadPoolExecutor(n) as ex:
            return list(ex.map(go, range(n)))

    def test_concurrent_cancels_of_one_order(self):
        pid = self.oms.new_product(self.staff, 10, price="1.00")
        oid = self.oms.place_order(self.token, [item(pid, 2, "1.00")])["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        rs = self.same_order_burst(10, lambda: self.oms.request(
            "PUT", "/api/orders/%s/cancel" % oid, token=self.token))
        self.assertTrue(all(r.status in (200, 202) for r in rs), rs)
        self.oms.wait_status(self.token, oid, "CANCELLED")
        self.assertStock(pid, 10, 0, 10)
        types = self.oms.notification_types(self.token, oid)
        self.assertEqual(types, ["ORDER_CANCELLED", "ORDER_COMPLETED", "ORDER_CREATED"])
        self.assertEqual(self.saga_states(oid).count("CANCELLED"), 1)

    def test_concurrent_refunds_of_one_order(self):
        pid = self.oms.new_product(self.staff, 10, price="1.00")
        oid = self.oms.place_order(self.token, [item(pid, 2, "1.00")])["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        rs = self.same_order_burst(10, lambda: self.oms.request(
            "POST", "/api/payments/refund/" + oid, token=self.staff))
        self.assertTrue(all(r.status == 200 for r in rs), rs)
        self.assertTrue(all(r.body["status"] == "REFUNDED" for r in rs), rs)
        wait_for(lambda: "PAYMENT_REFUNDED" in self.oms.notification_types(self.token, oid),
                 message="PAYMENT_REFUNDED")
        self.assertEqual(self.oms.notification_types(self.token, oid),
                         ["ORDER_COMPLETED", "ORDER_CREATED", "PAYMENT_REFUNDED"])

    def test_concurrent_dispatches_of_one_order(self):
        pid = self.oms.new_product(self.staff, 10, price="1.00")
        oid = self.oms.place_order(self.token, [item(pid, 3, "1.00")])["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        rs = self.same_order_burst(10, lambda: self.oms.request(
            "POST", "/api/fulfillment/order/%s/dispatch" % oid, token=self.staff))
        self.assertEqual(sorted(r.status for r in rs), [200] + [409] * 9, rs)
        self.waitStock(pid, 7, 0, 7)
        wait_for(lambda: "ORDER_DISPATCHED" in self.oms.notification_types(self.token, oid),
                 message="ORDER_DISPATCHED")
        self.assertEqual(self.oms.notification_types(self.token, oid).count("ORDER_DISPATCHED"),
                         1)
        self.assertStock(pid, 7, 0, 7)

    def test_opposite_line_order_no_deadlock(self):
        a = self.oms.new_product(self.staff, 10, price="1.00")
        b = self.oms.new_product(self.staff, 10, price="2.00")

        def make(i):
            lines = [item(a, 1, "1.00"), item(b, 1, "2.00")]
            if i % 2:
                lines.reverse()
            return self.oms.create_order(self.token, lines)

        results = self.fire(30, 8, make)
        self.assertTrue(all(r.status == 201 for r in results), results[:3])
        orders = self.settle_all([r.body["orderId"] for r in results])
        done = sum(1 for o in orders.values() if o["status"] == "COMPLETED")
        self.assertEqual(done, 10)
        self.assertStock(a, 0, 10, 10)
        self.assertStock(b, 0, 10, 10)

    def test_concurrent_restock_is_atomic(self):
        pid = self.oms.new_product(self.staff, 0, price="1.00")
        results = self.fire(80, 8, lambda i: self.oms.request(
            "POST", "/api/inventory/%s/add?quantity=%d" % (pid, 1 + i % 3), token=self.staff))
        self.assertTrue(all(r.status == 200 for r in results), [r for r in results
                                                                if r.status != 200][:3])
        expected = sum(1 + i % 3 for i in range(80))
        self.assertStock(pid, expected, 0, expected)

    def test_restock_while_ordering(self):
        pid = self.oms.new_product(self.staff, 10, price="1.00")

        def make(i):
            if i % 4 == 0:
                return ("add", self.oms.request("POST", "/api/inventory/%s/add?quantity=1" % pid,
                                                token=self.staff))
            return ("order", self.oms.create_order(self.token, [item(pid, 1, "1.00")]))

        results = self.fire(40, 8, make)
        adds = [r for kind, r in results if kind == "add"]
        orders = [r for kind, r in results if kind == "order"]
        self.assertTrue(all(r.status == 200 for r in adds), adds[:3])
        self.assertTrue(all(r.status == 201 for r in orders), orders[:3])
        settled = self.settle_all([r.body["orderId"] for r in orders])
        done = sum(1 for o in settled.values() if o["status"] == "COMPLETED")
        total = 10 + len(adds)
        self.assertLessEqual(done, total)
        self.assertStock(pid, total - done, done, total)

    def test_cancel_dispatch_race(self):
        pid = self.oms.new_product(self.staff, 100, price="1.00")
        ids = []
        for _ in range(8):
            ids.append(self.oms.place_order(self.token, [item(pid, 2, "1.00")])["orderId"])
        self.settle_all(ids)
        outcomes = {}

        def race(oid):
            barrier = threading.Barrier(2)
            res = {}

            def cancel():
                barrier.wait(10)
                res["cancel"] = self.oms.request("PUT", "/api/orders/%s/cancel" % oid,
                                                 token=self.token)

            def dispatch():
                barrier.wait(10)
                res["dispatch"] = self.oms.request(
                    "POST", "/api/fulfillment/order/%s/dispatch" % oid, token=self.staff)

            ts = [threading.Thread(target=cancel), threading.Thread(target=dispatch)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            return res

        with ThreadPoolExecutor(4) as ex:
            for oid, res in zip(ids, ex.map(race, ids)):
                outcomes[oid] = res
        final = self.settle_all(ids)
        shipped = 0
        for oid, res in outcomes.items():
            c, d = res["cancel"], res["dispatch"]
            o = final[oid]
            self.assertIn(c.status, (200, 202, 409), c)
            self.assertIn(d.status, (200, 409), d)
            task = self.assertOk(self.oms.request("GET", "/api/fulfillment/order/" + oid,
                                                  token=self.token))
            pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + oid,
                                                 token=self.token))
            if d.status == 200:
                shipped += 2
                # the shipment left: the cancel lost
                self.assertEqual(o["status"], "COMPLETED", (o, c, d))
                self.assertIs(o["cancelRequested"], False, o)
                self.assertEqual(task["status"], "DISPATCHED")
                self.assertEqual(pay["status"], "COMPLETED")
                self.assertEqual(o["paymentStatus"], "COMPLETED")
                self.assertNotIn("ORDER_CANCELLED", self.oms.notification_types(self.token, oid))
                if c.status in (200, 202):
                    hist = self.oms.saga(self.token, oid)["history"]
                    self.assertTrue(any("CANCEL_REJECTED" in (h.get("state") or "") +
                                        (h.get("detail") or "") for h in hist), hist)
            else:
                self.assertIn(c.status, (200, 202), (c, d))
                self.assertEqual(o["status"], "CANCELLED", (o, c, d))
                self.assertEqual(task["status"], "CANCELLED")
                self.assertEqual(pay["status"], "REFUNDED")
                self.assertEqual(self.oms.notification_types(self.token, oid).count(
                    "ORDER_CANCELLED"), 1)
        # units of dispatched orders left the warehouse; cancelled ones came back
        self.waitStock(pid, 100 - shipped, 0, 100 - shipped)
        self.assertInvariants()


if __name__ == "__main__":
    unittest.main()
