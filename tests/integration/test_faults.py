"""Fault injection at run time (API.md "Fault injection", issue 9 item 2): admins set a delay and
a failure rate per participant operation; a failure is a transient error of that participant
(redelivered with backoff, the saga's step deadline then compensates). Off without
--fault-injection (404). In distributed mode (two replicas here) the gateway sets every replica."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MODE, OmsCluster, OmsProcess, OmsTestCase, http_request, item,  # noqa: E402
                     wait_for)

OPERATIONS = {"payment": {"authorize", "refund"}, "inventory": {"reserve", "release"},
              "fulfillment": {"create", "cancel"}}
NONE = {"delayMs": 0, "failRate": 0}


class FaultInjectionTest(OmsTestCase):
    server_args = ("--fault-injection", "--step-timeout-ms", "2500")

    @classmethod
    def make_oms(cls):
        if MODE == "cluster":
            return OmsCluster(cls.server_args, name=cls.__name__, replicas=2)
        return OmsProcess(cls.server_args, name=cls.__name__)

    def faults(self, service, token=None):
        return self.oms.request("GET", "/api/admin/%s/faults" % service, token=token or self.admin)

    def put(self, service, body, token=None):
        return self.oms.request("PUT", "/api/admin/%s/faults" % service, body=body, token=token or self.admin)

    def tearDown(self):
        for svc in OPERATIONS:
            self.put(svc, {})

    def test_settings_are_admin_only_and_validated(self):
        for svc, ops in OPERATIONS.items():
            with self.subTest(service=svc):
                r = self.faults(svc)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.body, {op: NONE for op in ops})
                for token in (self.token, self.staff):
                    self.assertProblem(self.faults(svc, token), 403)
                    self.assertProblem(self.put(svc, {}, token), 403)
                self.assertProblem(self.oms.request("GET", "/api/admin/%s/faults" % svc), 401)
        self.assertProblem(self.faults("order"), 404)  # the order service is no participant
        bad = [({"capture": {"delayMs": 1}}, "capture"), ({"authorize": {"delayMs": 60001}}, "delayMs"),
               ({"authorize": {"delayMs": -1}}, "delayMs"), ({"authorize": {"delayMs": 1.5}}, "delayMs"),
               ({"authorize": {"failRate": 1.5}}, "failRate"), ({"authorize": {"failRate": "all"}}, "failRate"),
               ({"authorize": {"rate": 1}}, "rate"), ({"authorize": 7}, "authorize"), ([], "object")]
        self.assertOk(self.put("payment", {"refund": {"delayMs": 5}}))
        for body, field in bad:
            with self.subTest(body=body):
                self.assertProblem(self.put("payment", body), 400, field=field)
        self.assertEqual(self.faults("payment").body["refund"], {"delayMs": 5, "failRate": 0},
                         "a refused PUT changes nothing")
        r = self.put("payment", {"authorize": {"failRate": 0.25}})
        self.assertEqual(r.body, {"authorize": {"delayMs": 0, "failRate": 0.25}, "refund": NONE},
                         "a PUT replaces every setting")
        log = self.oms.request("GET", "/api/admin/payment/audit-log", token=self.admin).body
        self.assertIn("faults.set", [e["action"] for e in log])

    def test_a_failing_provider_fails_the_saga_cleanly_and_recovers(self):
        pid = self.oms.new_product(self.staff, 10, price="1.00")
        self.assertOk(self.put("payment", {"authorize": {"failRate": 1.0}}))
        oid = self.oms.place_order(self.token, [item(pid, 2, "1.00")])["orderId"]
        done = self.oms.wait_settled(self.token, oid, timeout=30)
        self.assertEqual(done["status"], "FAILED", done)
        self.assertTrue(done["failureReason"].startswith("TIMEOUT: payment"), done)
        self.assertEqual(self.oms.stock(self.token, pid), (10, 0, 10), "the reservation was released")
        # the provider's failures were retried and, past the bound, kept as a dead letter
        wait_for(lambda: any(d["subject"] == "payment.authorize" for d in self.oms.request(
            "GET", "/api/admin/payment/dead-letters", token=self.admin).body), 30,
            message="the failing authorize in the dead letters")
        self.assertOk(self.put("payment", {}))
        ok = self.oms.place_order(self.token, [item(pid, 2, "1.00")])["orderId"]
        self.assertEqual(self.oms.wait_settled(self.token, ok)["status"], "COMPLETED")

    def test_a_delay_is_felt_by_the_saga(self):
        pid = self.oms.new_product(self.staff, 10, price="1.00")
        self.assertOk(self.put("inventory", {"reserve": {"delayMs": 1200}}))
        oid = self.oms.place_order(self.token, [item(pid, 1, "1.00")])["orderId"]
        self.assertEqual(self.oms.wait_settled(self.token, oid)["status"], "COMPLETED")
        history = self.oms.request("GET", "/api/sagas/" + oid, token=self.token).body["history"]
        at = {h["state"]: h["at"] for h in history}
        from datetime import datetime
        gap = (datetime.fromisoformat(at["INVENTORY_RESERVED"].replace("Z", "+00:00")) -
               datetime.fromisoformat(at["INVENTORY_REQUESTED"].replace("Z", "+00:00"))).total_seconds()
        self.assertGreaterEqual(gap, 1.2, history)  # at least the delay (a lower bound, not a timing)

    @unittest.skipUnless(MODE == "cluster", "replicas exist in distributed mode only")
    def test_every_replica_gets_the_setting(self):
        self.assertOk(self.put("fulfillment", {"create": {"delayMs": 7}}))
        ports = self.oms.state()["ports"]
        for replica in ("fulfillment.1", "fulfillment.2"):
            r = http_request("127.0.0.1", ports[replica], "GET", "/api/admin/fulfillment/faults", token=self.admin)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.body["create"], {"delayMs": 7, "failRate": 0}, replica)


class WithoutFaultInjectionTest(OmsTestCase):
    def test_the_routes_do_not_exist(self):
        for svc in OPERATIONS:
            self.assertProblem(self.oms.request("GET", "/api/admin/%s/faults" % svc, token=self.admin), 404)
            self.assertProblem(self.oms.request("PUT", "/api/admin/%s/faults" % svc, body={}, token=self.admin), 404)


if __name__ == "__main__":
    unittest.main()
