"""Telemetry ingest benchmark: batch import against raw DuckDB, resample query latency, durability cost.

    python benchmarks/ingest.py            # a day of 1 Hz data for 20 tags
    python benchmarks/ingest.py --quick    # 2 hours, fewer repeats (seconds; tests call this)
    python benchmarks/ingest.py --only batch,query

Each section is a function ``section_<name>(ctx) -> dict`` registered in ``SECTIONS``; add new ones
(e.g. MQTT, OPC UA) the same way. Results are printed as a table of ratios against the peer measured
in the same run and merged into ``benchmarks/results/ingest.json`` (sections that did not run keep
their previous numbers). Timings are medians over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from worldtwin.spec.schema import Metadata, Tag, Twin
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.store import Store

RESULTS = Path(__file__).parent / "results" / "ingest.json"
DAY_START = np.datetime64("2024-03-01T00:00:00", "us").astype(np.int64)


@dataclass
class Context:
    """Shared inputs of all sections: the twin, generated files and a scratch directory."""

    quick: bool
    workdir: Path
    tags: int = 20
    seconds: int = 86_400
    repeats: int = 5
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def twin(self) -> Twin:
        tags = [Tag(name=f"tag{i:02d}", unit="K", range=(-5.0, 5.0)) for i in range(self.tags)]
        return Twin(metadata=Metadata(name="bench"), sample_period=1.0, tags=tags)

    def store_dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=False)
        return path


def make_files(ctx: Context) -> None:
    """A long (time, tag, value) and a wide (time + one column per tag) Parquet file of the same samples."""
    rng = np.random.default_rng(0)
    times = DAY_START + np.arange(ctx.seconds, dtype=np.int64) * 1_000_000
    values = rng.normal(size=(ctx.seconds, ctx.tags))
    names = [f"tag{i:02d}" for i in range(ctx.tags)]
    stamp = pa.timestamp("us", tz="UTC")
    long = pa.table(
        {
            "time": pa.array(np.repeat(times, ctx.tags)).cast(stamp),
            "tag": pa.DictionaryArray.from_arrays(
                pa.array(np.tile(np.arange(ctx.tags, dtype=np.int32), ctx.seconds)), pa.array(names)
            ),
            "value": values.ravel(),
        }
    )
    wide = pa.table({"time": pa.array(times).cast(stamp), **{n: values[:, i] for i, n in enumerate(names)}})
    for name, table in (("long", long), ("wide", wide)):
        ctx.files[name] = ctx.workdir / f"{name}.parquet"
        pq.write_table(table, ctx.files[name], compression="zstd")


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def section_batch(ctx: Context) -> dict[str, Any]:
    """Batch import of a Parquet file vs the floor: raw DuckDB ``CREATE TABLE AS SELECT * FROM read_parquet``.

    For the wide file a second peer also unpivots to long rows in DuckDB, which stores the same samples
    we do (the plain floor stores 86,400 wide rows, not 1.7 million samples).
    """
    results: dict[str, Any] = {}
    counter = iter(range(10**6))
    floors = {
        "long": {"raw_duckdb": "SELECT * FROM read_parquet('{path}')"},
        "wide": {
            "raw_duckdb": "SELECT * FROM read_parquet('{path}')",
            "raw_duckdb_unpivot": "UNPIVOT (SELECT * FROM read_parquet('{path}')) "
            "ON COLUMNS(* EXCLUDE (time)) INTO NAME tag VALUE value",
        },
    }
    for layout, peers in floors.items():
        path = ctx.files[layout]

        def raw(query: str, layout: str = layout, path: Path = path) -> None:
            con = duckdb.connect(str(ctx.workdir / f"raw-{layout}-{next(counter)}.duckdb"))
            con.execute(f"CREATE TABLE raw AS {query.format(path=path)}")
            con.close()

        def ours(layout: str = layout, path: Path = path) -> None:
            with Store.open(ctx.store_dir(f"batch-{layout}-{next(counter)}"), ctx.twin) as store:
                report = store.ingest(path)
            if report.stored != ctx.tags * ctx.seconds:
                raise RuntimeError(f"expected every sample stored, got {report.summary()}")

        times: dict[str, list[float]] = {"ingest": [], **{peer: [] for peer in peers}}
        for _ in range(ctx.repeats):  # interleaved, so load from other processes hits all alike
            for peer, query in peers.items():
                times[peer] += timed(lambda query=query: raw(query), 1)
            times["ingest"] += timed(ours, 1)
        rows = ctx.tags * ctx.seconds
        median = {name: statistics.median(values) for name, values in times.items()}
        result: dict[str, Any] = {
            "samples": rows,
            "ingest_s": median["ingest"],
            "ingest_samples_per_s": rows / median["ingest"],
        }
        for peer in peers:
            suffix = peer.removeprefix("raw_duckdb")
            result[f"{peer}_s"] = median[peer]
            result[f"{peer}_samples_per_s"] = rows / median[peer]
            result[f"ratio{suffix}"] = median["ingest"] / median[peer]
        results[layout] = result
    return results


def section_query(ctx: Context) -> dict[str, Any]:
    """1-minute mean resample of one tag over a day of 1 Hz data, vs the same aggregation in raw SQL."""
    directory = ctx.store_dir("query")
    with Store.open(directory, ctx.twin) as store:
        store.ingest(ctx.files["long"])
        start, end = DAY_START / 1e6, DAY_START / 1e6 + ctx.seconds
        ours = timed(lambda: store.resample("tag03", start, end, dt=60, method="mean"), ctx.repeats * 4)
        frame = store.resample("tag03", start, end, dt=60, method="mean")
        tag_id = store._ids["tag03"]
        con = store.backend._con  # type: ignore[attr-defined]
        sql = (
            "SELECT time_bucket(INTERVAL 1 minute, time) AS t, avg(value) FROM samples WHERE tag_id = ? "
            "GROUP BY t ORDER BY t"
        )
        peer = timed(lambda: con.sql(sql, params=[tag_id]).to_arrow_table(), ctx.repeats * 4)
    return {
        "grid_rows": len(frame),
        "resample_s": statistics.median(ours),
        "raw_sql_s": statistics.median(peer),
        "ratio": statistics.median(ours) / statistics.median(peer),
    }


def section_durability(ctx: Context) -> dict[str, Any]:
    """What acknowledged-means-durable costs: one commit per write() vs group commit vs one append."""
    batch, writes = 100, 50 if ctx.quick else 200
    base = DAY_START / 1e6

    def samples(k: int) -> list[Sample]:
        return [Sample(f"tag{i % ctx.tags:02d}", base + k * batch + i, 0.5) for i in range(batch)]

    with Store.open(ctx.store_dir("durable-write"), ctx.twin) as store:
        numbers = iter(range(writes))
        per_write = timed(lambda: store.write(samples(next(numbers))), writes)
    with Store.open(ctx.store_dir("durable-group"), ctx.twin) as store:
        start = time.perf_counter()
        with store.writer(max_rows=5_000, max_delay=0.05) as sink:
            futures = [sink.submit(samples(k)) for k in range(writes)]
            acknowledged = sum(f.result() for f in futures)
            commits = sink.commits
        group_s = time.perf_counter() - start
    with Store.open(ctx.store_dir("durable-append"), ctx.twin) as store:
        everything = [s for k in range(writes) for s in samples(k)]
        one = timed(lambda: store.write(everything), 1)[0]
    probe = ctx.workdir / "fsync-probe"
    with probe.open("wb") as handle:
        fsyncs = []
        for _ in range(20):
            handle.write(b"x" * 4096)
            handle.flush()
            start = time.perf_counter()
            os.fdatasync(handle.fileno())
            fsyncs.append(time.perf_counter() - start)
    total = batch * writes
    write_s = statistics.median(per_write)
    return {
        "samples": total,
        "batch": batch,
        "write_each_commit_ms": write_s * 1e3,
        "write_samples_per_s": batch / write_s,
        "group_commit_samples_per_s": acknowledged / group_s,
        "group_commits": commits,
        "single_commit_samples_per_s": total / one,
        "fdatasync_ms": statistics.median(fsyncs) * 1e3,
        "ratio": (total / one) / (batch / write_s),
    }


SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "batch": section_batch,
    "query": section_query,
    "durability": section_durability,
}


def render(results: dict[str, Any], console: Console) -> None:
    table = Table(title="telemetry ingest (medians)")
    for column in ("section", "ours", "peer", "ratio ours/peer"):
        table.add_column(column)
    for layout in ("long", "wide"):
        if layout in results.get("batch", {}):
            r = results["batch"][layout]
            table.add_row(
                f"batch ingest, {layout} Parquet ({r['samples']:,} samples)",
                f"{r['ingest_samples_per_s']:,.0f} samples/s",
                f"{r['raw_duckdb_samples_per_s']:,.0f} /s raw DuckDB read_parquet",
                f"{r['ratio']:.2f}× time",
            )
            if "ratio_unpivot" in r:
                table.add_row(
                    "",
                    "",
                    f"{r['raw_duckdb_unpivot_samples_per_s']:,.0f} /s read_parquet + UNPIVOT",
                    f"{r['ratio_unpivot']:.2f}× time",
                )
    if "query" in results:
        r = results["query"]
        table.add_row(
            f"1-min mean resample, 1 tag, 1 day 1 Hz ({r['grid_rows']} rows)",
            f"{r['resample_s'] * 1e3:.1f} ms",
            f"{r['raw_sql_s'] * 1e3:.1f} ms raw SQL time_bucket",
            f"{r['ratio']:.2f}× time",
        )
    if "durability" in results:
        r = results["durability"]
        table.add_row(
            f"durable write() of {r['batch']} samples (commit + fdatasync each)",
            f"{r['write_each_commit_ms']:.2f} ms/write, {r['write_samples_per_s']:,.0f} samples/s",
            f"{r['single_commit_samples_per_s']:,.0f} samples/s in one commit",
            f"{r['ratio']:.1f}× slower per sample",
        )
        table.add_row(
            "BufferedWriter group commit",
            f"{r['group_commit_samples_per_s']:,.0f} samples/s",
            f"{r['group_commits']} commits for {r['samples']:,} samples",
            f"disk fdatasync {r['fdatasync_ms']:.2f} ms",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data and few repeats (for tests)")
    parser.add_argument("--only", default="", help=f"comma-separated sections of {sorted(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file (merged by section)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (default 5)")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {sorted(SECTIONS)}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="worldtwin-bench-") as scratch:
        ctx = Context(quick=args.quick, workdir=Path(scratch))
        if args.quick:
            ctx.seconds, ctx.repeats = 7_200, 3
        ctx.repeats = args.repeats or ctx.repeats
        make_files(ctx)
        for name in chosen:
            results[name] = SECTIONS[name](ctx)
    render(results, Console(width=max(Console().width, 120)))
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous.setdefault("sections", {}).update(results)
    previous["run"] = {
        "quick": args.quick,
        "repeats": ctx.repeats,
        "load_average_1min": os.getloadavg()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(previous, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
