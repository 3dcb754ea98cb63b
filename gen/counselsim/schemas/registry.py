"""Record type name -> (Arrow schema, pydantic model), for readers that meet a corpus of unknown kind."""
from __future__ import annotations

from counselsim.schemas.arena import ARENA_DIALOGUE_SCHEMA, ArenaDialogue
from counselsim.schemas.arrow import RPC_SESSION_SCHEMA, SESSION_SCHEMA
from counselsim.schemas.feedback import FEEDBACK_SCHEMA, FeedbackRecord
from counselsim.schemas.rpc import RPCSession
from counselsim.schemas.session import Session

SCHEMAS = {"session": SESSION_SCHEMA, "rpc_session": RPC_SESSION_SCHEMA, "feedback": FEEDBACK_SCHEMA,
           "arena_dialogue": ARENA_DIALOGUE_SCHEMA}
MODELS = {"session": Session, "rpc_session": RPCSession, "feedback": FeedbackRecord,
          "arena_dialogue": ArenaDialogue}
