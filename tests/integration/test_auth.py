"""Login, JWT shape and secret handling (API.md "Authentication", DECISIONS.md "Running")."""
import os
import sys
import stat
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import OmsTestCase, jwt_parts, make_jwt, b64url, wait_for, _q  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402


class LoginTest(OmsTestCase):
    """Default configuration: generated secret kept in the data dir, 10 h tokens."""

    def test_login_query_parameter(self):
        r = self.oms.request("POST", "/api/auth/login?userId=alice")
        body = self.assertOk(r)
        self.assertIsInstance(body["token"], str)
        self.assertEqual(body["tokenType"], "Bearer")
        self.assertEqual(body["expiresIn"], 36000)
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)

    def test_login_without_api_prefix(self):
        r = self.oms.request("POST", "/auth/login?userId=bob")
        body = self.assertOk(r)
        _, claims, _ = jwt_parts(body["token"])
        self.assertEqual(claims["sub"], "bob")
        # and that token works on /api
        self.assertOk(self.oms.request("GET", "/api/orders?limit=1", token=body["token"]))

    def test_login_json_body(self):
        r = self.oms.request("POST", "/api/auth/login", body={"userId": "carol"})
        body = self.assertOk(r)
        self.assertEqual(jwt_parts(body["token"])[1]["sub"], "carol")

    def test_query_parameter_wins_over_body(self):
        r = self.oms.request("POST", "/api/auth/login?userId=dave", body={"userId": "erin"})
        body = self.assertOk(r)
        self.assertEqual(jwt_parts(body["token"])[1]["sub"], "dave")

    def test_jwt_claims(self):
        before = int(time.time())
        token = self.oms.login("frank")
        after = int(time.time())
        header, claims, sig = jwt_parts(token)
        self.assertEqual(header.get("alg"), "HS256")
        self.assertEqual(claims["sub"], "frank")
        self.assertEqual(claims["iss"], "oms")
        self.assertIsInstance(claims["iat"], int)
        self.assertIsInstance(claims["exp"], int)
        self.assertTrue(before - 5 <= claims["iat"] <= after + 5, claims)
        self.assertEqual(claims["exp"] - claims["iat"], 36000, claims)
        self.assertTrue(sig)

    def test_token_is_accepted(self):
        token = self.oms.login("grace")
        self.assertOk(self.oms.request("GET", "/api/orders", token=token))
        self.assertOk(self.oms.request("GET", "/api/inventory", token=token))

    def test_user_id_max_length(self):
        uid = "u" * 128
        token = self.oms.login(uid)
        self.assertEqual(jwt_parts(token)[1]["sub"], uid)

    def test_user_id_with_unicode_is_kept(self):
        r = self.oms.request("POST", "/api/auth/login", body={"userId": "zoë-ünïcode"})
        body = self.assertOk(r)
        self.assertEqual(jwt_parts(body["token"])[1]["sub"], "zoë-ünïcode")

    def test_bad_user_ids_are_400(self):
        cases = [
            ("missing", "/api/auth/login", None),
            ("empty query", "/api/auth/login?userId=", None),
            ("blank query", "/api/auth/login?userId=%20%20%20", None),
            ("too long query", "/api/auth/login?userId=" + "x" * 129, None),
            ("control char query", "/api/auth/login?userId=a%0Ab", None),
            ("nul in query", "/api/auth/login?userId=a%00b", None),
            ("blank body", "/api/auth/login", {"userId": "   "}),
            ("empty body", "/api/auth/login", {"userId": ""}),
            ("too long body", "/api/auth/login", {"userId": "y" * 129}),
            ("control char body", "/api/auth/login", {"userId": "a\tb"}),
            ("escape char body", "/api/auth/login", {"userId": "a\u001bb"}),
            ("DEL char body", "/api/auth/login", {"userId": "a\u007fb"}),
            ("newline body", "/api/auth/login", {"userId": "alice\n"}),
            ("wrong type body", "/api/auth/login", {"userId": 42}),
            ("null body", "/api/auth/login", {"userId": None}),
        ]
        for name, path, body in cases:
            with self.subTest(name):
                r = self.oms.request("POST", path, body=body)
                self.assertProblem(r, 400, msg=name)

    def test_login_empty_body_without_user_is_400(self):
        r = self.oms.request("POST", "/api/auth/login", raw_body=b"", content_type=None)
        self.assertProblem(r, 400, field="userId")

    def test_login_wrong_method(self):
        r = self.oms.request("GET", "/api/auth/login?userId=alice")
        self.assertProblem(r, 405)
        self.assertIn("POST", r.headers.get("allow", ""), r)

    def test_api_requires_token(self):
        for path in ("/api/orders", "/api/inventory", "/api/payments/order/" +
                     "00000000-0000-4000-8000-000000000000", "/api/fulfillment",
                     "/api/notifications", "/api/sagas", "/api/no-such-route"):
            with self.subTest(path):
                r = self.oms.request("GET", path)
                self.assertProblem(r, 401)
                self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"), r)

    def test_unknown_route_with_token_is_404(self):
        self.assertProblem(self.oms.request("GET", "/api/no-such-route", token=self.token), 404)

    def test_secret_file_in_data_dir(self):
        path = os.path.join(self.oms.gateway_data_dir, "jwt.secret")
        self.assertTrue(os.path.isfile(path), "expected generated secret at " + path)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(mode, 0o600, "jwt.secret mode is %o" % mode)

    def test_data_dir_and_its_files_are_private(self):
        # They hold customers' emails and the token secret: 0700 and 0600, even though the
        # directory existed (0755) before oms started. (Distributed: the gateway's data dir.)
        d = self.oms.gateway_data_dir
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700, d)
        names = sorted(os.listdir(d))
        if harness.MODE == "embedded":
            self.assertIn("order.db", names)
            self.assertIn("order.db-wal", names)
        for name in names:
            path = os.path.join(d, name)
            if os.path.isfile(path) and (harness.MODE == "embedded" or name == "jwt.secret"):
                with self.subTest(name):
                    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, name)

    def test_bearer_scheme_is_case_insensitive(self):
        for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
            with self.subTest(scheme):
                r = self.oms.request("GET", "/api/orders?limit=1",
                                     headers={"Authorization": scheme + " " + self.token})
                self.assertOk(r)
        for header in ("Basic " + self.token, "Bearer", "Bearer " + self.token + " extra"):
            with self.subTest(header[:12]):
                self.assertProblem(self.oms.request("GET", "/api/orders?limit=1",
                                                    headers={"Authorization": header}), 401)


SECRET = "integration-test-secret-0123456789abcdef"


class ConfiguredSecretTest(OmsTestCase):
    """--jwt-secret and --token-ttl: we can verify and forge tokens ourselves."""
    server_args = ("--jwt-secret", SECRET, "--token-ttl", "120")

    def test_expires_in_follows_ttl(self):
        r = self.oms.request("POST", "/api/auth/login?userId=alice")
        body = self.assertOk(r)
        self.assertEqual(body["expiresIn"], 120)
        _, claims, _ = jwt_parts(body["token"])
        self.assertEqual(claims["exp"] - claims["iat"], 120)

    def test_signature_is_hs256_with_configured_secret(self):
        token = self.oms.login("alice")
        h, p, s = token.split(".")
        expected = b64url(hmac.new(SECRET.encode(), (h + "." + p).encode(),
                                   hashlib.sha256).digest())
        self.assertEqual(s, expected)

    def test_self_signed_token_is_accepted(self):
        now = int(time.time())
        token = make_jwt({"sub": "minted", "iat": now, "exp": now + 600, "iss": "oms"}, SECRET)
        self.assertOk(self.oms.request("GET", "/api/orders?limit=1", token=token))

    def test_expired_token_is_401(self):
        now = int(time.time())
        token = make_jwt({"sub": "old", "iat": now - 7200, "exp": now - 3600, "iss": "oms"},
                         SECRET)
        r = self.oms.request("GET", "/api/orders", token=token)
        self.assertProblem(r, 401)
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"), r)

    def test_dates_may_be_fractional(self):
        now = time.time()
        token = make_jwt({"sub": "frac", "iat": now, "nbf": now - 0.5, "exp": now + 600.25,
                          "iss": "oms"}, SECRET)
        self.assertOk(self.oms.request("GET", "/api/orders?limit=1", token=token))

    def test_not_before_is_enforced(self):
        now = int(time.time())
        early = make_jwt({"sub": "early", "nbf": now + 3600, "exp": now + 7200, "iss": "oms"}, SECRET)
        r = self.oms.request("GET", "/api/orders", token=early)
        self.assertProblem(r, 401)
        self.assertIn("not valid yet", r.body["detail"])
        skew = make_jwt({"sub": "skew", "nbf": now + 20, "exp": now + 7200, "iss": "oms"}, SECRET)
        self.assertOk(self.oms.request("GET", "/api/orders?limit=1", token=skew))

    def test_issued_in_the_future_is_401(self):
        now = int(time.time())
        token = make_jwt({"sub": "future", "iat": now + 3600, "exp": now + 7200, "iss": "oms"}, SECRET)
        r = self.oms.request("GET", "/api/orders", token=token)
        self.assertProblem(r, 401)
        self.assertIn("future", r.body["detail"])

    def test_wrong_secret_is_401(self):
        now = int(time.time())
        token = make_jwt({"sub": "x", "iat": now, "exp": now + 600, "iss": "oms"}, "not-it")
        self.assertProblem(self.oms.request("GET", "/api/orders", token=token), 401)


class ShortTtlTest(OmsTestCase):
    server_args = ("--token-ttl", "1")

    def test_token_expires(self):
        r = self.oms.request("POST", "/api/auth/login?userId=brief")
        body = self.assertOk(r)
        self.assertEqual(body["expiresIn"], 1)
        token = body["token"]
        _, claims, _ = jwt_parts(token)
        self.assertEqual(claims["exp"] - claims["iat"], 1)
        # valid now (unless this request itself straddles the second boundary)
        first = self.oms.request("GET", "/api/orders?limit=1", token=token)
        self.assertIn(first.status, (200, 401), first)
        wait_for(lambda: self.oms.request("GET", "/api/orders?limit=1",
                                          token=token).status == 401, 10, interval=0.2,
                 message="token to expire")
        r = self.oms.request("GET", "/api/orders?limit=1", token=token)
        self.assertProblem(r, 401)
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"), r)


if __name__ == "__main__":
    unittest.main()
