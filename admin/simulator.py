"""The phone simulator: a programme officer tries a survey in the browser before any
graduate is contacted.

- USSD: each key the officer sends goes through the service's own USSD channel
  (`UssdChannel.handle`), in this process, with the request Africa's Talking would
  send: a session id of the simulator's own, the code's base as `serviceCode`, the
  officer's test number and the `*`-joined history of what was typed. The screens are
  the real renderer's, paging included. The history lives in the officer's session.
- Voice: the interview runs on the IVR's own interviews (`IVR_INTERVIEWS`), from the
  number a caller dials; each turn's voice plan is `ivr.render.turn_plan`, and keys are
  read by `ivr.render.read_entry` / `read_entries`, as on a call. The page plays the
  prompt files the IVR would play, in order, with their text; a sound without a file is
  shown as the IVR treats it: skipped, with a warning. An open question is recorded on
  a call; here the officer types what a caller would say (stored as text).

Answers go to a test respondent (`storage.simulated`): the number the officer types
(by default one of the form `+254 999 000 NNN`, which no roster can hold), marked in
its attributes so results can leave it out. A graduate's number is refused.

Admins only: the simulator writes respondents and responses (test ones, but in the
organisation's data) and can forget a test number's earlier answers; an analyst reads
and exports.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import Session, get_session

from admin.auth import audit, current_user, requires_admin
from audio.catalogue import catalogue
from audio.library import AudioLibrary
from interviews import Closed, Interviews, Live, Notice, Step
from ivr.channel import CHANNEL as IVR_CHANNEL
from ivr.render import (
    Collect,
    Record,
    VoiceKeys,
    VoicePlan,
    closed_plan,
    read_entries,
    read_entry,
    turn_plan,
)
from service_tracker.keys import DATABASE, IVR_INTERVIEWS, SETTINGS
from storage.simulated import NotATestNumber, prepare_test_respondent
from storage.surveys import SurveySummary, list_surveys, parse_ussd_code
from survey_engine.inputs import Answer, Back, NoInput, Repeat, Resume
from survey_engine.machine import Turn
from survey_engine.model import Survey
from survey_engine.phones import PhoneNumberError, mask_phone, read_delivered_phone
from survey_engine.phrases import phrase
from ussd.gateways.africastalking import MAX_HISTORY, UssdRequest, end
from ussd.gsm7 import GSM7_SCREEN_LIMIT, screen_length
from ussd.routes import USSD_CHANNEL

__all__ = ["add_routes", "default_test_number"]

log = logging.getLogger("service_tracker.admin")

# A network code of the gateway's form; the engine never reads it.
NETWORK_CODE = "63902"
# What one screen's input may hold: a handset's own limit on a USSD reply.
MAX_INPUT = GSM7_SCREEN_LIMIT
# The voice channel's keys: the service runs its calls with the defaults.
KEYS = VoiceKeys()
_USSD = "sim_ussd"
_VOICE = "sim_voice"


def default_test_number(user_id: int) -> str:
    """A test number per member of staff: `+254 999 000 NNN` is a possible number (the
    gateway would deliver it) in a range no operator uses, which no roster import
    accepts (a roster's numbers must be valid ones)."""
    return f"+254999000{user_id % 1000:03d}"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/simulator", ussd_page, name="simulator")
    app.router.add_post("/simulator/ussd/dial", ussd_dial, name="simulator_ussd_dial")
    app.router.add_post("/simulator/ussd/send", ussd_send, name="simulator_ussd_send")
    app.router.add_post("/simulator/ussd/hang-up", ussd_hang_up, name="simulator_ussd_hang_up")
    app.router.add_get("/simulator/voice", voice_page, name="simulator_voice")
    app.router.add_post("/simulator/voice/call", voice_call, name="simulator_voice_call")
    app.router.add_post("/simulator/voice/keys", voice_keys, name="simulator_voice_keys")
    app.router.add_post("/simulator/voice/hang-up", voice_hang_up, name="simulator_voice_hang_up")
    app.router.add_get(
        r"/simulator/audio/{survey_id:\d{1,9}}/{language}/{key}",
        audio,
        name="simulator_audio",
    )


# -- what both modes share ------------------------------------------------------------


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _reply(request: web.Request, route: str, body: Mapping[str, Any]) -> web.StreamResponse:
    """JSON for the page's script; without it, back to the page, which shows the state."""
    if _wants_json(request):
        return web.json_response(body)
    raise web.HTTPSeeOther(str(request.app.router[route].url_for()))


def _refuse(
    request: web.Request, route: str, message: str, status: int = 400
) -> web.StreamResponse:
    if _wants_json(request):
        return web.json_response({"error": message}, status=status)
    raise web.HTTPSeeOther(
        str(request.app.router[route].url_for().with_query({"error": message[:300]}))
    )


def _text(form: Mapping[str, Any], name: str, limit: int) -> str:
    value = form.get(name, "")
    return value[:limit] if isinstance(value, str) else ""


async def _test_number(
    request: web.Request,
    form: Mapping[str, Any],
    survey: SurveySummary,
    route: str,
    mode: str,
    address: str,
) -> str | web.StreamResponse:
    """The test number typed, its test respondent ready (and its earlier answers
    forgotten when asked), audited: the number, or the refusal to send back."""
    user = current_user(request)
    typed = _text(form, "phone", 40).strip() or default_test_number(user.id)
    try:
        phone, _ = read_delivered_phone(typed, request.config_dict[SETTINGS].default_phone_region)
    except PhoneNumberError as error:
        return _refuse(request, route, f"{error}: type a number such as {default_test_number(1)}")
    forget = form.get("forget") in ("1", "on", "true")
    async with request.config_dict[DATABASE].begin() as conn:
        try:
            test = await prepare_test_respondent(
                conn,
                user.organisation_id,
                phone,
                by=user.email,
                forget_survey_id=survey.survey_id if forget else None,
            )
        except NotATestNumber as error:
            return _refuse(request, route, str(error), status=409)
        await audit(
            request,
            conn,
            "simulator.start",
            "survey",
            survey.survey_id,
            detail={
                "mode": mode,
                "address": address,
                "phone": mask_phone(phone),
                "respondent_id": test.id,
                "forgotten": test.forgotten,
            },
        )
    return phone


async def _surveys(request: web.Request) -> list[SurveySummary]:
    return await list_surveys(request.config_dict[DATABASE], current_user(request).organisation_id)


def _reaching(surveys: Sequence[SurveySummary], address: str, ivr: bool) -> SurveySummary:
    """The organisation's survey that `address` reaches; another organisation's code or
    number is as unknown as one that reaches nothing (404)."""
    for survey in surveys:
        if address in (survey.ivr_numbers if ivr else survey.ussd_codes):
            return survey
    raise web.HTTPNotFound()


def _page_base(
    request: web.Request, surveys: Sequence[SurveySummary], *, ivr: bool
) -> dict[str, Any]:
    user = current_user(request)
    return {
        # What a phone dials to reach each survey: (address, the survey's title).
        "addresses": [
            (address, survey.title or survey.form_id)
            for survey in surveys
            for address in (survey.ivr_numbers if ivr else survey.ussd_codes)
        ],
        "default_phone": default_test_number(user.id),
        "error": request.query.get("error", "")[:300],
    }


# -- USSD -------------------------------------------------------------------------------


@requires_admin
@aiohttp_jinja2.template("simulator.html")
async def ussd_page(request: web.Request) -> dict[str, Any]:
    surveys = await _surveys(request)
    state = (await get_session(request)).get(_USSD)
    return {**_page_base(request, surveys, ivr=False), "mode": "ussd", "ussd": state}


@requires_admin
async def ussd_dial(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = _text(form, "code", 64).strip()
    survey = _reaching(await _surveys(request), code, ivr=False)
    phone = await _test_number(request, form, survey, "simulator", "ussd", code)
    if not isinstance(phone, str):
        return phone
    session = await get_session(request)
    await _ussd_end(request, session)  # a session still open on the simulator hangs up
    service_code, extension = parse_ussd_code(code)
    state = {
        "session_id": "SIM" + secrets.token_hex(8),
        "code": code,
        "service_code": service_code,
        "phone": phone,
        # As the gateway sends `*384*123*2#`: serviceCode `*384*123#`, text "2".
        "history": [extension] if extension else [],
        "screen": "",
        "final": False,
    }
    return await _ussd_hop(request, session, state)


@requires_admin
async def ussd_send(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    session = await get_session(request)
    state = session.get(_USSD)
    if not isinstance(state, dict) or state.get("final"):
        return _refuse(request, "simulator", "No session is open: dial the survey's code first.")
    typed = _text(form, "input", MAX_INPUT + 1)
    if len(typed) > MAX_INPUT:
        return _refuse(request, "simulator", f"A reply holds at most {MAX_INPUT} characters.")
    history = [*state["history"], typed]
    if len("*".join(history)) > MAX_HISTORY:
        return _refuse(request, "simulator", "This session is too long: dial again.")
    return await _ussd_hop(request, session, {**state, "history": history})


@requires_admin
async def ussd_hang_up(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    await _ussd_end(request, session)
    return _reply(request, "simulator", {"screen": "", "final": True})


async def _ussd_hop(
    request: web.Request, session: Session, state: dict[str, Any]
) -> web.StreamResponse:
    hop = UssdRequest(
        session_id=state["session_id"],
        service_code=state["service_code"],
        phone=state["phone"],
        network_code=NETWORK_CODE,
        text="*".join(state["history"]),
    )
    try:
        result = await request.config_dict[USSD_CHANNEL].handle(hop)
        reply = result.reply
    except Exception:
        # As the gateway endpoint answers: the respondent sees the system error.
        log.exception("simulator hop failed session=%s", hop.session_id)
        reply = end(phrase("system_error", None))
    final = reply.startswith("END")
    length, limit = screen_length(reply[4:])
    state = {**state, "screen": reply[4:], "final": final, "length": length, "limit": limit}
    session[_USSD] = state
    return _reply(
        request,
        "simulator",
        {"screen": state["screen"], "final": final, "length": length, "limit": limit},
    )


async def _ussd_end(request: web.Request, session: Session) -> None:
    """The handset hung up: the gateway's end-of-session notice, as it sends it."""
    state = session.pop(_USSD, None)
    if isinstance(state, dict) and not state.get("final"):
        await request.config_dict[USSD_CHANNEL].session_ended(state["session_id"])


# -- voice ------------------------------------------------------------------------------


@requires_admin
@aiohttp_jinja2.template("simulator.html")
async def voice_page(request: web.Request) -> dict[str, Any]:
    surveys = await _surveys(request)
    state = (await get_session(request)).get(_VOICE)
    voice = None
    if isinstance(state, dict):
        voice = {**state, "view": await _voice_view(request, state)}
    return {**_page_base(request, surveys, ivr=True), "mode": "voice", "voice": voice}


@requires_admin
async def voice_call(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    number = _text(form, "number", 64).strip()
    survey = _reaching(await _surveys(request), number, ivr=True)
    phone = await _test_number(request, form, survey, "simulator_voice", "voice", number)
    if not isinstance(phone, str):
        return phone
    session = await get_session(request)
    await _voice_end(request, session)
    interviews = request.config_dict[IVR_INTERVIEWS]
    session_ref = "SIM" + secrets.token_hex(8)
    step = await interviews.open(IVR_CHANNEL, (number,), phone, session_ref, "1", _render)
    state = {
        "session_ref": session_ref,
        "survey_id": survey.survey_id,
        "form_id": survey.form_id,
        "number": number,
        "phone": phone,
        "turns": 1,
    }
    return await _voice_turn(request, session, state, step)


@requires_admin
async def voice_keys(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    session = await get_session(request)
    state = session.get(_VOICE)
    if not isinstance(state, dict) or state.get("final"):
        return _refuse(request, "simulator_voice", "No call is on: call the survey's number first.")
    interviews = request.config_dict[IVR_INTERVIEWS]
    live = await _live(interviews, state["session_ref"])
    if live is None:
        state = {**state, "final": True, "plan": None}
        session[_VOICE] = state
        return _reply(request, "simulator_voice", await _voice_view(request, state))
    plan = VoicePlan.from_plain(live.view[0])
    resume = _resume(
        plan,
        _text(form, "keys", 200),
        _text(form, "text", 500),
        silence=form.get("silence") in ("1", "on", "true"),
    )
    turns = int(state.get("turns", 1)) + 1
    step = await interviews.advance(live, resume, str(turns), _render)
    return await _voice_turn(request, session, {**state, "turns": turns}, step)


@requires_admin
async def voice_hang_up(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    await _voice_end(request, session)
    ended = {"sounds": [], "warnings": [], "input": {"type": "none"}, "final": True}
    return _reply(request, "simulator_voice", ended)


def _render(turn: Turn, notice: Notice | None) -> tuple[dict[str, Any]]:
    # The plan is the live record's view, so the next request (on any worker) reads it.
    return (turn_plan(turn, notice, keys=KEYS).to_plain(),)


async def _live(interviews: Interviews, session_ref: str) -> Live | None:
    """The call's live record; from SQL when this worker does not hold it (the IVR's
    live records stay in the memory of the worker that wrote them)."""
    live = await interviews.live(IVR_CHANNEL, session_ref)
    if live is None or len(live.view) != 1:
        recovered = await interviews.recover(IVR_CHANNEL, session_ref, _render)
        live = recovered if isinstance(recovered, Live) else None
    return live


def _resume(plan: VoicePlan, keys: str, text: str, *, silence: bool) -> Resume:
    """What the keys pressed on this prompt mean, as the IVR reads them. `keys` is what
    was pressed, the end key included (`12#`; several choices `1#3##`)."""
    collect = plan.collect
    if isinstance(collect, Record):
        # On a call, the first key during the instructions repeats or goes back; any
        # other skips to the tone. The simulator cannot record: the typed text stands
        # in for the caller's words.
        if keys[:1] == plan.repeat:
            return Repeat()
        if keys == plan.back:
            return Back()
        return Answer(text.strip()) if text.strip() and not silence else NoInput()
    if not isinstance(collect, Collect):
        return NoInput()
    end_key = collect.terminator
    if collect.one_at_a_time and end_key:
        entries: list[str] = []
        for entry in keys.split(end_key):
            if not entry:
                break  # the end key alone: done
            entries.append(entry)
        return read_entries(plan, entries, timed_out=silence and not entries)
    if end_key and keys.endswith(end_key):
        keys = keys[: -len(end_key)]
    elif collect.max_digits:
        keys = keys[: collect.max_digits]
    return read_entry(plan, collect, keys, KEYS, timed_out=silence and not keys)


async def _voice_turn(
    request: web.Request, session: Session, state: dict[str, Any], step: Step | Closed
) -> web.StreamResponse:
    if isinstance(step, Closed):
        survey = step.survey or await request.config_dict[IVR_INTERVIEWS].reach(
            IVR_CHANNEL, (state["number"],)
        )
        plan = closed_plan(step, survey) if survey is not None else None
        final = True
    else:
        plan = VoicePlan.from_plain(step.live.view[0])
        final = plan.collect is None
    if final:
        await request.config_dict[IVR_INTERVIEWS].end(IVR_CHANNEL, state["session_ref"])
    state = {**state, "plan": plan.to_plain() if plan else None, "final": final}
    session[_VOICE] = state
    return _reply(request, "simulator_voice", await _voice_view(request, state))


async def _voice_end(request: web.Request, session: Session) -> None:
    """The caller hung up: an unfinished response stays resumable, as on a call."""
    state = session.pop(_VOICE, None)
    if isinstance(state, dict) and not state.get("final"):
        await request.config_dict[IVR_INTERVIEWS].end(IVR_CHANNEL, state["session_ref"])


async def _voice_view(request: web.Request, state: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows of a turn: each sound with its text and file (or that the
    IVR skips it), and how the answer is collected."""
    plain = state.get("plan")
    if not plain:
        return {"sounds": [], "final": True, "input": {"type": "none"}, "warnings": []}
    plan = VoicePlan.from_plain(plain)
    survey = await _compiled(request, state)
    library = AudioLibrary(Path(request.config_dict[SETTINGS].audio_dir))
    texts: dict[str, dict[str, str]] = {}
    sounds = []
    missing = 0
    for sound in plan.sounds:
        language = sound.language or plan.language
        if language not in texts:
            texts[language] = {e.key: e.text for e in catalogue(survey, [language])}
        exists = library.playable(survey.form_id, language, sound.key) is not None
        missing += not exists
        url = request.app.router["simulator_audio"].url_for(
            survey_id=str(state["survey_id"]), language=language, key=sound.key
        )
        sounds.append(
            {
                "key": sound.key,
                "language": language,
                "text": texts[language].get(sound.key, ""),
                "url": str(url) if exists else None,
            }
        )
    warnings = []
    if missing:
        warnings.append(
            f"{missing} of {len(plan.sounds)} sounds have no audio in this language: the "
            "IVR skips them (with a warning in its log). Render or upload the prompts."
        )
    if plan.skipped:
        warnings.append(
            f"{plan.skipped} typed value(s) in this prompt cannot be said: the IVR skips them."
        )
    return {
        "sounds": sounds,
        "final": bool(state.get("final")),
        "input": _input_of(plan),
        "warnings": warnings,
    }


def _input_of(plan: VoicePlan) -> dict[str, Any]:
    collect = plan.collect
    if isinstance(collect, Record):
        return {"type": "record", "back": plan.back, "repeat": plan.repeat}
    if isinstance(collect, Collect):
        return {
            "type": "several" if collect.one_at_a_time else "keys",
            "kind": collect.kind.value,
            "max_digits": collect.max_digits,
            "end": collect.terminator,
            "back": plan.back,
            "repeat": plan.repeat,
        }
    return {"type": "none"}


async def _compiled(request: web.Request, state: Mapping[str, Any]) -> Survey:
    interviews = request.config_dict[IVR_INTERVIEWS]
    survey = await interviews.reach(IVR_CHANNEL, (state["number"],))
    if survey is None:  # the number was unbound meanwhile
        raise web.HTTPNotFound()
    return survey


@requires_admin
async def audio(request: web.Request) -> web.StreamResponse:
    """A prompt file of one of the organisation's surveys, as the IVR plays it."""
    survey_id = int(request.match_info["survey_id"])
    surveys = await _surveys(request)
    survey = next((s for s in surveys if s.survey_id == survey_id), None)
    if survey is None:
        raise web.HTTPNotFound()
    library = AudioLibrary(Path(request.config_dict[SETTINGS].audio_dir))
    try:
        path = library.playable(
            survey.form_id, request.match_info["language"], request.match_info["key"]
        )
    except ValueError:  # a language that cannot be a folder name
        raise web.HTTPNotFound() from None
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})
