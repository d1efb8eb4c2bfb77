"""The dashboard counts graduates from `outcome_facts`, which it brings up to date on
each view: the same figures as counting the answers themselves, after new responses,
a changed indicator map, a deleted respondent and a forgotten test."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.outcome_facts import catch_up
from storage.outcomes import Outcomes, OutcomesCache, indicator_map, outcomes
from storage.respondents import import_respondents
from storage.results import ResultFilter
from storage.roster import delete_respondent
from storage.schema import answers, outcome_facts, respondents, responses
from storage.simulated import prepare_test_respondent
from storage.surveys import load_stored_form
from tests.admin.tracer_data import APRIL, SAMPLE, Tracer, seed_tracer

# A date before every response: the same responses, counted from the answers.
FROM_THE_ANSWERS = ResultFilter(since=dt.date(2020, 1, 1))


@pytest.fixture
async def tracer(engine: AsyncEngine) -> Tracer:
    return await seed_tracer(engine, "Kenya TVET", "Lebanon VTC")


def _form():
    return load_stored_form(SAMPLE.read_bytes(), "graduate_tracer")


async def _answers_again(
    engine: AsyncEngine, tracer: Tracer, who: str, given: tuple[tuple[str, str], ...]
) -> None:
    """`who` completes the survey once more, 90 days after April, answering `given`."""
    later = APRIL + dt.timedelta(days=90)
    async with engine.begin() as conn:
        inserted = await conn.execute(
            responses.insert()
            .values(respondent_id=tracer.respondent_ids[who], survey_id=tracer.survey_id,
                    survey_version_id=tracer.version_id, channel="ussd", status="complete",
                    language="en", started_at=later, updated_at=later, ended_at=later)
            .returning(responses.c.id)
        )  # fmt: skip
        response_id = inserted.scalar_one()
        await conn.execute(
            answers.insert(),
            [
                {"response_id": response_id, "question": question, "value": value,
                 "channel": "ussd", "answered_at": later, "updated_at": later}
                for question, value in given
            ],
        )  # fmt: skip


async def _both(
    engine: AsyncEngine, tracer: Tracer, filters: ResultFilter | None = None, **kwargs
) -> tuple[Outcomes, Outcomes]:
    form = _form()
    mapping = kwargs.pop("mapping", indicator_map(form))
    facts = await outcomes(engine, 1, form, tracer.survey_id, mapping, filters, **kwargs)
    live = dataclasses.replace(filters or ResultFilter(), since=FROM_THE_ANSWERS.since)
    counted = await outcomes(engine, 1, form, tracer.survey_id, mapping, live, **kwargs)
    return facts, counted


@pytest.mark.parametrize(
    ("filters", "dimension"),
    [
        (None, "programme"),
        (None, "gender"),
        (ResultFilter(cohort="2025-A"), "gender"),
        (ResultFilter(programme="Welding"), "cohort"),
    ],
)
async def test_the_facts_give_the_figures_the_answers_give(
    engine: AsyncEngine, tracer: Tracer, filters: ResultFilter | None, dimension: str
) -> None:
    facts, counted = await _both(engine, tracer, filters, dimension=dimension)
    assert facts == counted
    assert facts.overall.respondents > 0


async def test_a_response_that_ends_after_a_view_is_counted_at_the_next(
    engine: AsyncEngine, tracer: Tracer
) -> None:
    before, _ = await _both(engine, tracer)
    welding = next(g for g in before.groups if g.name == "Welding")
    assert (welding.respondents, welding.wage) == (6, 3)
    # W1 answers a third time, now out of work; T3 finishes the response it began.
    await _answers_again(
        engine, tracer, "W1", (("employed", "not_working"), ("skill_confidence", "5"))
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(responses)
            .where(
                responses.c.respondent_id == tracer.respondent_ids["T3"],
                responses.c.status == "in_progress",
            )
            .values(status="complete")
        )
    after, counted = await _both(engine, tracer)
    assert after == counted
    welding = next(g for g in after.groups if g.name == "Welding")
    assert (welding.respondents, welding.wage) == (6, 2)  # W1 still once, now not working
    assert after.skill_change(after.overall, "skill_confidence").n == 5  # W1: 2 -> 5
    tailoring = next(g for g in after.groups if g.name == "Tailoring")
    assert (tailoring.completed, tailoring.respondents) == (3, 3)


async def test_nothing_new_means_nothing_recounted(engine: AsyncEngine, tracer: Tracer) -> None:
    form = _form()
    async with engine.begin() as conn:
        first = await catch_up(conn, tracer.survey_id, indicator_map(form))
        again = await catch_up(conn, tracer.survey_id, indicator_map(form))
        rows = await conn.scalar(select(func.count()).select_from(outcome_facts))
    assert (first, again) == (10, 0)  # W1-W7, T1, T2, D1: complete or refused
    assert rows == 10


async def test_a_new_indicator_map_recounts_every_graduate(
    engine: AsyncEngine, tracer: Tracer
) -> None:
    mapping = indicator_map(_form())
    await _both(engine, tracer)
    # A version whose settings sheet maps employment to another question.
    other = dataclasses.replace(mapping, employment="further_education", wage=("yes",))
    facts, counted = await _both(engine, tracer, mapping=other)
    assert facts == counted
    assert (facts.overall.employment_answered, facts.overall.wage) == (9, 1)  # W4: yes
    back, _ = await _both(engine, tracer, mapping=mapping)
    assert back.overall.wage == 4  # W1, W2, W5, T1


async def test_a_deleted_respondent_and_a_forgotten_test_leave_the_figures(
    engine: AsyncEngine, tracer: Tracer
) -> None:
    await _both(engine, tracer)
    async with engine.begin() as conn:
        await delete_respondent(conn, 1, tracer.respondent_ids["W2"])
    facts, counted = await _both(engine, tracer)
    assert facts == counted
    welding = next(g for g in facts.groups if g.name == "Welding")
    assert (welding.invited, welding.respondents, welding.wage) == (7, 5, 2)

    # A test number answers, is counted when tests are asked for, then is forgotten.
    async with engine.begin() as conn:
        tester = await prepare_test_respondent(conn, 1, "+254999000001", by="a@example.org")
        await conn.execute(
            responses.insert().values(
                respondent_id=tester.id, survey_id=tracer.survey_id,
                survey_version_id=tracer.version_id, channel="ussd", status="complete",
                language="en", started_at=APRIL, updated_at=APRIL, ended_at=APRIL,
            )
        )  # fmt: skip
    tests = ResultFilter(tests="only")
    facts, counted = await _both(engine, tracer, tests)
    assert facts == counted and facts.overall.respondents == 1
    async with engine.begin() as conn:
        await prepare_test_respondent(
            conn, 1, "+254999000001", by="a@example.org", forget_survey_id=tracer.survey_id
        )
    facts, _ = await _both(engine, tracer, tests)
    assert facts.overall.respondents == 0


async def test_the_cache_keeps_figures_until_a_response_a_roster_change_or_time_moves_them(
    engine: AsyncEngine, tracer: Tracer
) -> None:
    form = _form()
    mapping = indicator_map(form)
    now = [0.0]
    cache = OutcomesCache(max_age=60, clock=lambda: now[0])

    async def view(filters: ResultFilter | None = None) -> Outcomes:
        return await outcomes(engine, 1, form, tracer.survey_id, mapping, filters, cache=cache)

    first = await view()
    assert await view() is first  # nothing changed: the same figures, not counted again
    assert await view(ResultFilter(cohort="2025-A")) is not first  # another question

    # A caller chooses a language (the respondent's row changes): the groups do not.
    async with engine.begin() as conn:
        await conn.execute(
            update(respondents)
            .where(respondents.c.id == tracer.respondent_ids["T1"])
            .values(language="sw", updated_at=dt.datetime.now(dt.UTC))
        )
    assert await view() is first

    # A graduate moves programme (a roster import): counted afresh.
    moves = "phone,programme\n+254700000011,Welding\n"
    await import_respondents(
        engine, moves.encode(), filename="roster.csv", default_region="KE", organisation=1
    )
    moved = await view()
    assert moved is not first
    assert next(g for g in moved.groups if g.name == "Welding").respondents == 7

    # T3 completes: the facts change, so do the figures.
    async with engine.begin() as conn:
        await conn.execute(
            update(responses)
            .where(responses.c.respondent_id == tracer.respondent_ids["T3"])
            .values(status="complete")
        )
    finished = await view()
    assert finished is not moved and finished.overall.completed == moved.overall.completed + 1

    # A deleted graduate.
    async with engine.begin() as conn:
        await delete_respondent(conn, 1, tracer.respondent_ids["W8"])
    fewer = await view()
    assert fewer.overall.invited == finished.overall.invited - 1

    assert await view() is fewer
    now[0] += 61  # past max_age: counted again even if nothing seems to have changed
    assert await view() is not fewer


async def test_a_few_graduates_more_correct_the_known_figures_as_a_full_count_would(
    engine: AsyncEngine, tracer: Tracer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storage.outcomes as module

    counted_for: list[object] = []
    real = module._count_facts

    async def spy(conn, scope, mapping, only=None):
        counted_for.append(only.graduates if only else "everyone")
        return await real(conn, scope, mapping, only)

    monkeypatch.setattr(module, "_count_facts", spy)
    form = _form()
    mapping = indicator_map(form)
    cache = OutcomesCache()
    for filters, dimension in ((None, "programme"), (ResultFilter(cohort="2025-A"), "gender")):
        await outcomes(engine, 1, form, tracer.survey_id, mapping, filters,
                       dimension=dimension, cache=cache)  # fmt: skip
    # W1 answers a third time (a new latest, a new skill pair); T3 finishes.
    await _answers_again(
        engine,
        tracer,
        "W1",
        (
            ("employed", "self"),
            ("months_to_job", "9"),
            ("satisfied", "disagree"),
            ("skill_confidence", "1"),
        ),
    )
    async with engine.begin() as conn:
        await conn.execute(
            update(responses)
            .where(responses.c.respondent_id == tracer.respondent_ids["T3"])
            .values(status="complete")
        )
    counted_for.clear()
    corrected = await outcomes(engine, 1, form, tracer.survey_id, mapping, cache=cache)
    graduates = (tracer.respondent_ids["W1"], tracer.respondent_ids["T3"])
    assert counted_for == [graduates, graduates]  # before and after, those two alone
    fresh = await outcomes(engine, 1, form, tracer.survey_id, mapping)
    assert corrected == fresh
    assert fresh.overall.self_employed == 4 and 9 in fresh.overall.months

    # The other question asked before was not corrected: the facts moved on since, so
    # it is counted again, and agrees.
    counted_for.clear()
    cohort = ResultFilter(cohort="2025-A")
    again = await outcomes(engine, 1, form, tracer.survey_id, mapping, cohort,
                           dimension="gender", cache=cache)  # fmt: skip
    assert counted_for == ["everyone"]
    assert again == await outcomes(engine, 1, form, tracer.survey_id, mapping, cohort,
                                   dimension="gender")  # fmt: skip
