"""The quiet per-hop benchmark still drives whole sessions to their end."""

from __future__ import annotations

from bench.hop_cpu import run


async def test_hop_cpu_runs_whole_sessions_and_reports_a_cost():
    per_hop = await run(20, None)
    assert 0 < per_hop < 10_000
