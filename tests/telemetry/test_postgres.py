"""The PostgreSQL backend behind the same Store API, against a real server started here on a unix socket."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.spec.loading import load_spec
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.store import Store

HERE = Path(__file__).parent
T0 = pd.Timestamp("2024-03-01T00:00:00Z")


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster listening only on a unix socket in a temporary directory."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are not installed: not on PATH and not in "
            "/usr/lib/postgresql/*/bin (e.g. apt-get install postgresql)"
        )
    run_as: dict[str, int] = {}
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the 'postgres' system user
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip(
                "running as root, and there is no 'postgres' user to run the server as "
                "(initdb refuses to run as root)"
            )
        run_as = {"user": account.pw_uid, "group": account.pw_gid}
    root = Path(tempfile.mkdtemp(prefix="worldtwin-pg-"))
    data = root / "data"
    if run_as:
        os.chown(root, run_as["user"], run_as["group"])
    subprocess.run(
        [
            bindir / "initdb",
            "-D",
            data,
            "--username=worldtwin",
            "--auth=trust",
            "--no-sync",
            "--encoding=UTF8",
        ],
        check=True,
        capture_output=True,
        **run_as,
    )  # type: ignore[call-overload]
    options = f"-c listen_addresses='' -c unix_socket_directories='{root}'"
    subprocess.run(
        [bindir / "pg_ctl", "-D", data, "-o", options, "-l", root / "log", "-w", "start"],
        check=True,
        capture_output=True,
        **run_as,
    )  # type: ignore[call-overload]
    try:
        yield f"postgresql://worldtwin@/postgres?host={root}"
    finally:
        subprocess.run(
            [bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True, **run_as
        )  # type: ignore[call-overload]
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_store(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store in a fresh schema (the twin is renamed per test)."""
    twin = load_spec(HERE / "plant.yaml")
    name = "t" + str(abs(hash(request.node.name)) % 10**8)
    twin = twin.model_copy(update={"metadata": twin.metadata.model_copy(update={"name": name})})
    with Store.open(postgres_url, twin) as store:
        yield store


def test_write_query_and_quarantine(pg_store: Store) -> None:
    base = T0.timestamp()
    assert (
        pg_store.write(
            [Sample("T", base + k + 0.000007, 300.0 + k, "opcua") for k in range(5)]
            + [Sample("T", base + 1.000007, 999.0), Sample("nope", base, 1.0)]
        )
        == 7
    )
    frame = pg_store.query("T")
    assert frame["value"].tolist() == [300.0, 301.0, 302.0, 303.0, 304.0]
    assert frame["time"].iloc[2] == T0 + pd.Timedelta(seconds=2, microseconds=7)
    assert set(frame["source"]) == {"opcua"}
    quarantined = pg_store.quarantine()
    assert sorted(quarantined["reason"]) == ["duplicate", "unknown_tag"]
    assert quarantined.set_index("reason").loc["duplicate", "detail"] == "repeated within this input"
    pg_store.write([Sample("T", base + 1.000007, 999.0)])
    assert pg_store.quarantine(batch=2)["detail"].tolist() == ["already stored with value 301"]


def test_corpus_file_lands_the_same_as_in_duckdb(pg_store: Store, tmp_path: Path) -> None:
    path = HERE / "corpus" / "text_in_numeric.csv"
    report = pg_store.ingest(path)
    with Store.open(tmp_path / "duck", pg_store.twin) as duck:
        expected = duck.ingest(path)
        assert report.to_dict() == expected.to_dict()
        pd.testing.assert_frame_equal(pg_store.query(), duck.query())
        columns = ["row", "time", "tag", "value", "raw", "reason", "detail"]
        pd.testing.assert_frame_equal(pg_store.quarantine()[columns], duck.quarantine()[columns])
    assert pg_store.summary()["samples"].sum() + pg_store.quarantine_count() == report.received


def test_samples_are_range_partitioned_by_month_with_brin(pg_store: Store) -> None:
    times = pd.date_range("2024-01-15", "2024-04-15", freq="7D", tz="UTC")
    pg_store.write([Sample("level", t.timestamp(), 2.0) for t in times])
    backend = pg_store.backend
    partitions = backend._rows(  # type: ignore[attr-defined]
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE p.relname = 'samples' AND n.nspname = %s ORDER BY 1",
        [backend.schema],
    )  # type: ignore[attr-defined]
    assert [p[0] for p in partitions] == [
        "samples_2024_01",
        "samples_2024_02",
        "samples_2024_03",
        "samples_2024_04",
    ]
    methods = backend._rows(  # type: ignore[attr-defined]
        "SELECT am.amname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE t.relname = 'samples' AND n.nspname = %s",
        [backend.schema],
    )  # type: ignore[attr-defined]
    assert sorted(m[0] for m in methods) == ["brin", "btree"]
    assert len(pg_store.query("level", "2024-02-01", "2024-03-01")) == 4


def test_trajectory_and_reopen(pg_store: Store, postgres_url: str) -> None:
    base = T0.timestamp()
    pg_store.write(
        [
            Sample(tag, base + s, value)
            for s in range(120)
            for tag, value in (("T", 300.0), ("level", 2.0), ("valve", 50.0), ("analyzer", 0.5))
        ]
    )
    table = pg_store.trajectory(dt=10)
    assert len(table) == 13 and table["episode"].nunique() == 1  # grid 00:00:00 .. 00:02:00
    with Store.open(postgres_url, pg_store.twin) as again:
        again.write([Sample("T", base + 5, 1.0)])
        assert again.last_report is not None and again.last_report.total("duplicate") == 1
        assert np.allclose(again.resample("T", dt=60)["T"], 300.0)


def test_archive_is_refused_with_advice(pg_store: Store) -> None:
    with pytest.raises(DataError, match="detaching old partitions"):
        pg_store.archive("2024-01-01")


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot connect to PostgreSQL"):
        Store.open(f"postgresql://nobody@/postgres?host={tmp_path}", HERE / "plant.yaml")
