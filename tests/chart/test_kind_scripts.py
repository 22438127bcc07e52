"""scripts/kind-up.sh run for real with fake kind, kubectl, helm, podman (stand-ins on PATH that
record every call and answer from a script of rules), and the CI steps that go with it. No cluster:
what is checked is what the script asks of the tools, in which order, and how it gives up.

Covers: the InferenceServices waited for before helm test and the smoke suite; KServe's install
re-applied, bounded, once its CRDs and controllers are up; KServe's own per-model Ingress turned
off; rootless podman on host ports 8080/8443; an ingress-nginx that supports the node's Kubernetes;
the KServe CRD for tests/chart downloaded in CI at the version kind-up.sh installs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
CONTEXT = "kind-simplechat"

# A stand-in for any command: logs its call, then answers with the first rule whose regex matches
# "name arg...": the rule's responses in turn, the last one repeated. No rule: exit 0, no output.
FAKE = """#!{python}
import json, os, re, sys
from pathlib import Path

name, args = os.path.basename(sys.argv[0]), sys.argv[1:]
state = Path(os.environ["FAKE_STATE"])
call = {{"cmd": name, "args": args, "provider": os.environ.get("KIND_EXPERIMENTAL_PROVIDER")}}
if "--config" in args:
    call["config"] = Path(args[args.index("--config") + 1]).read_text()
if name == "sha256sum":
    call["stdin"] = sys.stdin.read()
with open(state / "calls.jsonl", "a") as log:
    log.write(json.dumps(call) + "\\n")
if name == "curl" and "-o" in args:
    Path(args[args.index("-o") + 1]).write_text("downloaded\\n")
line = " ".join([name, *args])
for i, rule in enumerate(json.loads((state / "rules.json").read_text())):
    if re.search(rule["match"], line):
        counter = state / f"rule{{i}}.count"
        n = int(counter.read_text()) if counter.exists() else 0
        counter.write_text(str(n + 1))
        answer = rule["responses"][min(n, len(rule["responses"]) - 1)]
        sys.stdout.write(answer.get("stdout", ""))
        sys.stderr.write(answer.get("stderr", ""))
        sys.exit(answer.get("rc", 0))
"""

KSERVE_CONFIG = {
    "deploy": json.dumps({"defaultDeploymentMode": "Serverless"}),
    "ingress": json.dumps(
        {
            "ingressGateway": "knative-serving/knative-ingress-gateway",
            "ingressClassName": "istio",
            "disableIngressCreation": False,
        }
    ),
    "logger": json.dumps({"image": "kserve/agent:v0.16.0"}),
}


def answer(rc: int = 0, stdout: str = "", stderr: str = "") -> dict:
    return {"rc": rc, "stdout": stdout, "stderr": stderr}


def rule(match: str, *responses: dict) -> dict:
    return {"match": match, "responses": list(responses) or [answer()]}


# A new cluster: nothing installed yet, every install works at once.
FRESH = [
    rule(r"^kubectl .* get deployment -n ingress-nginx ingress-nginx-controller", answer(1, stderr="NotFound")),
    rule(r"^kubectl .* get deployment -n cert-manager cert-manager-webhook", answer(1, stderr="NotFound")),
    rule(r"^kubectl .* get namespace kserve", answer(1, stderr="NotFound")),
    # What the script before these fixes looked at to skip KServe.
    rule(r"^kubectl .* get (crd inferenceservices|deployment -n kserve)", answer(1, stderr="NotFound")),
    rule(r"^kubectl .* get configmap inferenceservice-config", answer(stdout=json.dumps({"data": KSERVE_CONFIG}))),
    rule(r"^kubectl .* get ingress -n simplechat -o json", answer(stdout=json.dumps({"items": []}))),
]


def lib_vars(*names: str) -> dict[str, str]:
    """Variables as scripts/lib.sh sets them (sourced by bash, as the scripts and CI do)."""
    script = 'source scripts/lib.sh; for n in "$@"; do printf "%s=%s\\n" "$n" "${!n}"; done'
    out = subprocess.run(
        ["bash", "-c", script, "lib", *names], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


@dataclass
class Run:
    result: subprocess.CompletedProcess
    calls: list[dict]

    @property
    def lines(self) -> list[str]:
        return [" ".join([c["cmd"], *c["args"]]) for c in self.calls]

    def matching(self, pattern: str) -> list[int]:
        return [i for i, line in enumerate(self.lines) if re.search(pattern, line)]

    def first(self, pattern: str) -> int:
        found = self.matching(pattern)
        assert found, f"no call matches {pattern!r}:\n" + "\n".join(self.lines)
        return found[0]

    def call(self, pattern: str) -> dict:
        return self.calls[self.first(pattern)]


class Fakes:
    """A bin/ of stand-ins and the state they share (their rules and the calls they saw)."""

    COMMANDS = ("kind", "kubectl", "helm", "make", "podman", "docker", "curl", "sha256sum")

    def __init__(self, root: Path):
        self.bin = root / "bin"
        self.state = root / "state"
        self.bin.mkdir()
        self.state.mkdir()
        fake = root / "fake"
        fake.write_text(FAKE.format(python=sys.executable))
        fake.chmod(0o755)
        for name in self.COMMANDS:
            (self.bin / name).symlink_to(fake)

    def add(self, directory: Path, name: str) -> None:
        (directory / name).symlink_to(self.bin / "kind")  # any name: the fake answers as its own name

    def set_rules(self, rules: list[dict]) -> None:
        (self.state / "rules.json").write_text(json.dumps(rules))

    def calls(self) -> list[dict]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "HOME": str(self.state),
            "LANG": "C.UTF-8",
            "FAKE_STATE": str(self.state),
            **extra,
        }


@pytest.fixture
def kind_up(tmp_path: Path):
    """Run a copy of kind-up.sh (with lib.sh and kind-config.yaml as they are) in a scratch root whose
    build-images.sh and smoke.sh are fakes too; models/ already built, so no make."""
    fakes = Fakes(tmp_path)
    root = tmp_path / "root"
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    for name in ("kind-up.sh", "lib.sh", "kind-config.yaml"):
        shutil.copy2(ROOT / "scripts" / name, scripts / name)
    fakes.add(scripts, "build-images.sh")
    fakes.add(scripts, "smoke.sh")
    (root / "pyproject.toml").write_text('[project]\nname = "simplechat"\nversion = "1.2.3"\n')
    for model in ("chatbot", "extractor"):
        (root / "models" / model).mkdir(parents=True)
        (root / "models" / model / "config.json").write_text("{}")
    (root / "helm" / "simplechat").mkdir(parents=True)
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    def run(rules: list[dict] = (), **env: str) -> Run:
        fakes.set_rules([*rules, *FRESH])
        settings = {
            "ENGINE": "docker",
            "PYTHON": sys.executable,
            "TMPDIR": str(scratch),
            "KSERVE_APPLY_DELAY": "0",
            **env,
        }
        result = subprocess.run(
            ["bash", str(scripts / "kind-up.sh")],
            env=fakes.env(**settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert not list(scratch.iterdir()), "kind-up.sh left its scratch directory behind"
        return Run(result, fakes.calls())

    return run


def succeeded(run: Run) -> Run:
    assert run.result.returncode == 0, run.result.stderr
    return run


# --- 7: the models are Ready before anything tests them -----------------------------------------


def test_inference_services_are_waited_for_after_helm_and_before_the_smoke_suite(kind_up):
    run = succeeded(kind_up())
    helm = run.first(r"^helm upgrade --install simplechat ")
    wait = run.first(r"^kubectl .*\bwait\b.*\binferenceservice\b")
    smoke = run.first(r"^smoke\.sh ")
    assert helm < wait < smoke
    args = run.calls[wait]["args"]
    assert {"--for=condition=Ready", "inferenceservice", "--all"} <= set(args)
    assert args[:2] == ["--context", CONTEXT]
    assert args[args.index("-n") + 1] == "simplechat"
    assert any(a.startswith("--timeout=") for a in args)


def test_models_not_ready_stops_before_the_smoke_suite_with_a_way_to_look(kind_up):
    run = kind_up([rule(r"^kubectl .*\bwait\b.*\binferenceservice\b", answer(1, stderr="timed out"))])
    assert run.result.returncode != 0
    assert not run.matching(r"^smoke\.sh ")
    assert "describe inferenceservices" in run.result.stderr


def test_the_workflow_waits_for_the_inference_services_before_helm_test(tmp_path):
    steps = yaml.safe_load((WORKFLOWS / "e2e-kind.yaml").read_text())["jobs"]["e2e"]["steps"]
    names = [s.get("name", "") for s in steps]
    runs = [s.get("run", "") for s in steps]
    kind_up = next(i for i, r in enumerate(runs) if "scripts/kind-up.sh" in r)
    helm_test = next(i for i, r in enumerate(runs) if r.startswith("helm test"))
    waits = [i for i, r in enumerate(runs) if "inferenceservice" in r and " wait " in f" {r} "]
    assert waits and kind_up < waits[0] < helm_test, names
    step = steps[waits[0]]
    assert step.get("timeout-minutes")
    # Run the step against a fake kubectl: what it really asks for, once the YAML is folded.
    fakes = Fakes(tmp_path)
    fakes.set_rules([])
    subprocess.run(["bash", "-e", "-c", step["run"]], env=fakes.env(), check=True, timeout=30)
    (call,) = fakes.calls()
    args = call["args"]
    assert call["cmd"] == "kubectl" and args[args.index("--context") + 1] == CONTEXT
    assert {"wait", "--for=condition=Ready", "inferenceservice", "--all"} <= set(args)
    assert args[args.index("-n") + 1] == "simplechat"
    assert any(a.startswith("--timeout=") for a in args)


# --- 8: KServe's install outlasts its own webhooks ----------------------------------------------

KSERVE_APPLY = r"^kubectl .* apply --server-side --force-conflicts -f \S*/kserve\.yaml$"


def test_kserve_is_reapplied_once_its_crds_and_controllers_are_up(kind_up):
    refused = answer(1, stderr='failed calling webhook "llminferenceserviceconfig.kserve-webhook-server.validator"')
    run = succeeded(kind_up([rule(KSERVE_APPLY, refused, refused, refused, answer())]))
    applies = run.matching(KSERVE_APPLY)
    assert len(applies) == 4  # the first, two refused re-applies, the one that took
    crds = run.first(r"^kubectl .* wait --for=condition=Established crd")
    controllers = run.first(r"^kubectl .* wait -n kserve --for=condition=Available")
    assert applies[0] < crds < controllers < applies[1]
    waited_for = set(run.calls[controllers]["args"])
    assert {"deployment/kserve-controller-manager", "deployment/llmisvc-controller-manager"} <= waited_for
    # Recorded only once it took, so a re-run after a failure installs again.
    mark = run.first(r"^kubectl .* annotate namespace kserve --overwrite simplechat/kserve-version=v")
    assert mark > applies[-1]
    assert run.first(r"kserve-cluster-resources\.yaml") > mark


def test_kserve_install_gives_up_after_a_bounded_number_of_tries_and_says_so(kind_up):
    run = kind_up([rule(KSERVE_APPLY, answer(1, stderr="connection refused"))], KSERVE_APPLY_ATTEMPTS="3")
    assert run.result.returncode != 0
    assert len(run.matching(KSERVE_APPLY)) == 1 + 3
    version = lib_vars("KSERVE_VERSION")["KSERVE_VERSION"]
    assert f"KServe {version} still refused after 3 applies" in run.result.stderr
    assert "giving up" in run.result.stderr
    assert not run.matching(r"^helm ") and not run.matching(r"annotate namespace kserve")


@pytest.mark.parametrize(("recorded", "installs"), [("pinned", False), ("v0.15.2", True)])
def test_kserve_is_installed_again_only_for_another_version(kind_up, recorded, installs):
    if recorded == "pinned":
        recorded = lib_vars("KSERVE_VERSION")["KSERVE_VERSION"]
    run = succeeded(kind_up([rule(r"^kubectl .* get namespace kserve -o jsonpath=", answer(stdout=recorded))]))
    assert bool(run.matching(KSERVE_APPLY)) == installs
    run.first(r"^kubectl .* wait -n kserve --for=condition=Available")  # the controllers, either way


def test_kserve_version_stays_at_least_0_16():
    version = lib_vars("KSERVE_VERSION")["KSERVE_VERSION"]
    major, minor = (int(x) for x in re.fullmatch(r"v(\d+)\.(\d+)\.\d+", version).groups())
    assert (major, minor) >= (0, 16), "before 0.16 KServe's raw mode is not called Standard"


# --- 9: KServe makes no Ingress of its own -------------------------------------------------------


def test_kserve_is_told_to_make_no_ingress_and_keeps_its_other_settings(kind_up):
    run = succeeded(kind_up())
    patch = run.call(r"^kubectl .* patch configmap inferenceservice-config -n kserve --type merge")
    data = json.loads(patch["args"][patch["args"].index("-p") + 1])["data"]
    ingress = json.loads(data["ingress"])
    assert ingress["disableIngressCreation"] is True
    assert ingress["ingressGateway"] == "knative-serving/knative-ingress-gateway"  # untouched fields stay
    assert json.loads(data["deploy"])["defaultDeploymentMode"] == "Standard"
    assert "logger" not in data  # only what changes is patched
    assert run.first(r"rollout restart deployment/kserve-controller-manager") > run.lines.index(
        " ".join(["kubectl", *patch["args"]])
    )


def test_kserve_settings_already_right_are_left_alone(kind_up):
    done = {
        **KSERVE_CONFIG,
        "deploy": json.dumps({"defaultDeploymentMode": "Standard"}),
        "ingress": json.dumps({"ingressClassName": "nginx", "disableIngressCreation": True}),
    }
    configmap = answer(stdout=json.dumps({"data": done}))
    run = succeeded(kind_up([rule(r"get configmap inferenceservice-config", configmap)]))
    assert not run.matching(r"patch configmap") and not run.matching(r"rollout restart")


def test_ingresses_kserve_made_earlier_are_deleted_and_the_charts_are_kept(kind_up):
    owned = {"ownerReferences": [{"kind": "InferenceService", "name": "simplechat-chatbot"}]}
    items = [
        {"metadata": {"name": "simplechat-chatbot", **owned}},
        {"metadata": {"name": "simplechat-api", "labels": {"app.kubernetes.io/component": "api"}}},
    ]
    run = succeeded(kind_up([rule(r"get ingress -n simplechat -o json", answer(stdout=json.dumps({"items": items})))]))
    (delete,) = run.matching(r"^kubectl .* delete ingress")
    assert run.calls[delete]["args"][-3:] == ["-n", "simplechat", "simplechat-chatbot"]
    assert delete < run.first(r"^helm upgrade")


# --- 10: rootless podman publishes the ingress on 8080/8443 --------------------------------------


def host_ports(config_text: str) -> dict[int, int]:
    (node,) = yaml.safe_load(config_text)["nodes"]
    return {m["containerPort"]: m["hostPort"] for m in node["extraPortMappings"]}


def test_rootless_podman_gets_host_ports_8080_and_8443_and_smoke_uses_them(kind_up):
    rootless = rule(r"^podman info --format \{\{\.Host\.Security\.Rootless\}\}$", answer(stdout="true\n"))
    run = succeeded(kind_up([rootless], ENGINE="podman"))
    create = run.call(r"^kind create cluster ")
    assert create["provider"] == "podman"
    assert host_ports(create["config"]) == {80: 8080, 443: 8443}
    node_image = lib_vars("KIND_NODE_IMAGE")["KIND_NODE_IMAGE"]
    assert yaml.safe_load(create["config"])["nodes"][0]["image"] == node_image
    assert run.call(r"^smoke\.sh ")["args"] == ["http://localhost:8080"]
    assert "http://localhost:8080/" in run.result.stdout


@pytest.mark.parametrize(("engine", "rootless"), [("podman", "false\n"), ("docker", "true\n")])
def test_rootful_engines_keep_ports_80_and_443(kind_up, engine, rootless):
    run = succeeded(kind_up([rule(r"^podman info", answer(stdout=rootless))], ENGINE=engine))
    assert host_ports(run.call(r"^kind create cluster ")["config"]) == {80: 80, 443: 443}
    assert run.call(r"^smoke\.sh ")["args"] == ["http://localhost"]
    assert (engine == "docker") == (not run.matching(r"^podman info"))


def test_host_ports_can_be_chosen(kind_up):
    run = succeeded(kind_up(HTTP_PORT="9080", HTTPS_PORT="9443"))
    assert host_ports(run.call(r"^kind create cluster ")["config"]) == {80: 9080, 443: 9443}
    assert run.call(r"^smoke\.sh ")["args"] == ["http://localhost:9080"]


# --- 13: an ingress-nginx that supports the node's Kubernetes -------------------------------------

# Kubernetes minors each ingress-nginx controller minor is tested on: the "Supported Versions table"
# in kubernetes/ingress-nginx's README (main, March 2026, when the project was retired).
INGRESS_NGINX_SUPPORTS = {"1.12": (28, 32), "1.13": (29, 33), "1.14": (30, 34), "1.15": (31, 35)}


def test_ingress_nginx_supports_the_kind_node_kubernetes():
    pins = lib_vars("INGRESS_NGINX_VERSION", "KIND_NODE_IMAGE")
    controller = re.fullmatch(r"controller-v1\.(\d+)\.\d+", pins["INGRESS_NGINX_VERSION"])
    node = re.match(r"kindest/node:v1\.(\d+)\.\d+@sha256:[0-9a-f]{64}$", pins["KIND_NODE_IMAGE"])
    assert controller and node, pins
    low, high = INGRESS_NGINX_SUPPORTS[f"1.{controller[1]}"]
    assert low <= int(node[1]) <= high, f"{controller[0]} supports 1.{low}-1.{high}, the node is 1.{node[1]}"
    assert (ROOT / "scripts" / "kind-config.yaml").read_text().count(f"image: {pins['KIND_NODE_IMAGE']}") == 1


def test_ingress_nginx_is_installed_from_the_pinned_kind_manifest(kind_up):
    run = succeeded(kind_up())
    version = lib_vars("INGRESS_NGINX_VERSION")["INGRESS_NGINX_VERSION"]
    url = (
        f"https://raw.githubusercontent.com/kubernetes/ingress-nginx/{version}/deploy/static/provider/kind/deploy.yaml"
    )
    apply = run.call(r"^kubectl .* apply -f https://raw\.githubusercontent\.com/kubernetes/ingress-nginx/")
    assert apply["args"][-1] == url


@pytest.mark.parametrize(("present", "warns"), [("pinned", False), ("1.11.0", True)])
def test_an_ingress_nginx_already_there_is_kept_and_an_old_one_named(kind_up, present, warns):
    pinned = lib_vars("INGRESS_NGINX_VERSION")["INGRESS_NGINX_VERSION"].removeprefix("controller-v")
    if present == "pinned":
        present = pinned
    run = succeeded(
        kind_up(
            [rule(r"get deployment -n ingress-nginx ingress-nginx-controller -o jsonpath=", answer(stdout=present))]
        )
    )
    assert not run.matching(r"kubernetes/ingress-nginx/")  # no apply over a running controller
    assert (f"ingress-nginx {present} present, {pinned} pinned" in run.result.stderr) == warns


# --- 14: the CRD tests run in CI, against the KServe version kind-up.sh installs -------------------


def crd_step() -> tuple[list[dict], int]:
    steps = yaml.safe_load((WORKFLOWS / "ci.yaml").read_text())["jobs"]["test"]["steps"]
    found = [i for i, s in enumerate(steps) if "KSERVE_CRD_URL" in s.get("run", "")]
    assert len(found) == 1, "ci.yaml must download the KServe CRD (KSERVE_CRD_URL from scripts/lib.sh) once"
    return steps, found[0]


def run_crd_step(tmp_path: Path, checksum_ok: bool) -> tuple[subprocess.CompletedProcess, list[dict], str]:
    steps, index = crd_step()
    fakes = Fakes(tmp_path)
    fakes.set_rules([rule(r"^sha256sum ", answer(0 if checksum_ok else 1, stderr="FAILED"))])
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    result = subprocess.run(
        ["bash", "-e", "-c", steps[index]["run"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=fakes.env(RUNNER_TEMP=str(tmp_path), GITHUB_ENV=str(github_env)),
        timeout=60,
    )
    return result, fakes.calls(), github_env.read_text()


def test_ci_downloads_the_kserve_crd_that_kind_up_installs_before_the_tests(tmp_path):
    steps, index = crd_step()
    make_test = next(i for i, s in enumerate(steps) if "make test" in s.get("run", ""))
    assert index < make_test
    pins = lib_vars("KSERVE_VERSION", "KSERVE_URL", "KSERVE_CRD_SHA256")
    result, calls, github_env = run_crd_step(tmp_path, checksum_ok=True)
    assert result.returncode == 0, result.stderr
    (curl,) = [c for c in calls if c["cmd"] == "curl"]
    version = pins["KSERVE_VERSION"]
    assert curl["args"][-1] == (
        "https://raw.githubusercontent.com/kserve/kserve/"
        f"{version}/config/crd/full/serving.kserve.io_inferenceservices.yaml"
    )
    assert f"/releases/download/{version}/" in pins["KSERVE_URL"]  # kind-up.sh's install: the same pin
    path = curl["args"][curl["args"].index("-o") + 1]
    (sha,) = [c for c in calls if c["cmd"] == "sha256sum"]
    assert sha["stdin"].split() == [pins["KSERVE_CRD_SHA256"], path]
    assert github_env.splitlines() == [f"SIMPLECHAT_KSERVE_CRD={path}"]
    assert Path(path).read_text() == "downloaded\n"


def test_ci_refuses_a_crd_whose_checksum_differs(tmp_path):
    result, _, github_env = run_crd_step(tmp_path, checksum_ok=False)
    assert result.returncode != 0
    assert github_env == ""


def test_the_kserve_version_is_pinned_in_lib_sh_only():
    version = lib_vars("KSERVE_VERSION")["KSERVE_VERSION"]
    assert re.fullmatch(r"[0-9a-f]{64}", lib_vars("KSERVE_CRD_SHA256")["KSERVE_CRD_SHA256"])
    for path in [*WORKFLOWS.glob("*.yaml"), *(ROOT / "scripts").glob("kind-*.sh"), ROOT / "scripts" / "smoke.sh"]:
        assert version not in path.read_text(), f"{path.name} repeats KSERVE_VERSION: take it from scripts/lib.sh"
        assert "KSERVE_VERSION=" not in path.read_text(), path.name


def crd_path(env: dict[str, str]) -> str:
    code = "from tests.chart.test_chart import CRD; print(CRD)"
    clean = {k: v for k, v in os.environ.items() if k != "SIMPLECHAT_KSERVE_CRD"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_crd_tests_read_the_path_ci_gives_them(tmp_path):
    given = tmp_path / "kserve" / "serving.kserve.io_inferenceservices.yaml"
    assert crd_path({"SIMPLECHAT_KSERVE_CRD": str(given)}) == str(given)
    assert crd_path({}) == str(ROOT.parent / "shared" / "kserve" / "serving.kserve.io_inferenceservices.yaml")


@pytest.mark.skipif(os.environ.get("GITHUB_ACTIONS") != "true", reason="only GitHub Actions lacks shared/")
def test_on_github_actions_the_crd_tests_do_not_skip():
    from tests.chart.test_chart import CRD

    assert CRD.is_file(), f"{CRD} missing: the CRD tests would skip (ci.yaml's 'KServe CRD' step)"
