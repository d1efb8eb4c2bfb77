"""The ceiling of one Python process: aiohttp answering every USSD hop with a constant.

No parsing, no state, no I/O beyond the socket: whatever a real handler does per hop
can only be slower than this, so `service / bare` says how much of one process's
HTTP capacity the survey engine leaves.
"""

from __future__ import annotations

import argparse

from aiohttp import web

# About 120 characters, the size of a typical survey screen.
SCREEN = (
    "CON How many months after your training did you find your first job? "
    "Enter a number from 0 to 60, e.g. 12"
)


async def ussd(_request: web.Request) -> web.Response:
    return web.Response(text=SCREEN)


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app() -> web.Application:
    """The application: the USSD callback and a readiness probe."""
    app = web.Application()
    app.router.add_post("/ussd/africastalking", ussd)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # access_log=None: one log line per hop would cost more than the handler itself.
    web.run_app(make_app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
