"""manifests/ray/: the KubeRay RayService and the `serve run` config point at code and paths that
exist, use fractional GPUs, and keep Ray's dashboard away from everyone but the operator."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

pytest.importorskip("ray.serve", reason="Ray Serve is not installed (pip install 'ray[serve]')")

RAY = ROOT / "manifests" / "ray"
OBJECTS = list(yaml.safe_load_all((RAY / "rayservice.yaml").read_text(encoding="utf-8")))
SERVICE = next(o for o in OBJECTS if o["kind"] == "RayService")
POLICY = next(o for o in OBJECTS if o["kind"] == "NetworkPolicy")


def applications(config: dict) -> dict[str, dict]:
    return {app["name"]: app for app in config["applications"]}


@pytest.mark.parametrize("config", [
    yaml.safe_load(SERVICE["spec"]["serveConfigV2"]),
    yaml.safe_load((RAY / "serve-config.yaml").read_text(encoding="utf-8")),
], ids=["rayservice", "serve-run"])
def test_serve_configs_build_both_applications(config):
    from predictors import ray_app

    apps = applications(config)
    assert set(apps) == {"extractor", "chatbot"}
    for name, app in apps.items():
        module, attribute = app["import_path"].split(":")
        assert module == "predictors.ray_app" and attribute == "build_app"
        assert app["args"]["kind"] == name
        assert ray_app.build_app(app["args"]) is not None  # binds the deployment; starts nothing
        assert [d["name"] for d in app["deployments"]] == ["PredictorDeployment"]


def test_serve_run_listens_on_localhost_only():
    config = yaml.safe_load((RAY / "serve-config.yaml").read_text(encoding="utf-8"))
    assert config["http_options"]["host"] == "127.0.0.1"


def test_rayservice_uses_the_image_paths_and_fractional_gpus():
    apps = applications(yaml.safe_load(SERVICE["spec"]["serveConfigV2"]))
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    ray_stage = dockerfile.split("AS ray\n", 1)[1].split("\nFROM ", 1)[0]
    for app in apps.values():
        assert f"/mnt/models {app['args']['model_dir']}" in ray_stage
    gpus = apps["chatbot"]["deployments"][0]["ray_actor_options"]["num_gpus"]
    assert 0 < gpus < 1
    cluster = SERVICE["spec"]["rayClusterConfig"]
    images = {c["image"] for c in cluster["headGroupSpec"]["template"]["spec"]["containers"]}
    images |= {c["image"] for g in cluster["workerGroupSpecs"] for c in g["template"]["spec"]["containers"]}
    assert images == {"simplechat-ray:0.1.0"}
    assert re.search(r"^FROM \S+ AS ray$", dockerfile, flags=re.MULTILINE)


def test_dashboard_reaches_only_the_operator():
    assert SERVICE["spec"]["rayClusterConfig"]["headGroupSpec"]["serviceType"] == "ClusterIP"
    kubernetes_validate.validate(POLICY, "1.33", strict=True)
    dashboard_rules = [rule for rule in POLICY["spec"]["ingress"] if {"port": 8265, "protocol": "TCP"} in rule["ports"]]
    assert len(dashboard_rules) == 1
    assert dashboard_rules[0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kuberay-system"}}}]
    assert not [o for o in OBJECTS if o["kind"] in ("Ingress", "Service")]  # nothing else publishes Ray
