from __future__ import annotations

from pathlib import Path

from worldtwin.spec.reference import reference_markdown, splice

README = Path(__file__).parents[2] / "README.md"


def test_reference_covers_every_section_and_field() -> None:
    text = reference_markdown()
    for key in (
        "`sample_period`",
        "`max_rate`",
        "`known_ahead`",
        "`severity`",
        "`publishing_interval`",
        "`sigreg_weight`",
    ):
        assert key in text


def test_readme_reference_is_up_to_date() -> None:
    """The README's spec reference is generated; regenerate it with `make docs` after schema changes."""
    readme = README.read_text(encoding="utf-8")
    assert splice(readme) == readme, "README spec reference is stale: run `make docs`"
