"""The model cards: written from the shipped models' JSON sidecars, and nothing else.

The committed cards in ``lessons/`` must be what :mod:`utils.model_cards` makes of the committed
JSON, so no number in them was typed by hand. A distilled model's card walks back through its
teachers: what each was, the hours of all of them, and the commands that train them in order.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from utils.model_cards import emotion_card, keypoints_card

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "utils" / "pretrained"


def _sidecar(name: str) -> dict[str, Any]:
    path = PRETRAINED / f"{name}.json"
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    ("name", "card"), [("emotion", emotion_card), ("keypoints", keypoints_card)]
)
def test_the_committed_card_is_the_one_its_json_makes(name: str, card: Any) -> None:
    committed = (ROOT / "lessons" / f"model_card_{name}.md").read_text(encoding="utf-8")
    assert committed == card(_sidecar(name)), (
        f"lessons/model_card_{name}.md differs from what utils.model_cards makes of "
        f"utils/pretrained/{name}.json: ship the run again (--ship) instead of editing it"
    )


def _distilled(info: dict[str, Any], teacher: dict[str, Any], weight: float) -> dict[str, Any]:
    """``info`` as if it had been trained with ``--teacher`` (facts) at ``--teacher-weight``."""
    student = copy.deepcopy(info)
    student["settings"].update(teacher=f"/elsewhere/{teacher['file']}", teacher_weight=weight)
    student["teacher"] = teacher
    return student


def _facts(info: dict[str, Any], hours: float, folder: Path) -> dict[str, Any]:
    """What a run records of a teacher whose sidecar is ``info`` (trained for ``hours``)."""
    from utils.train_fer import teacher_facts

    folder.mkdir()
    (folder / "emotion.json").write_text(json.dumps({**info, "train_hours": hours}))
    return teacher_facts(folder / "emotion.keras")


def test_a_card_walks_back_through_its_teachers(tmp_path: Path) -> None:
    info = _sidecar("emotion")
    first = _facts(info, 5.0, tmp_path / "first")  # the recipe without a teacher
    second = _facts(_distilled(info, first, 0.5), 4.0, tmp_path / "second")  # its student
    card = emotion_card(_distilled(info, second, 0.3))
    steps = [line.strip() for line in card.splitlines() if line.startswith("    # ")]
    assert steps == [
        "# 1. the teacher: the recipe without --teacher (shipped, for step 2)",
        "# 2. its student: distilled from step 1 (shipped, for step 3)",
        "# 3. this model: distilled from step 2",
    ]
    # Each step's --teacher is the model the step before shipped, at that step's weight.
    assert "--out runs/teacher2 \\\n        --teacher utils/pretrained/emotion.keras " in card
    assert "--teacher-weight 0.5" in card and "--teacher-weight 0.3" in card
    assert card.index("runs/teacher1 --ship") < card.index("runs/teacher2 --ship")
    assert "0.7 x the label + 0.3 x the probabilities" in card
    assert "(4.00 h)" in card and "distilled itself" in card and "(5.00 h)" in card
    total = info["train_hours"] + 9.0
    assert f"With the teachers' 9.00 h, {total:.2f} h in all." in card


def test_a_teacher_not_on_record_is_named_not_invented() -> None:
    card = emotion_card(_distilled(_sidecar("emotion"), {"file": "big.keras"}, 0.5))
    assert "The teacher: `big.keras` (its training is not on record)." in card
    assert "--teacher big.keras --teacher-weight 0.5" in card
    assert "runs/teacher" not in card and "in all" not in card  # no recipe, no hours guessed
