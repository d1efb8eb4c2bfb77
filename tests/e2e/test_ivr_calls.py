"""Voice calls through a real Asterisk 22 into the composed service.

The service runs as in production (PostgreSQL, Redis, the AGI listener beside HTTP),
with the sample survey's prompts rendered by espeak-ng into an audio folder Asterisk
sees at the same path. A Local channel plays the graduate (`[respondent]` in the
sandbox's dialplan): it waits, presses keys (SendDTMF) and speaks (Playback) on a
timeline, and Asterisk delivers that to our FastAGI server as a real caller would.

Each test asserts the answers in SQL, and that Asterisk found every prompt file it was
given (no "does not exist" in its log)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from panoramisk import Manager
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from audio.library import AudioLibrary
from audio.render import render_survey
from audio.tts import EspeakEngine, GttsEngine
from service_tracker.app import create_app
from service_tracker.config import Settings
from service_tracker.keys import AGI_SERVER, DATABASE, RESPONSES, SESSIONS
from storage.surveys import import_survey
from survey_engine.xlsform import load_xlsform
from tests.conftest import empty_tables
from tests.e2e.asterisk import AsteriskSandbox
from tests.ivr.caller import calls_over
from tests.ivr.test_channel import WAGE_ANSWERS
from tests.ussd.phones import Handset, Service

pytestmark = [pytest.mark.asterisk, pytest.mark.postgres]

TRACER = Path(__file__).resolve().parents[2] / "examples" / "graduate_tracer.xlsx"
IVR_NUMBER = "+254201234567"
DIALLED = "254201234567"  # as a trunk hands it to the dialplan: no `+`
USSD_CODE = "*384*55#"


@dataclass(frozen=True)
class Step:
    """One moment of the caller's timeline: wait, press keys, then play a sound."""

    wait: float = 0.9
    keys: str = ""
    play: str = ""


def keys(*presses: str, wait: float = 0.9) -> list[Step]:
    return [Step(wait, k) for k in presses]


def speak(sound: str = "hello-world") -> list[Step]:
    """Skip the instructions to the tone (any key), speak, end with #, keep it (1)."""
    return [Step(0.9, "5", sound), Step(0.3, "#"), Step(0.9, "1")]


@pytest.fixture(scope="module")
def audio_dir(asterisk: AsteriskSandbox) -> Path:
    """The sample survey's prompts in its four languages, where Asterisk sees them."""
    folder = asterisk.share / "audio"
    report = render_survey(
        load_xlsform(TRACER),
        AudioLibrary(folder),
        engine="espeak",
        gtts=GttsEngine(),
        espeak=EspeakEngine(),
    )
    assert not report.missing, report.missing
    return folder


@dataclass
class Line:
    asterisk: AsteriskSandbox
    ami: Manager
    client: TestClient
    engine: AsyncEngine
    ussd: Service
    recordings: Path

    async def call(
        self,
        timeline: Sequence[Step],
        *,
        caller: str = "254712345678",
        linger: float = 8,
        within: float = 120,
    ) -> None:
        """Place the call and return when the service has finished with it."""
        variables = {"LINGER": str(linger)}
        for number, step in enumerate(timeline, start=1):
            variables[f"WAIT{number}"] = str(step.wait)
            if step.keys:
                variables[f"KEYS{number}"] = step.keys
            if step.play:
                variables[f"PLAY{number}"] = step.play
        server = self.client.server.app[AGI_SERVER]
        messages = await asyncio.wait_for(
            self.ami.send_action(
                {
                    "Action": "Originate",
                    "Channel": "Local/s@respondent",
                    "Context": "survey",
                    "Exten": DIALLED,
                    "Priority": "1",
                    "CallerID": f"<{caller}>",
                    "Async": "true",
                    "Timeout": "10000",
                    "Variable": [f"{k}={v}" for k, v in variables.items()],
                },
                as_list=True,
            ),
            20,
        )
        outcome = [m for m in messages if m.get("Event") == "OriginateResponse"]
        assert [m.get("Response") for m in outcome] == ["Success"], messages
        await calls_over(server, placed=True, within=within)

    async def answers(self, phone: str = "+254712345678") -> dict[str, tuple[str, str]]:
        """question -> (value, channel) of the respondent's latest response."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT a.question, a.value, a.channel FROM answers a "
                    "JOIN responses r ON r.id = a.response_id "
                    "JOIN respondents p ON p.id = r.respondent_id "
                    "WHERE p.phone = :phone AND r.id = (SELECT max(id) FROM responses "
                    "WHERE respondent_id = p.id)"
                ),
                {"phone": phone},
            )
            return {q: (v, c) for q, v, c in rows}

    async def status(self, phone: str = "+254712345678") -> tuple[int, str]:
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text(
                    "SELECT r.id, r.status FROM responses r JOIN respondents p "
                    "ON p.id = r.respondent_id WHERE p.phone = :phone ORDER BY r.id DESC"
                ),
                {"phone": phone},
            )
            found = row.first()
            assert found is not None, f"no response for {phone}"
            return found[0], found[1]


@pytest.fixture
async def line(
    asterisk: AsteriskSandbox,
    ami: Manager,
    audio_dir: Path,
    aiohttp_client,
    postgres_database_url: str,
    redis_url: str,
) -> AsyncIterator[Line]:
    recordings = asterisk.share / "answers"
    settings = Settings(
        database_url=postgres_database_url,
        redis_url=redis_url,
        audio_dir=str(audio_dir),
        recordings_dir=str(recordings),
        agi_port=asterisk.agi_port,
    )
    client: TestClient = await aiohttp_client(create_app(settings))
    app = client.server.app
    engine: AsyncEngine = app[DATABASE]
    await empty_tables(engine)
    imported = await import_survey(
        engine,
        TRACER.read_bytes(),
        filename=TRACER.name,
        ussd_code=USSD_CODE,
        roster_only=False,
        ivr_numbers=[IVR_NUMBER],
    )
    ussd = Service(
        client,
        engine,
        app[RESPONSES],
        app[SESSIONS],
        imported.survey_id,
        redis_url,
        imported.organisation_id,
    )
    since = asterisk.log_size()
    yield Line(asterisk, ami, client, engine, ussd, recordings)
    log = asterisk.log(since)
    assert "does not exist" not in log, log[-4000:]


# The sample survey by a wage earner in English, and by a graduate still looking for
# work in French: language, consent, status, the branch's questions, further
# education, relevance, satisfaction, the note (any key), four skills, the suggestion.
ENGLISH_WAGE = [
    *keys("1", "1", "1", "3#", "1", "1", "3", "2", "4", "4", "5", "4", "4", "4", "4"),
    *speak(),
]
FRENCH_LOOKING = [
    *keys("2", "1", "3", "1", "2", "1", "5", "5", "5", "3", "3", "3", "3"),
    *speak("tt-weasels"),
]


def peak(path: Path) -> int:
    with wave.open(str(path), "rb") as take:
        data = take.readframes(take.getnframes())
    samples = memoryview(data).cast("h")
    return max(abs(s) for s in samples) if len(samples) else 0


async def test_two_graduates_answer_the_whole_survey_by_voice_in_two_languages(line: Line):
    await asyncio.gather(
        line.call(ENGLISH_WAGE),
        line.call(FRENCH_LOOKING, caller="254733000111"),
    )
    english = await line.answers()
    said = {q: v for q, (v, _) in english.items() if q not in ("suggestion", "skills_intro")}
    assert said == WAGE_ANSWERS
    assert {c for _, c in english.values()} == {"ivr"}
    french = await line.answers("+254733000111")
    assert french["employed"][0] == "not_working"
    assert french["looking_for_work"][0] == "yes"
    assert french["main_barrier"][0] == "no_experience"
    assert french["skill_confidence"][0] == "3"
    for phone, answers in (("+254712345678", english), ("+254733000111", french)):
        assert (await line.status(phone))[1] == "complete"
        take = line.recordings / f"{answers['suggestion'][0]}.wav"
        assert take.is_file()
        assert peak(take) > 1000, "the spoken answer was recorded as silence"


async def test_a_hang_up_mid_survey_then_a_new_call_resumes_where_it_stopped(line: Line):
    await line.call(keys("1", "1", "1"), linger=0.5)
    first_id, status = await line.status()
    assert status == "interrupted"
    assert set(await line.answers()) == {"consent", "employed"}
    # The offer to continue (1) or start again (2), then months and a hang-up.
    await line.call(keys("1", "7#"), linger=0.5)
    resumed_id, _ = await line.status()
    answers = await line.answers()
    assert resumed_id == first_id
    assert answers["employed"] == ("wage", "ivr") and answers["months_to_job"] == ("7", "ivr")


async def test_a_response_begun_on_ussd_is_finished_by_voice(line: Line):
    phone = Handset(line.ussd, "+254712345678", code=USSD_CODE)
    assert (await phone.dial()).startswith("CON")
    for typed in ("1", "1", "2"):  # English, consent, self-employed
        await phone.send(typed)
    await phone.hang_up()
    # Resume (1), months, then the rest of the survey by voice.
    await line.call(
        [
            *keys("1", "2#", "2", "2", "4", "1", "3", "3", "5", "3", "3", "3", "3"),
            *speak(),
        ]
    )
    answers = await line.answers()
    assert answers["consent"] == ("yes", "ussd") and answers["employed"] == ("self", "ussd")
    assert answers["months_to_job"] == ("2", "ivr")
    assert answers["suggestion"][1] == "ivr"
    assert (await line.status())[1] == "complete"


async def test_the_survey_calls_a_graduate_through_ami_and_they_answer(line: Line):
    from ivr.dialer import CallOutcome, CallRequest, Dialer, DialerSettings
    from storage.calls import SqlCallLog

    settings = DialerSettings(
        username=line.asterisk.ami_user,
        secret=line.asterisk.ami_secret,
        host=line.asterisk.ami_host,
        port=line.asterisk.ami_port,
        trunk="Local/{number}@respondent-called",
        ring_seconds=10,
    )
    calls = SqlCallLog(line.engine)
    server = line.client.server.app[AGI_SERVER]
    async with Dialer(settings, calls) as dialer:
        result = await dialer.place(CallRequest(line.ussd.survey_id, "+254744000222", IVR_NUMBER))
        assert result.outcome is CallOutcome.ANSWERED, result
        await calls_over(server, placed=True, within=60)
    # The respondent is the number called (ST_PHONE), not the Local channel's caller ID.
    answers = await line.answers("+254744000222")
    assert answers == {"consent": ("yes", "ivr"), "employed": ("not_working", "ivr")}
    record = await calls.get_call(result.call_id)
    assert record is not None and record.outcome is CallOutcome.ANSWERED
