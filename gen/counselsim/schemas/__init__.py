"""Record contracts: one pydantic model per record type, one explicit Arrow schema per Parquet table."""
from counselsim.schemas.role_card import BigFive, Level, Resistance, RoleCard, TraitAssessment
from counselsim.schemas.session import RoleModel, Session, Turn

__all__ = [
    "BigFive",
    "Level",
    "Resistance",
    "RoleCard",
    "RoleModel",
    "Session",
    "TraitAssessment",
    "Turn",
]
