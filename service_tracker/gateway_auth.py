"""Who may call the gateway endpoints: the shared token of the callback URL.

Africa's Talking signs nothing, so a stranger who learns an endpoint's URL could store
answers in any graduate's name. With `GATEWAY_TOKEN` set, the callback URLs configured
at the gateway carry it (`https://HOST/ussd/africastalking?token=...`) and every
request to a gateway route must bring it, or gets 403.

One middleware guards every route under `GATEWAY_PATH_PREFIXES`, judged on the route
that matched (not the raw path), so a gateway endpoint added later is guarded without
code of its own: a new channel (SMS callbacks) adds its prefix here.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = ["GATEWAY_PATH_PREFIXES", "gateway_token_middleware"]

GATEWAY_PATH_PREFIXES: tuple[str, ...] = ("/ussd/", "/sms/")

log = logging.getLogger("service_tracker.gateway")


def gateway_token_middleware(token: str) -> Middleware:
    """A middleware answering 403 to a gateway callback without `?token=<token>`."""
    expected = token.encode()

    @web.middleware
    async def require_gateway_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        if resource is not None and resource.canonical.startswith(GATEWAY_PATH_PREFIXES):
            given = request.query.get("token", "").encode()
            # Constant time: how far a guess matched must not show in the reply's timing.
            if not hmac.compare_digest(given, expected):
                # The path only: the query holds what was tried as the token.
                log.warning(
                    "refused a gateway callback to %s from %s: %s token",
                    resource.canonical,
                    request.remote,
                    "wrong" if given else "no",
                )
                raise web.HTTPForbidden(text="a valid gateway token is required")
        return await handler(request)

    return require_gateway_token
