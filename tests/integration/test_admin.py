"""Admin endpoints: dead-letter stores per service, only for --admin-users."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import OmsTestCase, service_names  # noqa: E402

SERVICES = service_names()


class AdminTest(OmsTestCase):
    server_args = ("--admin-users", "ops,root")

    def test_dead_letters_listed_for_admins_only(self):
        ops = self.oms.login_admin("ops")
        for svc in SERVICES:
            path = "/api/admin/%s/dead-letters" % svc
            r = self.oms.request("GET", path, token=ops)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body, [], "a fresh system has no dead letters: %r" % (r,))
            self.assertProblem(self.oms.request("GET", path, token=self.token), 403)
            self.assertProblem(self.oms.request("GET", path), 401)

    def test_retry_unknown_dead_letter_is_404(self):
        root = self.oms.login_admin("root")
        r = self.oms.request("POST", "/api/admin/saga/dead-letters/nope/retry", token=root)
        self.assertProblem(r, 404)
        r = self.oms.request("POST", "/api/admin/saga/dead-letters/nope/retry", token=self.token)
        self.assertProblem(r, 403)


if __name__ == "__main__":
    unittest.main()
