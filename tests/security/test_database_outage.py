"""PostgreSQL goes away under a running service and comes back: while it is down every check
fails closed (503, never an `allow`) and /readyz says so; once it is back the same service
answers again without a restart. Uses a throwaway cluster of its own (Debian's binaries), so
stopping it disturbs nothing else."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cameoguard.db import reset_engine
from cameoguard.settings import reset_settings_cache
from tests.conftest import IN_CI, auth, make_key


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir, self.root, self.port = bindir, root, _free_port()
        self.data = root / "data"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.getuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/", timeout=120)

    def init(self) -> None:
        if os.getuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  options, "start")  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    bindir = _bindir()
    if bindir is None:
        if IN_CI:
            pytest.fail("CI must run the outage test: PostgreSQL's binaries are missing")
        pytest.skip("needs PostgreSQL's server binaries (scripts/test.sh installs them)")
    # Not under pytest's folder: the postgres account cannot traverse root's 0700 directories.
    root = Path(tempfile.mkdtemp(prefix="cameoguard-pg-outage-"))
    cluster = Cluster(bindir, root)
    cluster.init()
    cluster.start()
    yield cluster
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        cluster.stop("fast")
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def service(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    from assembly.app import create_app
    from assembly.migrate import upgrade

    monkeypatch.setenv("CAMEOGUARD_HOME", str(tmp_path))
    monkeypatch.setenv("CAMEOGUARD_DATABASE_URL", cluster.url)
    reset_settings_cache()
    upgrade(cluster.url)
    reset_engine()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client
    reset_engine()
    reset_settings_cache()


@pytest.mark.slow
@pytest.mark.postgres
def test_checks_fail_closed_while_postgres_is_down_and_recover(
    service: TestClient, cluster: Cluster
) -> None:
    key = auth(make_key("platform", name="outage"))
    body = {"prompt": "a cat playing the piano", "requester": {"id": "u1", "age_group": "adult"}}
    before = service.post("/v1/checks/prompt", json=body, headers=key)
    assert before.status_code == 200 and before.json()["decision"] == "allow"

    cluster.stop()
    for _ in range(3):
        during = service.post("/v1/checks/prompt", json=body, headers=key)
        assert during.status_code == 503, during.text
        assert during.json()["error"]["code"] == "database_unavailable"
        # The failed check made the service stop trusting cached keys: the moderation, which
        # writes nothing, cannot have its key confirmed either.
        moderation = service.post("/v1/moderations", json={"input": "hello"}, headers=key)
        assert moderation.status_code == 503
    ready = service.get("/readyz")
    assert ready.status_code == 503 and ready.json()["parts"]["database"]["ok"] is False

    cluster.start()
    after = service.post("/v1/checks/prompt", json=body, headers=key)
    assert after.status_code == 200, after.text
    assert service.get("/readyz").json()["parts"]["database"]["ok"] is True
