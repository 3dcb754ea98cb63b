import pytest
from counselsim.config import load_config
from counselsim.errors import InputError


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
