"""Each graduate's part in a survey's outcomes, kept in `outcome_facts` so that the
dashboard counts graduates instead of reading a million answers on every view.

The dashboard keeps the table itself, on each view, before it counts (`catch_up`):

- every response is stored with `counted` false, whichever path wrote it (the
  interview, an import, a benchmark's COPY); complete and refused are final, so once
  such a response is in the facts it never needs counting again;
- `catch_up` claims the survey's uncounted complete and refused responses (setting
  `counted`, in the same transaction) and recomputes the facts of their graduates from
  all their ended responses: a response that ends meanwhile stays uncounted for the
  next view, so none is lost and a graduate counted twice is merely recomputed;
- the facts hold the answers the survey's indicator map names; the map in force is
  kept on the survey (`outcomes_mapping`), and a new version that maps other questions
  makes the next view recompute every graduate's facts;
- deleting a respondent (storage.roster) calls `forget_respondent`, and forgetting a
  test number's responses (storage.simulated) calls `forget`;
- every change to a survey's facts bumps `surveys.outcomes_version`, so figures
  counted at one version can be kept until the next (storage.outcomes.OutcomesCache).

Between views nothing is done on the interview path: a USSD hop costs what it did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, case, delete, func, literal, null, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import upsert_insert
from storage.schema import answers, outcome_facts, responses, surveys
from survey_engine.events import ResponseStatus

if TYPE_CHECKING:
    from storage.outcomes import IndicatorMap

__all__ = [
    "Claimed",
    "catch_up",
    "claim",
    "forget",
    "forget_respondent",
    "mapping_key",
    "recount",
]

_COMPLETE = ResponseStatus.COMPLETE.value
_REFUSED = ResponseStatus.REFUSED.value
FINAL = (_COMPLETE, _REFUSED)
_BATCH = 2_000  # graduates per recomputing statement (bind parameters stay few)
_ANALYZE_AFTER = 1_000  # graduates recounted at once: enough to change the table's shape
_LOCK_SPACE = 0x0D45  # pg_advisory_xact_lock(space, survey id): one catch-up at a time


def mapping_key(mapping: IndicatorMap) -> str:
    """The questions a map extracts, as stored on the survey."""
    return json.dumps(
        [mapping.employment, mapping.months_to_job, mapping.related,
         mapping.further_education, list(mapping.scales), list(mapping.skills)],
        separators=(",", ":"),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Claimed:
    """What `claim` took to count: these graduates' facts are out of date, or, when
    `rebuilt`, every graduate's (the indicator map changed)."""

    graduates: tuple[int, ...]
    rebuilt: bool


async def catch_up(conn: AsyncConnection, survey_id: int, mapping: IndicatorMap) -> int:
    """Bring the survey's facts up to date inside `conn`'s transaction; how many
    graduates were (re)counted."""
    claimed = await claim(conn, survey_id, mapping)
    await recount(conn, survey_id, mapping, claimed)
    return len(claimed.graduates)


async def claim(conn: AsyncConnection, survey_id: int, mapping: IndicatorMap) -> Claimed:
    """The first half of `catch_up`: hold the survey's catch-up lock for the rest of
    the transaction, and mark the responses ended since the last one as counted. The
    facts are as they were until `recount`, so a caller can read them before."""
    if conn.dialect.name == "postgresql":
        # Two views at once would only do the same work twice; one waits instead.
        await conn.execute(select(func.pg_advisory_xact_lock(_LOCK_SPACE, survey_id)))
    key = mapping_key(mapping)
    stored = await conn.scalar(select(surveys.c.outcomes_mapping).where(surveys.c.id == survey_id))
    rebuilt = stored != key
    if rebuilt:
        await conn.execute(delete(outcome_facts).where(outcome_facts.c.survey_id == survey_id))
        await conn.execute(
            update(responses)
            .where(responses.c.survey_id == survey_id, responses.c.counted)
            .values(counted=False)
        )
        await conn.execute(
            update(surveys).where(surveys.c.id == survey_id).values(outcomes_mapping=key)
        )
    claimed = (
        update(responses)
        .where(
            responses.c.survey_id == survey_id,
            ~responses.c.counted,
            responses.c.status.in_(FINAL),
        )
        .values(counted=True)
        .returning(responses.c.respondent_id)
    )
    return Claimed(tuple(sorted(set(await conn.scalars(claimed)))), rebuilt)


async def recount(
    conn: AsyncConnection, survey_id: int, mapping: IndicatorMap, claimed: Claimed
) -> None:
    """The second half of `catch_up`: the claimed graduates' facts from all their
    ended responses, and the survey's `outcomes_version` moved on if anything changed."""
    postgres = conn.dialect.name == "postgresql"
    graduates = claimed.graduates
    for start in range(0, len(graduates), _BATCH):
        await conn.execute(_recount(conn, survey_id, graduates[start : start + _BATCH], mapping))
    if graduates or claimed.rebuilt:
        await _changed(conn, survey_id)
    if postgres and len(graduates) >= _ANALYZE_AFTER:
        # Planned without statistics, the dashboard's join of a table just filled would
        # be a nested loop; autovacuum would analyze it only later.
        await conn.execute(text("ANALYZE outcome_facts"))


async def forget(conn: AsyncConnection, survey_id: int, respondent_id: int) -> None:
    """A respondent's responses to the survey were deleted: so are their facts."""
    await conn.execute(
        delete(outcome_facts).where(
            outcome_facts.c.survey_id == survey_id,
            outcome_facts.c.respondent_id == respondent_id,
        )
    )
    await _changed(conn, survey_id)


async def forget_respondent(
    conn: AsyncConnection, organisation_id: int, respondent_id: int
) -> None:
    """The respondent is being deleted: their facts go, and every survey of the
    organisation counts as changed (they were on its roster, if in no facts)."""
    await conn.execute(delete(outcome_facts).where(outcome_facts.c.respondent_id == respondent_id))
    await _changed(conn, surveys.c.organisation_id == organisation_id)


async def _changed(conn: AsyncConnection, which: int | ColumnElement[bool]) -> None:
    """Move the `outcomes_version` of a survey (its id) or of the surveys `which` selects."""
    chosen = surveys.c.id == which if isinstance(which, int) else which
    await conn.execute(
        update(surveys).where(chosen).values(outcomes_version=surveys.c.outcomes_version + 1)
    )


def _recount(
    conn: AsyncConnection, survey_id: int, graduates: Sequence[int], mapping: IndicatorMap
) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE of these graduates' facts, from all their
    complete and refused responses to the survey."""
    complete = responses.c.status == _COMPLETE
    ended = (
        select(
            responses.c.respondent_id,
            func.sum(case((complete, 1), else_=0)).label("completes"),
            func.max(case((responses.c.status == _REFUSED, 1), else_=0)).label("refused"),
            func.min(case((complete, responses.c.id))).label("first_id"),
            func.max(case((complete, responses.c.id))).label("latest_id"),
        )
        .where(
            responses.c.survey_id == survey_id,
            responses.c.status.in_(FINAL),
            responses.c.respondent_id.in_(graduates),
        )
        .group_by(responses.c.respondent_id)
        .subquery()
    )
    build = func.jsonb_build_object if conn.dialect.name == "postgresql" else func.json_object

    def answer(response_id: Any, question: str | None) -> ColumnElement[Any]:
        if not question:
            return null()
        return (
            select(answers.c.value)
            .where(answers.c.response_id == response_id, answers.c.question == question)
            .scalar_subquery()
        )

    def values(response_id: Any, questions: Sequence[str]) -> ColumnElement[Any]:
        if not questions:
            return null()
        pairs = [part for q in questions for part in (literal(q), answer(response_id, q))]
        return build(*pairs)

    latest = ended.c.latest_id
    rows = select(
        literal(survey_id),
        ended.c.respondent_id,
        ended.c.completes,
        ended.c.refused == 1,
        ended.c.first_id,
        latest,
        answer(latest, mapping.employment),
        answer(latest, mapping.months_to_job),
        answer(latest, mapping.related),
        answer(latest, mapping.further_education),
        values(latest, (*mapping.scales, *mapping.skills)),
        case((ended.c.completes > 1, values(ended.c.first_id, mapping.skills)))
        if mapping.skills
        else null(),
    ).where(ended.c.completes >= 0)  # SQLite: INSERT ... SELECT ... WHERE ... ON CONFLICT
    columns = [
        "survey_id", "respondent_id", "completes", "refused", "first_response_id",
        "latest_response_id", "employment", "months_to_job", "related", "further_education",
        "latest_values", "first_values",
    ]  # fmt: skip
    insert = upsert_insert(conn, outcome_facts)
    stmt = insert.from_select(columns, rows)
    return stmt.on_conflict_do_update(
        index_elements=[outcome_facts.c.survey_id, outcome_facts.c.respondent_id],
        set_={name: stmt.excluded[name] for name in columns[2:]},
    )
