"""Inventory: demo catalog, create, restock, listing and paging, validation."""
import os
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, D, item, _q  # noqa: E402


class InventoryTest(OmsTestCase):

    def create(self, body, **kw):
        return self.oms.request("POST", "/api/inventory", body=body, token=self.staff, **kw)

    def test_demo_catalog(self):
        p = self.oms.product(self.token, "prod-101")
        self.assertEqual(p["productId"], "prod-101")
        self.assertMoney(p["price"], "50.00")
        self.assertEqual((p["availableQuantity"], p["reservedQuantity"], p["totalQuantity"]),
                         (100, 0, 100))
        q = self.oms.product(self.token, "prod-202")
        self.assertMoney(q["price"], "100.50")
        self.assertEqual((q["availableQuantity"], q["reservedQuantity"], q["totalQuantity"]),
                         (50, 0, 50))

    def test_create_product(self):
        pid = "new-" + uuid.uuid4().hex[:12]
        r = self.create({"productId": pid, "initialStock": 25, "name": "Widget",
                         "price": D("19.99")})
        p = self.assertOk(r, 201)
        self.assertEqual(p["productId"], pid)
        self.assertEqual(p["name"], "Widget")
        self.assertMoney(p["price"], "19.99")
        self.assertEqual((p["availableQuantity"], p["reservedQuantity"], p["totalQuantity"]),
                         (25, 0, 25))
        self.assertIsInstance(p["version"], int)
        self.assertTimestamp(p["createdAt"])
        self.assertTimestamp(p["updatedAt"])
        got = self.oms.product(self.token, pid)
        for k in ("productId", "name", "price", "availableQuantity", "reservedQuantity",
                  "totalQuantity", "version", "createdAt"):
            self.assertEqual(got[k], p[k], k)

    def test_create_without_price_or_name(self):
        pid = "bare-" + uuid.uuid4().hex[:12]
        p = self.assertOk(self.create({"productId": pid, "initialStock": 0}), 201)
        self.assertIsNone(p["price"])
        self.assertEqual((p["availableQuantity"], p["reservedQuantity"], p["totalQuantity"]),
                         (0, 0, 0))

    def test_create_duplicate_409(self):
        pid = "dup-" + uuid.uuid4().hex[:12]
        self.assertOk(self.create({"productId": pid, "initialStock": 5}), 201)
        self.assertProblem(self.create({"productId": pid, "initialStock": 7}), 409)
        self.assertStock(pid, 5, 0, 5)
        self.assertProblem(self.create({"productId": "prod-101", "initialStock": 1}), 409)

    def test_create_validation(self):
        u = uuid.uuid4().hex[:10]
        cases = [
            ("productId missing", {"initialStock": 1}, "productId"),
            ("productId empty", {"productId": "", "initialStock": 1}, "productId"),
            ("productId too long", {"productId": "p" * 65, "initialStock": 1}, "productId"),
            ("productId bad chars", {"productId": "a b", "initialStock": 1}, "productId"),
            ("productId quote", {"productId": "x'--", "initialStock": 1}, "productId"),
            ("productId number", {"productId": 7, "initialStock": 1}, "productId"),
            ("stock missing", {"productId": "v1-" + u}, "initialStock"),
            ("stock negative", {"productId": "v2-" + u, "initialStock": -1}, "initialStock"),
            ("stock too big", {"productId": "v3-" + u, "initialStock": 1000001}, "initialStock"),
            ("stock fractional", {"productId": "v4-" + u, "initialStock": D("1.5")},
             "initialStock"),
            ("stock string", {"productId": "v5-" + u, "initialStock": "5"}, "initialStock"),
            ("price zero", {"productId": "v6-" + u, "initialStock": 1, "price": D("0.00")},
             "price"),
            ("price negative", {"productId": "v7-" + u, "initialStock": 1, "price": D("-1.00")},
             "price"),
            ("price three decimals", {"productId": "v8-" + u, "initialStock": 1,
                                      "price": D("1.005")}, "price"),
            ("price twelve decimals", {"productId": "v9-" + u, "initialStock": 1,
                                       "price": D("5.000000000001")}, "price"),
        ]
        for name, body, field in cases:
            with self.subTest(name):
                self.assertProblem(self.create(body), 400, field=field, msg=name)
        # none of them was created
        for i in range(1, 10):
            self.assertProblem(self.oms.request("GET", "/api/inventory/v%d-%s" % (i, u),
                                                token=self.token), 404)

    def test_create_boundaries(self):
        pid = "big-" + uuid.uuid4().hex[:12]
        p = self.assertOk(self.create({"productId": pid, "initialStock": 1000000}), 201)
        self.assertEqual(p["totalQuantity"], 1000000)
        pid64 = ("L" * 48) + uuid.uuid4().hex[:16]
        self.assertOk(self.create({"productId": pid64, "initialStock": 1}), 201)

    def test_create_requires_json(self):
        raw = '{"productId": "ct-%s", "initialStock": 1}' % uuid.uuid4().hex[:8]
        self.assertProblem(self.oms.request("POST", "/api/inventory", raw_body=raw,
                                            content_type="text/plain", token=self.staff), 415)
        self.assertProblem(self.oms.request("POST", "/api/inventory", raw_body=raw,
                                            content_type=None, token=self.staff), 415)

    def test_unknown_product_404(self):
        self.assertProblem(self.oms.request("GET", "/api/inventory/nope-" + uuid.uuid4().hex,
                                            token=self.token), 404)

    def test_restock(self):
        pid = self.oms.new_product(self.staff, 10, price="2.00")
        v0 = self.oms.product(self.token, pid)["version"]
        r = self.oms.request("POST", "/api/inventory/%s/add?quantity=5" % pid, token=self.staff)
        p = self.assertOk(r)
        self.assertEqual((p["availableQuantity"], p["reservedQuantity"], p["totalQuantity"]),
                         (15, 0, 15))
        self.assertGreater(p["version"], v0)
        r = self.oms.request("POST", "/api/inventory/%s/add?quantity=1000000" % pid,
                             token=self.staff)
        self.assertEqual(self.assertOk(r)["totalQuantity"], 1000015)
        self.assertStock(pid, 1000015, 0, 1000015)

    def test_restock_validation(self):
        pid = self.oms.new_product(self.staff, 10)
        for q in ("quantity=0", "quantity=-1", "quantity=1000001", "quantity=abc",
                  "quantity=1.5", "quantity=", ""):
            with self.subTest(q=q):
                r = self.oms.request("POST", "/api/inventory/%s/add?%s" % (pid, q),
                                     token=self.staff)
                self.assertProblem(r, 400, field="quantity")
        self.assertStock(pid, 10, 0, 10)
        self.assertProblem(self.oms.request(
            "POST", "/api/inventory/nope-%s/add?quantity=1" % uuid.uuid4().hex,
            token=self.staff), 404)

    def test_restock_keeps_reserved(self):
        pid = self.oms.new_product(self.staff, 5, price="1.00")
        o = self.oms.place_order(self.token, [item(pid, 5, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertStock(pid, 0, 5, 5)
        self.assertOk(self.oms.request("POST", "/api/inventory/%s/add?quantity=3" % pid,
                                       token=self.staff))
        self.assertStock(pid, 3, 5, 8)

    def test_list_in_product_id_order_and_paging(self):
        prefix = "page-" + uuid.uuid4().hex[:8] + "-"
        ids = [prefix + c for c in ("e", "a", "d", "b", "c")]
        for pid in ids:
            self.assertOk(self.create({"productId": pid, "initialStock": 1}), 201)
        everything = self.oms.all_products(self.token)
        all_ids = [p["productId"] for p in everything]
        self.assertEqual(all_ids, sorted(all_ids), "productId order")
        self.assertEqual(len(all_ids), len(set(all_ids)))
        self.assertEqual([x for x in all_ids if x.startswith(prefix)], sorted(ids))
        # page through our products two at a time with after=
        seen, after = [], prefix
        while True:
            r = self.oms.request("GET", "/api/inventory?limit=2&after=" + _q(after),
                                 token=self.token)
            page = self.assertOk(r)
            self.assertLessEqual(len(page), 2)
            mine = [p["productId"] for p in page if p["productId"].startswith(prefix)]
            seen.extend(mine)
            if len(mine) < len(page) or not page:
                break
            after = page[-1]["productId"]
        self.assertEqual(seen, sorted(ids))
        first = self.assertOk(self.oms.request("GET", "/api/inventory?limit=1",
                                               token=self.token))
        self.assertEqual(len(first), 1)
        for q in ("limit=0", "limit=x"):
            with self.subTest(q=q):
                self.assertProblem(self.oms.request("GET", "/api/inventory?" + q,
                                                    token=self.token), 400)

    def test_invariant_over_all_products(self):
        self.assertInvariants()


class NoDemoDataTest(OmsTestCase):
    server_args = ("--demo-data", "false")

    def test_empty_catalog(self):
        self.assertProblem(self.oms.request("GET", "/api/inventory/prod-101", token=self.token),
                           404)
        self.assertEqual(self.assertOk(self.oms.request("GET", "/api/inventory",
                                                        token=self.token)), [])

    def test_order_for_missing_demo_product_fails(self):
        o = self.oms.place_order(self.token, [item("prod-101", 1, "50.00")])
        done = self.oms.wait_status(self.token, o["orderId"], "FAILED")
        self.assertTrue(done["failureReason"].startswith("PRODUCT_NOT_FOUND"), done)


if __name__ == "__main__":
    unittest.main()
