"""Settings read from the environment: defaults, a bad value named for the operator,
where voice answers are recorded, and the gateway token, checked and kept secret."""

from __future__ import annotations

import pytest

from service_tracker.config import ConfigError, Settings


def test_recordings_go_to_var_recordings_unless_recordings_dir_says_otherwise() -> None:
    assert Settings.from_env({}).recordings_dir == "var/recordings"
    assert Settings.from_env({"RECORDINGS_DIR": "/srv/answers"}).recordings_dir == "/srv/answers"


def test_a_recordings_dir_that_cannot_be_a_path_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"RECORDINGS_DIR=.*expected a folder path"):
        Settings.from_env({"RECORDINGS_DIR": "var/\x00recordings"})


def test_the_gateway_token_is_read_and_not_shown() -> None:
    token = "Zq8-rT_2.kM9~wXv4"
    settings = Settings.from_env({"GATEWAY_TOKEN": token})
    assert settings.gateway_token == token
    assert token not in repr(settings)
    assert Settings.from_env({}).gateway_token is None
    assert Settings.from_env({"GATEWAY_TOKEN": ""}).gateway_token is None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("short-token", id="under-16-characters"),
        pytest.param("a token with spaces in it", id="needs-url-encoding"),
        pytest.param("tok&en=0123456789abcdef", id="query-syntax"),
        pytest.param("x" * 257, id="over-256-characters"),
    ],
)
def test_an_unusable_gateway_token_is_refused_without_quoting_it(token: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"GATEWAY_TOKEN": token})
    message = str(caught.value)
    assert message.startswith(f"GATEWAY_TOKEN (length {len(token)}): expected 16 to 256")
    assert token not in message


def test_one_worker_holds_twelve_postgres_connections_unless_told() -> None:
    assert Settings.from_env({}).database_pool_size == 12
    assert Settings.from_env({"DATABASE_POOL_SIZE": ""}).database_pool_size == 12
    assert Settings.from_env({"DATABASE_POOL_SIZE": "30"}).database_pool_size == 30
    assert Settings.from_env({"DATABASE_POOL_SIZE": "2"}).database_pool_size == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("many", "DATABASE_POOL_SIZE='many': expected a number"),
        ("7.5", "DATABASE_POOL_SIZE='7.5': expected a number"),
        ("1", "DATABASE_POOL_SIZE='1': expected a value from 2 to 1000"),
        ("0", "DATABASE_POOL_SIZE='0': expected a value from 2 to 1000"),
        ("-4", "DATABASE_POOL_SIZE='-4': expected a value from 2 to 1000"),
        ("5000", "DATABASE_POOL_SIZE='5000': expected a value from 2 to 1000"),
    ],
)
def test_an_unusable_pool_size_is_refused_naming_the_variable(raw: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_POOL_SIZE": raw})
    assert str(raised.value) == expected


def test_local_session_records_default_and_can_be_turned_off() -> None:
    assert Settings.from_env({}).local_session_records == 20_000
    assert Settings.from_env({"LOCAL_SESSION_RECORDS": "0"}).local_session_records == 0
    with pytest.raises(ConfigError, match=r"LOCAL_SESSION_RECORDS='-1': expected a value"):
        Settings.from_env({"LOCAL_SESSION_RECORDS": "-1"})


def test_fastagi_listens_on_loopback_4573_unless_told() -> None:
    settings = Settings.from_env({})
    assert (settings.agi_host, settings.agi_port, settings.agi_allow) == ("127.0.0.1", 4573, ())
    told = Settings.from_env(
        {"AGI_HOST": "0.0.0.0", "AGI_PORT": "4600", "AGI_ALLOW": "10.0.0.5, 10.0.1.0/24"}
    )
    assert (told.agi_host, told.agi_port) == ("0.0.0.0", 4600)
    assert settings.agi_max_calls == 1000
    assert Settings.from_env({"AGI_MAX_CALLS": "50"}).agi_max_calls == 50
    assert told.agi_allow == ("10.0.0.5", "10.0.1.0/24")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"AGI_PORT": "99999"}, r"AGI_PORT='99999': expected a value from 1 to 65535"),
        ({"AGI_ALLOW": "10.0.0.5,asterisk-1"}, r"AGI_ALLOW=.*'asterisk-1' is neither"),
    ],
)
def test_unusable_fastagi_settings_name_the_variable(env: dict[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env(env)


def test_outbound_calls_default_to_a_local_ami_and_the_survey_context() -> None:
    settings = Settings.from_env({})
    assert (settings.ami_host, settings.ami_port) == ("127.0.0.1", 5038)
    assert (settings.ami_username, settings.ami_secret, settings.ivr_trunk) == (None, None, None)
    assert (settings.ivr_context, settings.ivr_exten) == ("survey", "s")
    assert (settings.ivr_ring_seconds, settings.ivr_max_calls) == (45, 10)
    assert settings.missing_for_calls() == ["AMI_USERNAME", "AMI_SECRET", "IVR_TRUNK"]


def test_outbound_call_settings_are_read_and_the_secret_not_shown() -> None:
    settings = Settings.from_env(
        {
            "AMI_HOST": "pbx.internal",
            "AMI_PORT": "5039",
            "AMI_USERNAME": "tracer",
            "AMI_SECRET": "N0t-for-logs!",
            "IVR_TRUNK": "PJSIP/{number}@safaricom",
            "IVR_CONTEXT": "survey-out",
            "IVR_EXTEN": "start",
            "IVR_RING_SECONDS": "30",
            "IVR_MAX_CALLS": "4",
        }
    )
    assert settings.missing_for_calls() == []
    assert (settings.ami_host, settings.ami_port, settings.ami_username) == (
        "pbx.internal",
        5039,
        "tracer",
    )
    assert settings.ami_secret == "N0t-for-logs!"
    assert "N0t-for-logs!" not in repr(settings)
    assert settings.ivr_trunk == "PJSIP/{number}@safaricom"
    assert (settings.ivr_context, settings.ivr_exten) == ("survey-out", "start")
    assert (settings.ivr_ring_seconds, settings.ivr_max_calls) == (30, 4)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("AMI_PORT", "0", "AMI_PORT='0': expected a value from 1 to 65535"),
        ("AMI_USERNAME", "tracer\r\nAction: Command", "AMI_USERNAME="),
        ("AMI_HOST", "pbx internal", "AMI_HOST="),
        (
            "IVR_TRUNK",
            "PJSIP/trunk",
            r"IVR_TRUNK='PJSIP/trunk': expected a dial string with \{number\}",
        ),
        ("IVR_TRUNK", "{number}", "IVR_TRUNK="),
        ("IVR_CONTEXT", "survey out", "IVR_CONTEXT="),
        ("IVR_EXTEN", "s\n", "IVR_EXTEN="),
        ("IVR_RING_SECONDS", "2", "IVR_RING_SECONDS='2': expected a value from 5 to 300"),
        ("IVR_MAX_CALLS", "0", "IVR_MAX_CALLS='0': expected a value from 1 to 1000"),
        ("IVR_MAX_CALLS", "many", "IVR_MAX_CALLS='many': expected a number"),
    ],
)
def test_an_unusable_call_setting_is_refused_naming_the_variable(
    name: str, raw: str, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        Settings.from_env({name: raw})


def test_an_unusable_ami_secret_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"AMI_SECRET": "hunter2\r\nAction: Logoff"})
    assert "AMI_SECRET" in str(caught.value)
    assert "hunter2" not in str(caught.value)
