"""Pipeline configuration: one typed config model per pipeline kind, validated whole when the file loads.

    sections.py   the sections every pipeline shares (models, roles, session rules, run, retry, faults, cards)
    stages.py     the typed `stages:` section of each kind (and the judge's and card builder's settings)
    pipelines.py  one config model per `pipeline:` kind, and its resume identity
    loading.py    YAML + overrides -> the kind's config model
    messages.py   validation errors as file:line: field 'dotted.path': problem
"""
from counselsim.config.loading import apply_override, load_config, parse_config
from counselsim.config.messages import format_validation_error
from counselsim.config.pipelines import (
    PIPELINES,
    PipelineConfig,
    RoleCardsBuildConfig,
    RPCConfig,
    SimPsyDialConfig,
    WaiConfig,
)
from counselsim.config.sections import (
    Backend,
    FaultConfig,
    GenerationRunConfig,
    ModelConfig,
    RefinementConfig,
    RegenerationConfig,
    RetryConfig,
    RoleCardsConfig,
    RoleConfig,
    RunConfig,
    SessionConfig,
    TransformRunConfig,
)
from counselsim.config.stages import BuildSettings, WaiSettings

__all__ = [
    "PIPELINES", "Backend", "BuildSettings", "FaultConfig", "GenerationRunConfig", "ModelConfig", "PipelineConfig",
    "RPCConfig", "RefinementConfig", "RegenerationConfig", "RetryConfig", "RoleCardsBuildConfig", "RoleCardsConfig",
    "RoleConfig", "RunConfig", "SessionConfig", "SimPsyDialConfig", "TransformRunConfig", "WaiConfig", "WaiSettings",
    "apply_override", "format_validation_error", "load_config", "parse_config",
]
