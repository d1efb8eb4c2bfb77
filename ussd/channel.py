"""The USSD channel: one gateway callback in, one screen out.

Everything about the interview itself (entry, roster, resume, recovery, commit before
the reply, the end of a session) is `interviews.Interviews`'. This module keeps what is
USSD's own:

- the gateway's `*`-joined text history: the turn reference of a hop, and which
  delivery is new (`latest_input`), repeated, or late (a text the session has moved
  past gets the current screen back and stores nothing);
- screens: a prompt paged into screens of at most 182 GSM-7 / 80 UCS-2 characters,
  with its Back and More keys, saved with the live record as the view
  `(reply, page, pages, back, more, notice)` (the notice said before the first prompt
  of a new response is kept, so its pages stay the same when paging);
- the keypad: what was typed, mapped to the canonical text the engine reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from interviews import Closed, Interviews, Live, Notice, Outcome, Step
from survey_engine.events import Failed, Prompt, ResponseStatus
from survey_engine.inputs import Answer, Back, Resume
from survey_engine.machine import Turn, current_prompt, expected_input
from survey_engine.phrases import phrase
from survey_engine.ports import Channel
from ussd.gateways.africastalking import (
    UssdRequest,
    con,
    dialled_address,
    end,
    is_earlier,
    latest_input,
    provably_current,
)
from ussd.keypad import canonical_input
from ussd.render import fit_end_screen, navigation_keys, paginate

CHANNEL = Channel.USSD.value
# (reply, page, pages, back, more, notice): a record of another shape was written by
# another release, and the hop continues from SQL as after a lost record.
_VIEW_FIELDS = 6


@dataclass(frozen=True, slots=True)
class HopResult:
    reply: str  # "CON ..." or "END ..."
    outcome: Outcome
    question: str = ""  # the question answered, else the prompt key now shown
    status: ResponseStatus | None = None
    failure: Failed | None = None


def render(turn: Turn, notice: Notice | None) -> tuple[str, int, int, str, str, str]:
    """The view of a turn: the first screen, its page, the page count, the keys and
    the notice shown with it."""
    prompt = turn.prompt
    if prompt is None:
        ended = turn.ended
        message = ended.message if ended else phrase("system_error", turn.state.language)
        return end(fit_end_screen(message)), 0, 1, "0", "00", ""
    said = notice.text if notice is not None else ""
    pages = paginate(_with_notice(prompt, said))
    keys = navigation_keys(prompt)
    return con(pages[0]), 0, len(pages), keys.back, keys.more, said


def _with_notice(prompt: Prompt, notice: str) -> Prompt:
    return replace(prompt, text=f"{notice}\n{prompt.text}") if notice else prompt


class UssdChannel:
    """Answers USSD hops for every survey reachable by a service code."""

    def __init__(self, interviews: Interviews) -> None:
        self.interviews = interviews

    async def handle(self, request: UssdRequest) -> HopResult:
        text = request.text
        live = await self.interviews.live(
            CHANNEL, request.session_id, lambda last: provably_current(text, last)
        )
        if live is not None and len(live.view) == _VIEW_FIELDS:
            return await self._hop(request, live)
        if text:
            # Input without a live record: a dial whose record was lost mid-survey.
            recovered = await self.interviews.recover(CHANNEL, request.session_id, render)
            if isinstance(recovered, Closed):
                return _closed(recovered)
            if recovered is not None:
                result = await self._hop(request, recovered)
                return replace(result, outcome=Outcome.RECOVERED)
        return await self._dial(request)

    async def session_ended(self, session_id: str) -> bool:
        """The gateway's end-of-session notice: an unfinished response is suspended."""
        return await self.interviews.end(CHANNEL, session_id)

    async def _dial(self, request: UssdRequest) -> HopResult:
        code, text = request.service_code, request.text
        # *384*123*2# arrives as serviceCode *384*123# with text "2".
        addresses = (dialled_address(code, text), code) if text else (code,)
        opened = await self.interviews.open(
            CHANNEL, addresses, request.phone, request.session_id, text, render
        )
        if isinstance(opened, Closed):
            return _closed(opened)
        return _result(opened)

    async def _hop(self, request: UssdRequest, live: Live) -> HopResult:
        reply, page, pages, back, more, _ = live.view
        text = request.text
        if text == live.turn_ref:
            return HopResult(reply, Outcome.DUPLICATE)
        new_input = latest_input(text, live.turn_ref)
        if new_input is None:
            if is_earlier(text, live.turn_ref):
                # A late retry of a hop the session has moved past: the current screen,
                # and nothing stored.
                return HopResult(reply, Outcome.LATE)
            # A history this session never had: every later hop would extend it, not
            # ours, so it cannot be followed. Nothing is stored; a redial resumes.
            closing = phrase("answers_kept", live.state.language)
            return HopResult(end(fit_end_screen(closing)), Outcome.LATE)

        if new_input == more or (new_input == back and page > 0):
            wanted = page + (1 if new_input == more else -1)
            if 0 <= wanted < pages:
                return await self._show_page(live, text, wanted)

        survey = await self.interviews.survey(live)
        resume: Resume
        if new_input == back:
            resume = Back()
        else:
            # Keypad habits (`7*5`, `1*3`, `15*06*2026`) into the engine's canonical text.
            resume = Answer(canonical_input(expected_input(survey, live.state), new_input))
        step = await self.interviews.advance(live, resume, text, render, survey)
        if isinstance(step, Closed):
            return _closed(step)
        return _result(step)

    async def _show_page(self, live: Live, text: str, page: int) -> HopResult:
        survey = await self.interviews.survey(live)
        prompt = current_prompt(survey, live.state)
        if prompt is None:
            return HopResult(live.view[0], Outcome.DUPLICATE)
        _, _, _, back, more, notice = live.view
        screens = paginate(_with_notice(prompt, notice))
        page = min(page, len(screens) - 1)
        reply = con(screens[page])
        await self.interviews.keep(live, text, (reply, page, len(screens), back, more, notice))
        return HopResult(reply, Outcome.PAGED, prompt.key)


def _result(step: Step) -> HopResult:
    prompt = step.turn.prompt
    shown = prompt.key if prompt is not None else ""
    return HopResult(
        step.live.view[0], step.outcome, step.answered or shown, step.status, step.failure
    )


def _closed(closed: Closed) -> HopResult:
    return HopResult(end(fit_end_screen(closed.text)), closed.outcome)
