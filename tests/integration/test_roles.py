"""Who may do what (API.md "Roles", docs/adr/0010): every route as every role — no token, a
customer who owns the order, a customer who does not, staff, admin — and, in distributed mode,
every service port reached around the gateway. Then the logins: the operator password for staff
and admin, its limit on guessing, short-lived privileged tokens, a role that goes when the
operator's list drops the user, and the password generated when none is configured."""
import os
import stat
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ADMIN_USER, MODE, OPERATOR_PASSWORD, STAFF_USER, OmsProcess,  # noqa: E402
                     OmsTestCase, http_request, item, jwt_parts, service_names, unique_email,
                     wait_for)

SERVICES = service_names()


class RouteRoleTest(OmsTestCase):
    """One order of alice's, completed: it has a payment, a shipment, a saga and notifications."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bob = cls.oms.login("bob")
        cls.pid = cls.oms.new_product(cls.staff, 1000, price="3.00")
        cls.email = unique_email("alice")
        cls.oid = cls.oms.place_order(cls.token, [item(cls.pid, 1, "3.00")], email=cls.email)["orderId"]
        cls.oms.wait_status(cls.token, cls.oid, "COMPLETED")

    def call(self, method, path, token, body=None):
        return self.oms.request(method, path, token=token, body=body)

    def roles(self):
        return {"owner": self.token, "stranger": self.bob, "staff": self.staff, "admin": self.admin}

    def test_reads_of_one_order(self):
        """An order, its payment, shipment and saga: the owner, staff and admin read them; another
        customer gets 404 (ids are not confirmed to strangers); no token is 401."""
        for path in ("/api/orders/%s", "/api/payments/order/%s", "/api/fulfillment/order/%s",
                     "/api/sagas/%s"):
            path = path % self.oid
            for role, token in self.roles().items():
                with self.subTest(path=path, role=role):
                    r = self.call("GET", path, token)
                    if role == "stranger":
                        self.assertProblem(r, 404)
                    else:
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(r.body["orderId"], self.oid)
            self.assertProblem(self.call("GET", path, None), 401)

    def test_lists_hold_only_the_callers_own(self):
        lists = ["/api/orders?limit=1000", "/api/orders/customer/" + self.email,
                 "/api/fulfillment?status=ALL&limit=1000", "/api/sagas?limit=1000",
                 "/api/notifications?limit=1000", "/api/notifications?orderId=" + self.oid]
        for path in lists:
            for role, token in self.roles().items():
                with self.subTest(path=path, role=role):
                    r = self.call("GET", path, token)
                    self.assertEqual(r.status, 200, r)
                    ids = {x["orderId"] for x in r.body}
                    if role == "stranger":
                        self.assertNotIn(self.oid, ids)
                    else:
                        self.assertIn(self.oid, ids)
                    if role in ("owner", "stranger"):
                        user = "alice" if role == "owner" else "bob"
                        for x in r.body:
                            if "userId" in x:
                                self.assertEqual(x["userId"], user, x)
            self.assertProblem(self.call("GET", path, None), 401)
        # a notification of alice's order is hers alone
        notes = self.call("GET", "/api/notifications?orderId=" + self.oid, self.token).body
        self.assertIn("ORDER_COMPLETED", [n["type"] for n in notes])

    def test_catalog_reads_for_everyone_writes_for_staff(self):
        for role, token in self.roles().items():
            with self.subTest(role=role):
                self.assertEqual(self.call("GET", "/api/inventory?limit=5", token).status, 200)
                self.assertEqual(self.call("GET", "/api/inventory/" + self.pid, token).status, 200)
                pid = "role-%s-%s" % (role, uuid.uuid4().hex[:8])
                created = self.call("POST", "/api/inventory", token, {"productId": pid, "initialStock": 3})
                before = self.oms.stock(self.token, self.pid)
                added = self.call("POST", "/api/inventory/%s/add?quantity=2" % self.pid, token)
                if role in ("owner", "stranger"):
                    self.assertProblem(created, 403)
                    self.assertProblem(added, 403)
                    self.assertProblem(self.call("GET", "/api/inventory/" + pid, token), 404)
                    self.assertEqual(self.oms.stock(self.token, self.pid), before, "a refused restock changes nothing")
                else:
                    self.assertEqual(created.status, 201, created)
                    self.assertEqual(added.status, 200, added)
                    self.assertEqual(added.body["totalQuantity"], before[2] + 2)
        for method, path in (("POST", "/api/inventory"), ("POST", "/api/inventory/%s/add?quantity=1" % self.pid)):
            self.assertProblem(self.call(method, path, None, {}), 401)

    def test_order_writes(self):
        """Customers create orders and cancel their own; staff cancel anyone's; a stranger's
        cancel is 404 and changes nothing."""
        for role, token in self.roles().items():
            with self.subTest(role=role):
                r = self.oms.create_order(token, [item(self.pid, 1, "3.00")])
                self.assertEqual(r.status, 201, r)
        mine = self.oms.place_order(self.token, [item(self.pid, 1, "3.00")])["orderId"]
        self.assertProblem(self.call("PUT", "/api/orders/%s/cancel" % mine, self.bob), 404)
        self.assertFalse(self.oms.get_order(self.token, mine)["cancelRequested"])
        self.assertIn(self.call("PUT", "/api/orders/%s/cancel" % mine, self.token).status, (200, 202))
        self.assertEqual(self.oms.wait_settled(self.token, mine)["status"], "CANCELLED")
        theirs = self.oms.place_order(self.bob, [item(self.pid, 1, "3.00")])["orderId"]
        self.assertIn(self.call("PUT", "/api/orders/%s/cancel" % theirs, self.staff).status, (200, 202))
        self.assertEqual(self.oms.wait_settled(self.bob, theirs)["status"], "CANCELLED")
        self.assertProblem(self.call("PUT", "/api/orders/%s/cancel" % theirs, None), 401)
        log = self.call("GET", "/api/admin/order/audit-log", self.admin).body
        self.assertIn(("order.cancel", theirs, STAFF_USER), [(e["action"], e["target"], e["userId"]) for e in log])
        self.assertNotIn(mine, [e["target"] for e in log], "a customer's own cancel is no privileged action")

    def test_refund_dispatch_deliver_are_staff_only(self):
        oid = self.oms.place_order(self.token, [item(self.pid, 1, "3.00")])["orderId"]
        self.oms.wait_status(self.token, oid, "COMPLETED")
        for role in ("owner", "stranger"):
            token = self.roles()[role]
            for path in ("/api/payments/refund/%s", "/api/fulfillment/order/%s/dispatch",
                         "/api/fulfillment/order/%s/deliver"):
                with self.subTest(role=role, path=path):
                    self.assertProblem(self.call("POST", path % oid, token), 403)
                    self.assertProblem(self.call("POST", path % oid, None), 401)
        self.assertEqual(self.call("GET", "/api/payments/order/" + oid, self.token).body["status"], "COMPLETED")
        self.assertEqual(self.call("GET", "/api/fulfillment/order/" + oid, self.token).body["status"], "INITIATED")
        self.assertEqual(self.call("POST", "/api/fulfillment/order/%s/dispatch" % oid, self.staff).status, 200)
        self.assertEqual(self.call("POST", "/api/fulfillment/order/%s/deliver" % oid, self.admin).status, 200)
        self.assertEqual(self.call("POST", "/api/payments/refund/" + oid, self.staff).body["status"], "REFUNDED")
        self.assertEqual(self.call("POST", "/api/payments/refund/" + oid, self.admin).body["status"], "REFUNDED")
        # each privileged action is in its service's audit log, with who did it and in which role
        expected = {("fulfillment", "shipment.dispatch", STAFF_USER, "staff"),
                    ("fulfillment", "shipment.deliver", ADMIN_USER, "admin"),
                    ("payment", "payment.refund", STAFF_USER, "staff")}
        seen = set()
        for svc in ("fulfillment", "payment"):
            for e in self.call("GET", "/api/admin/%s/audit-log" % svc, self.admin).body:
                if e["target"] == oid:
                    seen.add((svc, e["action"], e["userId"], e["role"]))
        self.assertEqual(seen, expected, "the second refund changed nothing and is not recorded")

    def assert_admin_list(self, path):
        """GET path: a list for an admin, 403 for every other role, 401 without a token."""
        for role, token in self.roles().items():
            with self.subTest(path=path, role=role):
                r = self.call("GET", path, token)
                if role == "admin":
                    self.assertEqual(r.status, 200, r)
                    self.assertIsInstance(r.body, list)
                else:
                    self.assertProblem(r, 403)
        self.assertProblem(self.call("GET", path, None), 401)

    def test_admin_routes(self):
        for svc in SERVICES:
            for path in ("/api/admin/%s/dead-letters" % svc, "/api/admin/%s/audit-log" % svc):
                self.assert_admin_list(path)
            retry = "/api/admin/%s/dead-letters/%s/retry" % (svc, uuid.uuid4())
            self.assertProblem(self.call("POST", retry, self.staff), 403)
            self.assertProblem(self.call("POST", retry, self.admin), 404)
        for path in ("/api/admin/inventory/stock-check", "/api/admin/inventory/reservations"):  # oms audit's
            self.assert_admin_list(path)
        log = self.call("GET", "/api/admin/inventory/audit-log?limit=1000", self.admin).body
        self.assertIn(("product.create", self.pid, STAFF_USER), [(e["action"], e["target"], e["userId"]) for e in log])

    def test_a_client_sent_user_header_changes_nothing(self):
        r = self.oms.request("GET", "/api/orders/" + self.oid, token=self.bob,
                             headers={"X-User-Id": "alice"})
        self.assertProblem(r, 404)
        r = self.oms.request("GET", "/api/admin/order/dead-letters", token=self.token,
                             headers={"X-User-Id": ADMIN_USER})
        self.assertProblem(r, 403)

    @unittest.skipUnless(MODE == "cluster", "service ports exist in distributed mode only")
    def test_service_ports_want_a_token_too(self):
        """Reached around the gateway, a service answers 401 without a valid token, whatever
        X-User-Id says, and applies the same roles with one."""
        ports = self.oms.state()["ports"]
        for svc in SERVICES:
            port = ports["%s.1" % svc]
            with self.subTest(service=svc):
                path = "/api/admin/%s/dead-letters" % svc
                for headers in ({}, {"X-User-Id": ADMIN_USER}, {"Authorization": "Bearer nonsense"}):
                    r = http_request("127.0.0.1", port, "GET", path, headers=headers)
                    self.assertProblem(r, 401)
                    self.assertEqual(r.headers.get("www-authenticate"), "Bearer", r)
                r = http_request("127.0.0.1", port, "GET", path, token=self.token)
                self.assertProblem(r, 403)
                r = http_request("127.0.0.1", port, "GET", path, token=self.admin)
                self.assertEqual(r.status, 200, r)
                # the operations endpoints stay open to the probes
                self.assertEqual(http_request("127.0.0.1", port, "GET", "/readyz").status, 200)
        order_port = ports["order.1"]
        r = http_request("127.0.0.1", order_port, "GET", "/api/orders/" + self.oid,
                         headers={"X-User-Id": "alice"})
        self.assertProblem(r, 401)
        r = http_request("127.0.0.1", order_port, "GET", "/api/orders/" + self.oid, token=self.bob)
        self.assertProblem(r, 404)


class LoginTest(OmsTestCase):
    """Staff and admin prove it with the operator password (in the body, never the URL)."""

    def login(self, body=None, query=""):
        return self.oms.request("POST", "/api/auth/login" + query, body=body)

    def test_privileged_logins_need_the_operator_password(self):
        for user, role in ((STAFF_USER, "staff"), (ADMIN_USER, "admin")):
            with self.subTest(user=user):
                self.assertProblem(self.login(query="?userId=" + user), 401)
                self.assertProblem(self.login({"userId": user}), 401)
                self.assertProblem(self.login({"userId": user, "password": OPERATOR_PASSWORD + "x"}), 401)
                self.assertProblem(self.login({"userId": user, "password": ""}), 401)
                r = self.login({"userId": user, "password": OPERATOR_PASSWORD})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body["role"], role)
                self.assertLessEqual(r.body["expiresIn"], 3600)
                claims = jwt_parts(r.body["token"])[1]
                self.assertEqual(claims["role"], role)
                self.assertLessEqual(claims["exp"] - claims["iat"], 3600)
        self.assertProblem(self.login(query="?userId=%s&password=%s" % (STAFF_USER, OPERATOR_PASSWORD)), 400)
        r = self.login(query="?userId=carol")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["role"], "customer")
        self.assertEqual(jwt_parts(r.body["token"])[1]["role"], "customer")

    def test_guessing_is_limited(self):
        """Five wrong passwords for one user id: that user id waits (429 + Retry-After), even
        with the right password, while others log in; twenty from one address: the address waits."""
        fresh = OmsProcess(("--staff-users", "sam,tom,ann,u1,u2,u3"), name="guess")
        try:
            fresh.start()

            def attempt(user, password):
                return fresh.request("POST", "/api/auth/login", body={"userId": user, "password": password})
            for _ in range(5):
                self.assertProblem(attempt("sam", "guess"), 401)
            r = attempt("sam", OPERATOR_PASSWORD)
            self.assertProblem(r, 429)
            self.assertRegex(r.headers.get("retry-after", ""), r"^[1-9][0-9]*$")
            self.assertEqual(attempt("tom", OPERATOR_PASSWORD).status, 200, "another user id is not held up")
            for user in ("u1", "u2", "u3"):  # 20 failures from this address in all
                for _ in range(5):
                    self.assertProblem(attempt(user, "guess"), 401)
            self.assertProblem(attempt("ann", OPERATOR_PASSWORD), 429, msg="the address")
            # customers log in as before
            self.assertEqual(fresh.request("POST", "/api/auth/login?userId=carol").status, 200)
            self.assertEqual(fresh.stop(), 0, fresh.stderr_tail())
        finally:
            fresh.cleanup()

    def test_a_role_goes_when_the_list_drops_the_user(self):
        fresh = OmsProcess(("--staff-users", "sam"), name="drop")
        try:
            fresh.start()
            sam = fresh.login("sam", OPERATOR_PASSWORD)
            pid = "drop-" + uuid.uuid4().hex[:8]
            body = {"productId": pid, "initialStock": 1}
            self.assertEqual(fresh.request("POST", "/api/inventory", body=body, token=sam).status, 201)
            self.assertEqual(fresh.restart(["--staff-users", "tom"]), 0, fresh.stderr_tail())
            # the same token, still unexpired and correctly signed: sam is a customer now
            r = fresh.request("POST", "/api/inventory/%s/add?quantity=1" % pid, token=sam)
            self.assertProblem(r, 403)
            self.assertEqual(fresh.request("GET", "/api/inventory/" + pid, token=sam).body["totalQuantity"], 1)
            self.assertEqual(fresh.stop(), 0, fresh.stderr_tail())
        finally:
            fresh.cleanup()

    def test_a_generated_password_is_kept_private_and_printed_once(self):
        fresh = OmsProcess(env={"OMS_ADMIN_PASSWORD": ""}, name="generated")
        try:
            fresh.start()
            path = os.path.join(fresh.gateway_data_dir, "admin.password")
            wait_for(lambda: os.path.exists(path), 10, message=path)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as f:
                password = f.read().strip()
            self.assertGreaterEqual(len(password), 32)
            self.assertProblem(fresh.request("POST", "/api/auth/login",
                                             body={"userId": ADMIN_USER, "password": OPERATOR_PASSWORD}), 401)
            admin = fresh.login(ADMIN_USER, password)
            self.assertEqual(fresh.request("GET", "/api/admin/order/dead-letters", token=admin).status, 200)
            printed = fresh.stdout_text()
            self.assertEqual(printed.count(password), 1, printed)
            fresh.restart()
            self.assertEqual(fresh.stdout_text().count(password), 1, "printed once, not at every start")
            self.assertEqual(fresh.login(ADMIN_USER, password).count("."), 2)
            self.assertEqual(fresh.stop(), 0, fresh.stderr_tail())
        finally:
            fresh.cleanup()


if __name__ == "__main__":
    unittest.main()
