"""Engines, URLs and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import (
    DEFAULT_POOL_SIZES,
    PoolSizes,
    alembic_config,
    create_engine,
    normalize_database_url,
    ping,
    upgrade,
    upgrade_connection,
)
from storage.schema import metadata
from tests.services import run_coroutine


@pytest.mark.parametrize(
    ("budget", "engine", "direct"),
    [(2, 1, 1), (3, 1, 2), (6, 1, 5), (7, 2, 5), (12, 2, 10), (30, 5, 25), (1000, 167, 833)],
)
def test_a_budget_is_split_with_most_for_the_hot_path(budget: int, engine: int, direct: int):
    assert PoolSizes.split(budget) == PoolSizes(engine=engine, direct=direct)


def test_every_budget_is_spent_exactly_and_each_pool_gets_a_connection() -> None:
    for budget in range(2, 1001):
        sizes = PoolSizes.split(budget)
        assert sizes.engine + sizes.direct == budget
        assert 1 <= sizes.engine <= sizes.direct


def test_a_budget_below_one_connection_a_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="expected at least 2"):
        PoolSizes.split(1)


def test_the_default_budget_keeps_the_measured_hot_path_pool() -> None:
    # bench/ussd_load measured the service with ten asyncpg connections a worker.
    assert PoolSizes(engine=2, direct=10) == DEFAULT_POOL_SIZES


async def test_the_engine_pool_is_the_size_asked_for_on_postgres_only(
    postgres_database_url: str, sqlite_database_url: str
) -> None:
    engines = [
        postgres := create_engine(postgres_database_url, pool_size=3),
        sqlite := create_engine(sqlite_database_url, pool_size=1),
        default_sqlite := create_engine(sqlite_database_url),
    ]
    try:
        assert postgres.pool.size() == 3
        assert sqlite.pool.size() == default_sqlite.pool.size() != 1
    finally:
        for engine in engines:
            await engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@db:5432/st", "postgresql+asyncpg://u:p@db:5432/st"),
        ("postgres://u@db/st", "postgresql+asyncpg://u@db/st"),
        ("postgresql+asyncpg://u@db/st", "postgresql+asyncpg://u@db/st"),
        ("sqlite:///data/st.db", "sqlite+aiosqlite:///data/st.db"),
        ("sqlite:////var/lib/st.db", "sqlite+aiosqlite:////var/lib/st.db"),
        ("sqlite+aiosqlite:///st.db", "sqlite+aiosqlite:///st.db"),
        ("mysql://u@db/st", "mysql://u@db/st"),
    ],
)
def test_database_urls_are_normalised_to_async_drivers(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def differences(sync_conn: object) -> list[object]:
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return compare_metadata(context, metadata)

    async with engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert tables == set(metadata.tables) | {"alembic_version"}
    assert version == "0014"


async def test_upgrade_twice_is_harmless_and_works_inside_an_event_loop(
    database_url: str,
) -> None:
    # The CLI calls upgrade() with no loop; an async caller must not break it either.
    upgrade(database_url)


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(
    sqlite_database_url: str,
) -> None:
    engine = create_engine(sqlite_database_url)
    try:
        async with engine.connect() as conn:
            pragma = {
                name: (await conn.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await engine.dispose()
    assert pragma == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000}


async def test_ping_tells_a_live_database_from_a_missing_one(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    assert await ping(engine) is True
    missing = create_engine(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    try:
        assert await ping(missing) is False
    finally:
        await missing.dispose()


async def test_ping_is_false_when_postgresql_does_not_answer() -> None:
    # Port 9 (discard) is closed on a test machine: the connection is refused at once.
    dead = create_engine("postgresql://postgres@127.0.0.1:9/none")
    try:
        assert await ping(dead, within_seconds=2) is False
    finally:
        await dead.dispose()


def test_the_public_surface_of_storage_is_deliberate() -> None:
    import storage.accounts
    import storage.calls
    import storage.db
    import storage.exports
    import storage.organisations
    import storage.recordings
    import storage.respondents
    import storage.responses
    import storage.roster
    import storage.scoped
    import storage.sessions
    import storage.surveys
    import storage.uploads

    assert {
        module.__name__: sorted(module.__all__)
        for module in (
            storage.accounts,
            storage.calls,
            storage.db,
            storage.exports,
            storage.organisations,
            storage.recordings,
            storage.respondents,
            storage.responses,
            storage.roster,
            storage.scoped,
            storage.sessions,
            storage.surveys,
            storage.uploads,
        )
    } == {
        "storage.accounts": [
            "AccountError",
            "MIN_PASSWORD_LENGTH",
            "ROLES",
            "User",
            "authenticate",
            "create_user",
            "organisation_id",
            "record",
        ],
        "storage.calls": ["SqlCallLog"],
        "storage.db": [
            "DEFAULT_POOL_BUDGET",
            "DEFAULT_POOL_SIZES",
            "PoolSizes",
            "alembic_config",
            "connected",
            "create_engine",
            "normalize_database_url",
            "ping",
            "schema_is_current",
            "upgrade",
            "upgrade_connection",
            "upsert_insert",
        ],
        "storage.exports": [
            "EXPORT_COLUMNS",
            "SurveyNotFound",
            "WIDE_COLUMNS",
            "WideLayout",
            "answer_rows",
            "export_answers",
            "safe_cell",
            "wide_layout",
        ],
        "storage.organisations": [
            "DEFAULT_ORGANISATION",
            "OrganisationError",
            "organisation_for_import",
            "organisation_id",
        ],
        "storage.recordings": ["BadRecordingRef", "RECORDING_FORMAT", "RecordingFolder"],
        "storage.respondents": [
            "ParsedRoster",
            "RosterFileError",
            "RosterImportReport",
            "RowError",
            "import_respondents",
            "read_roster",
            "store_roster",
        ],
        "storage.responses": ["SqlResponseStore"],
        "storage.roster": [
            "DeletedRespondent",
            "NO_RESPONSE",
            "RespondentResponse",
            "RosterFacets",
            "RosterFilter",
            "RosterPage",
            "RosterRow",
            "STATUSES",
            "delete_respondent",
            "responses_of",
            "roster_facets",
            "search_roster",
        ],
        "storage.scoped": [
            "StoredAnswer",
            "StoredRecording",
            "StoredRespondent",
            "StoredResponse",
            "SurveyNotFound",
            "SurveySummary",
            "export_answers",
            "list_surveys",
            "recording_of",
            "respondent_of",
            "response_of",
            "survey_of",
        ],
        "storage.sessions": ["MemorySessionStore", "RedisSessionStore"],
        "storage.surveys": [
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
        ],
        "storage.uploads": ["HOLD_FOR", "HeldUpload", "held_upload", "hold_upload", "take_upload"],
    }


async def test_an_application_can_migrate_through_its_own_connection(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        async with engine.connect() as conn:
            await upgrade_connection(conn)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert tables == set(metadata.tables) | {"alembic_version"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own, once per backend, for walking the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'walk.db'}"
        return
    admin_dsn = request.getfixturevalue("postgres_admin_url")
    admin_dsn = admin_dsn.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"service_tracker_walk_{os.getpid()}_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_coroutine(lambda: admin(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        run_coroutine(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.parametrize("how", ["db upgrade", "upgrade_connection"])
def test_data_stored_at_0002_survives_the_upgrade_and_the_way_back(
    unmigrated_url: str, how: str
) -> None:
    config = alembic_config(unmigrated_url)
    command.upgrade(config, "0002")
    stored_at_0002 = [
        "INSERT INTO surveys (id, form_id, title, created_at) VALUES (1, 'tracer', '', :now)",
        "INSERT INTO survey_versions (id, survey_id, version, source, source_sha256, languages,"
        " imported_at) VALUES (1, 1, '1', :blob, '', 'en', :now)",
        "INSERT INTO respondents (id, phone, name, programme, cohort, gender, on_roster,"
        " attributes, created_at, updated_at)"
        " VALUES (1, '+254712345678', '', '', '', '', false, '{}', :now, :now)",
        "INSERT INTO responses (id, respondent_id, survey_id, survey_version_id, channel,"
        " status, last_input_ref, started_at, updated_at)"
        " VALUES (1, 1, 1, 1, 'ussd', 'complete', '1*2', :now, :now),"
        " (2, 1, 1, 1, 'ivr', 'in_progress', '', :now, :now)",
        "INSERT INTO ussd_bindings (service_code, extension, survey_id, roster_only)"
        " VALUES ('*384*123#', '', 1, false), ('*384*123#', '2', 1, true)",
        "INSERT INTO answers (response_id, question, value, answered_at, updated_at)"
        " VALUES (1, 'job', 'welder', :now, :now), (2, 'job', 'tailor', :now, :now)",
    ]

    async def run(*statements: str) -> list[tuple[object, ...]]:
        params = {"now": dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC), "blob": b"x"}
        engine = create_engine(unmigrated_url)
        found: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as conn:
                for sql in statements:
                    used = {k: v for k, v in params.items() if f":{k}" in sql}
                    result = await conn.execute(text(sql), used)
                    if result.returns_rows:
                        found.extend(tuple(row) for row in result)
        finally:
            await engine.dispose()
        return found

    async def upgrade_through_the_apps_connection() -> None:
        # The application's engine enforces foreign keys on SQLite, where batch
        # migrations copy tables: a copy must not cascade into the rows that refer to it.
        engine = create_engine(unmigrated_url)
        try:
            async with engine.connect() as conn:
                await upgrade_connection(conn)
        finally:
            await engine.dispose()

    run_coroutine(lambda: run(*stored_at_0002))
    if how == "db upgrade":
        command.upgrade(config, "head")
    else:
        run_coroutine(upgrade_through_the_apps_connection)
    # Every answer was typed (0004), on its response's channel (0005).
    stored = "SELECT question, value, kind, channel FROM answers ORDER BY response_id"
    assert run_coroutine(lambda: run(stored)) == [
        ("job", "welder", "text", "ussd"),
        ("job", "tailor", "text", "ivr"),
    ]
    # USSD bindings became entry points addressed by the code as dialled (0003).
    entries = "SELECT channel, address, survey_id, roster_only FROM entry_points ORDER BY address"
    assert run_coroutine(lambda: run(entries)) == [
        ("ussd", "*384*123#", 1, False),
        ("ussd", "*384*123*2#", 1, True),
    ]
    assert run_coroutine(lambda: run("SELECT turn_ref FROM responses ORDER BY id")) == [
        ("1*2",),
        ("",),
    ]
    with pytest.raises(IntegrityError):
        run_coroutine(lambda: run("UPDATE answers SET kind = 'video'"))
    with pytest.raises(IntegrityError):  # required from now on
        run_coroutine(lambda: run("UPDATE answers SET channel = NULL"))

    command.downgrade(config, "0002")
    row, _ = run_coroutine(lambda: run("SELECT * FROM answers"))
    assert len(row) == 6  # id, response_id, question, value, answered_at, updated_at


def test_the_call_log_of_0006_comes_and_goes_leaving_earlier_data_alone(
    unmigrated_url: str,
) -> None:
    config = alembic_config(unmigrated_url)
    command.upgrade(config, "0005")
    now = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)

    async def run(*statements: str) -> list[tuple[object, ...]]:
        engine = create_engine(unmigrated_url)
        found: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as conn:
                for sql in statements:
                    result = await conn.execute(text(sql), {"now": now} if ":now" in sql else {})
                    if result.returns_rows:
                        found.extend(tuple(row) for row in result)
        finally:
            await engine.dispose()
        return found

    run_coroutine(
        lambda: run(
            "INSERT INTO surveys (id, form_id, title, created_at) VALUES (1, 'tracer', '', :now)",
            "INSERT INTO entry_points (channel, address, survey_id, roster_only)"
            " VALUES ('ivr', '+254201234567', 1, false)",
        )
    )
    command.upgrade(config, "0006")
    run_coroutine(
        lambda: run(
            "INSERT INTO calls (survey_id, phone, placed_at, outcome, reason)"
            " VALUES (1, '+254712345678', :now, 'busy', 5)"
        )
    )
    assert run_coroutine(lambda: run("SELECT survey_id, phone, outcome, reason FROM calls")) == [
        (1, "+254712345678", "busy", 5)
    ]
    with pytest.raises(IntegrityError):
        run_coroutine(lambda: run("UPDATE calls SET outcome = 'voicemail'"))
    with pytest.raises(IntegrityError):  # a call belongs to a survey
        run_coroutine(
            lambda: run(
                "INSERT INTO calls (survey_id, phone, placed_at) VALUES (9, '+254712345678', :now)"
            )
        )

    command.downgrade(config, "0005")
    assert run_coroutine(lambda: run("SELECT address FROM entry_points")) == [("+254201234567",)]
    with pytest.raises((OperationalError, ProgrammingError)):  # no such table
        run_coroutine(lambda: run("SELECT * FROM calls"))


def test_calculated_answers_of_0007_come_and_go_leaving_typed_ones_alone(
    unmigrated_url: str,
) -> None:
    config = alembic_config(unmigrated_url)
    command.upgrade(config, "0006")
    now = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)

    async def run(*statements: str) -> list[tuple[object, ...]]:
        engine = create_engine(unmigrated_url)
        found: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as conn:
                for sql in statements:
                    result = await conn.execute(text(sql), {"now": now} if ":now" in sql else {})
                    if result.returns_rows:
                        found.extend(tuple(row) for row in result)
        finally:
            await engine.dispose()
        return found

    calculated = (
        "INSERT INTO answers (response_id, question, value, kind, channel, answered_at,"
        " updated_at) VALUES (1, 'weekly', '2000', 'calculated', 'ussd', :now, :now)"
    )
    run_coroutine(
        lambda: run(
            "INSERT INTO surveys (id, form_id, title, created_at) VALUES (1, 'pay', '', :now)",
            "INSERT INTO survey_versions (id, survey_id, version, source, source_sha256,"
            " languages, imported_at) VALUES (1, 1, '1', '', '', 'en', :now)",
            "INSERT INTO respondents (id, phone, name, programme, cohort, gender, on_roster,"
            " attributes, created_at, updated_at)"
            " VALUES (1, '+254712345678', '', '', '', '', false, '{}', :now, :now)",
            "INSERT INTO responses (id, respondent_id, survey_id, survey_version_id, channel,"
            " status, started_at, updated_at) VALUES (1, 1, 1, 1, 'ussd', 'complete', :now, :now)",
            "INSERT INTO answers (response_id, question, value, kind, channel, answered_at,"
            " updated_at) VALUES (1, 'rate', '400', 'text', 'ussd', :now, :now)",
        )
    )
    with pytest.raises(IntegrityError):  # not a kind before 0007
        run_coroutine(lambda: run(calculated))
    command.upgrade(config, "0007")
    run_coroutine(lambda: run(calculated))
    assert run_coroutine(lambda: run("SELECT question, kind FROM answers ORDER BY id")) == [
        ("rate", "text"),
        ("weekly", "calculated"),
    ]
    command.downgrade(config, "0006")
    assert run_coroutine(lambda: run("SELECT question, kind FROM answers")) == [("rate", "text")]


def test_rows_stored_before_0010_go_to_the_default_organisation(unmigrated_url: str) -> None:
    config = alembic_config(unmigrated_url)
    command.upgrade(config, "0009")
    now = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)

    async def run(*statements: str) -> list[tuple[object, ...]]:
        engine = create_engine(unmigrated_url)
        found: list[tuple[object, ...]] = []
        try:
            async with engine.begin() as conn:
                for sql in statements:
                    result = await conn.execute(text(sql), {"now": now} if ":now" in sql else {})
                    if result.returns_rows:
                        found.extend(tuple(row) for row in result)
        finally:
            await engine.dispose()
        return found

    run_coroutine(
        lambda: run(
            # An agency made by `users create` before surveys had owners: not chosen.
            "INSERT INTO organisations (id, name, created_at) VALUES (7, 'Kenya TVET', :now)",
            "INSERT INTO surveys (id, form_id, title, created_at) VALUES (1, 'tracer', '', :now)",
            "INSERT INTO respondents (id, phone, name, programme, cohort, gender, on_roster,"
            " attributes, created_at, updated_at)"
            " VALUES (1, '+254712345678', '', '', '', '', true, '{}', :now, :now)",
        )
    )
    command.upgrade(config, "head")
    owners = (
        "SELECT o.name FROM surveys s JOIN organisations o ON o.id = s.organisation_id"
        " UNION ALL"
        " SELECT o.name FROM respondents r JOIN organisations o ON o.id = r.organisation_id"
    )
    assert run_coroutine(lambda: run(owners)) == [("Default",), ("Default",)]

    # Another organisation may now trace the same graduate; one organisation may not
    # hold the number twice.
    same_number = (
        "INSERT INTO respondents (id, organisation_id, phone, name, programme, cohort, gender,"
        " on_roster, attributes, created_at, updated_at)"
        " VALUES ({}, {}, '+254712345678', '', '', '', '', true, '{{}}', :now, :now)"
    )
    run_coroutine(lambda: run(same_number.format(2, 7)))
    default_id = "(SELECT id FROM organisations WHERE name = 'Default')"
    with pytest.raises(IntegrityError):
        run_coroutine(lambda: run(same_number.format(3, default_id)))
    with pytest.raises(IntegrityError):  # required from now on
        run_coroutine(lambda: run("UPDATE surveys SET organisation_id = NULL"))

    # Back to one record per number: the way down needs the second record gone first.
    run_coroutine(lambda: run("DELETE FROM respondents WHERE organisation_id = 7"))
    command.downgrade(config, "0009")
    assert run_coroutine(lambda: run("SELECT id, phone FROM respondents")) == [(1, "+254712345678")]
    with pytest.raises(IntegrityError):  # one record per number again
        run_coroutine(
            lambda: run(
                "INSERT INTO respondents (id, phone, name, programme, cohort, gender, on_roster,"
                " attributes, created_at, updated_at)"
                " VALUES (4, '+254712345678', '', '', '', '', true, '{}', :now, :now)"
            )
        )


def test_an_empty_database_gets_no_default_organisation_from_0010(unmigrated_url: str) -> None:
    config = alembic_config(unmigrated_url)
    command.upgrade(config, "head")

    async def organisations_made() -> int:
        engine = create_engine(unmigrated_url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT count(*) FROM organisations"))).scalar()
        finally:
            await engine.dispose()

    assert run_coroutine(organisations_made) == 0
