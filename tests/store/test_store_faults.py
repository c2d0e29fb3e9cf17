"""The store when things go wrong under it: a full disk, a PostgreSQL server that stops and comes back."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from sqlalchemy import event

from promptkit.errors import StoreError
from promptkit.store import Store

REPO = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PROMPTKIT_PG_BIN", "/usr/lib/postgresql/15/bin"))


def test_a_full_disk_is_said_and_nothing_is_half_written(tmp_path: Path) -> None:
    store = Store.open(url=f"sqlite:///{tmp_path / 'store.db'}")
    store.add_family(name="menu")
    store.add_version(family="menu", text="{{ dish }}", author="a", note="")
    limit = {"pages": 0}  # 0: no limit; else SQLite refuses to grow the file beyond its current size

    @event.listens_for(store._engine, "connect")
    def _cap(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        if limit["pages"]:
            dbapi_connection.execute(f"PRAGMA max_page_count = {limit['pages']}")

    store._engine.dispose()  # new connections get the cap
    limit["pages"] = 1
    big = "x" * 200_000
    with pytest.raises(StoreError, match=r"the disk holding the store at .* is full .*Nothing was saved\. Free some space"):
        store.add_version(family="menu", text=big + "{{ dish }}", author="a", note=big)
    limit["pages"] = 0
    store._engine.dispose()
    assert [v.number for v in store.get_family(name="menu").versions] == [1]  # the failed version left nothing
    assert store.add_version(family="menu", text="{{ dish }}!", author="a", note="").number == 2
    store.close()


@pytest.fixture
def private_postgres(tmp_path: Path):
    """A PostgreSQL server of this test's own (so stopping it disturbs no other test), and its URL."""
    if not (PG_BIN / "pg_ctl").exists():
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"PostgreSQL server binaries not found in {PG_BIN}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = Path("/tmp") / f"promptkit-pg-faults-{port}"
    env = {**os.environ, "PROMPTKIT_PG_PORT": str(port), "PROMPTKIT_PG_DATA": str(data), "PROMPTKIT_PG_DB": "faults"}
    url = subprocess.run(
        ["bash", str(REPO / "tests" / "store" / "start_postgres.sh")], env=env, capture_output=True, text=True, check=True,
        timeout=120,
    ).stdout.strip()

    def pg_ctl(*args: str) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    try:
        yield url, port, pg_ctl
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            if os.getuid() == 0 else [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True, timeout=120,
        )
        shutil.rmtree(data, ignore_errors=True)


def test_a_stopped_server_is_said_and_the_store_works_again_when_it_is_back(private_postgres) -> None:
    url, port, pg_ctl = private_postgres
    with Store.open(url=url) as store:
        store.add_family(name="menu")
        pg_ctl("-m", "fast", "stop")
        with pytest.raises(StoreError, match=r"cannot be reached .*Nothing was saved\. Try again once the server is back"):
            store.add_version(family="menu", text="{{ dish }}", author="a", note="while down")
        with pytest.raises(StoreError, match="cannot be reached"):
            store.list_families()
        pg_ctl("-o", f"-c listen_addresses=127.0.0.1 -p {port} -k /tmp", "-l", "/dev/null", "start")
        assert store.get_family(name="menu").versions == ()  # nothing half-written while it was down
        assert store.add_version(family="menu", text="{{ dish }}", author="a", note="back").number == 1
        # A restart of a second or two is ridden out: the write waits and succeeds, once.
        pg_ctl("-m", "fast", "stop")
        restart = threading.Timer(1.0, pg_ctl, args=("-o", f"-c listen_addresses=127.0.0.1 -p {port} -k /tmp", "-l", "/dev/null", "start"))
        restart.start()
        assert store.add_version(family="menu", text="{{ dish }}!", author="a", note="during a restart").number == 2
        restart.join()
        assert [v.note for v in store.get_family(name="menu").versions] == ["back", "during a restart"]
