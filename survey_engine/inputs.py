"""What a respondent can do at a prompt, one type each (never an empty string for "timeout")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    """Text the respondent sent: digits typed on USSD, DTMF collected by the IVR.
    An empty string is a real (empty) answer: the respondent pressed send."""

    text: str


@dataclass(frozen=True, slots=True)
class Recording:
    """A voice answer to an open question, recorded by the channel into a file whose
    reference (relative to RECORDINGS_DIR) the server made: never a caller's path."""

    ref: str


@dataclass(frozen=True, slots=True)
class Repeat:
    """Say the prompt again (the respondent asked); not counted as an attempt."""


@dataclass(frozen=True, slots=True)
class Back:
    """Go back to the previous question to change its answer."""


@dataclass(frozen=True, slots=True)
class NoInput:
    """The channel waited and nothing came (an IVR timeout)."""


@dataclass(frozen=True, slots=True)
class HungUp:
    """The respondent left; the response can be resumed later."""


@dataclass(frozen=True, slots=True)
class Expired:
    """The channel's session timed out; the response can be resumed later."""


Resume = Answer | Recording | Repeat | Back | NoInput | HungUp | Expired


@dataclass(frozen=True, slots=True)
class Context:
    """What the engine knows of the world around a turn, given by the caller (the
    engine never reads a clock): the time of the turn (timezone-aware), the
    respondent's number (E.164) and the channel, for the metadata a form asks the
    system to fill (`start`, `end`, `today`, `phonenumber`, `deviceid`) and for
    `today()` and `now()`. The number and channel are read when a response starts."""

    now: dt.datetime | None = None
    phone: str = ""
    channel: str = ""
