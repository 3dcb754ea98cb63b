"""A scripted engine that answers every rpc and feedback role, for runs on the Ray executor: the engines run in
Ray worker processes, where a test's monkeypatch does not reach, so `install` is their `worker_process_setup_hook`
(with this folder on the workers' PYTHONPATH). The role is read from the system prompt; the answers are
rpc_builders.Scripted's (strict-parser formats: the scripted engine has no guided decoding)."""
from __future__ import annotations

import json

from counselsim.engines import scripted
from counselsim.engines.base import Message, Sampling
from counselsim.schemas.feedback import MECHANISMS
from rpc_builders import Scripted

ANSWERS = Scripted(structured=False)


def role_of(system: str) -> str:
    if "Communication Mechanisms" in system:
        return "judge"
    if system.startswith("Role:"):  # both labeler prompts
        return "labeler"
    if "5P model" in system:
        return "profiler"
    if "client resistance" in system or '"follows"' in system:  # the planner, the rewriter, the rejoin check
        return "rewriter"
    if "you are a client" in system:  # a client turn regenerated after an episode
        return "client"
    return "counselor"


def script(messages: list[Message], sampling: Sampling) -> str:
    role = role_of(messages[0]["content"])
    if role == "judge":
        return "Rating:\n" + json.dumps({**dict.fromkeys(MECHANISMS, 1), "explanation": "The reply meets the client."})
    return ANSWERS.scripts[role](messages, sampling)


def install() -> None:
    scripted.default_script = script
