"""The tracer study's outcomes for the dashboard, counted in SQL.

What is counted (after the ETF/Cedefop/ILO guide "Carrying out tracer studies" and
indikit's "Employment of VET completers"):

- response rate: graduates on the organisation's roster (in the programme, cohort and
  gender chosen) who completed the survey; those who refused are counted apart. Until
  studies and waves say who was invited to which survey, everyone on the roster is
  taken as invited. Callers not on the roster are respondents but not in this rate.
- every other figure among respondents: each graduate's latest complete response,
  once, so a graduate who answered twice is not counted twice;
- employment: wage and self-employed among those who answered the employment question;
- relevant employment: employed in work related to the training, among all
  respondents (indikit's definition);
- time to first job: the months' median among those who gave them, and the share
  within 3 and within 6 months;
- agreement scales (satisfaction, relevance): the distribution of answers;
- distance travelled: for graduates with two complete responses or more, each skill
  scale's first answer against their latest (paired: mean change in scale points,
  share improved, unchanged, worse). Once waves exist, the comparison is by wave.

Which question holds what is an `IndicatorMap`: by default the names of the sample
survey (`examples/graduate_tracer.xlsx`), changed per survey by a `tracer_indicators`
column on its settings sheet (see `indicator_map`).

Statements return counts and small histograms (the months, the scale answers, the
first-to-last transitions), never answers one by one; figures are made from them in
Python, where a cell of fewer than `MIN_CELL` respondents is hidden with its reason.
"""

from __future__ import annotations

import io
import statistics
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from openpyxl import load_workbook
from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.results import ResultFilter
from storage.schema import answers, respondents, responses
from survey_engine.events import ResponseStatus
from survey_engine.model import QuestionType, Survey

__all__ = [
    "DIMENSIONS",
    "MIN_CELL",
    "Distribution",
    "GroupOutcomes",
    "IndicatorMap",
    "Outcomes",
    "Share",
    "SkillChange",
    "indicator_map",
    "outcomes",
]

MIN_CELL = 5  # fewer respondents than this: the figure is hidden
HIDDEN_REASON = f"fewer than {MIN_CELL} respondents: hidden for privacy, and too few to mean much"
DIMENSIONS = ("programme", "cohort", "gender")
SETTINGS_COLUMN = "tracer_indicators"
_WHERE = f"settings sheet, column {SETTINGS_COLUMN}"
_COMPLETE = ResponseStatus.COMPLETE.value
_REFUSED = ResponseStatus.REFUSED.value


@dataclass(frozen=True, slots=True)
class IndicatorMap:
    """Which question of a survey holds which indicator (None or empty: not asked)."""

    employment: str | None = "employed"
    wage: tuple[str, ...] = ("wage",)  # choices of `employment` meaning wage employment
    self_employed: tuple[str, ...] = ("self",)
    months_to_job: str | None = "months_to_job"
    related: str | None = "job_related"
    related_yes: tuple[str, ...] = ("yes",)  # choices of `related` meaning related
    further_education: str | None = "further_education"
    further_yes: tuple[str, ...] = ("yes",)
    scales: tuple[str, ...] = ("satisfied", "training_relevant")  # shown as distributions
    skills: tuple[str, ...] = ()  # soft-skill scales (default: questions named skill_*)
    problems: tuple[str, ...] = ()  # what was wrong with the settings sheet's mapping

    @property
    def questions(self) -> tuple[str, ...]:
        single = (self.employment, self.months_to_job, self.related, self.further_education)
        return tuple(q for q in single if q)


_SINGLE = ("employment", "months_to_job", "related", "further_education")
_CHOICES = ("wage", "self_employed", "related_yes", "further_yes")
_LISTS = ("scales", "skills")
_ALIASES = {"self": "self_employed"}


def indicator_map(survey: Survey, source: bytes | None = None) -> IndicatorMap:
    """The map for `survey`: the defaults, then the settings sheet's `tracer_indicators`
    column (`employment=work_status; wage=employee; skills=skill_a skill_b`) when the
    stored form has one. Questions the survey does not have are left out; a mistake
    in the column is kept in `problems` for the dashboard to show."""
    names = {q.name: q for q in survey.questions}
    skills = tuple(
        q.name
        for q in survey.questions
        if q.name.startswith("skill_") and q.type in (QuestionType.SELECT_ONE, QuestionType.INTEGER)
    )
    found = IndicatorMap(skills=skills)
    problems: list[str] = []
    text = _settings_mapping(source) if source else ""
    changes: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.replace("\n", ";").split(";"))):
        key, equals, value = (s.strip() for s in part.partition("="))
        key = _ALIASES.get(key, key)
        words = tuple(value.split())
        if not equals or key not in (*_SINGLE, *_CHOICES, *_LISTS):
            known = ", ".join((*_SINGLE, "wage", "self", "related_yes", "further_yes", *_LISTS))
            problems.append(f"{_WHERE}: '{part}' is not one of {known}=...")
            continue
        if key in _SINGLE:
            if len(words) > 1:
                problems.append(f"{_WHERE}: {key} names one question")
                continue
            changes[key] = words[0] if words else None
        else:
            changes[key] = words
    found = replace(found, **changes)  # type: ignore[arg-type]
    kept: dict[str, object] = {}
    for key in _SINGLE:
        question = getattr(found, key)
        if question and question not in names:
            if key in changes:
                problems.append(f"{_WHERE}: {key}={question}, but the survey has no such question")
            kept[key] = None
    for key in _LISTS:
        present = tuple(q for q in getattr(found, key) if q in names)
        missing = [q for q in getattr(found, key) if q not in names]
        if missing and key in changes:
            problems.append(
                f"{_WHERE}: {key} names {', '.join(missing)}, but the survey has no such question"
            )
        kept[key] = present
    return replace(found, problems=tuple(problems), **kept)  # type: ignore[arg-type]


def _settings_mapping(source: bytes) -> str:
    """The settings sheet's `tracer_indicators` cell in an .xlsx form, or ""."""
    if not zipfile.is_zipfile(io.BytesIO(source)):
        return ""
    book = load_workbook(io.BytesIO(source), read_only=True, data_only=True)
    try:
        sheet = next((s for s in book.worksheets if s.title.strip().lower() == "settings"), None)
        if sheet is None:
            return ""
        rows = sheet.iter_rows(min_row=1, max_row=2, values_only=True)
        header, first = next(rows, ()), next(rows, ())
        for index, name in enumerate(header):
            if str(name or "").strip().lower() == SETTINGS_COLUMN and index < len(first):
                return str(first[index] or "")
        return ""
    finally:
        book.close()


# -- figures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Share:
    """`count` of `n`; hidden when `n` is under MIN_CELL."""

    count: int
    n: int

    @property
    def hidden(self) -> bool:
        return self.n < MIN_CELL

    @property
    def percent(self) -> float | None:
        if self.hidden or not self.n:
            return None
        return round(100.0 * self.count / self.n, 1)


@dataclass(frozen=True, slots=True)
class Distribution:
    """Answers to one scale question: count per choice name, in the scale's order."""

    question: str
    counts: tuple[tuple[str, int], ...]

    @property
    def n(self) -> int:
        return sum(count for _, count in self.counts)

    @property
    def hidden(self) -> bool:
        return self.n < MIN_CELL

    def shares(self) -> list[tuple[str, Share]]:
        return [(name, Share(count, self.n)) for name, count in self.counts]


@dataclass(frozen=True, slots=True)
class SkillChange:
    """The paired change of one skill scale between a graduate's first and latest
    complete responses."""

    question: str
    n: int  # graduates with both answers
    total_change: int  # sum of (latest - first), in scale points
    improved: int
    unchanged: int
    worse: int

    @property
    def hidden(self) -> bool:
        return self.n < MIN_CELL

    @property
    def mean_change(self) -> float | None:
        return None if self.hidden or not self.n else round(self.total_change / self.n, 2)

    def share(self, part: str) -> Share:
        return Share(getattr(self, part), self.n)


@dataclass(slots=True)
class GroupOutcomes:
    """Every figure for one group (a programme, a cohort, a gender, or everyone)."""

    name: str
    invited: int = 0  # on the roster
    completed: int = 0  # of those invited
    refused: int = 0  # of those invited, and never completed
    respondents: int = 0  # latest complete responses (roster or not)
    employment_answered: int = 0
    wage: int = 0
    self_employed: int = 0
    related: int = 0
    further_answered: int = 0
    further: int = 0
    months: dict[int, int] = field(default_factory=dict)  # months -> graduates
    scales: dict[str, dict[str, int]] = field(default_factory=dict)  # question -> choice -> n
    skills: dict[str, list[int]] = field(default_factory=dict)  # question -> [n, sum, +, =, -]

    @property
    def response_rate(self) -> Share:
        return Share(self.completed, self.invited)

    @property
    def refusal_rate(self) -> Share:
        return Share(self.refused, self.invited)

    @property
    def employment_rate(self) -> Share:
        return Share(self.wage + self.self_employed, self.employment_answered)

    @property
    def wage_rate(self) -> Share:
        return Share(self.wage, self.employment_answered)

    @property
    def self_employment_rate(self) -> Share:
        return Share(self.self_employed, self.employment_answered)

    @property
    def relevant_employment(self) -> Share:
        return Share(self.related, self.respondents)

    @property
    def further_education(self) -> Share:
        return Share(self.further, self.further_answered)

    @property
    def months_n(self) -> int:
        return sum(self.months.values())

    @property
    def median_months(self) -> float | None:
        if self.months_n < MIN_CELL:
            return None
        # The months are a histogram; expanding it is at most n small ints, already
        # counted by SQL (n is the graduates who gave months, not the answers table).
        return float(statistics.median(m for m, k in sorted(self.months.items()) for _ in range(k)))

    def within(self, months: int) -> Share:
        return Share(sum(k for m, k in self.months.items() if m <= months), self.months_n)

    def add(self, other: GroupOutcomes) -> None:
        for name in (
            "invited", "completed", "refused", "respondents", "employment_answered",
            "wage", "self_employed", "related", "further_answered", "further",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for month, count in other.months.items():
            self.months[month] = self.months.get(month, 0) + count
        for question, counts in other.scales.items():
            mine = self.scales.setdefault(question, {})
            for choice, count in counts.items():
                mine[choice] = mine.get(choice, 0) + count
        for question, figures in other.skills.items():
            mine_skill = self.skills.setdefault(question, [0, 0, 0, 0, 0])
            for i, value in enumerate(figures):
                mine_skill[i] += value


@dataclass(frozen=True, slots=True)
class Outcomes:
    """The dashboard's figures: everyone, then each group of `dimension`."""

    dimension: str
    overall: GroupOutcomes
    groups: tuple[GroupOutcomes, ...]
    scale_orders: Mapping[str, tuple[str, ...]]  # question -> choice names in order

    def distribution(self, group: GroupOutcomes, question: str) -> Distribution:
        counts = group.scales.get(question, {})
        order = self.scale_orders.get(question, ()) or tuple(sorted(counts))
        return Distribution(question, tuple((name, counts.get(name, 0)) for name in order))

    def skill_change(self, group: GroupOutcomes, question: str) -> SkillChange:
        n, total, up, same, down = group.skills.get(question, [0, 0, 0, 0, 0])
        return SkillChange(question, n, total, up, same, down)


# -- SQL ----------------------------------------------------------------------------------


async def outcomes(
    engine: AsyncEngine,
    organisation_id: int,
    survey: Survey,
    survey_id: int,
    mapping: IndicatorMap,
    filters: ResultFilter | None = None,
    *,
    dimension: str = "programme",
) -> Outcomes:
    """The outcomes of `survey_id` (its versions share question names; `survey` is the
    current one, for the scales' order) grouped by `dimension`."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension is one of {', '.join(DIMENSIONS)}, not {dimension!r}")
    # The status filter means nothing here: outcomes are read from complete responses.
    filters = replace(filters or ResultFilter(), status=None, question=None)
    conditions = [responses.c.survey_id == survey_id, *filters.conditions(organisation_id)]
    group = respondents.c[dimension]
    groups: dict[str, GroupOutcomes] = defaultdict(lambda: GroupOutcomes(""))
    orders = _orders(survey, mapping)

    async with engine.connect() as conn:
        # Response rate, over the roster.
        per_respondent = (
            select(
                responses.c.respondent_id,
                func.max(case((responses.c.status == _COMPLETE, 1), else_=0)).label("done"),
                func.max(case((responses.c.status == _REFUSED, 1), else_=0)).label("refused"),
            )
            .join_from(responses, respondents, respondents.c.id == responses.c.respondent_id)
            .where(*conditions)
            .group_by(responses.c.respondent_id)
            .subquery()
        )
        roster = [respondents.c.organisation_id == organisation_id, respondents.c.on_roster]
        for name in ("programme", "cohort", "gender"):
            value = getattr(filters, name)
            if value:
                roster.append(respondents.c[name] == value)
        rows = await conn.execute(
            select(
                group,
                func.count(),
                func.coalesce(func.sum(per_respondent.c.done), 0),
                func.coalesce(
                    func.sum(case((per_respondent.c.done == 0, per_respondent.c.refused), else_=0)),
                    0,
                ),
            )
            .select_from(respondents)
            .outerjoin(per_respondent, per_respondent.c.respondent_id == respondents.c.id)
            .where(*roster)
            .group_by(group)
        )
        for name, invited, completed, refused in rows:
            figures = groups[name]
            figures.invited, figures.completed, figures.refused = invited, completed, refused

        # Each graduate's latest complete response: ids grow with time.
        latest = (
            select(func.max(responses.c.id).label("response_id"), group.label("grp"))
            .join_from(responses, respondents, respondents.c.id == responses.c.respondent_id)
            .where(*conditions, responses.c.status == _COMPLETE)
            .group_by(responses.c.respondent_id, group)
            .subquery()
        )
        pivot_columns = [latest.c.grp]
        for key in ("employment", "months_to_job", "related", "further_education"):
            question = getattr(mapping, key)
            pivot_columns.append(
                func.max(case((answers.c.question == question, answers.c.value))).label(key)
                if question
                else literal(None).label(key)
            )
        pivot = (
            select(*pivot_columns)
            .select_from(latest)
            .outerjoin(
                answers,
                and_(
                    answers.c.response_id == latest.c.response_id,
                    answers.c.question.in_(mapping.questions or ("",)),
                ),
            )
            .group_by(latest.c.response_id, latest.c.grp)
            .subquery()
        )
        p = pivot.c
        # One pass gives the counts and the months' histogram: grouped by the months of
        # those in work too (a months answer left by someone not working is not a first
        # job), then summed per group here; at most groups x distinct months rows.
        working = (*mapping.wage, *mapping.self_employed) or ("",)
        months = case((p.employment.in_(working), p.months_to_job)).label("months")
        rows = await conn.execute(
            select(
                p.grp,
                months,
                func.count(),
                func.count(p.employment),
                _count_in(p.employment, mapping.wage),
                _count_in(p.employment, mapping.self_employed),
                func.sum(
                    case(
                        (
                            and_(
                                p.employment.in_(working),
                                p.related.in_(mapping.related_yes or ("",)),
                            ),
                            1,
                        ),
                        else_=0,
                    )
                ),
                func.count(p.further_education),
                _count_in(p.further_education, mapping.further_yes),
            ).group_by(p.grp, months)
        )
        for name, month, n, employment_n, wage, own, related, further_n, further in rows:
            figures = groups[name]
            figures.respondents += n
            figures.employment_answered += employment_n
            figures.wage += int(wage or 0)
            figures.self_employed += int(own or 0)
            figures.related += int(related or 0)
            figures.further_answered += further_n
            figures.further += int(further or 0)
            whole = _whole_months(month) if month is not None else None
            if whole is not None:
                figures.months[whole] = figures.months.get(whole, 0) + n

        if mapping.scales:
            rows = await conn.execute(
                select(latest.c.grp, answers.c.question, answers.c.value, func.count())
                .join_from(latest, answers, answers.c.response_id == latest.c.response_id)
                .where(answers.c.question.in_(mapping.scales))
                .group_by(latest.c.grp, answers.c.question, answers.c.value)
            )
            for name, question, value, count in rows:
                groups[name].scales.setdefault(question, {})[value] = count

        if mapping.skills:
            ends = (
                select(
                    responses.c.respondent_id,
                    group.label("grp"),
                    func.min(responses.c.id).label("first_id"),
                    func.max(responses.c.id).label("last_id"),
                )
                .join_from(responses, respondents, respondents.c.id == responses.c.respondent_id)
                .where(*conditions, responses.c.status == _COMPLETE)
                .group_by(responses.c.respondent_id, group)
                .having(func.count() > 1)
                .subquery()
            )
            first, last = answers.alias("first"), answers.alias("last")
            rows = await conn.execute(
                select(ends.c.grp, first.c.question, first.c.value, last.c.value, func.count())
                .select_from(ends)
                .join(
                    first,
                    and_(
                        first.c.response_id == ends.c.first_id,
                        first.c.question.in_(mapping.skills),
                    ),
                )
                .join(
                    last,
                    and_(last.c.response_id == ends.c.last_id, last.c.question == first.c.question),
                )
                .group_by(ends.c.grp, first.c.question, first.c.value, last.c.value)
            )
            for name, question, before, after, count in rows:
                rank = orders.get(question)
                start, end = _rank(before, rank), _rank(after, rank)
                if start is None or end is None:
                    continue
                figures_ = groups[name].skills.setdefault(question, [0, 0, 0, 0, 0])
                figures_[0] += count
                figures_[1] += (end - start) * count
                figures_[2 if end > start else 3 if end == start else 4] += count

    overall = GroupOutcomes("All")
    named = []
    for name in sorted(groups, key=lambda g: (g in ("", None), str(g or ""))):
        figures = groups[name]
        figures.name = name or "(not given)"
        overall.add(figures)
        named.append(figures)
    return Outcomes(dimension, overall, tuple(named), orders)


def _count_in(column: ColumnElement[str], values: Iterable[str]) -> ColumnElement[int]:
    chosen = tuple(values) or ("",)
    return func.sum(case((column.in_(chosen), 1), else_=0))


def _whole_months(value: object) -> int | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return int(number) if number >= 0 else None


def _orders(survey: Survey, mapping: IndicatorMap) -> dict[str, tuple[str, ...]]:
    """Each scale's and skill's choice names in the form's order (the scale's ranks)."""
    wanted = {*mapping.scales, *mapping.skills}
    return {
        q.name: tuple(dict.fromkeys(c.name for c in q.choices))
        for q in survey.questions
        if q.name in wanted and q.choices
    }


def _rank(value: str, order: Sequence[str] | None) -> int | None:
    """A scale answer's rank: its place among the choices, or the number typed."""
    if order:
        return order.index(value) if value in order else None
    try:
        return int(value)
    except ValueError:
        return None
