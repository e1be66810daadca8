"""Crash rounds (issue 9 item 4): rounds of kill -9 at a random moment under paced load, with random
cancels, refunds and dispatches. Embedded mode kills the one `oms run` process; distributed mode
kills, at random, every replica of one service, NATS, PostgreSQL or the gateway. Clients retry a
lost answer with the same Idempotency-Key, as API.md tells them to. After each round the sagas
settle and then: every order a client was told exists exists, exactly once; none failed for a
lost message (TIMEOUT); and `oms audit` finds no violation across the services.

    OMS_CRASH_ROUNDS=20 OMS_CRASH_SEED=7 python3 -m unittest tests.integration.test_crash_rounds

(5 rounds by default, as `make test` runs it; the seed is printed: it repeats what is ordered,
cancelled, refunded, dispatched and killed, and when, though not the threads' interleaving.)"""
import os
import random
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import MODE, OmsTestCase, item, oms_bin, service_names  # noqa: E402

ROUNDS = int(os.environ.get("OMS_CRASH_ROUNDS", "5"))
SEED = int(os.environ.get("OMS_CRASH_SEED", str(random.randrange(1 << 30))))
LOAD_SECONDS = 4.0
SETTLE = 180 if MODE == "cluster" else 90
RETRY_FOR = 120  # how long a client keeps retrying one request through a crash
PRICE = "2.00"


class CrashRoundsTest(OmsTestCase):
    # amounts above 40.00 are declined: some sagas fail and compensate; the rest complete
    server_args = ("--payment-decline-limit", "40.00")

    def call(self, method, path, token, body=None, headers=None):
        """The request until it has an answer that is not a crash's (connection refused or reset,
        502/503/504): what a client with retries sees."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                r = self.oms.request(method, path, body=body, headers=headers, token=token, timeout=15)
            except OSError:
                r = None
            if r is not None and r.status not in (502, 503, 504):
                return r
            if time.monotonic() > deadline:
                self.fail("%s %s: no answer for %ss through the crash; last %r" % (method, path, RETRY_FOR, r))
            time.sleep(0.1)

    def create(self, qty, price):
        """One order; a lost answer or a 409 (the first attempt still in flight) is retried with
        the same key. Returns the order id."""
        key = "crash-" + uuid.uuid4().hex
        body = {"customerEmail": "crash@example.com", "items": [item(self.pid, qty, price)]}
        deadline = time.monotonic() + RETRY_FOR
        while True:
            r = self.call("POST", "/api/orders", self.token, body=body, headers={"Idempotency-Key": key})
            if r.status in (200, 201):
                return r.body["orderId"]
            if r.status != 409 or time.monotonic() > deadline:
                self.fail("create order %s: %r" % (key, r))
            time.sleep(0.1)

    def victims(self, rnd):
        """What this round kills: a list of cluster process names, or None for `oms run`."""
        if MODE != "cluster":
            return None
        choice = rnd.choice(["service", "service", "nats", "postgres", "gateway"])
        if choice != "service":
            return [choice]
        svc = rnd.choice(service_names())
        return ["%s.%d" % (svc, r) for r in range(1, self.oms.replicas + 1)]

    def crash(self, victims):
        if victims is None:
            self.oms.kill9()
            self.oms.start()
        else:
            self.oms.kill9(*victims)
            self.oms.cluster("up")
        # the tokens stay valid: the gateway's key is kept in its data dir

    def round(self, n, rnd):
        stop = threading.Event()
        errors = []
        mine = []  # the orders this round placed or acted on

        def load(rnd):
            try:
                while not stop.is_set():
                    roll = rnd.random()
                    qty, price = (25, PRICE) if roll < 0.1 else (1, "1.99") if roll < 0.15 else (rnd.randint(1, 3), PRICE)
                    oid = self.create(qty, price)
                    with self.lock:
                        self.orders.append(oid)
                        mine.append(oid)
                    time.sleep(0.03)
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        def actions(rnd):
            try:
                while not stop.is_set():
                    time.sleep(rnd.uniform(0.05, 0.2))
                    with self.lock:
                        if not self.orders:
                            continue
                        oid = rnd.choice(self.orders[-200:])
                    with self.lock:
                        mine.append(oid)  # to settle at the end of this round
                    what = rnd.random()
                    if what < 0.4:
                        r = self.call("PUT", "/api/orders/%s/cancel" % oid, self.token)
                        ok = (200, 202, 409)
                    elif what < 0.7:
                        r = self.call("POST", "/api/payments/refund/" + oid, self.staff)
                        ok = (200, 404, 409)  # no payment yet, or not COMPLETED
                    else:
                        r = self.call("POST", "/api/fulfillment/order/%s/dispatch" % oid, self.staff)
                        ok = (200, 404, 409)  # no shipment yet, or not INITIATED
                    if r.status not in ok:
                        raise AssertionError("%s: unexpected %r" % (oid, r))
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        # each thread its own generator, seeded from the round's: the seed repeats the choices
        # (what is ordered, cancelled, killed and when), not the threads' interleaving
        threads = [threading.Thread(target=f, args=(random.Random(rnd.random()),)) for f in (load, load, actions)]
        for t in threads:
            t.start()
        victims = self.victims(rnd)
        time.sleep(rnd.uniform(0.3, LOAD_SECONDS - 1))
        print("round %d: kill -9 %s" % (n, " ".join(victims or ["oms run"])), file=sys.stderr, flush=True)
        try:
            self.crash(victims)
            time.sleep(1.0)  # load goes on after the restart
        finally:
            stop.set()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        return mine

    def test_crash_rounds_lose_and_repeat_nothing(self):
        print("crash rounds: %d, seed %d (OMS_CRASH_SEED=%d to repeat)" % (ROUNDS, SEED, SEED), file=sys.stderr)
        rnd = random.Random(SEED)
        self.pid = self.oms.new_product(self.staff, 1000000, price=PRICE)
        self.orders = []
        self.lock = threading.Lock()
        for n in range(ROUNDS):
            mine = self.round(n, rnd)
            self.assertTrue(mine, "round %d placed orders" % n)
            settled = self.oms.wait_all_settled(self.token, sorted(set(mine)), SETTLE)  # placed or acted on
            lost = {o: s["failureReason"] for o, s in settled.items() if (s["failureReason"] or "").startswith("TIMEOUT")}
            self.assertEqual(lost, {}, "round %d: sagas that waited for a message in vain" % n)

            # every order the client was told about exists, and no retry made a second one
            listed, before = [], None
            while True:
                page = self.call("GET", "/api/orders?limit=1000" + ("&before=" + before if before else ""), self.token)
                self.assertEqual(page.status, 200, page)
                listed += [o["orderId"] for o in page.body]
                if len(page.body) < 1000:
                    break
                before = page.body[-1]["orderId"]
            self.assertEqual(sorted(listed), sorted(self.orders), "round %d: the customer's orders" % n)

            env = dict(os.environ, OMS_URL="http://127.0.0.1:%d" % self.oms.port, OMS_TOKEN=self.admin)
            a = subprocess.run([oms_bin(), "audit", "--settle-ms", "1000"], env=env, capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(a.returncode, 0, "round %d (seed %d): %s%s" % (n, SEED, a.stdout, a.stderr))
            print("round %d: %d orders so far, audit clean" % (n, len(self.orders)), file=sys.stderr, flush=True)


if __name__ == "__main__":
    unittest.main()
