"""Every malformed spec in the corpus gets its own specific, located error — never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from worldtwin.errors import SpecError
from worldtwin.spec import load_spec

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.yaml"))


def expectation(path: Path) -> dict[str, str]:
    header = dict(re.findall(r"^# expect(-key|-line|): (.*)$", path.read_text(), flags=re.M))
    return {"key": header["-key"], "message": header[""], "line": header["-line"]}


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_spec_reports_its_problem(path: Path) -> None:
    expected = expectation(path)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    problems = caught.value.problems
    matching = [p for p in problems if p.key == expected["key"] and expected["message"] in p.message]
    assert matching, f"no problem at {expected['key']} saying {expected['message']!r}; got:\n{caught.value}"
    assert str(matching[0].line) == expected["line"], str(caught.value)
    rendered = str(caught.value)
    assert f"{path}:{expected['line']}: {expected['key']}" in rendered
