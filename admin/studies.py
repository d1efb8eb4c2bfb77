"""Tracer studies on the admin site (`/admin/studies`): each of the organisation's
studies with, per wave, who is due, missed, invited, reached, completed, refused or
opted out, as `service-tracker study status` prints it. Studies are defined by their
file (`service-tracker study import`); the page reads them.
"""

from __future__ import annotations

import datetime as dt

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from admin.auth import current_user
from service_tracker.keys import DATABASE
from storage.schema import studies
from storage.studies import find_study, match_waves, study_status

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/studies", studies_page, name="studies")


@aiohttp_jinja2.template("studies.html")
async def studies_page(request: web.Request) -> dict[str, object]:
    user = current_user(request)
    engine = request.config_dict[DATABASE]
    today = dt.datetime.now(dt.UTC).date()
    async with engine.connect() as conn:
        names = list(
            await conn.scalars(
                select(studies.c.name)
                .where(studies.c.organisation_id == user.organisation_id)
                .order_by(studies.c.name)
            )
        )
    found = []
    for name in names:
        study = await find_study(engine, user.organisation_id, name)
        if study is None:  # deleted meanwhile
            continue
        async with engine.begin() as conn:
            await match_waves(conn, [study])  # responses the worker has not yet matched
        found.append((study, await study_status(engine, study, today)))
    return {"studies": found, "today": today}
