"""The shipped labelled family: as its generator writes it, big enough to train on, labelled by its rule, split by its ids."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from promptkit.templates import load_family_file

ROOT = Path(__file__).parents[2]
GENERATOR = ROOT / "docs" / "make_dish_restrictions.py"


def test_the_file_is_what_its_generator_writes() -> None:
    result = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_family_is_labelled_by_its_rule_and_split_by_its_ids() -> None:
    sys.path.insert(0, str(GENERATOR.parent))
    try:
        import make_dish_restrictions as generator
    finally:
        sys.path.remove(str(GENERATOR.parent))
    family = load_family_file(ROOT / "templates" / "dish-restrictions.yaml")
    assert len(family.cases) >= 400 and family.candidate_labels == ("Avoid", "Likely good")
    assert "Provenance: written for this project" in family.description and "Split:" in family.description
    keys = {words: key for key, (words, _) in generator.RESTRICTIONS.items()}
    counts: Counter[tuple[str, str]] = Counter()
    for case in family.cases:
        split = case.id.split("-", 1)[0]
        expected = generator.label(keys[case.values["restriction"]], case.values["ingredients"])
        assert case.expect is not None and case.expect.labels == (expected,)
        counts[split, expected] += 1
    for label in family.candidate_labels:
        total = sum(counts[split, label] for split in ("train", "validation", "test"))
        assert abs(counts["train", label] / total - 0.70) < 0.01 and abs(counts["test", label] / total - 0.15) < 0.01
    assert sum(counts.values()) == len(family.cases)
