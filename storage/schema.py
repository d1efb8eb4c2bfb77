"""The SQL schema, one for SQLite and PostgreSQL, as SQLAlchemy declarative models.

The ORM classes (`...Row`) stay inside `storage/`: repositories return the frozen records
of `survey_engine.ports`. The hot path uses the tables (`responses`, `answers`, ...)
through Core statements. Every change here needs a migration in `migrations/versions/`;
a test compares the migrated database with these models.

Times are timezone-aware UTC on the way in and out (`UtcDateTime`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from survey_engine.events import AnswerKind, ResponseStatus
from survey_engine.ports import CallOutcome

__all__ = [
    "ROLES",
    "AdminSessionRow",
    "AdminUploadRow",
    "AirtimeRow",
    "AnswerRow",
    "AuditRow",
    "Base",
    "CallRow",
    "EntryPointRow",
    "InvitationRow",
    "LoginThrottleRow",
    "OrganisationRow",
    "OutcomeFactRow",
    "RespondentRow",
    "ResponseRow",
    "StudyRow",
    "StudyWaveRow",
    "SurveyMediaRow",
    "SurveyRow",
    "SurveyVersionRow",
    "UserRow",
    "UtcDateTime",
    "admin_sessions",
    "admin_uploads",
    "airtime",
    "answers",
    "audit_log",
    "calls",
    "entry_points",
    "invitations",
    "login_throttle",
    "metadata",
    "organisations",
    "outcome_facts",
    "respondents",
    "responses",
    "studies",
    "study_waves",
    "survey_media",
    "survey_versions",
    "surveys",
    "users",
]


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps `timestamptz`; SQLite keeps text without an offset, so values are
    converted to UTC before storing and given `tzinfo=UTC` again when read. A naive
    datetime is refused: its time zone would be a guess."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: expected a timezone-aware UTC time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# Stable constraint names, so later migrations (SQLite batch copies included) can name
# what they change.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_STATUSES = ", ".join(f"'{s.value}'" for s in ResponseStatus)
# Complete and refused are final: what the dashboard counts (storage.outcome_facts).
_WAVE_UNCHECKED = text(
    f"NOT wave_checked AND status IN ('{ResponseStatus.COMPLETE.value}', "
    f"'{ResponseStatus.REFUSED.value}')"
)
_UNCOUNTED = text(
    f"NOT counted AND status IN ('{ResponseStatus.COMPLETE.value}', "
    f"'{ResponseStatus.REFUSED.value}')"
)
_ANSWER_KINDS = ", ".join(f"'{k.value}'" for k in AnswerKind)
_CALL_OUTCOMES = ", ".join(f"'{o.value}'" for o in CallOutcome)
ROLES = ("admin", "analyst")  # admin: everything; analyst: read and export only
_ROLES = ", ".join(f"'{r}'" for r in ROLES)


class Base(DeclarativeBase):
    metadata = metadata
    type_annotation_map = {dt.datetime: UtcDateTime()}  # noqa: RUF012 (SQLAlchemy reads it)


class SurveyRow(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique across the service for now: an import never moves a survey between
    # organisations (storage.surveys refuses another organisation's form_id).
    form_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Who owns it (migration 0010): only its staff see, change and export it.
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime]
    # "published" or "closed" (migration 0012): a closed survey starts no new session.
    status: Mapped[str] = mapped_column(String(16), server_default="published")
    # Which indicator map `outcome_facts` were extracted with (migration 0013): a new
    # version that maps other questions makes the dashboard extract them afresh.
    outcomes_mapping: Mapped[str | None] = mapped_column(Text)
    # Bumped whenever `outcome_facts` of the survey change: figures counted at one
    # version stay true until the next (storage.outcomes.OutcomesCache).
    outcomes_version: Mapped[int] = mapped_column(Integer, server_default="0")


class SurveyVersionRow(Base):
    """One uploaded form. Immutable: a changed form needs a new `settings.version`."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    version: Mapped[str] = mapped_column(String(255))
    source: Mapped[bytes] = mapped_column(LargeBinary)  # the uploaded .xlsx, as uploaded
    source_sha256: Mapped[str] = mapped_column(String(64))
    languages: Mapped[str] = mapped_column(String(255))  # "en,fr,sw"
    imported_at: Mapped[dt.datetime]


class SurveyMediaRow(Base):
    """A file imported beside one form version (`survey import --media DIR`): the CSV
    lists of `select_one_from_file`, compiled with the form whenever it is loaded."""

    __tablename__ = "survey_media"
    __table_args__ = (UniqueConstraint("survey_version_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_version_id: Mapped[int] = mapped_column(
        ForeignKey("survey_versions.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))  # as the form names it: "districts.csv"
    content: Mapped[bytes] = mapped_column(LargeBinary)


class EntryPointRow(Base):
    """An address on one channel that reaches a survey: for USSD the code as dialled
    (`*384*123#`, or `*384*123*2#` for extension 2), for the IVR a called number."""

    __tablename__ = "entry_points"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # "ussd", "ivr", "sms"
    address: Mapped[str] = mapped_column(String(64))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    roster_only: Mapped[bool] = mapped_column(Boolean, default=False)


class RespondentRow(Base):
    """A graduate as one organisation knows them (migration 0010): two agencies tracing
    the same person each keep their own record, so a number is unique per organisation.
    The unique index also serves the dial-in lookup by (organisation, phone)."""

    __tablename__ = "respondents"
    __table_args__ = (
        UniqueConstraint("organisation_id", "phone"),
        # The admin site's list (migration 0011): by name, filtered by programme or cohort.
        Index("ix_respondents_organisation_id_name", "organisation_id", "name", "id"),
        Index("ix_respondents_organisation_id_programme", "organisation_id", "programme"),
        Index("ix_respondents_organisation_id_cohort", "organisation_id", "cohort"),
        # The dashboard's cache asks when the organisation's roster last changed.
        Index("ix_respondents_organisation_id_grouped_at", "organisation_id", "grouped_at"),
        # Who is due for a wave: a range of completion dates (migration 0014), and the
        # time zones in use, whose days begin at different hours.
        Index(
            "ix_respondents_organisation_id_completion_date",
            "organisation_id",
            "completion_date",
        ),
        Index("ix_respondents_organisation_id_time_zone", "organisation_id", "time_zone"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    name: Mapped[str] = mapped_column(String(255), default="")
    language: Mapped[str | None] = mapped_column(String(8))
    programme: Mapped[str] = mapped_column(String(255), default="")
    cohort: Mapped[str] = mapped_column(String(255), default="")
    completion_date: Mapped[dt.date | None] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(32), default="")
    # False for a number that dialled in without being on an imported roster.
    on_roster: Mapped[bool] = mapped_column(Boolean, default=False)
    # Roster columns we do not model (region, trade, ...), kept for filtering and export.
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=dict
    )
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    # When the respondent's place in the dashboard's groups last changed (migration
    # 0013): on the roster or not, programme, cohort, gender, a test number. Written by
    # the roster import and the simulator, not by a language chosen on a call; NULL for
    # a number that dialled in, which is in no group until it answers.
    grouped_at: Mapped[dt.datetime | None]
    # Asked never to be contacted again (migration 0014): STOP by SMS, or 9 on a call.
    opted_out_at: Mapped[dt.datetime | None]
    # Where the graduate lives (migration 0014), an IANA name: from the roster's
    # time_zone column, else from the number when its country has one zone. A study
    # may set it by programme instead.
    time_zone: Mapped[str | None] = mapped_column(String(64))


class ResponseRow(Base):
    __tablename__ = "responses"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        # Gateway callbacks find their response by session; a new dial finds the
        # respondent's latest response to the survey.
        Index("ix_responses_channel_session_ref", "channel", "session_ref"),
        Index("ix_responses_respondent_id_survey_id", "respondent_id", "survey_id"),
        # A respondent's latest response, whose status the admin site's list shows and
        # filters by (migration 0011).
        Index("ix_responses_respondent_id_id", "respondent_id", "id"),
        # Ended responses the dashboard has not yet counted into `outcome_facts`
        # (migration 0013): a small index, emptied by every dashboard view.
        Index(
            "ix_responses_uncounted",
            "survey_id",
            postgresql_where=_UNCOUNTED,
            sqlite_where=_UNCOUNTED,
        ),
        # Ended responses the worker has not yet matched to a wave (migration 0014).
        Index(
            "ix_responses_wave_unchecked",
            "survey_id",
            postgresql_where=_WAVE_UNCHECKED,
            sqlite_where=_WAVE_UNCHECKED,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Deleting a respondent on request deletes what they answered.
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    survey_version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id"))
    channel: Mapped[str] = mapped_column(String(16))  # "ussd", "ivr"
    status: Mapped[str] = mapped_column(String(16))  # a ResponseStatus value
    language: Mapped[str | None] = mapped_column(String(8))
    session_ref: Mapped[str | None] = mapped_column(String(255))
    # The channel's reference of the last turn applied (USSD: the gateway's text),
    # opaque here: a repeated delivery of that turn stores nothing (migration 0003).
    turn_ref: Mapped[str | None] = mapped_column(Text)
    # A resume offer is on screen (migration 0002): the next key answers the offer.
    # Server default only: inserts on the direct asyncpg path leave the column out.
    resume_offered: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Whether `outcome_facts` hold this ended response (migration 0013). False for every
    # new row, whichever path wrote it; set by the dashboard's catch-up only once the
    # response is complete or refused, which are final.
    counted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The study wave this response answers (migration 0014), found by the worker from
    # when it started, where the graduate lives; `wave_checked` once it has looked.
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_waves.id", ondelete="SET NULL"), index=True
    )
    wave_checked: Mapped[bool] = mapped_column(Boolean, server_default=false())
    started_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class OutcomeFactRow(Base):
    """One graduate's part in a survey's outcomes (migration 0013), kept by the dashboard
    (`storage.outcome_facts`) so that it counts graduates, not a million answers: how
    many complete responses they gave and whether they refused, and from their latest
    complete response (and their first, for distance travelled) the answers that the
    survey's indicator map names."""

    __tablename__ = "outcome_facts"

    survey_id: Mapped[int] = mapped_column(
        ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True
    )
    respondent_id: Mapped[int] = mapped_column(
        ForeignKey("respondents.id", ondelete="CASCADE"), primary_key=True
    )
    completes: Mapped[int] = mapped_column(Integer)
    refused: Mapped[bool] = mapped_column(Boolean)
    first_response_id: Mapped[int | None] = mapped_column(Integer)
    latest_response_id: Mapped[int | None] = mapped_column(Integer)
    employment: Mapped[str | None] = mapped_column(Text)
    months_to_job: Mapped[str | None] = mapped_column(Text)
    related: Mapped[str | None] = mapped_column(Text)
    further_education: Mapped[str | None] = mapped_column(Text)
    # {question: answer} of the scales and skills, latest; and of the skills, first
    # (only for graduates with two complete responses or more).
    latest_values: Mapped[dict[str, Any] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql")
    )
    first_values: Mapped[dict[str, Any] | None] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql")
    )


class AnswerRow(Base):
    """The current answer to one question of a response (upserted, never duplicated)."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("response_id", "question"),
        CheckConstraint(f"kind IN ({_ANSWER_KINDS})", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(255))
    # `text` or, for a voice answer (migration 0004), `recording`: then `value` is the
    # recording's reference relative to RECORDINGS_DIR (storage.recordings).
    value: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), server_default=AnswerKind.TEXT.value)
    # The channel the current value was given on (migration 0005): a response resumed
    # by voice after USSD keeps each answer's own, while `responses.channel` moves.
    channel: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[dt.datetime]  # first given
    updated_at: Mapped[dt.datetime]  # last changed (the respondent went back)


class CallRow(Base):
    """One outbound survey call placed through Asterisk's AMI (migration 0006): written
    when it is placed, completed with the outcome, and ended at the hang-up."""

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({_CALL_OUTCOMES})", name="outcome"),
        # A respondent's calls are found (and deleted on request) by number.
        Index("ix_calls_phone", "phone"),
        Index("ix_calls_survey_id_placed_at", "survey_id", "placed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(20))  # E.164
    placed_at: Mapped[dt.datetime]
    # The outcome's time for a call not answered; the hang-up for one that was.
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # a CallOutcome value
    reason: Mapped[int | None] = mapped_column(Integer)  # OriginateResponse `Reason`
    unique_id: Mapped[str | None] = mapped_column(String(150))  # Asterisk's Uniqueid
    channel: Mapped[str | None] = mapped_column(String(255))  # Asterisk's channel name
    error: Mapped[str | None] = mapped_column(Text)  # what went wrong on our side


class StudyRow(Base):
    """A tracer study (migration 0014), as its file says it (waves.study): which survey
    and cohorts, the channels in order, contact hours and retries. `source` keeps the
    file as imported."""

    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    cohorts: Mapped[list[str]] = mapped_column(JSON)  # empty: every cohort
    channels: Mapped[list[str]] = mapped_column(JSON)  # "sms", "ivr", in order
    fallback_after_s: Mapped[int] = mapped_column(Integer)
    contact_start_min: Mapped[int] = mapped_column(Integer)  # minutes after midnight
    contact_end_min: Mapped[int] = mapped_column(Integer)
    retries_s: Mapped[list[int]] = mapped_column(JSON)  # waits between attempts
    attempts: Mapped[int] = mapped_column(Integer)
    wave_window_s: Mapped[int] = mapped_column(Integer)
    time_zones: Mapped[dict[str, str]] = mapped_column(JSON)  # programme -> IANA zone
    airtime_currency: Mapped[str | None] = mapped_column(String(3))
    airtime_amount: Mapped[str | None] = mapped_column(String(16))  # a decimal, as written
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class StudyWaveRow(Base):
    """One wave of a study: `offset_months` then `offset_days` after each graduate's
    completion date (migration 0014). Kept by name when the study file is imported
    again, so its invitations stay its own."""

    __tablename__ = "study_waves"
    __table_args__ = (UniqueConstraint("study_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    offset_months: Mapped[int] = mapped_column(Integer)
    offset_days: Mapped[int] = mapped_column(Integer)


class InvitationRow(Base):
    """One attempt to reach a graduate for a wave (migration 0014), recorded before it
    is sent under its own key (respondent, wave, attempt): a worker killed mid-batch
    sends it at most once, and a restarted one finds what is left."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("respondent_id", "wave_id", "attempt"),
        Index("ix_invitations_wave_id_status", "wave_id", "status"),
        # A delivery report names the message id the gateway gave.
        Index("ix_invitations_provider_ref", "provider_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    wave_id: Mapped[int] = mapped_column(ForeignKey("study_waves.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)  # 1, 2, ... across the channels
    channel: Mapped[str] = mapped_column(String(8))  # "sms", "ivr"
    status: Mapped[str] = mapped_column(String(16))  # pending, sent, delivered, failed ...
    created_at: Mapped[dt.datetime]
    send_after: Mapped[dt.datetime]  # not before: retries and contact hours
    sent_at: Mapped[dt.datetime | None]
    provider_ref: Mapped[str | None] = mapped_column(String(255))  # the gateway's message id
    error: Mapped[str | None] = mapped_column(Text)
    # The gateway's last delivery report: Success, Failed, Rejected, Buffered ...
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_at: Mapped[dt.datetime | None]


class AirtimeRow(Base):
    """A thank-you in airtime for one graduate and wave (migration 0014): recorded
    before it is sent, under its own key, and sent with that key as the API's
    idempotency key, so a graduate gets it at most once per wave."""

    __tablename__ = "airtime"
    __table_args__ = (UniqueConstraint("respondent_id", "wave_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    wave_id: Mapped[int] = mapped_column(ForeignKey("study_waves.id", ondelete="CASCADE"))
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    amount: Mapped[str] = mapped_column(String(24))  # "KES 20"
    status: Mapped[str] = mapped_column(String(16))  # pending, sending, sent, failed
    request_id: Mapped[str | None] = mapped_column(String(255))  # the API's requestId
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]


class OrganisationRow(Base):
    """A training agency or project: its staff see only its own surveys and graduates."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[dt.datetime]


class UserRow(Base):
    """A staff account of the admin site (migration 0009). The password is kept only as
    an argon2id hash; the email is stored lower-cased, so it is unique however typed."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN ({_ROLES})", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # "admin" | "analyst"
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]


class AuditRow(Base):
    """What a member of staff did (a login, an upload, a publish, an export, a deletion),
    kept for the organisation: never updated, never deleted with what it names."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_organisation_id_at", "organisation_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime]
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who it was, as typed when there is no account (a failed login): kept as text.
    actor: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(64))  # "login", "survey.upload", ...
    object_kind: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(64), default="")  # the client's IP
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), default=dict
    )


class AdminSessionRow(Base):
    """A staff member's session when there is no Redis: the cookie's key is stored only
    as its SHA-256, so a copy of the database holds no cookie anyone could replay."""

    __tablename__ = "admin_sessions"
    __table_args__ = (Index("ix_admin_sessions_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime]


class AdminUploadRow(Base):
    """A file sent to the admin site, held between its preview and its confirmation
    (migration 0011, `storage.uploads`): for its sender only, for an hour at most. The
    token that opens it is stored only as its SHA-256."""

    __tablename__ = "admin_uploads"
    __table_args__ = (Index("ix_admin_uploads_held_at", "held_at"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # "roster"
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    held_at: Mapped[dt.datetime]


class LoginThrottleRow(Base):
    """Failed sign-ins counted per account and per address (`acct:...`, `addr:...`)
    when there is no Redis, so that a password cannot be guessed at speed."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[dt.datetime]


# The tables, for Core statements.
surveys = cast(Table, SurveyRow.__table__)
survey_versions = cast(Table, SurveyVersionRow.__table__)
survey_media = cast(Table, SurveyMediaRow.__table__)
entry_points = cast(Table, EntryPointRow.__table__)
respondents = cast(Table, RespondentRow.__table__)
responses = cast(Table, ResponseRow.__table__)
answers = cast(Table, AnswerRow.__table__)
outcome_facts = cast(Table, OutcomeFactRow.__table__)
studies = cast(Table, StudyRow.__table__)
study_waves = cast(Table, StudyWaveRow.__table__)
invitations = cast(Table, InvitationRow.__table__)
airtime = cast(Table, AirtimeRow.__table__)
calls = cast(Table, CallRow.__table__)
organisations = cast(Table, OrganisationRow.__table__)
users = cast(Table, UserRow.__table__)
audit_log = cast(Table, AuditRow.__table__)
admin_sessions = cast(Table, AdminSessionRow.__table__)
admin_uploads = cast(Table, AdminUploadRow.__table__)
login_throttle = cast(Table, LoginThrottleRow.__table__)
