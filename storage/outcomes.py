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
import time
import zipfile
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import ColumnElement, String, and_, case, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.outcome_facts import Claimed, claim, recount
from storage.results import ResultFilter
from storage.schema import answers, outcome_facts, respondents, responses, surveys
from survey_engine.events import ResponseStatus
from survey_engine.model import QuestionType, Survey

__all__ = [
    "DIMENSIONS",
    "MIN_CELL",
    "Distribution",
    "GroupOutcomes",
    "IndicatorMap",
    "Outcomes",
    "OutcomesCache",
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

    def add(self, other: GroupOutcomes, sign: int = 1) -> None:
        """Add `other`'s counts to these (`sign` -1: take them away; counts that come
        to nothing are dropped, as a count would not show them)."""
        for name in (
            "invited", "completed", "refused", "respondents", "employment_answered",
            "wage", "self_employed", "related", "further_answered", "further",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + sign * getattr(other, name))
        for month, count in other.months.items():
            self.months[month] = self.months.get(month, 0) + sign * count
            if not self.months[month]:
                del self.months[month]
        for question, counts in other.scales.items():
            mine = self.scales.setdefault(question, {})
            for choice, count in counts.items():
                mine[choice] = mine.get(choice, 0) + sign * count
                if not mine[choice]:
                    del mine[choice]
            if not mine:
                del self.scales[question]
        for question, figures in other.skills.items():
            mine_skill = self.skills.setdefault(question, [0, 0, 0, 0, 0])
            for i, value in enumerate(figures):
                mine_skill[i] += sign * value
            if not any(mine_skill):
                del self.skills[question]


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
    cache: OutcomesCache | None = None,
) -> Outcomes:
    """The outcomes of `survey_id` (its versions share question names; `survey` is the
    current one, for the scales' order) grouped by `dimension`.

    Counted from `outcome_facts` (one row per graduate, brought up to date first), or,
    when the filters choose responses by channel or date, from the responses and
    answers themselves: a graduate's latest response within those dates is not the
    one the facts hold. With a `cache`, figures already counted are kept while nothing
    they were counted from has changed, and after a few graduates more they are
    corrected by what those graduates count for, rather than counted again."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension is one of {', '.join(DIMENSIONS)}, not {dimension!r}")
    # The status filter means nothing here: outcomes are read from complete responses.
    filters = replace(filters or ResultFilter(), status=None, question=None)
    orders = _orders(survey, mapping)
    scope = _Scope(organisation_id, survey_id, filters, dimension)
    if filters.channel or filters.since or filters.until:
        async with engine.begin() as conn:
            return _figures(scope, orders, *await _count_responses(conn, scope, mapping))
    key = (scope, mapping, tuple(orders.items()))
    async with engine.begin() as conn:
        claimed = await claim(conn, survey_id, mapping)
        before = await _version(conn, scope) if cache is not None else ()
        known = cache.get(key, before) if cache is not None else None
        if known is not None and not claimed.graduates:
            return known
        if known is not None and not claimed.rebuilt and len(claimed.graduates) <= _DELTA_MAX:
            # A few graduates more: the figures known, less what those graduates counted
            # for, plus what they count for now; the same statement counts both.
            old = _figures(scope, orders, *await _count_facts(conn, scope, mapping, claimed))
            await recount(conn, survey_id, mapping, claimed)
            new = _figures(scope, orders, *await _count_facts(conn, scope, mapping, claimed))
            after = await _version(conn, scope)
            if after == (before[0] + 1, *before[1:]):  # nothing else changed meanwhile
                found = _combined(known, old, new)
                cache.put(key, after, found)  # type: ignore[union-attr]
                return found
        else:
            await recount(conn, survey_id, mapping, claimed)
        found = _figures(scope, orders, *await _count_facts(conn, scope, mapping))
        if cache is not None:
            cache.put(key, await _version(conn, scope), found)
    return found


def _figures(
    scope: _Scope, orders: Mapping[str, tuple[str, ...]], groups: _Groups, pairs: _Pairs
) -> Outcomes:
    """The figures from what was counted: the skills' pairs ranked, the groups named and
    summed into everyone's."""
    for name, question, before, after, n in pairs:
        rank = orders.get(question)
        start, end = _rank(before, rank), _rank(after, rank)
        if start is None or end is None:
            continue
        figures = groups[name].skills.setdefault(question, [0, 0, 0, 0, 0])
        figures[0] += n
        figures[1] += (end - start) * n
        figures[2 if end > start else 3 if end == start else 4] += n
    named = []
    for name in sorted(groups, key=lambda g: (g in ("", None), str(g or ""))):
        figures = groups[name]
        figures.name = name or "(not given)"
        named.append(figures)
    return _summed(scope.dimension, named, orders)


def _summed(
    dimension: str, groups: Sequence[GroupOutcomes], orders: Mapping[str, tuple[str, ...]]
) -> Outcomes:
    overall = GroupOutcomes("All")
    for figures in groups:
        overall.add(figures)
    return Outcomes(dimension, overall, tuple(groups), dict(orders))


def _combined(known: Outcomes, old: Outcomes, new: Outcomes) -> Outcomes:
    """`known` less `old` plus `new`, group by group, as new objects (`known` may be
    in use elsewhere)."""
    groups: dict[str, GroupOutcomes] = {}
    for outcome, sign in ((known, 1), (old, -1), (new, 1)):
        for group in outcome.groups:
            groups.setdefault(group.name, GroupOutcomes(group.name)).add(group, sign)
    order = [g.name for g in known.groups] + [
        g.name for g in new.groups if g.name not in {k.name for k in known.groups}
    ]
    named = sorted(order, key=lambda n: (n == "(not given)", n))
    return _summed(known.dimension, [groups[n] for n in named], known.scale_orders)


class OutcomesCache:
    """Figures already counted from the facts, kept while nothing they were counted
    from has changed: the survey's facts (`surveys.outcomes_version`, which deleting a
    respondent moves on too) and the organisation's groups (when a respondent's place
    in them last changed, `respondents.grouped_at`). A view with no new response since
    the last one is then two small reads. Entries also expire after `max_age` seconds:
    roster imports by processes whose clocks disagree could leave the last change where
    it was, and this bounds how long that would go unseen. One per process; callers
    must not change what it returns."""

    def __init__(
        self,
        entries: int = 128,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[Any, tuple[float, tuple[Any, ...], Outcomes]] = OrderedDict()
        self._size, self._max_age, self._clock = entries, max_age, clock

    def get(self, key: Any, version: tuple[Any, ...]) -> Outcomes | None:
        found = self._entries.get(key)
        if found is None or found[1] != version or self._clock() - found[0] > self._max_age:
            return None
        self._entries.move_to_end(key)
        return found[2]

    def put(self, key: Any, version: tuple[Any, ...], value: Outcomes) -> None:
        self._entries[key] = (self._clock(), version, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


async def _version(conn: AsyncConnection, scope: _Scope) -> tuple[Any, ...]:
    """What the figures of `scope` were counted from, in one small read (the groups'
    last change on the index of respondents by organisation and `grouped_at`)."""
    theirs = respondents.c.organisation_id == scope.organisation_id
    row = (
        await conn.execute(
            select(
                surveys.c.outcomes_version,
                select(func.max(respondents.c.grouped_at)).where(theirs).scalar_subquery(),
            ).where(surveys.c.id == scope.survey_id)
        )
    ).one()
    return tuple(row)


@dataclass(frozen=True, slots=True)
class _Scope:
    organisation_id: int
    survey_id: int
    filters: ResultFilter
    dimension: str

    @property
    def group(self) -> ColumnElement[str]:
        return respondents.c[self.dimension]

    def roster(self) -> list[ColumnElement[bool]]:
        """The graduates on the roster the response rate is over."""
        return [*self.filters.respondent_conditions(self.organisation_id), respondents.c.on_roster]


# Each counting returns the skills' first-to-last pairs as counted, (group, skill,
# first answer, latest answer, graduates): `outcomes` ranks them.
_Pairs = list[tuple[Any, ...]]
_Groups = dict[Any, GroupOutcomes]
# Graduates counted afresh at once for which the figures known are corrected rather
# than counted again: past this, counting everything is as quick.
_DELTA_MAX = 500


async def _count_facts(
    conn: AsyncConnection, scope: _Scope, mapping: IndicatorMap, only: Claimed | None = None
) -> tuple[_Groups, _Pairs]:
    """Every figure in one statement: the organisation's respondents (within the
    filters; with `only`, just those graduates) joined once with their facts, then each
    kind of figure counted from that join, told apart by the first column."""
    groups: _Groups = defaultdict(lambda: GroupOutcomes(""))
    chosen = scope.filters.respondent_conditions(scope.organisation_id)
    if only is not None:
        chosen.append(respondents.c.id.in_(only.graduates))
    f = outcome_facts
    scales, skills = mapping.scales, mapping.skills
    graduates = (
        select(
            scope.group.label("grp"),
            respondents.c.on_roster,
            func.coalesce(f.c.completes, 0).label("completes"),
            func.coalesce(f.c.refused, False).label("refused"),
            f.c.employment,
            f.c.months_to_job,
            f.c.related,
            f.c.further_education,
            *(f.c.latest_values[q].as_string().label(f"latest_{i}") for i, q in enumerate(scales)),
            # Pairs only where there are two responses: most graduates skip the reads.
            *(
                case((f.c.completes > 1, f.c.latest_values[q].as_string())).label(f"last_{i}")
                for i, q in enumerate(skills)
            ),
            *(
                case((f.c.completes > 1, f.c.first_values[q].as_string())).label(f"first_{i}")
                for i, q in enumerate(skills)
            ),
        )
        .select_from(respondents)
        .outerjoin(f, and_(f.c.respondent_id == respondents.c.id, f.c.survey_id == scope.survey_id))
        .where(*chosen)
        .cte("graduates")
    )
    g = graduates.c
    nothing = literal(None, String)
    zero = literal(0)
    answered = g.completes > 0
    latest = _latest_columns(graduates, mapping)
    branches = [
        select(
            literal("roster"), g.grp, nothing, nothing, nothing, func.count(),
            func.sum(case((answered, 1), else_=0)),
            func.sum(case((and_(g.completes == 0, g.refused), 1), else_=0)),
            zero, zero, zero, zero,
        ).where(g.on_roster).group_by(g.grp),
        select(literal("latest"), g.grp, latest[0], nothing, nothing, *latest[1:])
        .where(answered)
        .group_by(g.grp, latest[0]),
        *(
            select(
                literal("scale"), g.grp, literal(q), g[f"latest_{i}"], nothing, func.count(),
                zero, zero, zero, zero, zero, zero,
            ).where(answered).group_by(g.grp, g[f"latest_{i}"])
            for i, q in enumerate(scales)
        ),
        *(
            select(
                literal("skill"), g.grp, literal(q), g[f"first_{i}"], g[f"last_{i}"],
                func.count(), zero, zero, zero, zero, zero, zero,
            ).where(g.completes > 1).group_by(g.grp, g[f"first_{i}"], g[f"last_{i}"])
            for i, q in enumerate(skills)
        ),
    ]  # fmt: skip
    pairs: _Pairs = []
    for kind, name, first, second, third, n, *rest in await conn.execute(union_all(*branches)):
        if kind == "roster":
            figures = groups[name]
            figures.invited, figures.completed, figures.refused = n, int(rest[0]), int(rest[1])
        elif kind == "latest":
            _fold_latest(groups[name], first, n, *rest)
        elif kind == "scale":
            if second is not None:
                groups[name].scales.setdefault(first, {})[second] = n
        else:
            pairs.append((name, first, second, third, n))
    return groups, pairs


async def _count_responses(
    conn: AsyncConnection, scope: _Scope, mapping: IndicatorMap
) -> tuple[_Groups, _Pairs]:
    groups: _Groups = defaultdict(lambda: GroupOutcomes(""))
    conditions = [
        responses.c.survey_id == scope.survey_id,
        *scope.filters.conditions(scope.organisation_id),
    ]
    group = scope.group
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
    await _tally_roster(conn, scope, per_respondent, groups)

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
    await _tally_latest(conn, pivot, mapping, groups)

    if mapping.scales:
        rows = await conn.execute(
            select(latest.c.grp, answers.c.question, answers.c.value, func.count())
            .join_from(latest, answers, answers.c.response_id == latest.c.response_id)
            .where(answers.c.question.in_(mapping.scales))
            .group_by(latest.c.grp, answers.c.question, answers.c.value)
        )
        for name, question, value, n in rows:
            groups[name].scales.setdefault(question, {})[value] = n

    if not mapping.skills:
        return groups, []
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
    return groups, [tuple(row) for row in rows]


async def _tally_roster(
    conn: AsyncConnection, scope: _Scope, per_respondent: Any, groups: dict[str, GroupOutcomes]
) -> None:
    """Invited, completed and refused per group: the roster outer-joined with a
    (respondent_id, done, refused) per graduate who answered."""
    p = per_respondent.c
    rows = await conn.execute(
        select(
            scope.group,
            func.count(),
            func.coalesce(func.sum(p.done), 0),
            func.coalesce(func.sum(case((p.done == 0, p.refused), else_=0)), 0),
        )
        .select_from(respondents)
        .outerjoin(per_respondent, p.respondent_id == respondents.c.id)
        .where(*scope.roster())
        .group_by(scope.group)
    )
    for name, invited, completed, refused in rows:
        figures = groups[name]
        figures.invited, figures.completed, figures.refused = invited, completed, refused


async def _tally_latest(
    conn: AsyncConnection, graduates: Any, mapping: IndicatorMap, groups: dict[str, GroupOutcomes]
) -> None:
    """The figures of each graduate's latest complete response, from one row per
    graduate (grp, employment, months_to_job, related, further_education)."""
    columns = _latest_columns(graduates, mapping)
    rows = await conn.execute(
        select(graduates.c.grp, *columns).group_by(graduates.c.grp, columns[0])
    )
    for name, month, n, *rest in rows:
        _fold_latest(groups[name], month, n, *rest)


def _latest_columns(graduates: Any, mapping: IndicatorMap) -> list[ColumnElement[Any]]:
    """The months (grouped by), then the counts, over one row per graduate. One pass
    gives the counts and the months' histogram: grouped by the months of those in work
    too (a months answer left by someone not working is not a first job), then summed
    per group in `_fold_latest`; at most groups x distinct months rows."""
    p = graduates.c
    working = (*mapping.wage, *mapping.self_employed) or ("",)
    related = and_(p.employment.in_(working), p.related.in_(mapping.related_yes or ("",)))
    return [
        case((p.employment.in_(working), p.months_to_job)).label("months"),
        func.count(),
        func.count(p.employment),
        _count_in(p.employment, mapping.wage),
        _count_in(p.employment, mapping.self_employed),
        func.sum(case((related, 1), else_=0)),
        func.count(p.further_education),
        _count_in(p.further_education, mapping.further_yes),
    ]


def _fold_latest(
    figures: GroupOutcomes,
    month: object,
    n: int,
    employment_n: int,
    wage: int | None,
    own: int | None,
    related: int | None,
    further_n: int,
    further: int | None,
) -> None:
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
