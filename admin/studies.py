"""Tracer studies on the admin site (`/admin/studies`): each of the organisation's
studies with, per wave, who is due, missed, invited, reached, completed, refused or
opted out, as `service-tracker study status` prints it. Studies are defined by their
file (`service-tracker study import`); the page reads them.
"""

from __future__ import annotations

import datetime as dt

import aiohttp_jinja2
from aiohttp import web

from admin.auth import current_user
from service_tracker.keys import DATABASE
from storage.studies import all_studies, match_waves, study_status

__all__ = ["add_routes"]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/studies", studies_page, name="studies")


@aiohttp_jinja2.template("studies.html")
async def studies_page(request: web.Request) -> dict[str, object]:
    engine = request.config_dict[DATABASE]
    today = dt.datetime.now(dt.UTC).date()
    theirs = await all_studies(engine, current_user(request).organisation_id)
    if theirs:
        async with engine.begin() as conn:
            await match_waves(conn, theirs)  # responses the worker has not yet matched
    return {
        "studies": [(study, await study_status(engine, study, today)) for study in theirs],
        "today": today,
    }
