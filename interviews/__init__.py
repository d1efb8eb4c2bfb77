"""One interview for every channel, between the pure survey engine and the channels.

See `interviews.runner` for what lives here; channels import from this package."""

from interviews.runner import (
    Closed,
    Interviews,
    InterviewSettings,
    Live,
    Notice,
    Outcome,
    Render,
    Step,
    session_key,
)

__all__ = [
    "Closed",
    "InterviewSettings",
    "Interviews",
    "Live",
    "Notice",
    "Outcome",
    "Render",
    "Step",
    "session_key",
]
