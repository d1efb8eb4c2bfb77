"""A feature phone in the terminal: dials the real USSD endpoint the way Africa's Talking
would call it, one form-encoded POST per screen, with the `*`-joined input history."""

from __future__ import annotations

import asyncio
import secrets
import sys
import textwrap
from typing import TextIO

import aiohttp

SCREEN_WIDTH = 30


def draw_screen(text: str, *, final: bool, width: int = SCREEN_WIDTH) -> str:
    """A USSD screen in a box, wrapped like a small handset display."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, width) or [""])
    top = "┌" + "─" * (width + 2) + "┐"
    bottom = "└" + "─" * (width + 2) + "┘"
    body = [f"│ {line.ljust(width)} │" for line in lines]
    footer = "  (session ended)" if final else "  type your answer, Ctrl-D hangs up"
    return "\n".join([top, *body, bottom, footer])


async def simulate_ussd(
    base_url: str,
    *,
    phone: str,
    service_code: str,
    token: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    session_id = "SIM" + secrets.token_hex(8)
    inputs: list[str] = []
    url = base_url.rstrip("/") + "/ussd/africastalking"
    # As the gateway calls it when GATEWAY_TOKEN is set; kept out of `url`, which is shown.
    params = {"token": token} if token else None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        while True:
            form = {
                "sessionId": session_id,
                "serviceCode": service_code,
                "phoneNumber": phone,
                "networkCode": "63902",
                "text": "*".join(inputs),
            }
            try:
                async with http.post(url, data=form, params=params) as response:
                    body = await response.text()
                    status = response.status
            except aiohttp.ClientError as error:
                print(f"cannot reach {url}: {error}", file=stdout)
                return 1
            if status != 200:
                print(f"the service answered HTTP {status}: {body}", file=stdout)
                return 1
            final = body.startswith("END")
            print(draw_screen(body[4:], final=final), file=stdout, flush=True)
            if final:
                return 0
            line = await asyncio.to_thread(stdin.readline)
            if not line:  # Ctrl-D: the handset hangs up
                await _hang_up(http, base_url, session_id, service_code, phone, inputs)
                print("hung up", file=stdout)
                return 0
            inputs.append(line.rstrip("\r\n"))


async def _hang_up(
    http: aiohttp.ClientSession,
    base_url: str,
    session_id: str,
    service_code: str,
    phone: str,
    inputs: list[str],
) -> None:
    form = {
        "date": "",
        "sessionId": session_id,
        "serviceCode": service_code,
        "networkCode": "63902",
        "phoneNumber": phone,
        "status": "Incomplete",
        "input": inputs[-1] if inputs else "",
        "durationInMillis": "0",
        "errorMessage": "",
    }
    async with http.post(base_url.rstrip("/") + "/ussd/africastalking/events", data=form):
        pass
