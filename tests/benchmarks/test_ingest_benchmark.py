"""The ingest benchmark runs in --quick mode and writes every section to its JSON (no timing asserted)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "ingest.py"


def test_quick_run_reports_every_section(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("ingest_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    out = tmp_path / "ingest.json"
    out.write_text(json.dumps({"sections": {"mqtt": {"kept": True}}}))
    module.main(["--quick", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["sections"]["mqtt"] == {"kept": True}, "sections that did not run keep their numbers"
    batch = saved["sections"]["batch"]
    for layout in ("long", "wide"):
        assert batch[layout]["samples"] == 20 * 7_200
        assert batch[layout]["ratio"] == batch[layout]["ingest_s"] / batch[layout]["raw_duckdb_s"]
    assert saved["sections"]["query"]["grid_rows"] == 120
    durability = saved["sections"]["durability"]
    assert durability["group_commits"] < durability["samples"] / durability["batch"]
    assert saved["run"]["quick"] is True
