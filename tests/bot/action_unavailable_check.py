"""Run by tests/bot/test_action_unavailable.py under the Rasa environment (Python 3.10):
``python action_unavailable_check.py PORT`` (nothing listens there) prints one JSON object."""

from __future__ import annotations

import asyncio
import json
import sys

import channels  # noqa: F401  (installs the patches, as Rasa's start does)
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig


async def outcome(name: str, port: str) -> dict:
    endpoint = EndpointConfig(url=f"http://127.0.0.1:{port}/webhook")
    action = RemoteAction(name, endpoint)
    tracker = DialogueStateTracker("check", slots=[])
    args = (CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker)
    try:
        events = await action.run(*args, Domain.empty())
    except Exception as exc:
        return {"raised": type(exc).__name__}
    return {"events": [event.as_dict() for event in events]}


async def main(port: str) -> None:
    result = {
        name: await outcome(name, port) for name in ("action_kb_answer", "validate_code_form")
    }
    print(json.dumps(result))


asyncio.run(main(sys.argv[1]))
