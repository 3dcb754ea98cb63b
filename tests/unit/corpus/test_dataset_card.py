"""The dataset card: Hugging Face front matter that `datasets` and `huggingface_hub` read, and a readable body."""
import os

import pyarrow as pa
import pytest
import yaml
from audit_builders import labeled_schema, labeled_table, session, write_corpus
from counselsim.corpus.card import features, size_category, write_dataset_card
from counselsim.schemas.arrow import SESSION_SCHEMA

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CONFIG = {
    "pipeline": "simpsydial",
    "run": {"seed": 7, "sessions": 3},
    "role_cards": {"pools": ["cards.jsonl"], "languages": ["zh", "en"]},
    "models": {"m": {"path": "Qwen/Qwen2-7B-Instruct", "backend": "vllm"}},
    "roles": {"client": {"model": "m", "temperature": 0.8, "top_p": 0.9, "max_tokens": 128},
              "counselor": {"model": "m", "temperature": 0.7, "top_p": 0.8, "max_tokens": 128}},
    "session": {"max_turn_pairs": 50, "min_turn_pairs": 10,
                "refinement": {"max_attempts": 4, "max_chars_zh": 200, "max_words_en": 120}},
}
TURNS = [("client", "Hello"), ("counselor", "Hi"), ("client", "I am sad"), ("counselor", "Take care")]


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


@pytest.mark.parametrize("schema", [
    SESSION_SCHEMA,
    labeled_schema(),
    pa.schema([("ids", pa.list_(pa.int64())), ("nested", pa.list_(pa.list_(pa.string()))), ("f", pa.float32()),
               ("big", pa.large_list(pa.string())), ("flag", pa.bool_())]),
])
def test_features_match_datasets(schema):
    import datasets

    assert features(schema) == datasets.Features.from_arrow_schema(schema)._to_yaml_list()


def test_size_category():
    assert [size_category(n) for n in (0, 999, 1000, 99_999, 100_000, 10**10)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "n>1B"]


@pytest.fixture()
def corpus(tmp_path):
    out = tmp_path / "simpsydial-demo"
    shards = write_corpus(str(out), [session(f"s{i}", TURNS) for i in range(3)], rows_per_shard=2)
    manifest = {"record_type": "session", "config": CONFIG, "shards": shards,
                "counts": {"attempted": 4, "written": 3, "dropped": 1}, "drops": {"too_short": 1},
                "versions": {"counselsim": "0.1.0", "vllm": "0.10.0"}}
    return out, manifest


def test_card_front_matter(corpus):
    out, manifest = corpus
    write_dataset_card(str(out), manifest, SESSION_SCHEMA)
    meta = front_matter((out / "README.md").read_text(encoding="utf-8"))
    assert meta["license"] == "cc-by-4.0"
    assert meta["language"] == ["zh", "en"] and meta["multilinguality"] == ["multilingual"]
    assert meta["pretty_name"] == "simpsydial-demo" and meta["size_categories"] == ["n<1K"]
    assert meta["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": "data/shard-*.parquet"}]}]
    info = meta["dataset_info"]
    assert info["features"] == features(SESSION_SCHEMA)
    assert info["splits"][0]["num_examples"] == 3 and info["splits"][0]["num_bytes"] > 0
    assert info["download_size"] == sum(s["bytes"] for s in manifest["shards"])


def test_card_body(corpus):
    out, manifest = corpus
    write_dataset_card(str(out), manifest, SESSION_SCHEMA)
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "# simpsydial-demo" in text
    assert "| counselor | Qwen/Qwen2-7B-Instruct | vllm | 0.7 | 0.8 | 128 |" in text
    assert "| turns | list<item: struct<index: int32" in text
    assert "Sessions attempted: 4, written: 3, dropped: 1." in text and "| too_short | 1 |" in text
    assert "SimPsyDial" in text and "not clinical advice" in text


def test_license_and_languages_come_from_the_run(corpus):
    out, manifest = corpus
    manifest = {**manifest, "languages": ["en"],
                "config": {**CONFIG, "run": {**CONFIG["run"], "license": "apache-2.0"}}}
    write_dataset_card(str(out), manifest, SESSION_SCHEMA)
    meta = front_matter((out / "README.md").read_text(encoding="utf-8"))
    assert meta["license"] == "apache-2.0" and meta["language"] == ["en"]
    assert meta["multilinguality"] == ["monolingual"]


def test_hub_and_datasets_read_the_card(corpus, tmp_path):
    import datasets
    from huggingface_hub import DatasetCard

    out, manifest = corpus
    write_dataset_card(str(out), manifest, SESSION_SCHEMA)
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "cc-by-4.0" and card.data.language == ["zh", "en"]
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert loaded["train"].num_rows == 3
    assert loaded["train"].features == datasets.Features.from_arrow_schema(SESSION_SCHEMA)


def test_rpc_card_describes_resistance_and_labels(tmp_path):
    out = tmp_path / "rpc-demo"
    table = labeled_table([session("s0", TURNS)], {("s0", 2): {"label": "collaboration", "label_status": "ok"}},
                          {"s0": {"turn_indices": [2], "reaction_type": "defensive"}})
    shards = write_corpus(str(out), table)
    rpc_config = {"pipeline": "rpc", "run": {"seed": 0, "input": "outputs/simpsydial"},
                  "roles": {"labeler": {"model": "m", "temperature": 0.0, "top_p": 1.0, "max_tokens": 160}},
                  "models": CONFIG["models"], "session": {"refinement": CONFIG["session"]["refinement"]},
                  "stages": {"rpc": {"injection": {"rate": 0.5, "max_turns": 3}, "labeler": {"shots": 1}}}}
    manifest = {"record_type": "rpc_session", "pipeline": "rpc", "config": rpc_config, "shards": shards,
                "self_check": {"injected_turns": 7, "client_turns": 20, "unparseable": 2,
                               "binary": {"precision": 0.36, "recall": 0.571, "f1": 0.444}}}
    write_dataset_card(str(out), manifest, labeled_schema())
    text = (out / "README.md").read_text(encoding="utf-8")
    meta = front_matter(text)
    assert "client-resistance" in meta["tags"] and "simpsydial" not in meta["tags"]
    assert "RPC method" in text and "`outputs/simpsydial`" in text and "up to 3 consecutive client turns" in text
    assert "binary precision 0.36, recall 0.57, F1 0.44; 2 of 20 client turns unparseable" in text
    assert "| labeler | Qwen/Qwen2-7B-Instruct | vllm | 0.0 | 1.0 | 160 |" in text
    assert "Sessions open with" not in text and "RECAP" in text
