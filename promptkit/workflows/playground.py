"""The author's jobs in the Playground: save a template as a version, record a run, score its steps, give a verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from promptkit.generation import Completion, GenerationSettings
from promptkit.models.api import LanguageModel
from promptkit.people import Role
from promptkit.steps import StepScore, within
from promptkit.store import ReviewRecord, RunRecord, Store, VersionRecord
from promptkit.store.records import Verdict
from promptkit.templates import TestCase


def save_version(
    store: Store, *, actor: str, family: str, parent: VersionRecord, text: str, note: str
) -> VersionRecord:
    """Saves an edited template as a new version after `parent`, authored by the acting editor.

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is saved.
        TemplateError: If the text is blank or does not parse; nothing is saved.
    """
    author = store.require(actor, Role.EDITOR, action="save a template version")
    return store.add_version(
        family=family, text=text, author=author.name, parent=parent.number, note=note.strip() or "Edited in the Playground."
    )


def record_playground_run(
    store: Store,
    *,
    actor: str,
    family: str,
    parent: VersionRecord,
    text: str,
    note: str,
    model: str,
    completion: Completion,
    values: Mapping[str, str],
    settings: GenerationSettings,
    case: TestCase | None,
) -> tuple[RunRecord, int | None]:
    """Saves a run generated from a template the user may have edited.

    An edited text becomes a new version first (after generating, so a
    prompt the model refused leaves no version behind), and the run is
    recorded under it; the run names the test case only when the values are
    still the case's.

    Args:
        store: the store.
        actor: who generated (a person's key); an editor.
        family: the family's name.
        parent: the version the text was loaded from.
        text: the template text as generated from.
        note: the user's note for a new version; a default says it was saved when generating.
        model: the model's name.
        completion: what the model generated.
        values: the values the prompt was rendered with.
        settings: the settings it was generated with.
        case: the test case picked to fill the blanks, if any.

    Returns:
        The run record, and the new version's number (None when the text was unchanged).

    Raises:
        PermissionDenied: If the actor is not an editor; nothing is saved.
    """
    author = store.require(actor, Role.EDITOR, action="record a Playground run")
    saved = None
    if text != parent.text:
        saved = store.add_version(
            family=family, text=text, author=author.name, parent=parent.number,
            note=note.strip() or "Edited in the Playground (saved automatically when generating).",
        ).number
    same_values = case is not None and all(case.values.get(name) == value for name, value in values.items())
    run = store.add_run(
        family=family, version=saved or parent.number, model=model, completion=completion, values=values,
        settings=settings, case_id=case.id if case is not None and same_values else None, created_by=actor,
    )
    return run, saved


def give_verdict(
    store: Store,
    *,
    actor: str,
    verdict: Verdict,
    comment: str = "",
    run_id: int | None = None,
    subject: str | None = None,
    comparison_id: int | None = None,
) -> ReviewRecord:
    """Saves the acting reviewer's good/bad/unsure verdict on a run or a comparison, under their name.

    Raises:
        PermissionDenied: If the actor is not a reviewer.
        StoreError: If the verdict or subject is wrong; nothing is saved.
    """
    reviewer = store.require(actor, Role.REVIEWER, action="review")
    return store.add_review(
        verdict=verdict, comment=comment, reviewer=reviewer.name, run_id=run_id, subject=subject,
        comparison_id=comparison_id,
    )


def completion_steps(
    model: LanguageModel,
    *,
    prompt: str,
    completion: str,
    token_ids: Sequence[int] | None = None,
    top_k: int = 5,
) -> list[StepScore]:
    """Step scores of a completion under `model`, cut to the completion as kept.

    Args:
        model: the model that scores (its shared scorer).
        prompt: the prompt the completion followed.
        completion: the completion text (a stop sequence may have cut its last token).
        token_ids: the completion's tokens as this model generated them; None
            tokenizes `completion` (for text another model wrote, whose ids
            name other pieces).
        top_k: alternatives kept per step.

    Returns:
        One `StepScore` per kept token.

    Raises:
        PromptError: an empty prompt or completion, or one longer than the model's context.
    """
    prefix = model.prompt_ids([prompt], new_tokens=0)[0]
    ids = model.tokenize(completion) if token_ids is None else token_ids
    return within(model.companions.scorer.step_scores(prefix, ids, top_k=top_k), completion)
