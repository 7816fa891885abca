"""The web console: a Kafka client like any other (confluent-kafka and brook's protocol codec over TCP), so it
works against brook and against Kafka. `brook console`, or `brook.console.port` in a broker's config.

snapshot.py takes one look at the cluster, sampler.py keeps taking them (and the histories behind rates and
the lag chart), model.py holds the decisions, operations.py the forms' cluster calls, web.py and pages.py
the HTTP side, templates/ and static/ the pages (no build step, nothing fetched at run time).
"""

from brook.console.web import Console, ConsoleSettings, build_app, start_console

__all__ = ["Console", "ConsoleSettings", "build_app", "start_console"]
