"""A tiny agent service in Python, beside its Nagent Mesh sidecar.

It reads its settings from the sidecar's copy of the configuration, asks another domain to do a
task through the sidecar (which finds a healthy node of that domain, authenticates the call and
applies the domain's retries, breaker and fallbacks), and with ``--follow`` keeps its settings
current as an operator changes them (``nagentctl config put agents/writer/settings ...``).

    python3 examples/python/example_agent.py --token "$AGENT_TOKEN"
    python3 examples/python/example_agent.py --token "$AGENT_TOKEN" --follow

Each step prints one JSON line, so that its output can be read by people and programs alike.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

from nagent_sidecar import (
    CircuitOpenError,
    NagentError,
    NoHealthyInstanceError,
    SidecarClient,
    UnauthenticatedError,
)

DEFAULT_SETTINGS: Dict[str, Any] = {"model": "default", "temperature": 0.7}


def say(**fields: Any) -> None:
    """Prints one JSON line and flushes it."""
    print(json.dumps(fields), flush=True)


def merged(value: Any) -> Dict[str, Any]:
    """The defaults, overridden by the settings stored in the config (when they are an object)."""
    return {**DEFAULT_SETTINGS, **(value if isinstance(value, dict) else {})}


def run(argv: Optional[List[str]] = None) -> int:
    """Reads the settings, sends one task to the other domain, and follows the settings if asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sidecar", default=None, help="the sidecar's outbound port (default: NAGENT_SIDECAR_URL, else http://127.0.0.1:15001)")
    parser.add_argument("--token", default=os.environ.get("AGENT_TOKEN"), help="this agent's credential (default: AGENT_TOKEN)")
    parser.add_argument("--settings", default="agents/writer/settings", help="the config key of this agent's settings")
    parser.add_argument("--domain", default="execution", help="the domain to send the task to")
    parser.add_argument("--path", default="/v1/tasks", help="the path to call on that domain")
    parser.add_argument("--follow", action="store_true", help="then follow the settings' changes until interrupted")
    args = parser.parse_args(argv)

    sidecar = SidecarClient(args.sidecar, args.token)

    # Configuration comes from the sidecar's local copy: it answers while the control plane is down.
    settings = merged(sidecar.get_config(args.settings, default={}))
    say(step="settings", settings=settings)

    try:
        answer = sidecar.invoke(args.domain, args.path, {"task": "summarise", "model": settings["model"]})
    except UnauthenticatedError as error:
        say(step="task", error="unauthenticated", reason=error.reason, message=str(error))
        return 2
    except (NoHealthyInstanceError, CircuitOpenError) as error:
        # Nobody can take the task now: a real agent would queue it and try later.
        say(step="task", error=error.code, message=str(error))
        return 3
    say(step="task", status=answer.status, fallback=answer.fallback, answer=answer.json())

    if args.follow:
        try:
            for event in sidecar.watch_config(args.settings, on_error=lambda error: say(step="watch", retrying=str(error))):
                if event.type == "put" and event.key == args.settings:
                    settings = merged(event.value)
                    say(step="settings", settings=settings, revision=event.revision)
                elif event.type == "delete" and event.key == args.settings:
                    settings = merged(None)
                    say(step="settings", settings=settings, revision=event.revision)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(run())
    except NagentError as error:
        say(error=type(error).__name__, message=str(error))
        sys.exit(1)
