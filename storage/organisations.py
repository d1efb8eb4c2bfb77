"""Organisations: the agencies that own surveys and respondents.

Every survey and respondent belongs to one organisation (migration 0010), whose staff
alone see, change and export it (`storage.scoped`). Commands run by the operator
(`survey import`, `respondents import`) name the organisation with `--organisation`, or
let `organisation_for_import` choose when there is no doubt.

    OrganisationError(ValueError)   no organisation can be chosen as asked
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import upsert_insert
from storage.schema import organisations

__all__ = [
    "DEFAULT_ORGANISATION",
    "OrganisationError",
    "organisation_for_import",
    "organisation_id",
]

# What rows stored before organisations existed belong to (migration 0010), and what a
# first import makes when nobody has named an organisation yet.
DEFAULT_ORGANISATION = "Default"


class OrganisationError(ValueError):
    """No organisation can be chosen as asked; the message says what to do instead."""


async def organisation_id(conn: AsyncConnection, name: str, now: dt.datetime) -> int:
    """The organisation called `name`, made when it does not exist yet."""
    # Two first imports at once may both make it: the second finds the first's.
    made = await conn.scalar(
        upsert_insert(conn, organisations)
        .values(name=name, created_at=now)
        .on_conflict_do_nothing(index_elements=[organisations.c.name])
        .returning(organisations.c.id)
    )
    if made is not None:
        return int(made)
    return int(
        await conn.scalar(select(organisations.c.id).where(organisations.c.name == name)) or 0
    )


async def organisation_for_import(
    conn: AsyncConnection, organisation: int | str | None, now: dt.datetime
) -> tuple[int, str]:
    """(id, name) of the organisation an import stores into.

    An id must exist; a name is made when new (as `users create` does); None chooses
    only when there is no doubt: with no organisation yet, `Default` is made; with
    exactly one, it is that one; with several, `OrganisationError` asks for a name."""
    if isinstance(organisation, int):
        name = await conn.scalar(
            select(organisations.c.name).where(organisations.c.id == organisation)
        )
        if name is None:
            raise OrganisationError(f"there is no organisation with id {organisation}")
        return organisation, name
    if organisation is not None:
        name = " ".join(organisation.split())
        if not name:
            raise OrganisationError("the organisation needs a name")
        return await organisation_id(conn, name, now), name
    existing = (
        await conn.execute(
            select(organisations.c.id, organisations.c.name).order_by(organisations.c.name).limit(4)
        )
    ).all()
    if not existing:
        return await organisation_id(conn, DEFAULT_ORGANISATION, now), DEFAULT_ORGANISATION
    if len(existing) == 1:
        return existing[0].id, existing[0].name
    names = ", ".join(f"'{row.name}'" for row in existing[:3]) + (", ..." if existing[3:] else "")
    raise OrganisationError(
        f"there are several organisations ({names}): say which one this is for with "
        "--organisation NAME"
    )
