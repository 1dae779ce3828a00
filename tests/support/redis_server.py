"""Real redis-server processes for the Redis backend tests: loopback only, temp dirs, killed at
the end (and by the kernel if the test process dies first).

`redis_url` is a session-wide server, flushed before each test; tests that kill, restart or
configure Redis start their own with `redis_factory`; `redis_cluster` is three primaries.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.support.net import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
HOST = "127.0.0.1"


def _die_with_parent() -> None:
    """Linux: the server gets SIGKILL if the test process dies before its teardown."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class RedisServer:
    """One redis-server on 127.0.0.1 in its own temp dir; `kill` is SIGKILL, `start` restarts
    it on the same port and directory (so an append-only file is read back)."""

    def __init__(self, directory: Path, *options: str, tls: Path | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.options = list(options)
        self.tls = tls
        self.proc: subprocess.Popen | None = None
        if tls is None:
            self.url = f"redis://{HOST}:{self.port}/0"
            self.listen = ["--port", str(self.port)]
        else:
            self.url = f"rediss://{HOST}:{self.port}/0?ssl_ca_certs={tls / 'cert.pem'}"
            self.listen = [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                str(tls / "cert.pem"),
                "--tls-key-file",
                str(tls / "key.pem"),
                "--tls-ca-cert-file",
                str(tls / "cert.pem"),
                "--tls-auth-clients",
                "no",
            ]
        self.start()

    def start(self) -> None:
        argv = [
            REDIS_SERVER,
            *self.listen,
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            *self.options,
        ]
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.wait_ready()

    def client(self, **kwargs) -> redis.Redis:
        if "--requirepass" in self.options:
            kwargs.setdefault("password", self.options[self.options.index("--requirepass") + 1])
        if self.tls is not None:
            kwargs.update(ssl=True, ssl_ca_certs=str(self.tls / "cert.pem"))
        return redis.Redis(host=HOST, port=self.port, **kwargs)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.dir / 'redis.log').read_text()}")
            try:
                with self.client(socket_timeout=1) as c:
                    if c.ping():
                        return
            except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                time.sleep(0.02)
        raise TimeoutError(f"redis-server on port {self.port} not ready after {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def redis_session_server(tmp_path_factory) -> Iterator[RedisServer]:
    if not Path(REDIS_SERVER).exists():
        pytest.fail(f"{REDIS_SERVER} is missing: apt-get install redis-server")
    server = RedisServer(tmp_path_factory.mktemp("redis-shared"))
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_session_server: RedisServer) -> str:
    """The shared server's URL, emptied before the test."""
    with redis_session_server.client() as c:
        c.flushall()
    return redis_session_server.url


@pytest.fixture
def redis_client(redis_session_server: RedisServer, redis_url: str) -> Iterator[redis.Redis]:
    """A plain client of the shared server, to look at the keys the backend wrote."""
    with redis_session_server.client() as c:
        yield c


@pytest.fixture
def redis_factory(tmp_path) -> Iterator[Callable[..., RedisServer]]:
    """redis_factory(*options, tls=None) -> a server of this test's own, killed at the end."""
    servers: list[RedisServer] = []

    def start(*options: str, tls: Path | None = None) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", *options, tls=tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def tls_files(tmp_path) -> Path:
    """A self-signed certificate for 127.0.0.1 (key.pem, cert.pem), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path / "tls"
    folder.mkdir()
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
            "-subj",
            f"/CN={HOST}",
            "-addext",
            f"subjectAltName=IP:{HOST}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return folder


class RedisClusterNodes:
    """Three primaries on loopback, no replicas, joined with `redis-cli --cluster create`."""

    def __init__(self, directory: Path, size: int = 3) -> None:
        self.nodes: list[RedisServer] = []
        try:
            for i in range(size):
                self.nodes.append(
                    RedisServer(
                        directory / f"node-{i}",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-port",
                        str(free_port()),
                        "--cluster-node-timeout",
                        "5000",
                    )
                )
            addresses = [f"{HOST}:{n.port}" for n in self.nodes]
            subprocess.run(
                [
                    REDIS_CLI,
                    "--cluster",
                    "create",
                    *addresses,
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            self.wait_ok()
        except BaseException:
            self.kill()
            raise
        self.url = f"redis+cluster://{HOST}:{self.nodes[0].port}"

    def wait_ok(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            infos = []
            for n in self.nodes:
                with n.client() as c:
                    infos.append(c.execute_command("CLUSTER", "INFO"))
            if all("cluster_state:ok" in _text(info) for info in infos):
                return
            time.sleep(0.1)
        raise TimeoutError("the Redis Cluster did not reach cluster_state:ok")

    def flush(self) -> None:
        for n in self.nodes:
            with n.client() as c:
                c.flushall()

    def kill(self) -> None:
        for n in self.nodes:
            n.kill()


def _text(reply) -> str:
    if isinstance(reply, bytes):
        return reply.decode()
    if isinstance(reply, dict):
        return "\n".join(f"{k}:{v}" for k, v in reply.items())
    return str(reply)


@pytest.fixture(scope="session")
def redis_cluster_nodes(tmp_path_factory) -> Iterator[RedisClusterNodes]:
    cluster = RedisClusterNodes(tmp_path_factory.mktemp("redis-cluster"))
    yield cluster
    cluster.kill()


@pytest.fixture
def redis_cluster(redis_cluster_nodes: RedisClusterNodes) -> RedisClusterNodes:
    """The three-node cluster, emptied before the test."""
    redis_cluster_nodes.flush()
    return redis_cluster_nodes
