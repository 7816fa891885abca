"""The console's routes, and the Overview page. Topics: topic_pages.py; consumer groups: group_pages.py."""

from __future__ import annotations

from aiohttp import web

from brook.console import group_pages, topic_pages
from brook.console.model import partition_health
from brook.console.web import CONSOLE_KEY, Console

__all__ = ["add_routes"]


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", overview)
    router.add_get("/topics", topic_pages.topics)
    router.add_post("/topics", topic_pages.create_topic)
    router.add_get("/topics/{name}", topic_pages.topic)
    router.add_post("/topics/{name}/delete", topic_pages.delete_topic)
    router.add_post("/topics/{name}/partitions", topic_pages.add_partitions)
    router.add_post("/topics/{name}/configs", topic_pages.alter_configs)
    router.add_post("/topics/{name}/produce", topic_pages.produce)
    router.add_get("/groups", group_pages.groups)
    router.add_get("/groups/{group}", group_pages.group)
    router.add_post("/groups/{group}/reset", group_pages.reset_offsets)


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
        bytes_in=s.bytes_in.rate(),
        bytes_out=s.bytes_out.rate(),
        disk_growth=s.bytes_on_disk.rate(),
    )
