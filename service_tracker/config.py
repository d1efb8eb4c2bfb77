"""Settings from the environment: one frozen object, validated once at start-up."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from storage.db import DEFAULT_POOL_BUDGET

N = TypeVar("N", int, float)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/service-tracker.db"
DEFAULT_AUDIO_DIR = "var/audio"
DEFAULT_LOCAL_SESSION_RECORDS = 20_000
DEFAULT_RECORDINGS_DIR = "var/recordings"
DEFAULT_AGI_PORT = 4573  # FastAGI's registered port
# Characters a URL carries as they are, so the token reads the same in the gateway's
# dashboard and here; 16 of them at least, so it cannot be guessed.
_GATEWAY_TOKEN = re.compile(r"[A-Za-z0-9._~-]{16,256}")
# AMI values travel as header lines: no white space, nothing that ends a line.
_AMI_VALUE = re.compile(r"[^\s\x00-\x1f\x7f]{1,255}")
_DIALPLAN_NAME = re.compile(r"[A-Za-z0-9_.+*#-]{1,80}")
_TRUNK = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[^\s\x00-\x1f\x7f]+")


class ConfigError(ValueError):
    """An environment variable has a value the service cannot use; names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL connections one worker may hold in all (storage.db.PoolSizes splits them)
    database_pool_size: int = DEFAULT_POOL_BUDGET
    redis_url: str | None = None  # None: sessions live in the process (one worker only)
    host: str = "127.0.0.1"
    port: int = 8080
    session_ttl_seconds: int = 600
    # Live records this worker wrote, kept in memory (about 1 KB each) so that most
    # turns skip a Redis GET; 0 reads Redis on every turn. Unused without Redis.
    local_session_records: int = DEFAULT_LOCAL_SESSION_RECORDS
    resume_window_hours: float = 72.0
    default_phone_region: str | None = None
    log_level: str = "INFO"
    audio_dir: str = DEFAULT_AUDIO_DIR  # prompt files, one folder per language
    recordings_dir: str = DEFAULT_RECORDINGS_DIR  # voice answers, one folder per survey
    # The FastAGI listener Asterisk's dialplan calls (`AGI(agi://HOST:PORT/survey)`).
    # The field's 0 (any free port) serves tests; the environment's default is 4573.
    agi_host: str = "127.0.0.1"
    agi_port: int = 0
    # Asterisk servers allowed to connect besides loopback: FastAGI has no password.
    agi_allow: tuple[str, ...] = ()
    # Calls one worker serves at once; a call beyond them is refused at once, so
    # Asterisk's dialplan goes on (AGISTATUS=FAILURE) rather than leaving it in silence.
    agi_max_calls: int = 1000
    # Required as `?token=` on every gateway callback; None: the gateway endpoints are
    # open to anyone who knows their URL (the demo). A secret: repr leaves it out.
    gateway_token: str | None = field(default=None, repr=False)
    # Outbound calls through Asterisk's AMI (`service-tracker call`); unset username,
    # secret or trunk: no outbound calls. The secret: repr leaves it out.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str | None = None
    ami_secret: str | None = field(default=None, repr=False)
    ivr_trunk: str | None = None  # a dial string with {number}: "PJSIP/{number}@trunk"
    ivr_context: str = "survey"  # where an answered call goes (the IVR)
    ivr_exten: str = "s"
    ivr_ring_seconds: int = 45
    ivr_max_calls: int = 10
    # The admin site: cookies marked Secure (behind TLS), how long a session lasts
    # idle and at most, and the largest upload (an XLSForm, a roster, a recording).
    admin_secure_cookies: bool = False
    admin_session_idle_minutes: int = 30
    admin_session_hours: int = 12
    admin_max_upload_mb: int = 20
    # SMS (and airtime) through Africa's Talking's SDK: unset username or key, no SMS.
    # `sandbox` is the sandbox's username. The base URL replaces the SDK's own (a
    # staging server, or the tests' stand-in). The key: repr leaves it out.
    africastalking_username: str | None = None
    africastalking_api_key: str | None = field(default=None, repr=False)
    africastalking_sender_id: str | None = None
    africastalking_base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            database_pool_size=_number(
                env, "DATABASE_POOL_SIZE", DEFAULT_POOL_BUDGET, int, 2, 1000
            ),
            redis_url=env.get("REDIS_URL") or None,
            host=env.get("HOST") or "127.0.0.1",
            port=_number(env, "PORT", 8080, int, 1, 65535),
            session_ttl_seconds=_number(env, "USSD_SESSION_TTL", 600, int, 30, 86400),
            local_session_records=_number(
                env,
                "LOCAL_SESSION_RECORDS",
                DEFAULT_LOCAL_SESSION_RECORDS,
                int,
                0,
                1_000_000,
            ),
            resume_window_hours=_number(env, "RESUME_WINDOW_HOURS", 72.0, float, 0, 24 * 365),
            default_phone_region=_region(env.get("DEFAULT_PHONE_REGION")),
            log_level=_level(env.get("LOG_LEVEL") or "INFO"),
            audio_dir=_folder(env, "AUDIO_DIR", DEFAULT_AUDIO_DIR),
            recordings_dir=_folder(env, "RECORDINGS_DIR", DEFAULT_RECORDINGS_DIR),
            gateway_token=_gateway_token(env.get("GATEWAY_TOKEN")),
            agi_host=env.get("AGI_HOST") or "127.0.0.1",
            agi_port=_number(env, "AGI_PORT", DEFAULT_AGI_PORT, int, 1, 65535),
            agi_allow=_networks(env.get("AGI_ALLOW")),
            agi_max_calls=_number(env, "AGI_MAX_CALLS", 1000, int, 1, 100_000),
            ami_host=_ami_value(env, "AMI_HOST") or "127.0.0.1",
            ami_port=_number(env, "AMI_PORT", 5038, int, 1, 65535),
            ami_username=_ami_value(env, "AMI_USERNAME"),
            ami_secret=_ami_secret(env.get("AMI_SECRET")),
            ivr_trunk=_trunk(env.get("IVR_TRUNK")),
            ivr_context=_dialplan_name(env, "IVR_CONTEXT", "survey"),
            ivr_exten=_dialplan_name(env, "IVR_EXTEN", "s"),
            ivr_ring_seconds=_number(env, "IVR_RING_SECONDS", 45, int, 5, 300),
            ivr_max_calls=_number(env, "IVR_MAX_CALLS", 10, int, 1, 1000),
            admin_secure_cookies=_yes_no(env, "ADMIN_SECURE_COOKIES", False),
            admin_session_idle_minutes=_number(
                env, "ADMIN_SESSION_IDLE_MINUTES", 30, int, 1, 24 * 60
            ),
            admin_session_hours=_number(env, "ADMIN_SESSION_HOURS", 12, int, 1, 24 * 30),
            admin_max_upload_mb=_number(env, "ADMIN_MAX_UPLOAD_MB", 20, int, 1, 500),
            africastalking_username=(env.get("AFRICASTALKING_USERNAME") or "").strip() or None,
            africastalking_api_key=(env.get("AFRICASTALKING_API_KEY") or "").strip() or None,
            africastalking_sender_id=(env.get("AFRICASTALKING_SENDER_ID") or "").strip() or None,
            africastalking_base_url=_base_url(env.get("AFRICASTALKING_BASE_URL")),
        )

    def missing_for_calls(self) -> list[str]:
        """The variables outbound calls need that are not set (empty: calls can go)."""
        wanted = {
            "AMI_USERNAME": self.ami_username,
            "AMI_SECRET": self.ami_secret,
            "IVR_TRUNK": self.ivr_trunk,
        }
        return [name for name, value in wanted.items() if value is None]


def _yes_no(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "yes", "true", "on"):
        return True
    if raw in ("0", "no", "false", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: expected yes or no")


def _number(
    env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N], low: N, high: N
) -> N:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={raw!r}: expected a value from {low} to {high}")
    return value


def _region(raw: str | None) -> str | None:
    if not raw:
        return None
    if len(raw) != 2 or not raw.isalpha():
        raise ConfigError(f"DEFAULT_PHONE_REGION={raw!r}: expected a two-letter country code")
    return raw.upper()


def _folder(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name) or default
    if "\x00" in raw:
        raise ConfigError(f"{name}={raw!r}: expected a folder path")
    return raw


def _gateway_token(raw: str | None) -> str | None:
    if not raw:
        return None
    if not _GATEWAY_TOKEN.fullmatch(raw):
        # The value is a secret: the message describes it, never quotes it.
        raise ConfigError(
            f"GATEWAY_TOKEN (length {len(raw)}): expected 16 to 256 letters, digits, "
            "'-', '_', '.' or '~' (it goes in the callback URL as it is)"
        )
    return raw


def _networks(raw: str | None) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in (raw or "").split(",") if entry.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(
                f"AGI_ALLOW={raw!r}: expected IP addresses or networks separated by commas, "
                f"such as 10.0.0.5,10.0.1.0/24 ({entry!r} is neither)"
            ) from None
    return entries


def _ami_value(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name)
    if not raw:
        return None
    if not _AMI_VALUE.fullmatch(raw):
        raise ConfigError(f"{name}={raw!r}: expected up to 255 characters without spaces")
    return raw


def _ami_secret(raw: str | None) -> str | None:
    if not raw:
        return None
    if not _AMI_VALUE.fullmatch(raw):
        # The value is a secret: the message describes it, never quotes it.
        raise ConfigError(
            f"AMI_SECRET (length {len(raw)}): expected up to 255 characters without "
            "spaces or line breaks (manager.conf's `secret`)"
        )
    return raw


def _trunk(raw: str | None) -> str | None:
    if not raw:
        return None
    if "{number}" not in raw or not _TRUNK.fullmatch(raw):
        raise ConfigError(
            f"IVR_TRUNK={raw!r}: expected a dial string with {{number}} where the "
            "respondent's number goes, such as PJSIP/{number}@trunk"
        )
    return raw


def _dialplan_name(env: Mapping[str, str], name: str, default: str) -> str:
    raw = env.get(name)
    if not raw:
        return default
    if not _DIALPLAN_NAME.fullmatch(raw):
        raise ConfigError(
            f"{name}={raw!r}: expected a dialplan name (letters, digits, '_', '-', '.', '+')"
        )
    return raw


def _level(raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL={raw!r}: expected DEBUG, INFO, WARNING or ERROR")
    return level


def _base_url(raw: str | None) -> str | None:
    text = (raw or "").strip().rstrip("/")
    if not text:
        return None
    if not (text.startswith("https://") or text.startswith("http://")) or " " in text:
        raise ConfigError(
            f"AFRICASTALKING_BASE_URL must be an http(s) URL such as "
            f"https://api.sandbox.africastalking.com, not {raw!r}"
        )
    return text
