"""Three levers, one decision tree: the course's decision flow as data, a walker, scenario cards and scoring.

Two decks of cards share the reading, scoring and checking: notebook 01's lever cards (each walks the flow
to its lever) and notebook 04's platform cards (each names the customization kind a team needs, and why the
tempting near misses are not it).
"""
from __future__ import annotations

import io
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.paths import DATA_DIR

LEVERS = ("prompting", "rag", "fine-tuning")
CARDS_PATH = DATA_DIR / "scenarios" / "cards.json"
EXERCISES_PATH = DATA_DIR / "scenarios" / "exercises.json"
CARD_FIELDS = ("id", "title", "team", "request", "answers", "expected", "why")
PLATFORM_CARDS_PATH = DATA_DIR / "scenarios" / "platform_cards.json"
PLATFORM_CARD_FIELDS = ("id", "title", "team", "request", "expected", "why", "near_misses")

# Notebook 04's choices for a team that has decided to customize a model, with what each is for (the lab's
# summary of the AWS pages that notebook's section 14 cites, checked 2026-12-01).
KINDS: dict[str, str] = {
    "bedrock-fine-tuning": "a managed Bedrock job that learns from labelled examples of the wanted output",
    "distillation": "a Bedrock job in which a large teacher model writes the answers to your prompts and a "
    "smaller student model is fine-tuned on them",
    "rft": "reinforcement fine-tuning on Bedrock: a grader (a Lambda function or a judge model) scores the "
    "model's own answers and training raises the score; no reference answers needed",
    "custom-model-import": "bringing weights you already trained (a supported open architecture, Hugging Face "
    "format) into Bedrock to serve them; it trains nothing",
    "sagemaker": "SageMaker AI training jobs or HyperPod with your script or an Amazon Nova recipe: every knob "
    "(method, loss, rank, continued pre-training at scale), and the instances are yours to pay for",
}


class DecisionError(ValueError):
    """An answer set the decision flow cannot walk: an unknown answer or step, or a step left unanswered."""


class CardError(ValueError):
    """A scenario card file that breaks a rule: names the file, the card and the field."""


@dataclass(frozen=True)
class Branch:
    """Where one answer leads: the next step, or a lever; and why."""

    reason: str
    next: str | None = None
    lever: str | None = None

    def __repr__(self) -> str:
        return f"Branch({'next=' + self.next if self.next else 'lever=' + str(self.lever)})"


@dataclass(frozen=True)
class Step:
    """One question of the flow and where each allowed answer leads."""

    id: str
    question: str
    hint: str
    answers: dict[str, Branch]

    def __repr__(self) -> str:
        return f"Step({self.id}: {' | '.join(self.answers)})"


@dataclass(frozen=True)
class Taken:
    """One step of a walk: the step, the answer given and the reason that answer carries."""

    step: str
    answer: str
    reason: str

    def __repr__(self) -> str:
        return f"{self.step}={self.answer}"


@dataclass(frozen=True)
class Recommendation:
    """The lever the flow ends at and the path of steps that led there."""

    lever: str
    path: tuple[Taken, ...]

    def __repr__(self) -> str:
        return f"Recommendation({self.lever}: {' -> '.join(map(repr, self.path))})"

    def explain(self) -> str:
        """Return the path as numbered lines, one reason each, then the lever."""
        lines = [f"{n}. {t.step} = {t.answer}: {t.reason}" for n, t in enumerate(self.path, start=1)]
        return "\n".join([*lines, f"=> {self.lever}"])


@dataclass(frozen=True)
class Card:
    """A scenario card: a product team's request, the flow's answers for it, the expected lever and why."""

    id: str
    title: str
    team: str
    request: str
    answers: dict[str, str]
    expected: str
    why: str

    def __repr__(self) -> str:
        return f"Card({self.id}: {self.title} -> {self.expected})"


@dataclass(frozen=True)
class PlatformCard:
    """A team's situation, the customization kind it needs, why, and why each tempting other kind is not it."""

    id: str
    title: str
    team: str
    request: str
    expected: str
    why: str
    near_misses: dict[str, str]

    def __repr__(self) -> str:
        return f"PlatformCard({self.id}: {self.title} -> {self.expected})"


ROOT_STEP = "need"

# The course text's flow: try prompting first; missing facts (above all facts that change) go to RAG,
# because fine-tuning freezes facts as of the training day; tone, format or a narrow skill that the best
# prompt can't pin down goes to fine-tuning, if there are examples to learn it from.
FLOW: dict[str, Step] = {
    step.id: step
    for step in [
        Step(
            id="need",
            question="What is the model missing?",
            hint="knowledge: facts it was never shown (your documents, prices, policies, anything newer than "
            "its training). behaviour: it knows enough, but the tone, the format or a narrow skill is wrong.",
            answers={
                "knowledge": Branch(
                    "The gap is facts the model never saw: no wording of a question makes it know them.",
                    next="facts_fit",
                ),
                "behaviour": Branch(
                    "The model has what it needs to know; what is wrong is how it answers.",
                    next="prompt_tried",
                ),
            },
        ),
        Step(
            id="facts_fit",
            question="Are the facts few enough to paste into every prompt (about a page)?",
            hint="yes: a menu, opening hours, a short policy. no: a catalogue, a document library, anything "
            "that changes often or grows.",
            answers={
                "yes": Branch(
                    "A page of facts is just context: put it in the prompt and edit it when it changes; "
                    "no index, no training.",
                    lever="prompting",
                ),
                "no": Branch(
                    "Too many, or too changeable, to paste every time: retrieve the few passages a question "
                    "needs at question time. An update is a re-index, the answer can cite its source, and "
                    "nothing is frozen; a fine-tuned model would keep answering with the facts of its "
                    "training day.",
                    lever="rag",
                ),
            },
        ),
        Step(
            id="prompt_tried",
            question="Have you tried a careful prompt and measured it on real cases?",
            hint="Careful: clear instructions, the output format spelled out, a few worked examples. "
            "Measured: run on cases the team did not write the prompt from.",
            answers={
                "yes": Branch("A prompt has had a fair trial; look at how it did.", next="prompt_enough"),
                "no": Branch(
                    "Try prompting first: it is the cheapest lever, a change takes minutes and can be undone, "
                    "and tone and format problems are often fixed there.",
                    lever="prompting",
                ),
            },
        ),
        Step(
            id="prompt_enough",
            question="Does the best prompt meet your quality bar on those cases?",
            hint="Compare its measured score with the bar the product needs, not with perfection.",
            answers={
                "yes": Branch(
                    "Ship the prompt: fine-tuning would add a training job, a custom model to host and "
                    "retrain, for no gain you need.",
                    lever="prompting",
                ),
                "no": Branch(
                    "A behaviour the best prompt cannot pin down is what training can teach.",
                    next="examples",
                ),
            },
        ),
        Step(
            id="examples",
            question="Do you have, or can you make, hundreds of good examples of the wanted output?",
            hint="Input/output pairs you would be happy to see the model copy: approved replies, labelled "
            "clauses, validated JSON. A dozen is not enough.",
            answers={
                "yes": Branch(
                    "Fine-tune: the examples are the training set, and the model learns the tone, format or "
                    "narrow skill from them instead of from instructions.",
                    lever="fine-tuning",
                ),
                "no": Branch(
                    "Fine-tuning has nothing to learn from yet: keep the best prompt, and collect and correct "
                    "its outputs until you have the examples.",
                    lever="prompting",
                ),
            },
        ),
    ]
}


def check_flow(flow: dict[str, Step], root: str = ROOT_STEP) -> None:
    """Raise DecisionError unless every branch leads to a known step or lever, with no loop and no orphan."""
    if root not in flow:
        raise DecisionError(f"the flow has no root step {root!r}")
    for step in flow.values():
        for answer, branch in step.answers.items():
            where = f"step {step.id!r}, answer {answer!r}"
            if (branch.next is None) == (branch.lever is None):
                raise DecisionError(f"{where}: give exactly one of next or lever")
            if branch.next is not None and branch.next not in flow:
                raise DecisionError(f"{where}: next step {branch.next!r} is not in the flow")
            if branch.lever is not None and branch.lever not in LEVERS:
                raise DecisionError(f"{where}: lever {branch.lever!r} is not one of {', '.join(LEVERS)}")
    seen: set[str] = set()

    def visit(step_id: str, above: tuple[str, ...]) -> None:
        if step_id in above:
            raise DecisionError(f"the flow loops: {' -> '.join([*above, step_id])}")
        seen.add(step_id)
        for branch in flow[step_id].answers.values():
            if branch.next is not None:
                visit(branch.next, (*above, step_id))

    visit(root, ())
    orphans = sorted(set(flow) - seen)
    if orphans:
        raise DecisionError(f"steps never reached from {root!r}: {', '.join(orphans)}")


def allowed(step: Step) -> str:
    """Return a step's allowed answers, quoted and comma-separated, for error messages."""
    return ", ".join(repr(a) for a in step.answers)


def walk(answers: dict[str, str], flow: dict[str, Step] = FLOW) -> tuple[list[Taken], str | None, str | None]:
    """Follow the answers from the root as far as they go: return (path, lever or None, next step or None)."""
    if not isinstance(answers, dict):
        raise DecisionError(f"answers must be a dict of step id -> answer, such as {{{ROOT_STEP!r}: "
                            f"{next(iter(flow[ROOT_STEP].answers))!r}}}; got {type(answers).__name__}")
    unknown = sorted(set(answers) - set(flow))
    if unknown:
        raise DecisionError(f"unknown step {unknown[0]!r} in the answers; the steps are: {', '.join(sorted(flow))}")
    path: list[Taken] = []
    step_id = ROOT_STEP
    while True:
        step = flow[step_id]
        if step_id not in answers:
            return path, None, step_id
        answer = answers[step_id]
        if answer not in step.answers:
            raise DecisionError(
                f"step {step_id!r} ({step.question}): unknown answer {answer!r}; allowed answers: {allowed(step)}"
            )
        branch = step.answers[answer]
        path.append(Taken(step_id, answer, branch.reason))
        if branch.lever is not None:
            return path, branch.lever, None
        if branch.next is None:
            raise DecisionError(f"step {step_id!r}, answer {answer!r} leads nowhere; check_flow(flow) finds such gaps")
        step_id = branch.next


def recommend(answers: dict[str, str], flow: dict[str, Step] = FLOW) -> Recommendation:
    """Walk the flow with the given answers and return the lever it ends at and the path taken."""
    path, lever, missing = walk(answers, flow)
    if lever is None:
        step = flow[missing]
        raise DecisionError(f"step {missing!r} ({step.question}): no answer given; allowed answers: {allowed(step)}")
    return Recommendation(lever, tuple(path))


def all_paths(flow: dict[str, Step] = FLOW) -> list[dict[str, str]]:
    """Return the answers of every complete walk through the flow, in the flow's order."""

    def extend(step_id: str, so_far: dict[str, str]) -> list[dict[str, str]]:
        walks = []
        for answer, branch in flow[step_id].answers.items():
            answers = {**so_far, step_id: answer}
            walks += [answers] if branch.next is None else extend(branch.next, answers)
        return walks

    return extend(ROOT_STEP, {})


def read_card_items(path: str | Path, fields: tuple[str, ...]) -> list[tuple[str, dict]]:
    """Read a JSON list of cards with exactly `fields` and unique ids; return (name for messages, card) pairs."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CardError(f"{path.name}: line {err.lineno}: not valid JSON ({err.msg})") from err
    if not isinstance(raw, list):
        raise CardError(f"{path.name}: expected a JSON list of cards, got {type(raw).__name__}")
    items, ids = [], set()
    for number, item in enumerate(raw, start=1):
        name = f"{path.name}: card {number} ({item.get('id', '?') if isinstance(item, dict) else '?'})"
        if not isinstance(item, dict) or set(item) != set(fields):
            have = sorted(item) if isinstance(item, dict) else type(item).__name__
            raise CardError(f"{name}: fields must be exactly {', '.join(fields)}; got {have}")
        if item["id"] in ids:
            raise CardError(f"{name}: field id: duplicate id {item['id']!r}")
        ids.add(item["id"])
        items.append((name, item))
    return items


def load_cards(path: str | Path = CARDS_PATH, flow: dict[str, Step] = FLOW) -> list[Card]:
    """Read scenario cards from a JSON list, raising CardError naming the file, card and field of a bad one."""
    cards = []
    for name, item in read_card_items(path, CARD_FIELDS):
        if item["expected"] not in LEVERS:
            raise CardError(f"{name}: field expected: {item['expected']!r} is not one of {', '.join(LEVERS)}")
        try:
            recommend(item["answers"], flow)
        except DecisionError as err:
            raise CardError(f"{name}: field answers: {err}") from err
        cards.append(Card(**item))
    return cards


def load_platform_cards(path: str | Path = PLATFORM_CARDS_PATH, kinds: dict[str, str] = KINDS) -> list[PlatformCard]:
    """Read notebook 04's platform cards, raising CardError naming the file, card and field of a bad one."""
    cards = []
    for name, item in read_card_items(path, PLATFORM_CARD_FIELDS):
        if item["expected"] not in kinds:
            raise CardError(f"{name}: field expected: {item['expected']!r} is not one of {', '.join(kinds)}")
        near = item["near_misses"]
        if not isinstance(near, dict) or not near:
            raise CardError(f"{name}: field near_misses: give at least one kind -> why it is not the answer")
        for kind, reason in near.items():
            if kind not in kinds or kind == item["expected"]:
                raise CardError(f"{name}: field near_misses: {kind!r} must be one of {', '.join(kinds)} "
                                f"other than the expected {item['expected']!r}")
            if not isinstance(reason, str) or not reason.strip():
                raise CardError(f"{name}: field near_misses: {kind!r} needs a reason")
        cards.append(PlatformCard(**item))
    return cards


def recommend_cards(cards: list[Card], flow: dict[str, Step] = FLOW) -> dict[str, str]:
    """Return the flow's lever for each card, by card id."""
    return {card.id: recommend(card.answers, flow).lever for card in cards}


def mistakes(given: dict[str, str], cards: list[Card]) -> list[str]:
    """Return the ids of the cards whose given lever differs from the expected one (unanswered ones included)."""
    return [card.id for card in cards if given.get(card.id) != card.expected]


def score(given: dict[str, str], cards: list[Card]) -> float:
    """Return the share of cards whose given lever is the expected one."""
    return 1 - len(mistakes(given, cards)) / len(cards)


def confusion(given: dict[str, str], cards: list[Card], levers=LEVERS) -> pd.DataFrame:
    """Return a table counting cards by expected lever (rows) and given lever (columns); '(none)' if unanswered.

    `levers` are the deck's choices: notebook 01's three levers, or notebook 04's `KINDS`.
    """
    levers = list(levers)
    columns = [*levers, "(none)"] if any(card.id not in given for card in cards) else levers
    table = pd.DataFrame(0, index=pd.Index(levers, name="expected"), columns=pd.Index(columns, name="given"))
    for card in cards:
        answer = given.get(card.id, "(none)")
        if answer not in table.columns:
            raise DecisionError(f"card {card.id!r}: given lever {answer!r} is not one of {', '.join(levers)}")
        table.loc[card.expected, answer] += 1
    return table


def check_walk(answers: dict[str, str], card: Card) -> str:
    """Return a one-line verdict on a learner's walk for a card: right, wrong, or the error it raised."""
    try:
        lever = recommend(answers).lever
    except DecisionError as err:
        return f"Not yet: {err}"
    if lever == card.expected:
        return f"Right: {card.id} -> {lever}. {card.why}"
    return f"Not yet: your answers lead to {lever!r}; reread the card and the hint of each step."


def check_platform_card(answer: str | None, card: PlatformCard, kinds: dict[str, str] = KINDS) -> str:
    """Return a one-line verdict on one platform card: right with why, or not yet with why not."""
    if answer is None or answer == "":
        return f"Not yet: {card.id}: no answer yet; choose one of {', '.join(kinds)}."
    if answer not in kinds:
        return f"Not yet: {card.id}: {answer!r} is not one of {', '.join(kinds)}."
    if answer == card.expected:
        return f"Right: {card.id} -> {answer}. {card.why}"
    if answer in card.near_misses:
        return f"Not yet: {card.id}: {answer} is a near miss. {card.near_misses[answer]}"
    return (f"Not yet: {card.id}: {answer} is {kinds[answer]}; nothing in the request calls for that. "
            f"Reread what the team already has and what it lacks.")


def check_platform_cards(given: dict[str, str], cards: list[PlatformCard], kinds: dict[str, str] = KINDS) -> list[str]:
    """Return one verdict line per card, in the deck's order (unanswered cards included)."""
    return [check_platform_card(given.get(card.id), card, kinds) for card in cards]


def platform_cards_widget(cards: list[PlatformCard], given: dict[str, str] | None = None,
                          kinds: dict[str, str] = KINDS):
    """Return an ipywidgets box: one drop-down per card and a Check button that prints check_platform_cards."""
    import html

    import ipywidgets as widgets

    from helpers.ui import Panel

    given = dict(given or {})
    pickers = {card.id: widgets.Dropdown(options=[("(choose)", None), *[(k, k) for k in kinds]],
                                         value=given.get(card.id) if given.get(card.id) in kinds else None,
                                         description=card.id, layout=widgets.Layout(width="22em"))
               for card in cards}
    rows = [widgets.HBox([pickers[card.id], widgets.HTML(f"<small>{html.escape(card.title)}</small>")])
            for card in cards]
    check = widgets.Button(description="Check", icon="check")
    verdicts = widgets.HTML()
    box = Panel([*rows, check, verdicts],
                "Platform cards: run this cell to choose a customization kind per card and check them.")
    box.answers = given
    box.pickers = pickers

    def on_check(_) -> None:
        box.answers.clear()
        box.answers.update({cid: p.value for cid, p in pickers.items() if p.value is not None})
        lines = check_platform_cards(box.answers, cards, kinds)
        verdicts.value = "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"

    check.on_click(on_check)
    box.check = check
    return box


def layout_flow(flow: dict[str, Step] = FLOW) -> tuple[dict[str, tuple[float, float]], list[tuple[str, str, str]]]:
    """Return node positions (steps by id, leaves as 'step=answer') and edges (parent, child, answer)."""
    positions: dict[str, tuple[float, float]] = {}
    edges: list[tuple[str, str, str]] = []
    next_x = [0.0]

    def place(node: str, depth: int) -> float:
        step = flow.get(node)
        if step is None:
            x, next_x[0] = next_x[0], next_x[0] + 1
        else:
            xs = []
            for answer, branch in step.answers.items():
                child = branch.next if branch.next is not None else f"{node}={answer}"
                edges.append((node, child, answer))
                xs.append(place(child, depth + 1))
            x = sum(xs) / len(xs)
        positions[node] = (x, -float(depth))
        return x

    place(ROOT_STEP, 0)
    return positions, edges


def leaf_lever(node: str, flow: dict[str, Step] = FLOW) -> str:
    """Return the lever of a leaf node named 'step=answer'."""
    step_id, answer = node.split("=", 1)
    return flow[step_id].answers[answer].lever


def fill(text: str, width: int) -> str:
    """Wrap text to lines of at most about `width` characters, for labels in a drawing."""
    return "\n".join(textwrap.wrap(text, width))


LEVER_COLOURS = {"prompting": "#4c72b0", "rag": "#55a868", "fine-tuning": "#c44e52"}
NEXT_COLOUR = "#ffe680"


def plot_flow(answers: dict[str, str] | None = None, flow: dict[str, Step] = FLOW, ax=None):
    """Draw the flow as a tree: the path the answers take in bold, the next question in yellow; return the Axes.

    answers=None draws the bare flow; {} marks the first question as the next one.
    """
    import matplotlib.pyplot as plt

    positions, edges = layout_flow(flow)
    path, lever, missing = walk(answers or {}, flow)
    taken = {(t.step, t.answer) for t in path}
    if answers is None:
        missing = None
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 7))
    for parent, child, answer in edges:
        (x0, y0), (x1, y1) = positions[parent], positions[child]
        on_path = (parent, answer) in taken
        ax.plot([x0, x1], [y0, y1], color="black" if on_path else "#c8c8c8", lw=3 if on_path else 1, zorder=1)
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, answer, ha="center", va="center", fontsize=8,
                fontweight="bold" if on_path else "normal", zorder=2,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))
    reached = {t.step for t in path} | {f"{t.step}={t.answer}" for t in path if lever} | {missing}
    for node, (x, y) in positions.items():
        is_leaf = node not in flow
        label = leaf_lever(node, flow) if is_leaf else f"{node}\n" + fill(flow[node].question, 28)
        colour = LEVER_COLOURS[label] if is_leaf else NEXT_COLOUR if node == missing else "#f2f2f2"
        ax.text(x, y, label, ha="center", va="center", fontsize=7.5, zorder=3,
                color="white" if is_leaf else "black", fontweight="bold" if node in reached else "normal",
                bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="black" if node in reached else "#999999",
                          lw=2.5 if node in reached else 0.8, alpha=1 if node in reached or answers is None else 0.55))
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.4, max(ys) + 0.4)
    ax.set_axis_off()
    steps = [repr(t) for t in path] + ([f"next: {missing}?"] if missing else [])
    ax.set_title("The decision flow" + (f": {' -> '.join(steps)}" if steps else ""), fontsize=10)
    return ax


def render_png(answers: dict[str, str] | None = None, flow: dict[str, Step] = FLOW) -> bytes:
    """Return the flow drawing with the path of the answers as PNG bytes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 7), dpi=72)
    plot_flow(answers, flow, ax=figure.subplots())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def path_html(answers: dict[str, str], flow: dict[str, Step] = FLOW) -> str:
    """Return the steps taken so far, and the lever or the next question, as an HTML list."""
    path, lever, missing = walk(answers, flow)
    items = [f"<li><b>{t.step} = {t.answer}</b>: {t.reason}</li>" for t in path]
    end = (f"<p><b>Recommendation: {lever}</b></p>" if lever
           else f"<p>Next: <b>{missing}</b> — {flow[missing].question}</p>")
    return f"<ol>{''.join(items)}</ol>{end}" if items else end


def walkthrough_widget(answers: dict[str, str] | None = None, flow: dict[str, Step] = FLOW):
    """Return an ipywidgets box that asks the flow's questions one at a time and draws the path as it is taken."""
    import ipywidgets as widgets

    from helpers.ui import Panel

    state = dict(answers or {})
    question = widgets.HTML()
    buttons = widgets.ToggleButtons(options=[], value=None)
    path_view = widgets.HTML()
    drawing = widgets.Image(format="png")
    restart = widgets.Button(description="Start over", icon="undo")
    box = Panel([question, buttons, restart, path_view, drawing],
                "Decision-flow walk-through: run this cell to answer the questions one at a time.")
    box.answers = state
    updating = [False]

    def refresh() -> None:
        _, lever, missing = walk(state, flow)
        updating[0] = True
        if missing is None:
            question.value = f"<b>Done.</b> The flow recommends <b>{lever}</b>."
            buttons.options, buttons.layout.display = [], "none"
        else:
            step = flow[missing]
            question.value = f"<b>{missing}</b>: {step.question}<br><small>{step.hint}</small>"
            buttons.options, buttons.layout.display = list(step.answers), None
        buttons.value = None
        updating[0] = False
        path_view.value = path_html(state, flow)
        drawing.value = render_png(state, flow)

    def on_answer(change) -> None:
        if updating[0] or change["new"] is None:
            return
        _, _, missing = walk(state, flow)
        state[missing] = change["new"]
        refresh()

    def on_restart(_) -> None:
        state.clear()
        refresh()

    buttons.observe(on_answer, names="value")
    restart.on_click(on_restart)
    refresh()
    return box


def check_cards(answers: dict[str, str], cards: list[Card]) -> str:
    """Exercise 1 of notebook 01: right when every card has its expected lever; else which cards, and the kind of slip."""
    unknown = sorted({a for a in answers.values() if a not in LEVERS})
    if unknown:
        return f"Not yet: {', '.join(map(repr, unknown))} is not a lever; use one of {', '.join(LEVERS)}."
    wrong = mistakes(answers, cards)
    if not wrong:
        return f"Right: all {len(cards)} cards."
    named = [c.id for c in cards if c.id in wrong and c.expected == "rag" and answers.get(c.id) == "fine-tuning"]
    hint = (f" {', '.join(named)}: a knowledge gap sent to fine-tuning - the named mistake of section 4." if named
            else " Walk each one in the widget and compare the reason at each step.")
    return f"Not yet: {len(wrong)} card(s) to look at again: {', '.join(wrong)}.{hint}"


FROZEN_FACTS = ("snapshot", "freez", "frozen", "chang", "stale", "out of date", "outdated", "retrain",
                "update", "fresh")


def check_knowledge_levers(levers: set[str], why_not: str) -> str:
    """Exercise 3 of notebook 01: the levers reachable from need=knowledge, and one sentence on why not fine-tuning."""
    truth = {recommend(a).lever for a in all_paths() if a["need"] == "knowledge"}
    levers = set(levers)
    if "fine-tuning" in levers:
        return ("Not yet: no walk that starts with need=knowledge ends at fine-tuning; walk both answers of "
                "facts_fit in section 2.")
    if levers != truth:
        missing = ", ".join(sorted(truth - levers)) or "none"
        return (f"Not yet: missing {missing}; walk both answers of facts_fit in section 2 - facts that fit on a page "
                "go in the prompt, the rest is retrieved.")
    if not why_not.strip():
        return "Right set. Now write the sentence: what happens to a fine-tuned model when the facts change?"
    if not any(word in why_not.lower() for word in FROZEN_FACTS):
        return ("Not yet: the set is right; the sentence should say what happens when the facts change (the trained "
                "model keeps the old ones until the next training job).")
    return "Right. Compare your sentence with the first bullet of section 4."
