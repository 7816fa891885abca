"""The Consumer groups page and a group's page: lag per partition, lag over time, offset reset."""

from __future__ import annotations

from aiohttp import web

from brook.console import operations as ops
from brook.console.forms import form_int, timestamp_ms
from brook.console.model import lag_of, svg_polyline
from brook.console.web import CONSOLE_KEY, Console, redirect

__all__ = ["group", "groups", "reset_offsets"]

_CHART_W, _CHART_H = 600, 160


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


async def groups(request: web.Request) -> web.Response:
    console = _console(request)
    snap = await console.sampler.first_snapshot()
    lags: dict[str, int | None] = {}
    if snap is not None:
        for g in snap.groups.values():
            known = [lag_of(c, snap.log_end_offset(t, p)) for (t, p), c in g.committed.items()]
            values = [lag for lag in known if lag is not None]
            lags[g.group_id] = sum(values) if values else None
    return await console.render(request, "groups.html", lags=lags)


async def group(request: web.Request) -> web.Response:
    console = _console(request)
    group_id = request.match_info["group"]
    snap = await console.sampler.first_snapshot()
    if snap is None or group_id not in snap.groups:
        return await console.render(request, "missing.html", status=404, what=f"Consumer group {group_id}")
    g = snap.groups[group_id]
    owners = {tp: m for m in g.members for tp in m.assignment}
    rows = []
    for tp in sorted(set(g.committed) | set(owners)):
        committed = g.committed.get(tp)
        log_end = snap.log_end_offset(*tp)
        member = owners.get(tp)
        rows.append(
            {
                "topic": tp[0],
                "partition": tp[1],
                "committed": committed,
                "log_end_offset": log_end,
                "lag": lag_of(committed, log_end),
                "member": member.member_id if member else "",
                "client_id": member.client_id if member else "",
                "host": member.host if member else "",
            }
        )
    history = console.sampler.group_lag.get(group_id)
    points = list(history.samples) if history else []
    chart = svg_polyline(points, width=_CHART_W, height=_CHART_H)
    return await console.render(
        request,
        "group.html",
        group=g,
        rows=rows,
        total_lag=sum(r["lag"] for r in rows if r["lag"] is not None),
        chart=chart,
        chart_w=_CHART_W,
        chart_h=_CHART_H,
        chart_max=max((v for _, v in points), default=0),
        chart_span_s=(points[-1][0] - points[0][0]) if len(points) > 1 else 0,
        topics=sorted({t for t, _ in g.committed} | {t for t, _ in owners}),
    )


_STRATEGIES = ("earliest", "latest", "offset", "shift", "timestamp")


async def reset_offsets(request: web.Request) -> web.Response:
    console = _console(request)
    group_id = request.match_info["group"]
    form = await request.post()
    plan_form = {k: str(form.get(k, "")) for k in ("topic", "strategy", "value")}
    execute = form.get("execute") == "1"
    try:
        strategy = plan_form["strategy"]
        if strategy not in _STRATEGIES:
            raise ops.ConsoleError(f"unknown strategy {strategy!r}")
        value: int | None = None
        if strategy in ("offset", "shift"):
            value = form_int(plan_form, "value")
        elif strategy == "timestamp":
            value = timestamp_ms(plan_form["value"])
        rows = await console.call(
            ops.plan_reset,
            console.admin,
            group_id,
            plan_form["topic"].strip() or None,
            strategy,
            value,
            execute=execute,
            timeout_s=console.settings.timeout_s,
        )
    except ops.ConsoleError as exc:
        raise redirect(f"/groups/{group_id}", error=str(exc))
    if execute:
        await console.sampler.refresh()
        raise redirect(f"/groups/{group_id}", notice=f"Offsets of {len(rows)} partitions reset")
    # the dry run: the plan, and an Execute button that posts the same form with execute=1
    return await console.render(
        request,
        "reset_plan.html",
        group_id=group_id,
        plan=rows,
        plan_form=plan_form,
    )
