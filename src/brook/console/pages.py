"""The console's pages and forms: Overview, Topics, a topic (partitions, configs, message browser, produce),
Consumer groups and a group (members, lag, lag over time, offset reset)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aiohttp import web

from brook.console import operations as ops
from brook.console.model import lag_of, partition_health, svg_polyline
from brook.console.topic_docs import TOPIC_CONFIG_DOCS
from brook.console.web import CONSOLE_KEY, Console, redirect

__all__ = ["add_routes"]

_BROWSE_LIMIT_MAX = 500
_CHART_W, _CHART_H = 600, 160


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", overview)
    router.add_get("/topics", topics)
    router.add_post("/topics", create_topic)
    router.add_get("/topics/{name}", topic)
    router.add_post("/topics/{name}/delete", delete_topic)
    router.add_post("/topics/{name}/partitions", add_partitions)
    router.add_post("/topics/{name}/configs", alter_configs)
    router.add_post("/topics/{name}/produce", produce)
    router.add_get("/groups", groups)
    router.add_get("/groups/{group}", group)
    router.add_post("/groups/{group}/reset", reset_offsets)


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


async def overview(request: web.Request) -> web.Response:
    console = _console(request)
    snap = await console.sampler.first_snapshot()
    health = None
    if snap is not None:
        health = partition_health(
            (
                (p.leader, p.replicas, p.isr, t.min_insync_replicas)
                for t in snap.topics.values()
                for p in t.partitions
            ),
            snap.live_brokers,
        )
    s = console.sampler
    return await console.render(
        request,
        "overview.html",
        health=health,
        messages_in=s.messages_in.rate(),
        messages_out=s.messages_out.rate(),
        bytes_in=s.bytes_on_disk.rate(),
    )


async def topics(request: web.Request) -> web.Response:
    console = _console(request)
    await console.sampler.first_snapshot()
    return await console.render(request, "topics.html")


def _int(form: Any, name: str, default: int | None = None) -> int:
    raw = str(form.get(name, "")).strip()
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ops.ConsoleError(f"{name} must be a whole number, got {raw!r}") from None


def _pairs(text: str, what: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        if line.strip():
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                raise ops.ConsoleError(f"{what}: expected key=value, got {line.strip()!r}")
            pairs[key.strip()] = value.strip()
    return pairs


async def create_topic(request: web.Request) -> web.Response:
    console = _console(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()
    try:
        if not name:
            raise ops.ConsoleError("a topic needs a name")
        partitions = _int(form, "partitions", 1)
        replication = _int(form, "replication_factor", -1)
        configs = _pairs(str(form.get("configs", "")), "configs")
        await console.call(
            ops.create_topic,
            console.admin,
            name,
            partitions,
            replication,
            configs,
            console.settings.timeout_s,
        )
    except ops.ConsoleError as exc:
        raise redirect("/topics", error=str(exc))
    await console.sampler.refresh()
    raise redirect(f"/topics/{name}", notice=f"Topic {name} created")


async def topic(request: web.Request) -> web.Response:
    console = _console(request)
    name = request.match_info["name"]
    snap = await console.sampler.first_snapshot()
    if snap is not None and name not in snap.topics:
        await console.sampler.refresh()
        snap = console.sampler.snapshot
    if snap is None or name not in snap.topics:
        return await console.render(request, "missing.html", status=404, what=f"Topic {name}")
    t = snap.topics[name]
    browse_error = config_error = None
    records: list[ops.BrowsedRecord] | None = None
    start = None
    q = request.query
    form = {
        "partition": q.get("partition", str(t.partitions[0].partition if t.partitions else 0)),
        "mode": q.get("mode", "newest"),
        "offset": q.get("offset", "0"),
        "timestamp": q.get("timestamp", ""),
        "limit": q.get("limit", "50"),
        "key_filter": q.get("key_filter", ""),
        "value_filter": q.get("value_filter", ""),
    }
    if q.get("browse") and request.query.get("fragment") != "1":
        try:
            start, records = await console.call(_browse, console, name, form)
        except ops.ConsoleError as exc:
            browse_error = str(exc)
    configs: list[ops.ConfigRow] = []
    if request.query.get("fragment") != "1":
        try:
            configs = await console.call(ops.topic_configs, console.admin, name, console.settings.timeout_s)
        except ops.ConsoleError as exc:
            config_error = str(exc)
    return await console.render(
        request,
        "topic.html",
        topic=t,
        rate=console.sampler.topic_rate(name),
        form=form,
        records=records,
        start=start,
        browse_error=browse_error,
        configs=configs,
        config_error=config_error,
        docs=TOPIC_CONFIG_DOCS,
        fmt_time=_fmt_time,
    )


def _fmt_time(ms: int) -> str:
    if ms < 0:
        return "-"
    return (
        datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        + " "
        + time.strftime("%Z")
    )


def _parse_when(text: str) -> int:
    """Milliseconds since the epoch from a number (ms) or an ISO date-time (local time unless it has a
    zone), as <input type=datetime-local> sends it."""
    text = text.strip()
    if not text:
        raise ops.ConsoleError("give a timestamp (milliseconds or a date and time)")
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ops.ConsoleError(f"not a timestamp: {text!r}") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return int(when.timestamp() * 1000)


def _browse(console: Console, name: str, form: dict[str, str]) -> tuple[int, list[ops.BrowsedRecord]]:
    mode = form["mode"] if form["mode"] in ("offset", "timestamp", "newest") else "newest"
    partition = _int(form, "partition")
    limit = min(max(1, _int(form, "limit", 50)), _BROWSE_LIMIT_MAX)
    value = 0
    if mode == "offset":
        value = _int(form, "offset", 0)
    elif mode == "timestamp":
        value = _parse_when(form["timestamp"])
    return ops.browse(
        console.kafka_config(),
        name,
        partition,
        mode=mode,
        value=value,
        limit=limit,
        key_filter=form["key_filter"],
        value_filter=form["value_filter"],
        timeout_s=console.settings.timeout_s,
    )


async def delete_topic(request: web.Request) -> web.Response:
    console = _console(request)
    name = request.match_info["name"]
    try:
        await console.call(ops.delete_topic, console.admin, name, console.settings.timeout_s)
    except ops.ConsoleError as exc:
        raise redirect(f"/topics/{name}", error=str(exc))
    await console.sampler.refresh()
    raise redirect("/topics", notice=f"Topic {name} deleted")


async def add_partitions(request: web.Request) -> web.Response:
    console = _console(request)
    name = request.match_info["name"]
    form = await request.post()
    try:
        total = _int(form, "total")
        await console.call(ops.add_partitions, console.admin, name, total, console.settings.timeout_s)
    except ops.ConsoleError as exc:
        raise redirect(f"/topics/{name}", error=str(exc))
    await console.sampler.refresh()
    raise redirect(f"/topics/{name}", notice=f"{name} now has {total} partitions")


async def alter_configs(request: web.Request) -> web.Response:
    console = _console(request)
    name = request.match_info["name"]
    form = await request.post()
    key = str(form.get("config", "")).strip()
    try:
        if not key:
            raise ops.ConsoleError("choose a config")
        if form.get("action") == "reset":
            await console.call(
                ops.alter_topic_configs, console.admin, name, {}, [key], console.settings.timeout_s
            )
            notice = f"{key} reset to its default"
        else:
            value = str(form.get("value", "")).strip()
            await console.call(
                ops.alter_topic_configs, console.admin, name, {key: value}, [], console.settings.timeout_s
            )
            notice = f"{key} set to {value}"
    except ops.ConsoleError as exc:
        raise redirect(f"/topics/{name}", error=str(exc))
    raise redirect(f"/topics/{name}", notice=notice)


async def produce(request: web.Request) -> web.Response:
    console = _console(request)
    name = request.match_info["name"]
    form = await request.post()
    try:
        raw_partition = str(form.get("partition", "")).strip()
        partition = _int(form, "partition") if raw_partition else None
        key = str(form.get("key", ""))
        headers = [(k, v.encode()) for k, v in _pairs(str(form.get("headers", "")), "headers").items()]
        at_partition, offset = await console.call(
            ops.produce,
            console.producer,
            name,
            partition,
            key.encode() if key else None,
            str(form.get("value", "")).encode(),
            headers,
            console.settings.timeout_s,
        )
    except ops.ConsoleError as exc:
        raise redirect(f"/topics/{name}", error=str(exc))
    await console.sampler.refresh()
    raise redirect(f"/topics/{name}", notice=f"Produced to partition {at_partition} at offset {offset}")


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
            value = _int(plan_form, "value")
        elif strategy == "timestamp":
            value = _parse_when(plan_form["value"])
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
