"""What can go wrong with prompt audio, as data the command line and admin can show.

Exception
 └── AudioError              `code` (stable, for tests and callers) and `message`
      ├── UploadRefused      an uploaded recording we will not use (not audio,
      │                      empty, too long, too big, unreadable)
      └── TtsError           a text-to-speech engine failed
           ├── TtsUnreachable    the engine's service could not be reached in time
           │                     (the caller may fall back to another engine)
           └── LanguageUnsupported   the engine has no voice for the language
"""

from __future__ import annotations

__all__ = ["AudioError", "LanguageUnsupported", "TtsError", "TtsUnreachable", "UploadRefused"]


class AudioError(Exception):
    """`code` is stable (`not_audio`, `too_long`, ...); `message` is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class UploadRefused(AudioError):
    pass


class TtsError(AudioError):
    pass


class TtsUnreachable(TtsError):
    pass


class LanguageUnsupported(TtsError):
    pass
