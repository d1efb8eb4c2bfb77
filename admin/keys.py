"""Typed keys of the admin application."""

from __future__ import annotations

from aiohttp import web

from admin.throttle import LoginThrottle

THROTTLE = web.AppKey("admin_throttle", LoginThrottle)
