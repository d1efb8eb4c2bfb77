"""A small tracer study whose outcomes are known by hand, for the results, export and
dashboard tests.

Kenya TVET runs the sample survey (`examples/graduate_tracer.xlsx`):

    Welding, 8 on the roster: W1-W6 completed (W1-W5 twice: a baseline in January,
      then in April), W7 refused, W8 never answered.
      latest answers  employed  related  months  satisfied       skill_confidence
      W1              wage      yes      1       agree           2 -> 4
      W2              wage      no       4       agree           3 -> 3
      W3              self      yes      7       agree           1 -> 2
      W4              not_working  -     -       strongly_agree  4 -> 3
      W5              wage      yes      2       agree           2 -> 5
      W6              self      some     3       neutral         (once)
    Tailoring, 3 on the roster: T1 (wage) and T2 (not_working) completed, T3 in progress.
    A caller not on the roster (D1): complete, self-employed, 0 months.

Lebanon VTC has its own survey, answered once from a number Kenya TVET also has.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.schema import answers, respondents, responses
from storage.surveys import import_survey
from tests.conftest import markdown_to_xlsx

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"
JANUARY = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
APRIL = dt.datetime(2026, 4, 10, 9, 0, tzinfo=dt.UTC)

LEBANON_FORM = """
| survey   |
|          | type    | name   | label           |
|          | text    | town   | Which town?     |
| settings |
|          | form_id | version | default_language |
|          | lebanon_tracer | 1 | English (en) |
"""

# phone, programme, cohort, gender, on_roster
GRADUATES = {
    "W1": ("+254700000001", "Welding", "2025-A", "female", True),
    "W2": ("+254700000002", "Welding", "2025-A", "male", True),
    "W3": ("+254700000003", "Welding", "2025-A", "female", True),
    "W4": ("+254700000004", "Welding", "2025-B", "male", True),
    "W5": ("+254700000005", "Welding", "2025-B", "female", True),
    "W6": ("+254700000006", "Welding", "2025-B", "male", True),
    "W7": ("+254700000007", "Welding", "2025-B", "male", True),
    "W8": ("+254700000008", "Welding", "2025-B", "female", True),
    "T1": ("+254700000011", "Tailoring", "2025-A", "female", True),
    "T2": ("+254700000012", "Tailoring", "2025-A", "female", True),
    "T3": ("+254700000013", "Tailoring", "2025-A", "male", True),
    "D1": ("+254700000021", "", "", "", False),
}
BASELINE_SKILL = {"W1": "2", "W2": "3", "W3": "1", "W4": "4", "W5": "2"}
LATEST = {
    # who: (channel, employed, related, months, satisfied, skill_confidence)
    "W1": ("ivr", "wage", "yes", "1", "agree", "4"),
    "W2": ("ivr", "wage", "no", "4", "agree", "3"),
    "W3": ("ivr", "self", "yes", "7", "agree", "2"),
    "W4": ("ussd", "not_working", None, None, "strongly_agree", "3"),
    "W5": ("ussd", "wage", "yes", "2", "agree", "5"),
    "W6": ("ussd", "self", "some", "3", "neutral", "3"),
    "T1": ("ussd", "wage", "yes", "2", "agree", "3"),
    "T2": ("ussd", "not_working", None, None, "disagree", "2"),
    "D1": ("ussd", "self", "yes", "0", "agree", "4"),
}


@dataclass(frozen=True)
class Tracer:
    survey_id: int
    version_id: int
    other_survey_id: int
    respondent_ids: dict[str, int]
    total_responses: int
    total_answers: int


async def seed_tracer(engine: AsyncEngine, organisation: str, other: str) -> Tracer:
    ours = await import_survey(
        engine, SAMPLE.read_bytes(), filename="graduate_tracer.xlsx", ussd_code=None,
        roster_only=False, organisation=organisation,
    )  # fmt: skip
    theirs = await import_survey(
        engine, markdown_to_xlsx(LEBANON_FORM), filename="lebanon.xlsx", ussd_code=None,
        roster_only=False, organisation=other,
    )  # fmt: skip
    ids: dict[str, int] = {}
    counts = {"responses": 0, "answers": 0}
    async with engine.begin() as conn:

        async def respond(who: str, survey, status: str, channel: str, at: dt.datetime,
                          given: dict[str, str | None]) -> None:  # fmt: skip
            inserted = await conn.execute(
                responses.insert()
                .values(
                    respondent_id=ids[who],
                    survey_id=survey.survey_id,
                    survey_version_id=survey.version_id,
                    channel=channel,
                    status=status,
                    language="en",
                    started_at=at,
                    updated_at=at,
                    ended_at=at if status != "in_progress" else None,
                )
                .returning(responses.c.id)
            )
            response_id = inserted.scalar_one()
            counts["responses"] += 1
            for question, value in given.items():
                if value is None:
                    continue
                await conn.execute(
                    answers.insert().values(
                        response_id=response_id,
                        question=question,
                        value=value,
                        channel=channel,
                        answered_at=at,
                        updated_at=at,
                    )
                )
                counts["answers"] += 1

        for who, (phone, programme, cohort, gender, on_roster) in GRADUATES.items():
            inserted = await conn.execute(
                respondents.insert()
                .values(
                    organisation_id=ours.organisation_id,
                    phone=phone,
                    name=who,
                    programme=programme,
                    cohort=cohort,
                    gender=gender,
                    on_roster=on_roster,
                    attributes={},
                    created_at=JANUARY,
                    updated_at=JANUARY,
                )
                .returning(respondents.c.id)
            )
            ids[who] = inserted.scalar_one()
        for who, skill in BASELINE_SKILL.items():
            await respond(who, ours, "complete", "ussd", JANUARY, {
                "consent": "yes", "employed": "not_working", "skill_confidence": skill,
            })  # fmt: skip
        for who, (channel, employed, related, months, satisfied, skill) in LATEST.items():
            await respond(who, ours, "complete", channel, APRIL, {
                "consent": "yes", "employed": employed, "months_to_job": months,
                "job_related": related, "satisfied": satisfied, "skill_confidence": skill,
                "further_education": "yes" if who == "W4" else "no",
                "suggestion": "=HYPERLINK(\"http://x\")" if who == "W1" else None,
            })  # fmt: skip
        await respond("W7", ours, "refused", "ussd", APRIL, {"consent": "no"})
        await respond("T3", ours, "in_progress", "ussd", APRIL, {"consent": "yes"})

        # Lebanon VTC: its own record of a number Kenya TVET has too.
        inserted = await conn.execute(
            respondents.insert()
            .values(
                organisation_id=theirs.organisation_id,
                phone=GRADUATES["W1"][0],
                name="L1",
                programme="Plumbing",
                cohort="2025",
                gender="male",
                on_roster=True,
                attributes={},
                created_at=JANUARY,
                updated_at=JANUARY,
            )
            .returning(respondents.c.id)
        )
        ids["L1"] = inserted.scalar_one()
        await respond("L1", theirs, "complete", "ussd", APRIL, {"town": "Tripoli"})
    return Tracer(
        survey_id=ours.survey_id,
        version_id=ours.version_id,
        other_survey_id=theirs.survey_id,
        respondent_ids=ids,
        total_responses=counts["responses"] - 1,
        total_answers=counts["answers"] - 1,
    )
