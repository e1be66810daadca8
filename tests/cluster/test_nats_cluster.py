"""JetStream on three nodes (issue 9 item 5): `scripts/cluster up --nats-nodes 3` runs a three-node
NATS cluster whose stream has three replicas; kill -9 of the node that leads the stream, under
load, loses nothing — every accepted order ends COMPLETED exactly once, stock adds up, `oms audit`
is clean — and the node, started again, catches up."""
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import OmsCluster, OmsTestCase, item, oms_bin, wait_for  # noqa: E402


def jsz(monitor_port):
    with urllib.request.urlopen("http://127.0.0.1:%d/jsz?streams=true" % monitor_port, timeout=5) as r:
        return json.load(r)


def stream(monitor_port):
    """The OMS stream as this node sees it: "cluster" (leader, replicas), "state" (last_seq, …)."""
    for account in jsz(monitor_port).get("account_details", []):
        for s in account.get("stream_detail", []):
            if s["name"] == "OMS":
                return s
    return {}


class NatsClusterTest(OmsTestCase):
    @classmethod
    def make_oms(cls):
        return OmsCluster(cls.server_args, name=cls.__name__, nats_nodes=3)

    def nodes(self):
        """{name: monitor port} of the NATS nodes (nats.1 … nats.3)."""
        return {"nats.%d" % (i + 1): m for i, (_, m, _) in enumerate(self.oms.state()["nats_cluster"])}

    def leader(self):
        for name, port in self.nodes().items():
            try:
                lead = stream(port).get("cluster", {}).get("leader")
            except OSError:
                continue
            if lead:
                return lead.replace("oms-", "")  # server names are oms-nats.N
        return None

    def test_the_stream_leader_killed_under_load_loses_nothing(self):
        info = stream(next(iter(self.nodes().values()))).get("cluster", {})
        self.assertEqual(len(info.get("replicas", [])) + 1, 3, "the stream has three replicas: %r" % info)

        pid = self.oms.new_product(self.staff, 1000, price="3.00")
        total = 150
        accepted = {}
        lock = threading.Lock()
        killed = []

        def client(n):
            key = "nats-%d-%s" % (n, uuid.uuid4().hex[:8])
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    r = self.oms.create_order(self.token, [item(pid, 1, "3.00")], key=key)
                except OSError:
                    r = None
                if r is not None and r.status in (200, 201):
                    with lock:
                        accepted[key] = r.body["orderId"]
                        if len(accepted) == 50 and not killed:
                            killed.append(self.leader())
                            self.oms.kill9(killed[0])
                    return
                if r is not None and r.status != 503:
                    self.fail("unexpected answer for %s: %r" % (key, r))
                time.sleep(0.05)  # 503: the same key again, as a client would
            self.fail("order %s was never accepted" % key)

        threads = []
        for n in range(total):
            t = threading.Thread(target=client, args=(n,))
            t.start()
            threads.append(t)
            time.sleep(0.02)  # paced: the kill lands in the middle of the flow
        for t in threads:
            t.join()
        self.assertEqual(len(killed), 1)
        self.assertIn(killed[0], self.nodes(), "the leader was one of ours")
        self.assertEqual(len(accepted), total)

        orders = self.oms.wait_all_settled(self.token, list(accepted.values()), 120)
        self.assertEqual({oid: o["status"] for oid, o in orders.items() if o["status"] != "COMPLETED"}, {})
        p = self.oms.product(self.staff, pid)
        self.assertEqual((p["availableQuantity"], p["reservedQuantity"], p["totalQuantity"]), (1000 - total, total, 1000))
        for oid in list(accepted.values())[::10]:
            types = self.oms.notification_types(self.token, oid)
            self.assertEqual(sorted(types), ["ORDER_COMPLETED", "ORDER_CREATED"], oid)

        env = dict(os.environ, OMS_URL="http://127.0.0.1:%d" % self.oms.port, OMS_TOKEN=self.admin)
        a = subprocess.run([oms_bin(), "audit", "--settle-ms", "1000"], env=env, capture_output=True, text=True,
                           timeout=300)
        self.assertEqual(a.returncode, 0, a.stdout + a.stderr)

        # started again, the node catches up: the leader counts it current, and it holds the
        # stream up to the leader's last message (a follower's own view of the others is stale)
        self.oms.cluster("up")
        nodes = self.nodes()

        def caught_up():
            lead = self.leader()
            if not lead:
                return False
            at_leader = stream(nodes[lead])
            replicas = {r["name"]: r.get("current") for r in at_leader.get("cluster", {}).get("replicas", [])}
            return replicas.get("oms-" + killed[0]) is True and \
                stream(nodes[killed[0]]).get("state", {}).get("last_seq") == at_leader["state"]["last_seq"]

        wait_for(caught_up, 60, interval=0.5, message="the restarted node to catch up")


if __name__ == "__main__":
    unittest.main()
