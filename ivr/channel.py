"""The voice channel: one FastAGI call, one interview.

Everything about the interview itself (which survey a number reaches, roster rules, the
completed check, the resume offer, commit before the next prompt, the end of a session)
is `interviews.Interviews`'. This module keeps what is the call's own:

- who is calling: the dialled number (`agi_extension`, else `agi_dnid`) chooses the
  survey and the caller ID names the respondent; a call we placed (`ivr.dialer`) says
  both in the channel variables `ST_ENTRY` and `ST_PHONE`;
- speaking: each sound of the prompt's `VoicePlan` (`ivr.render`) played from the
  survey's audio (`PromptFiles`); a key the audio lacks is logged as a warning and the
  call goes on;
- keys, with no gap between playing and collecting: every sound but the last is a
  STREAM FILE that any key interrupts, the last is the prompt of the GET DATA that
  collects; a key pressed during an earlier sound is the first of the answer and GET
  DATA collects the rest over Asterisk's `silence/1` (Asterisk throws away a key
  pressed while no command collects);
- open questions by voice: RECORD FILE into RECORDINGS_DIR, a silent take counts as no
  input, then "keep it (1) or record again (2)";
- the end: a closing is said and the call hung up; a hang-up anywhere goes to
  `Interviews.end`, which leaves the response resumable.

Turn references are the call's own turn count ("1", "2", ...): one call is one session
(`agi_uniqueid`), and its turns arrive in order on one connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from audio.library import PromptFiles
from interviews import Closed, Interviews, Live, Notice, Step
from ivr.agi import AgiHangup, AgiSession
from ivr.dialer import ENTRY_VARIABLE, PHONE_VARIABLE
from ivr.render import (
    KEYPAD,
    Collect,
    Record,
    Sound,
    VoiceKeys,
    VoicePlan,
    closed_plan,
    closing_plan,
    phrase_speech,
    read_entries,
    read_entry,
    turn_plan,
)
from survey_engine.events import Prompt
from survey_engine.inputs import Back, NoInput, Recording, Repeat, Resume
from survey_engine.machine import Turn
from survey_engine.model import Survey
from survey_engine.phones import caller_phone, ivr_address, mask_phone
from survey_engine.ports import Channel, RecordingStore
from survey_engine.speech import system_key

__all__ = ["ACK_SOUND", "SILENCE_SOUND", "IvrChannel", "IvrSettings"]

log = logging.getLogger(__name__)

CHANNEL = Channel.IVR.value
# Asterisk's own sounds (asterisk-core-sounds): what GET DATA plays while it collects
# the rest of an answer begun during a prompt, and the tone that confirms one choice
# of several before the next.
SILENCE_SOUND = "silence/1"
ACK_SOUND = "beep"
# A take whose loudest sample stays below this (about -36 dBFS) holds nothing said.
_SILENT_PEAK = 500
_MAX_TAKES = 5  # recordings of one answer in one prompt before the last is kept
_MAX_ENTRIES = 30  # entries of one "several choices" answer (a stuck key ends it)


@dataclass(frozen=True, slots=True)
class IvrSettings:
    """What a deployment may change about calls."""

    keys: VoiceKeys = field(default_factory=VoiceKeys)
    default_region: str | None = None  # reads national caller IDs and dialled numbers
    keep_key: str = "1"  # after a recording: keep it
    again_key: str = "2"  # after a recording: record again

    def __post_init__(self) -> None:
        for name in ("keep_key", "again_key"):
            value = getattr(self, name)
            if not (isinstance(value, str) and len(value) == 1 and value in "123456789"):
                raise ValueError(f"IvrSettings.{name}: a digit from 1 to 9")
        if self.keep_key == self.again_key:
            raise ValueError("IvrSettings: keep_key and again_key differ")


class IvrChannel:
    """Answers FastAGI calls for every survey reachable by an IVR number. Register
    `handle` as the AGI server's ``survey`` script."""

    def __init__(
        self,
        interviews: Interviews,
        prompts: PromptFiles,
        recordings: RecordingStore,
        settings: IvrSettings | None = None,
    ) -> None:
        self.interviews = interviews
        self.prompts = prompts
        self.recordings = recordings
        self.settings = settings or IvrSettings()

    async def handle(self, agi: AgiSession) -> None:
        await _Call(self, agi).run()


class _Call:
    """One call in progress."""

    def __init__(self, channel: IvrChannel, agi: AgiSession) -> None:
        self.channel = channel
        self.interviews = channel.interviews
        self.settings = channel.settings
        self.keys = channel.settings.keys
        self.agi = agi
        request = agi.request
        # One call is one session; the unique id names it even across AGI restarts.
        self.session_ref = request.unique_id or f"{request.channel}@{time.time_ns()}"
        self.turns = 0
        self.plan: VoicePlan | None = None
        self.survey: Survey | None = None
        self.missing: set[tuple[str, str]] = set()
        self.outcome = "ended"
        self.phone = ""
        # A take recorded but not yet confirmed when the caller hung up: stored, since
        # keeping is what silence after a take means too.
        self.unconfirmed: tuple[Live, Recording] | None = None

    # -- the call ------------------------------------------------------------------

    async def run(self) -> None:
        started = time.monotonic()
        opened = False
        try:
            phone, addresses = await self._who()
            await self.agi.answer()
            if phone is None:
                await self._unidentified(addresses)
                return
            self.phone = phone
            self.turns = 1
            opened = True
            step = await self.interviews.open(
                CHANNEL, addresses, phone, self.session_ref, "1", self._render
            )
            await self._converse(step)
        except AgiHangup:
            self.outcome = "hung up"
            if self.unconfirmed is not None:
                live, take = self.unconfirmed
                await self.interviews.advance(live, take, str(self.turns + 1), self._render)
            raise
        finally:
            if opened:
                # Whatever ended the call: an unfinished response is suspended and
                # stays resumable (nothing happens to one that ended).
                await self.interviews.end(CHANNEL, self.session_ref)
            log.info(
                "IVR call %s caller=%s survey=%s turns=%d outcome=%s (%.1f s)",
                self.session_ref,
                mask_phone(self.phone) if self.phone else "-",
                self.survey.form_id if self.survey else "-",
                self.turns,
                self.outcome,
                time.monotonic() - started,
            )

    async def _who(self) -> tuple[str | None, tuple[str, ...]]:
        """(the respondent's E.164 phone or None, the entry addresses to try)."""
        request, region = self.agi.request, self.settings.default_region
        placed_phone = await self.agi.get_variable(PHONE_VARIABLE)
        if placed_phone:
            # A call we placed: the dialer named the respondent and the survey.
            entry = await self.agi.get_variable(ENTRY_VARIABLE) or ""
            return caller_phone(placed_phone, region), (entry,)
        addresses: list[str] = []
        for dialled in (request.extension, request.dnid):
            if dialled:
                try:
                    addresses.append(ivr_address(dialled, region))
                except ValueError:
                    continue  # `s`, or a name: not a number that reaches a survey
        return caller_phone(request.caller_id, region), tuple(dict.fromkeys(addresses))

    async def _unidentified(self, addresses: Sequence[str]) -> None:
        self.outcome = "no caller id"
        survey = await self.interviews.reach(CHANNEL, addresses)
        if survey is None:
            await self._no_survey()
            return
        self.survey = survey
        language = survey.default_language
        await self._close(closing_plan(phrase_speech("no_caller_id", language), language))

    async def _no_survey(self) -> None:
        # No survey, so no survey's audio: Asterisk's own "not in service" message.
        self.outcome = "no survey"
        log.warning("IVR call %s reached no survey: no IVR number matches", self.session_ref)
        await self.agi.stream_file("ss-noservice")
        await self.agi.hangup()

    async def _converse(self, step: Step | Closed) -> None:
        while True:
            if isinstance(step, Closed):
                await self._closed(step)
                return
            if self.survey is None:
                self.survey = await self.interviews.survey(step.live)
            plan = self.plan
            prompt = step.turn.prompt
            if plan is None or plan.collect is None or prompt is None:
                self.outcome = step.status.value if step.status else "ended"
                if plan is not None:
                    await self._close(plan)
                else:
                    await self.agi.hangup()
                return
            resume = await self._collect(plan, prompt, step.live)
            self.turns += 1
            step = await self.interviews.advance(
                step.live, resume, str(self.turns), self._render, self.survey
            )

    async def _closed(self, closed: Closed) -> None:
        self.outcome = closed.phrase
        survey = closed.survey or self.survey
        if survey is None:
            await self._no_survey()
            return
        self.survey = survey
        await self._close(closed_plan(closed, survey))

    async def _close(self, plan: VoicePlan) -> None:
        for name in await self.channel.prompts.joined(self._files(plan)):
            await self.agi.stream_file(name)
        await self.agi.hangup()

    def _render(self, turn: Turn, notice: Notice | None) -> tuple[()]:
        # The call holds its plan; nothing of it needs to outlive the call.
        self.plan = turn_plan(turn, notice, keys=self.keys)
        return ()

    # -- sounds --------------------------------------------------------------------

    def _files(self, plan: VoicePlan) -> list[str]:
        """What Asterisk plays for each sound, in order; a missing one is skipped with
        a warning (once per key and call)."""
        survey = self.survey
        if survey is None:
            return []
        found: dict[str, Mapping[str, str]] = {}
        names: list[str] = []
        for sound in plan.sounds:
            language = sound.language or plan.language
            if language not in found:
                found[language] = self.channel.prompts.sounds(survey.form_id, language)
            name = found[language].get(sound.key)
            if name is not None:
                names.append(name)
            elif (sound.key, language) not in self.missing:
                self.missing.add((sound.key, language))
                log.warning(
                    "IVR call %s: no audio for %r in %r of survey %s; run "
                    "`service-tracker audio render` (the call goes on without it)",
                    self.session_ref,
                    sound.key,
                    language,
                    survey.form_id,
                )
        if plan.skipped:
            log.warning(
                "IVR call %s: %d typed value(s) in a prompt of survey %s cannot be said",
                self.session_ref,
                plan.skipped,
                survey.form_id,
            )
        return names

    async def _play(self, names: Sequence[str], escape: str) -> str | None:
        """Play `names` in order, joined into one file; the key that interrupted them,
        if any."""
        for name in await self.channel.prompts.joined(names):
            reply = await self.agi.stream_file(name, escape)
            if reply.digit is not None:
                return reply.digit
        return None

    # -- keys ----------------------------------------------------------------------

    async def _collect(self, plan: VoicePlan, prompt: Prompt, live: Live) -> Resume:
        collect = plan.collect
        names = self._files(plan)
        if isinstance(collect, Record):
            return await self._record(plan, collect, names, prompt, live)
        assert isinstance(collect, Collect)
        if collect.one_at_a_time:
            return await self._several(plan, collect, names)
        head, last = _split(names)
        first = await self._play(head, collect.escape_digits)
        if first is None:
            got = await self.agi.get_data(last, collect.timeout_ms, collect.max_digits)
            return self._read(plan, collect, got.digits, timed_out=got.timed_out)
        if first in (plan.repeat, plan.back, collect.terminator) or collect.max_digits == 1:
            return self._read(plan, collect, "" if first == collect.terminator else first)
        more = collect.max_digits - 1 if collect.max_digits else None
        rest = await self.agi.get_data(SILENCE_SOUND, collect.timeout_ms, more)
        return self._read(plan, collect, first + rest.digits)

    def _read(
        self, plan: VoicePlan, collect: Collect, keys: str, timed_out: bool = False
    ) -> Resume:
        return read_entry(plan, collect, keys, self.keys, timed_out=timed_out)

    async def _several(self, plan: VoicePlan, collect: Collect, names: list[str]) -> Resume:
        """Several choices, one entry each (its number, then `#`); `#` alone ends."""
        head, prompt_file = _split(names)
        first = await self._play(head, collect.escape_digits)
        chosen: list[str] = []
        timed_out = False
        while len(chosen) < _MAX_ENTRIES:
            if first is None:
                got = await self.agi.get_data(prompt_file, collect.timeout_ms)
                entry, timed_out = got.digits, got.timed_out
            elif first == collect.terminator:
                entry, timed_out = "", False
            else:
                got = await self.agi.get_data(SILENCE_SOUND, collect.timeout_ms)
                entry, timed_out = first + got.digits, False
            first = None
            if not entry:
                break  # `#` alone, or silence: done (nothing chosen: no answer)
            chosen.append(entry)
            if len(chosen) == 1 and (entry[0] == plan.repeat or entry == plan.back):
                break  # the first entry repeats the prompt or goes back
            prompt_file = ACK_SOUND
        return read_entries(plan, chosen, timed_out=timed_out)

    # -- voice ---------------------------------------------------------------------

    async def _record(
        self, plan: VoicePlan, record: Record, names: list[str], prompt: Prompt, live: Live
    ) -> Resume:
        first = await self._play(names, record.escape_digits)
        if first is not None:
            if first == plan.repeat:
                return Repeat()
            if first == plan.back:
                return Back()
            # Any other key skips the instructions to the tone.
        assert self.survey is not None
        for take in range(1, _MAX_TAKES + 1):
            new = await self.channel.recordings.new(
                self.survey.form_id, live.response_id, prompt.key
            )
            try:
                await self.agi.record_file(
                    new.path,
                    "wav",
                    record.end_key,
                    record.max_seconds * 1000,
                    beep=record.beep,
                    silence_s=record.silence_seconds,
                )
            except AgiHangup:
                if await self._said_something(new.ref):
                    self.unconfirmed = (live, Recording(new.ref))
                raise
            if not await self._said_something(new.ref):
                return NoInput()
            self.unconfirmed = (live, Recording(new.ref))
            again = take < _MAX_TAKES and await self._record_again(plan.language)
            self.unconfirmed = None
            if not again:
                return Recording(new.ref)
            await self.channel.recordings.discard(new.ref)
        raise AssertionError("unreachable: the last take is kept")

    async def _said_something(self, ref: str) -> bool:
        """Whether a take holds speech; a silent or missing one is deleted."""
        peak = await self.channel.recordings.peak(ref)
        if peak is None:
            log.warning(
                "IVR call %s: Asterisk wrote no readable recording %s; check that it can "
                "write RECORDINGS_DIR at the same path",
                self.session_ref,
                ref,
            )
        if peak is None or peak < _SILENT_PEAK:
            await self.channel.recordings.discard(ref)
            return False
        return True

    async def _record_again(self, language: str) -> bool:
        """Keep the take (1, or no answer: what was said is not thrown away) or record
        again (2); another key asks once more."""
        settings = self.settings
        keep = VoicePlan(
            language,
            (
                Sound(system_key("keep_answer")),
                Sound(f"system.digit.{settings.keep_key}"),
                Sound(system_key("record_again")),
                Sound(f"system.digit.{settings.again_key}"),
            ),
            None,
        )
        head, last = _split(self._files(keep))
        for _ in range(2):
            key = await self._play(head, KEYPAD.replace(self.keys.end, ""))
            if key is None:
                key = (await self.agi.get_data(last, self.keys.timeout_ms, 1)).digits
            if key == settings.again_key:
                return True
            if key in ("", settings.keep_key):
                return False
        return False


def _split(names: list[str]) -> tuple[list[str], str]:
    """A prompt's files as (what STREAM FILE plays, what GET DATA plays while it
    collects): the last file is GET DATA's own, so no key falls between the two."""
    return names[:-1], names[-1] if names else SILENCE_SOUND
