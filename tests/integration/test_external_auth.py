"""`--auth external` (API.md "Authentication", docs/adr/0010): tokens of an outside identity
provider — played here by keys the `openssl` command makes — verified against its JWKS file by
the gateway and, in distributed mode, by every service; issuer and audience pinned; the role is
the issuer's claim; the login is gone (404)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MODE, OmsTestCase, b64url, http_request, item, oms_bin,  # noqa: E402
                     service_names)

ISSUER = "https://id.example.test"
AUDIENCE = "oms"


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True).stdout


def der_to_raw(sig):
    """An ECDSA signature in DER (SEQUENCE of two INTEGERs) as JWS wants it: r || s."""
    assert sig[0] == 0x30
    i = 2 if sig[1] < 0x80 else 2 + (sig[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert sig[i] == 0x02
        n = sig[i + 1]
        out += sig[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


class Provider:
    """An identity provider: an RSA key (RS256) and a P-256 key (ES256), and its JWKS."""

    def __init__(self, directory):
        self.dir = directory
        self.rsa = os.path.join(directory, "rsa.pem")
        self.ec = os.path.join(directory, "ec.pem")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", self.rsa)
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", self.ec)
        modulus = openssl("rsa", "-in", self.rsa, "-noout", "-modulus").decode().strip().split("=", 1)[1]
        point = openssl("pkey", "-in", self.ec, "-pubout", "-outform", "DER")[-65:]
        assert point[0] == 4
        self.jwks = {"keys": [
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "use": "sig",
             "n": b64url(bytes.fromhex(modulus)), "e": b64url((65537).to_bytes(3, "big"))},
            {"kty": "EC", "kid": "ec-1", "alg": "ES256", "use": "sig", "crv": "P-256",
             "x": b64url(point[1:33]), "y": b64url(point[33:65])},
        ]}
        self.jwks_file = os.path.join(directory, "jwks.json")
        with open(self.jwks_file, "w") as f:
            json.dump(self.jwks, f)

    def token(self, sub, role=None, alg="RS256", **overrides):
        now = int(time.time())
        claims = {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600}
        if role:
            claims["role"] = role
        claims.update(overrides)
        header = {"alg": alg, "typ": "JWT", "kid": "rsa-1" if alg == "RS256" else "ec-1"}
        signing = b64url(json.dumps(header)) + "." + b64url(json.dumps(claims))
        sig = openssl("dgst", "-sha256", "-sign", self.rsa if alg == "RS256" else self.ec,
                      data=signing.encode())
        if alg == "ES256":
            sig = der_to_raw(sig)
        return signing + "." + b64url(sig)


class ExternalAuthTest(OmsTestCase):

    @classmethod
    def setUpClass(cls):
        cls.keys_dir = tempfile.mkdtemp(prefix="oms-idp-")
        os.chmod(cls.keys_dir, 0o755)  # the cluster's processes read the JWKS
        cls.idp = Provider(cls.keys_dir)
        cls.server_args = ("--auth", "external", "--jwks-file", cls.idp.jwks_file,
                           "--token-issuer", ISSUER, "--token-audience", AUDIENCE)
        os.chmod(cls.idp.jwks_file, 0o644)
        cls.oms = cls.make_oms()
        try:
            cls.oms.start()
        except BaseException:
            cls.oms.cleanup()
            shutil.rmtree(cls.keys_dir, ignore_errors=True)
            raise
        cls.token = cls.idp.token("alice")
        cls.bob = cls.idp.token("bob", alg="ES256")
        cls.staff = cls.idp.token("sam", role="staff", alg="ES256")
        cls.admin = cls.idp.token("ada", role="admin")

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.keys_dir, ignore_errors=True)

    def test_there_is_no_login(self):
        for path in ("/auth/login", "/api/auth/login"):
            for method in ("POST", "GET"):
                with self.subTest(path=path, method=method):
                    self.assertProblem(self.oms.request(method, path + "?userId=admin"), 404)

    def test_the_providers_tokens_work_with_their_roles(self):
        pid = "ext-" + uuid.uuid4().hex[:8]
        r = self.oms.request("POST", "/api/inventory", body={"productId": pid, "initialStock": 5, "price": 2.00},
                             token=self.staff)
        self.assertEqual(r.status, 201, r)
        self.assertProblem(self.oms.request("POST", "/api/inventory/%s/add?quantity=1" % pid, token=self.token), 403)
        o = self.oms.place_order(self.token, [item(pid, 1, "2.00")])
        self.assertEqual(o["userId"], "alice")
        self.assertEqual(self.oms.wait_settled(self.token, o["orderId"])["status"], "COMPLETED")
        self.assertProblem(self.oms.request("GET", "/api/orders/" + o["orderId"], token=self.bob), 404)
        self.assertEqual(self.oms.request("GET", "/api/payments/order/" + o["orderId"], token=self.token).status, 200)
        self.assertEqual(self.oms.request("GET", "/api/admin/order/dead-letters", token=self.admin).status, 200)
        self.assertProblem(self.oms.request("GET", "/api/admin/order/dead-letters", token=self.staff), 403)
        log = self.oms.request("GET", "/api/admin/inventory/audit-log", token=self.admin).body
        self.assertIn(("product.create", pid, "sam", "staff"), [(e["action"], e["target"], e["userId"], e["role"]) for e in log])

    def test_other_tokens_are_refused(self):
        now = int(time.time())
        hs256 = b64url('{"alg":"HS256","typ":"JWT"}') + "." + b64url(json.dumps(
            {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "role": "admin"})) + ".c2ln"
        cases = {
            "another issuer": self.idp.token("mallory", iss="https://evil.example"),
            "another audience": self.idp.token("mallory", aud="someone-else"),
            "no audience": self.idp.token("mallory", aud=None),
            "expired": self.idp.token("mallory", iat=now - 7200, exp=now - 3600),
            "not yet valid": self.idp.token("mallory", nbf=now + 3600),
            "HS256": hs256,
            "alg none": b64url('{"alg":"none"}') + "." + b64url(json.dumps({"sub": "mallory"})) + ".",
        }
        for why, tok in cases.items():
            with self.subTest(why):
                r = self.oms.request("GET", "/api/admin/order/dead-letters", token=tok)
                self.assertProblem(r, 401)
        self.assertEqual(self.oms.request("GET", "/api/orders?limit=1", token=self.token).status, 200)

    @unittest.skipUnless(MODE == "cluster", "service ports exist in distributed mode only")
    def test_services_verify_with_the_providers_keys(self):
        ports = self.oms.state()["ports"]
        for svc in service_names():
            port = ports["%s.1" % svc]
            with self.subTest(service=svc):
                path = "/api/admin/%s/dead-letters" % svc
                self.assertProblem(http_request("127.0.0.1", port, "GET", path), 401)
                self.assertEqual(http_request("127.0.0.1", port, "GET", path, token=self.admin).status, 200)
                self.assertProblem(http_request("127.0.0.1", port, "GET", path, token=self.token), 403)


class ExternalAuthConfigTest(unittest.TestCase):
    def test_external_without_a_usable_jwks_does_not_start(self):
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "jwks.json")
            with open(bad, "w") as f:
                f.write('{"keys": []}')
            for args in (("--jwks-file", bad, "--token-issuer", ISSUER, "--token-audience", AUDIENCE),
                         ("--jwks-file", os.path.join(d, "missing.json"), "--token-issuer", ISSUER,
                          "--token-audience", AUDIENCE)):
                p = subprocess.run([oms_bin(), "run", "--port", "0", "--data-dir", os.path.join(d, "data"),
                                    "--auth", "external"] + list(args), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
                self.assertNotEqual(p.returncode, 0, p)
                self.assertIn(b"JWKS", p.stderr, p.stderr)


if __name__ == "__main__":
    unittest.main()
