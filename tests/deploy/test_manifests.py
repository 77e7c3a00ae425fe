"""Offline checks of everything under deploy/ and of docker-compose.yml.

No Docker engine and no kubectl run on CI machines, so the deployment files are checked here:
Kubernetes manifests against the API schemas (kubernetes-validate, strict), the overlays rendered
by a small kustomize subset below, compose and collector wiring, and the environment-variable
contract the services read.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
import threading
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"
OVERLAYS = {name: K8S / "overlays" / name for name in ("dev", "prod")}
COMPOSE_FILE = ROOT / "docker-compose.yml"
COLLECTOR_FILE = DEPLOY / "otel-collector.yaml"
INIT_SQL = DEPLOY / "postgres-init.sql"
DOCKERFILE = DEPLOY / "Dockerfile"

KUBERNETES_VERSION = "1.30"

# --- the contract: which process exists, on which port, reading which variables -------------

COMMON_ENV = {
    "PRECIS_GRPC_HOST",
    "PRECIS_ENVIRONMENT",
    "PRECIS_PII_SECRET",
    "PRECIS_TELEMETRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "PRECIS_LOG_LEVEL",
}
PROCESSES: dict[str, dict[str, Any]] = {
    "ingestion": {
        "module": "precis_ingestion",
        "package_dir": ROOT / "services/ingestion/src/precis_ingestion",
        "port": 50051,
        "port_env": "PRECIS_INGESTION_GRPC_PORT",
        "protocol": "grpc",
        # The consent target only feeds the suppression list (a feed consumer that retries), so
        # it is not a "target" that ingestion waits for: consent itself waits for ingestion.
        "env": {
            "PRECIS_INGESTION_GRPC_PORT",
            "PRECIS_INGESTION_DATABASE_URL",
            "PRECIS_INGESTION_CONSENT_TARGET",
        },
        "required": {"PRECIS_INGESTION_DATABASE_URL", "PRECIS_PII_SECRET"},
        "secret_env": {"PRECIS_INGESTION_DATABASE_URL", "PRECIS_PII_SECRET"},
        "targets": {},
        "database": "ingestion",
        "settings": ("precis_ingestion.settings", "IngestionSettings"),
    },
    "profile": {
        "module": "precis_profile",
        "package_dir": ROOT / "services/profile/src/precis_profile",
        "port": 50052,
        "port_env": "PRECIS_PROFILE_GRPC_PORT",
        "protocol": "grpc",
        "env": {
            "PRECIS_PROFILE_GRPC_PORT",
            "PRECIS_PROFILE_DATABASE_URL",
            "PRECIS_PROFILE_INGESTION_TARGET",
        },
        "required": {
            "PRECIS_PROFILE_DATABASE_URL",
            "PRECIS_PROFILE_INGESTION_TARGET",
            "PRECIS_PII_SECRET",
        },
        "secret_env": {"PRECIS_PROFILE_DATABASE_URL", "PRECIS_PII_SECRET"},
        "targets": {"PRECIS_PROFILE_INGESTION_TARGET": "ingestion"},
        "database": "profile",
        "settings": ("precis_profile.settings", "ProfileSettings"),
    },
    "consent": {
        "module": "precis_consent",
        "package_dir": ROOT / "services/consent/src/precis_consent",
        "port": 50053,
        "port_env": "PRECIS_CONSENT_GRPC_PORT",
        "protocol": "grpc",
        "env": {
            "PRECIS_CONSENT_GRPC_PORT",
            "PRECIS_CONSENT_DATABASE_URL",
            "PRECIS_CONSENT_PRIVACY_TARGETS",
            "PRECIS_CONSENT_INGESTION_TARGET",
        },
        "required": {
            "PRECIS_CONSENT_DATABASE_URL",
            "PRECIS_CONSENT_PRIVACY_TARGETS",
            # Consent stated inside events (production refuses to start without it).
            "PRECIS_CONSENT_INGESTION_TARGET",
            "PRECIS_PII_SECRET",
        },
        "secret_env": {"PRECIS_CONSENT_DATABASE_URL", "PRECIS_PII_SECRET"},
        "targets": {"PRECIS_CONSENT_INGESTION_TARGET": "ingestion"},
        "database": "consent",
        "settings": ("precis_consent.settings", "ConsentSettings"),
    },
    "segmentation": {
        "module": "precis_segmentation",
        "package_dir": ROOT / "services/segmentation/src/precis_segmentation",
        "port": 50054,
        "port_env": "PRECIS_SEGMENTATION_GRPC_PORT",
        "protocol": "grpc",
        # Both targets are feed consumers that retry until the producer is up.
        "env": {
            "PRECIS_SEGMENTATION_GRPC_PORT",
            "PRECIS_SEGMENTATION_DATABASE_URL",
            "PRECIS_SEGMENTATION_PROFILE_TARGET",
            "PRECIS_SEGMENTATION_CONSENT_TARGET",
            "PRECIS_SEGMENTATION_MEASUREMENT_TARGET",
        },
        "required": {
            "PRECIS_SEGMENTATION_DATABASE_URL",
            "PRECIS_SEGMENTATION_PROFILE_TARGET",
            "PRECIS_SEGMENTATION_CONSENT_TARGET",
            "PRECIS_SEGMENTATION_MEASUREMENT_TARGET",
            "PRECIS_PII_SECRET",
        },
        "secret_env": {"PRECIS_SEGMENTATION_DATABASE_URL", "PRECIS_PII_SECRET"},
        "targets": {"PRECIS_SEGMENTATION_PROFILE_TARGET": "profile"},
        # Only while an uplift model is trained (measurement itself calls segmentation).
        "calls": {"PRECIS_SEGMENTATION_MEASUREMENT_TARGET": "measurement"},
        "database": "segmentation",
        "settings": ("precis_segmentation.settings", "SegmentationSettings"),
    },
    "recommendation": {
        "module": "precis_recommendation",
        "package_dir": ROOT / "services/recommendation/src/precis_recommendation",
        "port": 50055,
        "port_env": "PRECIS_RECOMMENDATION_GRPC_PORT",
        "protocol": "grpc",
        # Profile and segmentation are waited for (their feeds fill the interactions and the
        # segment members). Consent is called (CheckConsent) but not waited for: consent waits
        # for this service, as for every privacy service, and compose refuses a cycle.
        "env": {
            "PRECIS_RECOMMENDATION_GRPC_PORT",
            "PRECIS_RECOMMENDATION_DATABASE_URL",
            "PRECIS_RECOMMENDATION_PROFILE_TARGET",
            "PRECIS_RECOMMENDATION_CONSENT_TARGET",
            "PRECIS_RECOMMENDATION_SEGMENTATION_TARGET",
        },
        "required": {
            "PRECIS_RECOMMENDATION_DATABASE_URL",
            "PRECIS_RECOMMENDATION_PROFILE_TARGET",
            "PRECIS_RECOMMENDATION_CONSENT_TARGET",
            "PRECIS_RECOMMENDATION_SEGMENTATION_TARGET",
            "PRECIS_PII_SECRET",
        },
        "secret_env": {"PRECIS_RECOMMENDATION_DATABASE_URL", "PRECIS_PII_SECRET"},
        "targets": {
            "PRECIS_RECOMMENDATION_PROFILE_TARGET": "profile",
            "PRECIS_RECOMMENDATION_SEGMENTATION_TARGET": "segmentation",
        },
        "calls": {"PRECIS_RECOMMENDATION_CONSENT_TARGET": "consent"},
        # numpy / implicit: OpenBLAS would otherwise start one thread per CPU of the host.
        "runtime_env": {"OPENBLAS_NUM_THREADS": "1"},
        "database": "recommendation",
        "settings": ("precis_recommendation.settings", "RecommendationSettings"),
    },
    "measurement": {
        "module": "precis_measurement",
        "package_dir": ROOT / "services/measurement/src/precis_measurement",
        "port": 50056,
        "port_env": "PRECIS_MEASUREMENT_GRPC_PORT",
        "protocol": "grpc",
        # Profile and segmentation are waited for: profile's feed brings the exposures and
        # conversions (GetProfile resolves identifiers), segmentation releases the members that
        # running campaigns enroll.
        "env": {
            "PRECIS_MEASUREMENT_GRPC_PORT",
            "PRECIS_MEASUREMENT_DATABASE_URL",
            "PRECIS_MEASUREMENT_PROFILE_TARGET",
            "PRECIS_MEASUREMENT_SEGMENTATION_TARGET",
        },
        "required": {
            "PRECIS_MEASUREMENT_DATABASE_URL",
            "PRECIS_MEASUREMENT_PROFILE_TARGET",
            "PRECIS_MEASUREMENT_SEGMENTATION_TARGET",
            "PRECIS_PII_SECRET",
        },
        "secret_env": {"PRECIS_MEASUREMENT_DATABASE_URL", "PRECIS_PII_SECRET"},
        "targets": {
            "PRECIS_MEASUREMENT_PROFILE_TARGET": "profile",
            "PRECIS_MEASUREMENT_SEGMENTATION_TARGET": "segmentation",
        },
        # numpy / scipy / scikit-learn: OpenBLAS would otherwise start one thread per CPU.
        "runtime_env": {"OPENBLAS_NUM_THREADS": "1"},
        "database": "measurement",
        "settings": ("precis_measurement.settings", "MeasurementSettings"),
    },
    "gateway": {
        "module": "precis_gateway",
        "package_dir": ROOT / "gateway/src/precis_gateway",
        "port": 8080,
        "port_env": "PRECIS_GATEWAY_PORT",
        "protocol": "http",
        "env": {
            "PRECIS_GATEWAY_PORT",
            "PRECIS_GATEWAY_HOST",
            "PRECIS_GATEWAY_INGESTION_TARGET",
            "PRECIS_GATEWAY_PROFILE_TARGET",
            "PRECIS_GATEWAY_CONSENT_TARGET",
            "PRECIS_GATEWAY_SEGMENTATION_TARGET",
            "PRECIS_GATEWAY_RECOMMENDATION_TARGET",
            "PRECIS_GATEWAY_MEASUREMENT_TARGET",
            "PRECIS_GATEWAY_API_KEYS",
        },
        "required": {
            "PRECIS_GATEWAY_INGESTION_TARGET",
            "PRECIS_GATEWAY_PROFILE_TARGET",
            "PRECIS_GATEWAY_CONSENT_TARGET",
            "PRECIS_GATEWAY_SEGMENTATION_TARGET",
            "PRECIS_GATEWAY_RECOMMENDATION_TARGET",
            "PRECIS_GATEWAY_MEASUREMENT_TARGET",
            "PRECIS_GATEWAY_API_KEYS",
            "PRECIS_PII_SECRET",
        },
        "secret_env": {"PRECIS_GATEWAY_API_KEYS", "PRECIS_PII_SECRET"},
        "targets": {
            "PRECIS_GATEWAY_INGESTION_TARGET": "ingestion",
            "PRECIS_GATEWAY_PROFILE_TARGET": "profile",
            "PRECIS_GATEWAY_CONSENT_TARGET": "consent",
            "PRECIS_GATEWAY_SEGMENTATION_TARGET": "segmentation",
            "PRECIS_GATEWAY_RECOMMENDATION_TARGET": "recommendation",
            "PRECIS_GATEWAY_MEASUREMENT_TARGET": "measurement",
        },
        "database": None,
        "settings": ("precis_gateway.settings", "GatewaySettings"),
    },
}
# Production Secrets are created outside git; the base references exactly these.
EXTERNAL_SECRETS = {
    "precis-pii",
    "precis-ingestion-database",
    "precis-profile-database",
    "precis-consent-database",
    "precis-segmentation-database",
    "precis-recommendation-database",
    "precis-measurement-database",
    "precis-gateway-api-keys",
}


def allowed_env(process: str) -> set[str]:
    return COMMON_ENV | PROCESSES[process]["env"] | set(runtime_env(process))


def runtime_env(process: str) -> dict[str, str]:
    """Variables read by a library, not by the settings class, with the value they must have."""
    return dict(PROCESSES[process].get("runtime_env", {}))


def called_services(process: str) -> dict[str, str]:
    """Every service the process calls (variable -> service): the ones it waits for
    ("targets") and the ones it only calls ("calls")."""
    return {**PROCESSES[process]["targets"], **PROCESSES[process].get("calls", {})}


# Data-subject requests: the consent service exports and erases through the PrivacyService of
# every other process that holds personal data, named in this variable (JSON, name -> target).
PRIVACY_ORCHESTRATOR = "consent"
PRIVACY_TARGETS_ENV = "PRECIS_CONSENT_PRIVACY_TARGETS"


@cache
def privacy_services() -> frozenset[str]:
    """The processes that serve precis.common.v1.PrivacyService, found in their source: a new
    service that holds personal data registers one, and so has to be named to the consent
    service wherever it is deployed."""
    found = set()
    for name, process in PROCESSES.items():
        sources = "".join(
            p.read_text(encoding="utf-8") for p in process["package_dir"].rglob("*.py")
        )
        if "add_PrivacyServiceServicer_to_server" in sources:
            found.add(name)
    return frozenset(found)


def expected_privacy_targets(host: str | None = None) -> dict[str, str]:
    """What PRECIS_CONSENT_PRIVACY_TARGETS must hold: every other privacy service, reached by
    its Service / compose name (or `host`) and port."""
    return {
        name: f"{host or name}:{PROCESSES[name]['port']}"
        for name in sorted(privacy_services() - {PRIVACY_ORCHESTRATOR})
    }


# --- YAML helpers ------------------------------------------------------------------------------


def load_docs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        docs = [doc for doc in yaml.safe_load_all(f) if doc is not None]
    for doc in docs:
        assert isinstance(doc, dict), f"{path}: every YAML document must be a mapping"
    return docs


def load_one(path: Path) -> dict[str, Any]:
    docs = load_docs(path)
    assert len(docs) == 1, f"{path}: expected one YAML document, found {len(docs)}"
    return docs[0]


def key_of(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


# --- a kustomize subset ------------------------------------------------------------------------
# Enough for this repository: resources (files and kustomization folders), namespace, images,
# replicas, and strategic-merge patches by kind+name. Any other field fails the render, so a
# kustomization that outgrows the subset is noticed here instead of being half-rendered.

SUPPORTED_FIELDS = {"apiVersion", "kind", "namespace", "resources", "images", "replicas", "patches"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def strategic_merge(base: Any, patch: Any) -> Any:
    """Kubernetes strategic merge for the shapes used here: maps merge recursively, a null deletes
    the key, lists of named maps (containers, env, volumes, volumeMounts) merge by name, and any
    other list is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(item, dict) and "name" in item for item in base + patch)
    ):
        merged_list = [copy.deepcopy(item) for item in base]
        index = {item["name"]: i for i, item in enumerate(merged_list)}
        for item in patch:
            if item["name"] in index:
                i = index[item["name"]]
                merged_list[i] = strategic_merge(merged_list[i], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def pod_spec(resource: dict[str, Any]) -> dict[str, Any] | None:
    if resource["kind"] in POD_TEMPLATE_KINDS:
        return resource["spec"]["template"]["spec"]
    return None


def image_name(image: str) -> str:
    """The image without tag or digest (a registry port's colon is not a tag)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    kustomization = load_one(folder / "kustomization.yaml")
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    assert not unsupported, (
        f"{folder}: kustomization fields {unsupported} need support in this test"
    )

    resources: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        target = (folder / entry).resolve()
        if target.is_dir():
            resources.extend(kustomize_build(target))
        else:
            resources.extend(load_docs(target))

    seen: dict[tuple[str, str], int] = {}
    for i, resource in enumerate(resources):
        assert key_of(resource) not in seen, f"{folder}: duplicate resource {key_of(resource)}"
        seen[key_of(resource)] = i

    for entry in kustomization.get("patches", []):
        assert set(entry) == {"path"}, (
            f"{folder}: only `- path:` patches are supported, got {entry}"
        )
        for patch in load_docs(folder / entry["path"]):
            target_key = key_of(patch)
            assert target_key in seen, (
                f"{folder}/{entry['path']}: no resource {target_key} to patch"
            )
            i = seen[target_key]
            assert patch["apiVersion"] == resources[i]["apiVersion"], f"{target_key}: apiVersion"
            resources[i] = strategic_merge(resources[i], patch)

    for entry in kustomization.get("replicas", []):
        matches = [
            r
            for r in resources
            if r["metadata"]["name"] == entry["name"] and r["kind"] in {"Deployment", "StatefulSet"}
        ]
        assert matches, f"{folder}: replicas for unknown workload {entry['name']}"
        for resource in matches:
            resource["spec"]["replicas"] = int(entry["count"])

    for entry in kustomization.get("images", []):
        used = False
        for resource in resources:
            spec = pod_spec(resource)
            if spec is None:
                continue
            for container in spec.get("containers", []) + spec.get("initContainers", []):
                if image_name(container["image"]) == entry["name"]:
                    new = entry.get("newName", entry["name"])
                    if "digest" in entry:
                        new += "@" + entry["digest"]
                    elif "newTag" in entry:
                        new += ":" + str(entry["newTag"])
                    container["image"] = new
                    used = True
        assert used, f"{folder}: image {entry['name']} is used by no container"

    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] not in CLUSTER_SCOPED:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


@cache
def _rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize_build(OVERLAYS[overlay]))


def render(overlay: str) -> list[dict[str, Any]]:
    return copy.deepcopy(list(_rendered(overlay)))


def by_key(resources: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {key_of(r): r for r in resources}


def kustomization_folders() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


def k8s_resource_files() -> list[Path]:
    """Files listed as resources (full manifests) by some kustomization."""
    files: set[Path] = set()
    for folder in kustomization_folders():
        for entry in load_one(folder / "kustomization.yaml").get("resources", []):
            if (folder / entry).is_file():
                files.add((folder / entry).resolve())
    return sorted(files)


def validate(resource: dict[str, Any], where: str) -> None:
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{where}: {key_of(resource)} invalid at {path}: {exc.message}")


# --- Kubernetes: files, references, rendering ---------------------------------------------------


def test_every_yaml_file_under_k8s_is_used() -> None:
    used: set[Path] = set()
    for folder in kustomization_folders():
        k = load_one(folder / "kustomization.yaml")
        used.add((folder / "kustomization.yaml").resolve())
        used.update(
            (folder / e).resolve() for e in k.get("resources", []) if (folder / e).is_file()
        )
        used.update((folder / e["path"]).resolve() for e in k.get("patches", []))
    stray = sorted(str(p.relative_to(ROOT)) for p in K8S.rglob("*.yaml") if p.resolve() not in used)
    assert not stray, f"YAML files no kustomization uses: {stray}"


@pytest.mark.parametrize("folder", kustomization_folders(), ids=lambda p: str(p.relative_to(K8S)))
def test_kustomization_references_exist(folder: Path) -> None:
    k = load_one(folder / "kustomization.yaml")
    assert k["kind"] == "Kustomization"
    assert k.get("resources"), f"{folder}: no resources"
    for entry in k.get("resources", []):
        target = folder / entry
        assert target.exists(), f"{folder}: resource {entry} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").is_file(), (
                f"{entry}: folder without kustomization"
            )
    for entry in k.get("patches", []):
        assert (folder / entry["path"]).is_file(), f"{folder}: patch {entry['path']} does not exist"


@pytest.mark.parametrize("path", k8s_resource_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_resource_file_validates(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path}: empty"
    for doc in docs:
        validate(doc, str(path.relative_to(ROOT)))


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_rendered_overlay_validates(overlay: str) -> None:
    resources = render(overlay)
    kinds = {r["kind"] for r in resources}
    assert {"Deployment", "Service", "ConfigMap", "Namespace"} <= kinds
    for resource in resources:
        validate(resource, f"overlay {overlay}")


def test_validation_rejects_a_broken_manifest() -> None:
    """The schema check has teeth: a typo'd field and a wrong type are both refused."""
    deployment = by_key(render("prod"))[("Deployment", "gateway")]
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    for broken in (typo, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_strategic_merge_subset() -> None:
    base = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x", "env": [{"name": "K", "value": "1"}]},
                {"name": "b", "image": "y"},
            ],
            "drop": 1,
            "args": ["1", "2"],
        }
    }
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "env": [{"name": "K", "value": "2"}, {"name": "L", "value": "3"}]}
            ],
            "drop": None,
            "args": ["3"],
        }
    }
    merged = strategic_merge(base, patch)
    assert merged == {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "x",
                    "env": [{"name": "K", "value": "2"}, {"name": "L", "value": "3"}],
                },
                {"name": "b", "image": "y"},
            ],
            "args": ["3"],
        }
    }
    assert base["spec"]["drop"] == 1, "the base must not be modified"
    assert image_name("registry:5000/precis:dev") == "registry:5000/precis"
    assert image_name("precis@sha256:abc") == "precis"


def precis_deployments(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {
        r["metadata"]["name"]: r
        for r in resources
        if r["kind"] == "Deployment" and r["metadata"]["name"] in PROCESSES
    }
    assert set(found) == set(PROCESSES), f"deployments: {sorted(found)}"
    return found


def container_env(resources: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, Any]:
    """Every variable the container gets: envFrom ConfigMaps first, then env (which wins).
    Values from Secrets are returned as ('secret', name, key)."""
    objects = by_key(resources)
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        assert "configMapRef" in source, "envFrom is used for ConfigMaps only (secrets go by key)"
        cm = objects.get(("ConfigMap", source["configMapRef"]["name"]))
        assert cm is not None, f"envFrom ConfigMap {source['configMapRef']['name']} missing"
        env.update(cm.get("data", {}))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = ("secret", ref["name"], ref["key"])
    return env


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_process_env_follows_the_contract(overlay: str) -> None:
    resources = render(overlay)
    for name, deployment in precis_deployments(resources).items():
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        process = PROCESSES[name]
        assert container["command"] == ["python", "-m", process["module"]]
        env = container_env(resources, container)
        unknown = set(env) - allowed_env(name)
        assert not unknown, f"{overlay}/{name}: variables outside the contract: {sorted(unknown)}"
        missing = process["required"] - set(env)
        assert not missing, f"{overlay}/{name}: missing {sorted(missing)}"
        for secret_var in process["secret_env"]:
            assert isinstance(env[secret_var], tuple), (
                f"{name}: {secret_var} must come from a Secret"
            )
        assert env["PRECIS_GRPC_HOST"] == "0.0.0.0"
        assert env[process["port_env"]] == str(process["port"])
        if name == "gateway":
            assert env["PRECIS_GATEWAY_HOST"] == "0.0.0.0"
        for var, target in called_services(name).items():
            assert env[var] == f"{target}:{PROCESSES[target]['port']}", f"{name}: {var}"
            assert ("Service", target) in by_key(resources), f"{name}: no Service {target}"
        for var, value in runtime_env(name).items():
            assert env.get(var) == value, f"{overlay}/{name}: {var} must be {value}"
        telemetry = env["PRECIS_TELEMETRY"]
        assert telemetry in {"none", "console", "otlp"}
        if telemetry == "otlp":
            assert urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"]).port == 4317
        assert env["PRECIS_ENVIRONMENT"] in {"development", "production"}


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_ports_probes_and_services_agree(overlay: str) -> None:
    resources = render(overlay)
    objects = by_key(resources)
    for name, deployment in precis_deployments(resources).items():
        process = PROCESSES[name]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {process["protocol"]: process["port"]}, f"{name}: container ports"
        readiness = container["readinessProbe"]
        if process["protocol"] == "grpc":
            assert readiness["grpc"]["port"] == process["port"], f"{name}: gRPC health probe port"
        else:
            assert readiness["httpGet"]["path"] == "/readyz"
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{name}: no {probe}"
            named = next(iter(container[probe].values()), None)
            if isinstance(named, dict) and isinstance(named.get("port"), str):
                assert named["port"] in ports, f"{name}: {probe} names unknown port {named['port']}"
        service = objects[("Service", name)]
        (port,) = service["spec"]["ports"]
        assert port["port"] == process["port"]
        assert port["targetPort"] in (process["protocol"], process["port"])
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = service["spec"]["selector"]
        assert selector.items() <= template_labels.items(), f"Service {name} selects no pod"
        assert deployment["spec"]["selector"]["matchLabels"].items() <= template_labels.items()
        # No other workload's pods may fall under this Service.
        for other, other_dep in precis_deployments(resources).items():
            if other != name:
                other_labels = other_dep["spec"]["template"]["metadata"]["labels"]
                assert not selector.items() <= other_labels.items(), f"{name} also selects {other}"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_pods_run_locked_down(overlay: str) -> None:
    resources = render(overlay)
    for resource in resources:
        spec = pod_spec(resource)
        if spec is None:
            continue
        where = f"{overlay}/{resource['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec.get("automountServiceAccountToken") is False, where
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{where}: {kind}"
            mounts = {m["name"] for m in container.get("volumeMounts", [])}
            volumes = {v["name"] for v in spec.get("volumes", [])}
            claims = {
                c["metadata"]["name"] for c in resource["spec"].get("volumeClaimTemplates", [])
            }
            assert mounts <= volumes | claims, f"{where}: mounts without volumes"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_references_resolve(overlay: str) -> None:
    """Every ConfigMap, Secret and ServiceAccount a pod uses is in the render, except the
    production Secrets that are created outside git."""
    resources = render(overlay)
    objects = by_key(resources)
    missing: set[tuple[str, str]] = set()

    def need(kind: str, name: str) -> None:
        if (kind, name) not in objects:
            missing.add((kind, name))

    for resource in resources:
        spec = pod_spec(resource)
        if spec is None:
            continue
        if "serviceAccountName" in spec:
            need("ServiceAccount", spec["serviceAccountName"])
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                need("ConfigMap", volume["configMap"]["name"])
            if "secret" in volume:
                need("Secret", volume["secret"]["secretName"])
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                need("ConfigMap", source["configMapRef"]["name"])
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    need("Secret", ref["name"])
                    secret = objects.get(("Secret", ref["name"]))
                    if secret is not None:
                        keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
                        assert ref["key"] in keys, f"Secret {ref['name']} has no key {ref['key']}"
    if overlay == "dev":
        assert not missing, f"dev must be self-contained; missing {sorted(missing)}"
    else:
        assert missing == {("Secret", s) for s in EXTERNAL_SECRETS}, sorted(missing)
        assert not [r for r in resources if r["kind"] == "Secret"], "no Secret values in git"


def test_dev_overlay() -> None:
    resources = render("dev")
    objects = by_key(resources)
    assert {r["metadata"]["namespace"] for r in resources if r["kind"] != "Namespace"} == {
        "precis-dev"
    }
    for deployment in precis_deployments(resources).values():
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "precis:dev"
    common = objects[("ConfigMap", "precis-common")]["data"]
    assert common["PRECIS_TELEMETRY"] == "console"
    assert common["PRECIS_ENVIRONMENT"] == "development"
    postgres = objects[("StatefulSet", "postgres")]
    assert postgres["spec"]["replicas"] == 1
    assert postgres["spec"]["template"]["spec"]["containers"][0]["image"] == "postgres:15"
    assert objects[("Service", "postgres")]["spec"]["ports"][0]["port"] == 5432
    # The in-cluster init script is the compose one, and the URLs name its databases.
    init = objects[("ConfigMap", "postgres-init")]["data"]
    assert list(init.values()) == [INIT_SQL.read_text(encoding="utf-8")]
    for process, spec in PROCESSES.items():
        if spec["database"] is None:
            continue
        url = objects[("Secret", f"precis-{process}-database")]["stringData"]["url"]
        parts = urlsplit(url)
        assert parts.scheme == "postgresql+psycopg"
        assert parts.hostname == "postgres" and parts.port == 5432
        assert parts.path == f"/{spec['database']}"
        assert spec["database"] in created_databases()


def test_prod_overlay() -> None:
    resources = render("prod")
    objects = by_key(resources)
    assert {r["metadata"]["namespace"] for r in resources if r["kind"] != "Namespace"} == {"precis"}
    deployments = precis_deployments(resources)
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] == 3, name
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.rsplit(":", 1)[-1] not in {"dev", "latest"}, f"{name}: pinned image tag"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        pdbs = [
            r
            for r in resources
            if r["kind"] == "PodDisruptionBudget"
            and r["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(pdbs) == 1, f"{name}: expected one PodDisruptionBudget, found {len(pdbs)}"
        budget = pdbs[0]["spec"]
        assert budget.get("maxUnavailable", 0) == 1 or budget.get("minAvailable", 0) >= 2
    common = objects[("ConfigMap", "precis-common")]["data"]
    assert common["PRECIS_ENVIRONMENT"] == "production"
    assert common["PRECIS_TELEMETRY"] == "otlp"
    assert urlsplit(common["OTEL_EXPORTER_OTLP_ENDPOINT"]).scheme in {"http", "https"}
    assert not [r for r in resources if r["kind"] == "StatefulSet"], "no in-cluster database"
    for hpa in (r for r in resources if r["kind"] == "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) in objects
        assert hpa["spec"]["minReplicas"] >= 2


def test_settings_classes_read_the_contract() -> None:
    """Each contract variable (other than the OpenTelemetry SDK's own) is a field of the
    process's settings class, so a renamed field cannot silently drop its configuration."""
    for name, process in PROCESSES.items():
        module_name, class_name = process["settings"]
        settings_cls = getattr(importlib.import_module(module_name), class_name)
        fields = set(settings_cls.model_fields)
        for var in allowed_env(name):
            if var.startswith("OTEL_") or var in runtime_env(name):
                continue
            assert var.removeprefix("PRECIS_").lower() in fields, f"{name}: {var} is not a setting"


# --- docker compose ------------------------------------------------------------------------------

COMPOSE_DEFAULT = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with nothing set in the environment."""
    return COMPOSE_DEFAULT.sub(lambda m: m.group(2) or "", value)


@cache
def _compose() -> dict[str, Any]:
    return load_one(COMPOSE_FILE)


def compose() -> dict[str, Any]:
    return copy.deepcopy(_compose())


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(str(v)) for k, v in env.items()}


def precis_services() -> dict[str, dict[str, Any]]:
    found = {}
    for name, service in compose()["services"].items():
        command = service.get("command", [])
        command = shlex.split(command) if isinstance(command, str) else command
        if command[:2] == ["python", "-m"] and command[2].startswith("precis_"):
            found[name] = service
    assert set(found) == set(PROCESSES), f"compose runs {sorted(found)}"
    return found


def test_compose_services_have_images_and_dependencies() -> None:
    services = compose()["services"]
    assert {"postgres", "otel-collector", "jaeger", *PROCESSES} <= set(services)
    for name, service in services.items():
        assert service.get("image") or service.get("build"), f"{name}: no image and no build"
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, rule in depends.items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name
            condition = rule.get("condition", "service_started")
            assert condition in {
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            }
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{target} has no healthcheck"
    assert services["postgres"]["image"] == "postgres:15"
    assert "healthcheck" in services["postgres"]
    for name in PROCESSES:
        assert services[name]["depends_on"].get("otel-collector"), f"{name}: collector first"
    for name, process in PROCESSES.items():
        if process["database"]:
            rule = services[name]["depends_on"]["postgres"]
            assert rule["condition"] == "service_healthy", f"{name}: its database first"
        # Whatever a process calls is healthy before it starts (the gateway: every service).
        for target in process["targets"].values():
            rule = services[name]["depends_on"][target]
            assert rule["condition"] == "service_healthy", f"{name}: {target} first"


def test_compose_dependencies_have_no_cycle() -> None:
    """compose refuses a dependency cycle at `up`; feeds need none (a consumer retries while
    its producer is down), so a process that only follows another's feed need not wait for it."""
    services = compose()["services"]
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"depends_on cycle: {' -> '.join([*path, name])}"
        state[name] = "open"
        for target in services[name].get("depends_on", {}):
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def test_compose_precis_services_follow_the_contract() -> None:
    services = compose()["services"]
    builds = set()
    for name, service in precis_services().items():
        process = PROCESSES[name]
        assert service["command"] == ["python", "-m", process["module"]]
        assert (process["package_dir"] / "__main__.py").is_file(), (
            f"no {process['module']}.__main__"
        )
        build = service["build"]
        builds.add((build["context"], build["dockerfile"]))
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        env = compose_env(service)
        unknown = set(env) - allowed_env(name)
        assert not unknown, f"compose {name}: variables outside the contract: {sorted(unknown)}"
        assert not process["required"] - set(env), f"compose {name}: missing variables"
        assert env["PRECIS_GRPC_HOST"] == "0.0.0.0"
        assert env["PRECIS_ENVIRONMENT"] in {"development", "production"}
        assert env[process["port_env"]] == str(process["port"])
        assert len(env["PRECIS_PII_SECRET"]) >= 16, "the services refuse shorter PII secrets"
        for var, target in called_services(name).items():
            assert env[var] == f"{target}:{PROCESSES[target]['port']}", f"compose {name}: {var}"
        for var, value in runtime_env(name).items():
            assert env.get(var) == value, f"compose {name}: {var} must be {value}"
        if process["database"]:
            parts = urlsplit(env[f"PRECIS_{name.upper()}_DATABASE_URL"])
            assert parts.scheme == "postgresql+psycopg"
            assert parts.hostname in services and parts.hostname == "postgres"
            assert parts.port == 5432
            assert parts.path == f"/{process['database']}"
            assert process["database"] in created_databases()
            assert parts.username == services["postgres"]["environment"]["POSTGRES_USER"]
        endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
        assert env["PRECIS_TELEMETRY"] == "otlp"
        assert endpoint.hostname == "otel-collector" and endpoint.port in collector_ports()
        health = " ".join(service["healthcheck"]["test"])
        assert str(process["port"]) in health, f"{name}: healthcheck port"
    assert len(builds) == 1, "one image for every process"
    gateway_env = compose_env(services["gateway"])
    assert gateway_env["PRECIS_GATEWAY_HOST"] == "0.0.0.0"
    assert yaml.safe_load(gateway_env["PRECIS_GATEWAY_API_KEYS"]), "API keys must be a JSON object"
    assert "/readyz" in " ".join(services["gateway"]["healthcheck"]["test"])


def test_privacy_services_are_found() -> None:
    """The source scan has teeth: the services known to hold personal data are found, and the
    gateway (which holds none) is not."""
    assert privacy_services() == {
        "ingestion",
        "profile",
        "consent",
        "segmentation",
        "recommendation",
        "measurement",
    }
    assert expected_privacy_targets() == {
        "ingestion": "ingestion:50051",
        "profile": "profile:50052",
        "segmentation": "segmentation:50054",
        "recommendation": "recommendation:50055",
        "measurement": "measurement:50056",
    }


def test_compose_names_every_privacy_service_to_consent() -> None:
    services = precis_services()
    env = compose_env(services[PRIVACY_ORCHESTRATOR])
    assert json.loads(env[PRIVACY_TARGETS_ENV]) == expected_privacy_targets()
    depends = services[PRIVACY_ORCHESTRATOR]["depends_on"]
    for target in expected_privacy_targets():
        assert target in services, f"compose runs no {target}"
        # Not needed for correctness (requests are retried), but consent then starts with every
        # service it erases through healthy, and a request opened at once does not wait.
        assert depends[target]["condition"] == "service_healthy", f"consent: {target} first"


@pytest.mark.parametrize("overlay", sorted(OVERLAYS))
def test_kubernetes_names_every_privacy_service_to_consent(overlay: str) -> None:
    resources = render(overlay)
    deployment = precis_deployments(resources)[PRIVACY_ORCHESTRATOR]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = container_env(resources, container)
    targets = json.loads(env[PRIVACY_TARGETS_ENV])
    assert targets == expected_privacy_targets(), f"{overlay}: {PRIVACY_TARGETS_ENV}"
    for name, target in targets.items():
        host, port = target.rsplit(":", 1)
        service = by_key(resources).get(("Service", host))
        assert service is not None, f"{overlay}: no Service {host} for {name}"
        assert service["spec"]["ports"][0]["port"] == int(port)


def test_consent_defaults_name_every_privacy_service_locally() -> None:
    """Without the variable (make up, a plain `python -m precis_consent`), the defaults are the
    other privacy services on their default local ports."""
    module_name, class_name = PROCESSES[PRIVACY_ORCHESTRATOR]["settings"]
    settings_cls = getattr(importlib.import_module(module_name), class_name)
    defaults = settings_cls.model_fields["consent_privacy_targets"].get_default(
        call_default_factory=True
    )
    assert defaults == expected_privacy_targets(host="127.0.0.1")


def test_gateway_readiness_checks_every_service_it_calls() -> None:
    """/readyz (the gateway's readiness probe in compose and Kubernetes) asks exactly the
    services the gateway is configured to call, so a new service cannot be left out of it."""
    from precis_gateway.deps import Stubs
    from precis_gateway.upstream import Channels

    targets = set(PROCESSES["gateway"]["targets"].values())
    channels = Channels.open(
        **{f"{name}_target": f"127.0.0.1:{PROCESSES[name]['port']}" for name in targets}
    )
    try:
        assert set(Stubs(channels).health) == targets
    finally:
        channels.close()


def test_gateway_serves_the_probed_paths() -> None:
    sources = "".join(
        p.read_text(encoding="utf-8") for p in PROCESSES["gateway"]["package_dir"].rglob("*.py")
    )
    for path in ("/healthz", "/readyz"):
        assert f'"{path}"' in sources, f"the gateway has no {path} route for the probes"


def test_compose_published_ports() -> None:
    services = compose()["services"]
    published = {
        name: {str(p) for p in service.get("ports", [])} for name, service in services.items()
    }
    assert published["gateway"] == {"8080:8080"}
    assert "16686:16686" in published["jaeger"]
    for name in (n for n, p in PROCESSES.items() if p["protocol"] == "grpc"):
        assert not published[name], f"{name}: gRPC is internal; only the gateway is published"
        assert service_exposes(services[name], PROCESSES[name]["port"])


def service_exposes(service: dict[str, Any], port: int) -> bool:
    return str(port) in {str(p) for p in service.get("expose", [])}


def test_compose_mounted_files_exist() -> None:
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("."):
                assert (ROOT / source).is_file(), f"{name}: mounts missing {source}"
    collector = compose()["services"]["otel-collector"]
    mount = next(v for v in collector["volumes"] if "otel-collector.yaml" in v)
    container_path = mount.split(":")[1]
    assert any(container_path in arg for arg in collector["command"]), "collector reads its config"
    jaeger_env = {
        k: str(v).lower() for k, v in compose()["services"]["jaeger"]["environment"].items()
    }
    assert jaeger_env["COLLECTOR_OTLP_ENABLED"] == "true"


# --- collector, init script, image -------------------------------------------------------------


@cache
def _collector() -> dict[str, Any]:
    return load_one(COLLECTOR_FILE)


def collector_ports() -> set[int]:
    protocols = _collector()["receivers"]["otlp"]["protocols"]
    return {int(p["endpoint"].rsplit(":", 1)[1]) for p in protocols.values()}


def test_collector_receives_otlp_and_exports_traces() -> None:
    config = _collector()
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    pipelines = config["service"]["pipelines"]
    assert "traces" in pipelines
    traces = pipelines["traces"]
    assert "otlp" in traces["receivers"]
    assert traces["exporters"], "traces go somewhere"
    for pipeline_name, pipeline in pipelines.items():
        for section in ("receivers", "processors", "exporters"):
            for component in pipeline.get(section, []):
                assert component in config.get(section, {}), (
                    f"pipeline {pipeline_name} uses undefined {section[:-1]} {component}"
                )
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"]
    # Traces reach the trace UI of the compose stack over OTLP.
    trace_exporters = [config["exporters"][e] for e in traces["exporters"]]
    endpoints = [urlsplit("//" + e["endpoint"]) for e in trace_exporters if "endpoint" in e]
    assert any(ep.hostname == "jaeger" and ep.port == 4317 for ep in endpoints)
    assert "jaeger" in compose()["services"]


def created_databases() -> set[str]:
    sql = INIT_SQL.read_text(encoding="utf-8")
    live = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return set(re.findall(r"CREATE DATABASE\s+(\w+)", live, flags=re.IGNORECASE))


def test_init_script_creates_one_database_per_deployed_service() -> None:
    expected = {p["database"] for p in PROCESSES.values() if p["database"]}
    assert created_databases() == expected


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, rest = stripped.partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    instructions = dockerfile_instructions()
    args = {
        rest.split("=", 1)[0]: rest.split("=", 1)[1]
        for i, rest in instructions
        if i == "ARG" and "=" in rest
    }
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    froms = [rest for i, rest in instructions if i == "FROM"]
    assert froms and all(f.startswith("${PYTHON_IMAGE}") for f in froms)
    runs = " ".join(rest for i, rest in instructions if i == "RUN")
    assert "uv sync --frozen --all-packages --no-dev" in runs
    envs = " ".join(rest for i, rest in instructions if i == "ENV")
    assert "UV_PYTHON_DOWNLOADS=never" in envs and "UV_PYTHON=python3.11" in envs
    users = [rest for i, rest in instructions if i == "USER"]
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    user = args.get(user.strip("${}"), user)
    assert user not in {"0", "root"}
    assert [i for i, _ in instructions][-1] == "CMD"
    # Every COPY source from the build context exists and is not excluded by .dockerignore.
    ignored = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    for instruction, rest in instructions:
        if instruction != "COPY" or "--from=" in rest:
            continue
        sources = [s for s in rest.split() if not s.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            for pattern in ignored:
                assert not Path(source).match(pattern) and source != pattern, (
                    f"COPY {source} is excluded by .dockerignore ({pattern})"
                )
    exposed = {int(p) for i, rest in instructions if i == "EXPOSE" for p in rest.split()}
    assert exposed == {p["port"] for p in PROCESSES.values()}


# --- the compose health check script -------------------------------------------------------------


@cache
def healthcheck_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "precis_deploy_healthcheck", DEPLOY / "healthcheck.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def health_server() -> Iterator[tuple[int, Any]]:
    from concurrent import futures

    import grpc
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        yield port, servicer
    finally:
        server.stop(None)


def test_healthcheck_grpc(health_server: tuple[int, Any]) -> None:
    from grpc_health.v1 import health_pb2

    port, servicer = health_server
    check = healthcheck_module().main
    assert check(["grpc", f"127.0.0.1:{port}"]) == 1
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert check(["grpc", f"127.0.0.1:{port}"]) == 0
    assert check(["bogus"]) == 2


def test_healthcheck_http() -> None:
    status = {"code": 503}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/readyz"
        check = healthcheck_module().main
        assert check(["http", url]) == 1
        status["code"] = 200
        assert check(["http", url]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert check(["http", url]) == 1, "nothing listening"


def test_ingestion_follows_the_consent_feed_everywhere_it_is_deployed() -> None:
    """Without it ingestion accepts events of erased subjects again (production refuses to
    start without it)."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert compose["services"]["ingestion"]["environment"]["PRECIS_INGESTION_CONSENT_TARGET"] == (
        "consent:50053"
    )
    configmaps = list(
        yaml.safe_load_all((ROOT / "deploy/k8s/base/configmaps.yaml").read_text(encoding="utf-8"))
    )
    values = {k: v for doc in configmaps if doc for k, v in (doc.get("data") or {}).items()}
    assert values["PRECIS_INGESTION_CONSENT_TARGET"] == "consent:50053"
