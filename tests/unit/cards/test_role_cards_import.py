"""`counselsim role-cards import --format interactive-agents`: the shared sample of the original release, cards
spread over several lines, English cards, and malformed cards, each reported with file, line and field."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from counselsim.cards.pool import load_pool
from counselsim.cli import main
from helpers import SAMPLE


def _big_five(*traits: tuple[str, str]) -> dict:
    names = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
    return {name: {"level": level, "note": note} for name, (level, note) in zip(names, traits, strict=True)}


# Every field of the five sample cards except the chief complaint, which is chief_complaints.json[index].
EXPECTED = [
    {
        "id": "ia-0", "language": "zh", "gender": "女性", "age": 25, "education": "本科", "occupation": "公司职员",
        "marital_status": "单身",
        "family_relationships": "与家庭成员关系紧张，尤其是与奶奶和母亲的关系较为冲突，对亲人感情淡漠。",
        # bare level words, no notes
        "big_five": _big_five(("moderate", ""), ("high", ""), ("moderately_low", ""), ("moderately_low", ""),
                              ("high", "")),
        "resistance": {"level": "moderate", "reasoning": "来访者多次尝试解决问题，表明其对改善现状有一定的意愿，"
                       "但每次回忆家庭矛盾时会感到痛苦，可能会对深入探讨家庭问题产生一定的抗拒情绪。"},
        "source": "interactive-agents:role_cards/0.txt",
    },
    {
        "id": "ia-1", "language": "zh", "gender": "女性", "age": 28, "education": "本科", "occupation": "幼儿园教师",
        "marital_status": "未婚，单身", "family_relationships": "与父母关系亲密，但因健康问题和辞职问题出现了沟通障碍",
        # '中高，note'
        "big_five": _big_five(
            ("moderately_high", "愿意考虑辞职养病，说明思想上较开放"),
            ("high", "即使身体不适也坚持工作，责任心强"),
            ("moderately_low", "工作中不常表现出情绪，平时不与他人分享健康问题"),
            ("moderately_high", "愿意听从家人和同事建议，但内心有自己的想法"),
            ("high", "经常感到悲伤和愤怒，身体不适导致情绪不稳定"),
        ),
        "resistance": {"level": "moderate",
                       "reasoning": "愿意寻求帮助，但可能因为长期压抑情绪和对他人的依赖而存在一些心理防御机制"},
        "source": "interactive-agents:role_cards/1.txt",
    },
    {
        "id": "ia-2", "language": "zh", "gender": "女性", "age": 30, "education": "本科", "occupation": "办公室文员",
        "marital_status": "已婚", "family_relationships": "与丈夫关系总体紧密，但偶尔因为情绪管理问题产生矛盾，暂无子女",
        # '中等。note'
        "big_five": _big_five(
            ("moderate", "对新的事物和体验有一定的兴趣，但较为稳重保守。"),
            ("high", "重视责任和承诺，答应不影响丈夫工作后尽力控制自己的情绪。"),
            ("moderately_low", "平常较为内向，不善于在紧张情绪中表达自己。"),
            ("moderate", "虽然容易生气但也表现出善解人意的一面，能理解丈夫的辛苦。"),
            ("high", "情绪波动较大，容易因为外界的焦虑和冲突影响到自己的情绪。"),
        ),
        "resistance": {"level": "low", "reasoning": "对自己的情绪管理问题有较强的自我察觉，并且愿意寻求帮助和改进。"},
        "source": "interactive-agents:role_cards/2.txt",
    },
    {
        "id": "ia-3", "language": "zh", "gender": "女", "age": 18, "education": "大一新生（本科）", "occupation": "学生",
        "marital_status": "单身",
        "family_relationships": "未婚未育，与家庭关系可能较为和谐，因为未表现出明显的家庭矛盾",
        # '中等至低。note', '中等至高。note'
        "big_five": _big_five(
            ("moderate", "她愿意去适应和学习新的大学生活，对待新的社交环境持有开放的态度，但对于室友关系的问题仍然有些"
                         "困扰和疑惑。"),
            ("high", "因为她提到她和她的室友们都计划考研，而且在高中阶段一直埋头学习，所以她在学业和责任心方面表现较为"
                     "突出。"),
            ("moderately_low", "她正在努力改变自己的交际方式，变得更加开朗和热情，但仍未完全适应或找到合适的交际方式。"),
            ("moderately_high", "她尝试去理解和适应室友，感到迷茫时主动寻求建议和解决办法，显现出较强的合作和友善意愿。"),
            ("moderate", "由于人际关系问题和适应新环境的压力，她表现出了一定程度的焦虑和情绪波动。"),
        ),
        "resistance": {"level": "moderately_low", "reasoning": "她能够清晰表达自己的困惑，并主动寻求帮助，这显示出她愿意"
                       "接受心理咨询和建议。但由于问题还在初期，有时可能会有一些自然的防御机制。"},
        "source": "interactive-agents:role_cards/3.txt",
    },
    {
        "id": "ia-4", "language": "zh", "gender": "女性", "age": 30, "education": "本科",
        "occupation": "公务员（家在三、四线小城市，由父母安排）",
        "marital_status": "有男友，但关系待考察，因沟通模式和相互理解的问题带来不平等感",
        "family_relationships": "父母对其职业安排有一定影响，可能关系较紧密",
        # '中高（note）', '中（note）'
        "big_five": _big_five(
            ("moderately_high", "有较多想法和梦想，渴望探索新的职业和生活机会"),
            ("moderately_high", "有清晰的自我认知和职业发展目标，具备一定的责任感"),
            ("moderate", "希望通过工作认识更多的人，但目前生活相对稳定，不愿轻易冒险"),
            ("moderate", "对当前关系有一定的不满，但仍在努力维持，不轻易冲突"),
            ("moderately_high", "对未来的不确定性感到困惑和焦虑"),
        ),
        "resistance": {"level": "moderate", "reasoning": "虽然对现状感到痛苦和困惑，但也积极寻找解决方案"},
        "source": "interactive-agents:role_cards/4.txt",
    },
]

VALID_CARD = """性别：男
年龄：21岁
教育程度：本科在读
职业：学生
婚恋情况：单身
家庭关系：与父母关系一般
大五人格：
 - 开放性：中等偏高，喜欢尝试新事物
 - 尽责性：中等
 - 外向性：低（不善社交）
 - 宜人性：中等。待人友善
 - 神经质：高
对心理咨询的阻抗程度：中等偏低。愿意寻求帮助，但对陌生人戒备
"""
COMPLAINT = "最近总是失眠，对未来很迷茫，不知道该怎么办？ 马上要毕业了，找工作一直不顺利。"


def _import(folder: Path, out: Path, *extra: str) -> int:
    return main(["role-cards", "import", "--format", "interactive-agents", str(folder), "--out", str(out), *extra])


def _release(tmp_path: Path, cards: dict[str, str | bytes], complaints: int = 10) -> Path:
    """A release folder: role_cards/<name> for each card, and `complaints` chief complaints."""
    folder = tmp_path / "release"
    (folder / "role_cards").mkdir(parents=True)
    for name, text in cards.items():
        path = folder / "role_cards" / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    complaints_json = json.dumps([f"{COMPLAINT}（{i}）" for i in range(complaints)], ensure_ascii=False)
    (folder / "chief_complaints.json").write_text(complaints_json, encoding="utf-8")
    return folder


def test_imports_every_field_of_the_shared_sample(tmp_path):
    out = tmp_path / "pool.jsonl"
    assert _import(SAMPLE, out) == 0
    complaints = json.loads((SAMPLE / "chief_complaints.json").read_text(encoding="utf-8"))
    cards = load_pool(out)
    assert [c.model_dump(mode="json", exclude_none=True) for c in cards] == [
        {**expected, "chief_complaint": complaints[i]} for i, expected in enumerate(EXPECTED)
    ]
    assert not (tmp_path / "pool.rejected.jsonl").exists()


def test_an_id_prefix_keeps_ids_of_the_release_train_and_test_folders_apart(tmp_path, capsys):
    out = tmp_path / "pool.jsonl"
    assert _import(SAMPLE, out, "--id-prefix", "ia-test") == 0
    assert [c.id for c in load_pool(out)] == [f"ia-test-{i}" for i in range(5)]
    assert _import(SAMPLE, tmp_path / "other.jsonl", "--id-prefix", "ia test") == 2
    assert "id prefix 'ia test'" in capsys.readouterr().err


def test_values_run_on_over_lines_that_start_no_key(tmp_path):
    card = (VALID_CARD
            .replace("家庭关系：与父母关系一般\n",
                     "家庭关系：\n - 与母亲的关系：复杂，常被责骂\n - 与父亲的关系：一般\n")
            .replace(" - 神经质：高\n", "- 神经质：很高\n   情绪容易波动，\n   常感焦虑\n")
            .replace("对心理咨询的阻抗程度：中等偏低。愿意寻求帮助，但对陌生人戒备\n",
                     "\n对心理咨询的阻抗程度：中等到高（起初戒备）\n  但愿意继续来访\n"))
    folder = _release(tmp_path, {"0.txt": card})
    assert _import(folder, tmp_path / "pool.jsonl") == 0
    [imported] = load_pool(tmp_path / "pool.jsonl")
    assert imported.family_relationships == "- 与母亲的关系：复杂，常被责骂\n- 与父亲的关系：一般"
    assert imported.big_five.neuroticism.model_dump(mode="json") == {"level": "high", "note": "情绪容易波动，\n常感焦虑"}
    assert imported.resistance.model_dump(mode="json") == {"level": "moderately_high",
                                                           "reasoning": "（起初戒备）\n但愿意继续来访"}


def test_imports_english_cards_with_the_complaint_inline(tmp_path):
    card = """Gender: Female
Age: 34 years old
Education: Master's degree
Occupation: Nurse
Marital Status: Divorced
Family relationships: Close to her sister;
  distant from her father.
Big Five Personality Traits:
- Openness: Moderately high, enjoys reading
- Conscientiousness: High (works double shifts)
- Extraversion: Low to moderate
- Agreeableness: Moderate. Helpful but guarded
- Neuroticism: Very high
Resistance to psychological counseling: Moderately low. She booked the session herself.
Chief complaint: I can't sleep since the divorce.
Note: my sister thinks I should see someone.
"""
    folder = _release(tmp_path, {"0.txt": card})
    (folder / "chief_complaints.json").unlink()
    assert _import(folder, tmp_path / "pool.jsonl") == 0
    [imported] = load_pool(tmp_path / "pool.jsonl")
    assert imported.model_dump(mode="json", exclude_none=True) == {
        "id": "ia-0", "language": "en", "gender": "Female", "age": 34, "education": "Master's degree",
        "occupation": "Nurse", "marital_status": "Divorced",
        "family_relationships": "Close to her sister;\ndistant from her father.",
        "big_five": _big_five(("moderately_high", "enjoys reading"), ("high", "works double shifts"),
                              ("moderately_low", ""), ("moderate", "Helpful but guarded"), ("high", "")),
        "resistance": {"level": "moderately_low", "reasoning": "She booked the session herself."},
        "chief_complaint": "I can't sleep since the divorce.\nNote: my sister thinks I should see someone.",
        "source": "interactive-agents:role_cards/0.txt",
    }


MALFORMED = {
    "missing field": (VALID_CARD.replace("职业：学生\n", ""), "0.txt:1: field 'occupation': missing"),
    "bad level word": (VALID_CARD.replace("开放性：中等偏高，", "开放性：还行，"), "0.txt:8: field 'big_five.openness'"),
    "missing trait": (VALID_CARD.replace(" - 尽责性：中等\n", ""), "0.txt:7: field 'big_five.conscientiousness': missing"),
    "bad age": (VALID_CARD.replace("21岁", "二十一岁"), "0.txt:2: field 'age'"),
    "age out of range": (VALID_CARD.replace("21岁", "8岁"), "0.txt:2: field 'age'"),
    "unknown key": (VALID_CARD.replace("职业：学生\n", "职业：学生\n爱好：画画\n"), "0.txt:5: field '爱好': unknown key"),
    "no reasoning": (VALID_CARD.replace("中等偏低。愿意寻求帮助，但对陌生人戒备", "中等偏低"),
                     "0.txt:13: field 'resistance.reasoning': missing"),
    "key given twice": (VALID_CARD + "年龄：22岁\n", "0.txt:14: field 'age': given twice (first on line 2)"),
    "wrong encoding": (VALID_CARD.encode("gb18030"), "0.txt:1: field 'gender': not UTF-8"),
    "stray byte in a value": (VALID_CARD.replace("学生", "学生\udcff").encode("utf-8", "surrogateescape"),
                              "0.txt:4: field 'occupation': not UTF-8"),
    "empty file": ("\n  \n", "0.txt:1: field '(card)': file is empty"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_card_names_file_line_and_field_and_nothing_is_written(tmp_path, capsys, case):
    text, message = MALFORMED[case]
    folder = _release(tmp_path, {"0.txt": text, "1.txt": VALID_CARD})
    out = tmp_path / "pool.jsonl"
    assert _import(folder, out) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_complaint_index_missing_from_the_json_is_reported(tmp_path, capsys):
    folder = _release(tmp_path, {"0.txt": VALID_CARD, "7.txt": VALID_CARD}, complaints=5)
    out = tmp_path / "pool.jsonl"
    assert _import(folder, out) == 2
    err = capsys.readouterr().err
    assert "7.txt:1: field 'chief_complaint': missing:" in err and "has no entry [7] (it has 5)" in err
    assert "0.txt" not in err
    assert not out.exists()


def test_every_bad_card_is_listed_not_just_the_first(tmp_path, capsys):
    cards = {"0.txt": VALID_CARD.replace("21岁", "?"), "1.txt": VALID_CARD, "2.txt": "",
             "notes.txt": VALID_CARD}
    assert _import(_release(tmp_path, cards), tmp_path / "pool.jsonl") == 2
    err = capsys.readouterr().err
    assert "3 of 4 role cards are invalid, nothing written; --skip-invalid imports the valid ones" in err
    for message in ("0.txt:2: field 'age'", "2.txt:1: field '(card)'", "notes.txt:1: field 'id'"):
        assert message in err


def test_skip_invalid_writes_the_valid_cards_and_a_report_of_the_others(tmp_path):
    folder = _release(tmp_path, {"0.txt": VALID_CARD, "1.txt": VALID_CARD.replace("神经质：高", "神经质：不详")})
    out = tmp_path / "pool.jsonl"
    assert _import(folder, out, "--skip-invalid") == 0
    assert [c.id for c in load_pool(out)] == ["ia-0"]
    [rejected] = [json.loads(line) for line in (tmp_path / "pool.rejected.jsonl").read_text("utf-8").splitlines()]
    assert rejected["id"] == "ia-1" and rejected["file"].endswith("1.txt")
    assert [(p["line"], p["field"]) for p in rejected["problems"]] == [(12, "big_five.neuroticism")]
    # A later clean import into the same pool leaves no stale report behind.
    (folder / "role_cards" / "1.txt").unlink()
    assert _import(folder, out, "--overwrite") == 0
    assert not (tmp_path / "pool.rejected.jsonl").exists()


def test_an_existing_pool_is_replaced_only_with_overwrite(tmp_path, capsys):
    folder = _release(tmp_path, {"0.txt": VALID_CARD})
    out = tmp_path / "pool.jsonl"
    out.write_text("kept\n", encoding="utf-8")
    assert _import(folder, out) == 2
    assert f"{out}: exists; --overwrite replaces it" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "kept\n"
    assert _import(folder, out, "--overwrite") == 0
    assert [c.id for c in load_pool(out)] == ["ia-0"]


def test_skip_invalid_with_no_valid_card_writes_nothing(tmp_path, capsys):
    folder = _release(tmp_path, {"0.txt": ""})
    assert _import(folder, tmp_path / "pool.jsonl", "--skip-invalid") == 2
    assert "1 of 1 role cards are invalid, nothing written" in capsys.readouterr().err
    assert list(tmp_path.glob("pool*")) == []


def test_a_broken_complaints_file_stops_the_import(tmp_path, capsys):
    folder = _release(tmp_path, {"0.txt": VALID_CARD})
    (folder / "chief_complaints.json").write_text('["a complaint",\n', encoding="utf-8")
    assert _import(folder, tmp_path / "pool.jsonl") == 2
    assert "chief_complaints.json:2: invalid JSON" in capsys.readouterr().err
