"""Reward of a step, from the objectives of the twin spec.

Each objective contributes ``weight × score`` where the score is dimensionless: tag values are
divided by the width of the tag's range (or 1 when no range is declared), so objectives in
different units can be summed. Setpoint: −((y − target)/scale)²; minimize: −y/scale;
maximize: +y/scale. The planner's cost compiles the same objectives (with its own penalties).
"""

from __future__ import annotations

from worldtwin.spec.schema import Twin


def tag_scale(twin: Twin, name: str) -> float:
    tag_range = twin.tag(name).range
    return float(tag_range[1] - tag_range[0]) if tag_range else 1.0


def objective_reward(twin: Twin, tags: dict[str, float]) -> float:
    total = 0.0
    for objective in twin.objectives:
        value = tags[objective.tag] / tag_scale(twin, objective.tag)
        if objective.kind == "setpoint":
            assert objective.target is not None  # guaranteed by spec checks
            error = value - objective.target / tag_scale(twin, objective.tag)
            total -= objective.weight * error * error
        elif objective.kind == "minimize":
            total -= objective.weight * value
        else:
            total += objective.weight * value
    return float(total)
