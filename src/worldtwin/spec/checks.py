"""Cross-field checks on a parsed twin: every reference resolves, every number is consistent.

Each check returns :class:`~worldtwin.errors.Problem` records with the key path of the offending
value, so the loader can point at the exact line in the YAML file. Checks never stop at the first
problem: an engineer fixing a spec wants the whole list.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from worldtwin.errors import Problem
from worldtwin.spec.schema import ASSET_LEVEL_ORDER, RESERVED_COLUMNS, Twin
from worldtwin.spec.units import UnitParseError, parse_unit


def _did_you_mean(name: str, choices: Iterable[str]) -> str:
    by_lower = {choice.lower(): choice for choice in choices}
    close = [by_lower[c] for c in difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)]
    return f"did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _unknown_tag(path: tuple[str | int, ...], name: str, twin: Twin, role: str) -> Problem:
    hint = _did_you_mean(name, twin.tag_names) or "declare the tag under 'tags:' or fix the name"
    return Problem(
        path,
        f"{role} refers to unknown tag {name!r}",
        value=name,
        expected=f"one of the declared tags: {', '.join(twin.tag_names)}",
        hint=hint,
    )


def check_twin(twin: Twin) -> list[Problem]:
    """All consistency problems in ``twin``; an empty list means the spec is sound."""
    return [
        *_tags(twin),
        *_assets(twin),
        *_actions(twin),
        *_limits(twin),
        *_objectives(twin),
        *_sources(twin),
    ]


def _tags(twin: Twin) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, tag in enumerate(twin.tags):
        if tag.name in seen:
            yield Problem(
                ("tags", i, "name"),
                f"duplicate tag name {tag.name!r}",
                value=tag.name,
                expected="unique tag names",
                hint=f"tags[{seen[tag.name]}] already uses this name; rename or remove one of them",
            )
        seen.setdefault(tag.name, i)
        if tag.name in RESERVED_COLUMNS:
            yield Problem(
                ("tags", i, "name"),
                f"tag name {tag.name!r} is reserved for the dataset schema",
                value=tag.name,
                expected=f"a name other than {', '.join(RESERVED_COLUMNS)}",
                hint="rename the tag, e.g. 'time_of_batch'",
            )
        try:
            parse_unit(tag.unit)
        except UnitParseError:
            yield Problem(
                ("tags", i, "unit"),
                f"unknown unit {tag.unit!r}",
                value=tag.unit,
                expected="a unit pint understands, e.g. 'K', 'degC', 'kmol/m^3', 'kW', '%', 'EUR/MWh'",
                hint="check spelling and case (pint is case-sensitive: 'kW', not 'KW')",
            )
        if tag.known_ahead and tag.kind != "disturbance":
            yield Problem(
                ("tags", i, "known_ahead"),
                "only disturbance tags can be known ahead",
                value=tag.kind,
                expected="kind: disturbance",
                hint="set kind: disturbance, or drop known_ahead (actions are always known ahead)",
            )
        if tag.asset is not None and tag.asset not in {a.id for a in twin.assets}:
            yield Problem(
                ("tags", i, "asset"),
                f"unknown asset {tag.asset!r}",
                value=tag.asset,
                expected="the id of an asset declared under 'assets:'",
                hint=_did_you_mean(tag.asset, [a.id for a in twin.assets]) or "declare the asset",
            )
    if not any(t.kind in ("observation", "kpi") for t in twin.tags):
        yield Problem(
            ("tags",),
            "the twin has no observation or kpi tag",
            expected="at least one measured tag",
            hint="set kind: observation on the tags the plant measures",
        )


def _assets(twin: Twin) -> Iterator[Problem]:
    by_id: dict[str, int] = {}
    for i, asset in enumerate(twin.assets):
        if asset.id in by_id:
            yield Problem(
                ("assets", i, "id"),
                f"duplicate asset id {asset.id!r}",
                value=asset.id,
                expected="unique asset ids",
                hint=f"assets[{by_id[asset.id]}] already uses it",
            )
        by_id.setdefault(asset.id, i)
    for i, asset in enumerate(twin.assets):
        if asset.parent is None:
            continue
        if asset.parent not in by_id:
            yield Problem(
                ("assets", i, "parent"),
                f"unknown parent asset {asset.parent!r}",
                value=asset.parent,
                expected="the id of another asset",
                hint=_did_you_mean(asset.parent, by_id),
            )
            continue
        parent = twin.assets[by_id[asset.parent]]
        if ASSET_LEVEL_ORDER.index(parent.level) >= ASSET_LEVEL_ORDER.index(asset.level):
            yield Problem(
                ("assets", i, "level"),
                f"a {asset.level} cannot sit under the {parent.level} {parent.id!r}",
                value=asset.level,
                expected=f"a level below {parent.level} (order: {' > '.join(ASSET_LEVEL_ORDER)})",
                hint="fix the level or the parent",
            )


def _actions(twin: Twin) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, action in enumerate(twin.actions):
        path = ("actions", i)
        if action.tag not in twin.tag_names:
            yield _unknown_tag((*path, "tag"), action.tag, twin, "action")
            continue
        tag = twin.tag(action.tag)
        if tag.kind != "action":
            yield Problem(
                (*path, "tag"),
                f"tag {tag.name!r} is {_article(tag.kind)} {tag.kind}, not an action",
                value=tag.kind,
                expected="kind: action on the tag",
                hint=f"set kind: action on tag {tag.name!r}",
            )
        if action.tag in seen:
            yield Problem(
                (*path, "tag"),
                f"tag {action.tag!r} has more than one action entry",
                value=action.tag,
                expected="one action entry per action tag",
                hint="merge the entries",
            )
        seen.add(action.tag)
        lo, hi = action.bounds
        if tag.range is not None and (lo < tag.range[0] or hi > tag.range[1]):
            yield Problem(
                (*path, "bounds"),
                f"bounds [{lo}, {hi}] reach outside the tag range [{tag.range[0]}, {tag.range[1]}]",
                value=[lo, hi],
                expected=f"bounds inside [{tag.range[0]}, {tag.range[1]}]",
                hint="narrow the bounds or widen the tag's range",
            )
        if action.default is not None and not lo <= action.default <= hi:
            yield Problem(
                (*path, "default"),
                f"default {action.default} lies outside bounds [{lo}, {hi}]",
                value=action.default,
                expected=f"a value in [{lo}, {hi}]",
                hint="move the default inside the bounds",
            )
    for name in twin.action_names:
        if name not in seen and twin.tag(name).range is None:
            i = twin.tag_names.index(name)
            yield Problem(
                ("tags", i, "kind"),
                f"action tag {name!r} has neither an action entry nor a range",
                value=name,
                expected="bounds for every action",
                hint=f"add '- tag: {name}' with bounds under 'actions:', or give the tag a range",
            )


def _limits(twin: Twin) -> Iterator[Problem]:
    for i, limit in enumerate(twin.limits):
        path = ("limits", i)
        if limit.tag not in twin.tag_names:
            yield _unknown_tag((*path, "tag"), limit.tag, twin, "hard limit")
        if limit.min is None and limit.max is None:
            yield Problem(
                path,
                "hard limit has neither min nor max",
                expected="min, max or both",
                hint="add 'max: <value>' or 'min: <value>'",
            )
        elif limit.min is not None and limit.max is not None and limit.min >= limit.max:
            yield Problem(
                (*path, "min"),
                f"limit min {limit.min} is not below max {limit.max}",
                value=limit.min,
                expected=f"min < {limit.max}",
                hint="swap or correct the values",
            )


def _objectives(twin: Twin) -> Iterator[Problem]:
    for i, objective in enumerate(twin.objectives):
        path = ("objectives", i)
        if objective.tag not in twin.tag_names:
            yield _unknown_tag((*path, "tag"), objective.tag, twin, "objective")
            continue
        if objective.kind == "setpoint" and objective.target is None:
            yield Problem(
                (*path, "target"),
                "setpoint objective without a target",
                expected="target: <value>",
                hint=f"add the setpoint value for {objective.tag!r} in its unit",
            )
        if objective.kind != "setpoint" and objective.target is not None:
            yield Problem(
                (*path, "target"),
                f"a {objective.kind} objective takes no target",
                value=objective.target,
                expected="no target",
                hint="remove target, or use kind: setpoint",
            )
        tag_range = twin.tag(objective.tag).range
        if (
            objective.target is not None
            and tag_range
            and not tag_range[0] <= objective.target <= tag_range[1]
        ):
            yield Problem(
                (*path, "target"),
                f"target {objective.target} lies outside the tag range [{tag_range[0]}, {tag_range[1]}]",
                value=objective.target,
                expected=f"a value in [{tag_range[0]}, {tag_range[1]}]",
                hint="correct the target",
            )


def _sources(twin: Twin) -> Iterator[Problem]:
    for i, source in enumerate(twin.sources):
        mapped: dict[str, str] = {}
        if source.type in ("csv", "parquet"):
            mapped = {f"columns.{col}": tag for col, tag in source.columns.items()}
            mapped |= {f"units.{tag}": tag for tag in source.units}
            for tag, unit in source.units.items():
                try:
                    parse_unit(unit)
                except UnitParseError:
                    yield Problem(
                        ("sources", i, "units", tag),
                        f"unknown unit {unit!r}",
                        value=unit,
                        expected="a unit pint understands",
                        hint="check spelling and case",
                    )
        elif source.type == "opcua":
            mapped = {f"nodes.{tag}": tag for tag in source.nodes}
        elif source.type == "mqtt":
            mapped = {f"tags.{metric}": tag for metric, tag in source.tags.items()}
        for where, tag in mapped.items():
            if tag not in twin.tag_names:
                key, sub = where.split(".", 1)
                yield _unknown_tag(("sources", i, key, sub), tag, twin, f"source {source.type}")
