"""Loading and validating the PsyFIRE and RPC reaction-type taxonomies."""
from __future__ import annotations

import copy

import pytest
import yaml
from counselsim.errors import InputError
from counselsim.resources import read_text
from counselsim.rpc.taxonomy import build_taxonomy, load_taxonomy
from counselsim.schemas.rpc import COOPERATIVE_REACTIONS, RESISTANT_REACTIONS


@pytest.fixture()
def files():
    return (yaml.safe_load(read_text("taxonomies", "psyfire.yaml")),
            yaml.safe_load(read_text("taxonomies", "rpc_reactions.yaml")))


def test_psyfire_has_four_groups_thirteen_behaviours_and_collaboration():
    tax = load_taxonomy()
    assert list(tax.groups) == ["arguing", "denying", "avoiding", "ignoring"]
    assert len(tax.behaviours) == 13
    assert sorted(tax.behaviours) == sorted([
        "arguing.challenging", "arguing.discounting", "denying.blaming", "denying.disagreeing", "denying.excusing",
        "denying.minimizing", "denying.pessimism", "denying.reluctance", "denying.unwillingness",
        "avoiding.minimum_talk", "avoiding.limit_setting", "ignoring.inattention", "ignoring.sidetracking"])
    assert tax.labels["collaboration"].group == "collaboration"
    for label in tax.labels.values():
        for lang in ("en", "zh"):
            assert getattr(label.names, lang) and getattr(label.definition, lang) and getattr(label.examples, lang)


def test_reaction_types_and_their_relation_to_psyfire():
    tax = load_taxonomy()
    assert set(tax.reaction_specs) == set(RESISTANT_REACTIONS + COOPERATIVE_REACTIONS)
    # Every behaviour is primary for exactly one resistant type; collaboration for the cooperative ones.
    assert set(tax.primary_reaction) == set(tax.behaviours)
    assert set(tax.primary_reaction.values()) == set(RESISTANT_REACTIONS)
    assert tax.reaction_of("arguing.discounting") == "controlling"
    assert tax.reaction_of("denying.reluctance") == "compliant"
    assert tax.reaction_of("collaboration") is None and tax.reaction_of(None) is None
    for r in COOPERATIVE_REACTIONS:
        assert tax.reaction(r).psyfire.primary == ["collaboration"]


def test_display_names_and_prompt_rendering():
    tax = load_taxonomy()
    assert tax.display("avoiding.minimum_talk", "en") == "Avoiding - Minimum Talk"
    assert tax.display("denying.blaming", "zh") == "否认 - 归咎"
    assert tax.binary_choices("en") == {"Resistance": "resistance", "Collaboration": "collaboration"}
    table8 = tax.render("en", binary=True)
    assert table8.startswith("1. Resistance:") and "1.3 Avoiding:" in table8 and "2. Collaboration:" in table8
    table9 = tax.render("zh", binary=False)
    assert table9.startswith("1. 争辩：") and "忽视 - 岔开话题：" in table9
    assert len(tax.examples("en", binary=False, shots=1)) == 13
    assert len(tax.examples("en", binary=True, shots=1)) == 14
    assert tax.examples("en", binary=True, shots=0) == []


def test_missing_chinese_name_is_an_error_naming_the_field(files):
    psyfire, reactions = files
    bad = copy.deepcopy(psyfire)
    del bad["groups"][1]["behaviours"][0]["names"]["zh"]
    with pytest.raises(InputError, match=r"groups\.1\.behaviours\.0\.names\.zh"):
        build_taxonomy(bad, reactions)


def test_a_group_outside_the_record_contract_is_refused(files):
    psyfire, reactions = files
    bad = copy.deepcopy(psyfire)
    bad["groups"][0]["id"] = "fighting"
    with pytest.raises(InputError, match="groups.0.id"):
        build_taxonomy(bad, reactions)


def test_relation_errors(files):
    psyfire, reactions = files
    unknown = copy.deepcopy(reactions)
    unknown["reaction_types"][0]["psyfire"]["primary"].append("arguing.shouting")
    with pytest.raises(InputError, match="unknown PsyFIRE label 'arguing.shouting'"):
        build_taxonomy(psyfire, unknown)
    twice = copy.deepcopy(reactions)
    twice["reaction_types"][1]["psyfire"]["primary"].append("arguing.challenging")
    with pytest.raises(InputError, match="primary for both"):
        build_taxonomy(psyfire, twice)
    unmapped = copy.deepcopy(reactions)
    unmapped["reaction_types"][4]["psyfire"]["primary"] = ["denying.blaming"]
    unmapped["reaction_types"][2]["psyfire"]["primary"].remove("denying.blaming")
    with pytest.raises(InputError, match="without a primary reaction type.*denying.reluctance"):
        build_taxonomy(psyfire, unmapped)
    wrong_stance = copy.deepcopy(reactions)
    wrong_stance["reaction_types"][5]["stance"] = "resistant"
    with pytest.raises(InputError, match="cooperative reaction type"):
        build_taxonomy(psyfire, wrong_stance)


def test_a_name_shared_by_two_behaviours_is_refused(files):
    psyfire, reactions = files
    bad = copy.deepcopy(psyfire)
    bad["groups"][1]["behaviours"][1]["aliases"] = {"en": ["Blaming"]}
    with pytest.raises(InputError, match="shared by"):
        build_taxonomy(bad, reactions)
