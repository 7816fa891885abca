"""The Topics page and a topic's page: partitions, message browser, produce, configs, partitions, delete."""

from __future__ import annotations

import time
from datetime import datetime

from aiohttp import web

from brook.console import operations as ops
from brook.console.forms import form_int, key_values, timestamp_ms
from brook.console.records import BrowsedRecord, browse, produce_record
from brook.console.topic_docs import TOPIC_CONFIG_DOCS
from brook.console.web import CONSOLE_KEY, Console, redirect

__all__ = ["add_partitions", "alter_configs", "create_topic", "delete_topic", "produce", "topic", "topics"]

_BROWSE_LIMIT_MAX = 500


def _console(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


async def topics(request: web.Request) -> web.Response:
    console = _console(request)
    await console.sampler.first_snapshot()
    return await console.render(request, "topics.html")


async def create_topic(request: web.Request) -> web.Response:
    console = _console(request)
    form = await request.post()
    name = str(form.get("name", "")).strip()
    try:
        if not name:
            raise ops.ConsoleError("a topic needs a name")
        partitions = form_int(form, "partitions", 1)
        replication = form_int(form, "replication_factor", -1)
        configs = key_values(str(form.get("configs", "")), "configs")
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
    found: list[BrowsedRecord] | None = None
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
            start, found = await console.call(_browse, console, name, form)
        except ops.ConsoleError as exc:
            browse_error = str(exc)
    configs: list[ops.ConfigRow] = []
    if request.query.get("fragment") != "1":
        try:
            configs = await console.call(ops.topic_configs, console.admin, name, console.settings.timeout_s)
        except ops.ConsoleError as exc:
            config_error = str(exc)
    bytes_in, bytes_out = console.sampler.topic_bytes_rates(name)
    return await console.render(
        request,
        "topic.html",
        topic=t,
        rate=console.sampler.topic_rate(name),
        bytes_in=bytes_in,
        bytes_out=bytes_out,
        form=form,
        records=found,
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


def _browse(console: Console, name: str, form: dict[str, str]) -> tuple[int, list[BrowsedRecord]]:
    mode = form["mode"] if form["mode"] in ("offset", "timestamp", "newest") else "newest"
    partition = form_int(form, "partition")
    limit = min(max(1, form_int(form, "limit", 50)), _BROWSE_LIMIT_MAX)
    value = 0
    if mode == "offset":
        value = form_int(form, "offset", 0)
    elif mode == "timestamp":
        value = timestamp_ms(form["timestamp"])
    return browse(
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
        total = form_int(form, "total")
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
        partition = form_int(form, "partition") if raw_partition else None
        key = str(form.get("key", ""))
        headers = [(k, v.encode()) for k, v in key_values(str(form.get("headers", "")), "headers").items()]
        at_partition, offset = await console.call(
            produce_record,
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
