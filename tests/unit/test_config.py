import re

import pytest
import yaml
from counselsim.cli import main
from counselsim.config import PIPELINES, load_config
from counselsim.errors import InputError
from helpers import REPO
from pydantic import BaseModel


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_pipeline_configs_load(repo):
    cfg = load_config(repo / "pipelines" / "simpsydial.yaml")
    assert cfg.session.max_turn_pairs == 50 and cfg.session.min_turn_pairs == 10
    assert cfg.session.refinement.max_chars_zh == 200


def test_overrides_are_typed(repo):
    cfg = load_config(repo / "pipelines" / "simpsydial.yaml",
                      ["run.sessions=100", "run.output=s3://bucket/x", "roles.counselor.temperature=0.5"])
    assert cfg.run.sessions == 100 and cfg.run.output == "s3://bucket/x"
    assert cfg.roles["counselor"].temperature == 0.5


def test_errors_name_file_line_and_field(repo, tmp_path):
    text = (repo / "pipelines" / "simpsydial.yaml").read_text().replace("sessions: 8", "sessions: many")
    path = write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(path)
    msg = str(e.value)
    assert str(path) in msg and "run.sessions" in msg and "many" in msg
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "sessions: many" in l)
    assert f"{path}:{line}:" in msg


def test_unknown_keys_are_rejected(repo, tmp_path):
    text = (repo / "pipelines" / "simpsydial.yaml").read_text().replace("  seed: 0\n", "  seed: 0\n  sesions: 3\n")
    with pytest.raises(InputError, match=r"run\.sesions.*unknown key"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("text,match", [
    ("", "empty"),
    ("pipeline: [unclosed", "invalid YAML"),
    ("- a\n- b\n", "mapping"),
])
def test_malformed_files(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        load_config(write(tmp_path, text))


def test_wrong_encoding(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_bytes("pipeline: simpsydial # 中文".encode("gbk"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_config(path)


def test_roles_must_name_configured_models(repo):
    with pytest.raises(InputError, match="roles.client.model names 'nope'"):
        load_config(repo / "pipelines" / "simpsydial.yaml", ["roles.client.model=nope"])


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "missing.yaml")


# --- one typed config model per pipeline kind ----------------------------------------------------------------

SHIPPED = sorted(p.name for p in (REPO / "pipelines").glob("*.yaml"))
NEEDS = {"rpc.yaml": ["run.input=corpus"], "feedback.yaml": ["run.input=corpus"]}  # given on the command line


def _stage_sections(section: type[BaseModel], path: str):
    """The dotted path of every stage section and sub-section of a config model's `stages`."""
    for name, field in section.model_fields.items():
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield f"{path}.{name}"
            yield from _stage_sections(field.annotation, f"{path}.{name}")


STAGE_TYPOS = [(name, stage) for name in SHIPPED
               for stage in _stage_sections(PIPELINES[yaml.safe_load((REPO / "pipelines" / name).read_text())["pipeline"]]
                                            .model_fields["stages"].annotation, "stages")]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_config_loads_as_its_kind(repo, name):
    cfg = load_config(repo / "pipelines" / name, NEEDS.get(name, []))
    assert type(cfg) is PIPELINES[cfg.pipeline] and set(cfg.roles) == cfg.ROLES


def test_stage_sections_are_typed(repo):
    assert load_config(repo / "pipelines" / "simpsydial.yaml").stages.dedup.num_perm == 128
    rpc = load_config(repo / "pipelines" / "rpc.yaml", NEEDS["rpc.yaml"])
    assert rpc.stages.rpc.injection.max_turns == 3 and rpc.stages.dedup.enabled is False
    assert load_config(repo / "pipelines" / "wai.yaml").stages.wai.rounds == 3
    assert load_config(repo / "pipelines" / "role_cards.yaml").stages.build.id_prefix == "built"


@pytest.mark.parametrize("name, stage", STAGE_TYPOS)
def test_a_typo_in_any_stage_section_fails_at_load_with_exit_2(repo, tmp_path, capsys, name, stage):
    out = tmp_path / "out"
    config = repo / "pipelines" / name
    args = ["run", str(config), "--out", str(out), "--set", f"{stage}.tpyo=1"]
    assert main([*args, *(a for n in NEEDS.get(name, []) for a in ("--set", n))]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(str(config))}:\d+: field '{re.escape(stage)}\.tpyo': unknown key", err), err
    assert not out.exists()


@pytest.mark.parametrize("name", SHIPPED)
def test_an_unknown_stage_name_fails_at_load_with_exit_2(repo, tmp_path, capsys, name):
    out = tmp_path / "out"
    config = repo / "pipelines" / name
    extra = [a for n in NEEDS.get(name, []) for a in ("--set", n)]
    assert main(["run", str(config), "--out", str(out), "--set", "stages.dedupe.enabled=true", *extra]) == 2
    assert "field 'stages.dedupe': unknown key" in capsys.readouterr().err
    assert not out.exists()


def test_a_stage_typo_in_the_file_names_its_line(repo, tmp_path):
    text = (repo / "pipelines" / "simpsydial.yaml").read_text().replace("ngram: 5}", "ngram: 5, treshold: 0.9}")
    path = write(tmp_path, text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if "treshold" in l)
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:{line}: field 'stages.dedup.treshold': unknown key"):
        load_config(path)


def test_stage_values_are_checked_at_load(repo):
    with pytest.raises(InputError, match=r"field 'stages.rpc.injection.continuation'"):
        load_config(repo / "pipelines" / "rpc.yaml", [*NEEDS["rpc.yaml"], "stages.rpc.injection.continuation=keep"])
    with pytest.raises(InputError, match=r"field 'stages.build.max_attempts'"):
        load_config(repo / "pipelines" / "role_cards.yaml", ["stages.build.max_attempts=0"])
    with pytest.raises(InputError, match=r"field 'run.max_attempts_factor'.*finite"):
        load_config(repo / "pipelines" / "simpsydial.yaml", ["run.max_attempts_factor=.inf"])


def test_sections_belong_to_their_kind(repo):
    with pytest.raises(InputError, match=r"field 'run.sessions': unknown key"):
        load_config(repo / "pipelines" / "rpc.yaml", [*NEEDS["rpc.yaml"], "run.sessions=4"])
    with pytest.raises(InputError, match=r"field 'run.input': unknown key"):
        load_config(repo / "pipelines" / "simpsydial.yaml", ["run.input=corpus"])
    with pytest.raises(InputError, match=r"field 'role_cards': unknown key"):
        load_config(repo / "pipelines" / "wai.yaml", ["role_cards.pools=[x.jsonl]"])
    with pytest.raises(InputError, match=r"field 'roles.labeler': .*no such role \(its roles: client, counselor\)"):
        load_config(repo / "pipelines" / "simpsydial.yaml", ["roles.labeler={model: default}"])


def test_required_fields_of_a_kind(repo, tmp_path):
    rpc = repo / "pipelines" / "rpc.yaml"
    line = next(i for i, l in enumerate(rpc.read_text().splitlines(), 1) if l.strip().startswith("input:"))
    with pytest.raises(InputError, match=rf"{re.escape(str(rpc))}:{line}: field 'run.input': .*pass --input"):
        load_config(rpc)
    text = (repo / "pipelines" / "simpsydial.yaml").read_text().replace("  sessions: 8\n", "")
    with pytest.raises(InputError, match=r"field 'run.sessions': Field required"):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize("value, problem", [("simpsydail", "unknown pipeline 'simpsydail'"), ("null", "missing")])
def test_the_pipeline_kind_must_be_known(repo, tmp_path, value, problem):
    text = (repo / "pipelines" / "wai.yaml").read_text().replace("pipeline: wai", f"pipeline: {value}")
    path = write(tmp_path, text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("pipeline:"))
    with pytest.raises(InputError, match=rf"{re.escape(str(path))}:{line}: field 'pipeline': {problem}; one of "):
        load_config(path)
