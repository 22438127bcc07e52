"""A live install, reached through its ingress: settings, the cluster, and a wait until it is ready.

Settings come from pytest options or the environment (scripts/smoke.sh sets both, because pytest
reads this file's options only when tests/e2e is on its command line):

    --ingress-url   SIMPLECHAT_INGRESS_URL    e.g. http://localhost (required)
    --namespace     SIMPLECHAT_NAMESPACE      simplechat
    --release       SIMPLECHAT_RELEASE        simplechat
    --kube-context  SIMPLECHAT_KUBE_CONTEXT   the kubeconfig's current context

Every test is skipped unless an ingress URL is given and the cluster's API answers;
SIMPLECHAT_E2E_REQUIRED=1 (set by smoke.sh) makes that a failure, so a smoke run that reached
nothing cannot pass.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

import httpx
import pytest
import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException

# The first start loads both models; on a small CI runner that takes minutes.
READY_TIMEOUT = float(os.environ.get("SIMPLECHAT_READY_TIMEOUT", "900"))
POLL_SECONDS = 5
MODELS = ("chatbot", "extractor")

# option -> (environment variable, default, help)
OPTIONS = {
    "--ingress-url": ("SIMPLECHAT_INGRESS_URL", None, "base URL where the ingress answers, e.g. http://localhost"),
    "--namespace": ("SIMPLECHAT_NAMESPACE", "simplechat", "namespace of the Helm release"),
    "--release": ("SIMPLECHAT_RELEASE", "simplechat", "Helm release name (resource name prefix)"),
    "--kube-context": ("SIMPLECHAT_KUBE_CONTEXT", None, "kubeconfig context (default: the current one)"),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simplechat-e2e", "simplechat end-to-end suite (tests/e2e)")
    for option, (env, default, text) in OPTIONS.items():
        suffix = f"; default {default}" if default else ""
        group.addoption(option, default=None, help=f"{text} (env {env}{suffix})")


@dataclass(frozen=True)
class Settings:
    url: str | None
    namespace: str
    release: str
    context: str | None


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    def value(option: str) -> str | None:
        env, default, _ = OPTIONS[option]
        given = pytestconfig.getoption(option.lstrip("-").replace("-", "_"), default=None)
        return given or os.environ.get(env) or default

    url = value("--ingress-url")
    return Settings(url.rstrip("/") if url else None, value("--namespace"), value("--release"), value("--kube-context"))


def unavailable(reason: str) -> NoReturn:
    """Skip: nothing to test against here. Fail instead when the run asked for a real cluster."""
    if os.environ.get("SIMPLECHAT_E2E_REQUIRED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def condition(obj: dict, kind: str) -> str | None:
    """Status ("True"/"False"/"Unknown") of `obj`'s condition of type `kind`; None before it is reported."""
    for item in obj.get("status", {}).get("conditions") or []:
        if item.get("type") == kind:
            return item.get("status")
    return None


def unmet(obj: dict) -> str:
    """The conditions that are not True yet, with KServe's or Kubernetes' reason."""
    conditions = [c for c in obj.get("status", {}).get("conditions") or [] if c.get("status") != "True"]
    if not conditions:
        return "no conditions reported yet"
    return "; ".join(
        f"{c.get('type')}={c.get('status')} {c.get('reason') or ''} {c.get('message') or ''}".strip()
        for c in conditions
    )


def as_dict(response) -> dict:
    """The JSON of a call made with _preload_content=False. Plain dicts, not the client's generated
    models: those reject fields newer than the client, and the cluster may be newer."""
    return json.loads(response.data)


@dataclass
class Cluster:
    """The release's objects, read through the Kubernetes API."""

    api: client.ApiClient
    settings: Settings

    def name(self, component: str) -> str:
        return f"{self.settings.release}-{component}"

    def inference_service(self, model: str) -> dict:
        return as_dict(
            client.CustomObjectsApi(self.api).get_namespaced_custom_object(
                "serving.kserve.io",
                "v1beta1",
                self.settings.namespace,
                "inferenceservices",
                self.name(model),
                _preload_content=False,
                _request_timeout=30,
            )
        )

    def deployment(self, name: str) -> dict:
        return as_dict(
            client.AppsV1Api(self.api).read_namespaced_deployment(
                name, self.settings.namespace, _preload_content=False, _request_timeout=30
            )
        )

    def service(self, name: str) -> dict:
        return as_dict(
            client.CoreV1Api(self.api).read_namespaced_service(
                name, self.settings.namespace, _preload_content=False, _request_timeout=30
            )
        )

    def not_ready(self) -> dict[str, str]:
        """What is not ready yet, and why; empty once both models and the UI are."""
        pending = {}
        for model in MODELS:
            name = self.name(model)
            try:
                isvc = self.inference_service(model)
            except ApiException as error:
                pending[f"InferenceService {name}"] = self.api_error(error)
                continue
            if condition(isvc, "Ready") != "True":
                pending[f"InferenceService {name}"] = unmet(isvc)
        name = self.name("ui")
        try:
            deployment = self.deployment(name)
            if condition(deployment, "Available") != "True":
                pending[f"Deployment {name}"] = unmet(deployment)
        except ApiException as error:
            pending[f"Deployment {name}"] = self.api_error(error)
        return pending

    def api_error(self, error: ApiException) -> str:
        if error.status == 404:
            return f"not found: is release {self.settings.release} installed in namespace {self.settings.namespace}?"
        return f"the API answered {error.status} {error.reason}"


@pytest.fixture(scope="session")
def kube(settings: Settings) -> client.ApiClient:
    """An API client for a cluster that answers; skips every test otherwise."""
    if not settings.url:
        unavailable("no ingress URL: pass --ingress-url URL or set SIMPLECHAT_INGRESS_URL (scripts/smoke.sh URL)")
    configuration = client.Configuration()
    problem = None  # reported outside the except blocks, so the reason is not buried in a traceback chain
    try:
        config.load_kube_config(context=settings.context, client_configuration=configuration)
    except Exception as error:  # no kubeconfig, unknown context, unreadable credentials
        problem = f"no Kubernetes cluster: cannot load the kubeconfig ({error})"
    if problem:
        unavailable(problem)
    configuration.retries = 1  # a missing cluster should be reported in seconds, not retried at length
    api = client.ApiClient(configuration)
    try:
        client.VersionApi(api).get_code(_request_timeout=10, _preload_content=False)
    except Exception as error:  # refused, timed out, TLS or auth failure
        problem = f"no Kubernetes cluster: the API server at {configuration.host} does not answer ({error})"
    if problem:
        unavailable(problem)
    return api


@pytest.fixture(scope="session")
def cluster(kube: client.ApiClient, settings: Settings) -> Cluster:
    """The install once both InferenceServices are Ready and the UI Deployment is Available, and the
    ingress routes to them (it may lag the endpoints by a few seconds)."""
    found = Cluster(kube, settings)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            pending = found.not_ready() or ingress_not_ready(settings.url)
        except urllib3.exceptions.HTTPError as error:  # the API server restarting or briefly unreachable
            pending = {"Kubernetes API": repr(error)}
        if not pending:
            return found
        if time.monotonic() > deadline:
            details = "\n".join(f"  {what}: {why}" for what, why in pending.items())
            pytest.fail(
                f"release {settings.release} in namespace {settings.namespace} not ready after "
                f"{READY_TIMEOUT:.0f}s:\n{details}",
                pytrace=False,
            )
        time.sleep(POLL_SECONDS)


def ingress_not_ready(url: str) -> dict[str, str]:
    pending = {}
    for path in ("/", *(f"/api/v1/models/{model}" for model in MODELS)):
        try:
            status = httpx.get(url + path, timeout=10).status_code
        except httpx.HTTPError as error:
            pending[f"GET {url}{path}"] = repr(error)
            continue
        if status != 200:
            pending[f"GET {url}{path}"] = f"HTTP {status}"
    return pending


@pytest.fixture(scope="session")
def http(cluster: Cluster) -> Iterator[httpx.Client]:
    """HTTP through the ingress, once the install is ready. CPU inference can take a while."""
    with httpx.Client(base_url=cluster.settings.url, timeout=httpx.Timeout(120, connect=10)) as session:
        yield session
