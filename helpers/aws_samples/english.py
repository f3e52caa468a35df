"""Ordinary English records made by the lab, seeded: dialogues, news articles, support tickets, meeting notes.

They stand in for the datasets AWS's samples download from Hugging Face (the lab runs with no internet) and
give the offline Bedrock text that is not the lab's own corpus. Each record has the fields of the dataset it
stands in for, and each summary or reply is written from the same slots as its text, so it is a true summary.
The texts are the lab's own invention: any likeness to real people or events is chance.
"""
from __future__ import annotations

import random
from collections.abc import Callable

NAMES = ["Amanda", "Tom", "Priya", "Jonas", "Mei", "Carlos", "Fatima", "Oliver", "Sofia", "Kwame", "Hannah",
         "Luis", "Aisha", "Ben", "Yara", "Daniel", "Chloe", "Ravi", "Elena", "Marcus"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = ["8 am", "10:30", "noon", "2 pm", "half past four", "6 pm", "7:15"]
PLACES = ["the Italian place on Main Street", "the coffee shop near the station", "the new ramen bar",
          "the park by the river", "the library cafe", "Grandma's house"]
ITEMS = ["umbrella", "charger", "blue jacket", "copy of the novel", "camping stove", "drill", "board game"]
SURNAMES = ["Reed", "Okafor", "Lind", "Moreau", "Tanaka"]
CITIES = ["Riverton", "Lakeside", "Port Ellis", "Maple Grove", "Northfield", "Clearwater"]
PROJECTS = ["a new bus line", "a solar farm", "a public swimming pool", "a bike lane network", "a night market"]
TEAMS = ["the Riverton Hawks", "the Lakeside Rovers", "Port Ellis United", "the Northfield Bears"]
PRODUCTS = ["wireless headphones", "a standing desk", "a coffee grinder", "a phone case", "running shoes"]
TOPICS = ["the website redesign", "the spring product launch", "the office move", "next year's budget",
          "the customer survey", "the hiring plan"]


def _dialogue(rng: random.Random) -> tuple[list[tuple[str, str]], str]:
    a, b = rng.sample(NAMES, 2)
    day, time, place, item = rng.choice(DAYS), rng.choice(TIMES), rng.choice(PLACES), rng.choice(ITEMS)
    minutes = rng.choice([10, 15, 20, 30])
    kind = rng.randrange(4)
    if kind == 0:
        turns = [(a, f"Hi {b}, are you free on {day}?"), (b, "I think so, why?"),
                 (a, f"Want to meet at {place} around {time}?"), (b, "Sounds great, see you there!")]
        return turns, f"{a} and {b} will meet at {place} on {day} around {time}."
    if kind == 1:
        turns = [(a, f"Do you still have my {item}?"), (b, f"Yes, sorry! I'll bring it on {day}."),
                 (a, "No rush, thanks."), (b, "I owe you a coffee for waiting.")]
        return turns, f"{b} will give {a} back the {item} on {day}."
    if kind == 2:
        turns = [(a, f"I'm stuck in traffic, I'll be {minutes} minutes late."),
                 (b, "No problem, I'll get a table and order drinks."), (a, "Thank you, you're the best.")]
        return turns, f"{a} will be {minutes} minutes late because of traffic, so {b} will get a table."
    turns = [(a, f"Can you help me move on {day}?"), (b, f"Only after {time}, I work in the morning."),
             (a, f"After {time} is perfect. I'll order pizza."), (b, "Deal.")]
    return turns, f"{b} will help {a} move on {day} after {time}, and {a} will order pizza."


def dialogues(n: int, seed: int = 0) -> list[dict]:
    """Chat dialogues with summaries, shaped like samsum: {id, dialogue ('Name: line' joined by CRLF), summary}."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        turns, summary = _dialogue(rng)
        out.append({"id": str(rng.randrange(10_000_000, 100_000_000)),
                    "dialogue": "\r\n".join(f"{who}: {line}" for who, line in turns), "summary": summary})
    return out


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _news(rng: random.Random) -> tuple[str, list[str]]:
    city, day = rng.choice(CITIES), rng.choice(DAYS)
    title, surname = rng.choice(["Mayor", "Councillor", "Director"]), rng.choice(SURNAMES)
    who = f"{title} {rng.choice(NAMES)} {surname}"
    if rng.random() < 0.5:
        project, cost, months = rng.choice(PROJECTS), rng.choice([4, 12, 25, 60]), rng.choice([6, 9, 18, 24])
        article = (f"({city}) -- Officials in {city} approved {project} on {day}, ending two years of debate. "
                   f"The plan will cost about ${cost} million and take {months} months to build, {who} said. "
                   f"\"This is a good day for everyone who lives and works here,\" {surname} told reporters. "
                   "Critics said the money could have gone to schools, and some residents worried about noise "
                   "during construction. Work is expected to begin next spring.")
        return article, [f"{city} approves {project} costing about ${cost} million.",
                         f"Construction will take {months} months, officials say."]
    home, away = rng.sample(TEAMS, 2)
    goals = rng.sample(range(0, 5), 2)
    winner, loser = (home, away) if goals[0] > goals[1] else (away, home)
    article = (f"({city}) -- {_upper_first(home)} and {away} met on {day} in front of a sold-out crowd. "
               f"The final score was {max(goals)} to {min(goals)}. "
               + (f"{_upper_first(winner)} took the lead early and never looked back. " if goals[0] != goals[1]
                  else "Neither side could find a winner in the closing minutes. ")
               + f"\"We played as a team tonight,\" said coach {rng.choice(NAMES)} after the game. "
               "The two sides meet again next month.")
    if goals[0] == goals[1]:
        return article, [f"{_upper_first(home)} and {away} draw {goals[0]} to {goals[1]}.",
                         "The sides meet again next month."]
    return article, [f"{_upper_first(winner)} beat {loser} {max(goals)} to {min(goals)}.",
                     "The sides meet again next month."]


def news_articles(n: int, seed: int = 0) -> list[dict]:
    """News-style articles with highlights, shaped like cnn_dailymail 3.0.0: {article, highlights ('\\n'), id}."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        article, highlights = _news(rng)
        out.append({"article": article, "highlights": "\n".join(highlights), "id": f"{rng.getrandbits(160):040x}"})
    return out


def support_tickets(n: int, seed: int = 0) -> list[dict]:
    """Customer support tickets: {ticket, category, reply}; the reply answers what the ticket asks."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        name, product, order = rng.choice(NAMES), rng.choice(PRODUCTS), rng.randrange(100_000, 999_999)
        kind = rng.randrange(3)
        if kind == 0:
            ticket = f"Hello, I ordered {product} (order {order}) ten days ago and it still has not arrived."
            reply = (f"Hi {name}, sorry for the wait. Order {order} left our warehouse late; "
                     "we have sent it by express delivery and you will get a tracking link today.")
            category = "Shipping"
        elif kind == 1:
            ticket = f"Hi, I was charged twice for {product} on order {order}. Please refund one payment."
            reply = f"Hi {name}, you are right: order {order} was charged twice. We have refunded the extra payment."
            category = "Billing"
        else:
            ticket = f"My {product} from order {order} stopped working after a week. Can I get a replacement?"
            reply = f"Hi {name}, we are sorry the {product} failed. A replacement for order {order} is on its way."
            category = "Returns"
        out.append({"ticket": f"From: {name}\n{ticket}", "category": category, "reply": reply})
    return out


def meeting_notes(n: int, seed: int = 0) -> list[dict]:
    """Meeting notes with a one-paragraph summary: {notes, summary}."""
    rng, out = random.Random(seed), []
    for _ in range(n):
        people, topic, day = rng.sample(NAMES, 3), rng.choice(TOPICS), rng.choice(DAYS)
        owner, second, _ = people
        weeks = rng.choice([2, 3, 4, 6])
        notes = (f"Attendees: {', '.join(people)}\nTopic: {topic}\n"
                 f"- {owner} shared the current plan; the team agreed it needs {weeks} more weeks.\n"
                 f"- {second} raised a risk: the vendor has not confirmed the delivery date.\n"
                 f"Action items: {owner} to send the updated timeline by {day}; "
                 f"{second} to call the vendor.")
        summary = (f"The team reviewed {topic} and agreed it needs {weeks} more weeks. {owner} will send the "
                   f"updated timeline by {day}, and {second} will call the vendor about the delivery date.")
        out.append({"notes": notes, "summary": summary})
    return out


class Split(list):
    """One split of a stand-in dataset: a list of rows that prints like a Hugging Face Dataset."""

    def __repr__(self) -> str:
        features = list(self[0]) if self else []
        return f"Dataset({{\n    features: {features},\n    num_rows: {len(self)}\n}})"


class DatasetDict(dict):
    """Named splits that print like a Hugging Face DatasetDict, so a sample's `print(dataset)` cell runs as is."""

    def __repr__(self) -> str:
        inner = ",\n".join(f"    {name}: " + repr(split).replace("\n", "\n    ") for name, split in self.items())
        return f"DatasetDict({{\n{inner}\n}})"


# Hugging Face dataset name -> (the lab's generator of the same shape, rows per split). Few rows, so the offline
# jobs of the samples take seconds; the samples cap the splits at 1000/100/10 and read the 4th test row.
STAND_IN_DATASETS: dict[str, tuple[Callable[[int, int], list[dict]], dict[str, int]]] = {
    "knkarthick/samsum": (dialogues, {"train": 40, "validation": 8, "test": 10}),
    "cnn_dailymail": (news_articles, {"train": 40, "validation": 8, "test": 10}),
}


def stand_in_dataset(name: str) -> DatasetDict:
    """Return the lab's records shaped like the named Hugging Face dataset, one seed per split."""
    if name not in STAND_IN_DATASETS:
        raise KeyError(f"no stand-in for dataset {name!r}; the lab makes {', '.join(STAND_IN_DATASETS)}")
    make, sizes = STAND_IN_DATASETS[name]
    return DatasetDict({split: Split(make(n, seed)) for seed, (split, n) in enumerate(sizes.items())})
