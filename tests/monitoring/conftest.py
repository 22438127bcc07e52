"""Debian's prometheus, run here on loopback and scraping the predictors, to query as Grafana and KEDA do."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.chart.conftest import helm  # noqa: F401 - the chart tests' fixture, shared here
from tests.conftest import free_port, install_system_deps, running_stack

NAMESPACE = "simplechat"  # the chart is rendered into it, and the scrape labels its series with it
SCRAPE_INTERVAL_S = 1


class QueryError(Exception):
    """Prometheus refused a query (bad PromQL, unknown function): its error message."""


@dataclass
class Prometheus:
    process: subprocess.Popen
    url: str
    log: Path

    def api(self, path: str, **params: str | list[str]) -> object:
        """The `data` of a /api/v1/... answer; QueryError with Prometheus' message when it refuses."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
        try:
            body = response.json()
        except ValueError:  # while it starts: a plain-text 503
            raise QueryError(f"HTTP {response.status_code}: {response.text[:200]}") from None
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """An instant query now: the series of the result, a scalar given as one series without labels."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        return self.api(f"label/{label}/values", **({"match[]": [match]} if match else {}))

    def wait_until_up(self, count: int, timeout: float = 60) -> None:
        """Until `count` targets have been scraped and are up."""
        deadline = time.monotonic() + timeout
        targets: list[dict] = []
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"prometheus exited: {self.log.read_text()[-2000:]}"
            try:
                targets = self.api("targets", state="active")["activeTargets"]
            except (httpx.TransportError, QueryError):
                targets = []
            if len(targets) == count and all(t["health"] == "up" for t in targets):
                return
            time.sleep(0.2)
        states = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]
        raise TimeoutError(f"targets not up after {timeout} s: {states}\n{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_prometheus(binary: str, workdir: Path, targets: dict[str, str]) -> Prometheus:
    """prometheus on a free loopback port, its config and TSDB in `workdir`, scraping each
    `pod -> base URL` every second. The `namespace` and `pod` labels are those a Kubernetes
    scrape attaches, so the chart's queries select the series as they would in the cluster."""
    config = {
        "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S}s", "scrape_timeout": f"{SCRAPE_INTERVAL_S}s"},
        "scrape_configs": [
            {
                "job_name": "simplechat",
                "metrics_path": "/metrics",
                "static_configs": [
                    {"targets": [url.removeprefix("http://")], "labels": {"namespace": NAMESPACE, "pod": pod}}
                    for pod, url in targets.items()
                ],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "prometheus.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Prometheus(process, f"http://{address}", log)


def metric_value(url: str, name: str, **labels: str) -> float:
    """One sample read straight from a predictor's /metrics (0 when the series does not exist yet)."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    install_system_deps("prometheus")
    return shutil.which("prometheus") or "/usr/bin/prometheus"


@pytest.fixture(scope="module")
def overloaded(extractor_dir: Path, chatbot_dir: Path) -> Iterator[str]:
    """A second `python -m predictors` with room for two requests per model (--max_queue 2): a burst
    of more is refused with 503s. It gets only the bursts, so its rejection counter counts them alone."""
    yield from running_stack("--no-ui", "--max_queue", "2")


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: str, stack: str, overloaded: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping the local stack (steady load) and the overloaded one, both targets up."""
    server = start_prometheus(
        prometheus_binary,
        tmp_path_factory.mktemp("prometheus"),
        {"simplechat-stack": stack, "simplechat-overloaded": overloaded},
    )
    try:
        server.wait_until_up(2)
        yield server
    finally:
        server.stop()
