"""The top-level schemas/ folder is the language-neutral contract: it must match the pydantic models."""
from __future__ import annotations

import json
import shutil

import jsonschema
import pytest
from counselsim.schemas import registry
from counselsim.schemas.json_schema import drift, main
from helpers import REPO, session

SCHEMAS = REPO / "schemas"


def test_the_committed_schema_files_match_the_models():
    problems = drift(SCHEMAS)
    assert problems == [], f"{problems}: regenerate with `python -m counselsim.schemas`"
    assert {p.name for p in SCHEMAS.glob("*.schema.json")} == {f"{name}.schema.json" for name in registry.MODELS}


def test_drift_is_found_and_regeneration_repairs_it(tmp_path):
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    doc = json.loads((folder / "session.schema.json").read_text())
    del doc["properties"]["turns"]
    (folder / "session.schema.json").write_text(json.dumps(doc))
    (folder / "gone.schema.json").write_text("{}")
    (folder / "rpc_session.schema.json").unlink()
    assert drift(folder) == ["rpc_session.schema.json: missing", "session.schema.json: differs from the model",
                             "gone.schema.json: no such record type"]
    assert main(["--out", str(folder), "--check"]) == 1
    assert main(["--out", str(folder)]) == 0
    assert drift(folder) == []


def test_a_record_as_written_validates_against_its_schema():
    schema = json.loads((SCHEMAS / "session.schema.json").read_text())
    record = session().model_dump(mode="json")
    jsonschema.validate(record, schema)
    del record["turns"]
    with pytest.raises(jsonschema.ValidationError, match="'turns' is a required property"):
        jsonschema.validate(record, schema)
