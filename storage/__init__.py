"""What implements the engine's ports: SQL through SQLAlchemy, sessions in Redis or memory.

    db           engines for SQLite and PostgreSQL, Alembic migrations (`upgrade`), ping
    schema       the tables, one schema for both backends (migrations/ creates them)
    responses    SqlResponseStore: survey_engine.ports.ResponseStore
    memory       MemoryResponseStore, MemoryCallLog: the same ports in the process (tests, tools)
    sessions     RedisSessionStore, MemorySessionStore: survey_engine.ports.SessionStore
    organisations  who owns surveys and respondents; which one an import goes to
    surveys      importing XLSForm files and making USSD codes their entry points
    respondents  importing rosters (.csv, .xlsx)
    exports      answers as CSV
    scoped       the admin site's reads, each within one organisation
    recordings   RecordingFolder: survey_engine.ports.RecordingStore (voice answers' files)
    calls        SqlCallLog: survey_engine.ports.CallLog (outbound calls and their outcomes)

Nothing is imported here: a command that needs one module loads only that one.
"""
