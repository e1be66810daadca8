"""Distributed mode only: replicas killed under load, PostgreSQL and NATS restarted mid-flow,
poison messages reaching the dead letters. Runs against scripts/cluster deployments that the
tests start in temp directories (PostgreSQL and nats-server on free loopback ports)."""
import os
import socket
import sys
import threading
import time
import unittest
import uuid
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import OmsCluster, OmsTestCase, item, wait_for  # noqa: E402

SETTLE = 120  # a killed replica's unacknowledged messages come back after the 10 s AckWait
SERVICES = harness.service_names()


class ClusterCase(OmsTestCase):
    replicas = 1

    @classmethod
    def make_oms(cls):
        return OmsCluster(cls.server_args, name=cls.__name__, replicas=cls.replicas)

    def settle(self, order_ids, timeout=SETTLE):
        return self.oms.wait_all_settled(self.token, order_ids, timeout)

    def not_ready(self):
        """The gateway's /readyz once it says 503 (it asks the services at most once a second)."""
        return wait_for(lambda: (lambda r: r if r.status == 503 else None)(self.oms.request("GET", "/readyz")),
                        5, interval=0.1, message="/readyz to answer 503")

    def timed(self, method, path, **kw):
        t = time.monotonic()
        r = self.oms.request(method, path, timeout=30, **kw)
        return r, time.monotonic() - t

    def assertNoDuplicateEffects(self, orders):
        """No message had its effect twice: one notification per type and order, and a saga
        history without a repeated state."""
        for oid, o in orders.items():
            types = self.oms.notification_types(self.token, oid)
            self.assertEqual(len(types), len(set(types)), "duplicate notifications for %s: %s" % (oid, types))
            states = self.saga_states(oid)
            self.assertEqual(len(states), len(set(states)), "saga %s repeated a state: %s" % (oid, states))


class ReplicasUnderLoadTest(ClusterCase):
    """Two replicas of every service; one of each is killed (kill -9) in the middle of a load."""
    replicas = 2

    def test_kill_one_replica_of_each_service_mid_load(self):
        stock, orders_total = 120, 200
        pid = self.oms.new_product(self.staff, stock, price="2.00")
        accepted = {}
        lock = threading.Lock()
        killed = threading.Event()

        def client(n):
            key = "load-%d-%s" % (n, uuid.uuid4().hex[:8])
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    r = self.oms.create_order(self.token, [item(pid, 1, "2.00")], key=key)
                except OSError:
                    r = None  # the gateway itself is not killed; a reset connection is retried
                if r is not None and r.status == 201:
                    with lock:
                        accepted[key] = r.body["orderId"]
                        if len(accepted) == 60 and not killed.is_set():
                            killed.set()
                            self.oms.kill9(*["%s.2" % s for s in SERVICES])
                    return key
                if r is not None and r.status not in (503,):
                    self.fail("unexpected answer for %s: %r" % (key, r))
                time.sleep(0.05)  # 503: retry with the same key, as a client would
            self.fail("order %s was never accepted" % key)

        with ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(client, range(orders_total)))
        self.assertTrue(killed.is_set())
        self.assertEqual(len(set(keys)), orders_total)
        self.assertEqual(len(accepted), orders_total)
        # a key answers with the same order afterwards (exactly one order per key)
        for key in keys[:20]:
            r = self.oms.create_order(self.token, [item(pid, 1, "2.00")], key=key)
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.body["orderId"], accepted[key])
        final = self.settle(list(accepted.values()))
        completed = [o for o in final.values() if o["status"] == "COMPLETED"]
        failed = [o for o in final.values() if o["status"] == "FAILED"]
        self.assertEqual(len(completed) + len(failed), orders_total, final)
        self.assertEqual(len(completed), stock, "every unit sold once, never more")
        for o in failed:
            self.assertTrue((o["failureReason"] or "").startswith("INSUFFICIENT_STOCK"), o)
        self.assertStock(pid, 0, stock, stock)
        self.assertInvariants()
        self.assertNoDuplicateEffects(dict(list(final.items())[:60]))
        # the killed replicas come back (`up` starts what is missing) and the system still works
        self.oms.start()
        p2 = self.oms.new_product(self.staff, 5, price="1.00")
        o = self.oms.place_order(self.token, [item(p2, 2, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED", timeout=30)


class PostgresOutageTest(ClusterCase):
    server_args = ("--payment-delay-ms", "400")

    def test_postgres_stopped_mid_flow(self):
        pid = self.oms.new_product(self.staff, 50, price="3.00")
        before = [self.oms.place_order(self.token, [item(pid, 1, "3.00")])["orderId"] for _ in range(5)]
        self.oms.cluster("stop", "postgres")
        try:
            # every request that needs a database fails fast with 503 problem+json
            for method, path, body in (("GET", "/api/orders/" + before[0], None),
                                       ("GET", "/api/inventory/" + pid, None),
                                       ("POST", "/api/orders", {"customerEmail": "a@example.com",
                                                                "items": [item(pid, 1, "3.00")]})):
                r, took = self.timed(method, path, body=body, token=self.token,
                                     headers={"Idempotency-Key": "during-pg-outage"})
                self.assertProblem(r, 503, msg="%s %s" % (method, path))
                self.assertLess(took, 15, "%s %s must not hang" % (method, path))
            self.assertProblem(self.not_ready(), 503)
            self.assertEqual(len(self.oms.oms_pids()), 7, "no process may crash")
        finally:
            self.oms.start()  # `up` starts PostgreSQL again (the oms processes still run)
        wait_for(lambda: self.oms.request("GET", "/readyz").status == 200, 60, interval=0.2,
                 message="readiness after PostgreSQL is back")
        o = self.oms.create_order(self.token, [item(pid, 1, "3.00")], key="during-pg-outage")
        self.assertEqual(o.status, 201, o)
        final = self.settle(before + [o.body["orderId"]])
        self.assertTrue(all(x["status"] == "COMPLETED" for x in final.values()), final)
        self.assertStock(pid, 44, 6, 50)
        self.assertNoDuplicateEffects(final)


class NatsOutageTest(ClusterCase):
    server_args = ("--payment-delay-ms", "400")

    def test_nats_stopped_mid_flow(self):
        pid = self.oms.new_product(self.staff, 50, price="3.00")
        before = [self.oms.place_order(self.token, [item(pid, 1, "3.00")])["orderId"] for _ in range(5)]
        self.oms.cluster("stop", "nats")
        during = []
        try:
            self.assertProblem(self.not_ready(), 503)
            # What only needs a database still works; a new order is stored with its outbox row
            # (201) and goes on once NATS is back. Nothing hangs.
            for _ in range(3):
                r, took = self.timed("POST", "/api/orders", body={"customerEmail": "a@example.com",
                                                                 "items": [item(pid, 1, "3.00")]},
                                     token=self.token, headers={"Idempotency-Key": str(uuid.uuid4())})
                self.assertEqual(r.status, 201, r)
                self.assertLess(took, 15)
                during.append(r.body["orderId"])
            r, took = self.timed("GET", "/api/orders/" + before[0], token=self.token)
            self.assertEqual(r.status, 200, r)
            time.sleep(1.0)
            self.assertEqual(len(self.oms.oms_pids()), 7, "no process may crash")
        finally:
            self.oms.start()  # `up` starts nats-server again on the same store
        wait_for(lambda: self.oms.request("GET", "/readyz").status == 200, 60, interval=0.2,
                 message="readiness after NATS is back")
        final = self.settle(before + during)
        self.assertTrue(all(x["status"] == "COMPLETED" for x in final.values()), final)
        self.assertStock(pid, 42, 8, 50)
        self.assertNoDuplicateEffects(final)


def nats_publish(port, subject, payload, msg_id):
    """Publishes one message with a Nats-Msg-Id header over the plain NATS protocol."""
    hdr = "NATS/1.0\r\nNats-Msg-Id: %s\r\n\r\n" % msg_id
    body = payload.encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        f = s.makefile("rb")
        f.readline()  # INFO
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n')
        s.sendall(("HPUB %s %d %d\r\n" % (subject, len(hdr), len(hdr) + len(body))).encode() +
                  hdr.encode() + body + b"\r\nPING\r\n")
        line = f.readline()
        if not line.startswith(b"PONG"):
            raise AssertionError("NATS answered %r" % line)


class DeadLetterTest(ClusterCase):
    server_args = ("--admin-users", "ops")

    def test_poison_message_reaches_the_dead_letters(self):
        ops = self.oms.login_admin("ops")
        msg_id = str(uuid.uuid4())
        nats_publish(self.oms.state()["nats_port"], "oms.order.created", '{"orderId": 42}', msg_id)

        def listed():
            r = self.oms.request("GET", "/api/admin/saga/dead-letters", token=ops)
            self.assertEqual(r.status, 200, r)
            return [d for d in r.body if d["messageId"] == msg_id]
        dead = wait_for(listed, 60, interval=0.5, message="the poison message in saga's dead letters")
        self.assertEqual(dead[0]["subject"], "order.created")
        self.assertEqual(dead[0]["attempts"], 5)
        self.assertTrue(dead[0]["error"])
        # it does not block what comes after it
        pid = self.oms.new_product(self.staff, 5, price="1.00")
        o = self.oms.place_order(self.token, [item(pid, 1, "1.00")])
        self.oms.wait_status(self.token, o["orderId"], "COMPLETED", timeout=30)
        # a second copy with the same id is dropped by JetStream's de-duplication window
        nats_publish(self.oms.state()["nats_port"], "oms.order.created", '{"orderId": 42}', msg_id)
        time.sleep(2)
        self.assertEqual(len(listed()), 1)


if __name__ == "__main__":
    unittest.main()
