"""One config model per pipeline kind, chosen by the `pipeline:` key.

Adding a kind: a subclass of PipelineConfig with its `pipeline` literal, ROLES, its run section and a typed
`stages` section (and its own sections, such as `role_cards`, with their identity), listed in PIPELINES.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, get_args

from pydantic import Field, model_validator

from counselsim.arena.settings import FIXED_ROLES, ArenaStages
from counselsim.config.sections import (
    FaultConfig,
    GenerationRunConfig,
    ModelConfig,
    RegenerationConfig,
    RetryConfig,
    RoleCardsConfig,
    RoleConfig,
    RunConfig,
    SessionConfig,
    SimPsyDialSessionConfig,
    TransformRunConfig,
)
from counselsim.config.stages import (
    FeedbackStages,
    RoleCardsStages,
    RPCStages,
    SimPsyDialStages,
    WaiStages,
)
from counselsim.identity import ConfigSection, Identity, data_digests, identity_of


class PipelineConfig(ConfigSection):
    """What every pipeline kind has: engines, the roles they play, the run, retries and injected faults."""

    ROLES: ClassVar[frozenset[str]] = frozenset()  # the roles the pipeline calls; each must be configured
    IDENTITY = ("pipeline", "run", "models", "roles", "stages")
    OUTSIDE_IDENTITY = ("retry", "faults")

    pipeline: str
    run: RunConfig
    models: dict[str, ModelConfig]
    roles: dict[str, RoleConfig] = Field(description="who plays each role (client, counselor, labeler, ...) and how")
    retry: RetryConfig = Field(default_factory=RetryConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    stages: ConfigSection

    @model_validator(mode="after")
    def _roles_name_models(self) -> PipelineConfig:
        for role, role_cfg in self.roles.items():
            if role_cfg.model not in self.models:
                raise ValueError(f"roles.{role}.model names '{role_cfg.model}', which is not under models ({sorted(self.models)})")
        missing = self.ROLES - set(self.roles)
        if missing:
            raise ValueError(f"the {self.pipeline} pipeline needs roles {sorted(missing)}")
        unknown = set(self.roles) - self.ROLES
        if unknown:
            raise ValueError(f"roles.{min(unknown)}: the {self.pipeline} pipeline has no such role "
                             f"(its roles: {', '.join(sorted(self.ROLES))})")
        return self

    def identity(self) -> dict[str, Any]:
        # The shipped prompts, phrase lists and taxonomies by content.
        return {**super().identity(), "data": data_digests()}

    def resume_identity(self) -> Identity:
        """What shapes this run's records, as a flat map of dotted paths (see counselsim.identity)."""
        return identity_of(self)

    def generation_hash(self) -> str:
        """The hash of the resume identity: it names the run, its session ids and its records' config_hash."""
        return self.resume_identity().digest


class SimPsyDialConfig(PipelineConfig):
    IDENTITY = (*PipelineConfig.IDENTITY, "role_cards", "session")

    pipeline: Literal["simpsydial"]
    run: GenerationRunConfig
    role_cards: RoleCardsConfig
    session: SimPsyDialSessionConfig = Field(default_factory=SimPsyDialSessionConfig)
    stages: SimPsyDialStages = Field(default_factory=SimPsyDialStages)

    @model_validator(mode="before")
    @classmethod
    def _resistant_client_has_a_profiler(cls, data: Any) -> Any:
        # Said here in the section's words; the generic role check would only name the missing role.
        session, roles = (data.get("session"), data.get("roles")) if isinstance(data, dict) else (None, None)
        if (isinstance(session, dict) and isinstance(roles, dict) and session.get("client_mode") == "resistant"
                and "profiler" not in roles):
            raise ValueError("session.client_mode 'resistant' needs roles.profiler, the model that builds each "
                             "client's 5P profile")
        return data

    @property
    def ROLES(self) -> frozenset[str]:  # type: ignore[override]  # a resistant client needs its profiler
        resistant = self.session.client_mode == "resistant"
        return frozenset({"client", "counselor"}) | (frozenset({"profiler"}) if resistant else frozenset())


class RPCConfig(PipelineConfig):
    # client and counselor regenerate the turns after a changed one (counselsim.rpc.continuation)
    ROLES = frozenset({"client", "counselor", "profiler", "rewriter", "labeler"})
    IDENTITY = (*PipelineConfig.IDENTITY, "session")

    pipeline: Literal["rpc"]
    run: TransformRunConfig
    session: RegenerationConfig = Field(default_factory=RegenerationConfig)
    stages: RPCStages = Field(default_factory=RPCStages)


class RoleCardsBuildConfig(PipelineConfig):
    ROLES = frozenset({"builder"})

    pipeline: Literal["role_cards"]
    stages: RoleCardsStages = Field(default_factory=RoleCardsStages)


class WaiConfig(PipelineConfig):
    ROLES = frozenset({"judge"})

    pipeline: Literal["wai"]
    stages: WaiStages = Field(default_factory=WaiStages)


class FeedbackConfig(PipelineConfig):
    """Feedback on counselor replies to resistance (counselsim.feedback): a judge, and a labeler for corpora
    without resistance labels (the job checks that it is there when the input needs it)."""

    pipeline: Literal["feedback"]
    run: TransformRunConfig
    stages: FeedbackStages = Field(default_factory=FeedbackStages)

    @property
    def ROLES(self) -> frozenset[str]:  # type: ignore[override]  # the labeler is optional
        return frozenset({"judge"}) | (frozenset({"labeler"}) & frozenset(self.roles))


class ArenaConfig(PipelineConfig):
    """SimPsyDial Algorithm 2 (counselsim.arena): its roles are the client, the supervisor and every entrant."""

    IDENTITY = (*PipelineConfig.IDENTITY, "role_cards", "session")

    pipeline: Literal["arena"]
    run: GenerationRunConfig
    role_cards: RoleCardsConfig
    session: SessionConfig = Field(default_factory=SessionConfig)
    stages: ArenaStages

    @property
    def ROLES(self) -> frozenset[str]:  # type: ignore[override]  # the roster names roles of its own
        return FIXED_ROLES | {entrant.name for entrant in self.stages.arena.entrants}


PIPELINES: dict[str, type[PipelineConfig]] = {
    get_args(kind.model_fields["pipeline"].annotation)[0]: kind
    for kind in (SimPsyDialConfig, RPCConfig, RoleCardsBuildConfig, WaiConfig, ArenaConfig, FeedbackConfig)
}
