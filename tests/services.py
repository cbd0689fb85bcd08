"""Throwaway services for the tests, all on 127.0.0.1 and free ports, stopped by the caller's finalizer:
a Ray head (``ray start --head --block``), a PostgreSQL cluster (``initdb`` + ``pg_ctl``), an
``mlflow server`` and ``mlflow models serve`` (:func:`model_server`). Each process is started in its own session and stopped through its process group, so
only what the test started is ended."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports (held open together while they are chosen)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(port: int, process: subprocess.Popen, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before port {port} opened:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.3)
    raise TimeoutError(f"port {port} did not open within {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def wait_for_http(url: str, process: subprocess.Popen, timeout: float, log: Path, what: str) -> None:
    """Return once ``url`` answers 200; raise with the tail of ``log`` if ``process`` exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not answer {url} within {timeout:.0f} s:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)


def stop_group(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group of ``process`` (its own session), wait for its leader to exit, then
    SIGKILL what is left of the group. (Exited members may stay zombies in a container whose init does
    not reap them, so the group's existence is no sign of work still running.)"""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    time.sleep(0.5)  # the leader's children got the same signal; let them finish their exit
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


# ---------------------------------------------------------------------- Ray
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
"""Ray replaces 127.0.0.1 by the machine's outward address (``resolve_ip_for_localhost``) in ``ray start``
and ``ray.init``, unless multi-node clusters are switched off: this variable (Ray's switch for laptops)
keeps the head, its workers and the drivers on the loopback address. Set it for the head and every driver."""

@contextlib.contextmanager
def ray_head(num_cpus: int = 2) -> Iterator[str]:
    """A local Ray head on 127.0.0.1 with ``num_cpus`` CPUs and a 100 MB object store; yields its address."""
    temp = Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))  # short: Ray's socket paths must fit 107 bytes
    gcs, client, node_manager, object_manager, agent, agent_grpc, metrics, runtime_env, workers = free_ports(9)
    log = temp / "head.log"
    env = {**os.environ, **RAY_LOOPBACK_ENV}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "ray"), "start", "--head", "--block", f"--node-ip-address={HOST}", f"--port={gcs}",
             f"--num-cpus={num_cpus}", "--num-gpus=0", "--object-store-memory=100000000",
             "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats",
             f"--ray-client-server-port={client}", f"--node-manager-port={node_manager}",
             f"--object-manager-port={object_manager}", f"--dashboard-agent-listen-port={agent}",
             f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}",
             f"--runtime-env-agent-port={runtime_env}", f"--min-worker-port={workers}",
             f"--max-worker-port={workers + 200}"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        wait_for_port(gcs, process, 120, log)
        wait_for_port(node_manager, process, 60, log)
        yield f"{HOST}:{gcs}"
    finally:
        stop_group(process, grace=5)  # `ray start --block` takes ~20 s to exit on SIGTERM; its state is thrown away
        shutil.rmtree(temp, ignore_errors=True)


# ---------------------------------------------------------------------- PostgreSQL
def postgres_binary(name: str) -> str:
    """``initdb``/``pg_ctl`` from PATH or Debian's ``/usr/lib/postgresql/<version>/bin`` (newest)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not candidates:
        raise FileNotFoundError(f"PostgreSQL's {name} is not installed: `make install` installs Debian's "
                                f"postgresql package when it runs as root (apt-get install -y postgresql)")
    return candidates[-1]


@contextlib.contextmanager
def postgres_server(databases: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, user ``recsys``) with ``databases``;
    yields ``{database: url}``. As root (CI) the server runs as the ``postgres`` user: initdb refuses root."""
    root = Path(tempfile.mkdtemp(prefix="recsys-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, log, port = root / "data", root / "server.log", free_port()
    subprocess.run([*as_user, postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "recsys",
                    "-E", "UTF8", "--no-sync", "--locale=C"], check=True, capture_output=True, timeout=120)
    pg_ctl = [*as_user, postgres_binary("pg_ctl"), "-D", str(data)]
    options = f"-p {port} -k {root} -c listen_addresses={HOST} -F -c max_connections=50"
    started = subprocess.run([*pg_ctl, "-l", str(log), "-w", "-t", "90", "-o", options, "start"],
                             capture_output=True, text=True, timeout=120, check=False)
    try:
        if started.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}\n{log.read_text(errors='replace')[-3000:]}")
        import psycopg

        with psycopg.connect(host=HOST, port=port, user="recsys", dbname="postgres", autocommit=True) as connection:
            for name in databases:
                connection.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
        yield {name: f"postgresql://recsys@{HOST}:{port}/{name}" for name in databases}
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "-t", "60", "stop"], capture_output=True, timeout=90,
                       check=False)
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------- MLflow server
@contextlib.contextmanager
def mlflow_server(backend_store_uri: str, artifacts: Path) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with ``backend_store_uri`` and a local artifact root (proxied
    ``--artifacts-destination``); yields its URL once ``/health`` answers."""
    port = free_port()
    log = artifacts.parent / f"mlflow-server-{port}.log"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "mlflow"), "server", "--backend-store-uri", backend_store_uri,
             "--artifacts-destination", str(artifacts), "--host", HOST, "--port", str(port), "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://{HOST}:{port}"
    try:
        wait_for_http(f"{url}/health", process, 180, log, "mlflow server")
        yield url
    finally:
        stop_group(process, grace=5)  # every request has been answered; its state is in the backend store


# ---------------------------------------------------------------------- mlflow models serve
@contextlib.contextmanager
def model_server(model_uri: str, env: dict[str, str], log: Path, *, mlflow_bin: Path | None = None,
                 cwd: Path | None = None, timeout: float = 120.0) -> Iterator[str]:
    """``mlflow models serve -m model_uri --env-manager local`` on 127.0.0.1 (one worker), with ``env``
    (its tracking / registry URIs) and ``mlflow_bin`` (default: this interpreter's); yields the base URL
    once ``/ping`` answers, and stops the server (its process group) afterwards."""
    mlflow_bin = mlflow_bin or BIN / "mlflow"
    port = free_port()
    path = f"{mlflow_bin.parent}{os.pathsep}{env.get('PATH', os.environ.get('PATH', ''))}"  # it execs uvicorn
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(mlflow_bin), "models", "serve", "-m", model_uri, "--env-manager", "local", "-h", HOST,
             "-p", str(port), "-w", "1"],
            cwd=cwd, env={**env, "PATH": path, "MLFLOW_DISABLE_TELEMETRY": "true"}, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        wait_for_http(f"{url}/ping", process, timeout, log, "mlflow models serve")
        yield url
    finally:
        stop_group(process)
