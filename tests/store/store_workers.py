"""Worker processes for the store's concurrency and crash tests.

Run as `python tests/store/store_workers.py COMMAND URL ...`; each prints one
line per committed write, flushed, so the parent knows what was saved.
"""

from __future__ import annotations

import sys

from promptkit.errors import StoreError
from promptkit.generation import Completion, GeneratedToken, GenerationSettings, StopReason
from promptkit.store import ComparisonCellRecord, Store


def add_versions(url: str, family: str, count: int, author: str) -> None:
    """Saves `count` versions of `family`, printing each number."""
    with Store.open(url=url) as store:
        for index in range(count):
            version = store.add_version(
                family=family, text=f"{author} {index}: {{{{ x }}}}", author=author, note=f"save {index}"
            )
            print(version.number, flush=True)


def write_runs(url: str, family: str) -> None:
    """Saves runs with sizeable payloads until killed, printing each run id."""
    with Store.open(url=url) as store:
        index = 0
        while True:
            tokens = tuple(GeneratedToken(1, "x" * 10, 10 * i, 10 * i + 10, -0.5) for i in range(200))
            run = store.add_run(
                family=family,
                version=1,
                model="stub",
                completion=Completion(f"prompt {index}", "x" * 2000, tokens, StopReason.MAX_NEW_TOKENS, {}),
                values={"x": str(index)},
                settings=GenerationSettings(),
            )
            print(run.id, flush=True)
            index += 1


def judge_all(url: str, task_id: int, reviewer: str) -> None:
    """Judges every item of review task `task_id` as `reviewer` ("tie" each), printing each case."""
    with Store.open(url=url) as store:
        task = store.get_review_task(task_id)
        for case in task.cases:
            for pair in task.pairs:
                store.judge(actor=reviewer, task_id=task_id, case_id=case, pair=pair, shown_left=pair[0], verdict="tie")
                print(case, flush=True)


def score_all(url: str, task_id: int, reviewer: str) -> None:
    """Scores every item of rubric task `task_id` as `reviewer` (3 on each criterion), printing each case."""
    with Store.open(url=url) as store:
        task = store.get_review_task(task_id)
        for case in task.cases:
            for version in task.versions:
                scores = {criterion.name: 3 for criterion in task.criteria}
                store.judge_rubric(actor=reviewer, task_id=task_id, case_id=case, version=version, scores=scores)
                print(case, flush=True)


def add_cells(url: str, comparison_id: int, who: str) -> None:
    """Adds every cell of a comparison, one per call, printing `stored V CASE` or `refused V CASE`."""
    with Store.open(url=url) as store:
        comparison = store.get_comparison(comparison_id)
        for version in comparison.versions:
            for case in comparison.cases:
                cell = ComparisonCellRecord(version=version, case_id=case.id, run_id=None, prompt=None,
                                            outcome_likelihoods={}, samples=(), agreement=None, error=who)
                try:
                    store.add_comparison_cells(comparison_id, [cell])
                except StoreError as error:
                    assert "stored already" in str(error), error
                    print("refused", version, case.id, flush=True)
                else:
                    print("stored", version, case.id, flush=True)


if __name__ == "__main__":
    command, url, family, *rest = sys.argv[1:]
    if command == "add-versions":
        add_versions(url, family, int(rest[0]), rest[1])
    elif command == "write-runs":
        write_runs(url, family)
    elif command == "judge-all":
        judge_all(url, int(family), rest[0])
    elif command == "score-all":
        score_all(url, int(family), rest[0])
    elif command == "add-cells":
        add_cells(url, int(family), rest[0])
    else:
        raise SystemExit(f"unknown command {command!r}")
