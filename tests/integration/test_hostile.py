"""Hostile and malformed input: the server answers with problem+json, never crashes."""
import json
import os
import socket
import sys
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (OmsTestCase, D, item, jwt_parts, make_jwt, b64url, b64url_decode,  # noqa
                     raw_http, wait_for, _q, dumps)

SECRET = "hostile-suite-secret-5f1c0e7a9b"


class HostileTest(OmsTestCase):
    server_args = ("--jwt-secret", SECRET)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pid = cls.oms.new_product(cls.staff, 1000, price="5.00")

    def post_order_raw(self, raw, content_type="application/json", key=None):
        return self.oms.request("POST", "/api/orders", raw_body=raw, content_type=content_type,
                                token=self.token,
                                headers={"Idempotency-Key": key or str(uuid.uuid4())})

    def valid_order(self, **over):
        body = {"customerEmail": "hostile@example.com", "items": [item(self.pid, 1, "5.00")]}
        body.update(over)
        return body

    def assertAlive(self):
        r = self.oms.request("GET", "/healthz")
        self.assertEqual(r.status, 200, "server unhealthy: %r\n%s" % (r, self.oms.stderr_tail()))

    def assertNot5xx(self, r):
        self.assertLess(r.status, 500, r)

    # ------------------------------------------------------------------ bodies

    def test_malformed_json(self):
        cases = ['{', '{"customerEmail": ', '{"items": [}', "{'single': 'quotes'}",
                 '{"a":1,}', '{"a" 1}', 'nul', '{"customerEmail":"a@b.co"} trailing',
                 '\x00', '{"customerEmail":"a@b.co","items":[{"productId":"x","quantity":1,'
                 '"price":NaN}]}', '{"x": Infinity}', '{"x": 01}', '{"x": .5}', '{"x": "\\q"}']
        for raw in cases:
            with self.subTest(raw=raw[:40]):
                self.assertProblem(self.post_order_raw(raw), 400)
        self.assertAlive()

    def test_invalid_utf8_and_escapes(self):
        good = json.dumps({"customerEmail": "x@example.com",
                           "items": [{"productId": self.pid, "quantity": 1, "price": 5.0}]})
        cases = [
            good.replace("x@example", "\xff\xfe@example").encode("latin-1"),
            good.replace("x@example", "\\ud800@example").encode(),
            good.replace(self.pid, self.pid + "\\u0000").encode(),
            b"\xef\xbb\xbf" + b"\xc3\x28" + good.encode(),
        ]
        for raw in cases:
            with self.subTest(raw=raw[:40]):
                r = self.post_order_raw(raw)
                self.assertProblem(r, 400)
        self.assertAlive()

    def test_deeply_nested_json(self):
        n = 100000
        bodies = {
            "arrays": "[" * n + "]" * n,
            "objects": '{"a":' * n + "1" + "}" * n,
            "nested items": '{"customerEmail":"a@example.com","items":' + "[" * n + "]" * n + "}",
            "unknown field": '{"customerEmail":"a@example.com","items":[{"productId":"%s",'
                             '"quantity":1,"price":5.00}],"x":%s}' % (self.pid,
                                                                     "[" * n + "]" * n),
            "unclosed": "[" * n,
        }
        for name, raw in bodies.items():
            with self.subTest(name):
                r = self.post_order_raw(raw)
                if name == "unknown field" and r.status == 201:
                    continue  # ignoring an unknown (deep) field is allowed
                self.assertProblem(r, 400)
                self.assertAlive()
        for path in ("/api/inventory", "/api/auth/login"):
            with self.subTest(path=path):
                r = self.oms.request("POST", path, raw_body="[" * n + "]" * n, token=self.staff)
                self.assertProblem(r, 400)
        self.assertAlive()

    def test_wrong_types(self):
        cases = [
            self.valid_order(items={"productId": self.pid, "quantity": 1, "price": D("5.00")}),
            self.valid_order(items=[None]),
            self.valid_order(items=[[self.pid, 1, D("5.00")]]),
            self.valid_order(customerEmail=["a@example.com"]),
            self.valid_order(customerEmail={"email": "a@example.com"}),
            self.valid_order(currency=840),
            self.valid_order(items=[{"productId": {"$ne": None}, "quantity": 1,
                                     "price": D("5.00")}]),
            self.valid_order(items=[{"productId": self.pid, "quantity": [1],
                                     "price": D("5.00")}]),
            self.valid_order(items=[{"productId": self.pid, "quantity": 1,
                                     "price": {"amount": 5}}]),
        ]
        for body in cases:
            with self.subTest(body=str(body)[:80]):
                r = self.oms.request("POST", "/api/orders", body=body, token=self.token,
                                     headers={"Idempotency-Key": str(uuid.uuid4())})
                self.assertProblem(r, 400)
        self.assertAlive()

    def test_optional_bodies_still_validated(self):
        oid = self.oms.place_order(self.token, [item(self.pid, 1, "5.00")])["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        cases = [
            ("PUT", "/api/orders/%s/cancel" % oid, "{", None),
            ("PUT", "/api/orders/%s/cancel" % oid, '{"reason": 42}', "reason"),
            ("PUT", "/api/orders/%s/cancel" % oid, '{"reason": ["a"]}', "reason"),
            ("POST", "/api/fulfillment/order/%s/dispatch" % oid, "{", None),
            ("POST", "/api/fulfillment/order/%s/dispatch" % oid, '{"trackingNumber": 7}',
             "trackingNumber"),
            ("POST", "/api/auth/login", '{"userId": ', None),
        ]
        for method, path, raw, field in cases:
            with self.subTest(method=method, path=path, raw=raw):
                r = self.oms.request(method, path, raw_body=raw, token=self.staff)
                self.assertProblem(r, 400, field=field)
        # none of those took effect
        o = self.oms.get_order(self.token, oid)
        self.assertEqual((o["status"], o["cancelRequested"], o["fulfillmentStatus"]),
                         ("COMPLETED", False, "INITIATED"))
        for raw in ("null", "[]", '"x"'):
            with self.subTest(inventory=raw):
                self.assertProblem(self.oms.request("POST", "/api/inventory", raw_body=raw,
                                                    token=self.staff), 400)

    def test_a_key_given_twice_is_400_naming_it(self):
        email = "dup-%s@example.com" % uuid.uuid4().hex[:8]
        cases = [
            ('{"customerEmail":"%s","customerEmail":"evil@example.com","items":[{"productId":"%s",'
             '"quantity":1,"price":5.00}]}' % (email, self.pid), "customerEmail"),
            ('{"customerEmail":"%s","items":[{"productId":"%s","quantity":1,"quantity":50,'
             '"price":5.00}]}' % (email, self.pid), "quantity"),
        ]
        for raw, key in cases:
            with self.subTest(key):
                r = self.post_order_raw(raw)
                self.assertProblem(r, 400)
                self.assertIn('duplicate key "%s"' % key, r.body["detail"])
        # nothing was stored for that customer
        lst = self.assertOk(self.oms.request("GET", "/api/orders/customer/" + email, token=self.token))
        self.assertEqual(lst, [])
        r = self.oms.request("POST", "/api/inventory", token=self.staff,
                             raw_body='{"productId":"dup-x","initialStock":1,"initialStock":99}')
        self.assertProblem(r, 400)
        self.assertProblem(self.oms.request("GET", "/api/inventory/dup-x", token=self.token), 404)

    def test_a_retry_that_only_changes_the_email_case_replays(self):
        key = str(uuid.uuid4())
        email = "Case-%s@Example.com" % uuid.uuid4().hex[:8]
        first = self.assertOk(self.oms.create_order(self.token, [item(self.pid, 1, "5.00")],
                                                    email=email, key=key), 201)
        again = self.oms.create_order(self.token, [item(self.pid, 1, "5.00")], email=email.lower(), key=key)
        self.assertEqual(again.status, 201, again)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true", again)
        self.assertEqual(again.body["orderId"], first["orderId"])
        self.assertEqual(again.body["customerEmail"], email)  # the first answer, as it was
        lst = self.assertOk(self.oms.request("GET", "/api/orders/customer/" + email.upper(), token=self.token))
        self.assertEqual([o["orderId"] for o in lst], [first["orderId"]])

    def test_huge_and_odd_numbers(self):
        def order(q, p):
            return ('{"customerEmail":"n@example.com","items":[{"productId":"%s","quantity":%s,'
                    '"price":%s}]}' % (self.pid, q, p))
        cases = [
            ("quantity 1e400", order("1e400", "5.00"), "quantity"),
            ("quantity huge int", order("99999999999999999999999999999", "5.00"), "quantity"),
            ("quantity 2^63", order("9223372036854775808", "5.00"), "quantity"),
            ("quantity 2^64+1", order("18446744073709551617", "5.00"), "quantity"),
            ("quantity 1e2", order("1e2", "5.00"), None),  # the number 100: accepted (DECISIONS.md)
            ("quantity -0", order("-0", "5.00"), "quantity"),
            ("price 1e400", order("1", "1e400"), "price"),
            ("price -1e400", order("1", "-1e400"), "price"),
            ("price 1e-400", order("1", "1e-400"), "price"),
            ("price huge", order("1", "9" * 400), "price"),
            ("price many decimals", order("1", "5.000000000000000000000001"), "price"),
            ("price 2^63 cents", order("1", "92233720368547758.08"), "price"),
        ]
        for name, raw, field in cases:
            with self.subTest(name):
                r = self.post_order_raw(raw)
                if field is None:
                    self.assertEqual(r.status, 201, r)
                    self.assertEqual(r.body["items"][0]["quantity"], 100)
                    continue
                self.assertProblem(r, 400, field=field)
        r = self.oms.request("POST", "/api/inventory",
                             raw_body='{"productId":"huge-%s","initialStock":1e400}'
                             % uuid.uuid4().hex[:8], token=self.staff)
        self.assertProblem(r, 400)
        r = self.oms.request("POST", "/api/inventory/%s/add?quantity=99999999999999999999999"
                             % self.pid, token=self.staff)
        self.assertProblem(r, 400)
        r = self.oms.request("GET", "/api/orders?limit=99999999999999999999999999",
                             token=self.token)
        self.assertEqual(r.status, 200, r)  # clamped to 1000, as any limit above it
        self.assertLessEqual(len(r.body), 1000)
        self.assertAlive()

    def test_body_over_one_mib_is_413(self):
        pad = "x" * (1024 * 1024)
        raw = json.dumps({"customerEmail": "big@example.com", "pad": pad,
                          "items": [{"productId": self.pid, "quantity": 1, "price": 5.0}]})
        req = ("POST /api/orders HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
               "Idempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
               "Connection: close\r\n\r\n" % (self.token, uuid.uuid4(), len(raw))).encode()
        status, headers, body, allraw = raw_http(self.oms.host, self.oms.port,
                                                 req + raw.encode())
        self.assertEqual(status, 413, allraw[:500])
        self.assertTrue(headers.get("content-type", "").startswith("application/problem+json"),
                        headers)
        problem = json.loads(body)
        self.assertEqual(problem["status"], 413)
        # exactly 1 MiB is not over the limit
        exact = '{"customerEmail":"ok@example.com","items":[{"productId":"%s","quantity":1,' \
                '"price":5.00}],"pad":"' % self.pid
        exact += "y" * (1024 * 1024 - len(exact) - 2) + '"}'
        self.assertEqual(len(exact), 1024 * 1024)
        r = self.post_order_raw(exact)
        self.assertEqual(r.status, 201, r)
        self.assertAlive()

    def test_chunked_body_over_one_mib_is_413(self):
        head = ("POST /api/inventory HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                "Connection: close\r\n\r\n" % self.token).encode()
        payload = ('{"productId":"chunk-%s","initialStock":1,"name":"' % uuid.uuid4().hex[:8] +
                   "z" * (2 * 1024 * 1024) + '"}').encode()
        chunks = b""
        for i in range(0, len(payload), 65536):
            part = payload[i:i + 65536]
            chunks += b"%x\r\n" % len(part) + part + b"\r\n"
        chunks += b"0\r\n\r\n"
        status, headers, body, allraw = raw_http(self.oms.host, self.oms.port, head + chunks)
        self.assertEqual(status, 413, allraw[:500])
        self.assertAlive()

    def test_content_type(self):
        raw = dumps(self.valid_order())
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml",
                   "multipart/form-data; boundary=x", None):
            with self.subTest(ct=ct):
                self.assertProblem(self.post_order_raw(raw, content_type=ct), 415)
        for ct in ("application/json; charset=utf-8", "application/json;charset=UTF-8"):
            with self.subTest(ct=ct):
                self.assertEqual(self.post_order_raw(raw, content_type=ct).status, 201)

    # ------------------------------------------------------------------ routing

    def test_unknown_routes_404(self):
        for path in ("/api/nope", "/api/orders/%s/nope" % uuid.uuid4(), "/api", "/api/",
                     "/nope", "/", "/index.html", "/api/orders/a/b/c/d", "/API/orders"):
            with self.subTest(path=path):
                self.assertProblem(self.oms.request("GET", path, token=self.token), 404)
        self.assertProblem(self.oms.request("GET", "/api/nope"), 401)

    def test_wrong_method_405(self):
        oid = str(uuid.uuid4())
        cases = [
            ("DELETE", "/api/orders", {"GET", "POST"}),
            ("PATCH", "/api/orders", {"GET", "POST"}),
            ("PUT", "/api/orders/" + oid, {"GET"}),
            ("DELETE", "/api/orders/" + oid, {"GET"}),
            ("GET", "/api/orders/%s/cancel" % oid, {"PUT"}),
            ("DELETE", "/api/inventory", {"GET", "POST"}),
            ("DELETE", "/api/inventory/prod-101", {"GET"}),
            ("GET", "/api/inventory/prod-101/add", {"POST"}),
            ("PUT", "/api/payments/order/" + oid, {"GET"}),
            ("GET", "/api/fulfillment/order/%s/dispatch" % oid, {"POST"}),
            ("POST", "/api/notifications", {"GET"}),
            ("DELETE", "/api/sagas/" + oid, {"GET"}),
        ]
        for method, path, allowed in cases:
            with self.subTest(method=method, path=path):
                r = self.oms.request(method, path, token=self.token)
                self.assertProblem(r, 405)
                allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
                self.assertTrue(allowed <= allow, "Allow %r should list %r" % (allow, allowed))
                self.assertNotIn(method, allow)

    def test_non_uuid_ids_never_500(self):
        ids = ["not-a-uuid", "%00", "..%2F..%2Fetc%2Fpasswd", quote("' OR 1=1 --", safe=""),
               "x" * 2000, "%C3%A9t%C3%A9", "00000000-0000-0000-0000-00000000000g",
               "%FF%FE", quote('"><script>alert(1)</script>', safe=""), "-1", "0",
               "1e400", "null", "%25n%25n%25n%25n"]
        routes = [("GET", "/api/orders/%s"), ("PUT", "/api/orders/%s/cancel"),
                  ("GET", "/api/payments/order/%s"), ("POST", "/api/payments/refund/%s"),
                  ("GET", "/api/fulfillment/order/%s"),
                  ("POST", "/api/fulfillment/order/%s/dispatch"),
                  ("POST", "/api/fulfillment/order/%s/deliver"), ("GET", "/api/sagas/%s"),
                  ("GET", "/api/inventory/%s"), ("POST", "/api/inventory/%s/add?quantity=1"),
                  ("GET", "/api/orders/customer/%s")]
        for method, pattern in routes:
            for bad in ids:
                with self.subTest(method=method, path=pattern % bad[:30]):
                    # as staff, who may call every one of these routes (a customer gets 403 on
                    # the staff routes before any id is looked at)
                    r = self.oms.request(method, pattern % bad, token=self.staff)
                    # A URL that does not decode to UTF-8 is 400 on any route; an id that is not
                    # one of ours cannot exist (404); one that decodes to a "/" is no route (404).
                    # An email is any string: an unknown one has no orders.
                    if bad == "%FF%FE":
                        self.assertProblem(r, 400)
                    elif pattern == "/api/orders/customer/%s" and "%2F" not in bad:
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(r.body, [])
                    else:
                        self.assertProblem(r, 404)
        self.assertAlive()

    # ------------------------------------------------------------------ injection / identity

    def test_sql_looking_strings_are_data(self):
        user = "robert'); DROP TABLE orders;--"
        r = self.oms.request("POST", "/api/auth/login", body={"userId": user})
        token = self.assertOk(r)["token"]
        self.assertEqual(jwt_parts(token)[1]["sub"], user)
        email = "o'brien-%s@example.com" % uuid.uuid4().hex[:6]
        key = "';DROP-TABLE-idempotency;--" + uuid.uuid4().hex[:6]
        r1 = self.oms.create_order(token, [item(self.pid, 1, "5.00")], email=email, key=key)
        o = self.assertOk(r1, 201)
        self.assertEqual(o["userId"], user)
        self.assertEqual(o["customerEmail"], email)
        r2 = self.oms.create_order(token, [item(self.pid, 1, "5.00")], email=email, key=key)
        self.assertEqual(r2.headers.get("idempotent-replayed"), "true", r2)
        self.assertEqual(r2.body["orderId"], o["orderId"])
        lst = self.assertOk(self.oms.request("GET", "/api/orders/customer/" + _q(email),
                                             token=self.staff))
        self.assertEqual([x["orderId"] for x in lst], [o["orderId"]])
        r = self.oms.request("GET", "/api/orders/customer/" + _q("' OR '1'='1"),
                             token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, [])
        names = ["Robert'); DROP TABLE products;--", "naïve ☃ 日本語 \"quoted\" \\ back",
                 "%s%s%n", "<script>alert(1)</script>"]
        for name in names:
            with self.subTest(name=name):
                pid = self.oms.new_product(self.staff, 1, name=name)
                self.assertEqual(self.oms.product(self.token, pid)["name"], name)
        # the order is the SQL-looking user's own
        self.assertEqual(self.oms.wait_settled(token, o["orderId"])["status"], "COMPLETED")
        cancel = self.oms.request("PUT", "/api/orders/%s/cancel" % o["orderId"],
                                  body={"reason": "'; DELETE FROM sagas; --"}, token=token)
        self.assertEqual(cancel.status, 202, cancel)  # a completed order is cancelled and compensated
        self.assertEqual(self.oms.wait_settled(token, o["orderId"])["status"], "CANCELLED")
        self.assertEqual(self.oms.product(self.token, "prod-101")["productId"], "prod-101")
        self.assertOk(self.oms.request("GET", "/api/sagas/" + o["orderId"], token=token))
        self.assertAlive()

    def test_client_x_user_id_is_ignored(self):
        r = self.oms.create_order(self.token, [item(self.pid, 1, "5.00")],
                                  headers={"X-User-Id": "mallory"})
        o = self.assertOk(r, 201)
        self.assertEqual(o["userId"], "alice")
        # and it does not authenticate anybody
        r = self.oms.request("GET", "/api/orders", headers={"X-User-Id": "alice"})
        self.assertProblem(r, 401)
        # nor does it change idempotency scoping: same key, X-User-Id of another user → replay
        key = "xuid-" + uuid.uuid4().hex
        a = self.oms.create_order(self.token, [item(self.pid, 1, "5.00")], key=key,
                                  headers={"X-User-Id": "bob"})
        b = self.oms.create_order(self.token, [item(self.pid, 1, "5.00")], key=key,
                                  headers={"X-User-Id": "carol"})
        self.assertEqual(a.status, 201, a)
        self.assertEqual(b.headers.get("idempotent-replayed"), "true", b)
        self.assertEqual(a.body["userId"], "alice")

    # ------------------------------------------------------------------ JWT

    def assert401(self, r, why):
        self.assertProblem(r, 401, msg=why)
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"),
                        "%s: WWW-Authenticate missing: %r" % (why, r))

    def claims(self, **over):
        now = int(time.time())
        c = {"sub": "forger", "iat": now, "exp": now + 600, "iss": "oms"}
        c.update(over)
        return c

    def test_forged_token_positive_control(self):
        token = make_jwt(self.claims(), SECRET)
        r = self.oms.request("GET", "/api/orders?limit=1", token=token)
        self.assertEqual(r.status, 200, "a correctly signed HS256 token must be accepted: %r" % (r,))
        o = self.oms.place_order(token, [item(self.pid, 1, "5.00")])
        self.assertEqual(o["userId"], "forger")

    def test_bad_tokens_401(self):
        now = int(time.time())
        real = self.token
        h, p, s = real.split(".")
        flipped = s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1]
        other_payload = b64url(json.dumps(dict(jwt_parts(real)[1], sub="admin"),
                                          separators=(",", ":")))
        cases = {
            "expired": make_jwt(self.claims(iat=now - 7200, exp=now - 3600), SECRET),
            "tampered signature": h + "." + p + "." + flipped,
            "tampered payload": h + "." + other_payload + "." + s,
            "signature stripped": h + "." + p + ".",
            "alg none": make_jwt(self.claims(), None, alg="none"),
            "alg none with sig": make_jwt(self.claims(), None, alg="none") + s,
            "alg NONE": b64url('{"alg":"NONE","typ":"JWT"}') + "." +
                        b64url(json.dumps(self.claims())) + ".",
            "alg HS512": make_jwt(self.claims(), SECRET, alg="HS512"),
            "alg HS384": make_jwt(self.claims(), SECRET, alg="HS384"),
            "alg RS256 header": b64url('{"alg":"RS256","typ":"JWT"}') + "." +
                                b64url(json.dumps(self.claims())) + "." + s,
            "wrong secret": make_jwt(self.claims(), SECRET + "x"),
            "empty secret": make_jwt(self.claims(), ""),
            "two parts": h + "." + p,
            "four parts": real + ".xyz",
            "garbage": "not-a-jwt",
            "bad base64": "%%%." + p + "." + s,
            "header not json": b64url("nope") + "." + p + "." + s,
            "exp as string": make_jwt(self.claims(exp=str(now + 600)), SECRET),
            "unicode": "ä.ö.ü",
        }
        for why, tok in cases.items():
            with self.subTest(why):
                try:
                    r = self.oms.request("GET", "/api/orders?limit=1", token=tok)
                except (UnicodeEncodeError, ValueError):
                    continue
                self.assert401(r, why)
        headers = {
            "no header": None,
            "empty": "",
            "Bearer only": "Bearer",
            "Bearer space": "Bearer ",
            "Basic": "Basic dXNlcjpwYXNz",
            "token without scheme": real,
            "Bearer twice": "Bearer Bearer " + real,
        }
        for why, value in headers.items():
            with self.subTest(why):
                hd = {} if value is None else {"Authorization": value}
                self.assert401(self.oms.request("GET", "/api/orders?limit=1", headers=hd), why)
        self.assertAlive()

    def test_401_on_every_verb(self):
        for method, path in (("POST", "/api/orders"), ("PUT", "/api/orders/x/cancel"),
                             ("POST", "/api/inventory"), ("POST", "/api/payments/refund/x"),
                             ("GET", "/api/sagas")):
            with self.subTest(method=method, path=path):
                self.assert401(self.oms.request(method, path, body={}), method + " " + path)

    # ------------------------------------------------------------------ protocol abuse

    def test_protocol_abuse(self):
        host, port = self.oms.host, self.oms.port
        cases = {
            "garbage request line": b"GARBAGE\r\n\r\n",
            "bad version": b"GET /healthz HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n",
            "negative length": b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"
                               b"Connection: close\r\n\r\n",
            "non-numeric length": b"POST /api/orders HTTP/1.1\r\nHost: x\r\n"
                                  b"Content-Length: abc\r\nConnection: close\r\n\r\n",
            "short body": b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                          b"Content-Type: application/json\r\nConnection: close\r\n\r\n{\"u",
            "huge header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 200000 +
                           b"\r\nConnection: close\r\n\r\n",
            "many headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                            b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) +
                            b"Connection: close\r\n\r\n",
            "bad chunk": b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n"
                         b"Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            "huge URL": b"GET /api/orders/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n"
                        b"Connection: close\r\n\r\n",
            "NUL in path": b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        }
        exact = {"huge URL": 414, "huge header": 431, "many headers": 431}
        for why, data in cases.items():
            with self.subTest(why):
                status, headers, body, raw = raw_http(host, port, data, timeout=15)
                if why in exact:
                    self.assertEqual(status, exact[why], raw[:300])
                    self.assertEqual(json.loads(body)["status"], exact[why])
                elif status is not None:
                    self.assertTrue(400 <= status < 500 or status == 505,
                                    "%s: %r" % (why, raw[:300]))
                self.assertAlive()

    def test_a_client_that_sends_its_whole_body_first_sees_the_413(self):
        # 3 MiB announced and sent in full before reading: the server answers 413 after 1 MiB and
        # reads (and drops) the rest, so the send completes and the 413 arrives, no reset.
        raw = b'{"pad":"' + b"p" * (3 * 1024 * 1024) + b'"}'
        head = ("POST /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Idempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                "\r\n" % (self.token, uuid.uuid4(), len(raw))).encode()
        sock = socket.create_connection((self.oms.host, self.oms.port), timeout=30)
        try:
            sock.sendall(head + raw)  # raises on a reset
            data = b""
            while True:
                b = sock.recv(65536)
                if not b:
                    break
                data += b
        finally:
            sock.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 413"), data[:200])
        self.assertAlive()

    def test_head_answers_every_get_route_without_a_body(self):
        import http.client
        oid = self.assertOk(self.oms.create_order(self.token, [item(self.pid, 1, "5.00")]), 201)["orderId"]
        for path, token in (("/healthz", None), ("/api/orders/" + oid, self.token),
                            ("/api/inventory/" + self.pid, self.token), ("/api/orders?limit=2", self.token)):
            with self.subTest(path):
                get = self.oms.request("GET", path, token=token)
                self.assertEqual(get.status, 200, get)
                conn = http.client.HTTPConnection(self.oms.host, self.oms.port, timeout=30)
                conn.request("HEAD", path, headers={"Authorization": "Bearer " + token} if token else {})
                r = conn.getresponse()
                body = r.read()
                conn.close()
                self.assertEqual(r.status, 200)
                self.assertEqual(body, b"")
                self.assertEqual(r.getheader("Content-Type"), get.headers.get("content-type"))
                self.assertGreater(int(r.getheader("Content-Length")), 0)
        r = self.oms.request("HEAD", "/api/inventory/%s/add?quantity=1" % self.pid, token=self.staff)
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("allow"), "POST")
        r = self.oms.request("PUT", "/api/orders/" + oid, token=self.token)
        self.assertEqual(r.headers.get("allow"), "GET, HEAD")

    def test_pipelined_requests(self):
        data = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, body, raw = raw_http(self.oms.host, self.oms.port, data, timeout=15,
                                              shutdown_write=False)
        self.assertEqual(raw.count(b"HTTP/1.1 200"), 2, raw[:1000])

    def test_keep_alive_after_errors(self):
        """Error responses that did not need the body must not leave it in the connection."""
        import http.client
        conn = http.client.HTTPConnection(self.oms.host, self.oms.port, timeout=30)
        body = dumps(self.valid_order()).encode()
        steps = [
            ("POST", "/api/orders", body, {"Content-Type": "application/json"}, 401),
            ("GET", "/healthz", None, {}, 200),
            ("POST", "/api/orders", body, {"Content-Type": "text/plain",
                                           "Authorization": "Bearer " + self.token,
                                           "Idempotency-Key": str(uuid.uuid4())}, 415),
            ("GET", "/healthz", None, {}, 200),
            ("POST", "/api/nope", body, {"Content-Type": "application/json",
                                         "Authorization": "Bearer " + self.token}, 404),
            ("GET", "/healthz", None, {}, 200),
            ("DELETE", "/api/orders", body, {"Content-Type": "application/json",
                                             "Authorization": "Bearer " + self.token}, 405),
            ("GET", "/healthz", None, {}, 200),
            ("POST", "/api/orders", body, {"Content-Type": "application/json",
                                           "Authorization": "Bearer " + self.token}, 400),
            ("POST", "/api/orders", body, {"Content-Type": "application/json",
                                           "Authorization": "Bearer " + self.token,
                                           "Idempotency-Key": str(uuid.uuid4())}, 201),
            ("GET", "/api/orders?limit=1", None, {"Authorization": "Bearer " + self.token}, 200),
        ]
        try:
            for i, (method, path, data, headers, want) in enumerate(steps):
                with self.subTest(step=i, method=method, path=path):
                    try:
                        conn.request(method, path, body=data, headers=headers)
                        resp = conn.getresponse()
                        payload = resp.read()
                    except (http.client.HTTPException, OSError):
                        # the server may close after an error; a fresh connection must work
                        conn.close()
                        conn = http.client.HTTPConnection(self.oms.host, self.oms.port,
                                                          timeout=30)
                        conn.request(method, path, body=data, headers=headers)
                        resp = conn.getresponse()
                        payload = resp.read()
                    self.assertEqual(resp.status, want, payload[:300])
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection(self.oms.host, self.oms.port,
                                                          timeout=30)
        finally:
            conn.close()

    def test_expect_100_continue(self):
        body = dumps(self.valid_order()).encode()
        req = ("POST /api/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Idempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
               "Expect: 100-continue\r\nConnection: close\r\n\r\n"
               % (self.token, uuid.uuid4(), len(body))).encode()
        status, headers, rest, raw = raw_http(self.oms.host, self.oms.port, req + body)
        final = raw
        while final.startswith(b"HTTP/1.1 100"):
            final = final.split(b"\r\n\r\n", 1)[1]
        self.assertTrue(final.startswith(b"HTTP/1.1 201"), raw[:500])

    def test_idle_connections_do_not_block(self):
        socks = []
        try:
            for _ in range(32):
                s = socket.create_connection((self.oms.host, self.oms.port), timeout=10)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
                socks.append(s)
            t0 = time.monotonic()
            r = self.oms.request("GET", "/api/orders?limit=1", token=self.token, timeout=10)
            self.assertEqual(r.status, 200, r)
            self.assertLess(time.monotonic() - t0, 5.0)
        finally:
            for s in socks:
                s.close()

    def test_zz_still_healthy(self):
        self.assertAlive()
        self.assertEqual(self.oms.request("GET", "/readyz").status, 200)
        o = self.oms.place_order(self.token, [item(self.pid, 1, "5.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED")
        self.assertInvariants()


if __name__ == "__main__":
    unittest.main()
