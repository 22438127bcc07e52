"""Every YAML document under manifests/ is a Kubernetes object that `kubectl apply -f` accepts: a
mapping with apiVersion, kind and metadata.name; a built-in kind matches its Kubernetes schema
(strict: an unknown field fails), and so do the pod templates inside the custom resources."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from tests.conftest import ROOT

MANIFESTS = ROOT / "manifests"
K8S_VERSION = "1.33"
# Custom resources: their CRDs are not in kubernetes-validate (the InferenceService is checked
# against KServe's CRD in test_chart.py); each maps to where its pod templates are.
CUSTOM = {
    ("ray.io/v1", "RayService"): lambda o: (
        [o["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]]
        + [g["template"] for g in o["spec"]["rayClusterConfig"]["workerGroupSpecs"]]
    ),
    ("serving.kserve.io/v1beta1", "InferenceService"): lambda o: [],
}


def documents() -> list[tuple[str, object]]:
    """Every document of every file kubectl would read under manifests/ (with -R), by file#index."""
    found = []
    for path in sorted(p for p in MANIFESTS.rglob("*") if p.suffix in (".yaml", ".yml", ".json")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text(encoding="utf-8"))):
            if doc is not None:  # an empty document (comments only) applies nothing
                found.append((f"{path.relative_to(MANIFESTS)}#{index}", doc))
    return found


DOCUMENTS = documents()


def builtin(api_version: str) -> bool:
    """Core (v1) or a *.k8s.io group, or a group with no dot (apps/v1, batch/v1, policy/v1)."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def test_the_scan_finds_the_chart_and_the_rayservice():
    assert {where.split("#")[0] for where, _ in DOCUMENTS} >= {"simplechat.yaml", "ray/rayservice.yaml"}


@pytest.mark.parametrize(("where", "doc"), DOCUMENTS, ids=[where for where, _ in DOCUMENTS])
def test_every_document_is_a_kubernetes_object(where, doc):
    assert isinstance(doc, dict), f"{where} is not a mapping"
    missing = [key for key in ("apiVersion", "kind") if not isinstance(doc.get(key), str) or not doc[key]]
    assert not missing, f"{where} is not a Kubernetes object: no {', '.join(missing)}"
    assert isinstance(doc.get("metadata"), dict) and doc["metadata"].get("name"), f"{where}: no metadata.name"
    if builtin(doc["apiVersion"]):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on an unknown or bad field
    else:
        templates = CUSTOM.get((doc["apiVersion"], doc["kind"]))
        assert templates is not None, f"{where}: {doc['apiVersion']} {doc['kind']} is a kind no test checks"
        for template in templates(doc):
            pod_template = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": template}
            kubernetes_validate.validate(pod_template, K8S_VERSION, strict=True)


def test_the_schema_check_catches_a_typo():
    (service,) = [doc for where, doc in DOCUMENTS if doc.get("kind") == "RayService"]
    template = service["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]
    bad = {**template, "spec": {**template["spec"], "securityContex": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": bad},
            K8S_VERSION,
            strict=True,
        )
