"""Tests for helpers.decision: the flow, the walker, the scenario cards, scoring and the walk-through widget."""
import json
import re
from collections import Counter
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import pytest

from helpers import decision
from helpers.decision import FLOW, LEVERS, Branch, CardError, DecisionError, Step, recommend

CARDS = decision.load_cards()
EXERCISES = decision.load_cards(decision.EXERCISES_PATH)
PRICE_LIST = {"need": "knowledge", "facts_fit": "no"}
FINE_TUNE = {"need": "behaviour", "prompt_tried": "yes", "prompt_enough": "no", "examples": "yes"}


def test_the_shipped_flow_is_well_formed():
    decision.check_flow(FLOW)


def test_every_walk_ends_at_one_of_the_three_levers_and_each_lever_is_reachable():
    levers = [recommend(answers).lever for answers in decision.all_paths()]
    assert set(levers) == set(LEVERS)
    assert len(decision.all_paths()) == 6


def test_prompting_comes_first_for_behaviour():
    assert recommend({"need": "behaviour", "prompt_tried": "no"}).lever == "prompting"


def test_no_knowledge_gap_ends_at_fine_tuning():
    knowledge = [a for a in decision.all_paths() if a["need"] == "knowledge"]
    assert knowledge and {recommend(a).lever for a in knowledge} == {"prompting", "rag"}


def test_recommend_returns_the_path_with_a_reason_per_step():
    rec = recommend(FINE_TUNE)
    assert rec.lever == "fine-tuning"
    assert [(t.step, t.answer) for t in rec.path] == list(FINE_TUNE.items())
    assert [t.reason for t in rec.path] == [FLOW[s].answers[a].reason for s, a in FINE_TUNE.items()]


def test_the_rag_reason_says_fine_tuning_freezes_facts():
    assert "training day" in recommend(PRICE_LIST).path[-1].reason


def test_answers_to_steps_off_the_path_are_ignored():
    assert recommend({**PRICE_LIST, "examples": "yes"}) == recommend(PRICE_LIST)


def test_reprs_are_short_and_deterministic():
    rec = recommend(PRICE_LIST)
    assert repr(rec) == "Recommendation(rag: need=knowledge -> facts_fit=no)"
    assert repr(FLOW["need"]) == "Step(need: knowledge | behaviour)"
    assert repr(FLOW["need"].answers["knowledge"]) == "Branch(next=facts_fit)"
    assert repr(FLOW["facts_fit"].answers["no"]) == "Branch(lever=rag)"
    assert repr(CARDS[0]) == "Card(s01: A price list that changes monthly -> rag)"


def test_explain_numbers_each_step_and_ends_with_the_lever():
    lines = recommend(PRICE_LIST).explain().splitlines()
    assert lines[0].startswith("1. need = knowledge: ")
    assert lines[1].startswith("2. facts_fit = no: ")
    assert lines[-1] == "=> rag"


def test_an_unknown_answer_names_the_step_and_the_allowed_answers():
    with pytest.raises(DecisionError) as err:
        recommend({"need": "facts"})
    assert isinstance(err.value, ValueError)
    assert str(err.value) == (
        "step 'need' (What is the model missing?): unknown answer 'facts'; allowed answers: 'knowledge', 'behaviour'"
    )


def test_a_missing_step_names_the_step_and_the_allowed_answers():
    with pytest.raises(DecisionError, match=r"step 'prompt_enough' .*no answer given; allowed answers: 'yes', 'no'"):
        recommend({"need": "behaviour", "prompt_tried": "yes"})


def test_empty_answers_name_the_first_step():
    allowed = "allowed answers: 'knowledge', 'behaviour'"
    with pytest.raises(DecisionError, match=rf"step 'need' .*no answer given; {allowed}"):
        recommend({})


def test_an_unknown_step_is_named_with_the_known_ones():
    with pytest.raises(DecisionError, match=r"unknown step 'nede' in the answers; the steps are: examples, facts_fit"):
        recommend({"nede": "knowledge"})


def test_walk_stops_at_the_first_unanswered_step():
    path, lever, missing = decision.walk({"need": "behaviour"})
    assert [repr(t) for t in path] == ["need=behaviour"] and lever is None and missing == "prompt_tried"


@pytest.mark.parametrize(
    "flow, message",
    [
        ({**FLOW, "need": Step("need", "q", "h", {"a": Branch("r", next="nowhere")})}, "next step 'nowhere' is not"),
        ({**FLOW, "need": Step("need", "q", "h", {"a": Branch("r", lever="magic")})}, "lever 'magic' is not one of"),
        ({**FLOW, "need": Step("need", "q", "h", {"a": Branch("r")})}, "give exactly one of next or lever"),
        ({**FLOW, "examples": replace(FLOW["examples"], answers={"yes": Branch("r", next="need")})}, "the flow loops"),
        ({**FLOW, "spare": Step("spare", "q", "h", {"a": Branch("r", lever="rag")})}, "never reached from 'need'"),
        ({k: v for k, v in FLOW.items() if k != "need"}, "no root step 'need'"),
    ],
    ids=["dangling-next", "unknown-lever", "neither", "loop", "orphan", "no-root"],
)
def test_check_flow_rejects_a_broken_flow(flow, message):
    with pytest.raises(DecisionError, match=message):
        decision.check_flow(flow)


# --- scenario cards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("card", CARDS + EXERCISES, ids=lambda c: c.id)
def test_every_card_walks_to_its_expected_lever(card):
    assert recommend(card.answers).lever == card.expected, f"{card.id} ({card.title}): {recommend(card.answers)}"


@pytest.mark.parametrize("card", CARDS + EXERCISES, ids=lambda c: c.id)
def test_every_card_answers_exactly_the_steps_on_its_path(card):
    assert [t.step for t in recommend(card.answers).path] == list(card.answers)


def test_there_are_enough_cards_and_they_cover_every_path_and_lever():
    assert len(CARDS) >= 24
    paths = Counter(tuple(card.answers.items()) for card in CARDS)
    assert set(paths) == {tuple(a.items()) for a in decision.all_paths()}
    assert min(Counter(card.expected for card in CARDS).values()) >= 6


def test_card_ids_are_unique_across_both_files():
    ids = [card.id for card in CARDS + EXERCISES]
    assert len(ids) == len(set(ids))


def test_the_flow_scores_every_card_right():
    assert decision.score(decision.recommend_cards(CARDS), CARDS) == 1.0


def write_cards(tmp_path, cards):
    path = tmp_path / "cards.json"
    path.write_text(json.dumps(cards))
    return path


def raw_card(**changes):
    card = {"id": "x1", "title": "t", "team": "t", "request": "r", "answers": dict(PRICE_LIST), "expected": "rag",
            "why": "w"}
    return {**card, **changes}


@pytest.mark.parametrize(
    "cards, message",
    [
        ([raw_card(expected="finetuning")], "card 1 (x1): field expected: 'finetuning' is not one of"),
        ([raw_card(), raw_card()], "card 2 (x1): field id: duplicate id 'x1'"),
        ([{k: v for k, v in raw_card().items() if k != "why"}], "card 1 (x1): fields must be exactly"),
        ([raw_card(answers={"need": "knowledge", "facts_fit": "maybe"})],
         "card 1 (x1): field answers: step 'facts_fit' ("),
        ({"cards": []}, "expected a JSON list of cards, got dict"),
    ],
    ids=["lever", "duplicate", "field", "answer", "not-a-list"],
)
def test_load_cards_names_the_file_card_and_field(tmp_path, cards, message):
    with pytest.raises(CardError, match=re.escape("cards.json: " + message)):
        decision.load_cards(write_cards(tmp_path, cards))


def test_load_cards_passes_on_the_allowed_answers_of_a_bad_step(tmp_path):
    bad = raw_card(answers={"need": "knowledge", "facts_fit": "maybe"})
    with pytest.raises(CardError, match=re.escape("unknown answer 'maybe'; allowed answers: 'yes', 'no'")):
        decision.load_cards(write_cards(tmp_path, [bad]))


def test_load_cards_rejects_answers_that_stop_before_a_lever(tmp_path):
    short = raw_card(answers={"need": "behaviour"})
    with pytest.raises(CardError, match=re.escape("card 1 (x1): field answers: step 'prompt_tried' (")):
        decision.load_cards(write_cards(tmp_path, [short]))


def test_walking_a_branch_that_leads_nowhere_says_where():
    flow = {**FLOW, "need": Step("need", "q", "h", {"a": Branch("r")})}
    with pytest.raises(DecisionError, match="step 'need', answer 'a' leads nowhere"):
        recommend({"need": "a"}, flow)


def test_load_cards_names_the_line_of_broken_json(tmp_path):
    path = tmp_path / "cards.json"
    path.write_text('[\n  {"id": "x1",\n  oops\n]')
    with pytest.raises(CardError, match=r"cards\.json: line 3: not valid JSON"):
        decision.load_cards(path)


def test_a_changed_expected_lever_no_longer_matches_the_flow(tmp_path):
    raw = json.loads(decision.CARDS_PATH.read_text())
    raw[0]["expected"] = "fine-tuning"
    changed = decision.load_cards(write_cards(tmp_path, raw))
    assert decision.mistakes(decision.recommend_cards(changed), changed) == ["s01"]


# --- scoring ----------------------------------------------------------------------------------------


# three small cards, one per lever, so these tests do not move when the shipped cards change
SMALL = [
    decision.Card("a", "t", "t", "r", PRICE_LIST, "rag", "w"),
    decision.Card("b", "t", "t", "r", {"need": "behaviour", "prompt_tried": "no"}, "prompting", "w"),
    decision.Card("c", "t", "t", "r", FINE_TUNE, "fine-tuning", "w"),
]


def test_score_and_mistakes_count_wrong_and_unanswered_cards():
    given = {"a": "fine-tuning", "c": "fine-tuning"}
    assert decision.mistakes(given, SMALL) == ["a", "b"]
    assert decision.score(given, SMALL) == pytest.approx(1 / 3)
    assert decision.score({"a": "rag", "b": "prompting", "c": "fine-tuning"}, SMALL) == 1.0


def test_confusion_counts_expected_by_given():
    table = decision.confusion({"a": "fine-tuning", "b": "prompting", "c": "fine-tuning"}, SMALL)
    assert list(table.index) == list(LEVERS) and list(table.columns) == list(LEVERS)
    assert table.index.name == "expected" and table.columns.name == "given"
    assert table.to_numpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1]]


def test_confusion_adds_a_none_column_only_for_unanswered_cards():
    table = decision.confusion({"b": "prompting", "c": "fine-tuning"}, SMALL)
    assert list(table.columns) == [*LEVERS, "(none)"] and table.loc["rag", "(none)"] == 1
    assert int(table.to_numpy().sum()) == len(SMALL)


def test_confusion_rejects_an_unknown_lever_naming_the_card():
    with pytest.raises(DecisionError, match=r"card 'b': given lever 'prompt' is not one of prompting, rag"):
        decision.confusion({"a": "rag", "b": "prompt", "c": "rag"}, SMALL)


def test_check_walk_says_right_wrong_or_what_is_missing():
    card = EXERCISES[0]
    assert decision.check_walk(card.answers, card).startswith(f"Right: {card.id} -> {card.expected}.")
    assert decision.check_walk({"need": "knowledge", "facts_fit": "yes"}, card).startswith(
        "Not yet: your answers lead to 'prompting'"
    )
    assert decision.check_walk({}, card).startswith("Not yet: step 'need' ")


# --- drawing and widget -----------------------------------------------------------------------------


def test_layout_puts_each_leaf_in_its_own_column_and_parents_over_their_children():
    positions, edges = decision.layout_flow()
    leaves = [node for node in positions if node not in FLOW]
    assert len(leaves) == len(decision.all_paths())
    assert sorted(positions[leaf][0] for leaf in leaves) == list(range(len(leaves)))
    for step in FLOW:
        children = [positions[child][0] for parent, child, _ in edges if parent == step]
        assert positions[step][0] == pytest.approx(sum(children) / len(children))
        assert all(positions[child][1] == positions[step][1] - 1 for parent, child, _ in edges if parent == step)
    assert [decision.leaf_lever(leaf) for leaf in leaves].count("rag") == 1


def test_plot_flow_draws_every_node_and_makes_the_path_bold():
    import matplotlib.pyplot as plt

    ax = decision.plot_flow(FINE_TUNE)
    bold_edges = [line for line in ax.get_lines() if line.get_linewidth() == 3]
    assert len(ax.get_lines()) == len(decision.layout_flow()[1])
    assert len(bold_edges) == len(FINE_TUNE)
    labels = [text.get_text() for text in ax.texts]
    assert all(any(label.startswith(step + "\n") for label in labels) for step in FLOW)
    assert labels.count("fine-tuning") == 1 and labels.count("prompting") == 4
    assert "examples=yes" in ax.get_title()
    plt.close(ax.figure)


def test_plot_flow_marks_the_next_question_only_while_a_walk_is_under_way():
    import matplotlib.pyplot as plt

    yellow = matplotlib.colors.to_rgb(decision.NEXT_COLOUR)

    def next_marked(answers):
        ax = decision.plot_flow(answers)
        marked = [t.get_text().split("\n")[0] for t in ax.texts if t.get_bbox_patch().get_facecolor()[:3] == yellow]
        plt.close(ax.figure)
        return marked, ax.get_title()

    assert next_marked(None) == ([], "The decision flow")
    assert next_marked({}) == (["need"], "The decision flow: next: need?")
    marked, title = next_marked({"need": "behaviour"})
    assert marked == ["prompt_tried"] and title == "The decision flow: need=behaviour -> next: prompt_tried?"
    assert next_marked(PRICE_LIST)[0] == []


def test_render_png_returns_a_png():
    assert decision.render_png(PRICE_LIST)[:8] == b"\x89PNG\r\n\x1a\n"


def test_path_html_lists_the_steps_taken_and_what_comes_next():
    assert "Next: <b>prompt_tried</b>" in decision.path_html({"need": "behaviour"})
    html = decision.path_html(PRICE_LIST)
    assert html.count("<li>") == 2 and "Recommendation: rag" in html


def test_the_widget_asks_each_question_in_turn_and_ends_at_recommend():
    box = decision.walkthrough_widget()
    question, buttons, restart, path_view, drawing = box.children
    assert "<b>need</b>" in question.value and list(buttons.options) == ["knowledge", "behaviour"]
    for step, answer in FINE_TUNE.items():
        assert f"<b>{step}</b>" in question.value
        buttons.value = answer
    assert box.answers == FINE_TUNE
    assert f"recommends <b>{recommend(FINE_TUNE).lever}</b>" in question.value
    assert path_view.value == decision.path_html(FINE_TUNE)
    assert drawing.value[:4] == b"\x89PNG"
    restart.click()
    assert box.answers == {} and "<b>need</b>" in question.value and buttons.value is None


def test_the_widget_can_start_from_given_answers():
    box = decision.walkthrough_widget(PRICE_LIST)
    assert box.answers == PRICE_LIST and "recommends <b>rag</b>" in box.children[0].value


def test_the_data_readme_states_the_card_counts_the_file_has():
    readme = " ".join((decision.CARDS_PATH.parent / "README.md").read_text().split())
    counts = Counter(card.expected for card in CARDS)
    assert f"`cards.json` — {len(CARDS)} cards" in readme
    assert f"`exercises.json` — {len(EXERCISES)} more cards" in readme
    spread = f"{counts['rag']} end at `rag`, {counts['fine-tuning']} at `fine-tuning` and {counts['prompting']} at"
    assert spread in readme


@pytest.mark.parametrize("answers", [None, "need=knowledge", [("need", "knowledge")]])
def test_answers_that_are_not_a_dict_get_an_error_that_shows_the_shape(answers):
    with pytest.raises(decision.DecisionError, match=r"answers must be a dict of step id -> answer, such as \{'need': 'knowledge'\}"):
        decision.recommend(answers)


def test_card_check_right_wrong_and_near_miss():
    cards = decision.load_cards()
    key = {c.id: c.expected for c in cards}
    assert decision.check_cards(key, cards) == f"Right: all {len(cards)} cards."
    s01 = next(c for c in cards if c.id == "s01")
    near = decision.check_cards({**key, "s01": "fine-tuning"}, cards)  # one card: the named mistake
    assert s01.expected == "rag" and near.startswith("Not yet: 1 card(s)") and "the named mistake" in near
    wrong = decision.check_cards({c.id: "prompting" for c in cards}, cards)
    assert wrong.startswith("Not yet:") and "s01" in wrong
    assert "is not a lever" in decision.check_cards({**key, "s02": "finetune"}, cards)


def test_knowledge_levers_check_right_wrong_and_near_miss():
    sentence = "A fine-tuned model keeps the old prices until someone retrains it."
    assert decision.check_knowledge_levers({"prompting", "rag"}, sentence).startswith("Right.")
    wrong = decision.check_knowledge_levers({"rag", "fine-tuning"}, sentence)
    assert wrong.startswith("Not yet") and "no walk" in wrong
    near = decision.check_knowledge_levers({"rag"}, sentence)
    assert near.startswith("Not yet: missing prompting")
    assert decision.check_knowledge_levers({"prompting", "rag"}, "").startswith("Right set. Now write")
    assert "what happens when the facts change" in decision.check_knowledge_levers({"prompting", "rag"}, "it is bad")


def test_exercise_walks_right_wrong_and_near_miss():
    for card in decision.load_cards(decision.EXERCISES_PATH):
        assert decision.check_walk(card.answers, card).startswith("Right")
        assert decision.check_walk({}, card).startswith("Not yet: step 'need'")  # the blank template
        last = list(card.answers)[-1]  # a near miss: the same walk with its last answer changed
        other = next(a for a in decision.FLOW[last].answers if a != card.answers[last])
        near = {**card.answers, last: other}
        try:
            lever = decision.recommend(near).lever
        except decision.DecisionError:
            lever = None
        if lever != card.expected:
            assert decision.check_walk(near, card).startswith("Not yet")

# --- notebook 04's platform cards: which customization kind a team needs -----------------------------

PLATFORM = decision.load_platform_cards()


def test_the_platform_deck_covers_every_kind_at_least_twice():
    counts = Counter(card.expected for card in PLATFORM)
    assert set(counts) == set(decision.KINDS) and min(counts.values()) >= 2
    assert all(card.id.startswith("p") for card in PLATFORM)


def test_a_right_answer_says_right_and_why():
    card = PLATFORM[0]
    assert decision.check_platform_card(card.expected, card) == f"Right: {card.id} -> {card.expected}. {card.why}"


@pytest.mark.parametrize("card", PLATFORM, ids=lambda c: c.id)
def test_each_near_miss_says_not_yet_with_the_cards_own_reason(card):
    for kind, reason in card.near_misses.items():
        verdict = decision.check_platform_card(kind, card)
        assert verdict == f"Not yet: {card.id}: {kind} is a near miss. {reason}"


def test_a_wrong_answer_that_is_no_near_miss_says_what_that_kind_is_for():
    card = next(c for c in PLATFORM if c.expected == "rft")
    wrong = next(k for k in decision.KINDS if k != card.expected and k not in card.near_misses)
    verdict = decision.check_platform_card(wrong, card)
    assert verdict.startswith(f"Not yet: {card.id}: {wrong} is {decision.KINDS[wrong]};")


@pytest.mark.parametrize("answer, says", [(None, "no answer yet; choose one of bedrock-fine-tuning, "),
                                          ("fine-tuning", "'fine-tuning' is not one of bedrock-fine-tuning, ")])
def test_a_missing_or_unknown_answer_lists_the_kinds(answer, says):
    assert decision.check_platform_card(answer, PLATFORM[0]).startswith(f"Not yet: p01: {says}")


def test_check_platform_cards_gives_one_line_per_card_in_order():
    given = {PLATFORM[0].id: PLATFORM[0].expected, PLATFORM[1].id: "sagemaker"}
    lines = decision.check_platform_cards(given, PLATFORM)
    assert [line.split(": ")[1].split()[0] for line in lines] == [card.id for card in PLATFORM]
    assert lines[0].startswith("Right:") and all(line.startswith("Not yet:") for line in lines[1:])


def test_scoring_and_confusion_work_on_the_platform_deck():
    right = {card.id: card.expected for card in PLATFORM}
    assert decision.score(right, PLATFORM) == 1.0
    table = decision.confusion({**right, "p01": "distillation"}, PLATFORM, decision.KINDS)
    assert list(table.index) == list(decision.KINDS)
    assert table.loc["bedrock-fine-tuning", "distillation"] == 1
    assert int(table.to_numpy().trace()) == len(PLATFORM) - 1


def raw_platform_card(**changes):
    card = {"id": "q1", "title": "t", "team": "t", "request": "r", "expected": "rft", "why": "w",
            "near_misses": {"bedrock-fine-tuning": "no references"}}
    return {**card, **changes}


@pytest.mark.parametrize(
    "cards, message",
    [
        ([raw_platform_card(expected="RFT")], "card 1 (q1): field expected: 'RFT' is not one of bedrock-fine-tuning"),
        ([raw_platform_card(near_misses={})], "card 1 (q1): field near_misses: give at least one kind"),
        ([raw_platform_card(near_misses={"rft": "x"})],
         "card 1 (q1): field near_misses: 'rft' must be one of bedrock-fine-tuning, distillation, rft, "
         "custom-model-import, sagemaker other than the expected 'rft'"),
        ([raw_platform_card(near_misses={"sagemaker": " "})], "card 1 (q1): field near_misses: 'sagemaker' needs a reason"),
        ([raw_platform_card(), raw_platform_card()], "card 2 (q1): field id: duplicate id 'q1'"),
        ([{k: v for k, v in raw_platform_card().items() if k != "near_misses"}], "card 1 (q1): fields must be exactly"),
    ],
    ids=["kind", "no-near-miss", "near-miss-is-the-answer", "empty-reason", "duplicate", "field"],
)
def test_load_platform_cards_names_the_file_card_and_field(tmp_path, cards, message):
    path = tmp_path / "platform_cards.json"
    path.write_text(json.dumps(cards))
    with pytest.raises(CardError, match=re.escape("platform_cards.json: " + message)):
        decision.load_platform_cards(path)


def test_the_platform_widget_checks_what_is_picked_with_the_same_function():
    box = decision.platform_cards_widget(PLATFORM[:2], {"p01": "rft"})
    assert repr(box).startswith("Platform cards: run this cell")
    assert box.pickers["p01"].value == "rft" and box.pickers["p02"].value is None
    box.pickers["p02"].value = PLATFORM[1].expected
    box.check.click()
    assert box.answers == {"p01": "rft", "p02": PLATFORM[1].expected}
    lines = decision.check_platform_cards(box.answers, PLATFORM[:2])
    shown = box.children[-1].value
    assert "Not yet: p01: rft is a near miss." in shown and "Right: p02 -&gt; bedrock-fine-tuning." in shown
    assert len(lines) == 2


def test_the_data_readme_states_the_platform_card_counts():
    readme = " ".join((decision.CARDS_PATH.parent / "README.md").read_text().split())
    assert f"`platform_cards.json` — {len(PLATFORM)} cards" in readme
