"""Orders: create / get / list / by customer, idempotency, validation (API.md "Orders")."""
import os
import sys
import threading
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, D, item, unique_email, wait_for, _q  # noqa: E402


class OrdersTest(OmsTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bob = cls.oms.login("bob")
        cls.p50 = cls.oms.new_product(cls.staff, 100000, price="50.00")
        cls.p100 = cls.oms.new_product(cls.staff, 100000, price="100.50")
        cls.pdime = cls.oms.new_product(cls.staff, 100000, price="0.10")

    # ------------------------------------------------------------------ create / get

    def test_create_order_response(self):
        email = unique_email()
        items = [item(self.p50, 2, "50.00"), item(self.p100, 3, "100.50")]
        r = self.oms.create_order(self.token, items, email=email)
        o = self.assertOk(r, 201)
        self.assertUuid(o["orderId"])
        self.assertEqual(r.headers.get("location"), "/api/orders/" + o["orderId"], r)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)
        self.assertEqual(o["status"], "PENDING")
        self.assertEqual(o["customerEmail"], email)
        self.assertEqual(o["userId"], "alice")
        self.assertEqual(len(o["items"]), 2)
        self.assertEqual(o["items"][0]["productId"], self.p50)
        self.assertEqual(o["items"][0]["quantity"], 2)
        self.assertMoney(o["items"][0]["price"], "50.00")
        self.assertEqual(o["items"][1]["productId"], self.p100)
        self.assertEqual(o["items"][1]["quantity"], 3)
        self.assertMoney(o["items"][1]["price"], "100.50")
        self.assertMoney(o["totalAmount"], "401.50")
        self.assertEqual(o["currency"], "USD")
        self.assertEqual(o["paymentStatus"], "PENDING")
        self.assertEqual(o["inventoryStatus"], "PENDING")
        self.assertIsNone(o["fulfillmentStatus"])
        self.assertIsNone(o["failureReason"])
        self.assertIs(o["cancelRequested"], False)
        self.assertTimestamp(o["createdAt"])
        self.assertTimestamp(o["updatedAt"])
        self.assertIsNone(o["completedAt"])
        self.assertIsNone(o["cancelledAt"])
        self.assertNotIn("Idempotent-Replayed".lower(), r.headers, r)

        g = self.oms.request("GET", "/api/orders/" + o["orderId"], token=self.token)
        got = self.assertOk(g)
        for k in ("orderId", "customerEmail", "userId", "items", "totalAmount", "currency",
                  "createdAt"):
            self.assertEqual(got[k], o[k], k)
        done = self.oms.wait_settled(self.token, o["orderId"])
        self.assertEqual(done["status"], "COMPLETED", done)
        self.assertTimestamp(done["completedAt"])
        self.assertMoney(done["totalAmount"], "401.50")

    def test_money_is_not_floating_point(self):
        r = self.oms.create_order(self.token, [item(self.pdime, 3, "0.10")])
        o = self.assertOk(r, 201)
        self.assertMoney(o["totalAmount"], "0.30")
        self.assertIn('"totalAmount":0.30', r.raw.replace(" ", ""))

    def test_price_with_one_or_no_decimals(self):
        body = ('{"customerEmail":"x@example.com","items":[{"productId":"%s","quantity":1,'
                '"price":50}, {"productId":"%s","quantity":1,"price":100.5}]}' % (self.p50,
                                                                                   self.p100))
        r = self.oms.request("POST", "/api/orders", raw_body=body, token=self.token,
                             headers={"Idempotency-Key": str(uuid.uuid4())})
        o = self.assertOk(r, 201)
        self.assertMoney(o["items"][0]["price"], "50.00")
        self.assertMoney(o["items"][1]["price"], "100.50")
        self.assertMoney(o["totalAmount"], "150.50")
        self.assertIn('"price":50.00', r.raw.replace(" ", ""))

    def test_explicit_currency_and_unknown_fields(self):
        body = {"customerEmail": unique_email(), "currency": "USD", "someFutureField": {"a": 1},
                "items": [{"productId": self.p50, "quantity": 1, "price": D("50.00"),
                           "note": "ignored"}]}
        r = self.oms.request("POST", "/api/orders", body=body, token=self.token,
                             headers={"Idempotency-Key": str(uuid.uuid4())})
        o = self.assertOk(r, 201)
        self.assertEqual(o["currency"], "USD")
        self.assertNotIn("someFutureField", o)

    def test_other_currency(self):
        # A product without a catalog price takes the client's price, in any currency.
        free = self.oms.new_product(self.staff, 10)
        r = self.oms.create_order(self.token, [item(free, 1, "50.00")], currency="EUR")
        o = self.assertOk(r, 201)
        self.assertEqual(o["currency"], "EUR")
        done = self.oms.wait_settled(self.token, o["orderId"])
        self.assertEqual(done["status"], "COMPLETED", done)
        self.assertEqual(done["currency"], "EUR")
        pay = self.assertOk(self.oms.request("GET", "/api/payments/order/" + o["orderId"],
                                             token=self.token))
        self.assertEqual(pay["currency"], "EUR")
        self.assertMoney(pay["amount"], "50.00")

    def test_a_catalog_price_is_in_the_catalog_currency(self):
        # p50 costs 50.00 USD: 50.00 EUR (or XXX) is another price, and nothing stays reserved.
        before = self.oms.product(self.token, self.p50)
        for currency in ("EUR", "XXX"):
            with self.subTest(currency=currency):
                r = self.oms.create_order(self.token, [item(self.p50, 1, "50.00")], currency=currency)
                o = self.assertOk(r, 201)
                done = self.oms.wait_settled(self.token, o["orderId"])
                self.assertEqual(done["status"], "FAILED", done)
                self.assertEqual(done["failureReason"], "PRICE_MISMATCH: " + self.p50, done)
        after = self.oms.product(self.token, self.p50)
        self.assertEqual(after["availableQuantity"], before["availableQuantity"])
        self.assertEqual(after["reservedQuantity"], before["reservedQuantity"])

    def test_get_unknown_order_404(self):
        r = self.oms.request("GET", "/api/orders/" + str(uuid.uuid4()), token=self.token)
        self.assertProblem(r, 404)

    def test_get_non_uuid_order_404(self):
        for bad in ("not-a-uuid", "12345", "ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ"):
            with self.subTest(bad):
                self.assertProblem(self.oms.request("GET", "/api/orders/" + bad,
                                                    token=self.token), 404)

    def test_another_customers_order_is_not_found(self):
        """API.md "Roles": a customer reads and cancels only its own orders; another's answers
        404 (its id is not confirmed to a stranger) and changes nothing; staff read every order."""
        o = self.oms.place_order(self.token, [item(self.p50, 1, "50.00")])
        oid = o["orderId"]
        self.assertProblem(self.oms.request("GET", "/api/orders/" + oid, token=self.bob), 404)
        self.assertProblem(self.oms.request("PUT", "/api/orders/%s/cancel" % oid, token=self.bob), 404)
        self.assertNotIn(oid, [x["orderId"] for x in self.assertOk(
            self.oms.request("GET", "/api/orders?limit=1000", token=self.bob))])
        got = self.assertOk(self.oms.request("GET", "/api/orders/" + oid, token=self.staff))
        self.assertEqual(got["userId"], "alice")
        self.assertFalse(got["cancelRequested"], "bob's cancel changed nothing")
        self.assertOk(self.oms.request("GET", "/api/orders/" + oid, token=self.token))

    def test_user_id_is_token_subject(self):
        o = self.oms.place_order(self.bob, [item(self.p50, 1, "50.00")])
        self.assertEqual(o["userId"], "bob")

    # ------------------------------------------------------------------ list / customer

    def test_list_newest_first_and_limit(self):
        a = self.oms.place_order(self.token, [item(self.p50, 1, "50.00")])
        b = self.oms.place_order(self.token, [item(self.p50, 1, "50.00")])
        r = self.oms.request("GET", "/api/orders?limit=1000", token=self.token)
        lst = self.assertOk(r)
        self.assertIsInstance(lst, list)
        ids = [o["orderId"] for o in lst]
        self.assertIn(a["orderId"], ids)
        self.assertIn(b["orderId"], ids)
        self.assertLess(ids.index(b["orderId"]), ids.index(a["orderId"]), "newest first")
        created = [o["createdAt"] for o in lst]
        self.assertEqual(created, sorted(created, reverse=True), "newest first by createdAt")
        one = self.assertOk(self.oms.request("GET", "/api/orders?limit=1", token=self.token))
        self.assertEqual(len(one), 1)

    def test_list_default_limit_and_clamp(self):
        lst = self.assertOk(self.oms.request("GET", "/api/orders", token=self.token))
        self.assertLessEqual(len(lst), 100)
        lst = self.assertOk(self.oms.request("GET", "/api/orders?limit=5000", token=self.token))
        self.assertLessEqual(len(lst), 1000)

    def test_list_status_filter(self):
        o = self.oms.place_order(self.token, [item(self.p50, 1, "50.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        f = self.oms.place_order(self.token, [item("no-such-" + uuid.uuid4().hex[:8], 1, "1.00")])
        self.oms.wait_status(self.token, f["orderId"], "FAILED")
        done = self.assertOk(self.oms.request("GET", "/api/orders?status=COMPLETED&limit=1000",
                                              token=self.token))
        self.assertTrue(all(x["status"] == "COMPLETED" for x in done), done)
        self.assertIn(o["orderId"], [x["orderId"] for x in done])
        failed = self.assertOk(self.oms.request("GET", "/api/orders?status=FAILED&limit=1000",
                                                token=self.token))
        self.assertTrue(all(x["status"] == "FAILED" for x in failed), failed)
        self.assertIn(f["orderId"], [x["orderId"] for x in failed])
        self.assertNotIn(f["orderId"], [x["orderId"] for x in done])

    def test_list_pages_with_before(self):
        email = unique_email()
        placed = [self.oms.place_order(self.token, [item(self.p50, 1, "50.00")], email=email)["orderId"]
                  for _ in range(5)]
        path = "/api/orders/customer/" + _q(email)
        everything = [o["orderId"] for o in self.assertOk(self.oms.request("GET", path, token=self.token))]
        self.assertEqual(everything, list(reversed(placed)), "newest first")
        pages, before = [], None
        while True:
            q = "?limit=2" + ("&before=" + before if before else "")
            page = [o["orderId"] for o in self.assertOk(self.oms.request("GET", path + q, token=self.token))]
            pages.append(page)
            if len(page) < 2:
                break
            before = page[-1]
        self.assertEqual([len(p) for p in pages], [2, 2, 1])
        self.assertEqual(sum(pages, []), everything, "the pages together: every order once, in order")
        # The same on the unfiltered list, and an id in upper case means the same order.
        older = self.assertOk(self.oms.request("GET", "/api/orders?limit=1000&before=" + placed[2].upper(),
                                               token=self.token))
        ids = [o["orderId"] for o in older]
        self.assertNotIn(placed[2], ids)
        self.assertNotIn(placed[3], ids)
        self.assertIn(placed[1], ids)
        self.assertIn(placed[0], ids)

    def test_list_before_must_be_an_id(self):
        for q in ("before=abc", "before=1", "before=" + "x" * 36):
            with self.subTest(q):
                self.assertProblem(self.oms.request("GET", "/api/orders?" + q, token=self.token), 400)
                self.assertProblem(self.oms.request("GET", "/api/sagas?" + q, token=self.token), 400)
                self.assertProblem(self.oms.request("GET", "/api/notifications?" + q, token=self.token), 400)
                self.assertProblem(self.oms.request("GET", "/api/fulfillment?" + q, token=self.token), 400)

    def test_sagas_notifications_and_tasks_page_with_before(self):
        email = unique_email()
        placed = []
        for _ in range(3):  # one after the other: each saga creates its task in this order
            placed.append(self.oms.place_order(self.token, [item(self.p50, 1, "50.00")], email=email)["orderId"])
            self.oms.wait_status(self.token, placed[-1], "COMPLETED")
        sagas = self.assertOk(self.oms.request("GET", "/api/sagas?limit=1000&before=" + placed[2], token=self.token))
        ids = [s["orderId"] for s in sagas]
        self.assertNotIn(placed[2], ids)
        self.assertLess(ids.index(placed[1]), ids.index(placed[0]), "newest first")
        notes = self.assertOk(self.oms.request("GET", "/api/notifications?recipient=" + _q(email), token=self.token))
        self.assertGreaterEqual(len(notes), 6)  # received + confirmed, three orders
        rest = self.assertOk(self.oms.request(
            "GET", "/api/notifications?recipient=%s&before=%s" % (_q(email), notes[1]["id"]), token=self.token))
        self.assertEqual([n["id"] for n in rest], [n["id"] for n in notes[2:]])
        tasks = self.assertOk(self.oms.request("GET", "/api/fulfillment?status=ALL&limit=1000", token=self.token))
        mine = [t for t in tasks if t["orderId"] in placed]
        self.assertEqual([t["orderId"] for t in mine], list(reversed(placed)))
        older = self.assertOk(self.oms.request(
            "GET", "/api/fulfillment?limit=1000&before=" + mine[0]["id"], token=self.token))
        self.assertNotIn(placed[2], [t["orderId"] for t in older])
        self.assertIn(placed[1], [t["orderId"] for t in older])

    def test_list_bad_parameters(self):
        for q in ("status=BOGUS", "status=pending_x", "limit=0", "limit=-1", "limit=abc",
                  "limit=1.5"):
            with self.subTest(q):
                self.assertProblem(self.oms.request("GET", "/api/orders?" + q,
                                                    token=self.token), 400)

    def test_customer_orders_case_insensitive(self):
        email = "Mixed.Case-%s@Example.COM" % uuid.uuid4().hex[:8]
        a = self.oms.place_order(self.token, [item(self.p50, 1, "50.00")], email=email)
        b = self.oms.place_order(self.bob, [item(self.p50, 1, "50.00")], email=email.lower())
        self.oms.place_order(self.token, [item(self.p50, 1, "50.00")], email=unique_email())
        for variant in (email, email.lower(), email.upper(), _q(email)):
            with self.subTest(variant):
                # raw '@' and percent-encoded forms of the path segment
                lst = self.assertOk(self.oms.request(
                    "GET", "/api/orders/customer/" + variant, token=self.staff))
                self.assertEqual([x["orderId"] for x in lst], [b["orderId"], a["orderId"]])
                # a customer's list of that email holds only its own orders
                own = self.assertOk(self.oms.request(
                    "GET", "/api/orders/customer/" + variant, token=self.token))
                self.assertEqual([x["orderId"] for x in own], [a["orderId"]])
        empty = self.assertOk(self.oms.request(
            "GET", "/api/orders/customer/" + _q(unique_email("nobody")), token=self.token))
        self.assertEqual(empty, [])

    # ------------------------------------------------------------------ idempotency

    def test_replay_same_request(self):
        key = "key-" + uuid.uuid4().hex
        items = [item(self.p50, 2, "50.00")]
        email = unique_email()
        r1 = self.oms.create_order(self.token, items, email=email, key=key)
        self.assertOk(r1, 201)
        self.assertNotEqual(r1.headers.get("idempotent-replayed"), "true")
        r2 = self.oms.create_order(self.token, items, email=email, key=key)
        self.assertEqual(r2.status, 201, r2)
        self.assertEqual(r2.headers.get("idempotent-replayed"), "true", r2)
        self.assertEqual(r2.body, r1.body, "replay returns the first response body")
        self.assertEqual(r2.headers.get("location"), r1.headers.get("location"))
        lst = self.assertOk(self.oms.request("GET", "/api/orders/customer/" + _q(email),
                                             token=self.token))
        self.assertEqual(len(lst), 1)
        # a replay after the saga finished still returns the first response (PENDING body)
        self.oms.wait_settled(self.token, r1.body["orderId"])
        r3 = self.oms.create_order(self.token, items, email=email, key=key)
        self.assertEqual(r3.status, 201, r3)
        self.assertEqual(r3.headers.get("idempotent-replayed"), "true", r3)
        self.assertEqual(r3.body, r1.body)
        types = self.oms.notification_types(self.token, r1.body["orderId"])
        self.assertEqual(types.count("ORDER_CREATED"), 1, types)

    def test_replay_is_canonical(self):
        key = "canon-" + uuid.uuid4().hex
        email = unique_email()
        first = ('{"customerEmail":"%s","items":[{"productId":"%s","quantity":2,"price":50.00}],'
                 '"currency":"USD"}' % (email, self.p50))
        second = ('{\n  "items" : [ { "price" : 50, "quantity" : 2, "productId" : "%s" } ],\n'
                  '  "currency": "USD",   "customerEmail" : "%s"\n}' % (self.p50, email))
        h = {"Idempotency-Key": key}
        r1 = self.oms.request("POST", "/api/orders", raw_body=first, headers=h, token=self.token)
        self.assertOk(r1, 201)
        r2 = self.oms.request("POST", "/api/orders", raw_body=second, headers=h, token=self.token)
        self.assertEqual(r2.status, 201, r2)
        self.assertEqual(r2.headers.get("idempotent-replayed"), "true", r2)
        self.assertEqual(r2.body["orderId"], r1.body["orderId"])
        # the default currency is the same request as an explicit USD
        third = ('{"customerEmail":"%s","items":[{"productId":"%s","quantity":2,"price":50.0}]}'
                 % (email, self.p50))
        r3 = self.oms.request("POST", "/api/orders", raw_body=third, headers=h, token=self.token)
        self.assertEqual(r3.status, 201, r3)
        self.assertEqual(r3.body["orderId"], r1.body["orderId"])

    def test_same_key_different_request_422(self):
        key = "k422-" + uuid.uuid4().hex
        email = unique_email()
        r1 = self.oms.create_order(self.token, [item(self.p50, 1, "50.00")], email=email, key=key)
        self.assertOk(r1, 201)
        variants = [
            ([item(self.p50, 2, "50.00")], email),
            ([item(self.p100, 1, "100.50")], email),
            ([item(self.p50, 1, "50.00")], unique_email()),
            ([item(self.p50, 1, "50.00"), item(self.p100, 1, "100.50")], email),
        ]
        for items, em in variants:
            with self.subTest(items=items, email=em):
                r = self.oms.create_order(self.token, items, email=em, key=key)
                self.assertProblem(r, 422)
        r = self.oms.create_order(self.token, [item(self.p50, 1, "50.00")], email=email, key=key,
                                  currency="EUR")
        self.assertProblem(r, 422)
        lst = self.assertOk(self.oms.request("GET", "/api/orders/customer/" + _q(email),
                                             token=self.token))
        self.assertEqual(len(lst), 1)

    def test_keys_are_scoped_per_user(self):
        key = "shared-" + uuid.uuid4().hex
        email = unique_email()
        items = [item(self.p50, 1, "50.00")]
        ra = self.oms.create_order(self.token, items, email=email, key=key)
        rb = self.oms.create_order(self.bob, items, email=email, key=key)
        self.assertOk(ra, 201)
        self.assertOk(rb, 201)
        self.assertNotEqual(rb.headers.get("idempotent-replayed"), "true", rb)
        self.assertNotEqual(ra.body["orderId"], rb.body["orderId"])
        self.assertEqual(ra.body["userId"], "alice")
        self.assertEqual(rb.body["userId"], "bob")
        # and bob, with a different request under the same key, is not a 422 of alice's key
        rc = self.oms.create_order(self.oms.login("carol"), [item(self.p100, 1, "100.50")],
                                   email=email, key=key)
        self.assertOk(rc, 201)

    def test_rejected_request_stores_nothing(self):
        key = "fixme-" + uuid.uuid4().hex
        bad = self.oms.create_order(self.token, [item(self.p50, 0, "50.00")], key=key)
        self.assertProblem(bad, 400, field="quantity")
        good = self.oms.create_order(self.token, [item(self.p50, 1, "50.00")], key=key)
        self.assertOk(good, 201)
        self.assertNotEqual(good.headers.get("idempotent-replayed"), "true", good)

    def test_concurrent_duplicates_make_one_order(self):
        for round_ in range(3):
            key = "race-%d-%s" % (round_, uuid.uuid4().hex)
            email = unique_email("race")
            items = [item(self.p50, 1, "50.00")]
            n = 12
            barrier = threading.Barrier(n)

            def fire(_):
                barrier.wait(10)
                return self.oms.create_order(self.token, items, email=email, key=key)

            with ThreadPoolExecutor(n) as ex:
                results = list(ex.map(fire, range(n)))
            statuses = sorted(r.status for r in results)
            self.assertTrue(all(s in (201, 409) for s in statuses), results)
            created = [r for r in results if r.status == 201]
            self.assertGreaterEqual(len(created), 1, results)
            self.assertEqual(len({r.body["orderId"] for r in created}), 1, results)
            fresh = [r for r in created if r.headers.get("idempotent-replayed") != "true"]
            self.assertEqual(len(fresh), 1, "exactly one non-replayed 201: %r" % results)
            for r in results:
                if r.status == 409:
                    self.assertProblem(r, 409)
            oid = created[0].body["orderId"]
            lst = self.assertOk(self.oms.request("GET", "/api/orders/customer/" + _q(email),
                                                 token=self.token))
            self.assertEqual([x["orderId"] for x in lst], [oid])
            self.oms.wait_status(self.token, oid, "COMPLETED")
            self.assertEqual(self.oms.notification_types(self.token, oid),
                             ["ORDER_COMPLETED", "ORDER_CREATED"])
            sagas = self.assertOk(self.oms.request("GET", "/api/sagas?limit=1000",
                                                   token=self.token))
            self.assertEqual(sum(1 for s in sagas if s["orderId"] == oid), 1)

    def test_idempotency_key_required_and_shaped(self):
        body = {"customerEmail": unique_email(), "items": [item(self.p50, 1, "50.00")]}
        r = self.oms.request("POST", "/api/orders", body=body, token=self.token)
        self.assertProblem(r, 400, field="Idempotency-Key")
        for bad in ("", "k" * 256, "has space", "tab\tkey"):
            with self.subTest(key=bad):
                try:
                    r = self.oms.request("POST", "/api/orders", body=body, token=self.token,
                                         headers={"Idempotency-Key": bad})
                except ValueError:
                    continue  # http.client refuses to send it; nothing to test
                self.assertProblem(r, 400, field="Idempotency-Key")
        r = self.oms.request("POST", "/api/orders", body=body, token=self.token,
                             headers={"Idempotency-Key": "k" * 255})
        self.assertOk(r, 201)
        r = self.oms.request("POST", "/api/orders", body=body, token=self.token,
                             headers={"Idempotency-Key": "!#$%&'*+-.^_`|~" + uuid.uuid4().hex})
        self.assertOk(r, 201)

    # ------------------------------------------------------------------ validation

    def _post(self, body):
        return self.oms.request("POST", "/api/orders", body=body, token=self.token,
                                headers={"Idempotency-Key": str(uuid.uuid4())})

    def _order(self, **over):
        body = {"customerEmail": "valid@example.com",
                "items": [{"productId": self.p50, "quantity": 1, "price": D("50.00")}]}
        body.update(over)
        return body

    def _line(self, **over):
        line = {"productId": self.p50, "quantity": 1, "price": D("50.00")}
        for k, v in over.items():
            if v is KeyError:
                line.pop(k, None)
            else:
                line[k] = v
        return self._order(items=[line])

    def test_validation_errors_name_the_field(self):
        many = [{"productId": "p%d" % i, "quantity": 1, "price": D("1.00")} for i in range(101)]
        long_local = "a" * 243 + "@example.com"  # 255 chars
        cases = [
            ("email missing", {"items": self._order()["items"]}, "customerEmail"),
            ("email null", self._order(customerEmail=None), "customerEmail"),
            ("email not an address", self._order(customerEmail="not-an-email"), "customerEmail"),
            ("email no domain", self._order(customerEmail="user@"), "customerEmail"),
            ("email no local part", self._order(customerEmail="@example.com"), "customerEmail"),
            ("email blank", self._order(customerEmail=""), "customerEmail"),
            ("email too long", self._order(customerEmail=long_local), "customerEmail"),
            ("email number", self._order(customerEmail=12), "customerEmail"),
            ("items missing", {"customerEmail": "a@example.com"}, "items"),
            ("items empty", self._order(items=[]), "items"),
            ("items not array", self._order(items="prod-101"), "items"),
            ("items over 100", self._order(items=many), "items"),
            ("item not object", self._order(items=[5]), "items"),
            ("productId missing", self._line(productId=KeyError), "productId"),
            ("productId empty", self._line(productId=""), "productId"),
            ("productId too long", self._line(productId="p" * 65), "productId"),
            ("productId bad chars", self._line(productId="bad id!"), "productId"),
            ("productId slash", self._line(productId="a/b"), "productId"),
            ("productId number", self._line(productId=101), "productId"),
            ("quantity missing", self._line(quantity=KeyError), "quantity"),
            ("quantity zero", self._line(quantity=0), "quantity"),
            ("quantity negative", self._line(quantity=-3), "quantity"),
            ("quantity too big", self._line(quantity=10001), "quantity"),
            ("quantity fractional", self._line(quantity=D("1.5")), "quantity"),
            ("quantity string", self._line(quantity="2"), "quantity"),
            ("quantity bool", self._line(quantity=True), "quantity"),
            ("price missing", self._line(price=KeyError), "price"),
            ("price zero", self._line(price=D("0.00")), "price"),
            ("price negative", self._line(price=D("-5.00")), "price"),
            ("price too big", self._line(price=D("1000000.01")), "price"),
            ("price three decimals", self._line(price=D("1.234")), "price"),
            ("price twelve decimals", self._line(price=D("50.000000000001")), "price"),
            ("price string", self._line(price="50.00"), "price"),
            ("price null", self._line(price=None), "price"),
            ("currency not a code", self._order(currency="US"), "currency"),
            ("currency too long", self._order(currency="DOLLARS"), "currency"),
            ("duplicate productId", self._order(items=[
                {"productId": self.p50, "quantity": 1, "price": D("50.00")},
                {"productId": self.p50, "quantity": 2, "price": D("50.00")}]),
             ("productId", "items")),
        ]
        for name, body, field in cases:
            with self.subTest(name):
                self.assertProblem(self._post(body), 400, field=field, msg=name)

    def test_validation_boundaries_accepted(self):
        local = "b" * 64
        domain = ("d" * 60 + ".") * 3 + "e" * (254 - 64 - 1 - 183)
        email = local + "@" + domain
        self.assertEqual(len(email), 254)
        items100 = [{"productId": "edge-%d-%s" % (i, uuid.uuid4().hex[:6]), "quantity": 1,
                     "price": D("1.00")} for i in range(100)]
        cases = [
            ("email 254 chars", self._order(customerEmail=email)),
            ("100 items", self._order(items=items100)),
            ("quantity 10000", self._line(quantity=10000)),
            ("price 1000000.00", self._line(price=D("1000000.00"))),
            ("price 0.01", self._line(price=D("0.01"))),
            ("productId 64 chars", self._line(productId="P" * 64)),
            ("productId charset", self._line(productId="Az09._-x")),
        ]
        for name, body in cases:
            with self.subTest(name):
                self.assertOk(self._post(body), 201, msg=name)

    def test_large_totals_are_exact(self):
        u = uuid.uuid4().hex[:6]
        cases = [
            ([item("big-%s-%d" % (u, i), 10000, "1000000.00") for i in range(100)],
             "1000000000000.00"),
            ([item("odd-%s-%d" % (u, i), 9999, "999999.99") for i in range(100)],
             "999899990001.00"),
            ([item("cent-%s-%d" % (u, i), 10000, "0.01") for i in range(3)], "300.00"),
        ]
        for items, total in cases:
            with self.subTest(total=total):
                o = self.assertOk(self._post(self._order(items=items)), 201)
                self.assertMoney(o["totalAmount"], total)

    def test_body_must_be_an_object(self):
        for raw in ("[]", "null", "\"x\"", "42", ""):
            with self.subTest(raw=raw):
                r = self.oms.request("POST", "/api/orders", raw_body=raw, token=self.token,
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
                self.assertProblem(r, 400)


if __name__ == "__main__":
    unittest.main()
