"""Kubernetes: `harness jobs k8s SPEC --out FILE` writes one multi-document YAML of standard kinds only (batch/v1
Job, apps/v1 StatefulSet and Deployment, v1 Service and ConfigMap, PVCs by reference), so it validates offline
against the published schemas and needs no operator:

    ConfigMap  <name>-job          run.sh (the same task script as SLURM), merge.sh, ray-worker.sh, suite files
    Job        <name>-run          one pod, or an Indexed Job (one index per benchmark and/or sample shard)
    Job        <name>-merge        waits for every index's marker, then `harness merge` into <results>/<name>
    Deployment+Service <name>-judge / <name>-user-sim   separate vLLM servers (mode: separate)
    Service    <name>-ray          multi-node: headless, resolves to the run pod (the Ray head)
    StatefulSet <name>-ray-worker  multi-node: nodes − 1 pods joining the head's Ray cluster

Results go to `results` inside the container: mount a ReadWriteMany claim there (`k8s.volumes`). Remove everything
with `kubectl delete -f FILE` when done (the servers and Ray workers keep running until then).
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.jobs.script import (RAY_CHECK, Layout, config_files, merge_command, merge_dirs,
                                 require_single_node_sharding,
                                 sh_path, task_script, tasks_of)
from harness.jobs.spec import JobSpec, K8sSpec, ServerSpec

JOB_DIR = "/etc/harness-job"
q = shlex.quote


def _labels(spec: JobSpec, component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": "harness", "app.kubernetes.io/instance": spec.name,
            "app.kubernetes.io/component": component}


def _meta(spec: JobSpec, name: str, component: str) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "labels": _labels(spec, component)}
    if spec.k8s and spec.k8s.namespace:
        m["namespace"] = spec.k8s.namespace
    return m


def _pod(spec: JobSpec, k: K8sSpec, component: str, command: list[str], gpus: int, restart: str,
         ports: list[int] | None = None, probe_port: int | None = None) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [{"name": "job", "configMap": {"name": f"{spec.name}-job"}},
                                     {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": k.shm_size}}]
    mounts: list[dict[str, Any]] = [{"name": "job", "mountPath": JOB_DIR, "readOnly": True},
                                    {"name": "dshm", "mountPath": "/dev/shm"}]
    for i, (path, claim) in enumerate(sorted(k.volumes.items())):
        volumes.append({"name": f"vol{i}", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": f"vol{i}", "mountPath": path})
    r = spec.resources
    requests: dict[str, Any] = {}
    if r.cpus_per_task:
        requests["cpu"] = str(r.cpus_per_task)
    if r.mem and r.mem != "0":
        requests["memory"] = r.mem
    resources: dict[str, Any] = {}
    if requests:
        resources["requests"] = requests
    if gpus:
        resources["limits"] = {k.gpu_resource: str(gpus)}
    container: dict[str, Any] = {
        "name": component,
        "image": k.image,
        "command": command,
        "env": [{"name": n, "value": v} for n, v in spec.environment.items()]
        + [{"name": n, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}
           for n, ref in sorted(k.secret_env.items())]
        + [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "volumeMounts": mounts,
    }
    if spec.workdir:
        container["workingDir"] = spec.workdir
    if resources:
        container["resources"] = resources
    if ports:
        container["ports"] = [{"containerPort": p} for p in ports]
    if probe_port:
        container["readinessProbe"] = {"httpGet": {"path": "/v1/models", "port": probe_port},
                                       "periodSeconds": 10, "failureThreshold": 3}
    pod: dict[str, Any] = {"restartPolicy": restart, "containers": [container], "volumes": volumes}
    if k.service_account:
        pod["serviceAccountName"] = k.service_account
    if k.node_selector:
        pod["nodeSelector"] = dict(k.node_selector)
    if k.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in k.image_pull_secrets]
    return {"metadata": {"labels": _labels(spec, component)}, "spec": pod}


def _service(spec: JobSpec, name: str, component: str, port: int, headless: bool = False) -> dict[str, Any]:
    s: dict[str, Any] = {"selector": _labels(spec, component), "ports": [{"name": "main", "port": port,
                                                                          "targetPort": port}]}
    if headless:
        s["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(spec, name, component), "spec": s}


def server_url(spec: JobSpec, role: str, s: ServerSpec) -> str:
    ns = spec.k8s.namespace if spec.k8s else None
    host = f"{spec.name}-{role.replace('_', '-')}" + (f".{ns}.svc" if ns else "")
    return f"http://{host}:{s.port}/v1"


def _server(spec: JobSpec, k: K8sSpec, role: str, s: ServerSpec) -> list[dict[str, Any]]:
    name, comp = f"{spec.name}-{role.replace('_', '-')}", role.replace("_", "-")
    gpus = s.resources.gpus_per_node or (s.tp if "vllm" in s.executable else 0)
    pod = _pod(spec, k, comp, s.serve_command(), gpus, "Always", ports=[s.port], probe_port=s.port)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(spec, name, comp),
                  "spec": {"replicas": 1, "selector": {"matchLabels": _labels(spec, comp)}, "template": pod}}
    return [deployment, _service(spec, name, comp, s.port)]


def _ray_cluster(spec: JobSpec) -> list[str]:
    port, g, n = spec.ray_port, spec.resources.gpus_per_node, spec.resources.nodes
    return [
        f"# multi-node: this pod is the Ray head; {n - 1} pods of StatefulSet {spec.name}-ray-worker join it",
        RAY_CHECK,
        f'export RAY_ADDRESS="$POD_IP:{port}"',
        'export VLLM_HOST_IP="$POD_IP"',
        f'ray start --head --node-ip-address="$POD_IP" --port={port} --num-gpus={g} --disable-usage-stats',
        "trap 'ray stop --force >/dev/null 2>&1 || true' EXIT",
        f'"${{HARNESS[@]}}" jobs wait-ray --address "$RAY_ADDRESS" --nodes {n} --timeout 1800',
    ]


def _ray_worker_script(spec: JobSpec) -> str:
    head = f"{spec.name}-ray" + (f".{spec.k8s.namespace}.svc" if spec.k8s and spec.k8s.namespace else "")
    return "\n".join([
        "set -uo pipefail", *spec.setup,
        'export VLLM_HOST_IP="$POD_IP"', RAY_CHECK,
        "# the head exists only while the run pod runs: keep trying to join",
        f"until ray start --address={head}:{spec.ray_port} --node-ip-address=\"$POD_IP\" "
        f"--num-gpus={spec.resources.gpus_per_node} --disable-usage-stats --block; do sleep 15; done",
    ]) + "\n"


def _merge_script(spec: JobSpec, layout: Layout) -> str:
    dirs = " ".join(q(d) for d in merge_dirs(spec, layout))
    return "\n".join([
        "set -uo pipefail", *spec.setup,
        f"RESULTS={sh_path(layout.results)}", f"HARNESS=({' '.join(q(a) for a in shlex.split(spec.harness))})",
        "# wait until every index has written its exit marker, then merge (fails if an index failed)",
        f"for d in {dirs}; do",
        '  until [ -f "$d/.job-exit" ]; do sleep "${HARNESS_MERGE_POLL:-30}"; done',
        '  code=$(cat "$d/.job-exit")',
        '  if [ "$code" != 0 ]; then echo "task $d exited $code; not merging" >&2; exit 1; fi',
        "done",
        "exec " + merge_command(spec, layout),
    ]) + "\n"


def render(spec: JobSpec) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The manifests, and the ConfigMap's files (name -> text: what the pods find under /etc/harness-job)."""
    if spec.k8s is None:
        raise ConfigError("the job spec has no `k8s:` section (at least `k8s: {image: ...}`)")
    require_single_node_sharding(spec, "k8s")
    k = spec.k8s
    if not spec.results.startswith("/"):
        raise ConfigError(f"k8s: `results` must be an absolute path inside the container (a mounted claim), got "
                          f"{spec.results!r}")
    layout = Layout(job_dir=JOB_DIR, results=spec.results)
    tasks = tasks_of(spec)
    separate = {r: s for r, s in spec.servers().items() if s.mode == "separate"}
    urls = {r: server_url(spec, r, s) for r, s in separate.items()}

    files = dict(config_files(spec))
    files["run.sh"] = task_script(spec, layout, "JOB_COMPLETION_INDEX",
                                  cluster=_ray_cluster(spec) if spec.multi_node else None, k8s_urls=urls)
    objs: list[dict[str, Any]] = []
    for role, s in separate.items():
        objs += _server(spec, k, role, s)

    job_spec: dict[str, Any] = {"backoffLimit": k.backoff_limit,
                                "template": _pod(spec, k, "run", ["bash", f"{JOB_DIR}/run.sh"],
                                                 spec.resources.gpus_per_node, "Never")}
    if len(tasks) > 1:
        job_spec.update(completionMode="Indexed", completions=len(tasks),
                        parallelism=min(spec.shards.parallel or len(tasks), len(tasks)))
    if k.ttl_seconds_after_finished is not None:
        job_spec["ttlSecondsAfterFinished"] = k.ttl_seconds_after_finished
    objs.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(spec, f"{spec.name}-run", "run"),
                 "spec": job_spec})

    if spec.multi_node:
        files["ray-worker.sh"] = _ray_worker_script(spec)
        objs.append(_service(spec, f"{spec.name}-ray", "run", spec.ray_port, headless=True))
        worker = _pod(spec, k, "ray-worker", ["bash", f"{JOB_DIR}/ray-worker.sh"], spec.resources.gpus_per_node,
                      "Always")
        objs.append({"apiVersion": "apps/v1", "kind": "StatefulSet",
                     "metadata": _meta(spec, f"{spec.name}-ray-worker", "ray-worker"),
                     "spec": {"replicas": spec.resources.nodes - 1, "serviceName": f"{spec.name}-ray",
                              "podManagementPolicy": "Parallel",
                              "selector": {"matchLabels": _labels(spec, "ray-worker")}, "template": worker}})

    if spec.shards.sharded:
        files["merge.sh"] = _merge_script(spec, layout)
        merge_pod = _pod(spec.model_copy(update={"resources": spec.resources.model_copy(
            update={"cpus_per_task": 1, "mem": None})}), k, "merge", ["bash", f"{JOB_DIR}/merge.sh"], 0, "Never")
        objs.append({"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(spec, f"{spec.name}-merge", "merge"),
                     "spec": {"backoffLimit": 0, "template": merge_pod}})

    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(spec, f"{spec.name}-job", "config"),
                  "data": files}
    return [config_map, *objs], files


def to_yaml(objs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objs, sort_keys=False, allow_unicode=True, width=120)
