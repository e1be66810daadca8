"""Checks of the deployment material in deploy/ (Kubernetes, systemd, NATS).

Run from the project root:  OMS_BIN=build/oms python3 -m unittest -v tests/deploy/test_deploy.py

Python standard library only. The Kubernetes manifests are kept in a strict subset of YAML
(block mappings and sequences, plain/quoted scalars, one-line flow sequences, `{}`, `|` block
scalars, comments) that `MiniYaml` below parses; anything outside that subset is an error, so
the manifests stay simple enough to be checked here.

The most important check cross-examines the binary: every OMS_* variable used anywhere in deploy/
must be listed by `$OMS_BIN serve --help`, and the services and their ports are the ones
`$OMS_BIN services` lists, so the manifests cannot drift from the program.
"""

import configparser
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def catalog_ports():
    """Each service's default port, as the binary lists them (`oms services`, from services/catalog.cpp)."""
    binary = os.environ.get("OMS_BIN") or str(ROOT / "build" / "oms")
    out = subprocess.run([binary, "services"], stdout=subprocess.PIPE, text=True, check=True).stdout
    return {f[0]: int(f[1]) for f in (line.split("\t") for line in out.splitlines() if line.strip())}


PORTS = {"gateway": 8080, **catalog_ports()}
BACKENDS = sorted(set(PORTS) - {"gateway"})
OMS_VAR = re.compile(r"\bOMS_[A-Z0-9_]+\b")


class MiniYaml:
    """Parses one YAML document of the subset described in the module docstring."""

    _KEY = re.compile(r"^([A-Za-z0-9_./-]+):(?: +(.*))?$")

    def __init__(self, text, source):
        self.lines = text.split("\n")
        self.source = source
        self.i = 0
        self.override = None  # (line index, indent, content): the mapping inside "- key: v"

    def parse(self):
        """Returns the document's value (None for an empty document)."""
        head = self._peek()
        if head is None:
            return None
        if head[0] != 0:
            self._fail("the document must start in column 0")
        value = self._node(0)
        if self._peek() is not None:
            self._fail("unexpected content (bad indentation?)")
        return value

    def _fail(self, message):
        raise ValueError(f"{self.source}:{self.i + 1}: {message}")

    def _peek(self):
        """(indent, content without comment) of the next significant line, or None at the end."""
        while self.i < len(self.lines):
            if self.override and self.override[0] == self.i:
                return self.override[1], self.override[2]
            line = self.lines[self.i]
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                indent = len(line) - len(line.lstrip(" "))
                if line[indent] == "\t":
                    self._fail("tab in indentation")
                return indent, _strip_comment(stripped)
            self.i += 1
        return None

    def _consume(self):
        self.i += 1
        self.override = None

    def _node(self, indent):
        content = self._peek()[1]
        return self._seq(indent) if content.startswith("-") else self._map(indent)

    def _child(self, indent):
        """The value below a `key:` or `-` that has nothing after it on its line."""
        nxt = self._peek()
        if nxt and nxt[0] > indent:
            return self._node(nxt[0])
        if nxt and nxt[0] == indent and nxt[1].startswith("- "):
            return self._seq(indent)  # a sequence at its key's indentation
        return None

    def _map(self, indent):
        result = {}
        while (nxt := self._peek()) is not None and nxt[0] >= indent:
            if nxt[0] > indent:
                self._fail("unexpected indentation")
            if nxt[1].startswith("-"):
                self._fail("sequence item where a mapping key was expected")
            match = self._KEY.match(nxt[1])
            if not match:
                self._fail(f"not a 'key: value' line: {nxt[1]!r}")
            key, rest = match.group(1), match.group(2)
            if key in result:
                self._fail(f"duplicate key {key!r}")
            if rest and rest not in ("|", "|-"):
                result[key] = self._scalar(rest)
                self._consume()
                continue
            self._consume()
            if rest:
                result[key] = self._block_scalar(indent, keep_newline=(rest == "|"))
            else:
                result[key] = self._child(indent)
        return result

    def _seq(self, indent):
        result = []
        while (nxt := self._peek()) is not None and nxt[0] >= indent:
            if nxt[0] > indent:
                self._fail("unexpected indentation")
            if not nxt[1].startswith("-"):
                break  # back to the mapping that holds this sequence at its own indentation
            if nxt[1] != "-" and not nxt[1].startswith("- "):
                self._fail("'-' must be followed by a space")
            rest = nxt[1][1:].lstrip(" ")
            if not rest:
                self._consume()
                result.append(self._child(indent))
            elif self._KEY.match(rest):
                column = indent + len(nxt[1]) - len(rest)
                self.override = (self.i, column, rest)
                result.append(self._map(column))
            else:
                result.append(self._scalar(rest))
                self._consume()
        return result

    def _block_scalar(self, indent, keep_newline):
        body = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            body.append(line)
            self.i += 1
        while body and not body[-1].strip():
            body.pop()
        if not body:
            return ""
        margin = len(body[0]) - len(body[0].lstrip(" "))
        text = "\n".join(line[margin:] for line in body)
        return text + "\n" if keep_newline else text

    def _scalar(self, text):
        if text.startswith('"'):
            if len(text) < 2 or not text.endswith('"'):
                self._fail("unterminated double-quoted string")
            return json.loads(text)
        if text.startswith("'"):
            if len(text) < 2 or not text.endswith("'"):
                self._fail("unterminated single-quoted string")
            return text[1:-1].replace("''", "'")
        if text.startswith("["):
            if not text.endswith("]"):
                self._fail("flow sequences must fit on one line")
            inner = text[1:-1].strip()
            return [self._scalar(part.strip()) for part in _split_commas(inner)] if inner else []
        if text == "{}":
            return {}
        if text[0] in "{>&*!%@`|" or ": " in text:
            self._fail(f"outside the supported YAML subset: {text!r}")
        if re.fullmatch(r"-?[0-9]+", text):
            return int(text)
        return {"true": True, "false": False, "null": None, "~": None}.get(text, text)


def _unquoted(text):
    """(position, character) of each character of `text` outside single or double quotes."""
    quote = None
    for pos, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        else:
            yield pos, char


def _strip_comment(text):
    """Cuts a ` # comment` that is outside quotes."""
    for pos, char in _unquoted(text):
        if char == "#" and (pos == 0 or text[pos - 1] == " "):
            return text[:pos].rstrip()
    return text


def _split_commas(text):
    parts, start = [], 0
    for pos, char in _unquoted(text):
        if char == ",":
            parts.append(text[start:pos])
            start = pos + 1
    parts.append(text[start:])
    return parts


def load_manifests():
    """[(file name, document)] of every deploy/k8s/*.yaml, documents split on `---` lines."""
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for number, text in enumerate(re.split(r"(?m)^---[ \t]*$", path.read_text())):
            doc = MiniYaml(text, f"{path.name} (document {number + 1})").parse()
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def read_env_file(path):
    """KEY=VALUE lines of a systemd EnvironmentFile, as a dict (comments and blanks skipped)."""
    env = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            raise ValueError(f"{path.name}:{number}: not KEY=VALUE: {line!r}")
        env[key] = value
    return env


def read_unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(path)
    return parser


def container_env(container):
    """name -> value (or the valueFrom mapping) of a container's env list."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def nats_server():
    """(path, (major, minor)) of the nats-server on PATH, or None."""
    path = shutil.which("nats-server") or ("/usr/sbin/nats-server"
                                           if os.access("/usr/sbin/nats-server", os.X_OK) else None)
    if not path:
        return None
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    match = re.search(r"v(\d+)\.(\d+)", out)
    return (path, (int(match.group(1)), int(match.group(2)))) if match else None


def active_lines(text):
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]


class KubernetesManifests(unittest.TestCase):
    """deploy/k8s/*.yaml."""

    @classmethod
    def setUpClass(cls):
        cls.docs = load_manifests()
        cls.by_kind = {}
        for _, doc in cls.docs:
            cls.by_kind.setdefault(doc.get("kind"), {})[doc["metadata"]["name"]] = doc

    def test_every_document_has_kind_api_version_and_name(self):
        self.assertTrue(self.docs, "no manifests in deploy/k8s")
        for source, doc in self.docs:
            with self.subTest(source=source, name=doc.get("metadata", {}).get("name")):
                self.assertIsInstance(doc.get("apiVersion"), str)
                self.assertIsInstance(doc.get("kind"), str)
                self.assertIsInstance(doc.get("metadata", {}).get("name"), str)
                if doc["kind"] != "Namespace":
                    self.assertEqual(doc["metadata"].get("namespace"), "oms")

    def test_each_service_has_a_deployment_with_probes_on_its_port(self):
        deployments = self.by_kind.get("Deployment", {})
        self.assertEqual(sorted(deployments), sorted(PORTS))
        for name, port in PORTS.items():
            with self.subTest(service=name):
                spec = deployments[name]["spec"]
                pod = spec["template"]["spec"]
                self.assertEqual(spec["replicas"], 2)
                self.assertTrue(pod["securityContext"]["runAsNonRoot"])
                [container] = pod["containers"]
                self.assertEqual(container["image"], "oms:latest")
                self.assertEqual(container["command"], ["oms", "serve", name])
                self.assertEqual([p["containerPort"] for p in container["ports"]], [port])
                # the gateway's /readyz aggregates every service's: its pods stay in the load
                # balancer on /healthz (see the comment in deploy/k8s/gateway.yaml)
                ready = "/healthz" if name == "gateway" else "/readyz"
                for probe, path in (("readinessProbe", ready), ("livenessProbe", "/healthz")):
                    self.assertEqual(container[probe]["httpGet"], {"path": path, "port": port})
                self.assertTrue(container["resources"]["requests"])
                self.assertTrue(container["resources"]["limits"])
                env = container_env(container)
                self.assertEqual(env.get("OMS_HOST"), "0.0.0.0", "must listen beyond loopback")
                self.assertEqual(env.get("OMS_PORT", str(port)), str(port))
                self.assertEqual("OMS_DB_URL" in env, name != "gateway")
                self.assertEqual(container["envFrom"], [{"configMapRef": {"name": "oms-common"}}])
                labels = spec["template"]["metadata"]["labels"]
                self.assertTrue(spec["selector"]["matchLabels"].items() <= labels.items())
                service = self.by_kind["Service"][name]["spec"]
                self.assertTrue(service["selector"].items() <= labels.items())
                self.assertEqual([(p["port"], p["targetPort"]) for p in service["ports"]],
                                 [(port, port)])

    def test_gateway_routes_to_the_services_and_is_exposed(self):
        gateway = self.by_kind["Deployment"]["gateway"]["spec"]["template"]["spec"]
        env = container_env(gateway["containers"][0])
        for name in BACKENDS:
            with self.subTest(upstream=name):
                self.assertEqual(env.get(f"OMS_UPSTREAM_{name.upper()}"),
                                 f"http://{name}:{PORTS[name]}")
        public = [s for s in self.by_kind["Service"].values()
                  if s["spec"].get("type") == "LoadBalancer"]
        self.assertEqual([s["spec"]["selector"] for s in public],
                         [{"app.kubernetes.io/name": "gateway"}])

    def test_every_process_verifies_the_identity_providers_tokens(self):
        """deploy/ uses `--auth external`: each pod reads the JWKS that OMS_JWKS_FILE names
        from the ConfigMap oms-jwks, and holds no token-signing secret."""
        common = self.by_kind["ConfigMap"]["oms-common"]["data"]
        self.assertEqual(common["OMS_AUTH"], "external")
        self.assertTrue(common["OMS_TOKEN_ISSUER"] and common["OMS_TOKEN_AUDIENCE"])
        jwks = json.loads(self.by_kind["ConfigMap"]["oms-jwks"]["data"]["jwks.json"])
        self.assertIsInstance(jwks["keys"], list)
        folder, name = os.path.split(common["OMS_JWKS_FILE"])
        self.assertEqual(name, "jwks.json")
        for deployment_name, d in self.by_kind["Deployment"].items():
            with self.subTest(deployment=deployment_name):
                pod = d["spec"]["template"]["spec"]
                [container] = pod["containers"]
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                volumes = {v["name"]: v for v in pod["volumes"]}
                self.assertEqual(volumes[mounts[folder]]["configMap"]["name"], "oms-jwks")
                self.assertNotIn("OMS_JWT_SECRET", container_env(container))

    def test_backends_accept_ingress_only_from_the_gateway(self):
        pods = {name: d["spec"]["template"]["metadata"]["labels"]
                for name, d in self.by_kind["Deployment"].items()}
        guarding = []
        for policy in self.by_kind.get("NetworkPolicy", {}).values():
            selector = policy["spec"]["podSelector"].get("matchLabels", {})
            selected = {n for n, labels in pods.items() if selector.items() <= labels.items()}
            if selected & set(BACKENDS):
                guarding.append((selected, policy["spec"]))
        self.assertEqual(len(guarding), 1, "one NetworkPolicy should select the backend pods")
        selected, spec = guarding[0]
        self.assertEqual(selected, set(BACKENDS))
        self.assertEqual(spec["policyTypes"], ["Ingress"])
        sources = [peer for rule in spec["ingress"] for peer in rule["from"]]
        self.assertEqual(len(sources), 1)
        gateway_selector = sources[0]["podSelector"]["matchLabels"]
        self.assertTrue(gateway_selector.items() <= pods["gateway"].items())
        self.assertFalse(any(gateway_selector.items() <= pods[n].items() for n in BACKENDS))

    def test_secret_is_a_placeholder_and_has_every_key_the_deployments_use(self):
        secret = self.by_kind["Secret"]["oms-secrets"]["stringData"]
        for key, value in secret.items():
            self.assertIn("CHANGE-ME", value, f"oms-secrets/{key} must be an obvious placeholder")
        for name, deployment in self.by_kind["Deployment"].items():
            [container] = deployment["spec"]["template"]["spec"]["containers"]
            for value in container_env(container).values():
                if isinstance(value, dict) and "secretKeyRef" in value:
                    self.assertEqual(value["secretKeyRef"]["name"], "oms-secrets")
                    self.assertIn(value["secretKeyRef"]["key"], secret, name)
        for name in BACKENDS:
            self.assertTrue(secret[f"db-url-{name}"].startswith("postgresql://"))

    def test_nats_is_a_durable_three_node_jetstream_cluster(self):
        common = self.by_kind["ConfigMap"]["oms-common"]["data"]
        self.assertEqual(common["OMS_STREAM_REPLICAS"], "3")
        self.assertEqual(len(common["OMS_NATS_URL"].split(",")), 3)
        statefulset = self.by_kind["StatefulSet"]["nats"]["spec"]
        self.assertEqual(statefulset["replicas"], 3)
        headless = self.by_kind["Service"][statefulset["serviceName"]]["spec"]
        self.assertEqual(headless["clusterIP"], "None")
        self.assertEqual(statefulset["volumeClaimTemplates"][0]["metadata"]["name"], "data")
        [container] = statefulset["template"]["spec"]["containers"]
        config = self.by_kind["ConfigMap"]["nats-config"]["data"]["nats.conf"]
        self.assertIn("sync_interval: always", active_lines(config))
        for n in range(3):
            self.assertIn(f"nats://nats-{n}.nats:6222", config)
        version = re.fullmatch(r"nats:(\d+)\.(\d+).*", container["image"])
        self.assertTrue(version and (int(version.group(1)), int(version.group(2))) >= (2, 10),
                        "nats-server < 2.10 rejects sync_interval and would not start")

    def test_nats_cluster_config_is_accepted_by_nats_server(self):
        server = nats_server()
        if not server:
            self.skipTest("nats-server is not installed")
        config = self.by_kind["ConfigMap"]["nats-config"]["data"]["nats.conf"]
        if server[1] < (2, 10):  # the only key it does not know; checked above
            config = config.replace("sync_interval: always", "")
        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp, "nats.conf")
            path.write_text(config)
            run = subprocess.run([server[0], "-c", str(path), "-t"], capture_output=True, text=True,
                                 timeout=30, env={**os.environ, "POD_NAME": "nats-0"})
        self.assertEqual(run.returncode, 0, run.stderr)


class SystemdUnits(unittest.TestCase):
    """deploy/systemd: units and their environment files."""

    def test_units_have_unit_service_and_install_sections(self):
        units = sorted((DEPLOY / "systemd").glob("*.service"))
        self.assertEqual([u.name for u in units], ["oms-nats.service", "oms@.service"])
        for path in units:
            with self.subTest(unit=path.name):
                self.assertTrue({"Unit", "Service", "Install"} <= set(read_unit(path).sections()))

    def test_oms_template_unit(self):
        path = DEPLOY / "systemd" / "oms@.service"
        service = read_unit(path)["Service"]
        self.assertEqual(service["ExecStart"], "/usr/local/bin/oms serve %i")
        # configparser keeps only the last of repeated keys: read those lines directly.
        env_files = re.findall(r"(?m)^EnvironmentFile=(.*)$", path.read_text())
        self.assertEqual(env_files, ["-/etc/oms/common.env", "/etc/oms/%i.env"])
        expected = {"User": "oms", "Restart": "on-failure", "KillSignal": "SIGTERM",
                    "TimeoutStopSec": "30", "StateDirectory": "oms", "NoNewPrivileges": "true",
                    "ProtectSystem": "strict", "ProtectHome": "true", "PrivateTmp": "true"}
        self.assertEqual({k: service.get(k) for k in expected}, expected)

    def test_nats_unit_runs_the_shipped_config_with_a_store_dir(self):
        exec_start = read_unit(DEPLOY / "systemd" / "oms-nats.service")["Service"]["ExecStart"]
        self.assertRegex(exec_start, r"nats-server -c \S*nats\.conf -sd /\S+")

    def test_env_files_match_the_services(self):
        env_dir = DEPLOY / "systemd" / "env"
        self.assertEqual(sorted(p.stem for p in env_dir.glob("*.env")), sorted([*PORTS, "common"]))
        common = read_env_file(env_dir / "common.env")
        self.assertIn("OMS_NATS_URL", common)
        for name, port in PORTS.items():
            with self.subTest(service=name):
                env = read_env_file(env_dir / f"{name}.env")
                self.assertEqual(env.get("OMS_PORT"), str(port))
                self.assertEqual("OMS_DB_URL" in env, name != "gateway")
        gateway = read_env_file(env_dir / "gateway.env")
        for name in BACKENDS:
            for url in gateway[f"OMS_UPSTREAM_{name.upper()}"].split(","):
                self.assertRegex(url, rf"^http://[^/:]+:{PORTS[name]}$")


class NatsConfig(unittest.TestCase):
    """deploy/nats/nats.conf, the single-node server of scripts/cluster and oms-nats.service."""

    PATH = DEPLOY / "nats" / "nats.conf"

    def test_durability_setting_is_present(self):
        text = self.PATH.read_text()
        self.assertIn("sync_interval: always", text)
        server = nats_server()
        if server and server[1] >= (2, 10):
            self.assertIn("sync_interval: always", active_lines(text),
                          "this nats-server supports sync_interval: uncomment it in nats.conf")

    def test_no_store_dir_in_the_file(self):
        # nats-server 2.9 refuses to start when the file and -sd both give a store_dir.
        lines = active_lines(self.PATH.read_text())
        self.assertFalse([line for line in lines if line.startswith("store_dir")])

    def test_accepted_by_the_installed_nats_server(self):
        server = nats_server()
        if not server:
            self.skipTest("nats-server is not installed")
        run = subprocess.run([server[0], "-c", str(self.PATH), "-t"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(run.returncode, 0, run.stderr)


class EnvironmentVariables(unittest.TestCase):
    """Every OMS_* variable in deploy/ must be one that `oms serve` knows."""

    def test_every_variable_is_listed_by_oms_serve_help(self):
        files = [p for p in sorted(DEPLOY.rglob("*")) if p.is_file()]
        used = {}
        for path in files:
            for name in OMS_VAR.findall(path.read_text()):
                used.setdefault(name, path.relative_to(ROOT).as_posix())
        self.assertIn("OMS_NATS_URL", used)
        binary = os.environ.get("OMS_BIN")
        if not binary:
            self.skipTest("OMS_BIN is not set: cannot check the OMS_* variables against "
                          "`oms serve --help` (CI sets it, e.g. OMS_BIN=build/oms)")
        run = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True,
                             timeout=30, cwd=ROOT)
        self.assertEqual(run.returncode, 0, run.stderr)
        known = set(OMS_VAR.findall(run.stdout))
        unknown = [f"{name} (in {where})" for name, where in sorted(used.items())
                   if name not in known]
        self.assertFalse(unknown, f"`{binary} serve --help` does not list: " + ", ".join(unknown))


if __name__ == "__main__":
    unittest.main()
