"""Test respondents: the numbers staff answer surveys with in the admin's phone simulator.

A test respondent is an ordinary respondent (the interview path does not know the
difference) with `attributes["simulator"]` true, named "Simulator test" and never on
the roster, so results and dashboards can leave its answers out (`not_simulated()`) or
mark them (`is_simulated`). A number that already belongs to a graduate is refused:
trying a survey must never answer for a real person, nor use up their one response.

    NotATestNumber(ValueError)   the number is a graduate's, not a test number
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, false, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.outcome_facts import forget as forget_outcomes
from storage.schema import answers, respondents, responses

__all__ = [
    "SIMULATOR_ATTRIBUTE",
    "NotATestNumber",
    "TestRespondent",
    "is_simulated",
    "not_simulated",
    "prepare_test_respondent",
]

SIMULATOR_ATTRIBUTE = "simulator"
TEST_NAME = "Simulator test"


class NotATestNumber(ValueError):
    """The number belongs to a graduate of the organisation: it cannot be a test number."""


@dataclass(frozen=True, slots=True)
class TestRespondent:
    id: int
    created: bool  # False: the number was a test number already
    forgotten: int  # earlier test responses to the survey deleted on request


def is_simulated(attributes: Mapping[str, Any] | None) -> bool:
    """Whether a respondent's attributes mark it as a simulator's test respondent."""
    return bool(attributes) and attributes.get(SIMULATOR_ATTRIBUTE) is True  # type: ignore[union-attr]


def not_simulated() -> ColumnElement[bool]:
    """A condition on `respondents` that leaves the simulator's test respondents out
    (the same SQL on SQLite and PostgreSQL)."""
    marked = respondents.c.attributes[SIMULATOR_ATTRIBUTE].as_boolean()
    return func.coalesce(marked, false()) == false()


async def prepare_test_respondent(
    conn: AsyncConnection,
    organisation_id: int,
    phone: str,
    *,
    by: str,
    forget_survey_id: int | None = None,
    now: dt.datetime | None = None,
) -> TestRespondent:
    """The test respondent of `phone` (E.164) in the organisation, made when the number
    is new; with `forget_survey_id`, its earlier responses to that survey are deleted so
    the survey starts afresh. `by`: who made it (an email), kept in its attributes.
    `NotATestNumber` when the number is a graduate's."""
    now = now or dt.datetime.now(dt.UTC)
    row = (
        await conn.execute(
            select(respondents.c.id, respondents.c.attributes).where(
                respondents.c.organisation_id == organisation_id, respondents.c.phone == phone
            )
        )
    ).first()
    created = row is None
    if row is None:
        respondent_id = (
            await conn.execute(
                respondents.insert()
                .values(
                    organisation_id=organisation_id,
                    phone=phone,
                    name=TEST_NAME,
                    language=None,
                    programme="",
                    cohort="",
                    gender="",
                    on_roster=False,
                    attributes={SIMULATOR_ATTRIBUTE: True, "created_by": by},
                    created_at=now,
                    updated_at=now,
                    grouped_at=now,
                )
                .returning(respondents.c.id)
            )
        ).scalar_one()
    elif not is_simulated(row.attributes):
        raise NotATestNumber(
            f"{phone} is a graduate's number in this organisation: use a test number, so "
            "that their answers stay their own"
        )
    else:
        respondent_id = row.id
    forgotten = 0
    if forget_survey_id is not None and not created:
        earlier = select(responses.c.id).where(
            responses.c.respondent_id == respondent_id,
            responses.c.survey_id == forget_survey_id,
        )
        await conn.execute(delete(answers).where(answers.c.response_id.in_(earlier)))
        result = await conn.execute(
            delete(responses).where(
                responses.c.respondent_id == respondent_id,
                responses.c.survey_id == forget_survey_id,
            )
        )
        forgotten = result.rowcount or 0
        await forget_outcomes(conn, forget_survey_id, respondent_id)
        # Afresh means the language menu too: the number's language was learned from
        # the answers just forgotten.
        await conn.execute(
            respondents.update()
            .where(respondents.c.id == respondent_id)
            .values(language=None, updated_at=now)
        )
    return TestRespondent(respondent_id, created, forgotten)
