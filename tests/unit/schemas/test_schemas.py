import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from counselsim.schemas import RoleCard, Session
from counselsim.schemas.arrow import (
    ROLE_CARD,
    SESSION_SCHEMA,
    TURN,
    sessions_to_table,
    table_to_sessions,
)
from counselsim.schemas.session import Turn
from helpers import card, session


def test_arrow_schema_and_models_name_the_same_fields():
    assert SESSION_SCHEMA.names == list(Session.model_fields)
    assert [f.name for f in TURN] == list(Turn.model_fields)
    assert [f.name for f in ROLE_CARD] == list(RoleCard.model_fields)


def test_round_trip_through_parquet(tmp_path):
    sessions = [session("a", 0), session("b", 1, c=card("zh-1", "zh", complaint="我最近总是失眠，很焦虑，怎么办？"))]
    table = sessions_to_table(sessions)
    assert table.schema.equals(SESSION_SCHEMA)
    pq.write_table(table, tmp_path / "x.parquet")
    back = pq.read_table(tmp_path / "x.parquet")
    assert back.schema.equals(SESSION_SCHEMA, check_metadata=False)
    assert table_to_sessions(back) == sessions
    frame = pl.read_parquet(tmp_path / "x.parquet")
    assert frame["turns"].list.len().to_list() == [4, 4]


def test_arrow_never_infers(tmp_path):
    # A table built from rows whose optional fields are all null still has the declared types.
    table = sessions_to_table([session()])
    assert table.schema.field("role_card").type.field("topic").type == pa.string()
