"""Importing XLSForm surveys and binding them to USSD codes and IVR numbers
(`service-tracker survey import`).

A survey is identified by its `form_id`; each upload with a new `settings.version` adds
an immutable version, and new sessions use the newest one. Re-importing the very same
file is a no-op, so the command can be re-run safely; a different file under a version
that already exists is refused, since answers already stored refer to that version.

Every survey belongs to an organisation (`storage.organisations`). A `form_id` is
unique across the service for now, and an import never moves a survey, a USSD code or
an IVR number from one organisation to another: those are refused.

    SurveyVersionConflict(ValueError)   same form_id and version, different file
    OtherOrganisationError(ValueError)  the form_id, code or number is another
                                        organisation's
    OrganisationError(ValueError)       from storage.organisations: no organisation can
                                        be chosen as asked
    UssdCodeError(ValueError)           a USSD code that is not *digits*...#
    PhoneNumberError(ValueError)        an IVR number that is not digits (`ivr_address`)
    SurveyLoadError                     from survey_engine.xlsform: the form has errors

Staff publish or close a survey (`set_status`): a closed one keeps its bindings but
starts no new session. `bind_address` / `unbind_address` change one binding with the
checks `survey import --ussd-code / --ivr-number` makes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import connected, upsert_insert
from storage.organisations import organisation_for_import
from storage.schema import entry_points, responses, survey_media, survey_versions, surveys
from survey_engine.errors import FormWarning, SurveyLoadError
from survey_engine.model import Survey
from survey_engine.phones import ivr_address
from survey_engine.ports import SurveyVersionRef
from survey_engine.xlsform import load_xlsform

__all__ = [
    "Binding",
    "ImportedSurvey",
    "OtherOrganisationError",
    "StoredVersion",
    "SurveyStatus",
    "SurveySummary",
    "SurveyVersionConflict",
    "UssdCodeError",
    "bind_address",
    "bindings_of",
    "dialled_code",
    "find_survey",
    "import_survey",
    "list_surveys",
    "load_stored_form",
    "parse_ussd_code",
    "response_counts",
    "set_status",
    "stored_media",
    "survey_of",
    "unbind_address",
    "unloadable_versions",
    "versions_of",
]


class SurveyVersionConflict(ValueError):
    """A different file claims a (form_id, version) that is already imported."""


class OtherOrganisationError(ValueError):
    """An import names a form_id, USSD code or IVR number that another organisation's
    survey holds: it is never moved between organisations."""


class UssdCodeError(ValueError):
    """A USSD code that is not a `*`, digits separated by `*`, and a final `#`."""


class SurveyStatus(enum.StrEnum):
    PUBLISHED = "published"  # its codes and numbers start sessions
    CLOSED = "closed"  # fieldwork is over: no new session starts


@dataclass(frozen=True, slots=True)
class ImportedSurvey:
    survey_id: int
    version_id: int
    form_id: str
    version: str
    created: bool  # False: this exact file was already imported
    organisation_id: int
    organisation: str  # its name
    ivr_numbers: tuple[str, ...] = ()  # bound by this import, as stored (`ivr_address`)
    warnings: tuple[FormWarning, ...] = ()  # the loader's, e.g. questions left out


@dataclass(frozen=True, slots=True)
class SurveySummary:
    survey_id: int
    organisation_id: int
    form_id: str
    title: str
    version_id: int  # the current (newest) version
    version: str
    versions: int
    languages: tuple[str, ...]
    ussd_codes: tuple[str, ...]  # as dialled: "*384*123#", "*384*123*2#"
    ivr_numbers: tuple[str, ...]  # as `ivr_address` stores them: "+254201234567", "4000"
    created_at: dt.datetime
    imported_at: dt.datetime  # of the current version
    status: SurveyStatus = SurveyStatus.PUBLISHED


@dataclass(frozen=True, slots=True)
class StoredVersion:
    id: int
    version: str
    languages: tuple[str, ...]
    imported_at: dt.datetime
    media: tuple[str, ...]  # the files stored with it, by name


@dataclass(frozen=True, slots=True)
class Binding:
    channel: str  # "ussd" or "ivr"
    address: str  # a USSD code as dialled, an IVR number as `ivr_address` stores it
    roster_only: bool


_USSD_CODE = re.compile(r"\*\d+(?:\*\d+)*#")


def parse_ussd_code(code: str, *, base_segments: int = 2) -> tuple[str, str]:
    """Split a dialled code into what the gateway sends: (service code, extension).

    The gateway's `serviceCode` is always the base code and an extension arrives as the
    first `text`, so `*384*123*2#` is `("*384*123#", "2")` and `*384*123#` is
    `("*384*123#", "")`. The base is the first `base_segments` numbers: two for the
    shared codes of aggregators such as Africa's Talking (`*384*123#`); a dedicated
    short code (`*544#`, whose extensions are `*544*2#`) needs `base_segments=1`.
    An extension of several numbers (`*384*123*2*5#`) is kept as the gateway joins
    inputs: `"2*5"`."""
    text = code.strip().replace(" ", "")
    if not _USSD_CODE.fullmatch(text):
        raise UssdCodeError(
            f"USSD code {code!r} is not valid: expected '*', numbers separated by '*' and a "
            "final '#', such as *384*123# or *384*123*2# (with extension 2)"
        )
    numbers = text[1:-1].split("*")
    base = "*" + "*".join(numbers[:base_segments]) + "#"
    return base, "*".join(numbers[base_segments:])


def dialled_code(service_code: str, extension: str) -> str:
    """The code a respondent dials: `("*384*123#", "2")` is `*384*123*2#`."""
    return f"{service_code[:-1]}*{extension}#" if extension else service_code


async def import_survey(
    engine: AsyncEngine,
    source: bytes,
    *,
    filename: str,
    ussd_code: str | None,
    roster_only: bool,
    ivr_numbers: Sequence[str] = (),
    default_region: str | None = None,
    skip_unaskable: bool = False,
    media: Mapping[str, bytes] | None = None,
    organisation: int | str | None = None,
    audit: Callable[[AsyncConnection, ImportedSurvey], Awaitable[None]] | None = None,
) -> ImportedSurvey:
    """Store an XLSForm upload as a survey version of `organisation` and optionally bind
    a USSD code and IVR numbers to it (`roster_only` applies to each).

    `organisation` is an id, a name (made when new) or None: the only organisation, or
    `Default` when there is none yet (`storage.organisations.organisation_for_import`).
    A form_id, code or number of another organisation's survey is refused
    (`OtherOrganisationError`).

    `filename` names the survey when the form has no `settings.form_id`, as in ODK.
    An IVR number is stored as `ivr_address` reads it in `default_region` (an E.164
    number, or an extension's digits). Binding a code or number that reached another
    survey of the same organisation moves it to this one. Every code and number is
    checked before anything is stored. With `skip_unaskable`, the questions a phone
    cannot ask are left out instead of refusing the form (`ImportedSurvey.warnings`
    names each). `media`: files imported beside the form, by name (the CSV lists of
    select_one_from_file): the ones the form names are stored with the version.
    `audit(conn, imported)` runs in the import's transaction, so the admin site's
    audit line is stored with the import or not at all."""
    binding = parse_ussd_code(ussd_code) if ussd_code else None
    ivr_addresses = tuple(dict.fromkeys(ivr_address(n, default_region) for n in ivr_numbers))
    fallback_form_id = PurePath(filename).stem or "survey"
    media = dict(media or {})
    survey = await asyncio.to_thread(
        partial(load_xlsform, skip_unaskable=skip_unaskable, media=media),
        source,
        fallback_form_id=fallback_form_id,
    )
    # Only the files the form reads are kept with the version.
    kept = {name: media[name] for name in sorted(survey.media_files) if name in media}
    digest = _digest(source, kept)
    now = dt.datetime.now(dt.UTC)

    async with engine.begin() as conn:
        organisation_id, organisation_name = await organisation_for_import(conn, organisation, now)
        survey_id = await _survey_id(conn, organisation_id, survey.form_id, survey.title, now)
        existing = (
            await conn.execute(
                select(survey_versions.c.id, survey_versions.c.source_sha256).where(
                    survey_versions.c.survey_id == survey_id,
                    survey_versions.c.version == survey.version,
                )
            )
        ).first()
        if existing is not None and existing.source_sha256 != digest:
            raise SurveyVersionConflict(
                f"survey '{survey.form_id}' version '{survey.version}' is already imported "
                "from a different file; raise `version` on the settings sheet (or remove it "
                "to have one computed from the file) and import again"
            )
        if existing is not None:
            version_id, created = existing.id, False
        else:
            version_id = (
                await conn.execute(
                    survey_versions.insert()
                    .values(
                        survey_id=survey_id,
                        version=survey.version,
                        source=source,
                        source_sha256=digest,
                        languages=",".join(survey.language_codes),
                        imported_at=now,
                    )
                    .returning(survey_versions.c.id)
                )
            ).scalar_one()
            for name, content in kept.items():
                await conn.execute(
                    survey_media.insert().values(
                        survey_version_id=version_id, name=name, content=content
                    )
                )
            created = True
            # The newest version's title is the survey's title.
            await conn.execute(
                surveys.update().where(surveys.c.id == survey_id).values(title=survey.title)
            )
        bindings = [("ivr", address) for address in ivr_addresses]
        if binding is not None:
            bindings.insert(0, ("ussd", dialled_code(*binding)))
        for channel, address in bindings:
            await _bind(
                conn,
                channel,
                address,
                survey_id=survey_id,
                organisation_id=organisation_id,
                roster_only=roster_only,
            )
        imported = ImportedSurvey(
            survey_id=survey_id,
            version_id=version_id,
            form_id=survey.form_id,
            version=survey.version,
            created=created,
            organisation_id=organisation_id,
            organisation=organisation_name,
            ivr_numbers=ivr_addresses,
            warnings=survey.warnings,
        )
        if audit is not None:
            await audit(conn, imported)
    return imported


def load_stored_form(
    source: bytes, form_id: str, media: Mapping[str, bytes] | None = None
) -> Survey:
    """Compile a stored version's source (and the files stored with it), as sessions
    and `serve` do. Questions a phone cannot ask are left out: a version imported
    without `--skip-unaskable` has none (it would have been refused), one imported with
    it must load as it was imported."""
    return load_xlsform(source, fallback_form_id=form_id, skip_unaskable=True, media=media)


async def stored_media(conn: AsyncConnection, version_id: int) -> dict[str, bytes]:
    """The files stored with a survey version, by name."""
    rows = await conn.execute(
        select(survey_media.c.name, survey_media.c.content).where(
            survey_media.c.survey_version_id == version_id
        )
    )
    return {row.name: row.content for row in rows}


def _digest(source: bytes, media: Mapping[str, bytes]) -> str:
    """The form file's sha256; with files beside it, of the form and each file, so a
    changed list is a different import."""
    if not media:
        return hashlib.sha256(source).hexdigest()
    whole = hashlib.sha256(hashlib.sha256(source).digest())
    for name, content in sorted(media.items()):
        whole.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return whole.hexdigest()


async def _survey_id(
    conn: AsyncConnection, organisation_id: int, form_id: str, title: str, now: dt.datetime
) -> int:
    found = (
        await conn.execute(
            select(surveys.c.id, surveys.c.organisation_id).where(surveys.c.form_id == form_id)
        )
    ).first()
    if found is not None and found.organisation_id != organisation_id:
        # Which organisation is not said: the admin site shows this message to staff.
        raise OtherOrganisationError(
            f"the form_id '{form_id}' is already used by a survey of another organisation; "
            "form ids are unique across the service: change `form_id` on the settings "
            "sheet and import again"
        )
    if found is not None:
        return found.id
    return (
        await conn.execute(
            surveys.insert()
            .values(form_id=form_id, title=title, organisation_id=organisation_id, created_at=now)
            .returning(surveys.c.id)
        )
    ).scalar_one()


async def _bind(
    conn: AsyncConnection,
    channel: str,
    address: str,
    *,
    survey_id: int,
    organisation_id: int,
    roster_only: bool,
) -> None:
    owner = await conn.scalar(
        select(surveys.c.organisation_id)
        .join_from(entry_points, surveys, surveys.c.id == entry_points.c.survey_id)
        .where(entry_points.c.channel == channel, entry_points.c.address == address)
    )
    if owner is not None and owner != organisation_id:
        what = "USSD code" if channel == "ussd" else "IVR number"
        raise OtherOrganisationError(
            f"the {what} {address} reaches a survey of another organisation: choose another"
        )
    stmt = upsert_insert(conn, entry_points).values(
        channel=channel, address=address, survey_id=survey_id, roster_only=roster_only
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[entry_points.c.channel, entry_points.c.address],
            set_={"survey_id": stmt.excluded.survey_id, "roster_only": stmt.excluded.roster_only},
        )
    )


async def unloadable_versions(engine: AsyncEngine) -> list[str]:
    """The current survey versions this release cannot compile, each as a line for the
    operator (`form_id` version `v`: the first error). A form imported by an earlier
    release may use what this one refuses (a `regex()` pattern RE2 cannot run): its
    sessions would fail on every hop, so `serve` names them at start."""
    current = (
        select(func.max(survey_versions.c.id))
        .group_by(survey_versions.c.survey_id)
        .scalar_subquery()
    )
    stmt = (
        select(
            survey_versions.c.id,
            surveys.c.form_id,
            survey_versions.c.version,
            survey_versions.c.source,
        )
        .join_from(survey_versions, surveys, survey_versions.c.survey_id == surveys.c.id)
        .where(survey_versions.c.id.in_(current))
        .order_by(surveys.c.form_id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).all()
        media = {row.id: await stored_media(conn, row.id) for row in rows}
    problems = []
    for row in rows:
        try:
            await asyncio.to_thread(load_stored_form, row.source, row.form_id, media[row.id])
        except SurveyLoadError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else "cannot load"
            problems.append(f"survey {row.form_id} version {row.version}: {first}")
    return problems


async def list_surveys(
    bind: AsyncEngine | AsyncConnection, organisation_id: int | None
) -> list[SurveySummary]:
    """The organisation's surveys (None: every organisation's, for the operator's
    commands) with their current versions, USSD codes and IVR numbers, by form_id."""
    if organisation_id is None:
        return await _summaries(bind)
    return await _summaries(bind, surveys.c.organisation_id == organisation_id)


async def survey_of(
    bind: AsyncEngine | AsyncConnection, organisation_id: int, survey_id: int
) -> SurveySummary | None:
    """The survey with this id when it is the organisation's; None otherwise (another
    organisation's survey is as absent as one that does not exist)."""
    if not (0 < survey_id < 2**31 and 0 < organisation_id < 2**31):  # ids from URLs
        return None
    found = await _summaries(
        bind, surveys.c.id == survey_id, surveys.c.organisation_id == organisation_id
    )
    return found[0] if found else None


async def _summaries(
    bind: AsyncEngine | AsyncConnection, *conditions: ColumnElement[bool]
) -> list[SurveySummary]:
    """The surveys that meet `conditions` (on `surveys`), as `SurveySummary`."""
    counts = (
        select(
            survey_versions.c.survey_id,
            func.max(survey_versions.c.id).label("current_id"),
            func.count().label("versions"),
        )
        .join_from(survey_versions, surveys, surveys.c.id == survey_versions.c.survey_id)
        .where(*conditions)
        .group_by(survey_versions.c.survey_id)
        .subquery()
    )
    stmt = (
        select(
            surveys.c.id,
            surveys.c.organisation_id,
            surveys.c.form_id,
            surveys.c.title,
            surveys.c.created_at,
            surveys.c.status,
            survey_versions.c.id.label("version_id"),
            survey_versions.c.version,
            survey_versions.c.languages,
            survey_versions.c.imported_at,
            counts.c.versions,
        )
        .join_from(surveys, counts, counts.c.survey_id == surveys.c.id)
        .join(survey_versions, survey_versions.c.id == counts.c.current_id)
        .order_by(surveys.c.form_id)
    )
    addresses: dict[tuple[str, int], list[str]] = {}
    async with connected(bind) as conn:
        rows = (await conn.execute(stmt)).all()
        for entry in await conn.execute(
            select(entry_points.c.channel, entry_points.c.survey_id, entry_points.c.address)
            .where(
                entry_points.c.channel.in_(("ussd", "ivr")),
                entry_points.c.survey_id.in_([row.id for row in rows]),
            )
            .order_by(entry_points.c.address)
        ):
            addresses.setdefault((entry.channel, entry.survey_id), []).append(entry.address)
    return [
        SurveySummary(
            survey_id=row.id,
            organisation_id=row.organisation_id,
            form_id=row.form_id,
            title=row.title,
            version_id=row.version_id,
            version=row.version,
            versions=row.versions,
            languages=tuple(code for code in row.languages.split(",") if code),
            ussd_codes=tuple(addresses.get(("ussd", row.id), ())),
            ivr_numbers=tuple(addresses.get(("ivr", row.id), ())),
            created_at=row.created_at,
            imported_at=row.imported_at,
            status=SurveyStatus(row.status),
        )
        for row in rows
    ]


async def find_survey(engine: AsyncEngine, id_or_form_id: str) -> SurveyVersionRef | None:
    """The current version of the survey with this id ("12") or form_id ("tracer").

    Form ids start with a letter or `_` (the XLSForm loader checks), so digits are an id."""
    key = id_or_form_id.strip()
    stmt = (
        select(surveys.c.id, survey_versions.c.id, surveys.c.form_id, survey_versions.c.version)
        .join_from(surveys, survey_versions, survey_versions.c.survey_id == surveys.c.id)
        .order_by(survey_versions.c.id.desc())
        .limit(1)
    )
    if key.isascii() and key.isdigit():
        if len(key) > 9:  # beyond any INTEGER id
            return None
        stmt = stmt.where(surveys.c.id == int(key))
    else:
        stmt = stmt.where(surveys.c.form_id == key)
    async with engine.connect() as conn:
        row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    return SurveyVersionRef(survey_id=row[0], version_id=row[1], form_id=row[2], version=row[3])


async def versions_of(bind: AsyncEngine | AsyncConnection, survey_id: int) -> list[StoredVersion]:
    """The survey's versions, newest first (the first is the one new sessions use)."""
    async with connected(bind) as conn:
        rows = (
            await conn.execute(
                select(
                    survey_versions.c.id,
                    survey_versions.c.version,
                    survey_versions.c.languages,
                    survey_versions.c.imported_at,
                )
                .where(survey_versions.c.survey_id == survey_id)
                .order_by(survey_versions.c.id.desc())
            )
        ).all()
        names: dict[int, list[str]] = {}
        for media in await conn.execute(
            select(survey_media.c.survey_version_id, survey_media.c.name)
            .where(survey_media.c.survey_version_id.in_([row.id for row in rows]))
            .order_by(survey_media.c.name)
        ):
            names.setdefault(media.survey_version_id, []).append(media.name)
    return [
        StoredVersion(
            id=row.id,
            version=row.version,
            languages=tuple(code for code in row.languages.split(",") if code),
            imported_at=row.imported_at,
            media=tuple(names.get(row.id, ())),
        )
        for row in rows
    ]


async def bindings_of(bind: AsyncEngine | AsyncConnection, survey_id: int) -> list[Binding]:
    """The USSD codes and IVR numbers that reach the survey, USSD first."""
    async with connected(bind) as conn:
        rows = await conn.execute(
            select(entry_points.c.channel, entry_points.c.address, entry_points.c.roster_only)
            .where(entry_points.c.survey_id == survey_id)
            .order_by(entry_points.c.channel.desc(), entry_points.c.address)
        )
        return [Binding(row.channel, row.address, bool(row.roster_only)) for row in rows]


async def bind_address(
    conn: AsyncConnection,
    *,
    survey_id: int,
    organisation_id: int,
    channel: str,
    address: str,
    roster_only: bool,
    default_region: str | None = None,
) -> str:
    """Bind a USSD code (`channel` "ussd") or an IVR number ("ivr") to the survey, checked
    and stored as `survey import --ussd-code / --ivr-number` does; the address as stored.
    A code or number of another survey of the organisation moves to this one; another
    organisation's is refused (`OtherOrganisationError`). Raises `UssdCodeError` or
    `PhoneNumberError` for one that cannot be dialled."""
    if channel == "ussd":
        stored = dialled_code(*parse_ussd_code(address))
    elif channel == "ivr":
        stored = ivr_address(address, default_region)
    else:
        raise ValueError(f"channel {channel!r}: expected 'ussd' or 'ivr'")
    await _bind(
        conn,
        channel,
        stored,
        survey_id=survey_id,
        organisation_id=organisation_id,
        roster_only=roster_only,
    )
    return stored


async def unbind_address(conn: AsyncConnection, survey_id: int, channel: str, address: str) -> bool:
    """The code or number no longer reaches the survey; False when it did not."""
    result = await conn.execute(
        entry_points.delete().where(
            entry_points.c.survey_id == survey_id,
            entry_points.c.channel == channel,
            entry_points.c.address == address,
        )
    )
    return result.rowcount > 0


async def set_status(conn: AsyncConnection, survey_id: int, status: SurveyStatus) -> bool:
    """Publish or close the survey; False when it already was."""
    result = await conn.execute(
        surveys.update()
        .where(surveys.c.id == survey_id, surveys.c.status != status.value)
        .values(status=status.value)
    )
    return result.rowcount > 0


async def response_counts(
    bind: AsyncEngine | AsyncConnection, survey_ids: Sequence[int]
) -> dict[int, dict[str, int]]:
    """Per survey, how many responses are in each status (`ResponseStatus` values)."""
    if not survey_ids:
        return {}
    stmt = (
        select(responses.c.survey_id, responses.c.status, func.count().label("count"))
        .where(responses.c.survey_id.in_(list(survey_ids)))
        .group_by(responses.c.survey_id, responses.c.status)
    )
    counts: dict[int, dict[str, int]] = {}
    async with connected(bind) as conn:
        for row in await conn.execute(stmt):
            counts.setdefault(row.survey_id, {})[row.status] = row.count
    return counts
