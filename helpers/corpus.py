"""The lab's own data, generated from fixed seeds: contract clauses, domain text, catalogs, general text.

`python -m helpers.corpus` writes data/clauses/, data/catalog/ and data/general/ byte-for-byte the same
every time. The general pre-training corpus is generated on the fly by the base-model build
(`general_documents`); only a small held-out sample is written to disk.
"""
from __future__ import annotations

import csv
import io
import json
import random
import re
import sys
from pathlib import Path

from helpers.paths import DATA_DIR

DATA = DATA_DIR  # notebooks read corpus.DATA / "catalog" / ...
SEED = 20240611

# --------------------------------------------------------------------------- the firm's clause taxonomy
# (label, kind, description). "plain" labels are general contract vocabulary that a foundation model knows
# from pre-training; "code" labels are the firm's own codes and fine distinctions (liability cap vs
# exclusion) that a prompt can't reliably pin down: labelled examples in training teach them.
TAXONOMY = [
    ("payment", "plain", "fees, invoices, payment terms, late interest"),
    ("termination", "plain", "ending the agreement: notice, breach, insolvency"),
    ("confidentiality", "plain", "keeping the other party's information secret"),
    ("indemnity", "plain", "one party defends and compensates the other for third-party claims"),
    ("warranty", "plain", "promises about the quality of goods or services"),
    ("assignment", "plain", "transferring the agreement to someone else"),
    ("LC1", "code", "firm code: a CAP on total liability (an amount or a multiple of fees)"),
    ("LC2", "code", "firm code: an EXCLUSION of indirect or consequential loss (not a cap)"),
    ("GL3", "code", "firm code: governing law and the courts that hear disputes"),
    ("FM9", "code", "firm code: force majeure, events beyond a party's control"),
    ("DP4", "code", "firm code: personal data and data protection (minority class)"),
]
LABELS = [t[0] for t in TAXONOMY]
PLAIN_LABELS = [t[0] for t in TAXONOMY if t[1] == "plain"]
# sampling weights: DP4 is the minority class
LABEL_WEIGHTS = {"DP4": 0.3}

PARTY_PAIRS = [("Supplier", "Customer"), ("Licensor", "Licensee"), ("Contractor", "Client"),
               ("Provider", "Customer"), ("Seller", "Buyer"), ("Vendor", "Company")]
DAYS = ["ten (10)", "fifteen (15)", "thirty (30)", "sixty (60)", "ninety (90)", "14", "30", "45", "60"]
JURIS = ["England and Wales", "the State of New York", "the State of Delaware", "Ireland", "Ontario",
         "the Netherlands", "Switzerland", "Singapore"]
CITIES_LAW = ["London", "New York", "Wilmington", "Dublin", "Toronto", "Amsterdam", "Zurich", "Singapore"]
EVENTS = ["flood", "fire", "earthquake", "war", "epidemic", "strike", "power failure", "act of God"]
DOCS = ["Schedule 1", "Schedule 2", "the Order Form", "Exhibit A", "the Statement of Work"]
LOSSES = ["losses", "damages", "costs", "expenses", "liabilities"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]


def _date(r: random.Random) -> str:
    """A date in one of the formats the firm's systems have used over the years."""
    y, m, d = r.randint(2019, 2025), r.randint(1, 12), r.randint(1, 28)
    fmt = r.randrange(6)
    if fmt == 0:
        return f"{y}-{m:02d}-{d:02d}"
    if fmt == 1:
        return f"{d:02d}/{m:02d}/{y}"
    if fmt == 2:
        return f"{m:02d}/{d:02d}/{y}"
    if fmt == 3:
        return f"{MONTHS[m - 1]} {d}, {y}"
    if fmt == 4:
        return f"{d} {MONTHS[m - 1][:3]} {y}"
    return f"{y}.{m:02d}.{d:02d}"


def clause_text(r: random.Random, label: str) -> str:
    """One clause of the given label, in the firm's drafting style."""
    a, b = r.choice(PARTY_PAIRS)
    if r.random() < 0.5:
        a, b = b, a
    n, doc, loss = r.choice(DAYS), r.choice(DOCS), r.choice(LOSSES)
    e1, e2 = r.sample(EVENTS, 2)
    t = {
        "payment": [
            f"The {b} shall pay the {a} the fees set out in {doc} within {n} days of the date of each invoice.",
            f"All invoices issued by the {a} are payable by the {b} within {n} days, and late amounts bear interest at two percent per month.",
            f"The {b} shall reimburse the {a} for reasonable expenses incurred under {doc}, payable within {n} days.",
            f"Fees are payable in advance, and the {a} may invoice the {b} on the first day of each month.",
        ],
        "termination": [
            f"Either party may terminate this Agreement on {n} days written notice to the other party.",
            f"The {a} may terminate this Agreement with immediate effect if the {b} commits a material breach and fails to remedy it within {n} days.",
            f"This Agreement terminates automatically if the {b} becomes insolvent or enters into liquidation.",
            f"The {b} may terminate this Agreement for convenience at any time by giving {n} days notice.",
        ],
        "confidentiality": [
            f"The {b} shall keep confidential all information disclosed by the {a} and shall not disclose it to any third party.",
            "Each party shall use the confidential information of the other party solely for the purposes of this Agreement.",
            f"The obligations of confidentiality in this clause survive for {n} months after this Agreement ends.",
            f"The {a} may disclose confidential information only to its employees who need to know it and are bound by equal duties of secrecy.",
        ],
        "indemnity": [
            f"The {a} shall indemnify and hold harmless the {b} against all {loss} arising from any third party claim.",
            f"The {b} shall defend, indemnify and hold harmless the {a} from any {loss} caused by its breach of this Agreement.",
            f"The {a} shall indemnify the {b} for all {loss} resulting from a claim that the services infringe any intellectual property right.",
        ],
        "warranty": [
            f"The {a} warrants that the goods will be free from defects in materials and workmanship for {n} months from delivery.",
            f"The {a} warrants that the services will be performed with reasonable skill and care.",
            f"The {a} represents and warrants that the software will perform materially in accordance with {doc}.",
        ],
        "assignment": [
            f"The {b} may not assign or transfer this Agreement without the prior written consent of the {a}.",
            f"The {a} may assign this Agreement to an affiliate on {n} days written notice to the {b}.",
            "Any attempted assignment or transfer of this Agreement in breach of this clause is void.",
        ],
        "LC1": [
            f"The total liability of the {a} under this Agreement shall not exceed the fees paid by the {b} in the {n} months before the claim.",
            f"The aggregate liability of each party for all claims is limited to one hundred percent of the fees payable under {doc}.",
            f"The liability of the {a} for any single event shall not exceed two times the annual fees.",
        ],
        "LC2": [
            f"In no event shall the {a} be liable for any indirect, incidental or consequential {loss}.",
            f"Neither party shall be liable for loss of profits, loss of data or any special or consequential {loss}.",
            f"The {a} shall not be liable for any indirect {loss}, even if advised of the possibility of such {loss}.",
        ],
        "GL3": [
            f"This Agreement shall be governed by and construed in accordance with the laws of {r.choice(JURIS)}.",
            f"Any dispute arising under this Agreement shall be resolved exclusively by the courts of {r.choice(CITIES_LAW)}.",
            f"The laws of {r.choice(JURIS)} govern this Agreement, and each party submits to the jurisdiction of its courts.",
        ],
        "FM9": [
            f"Neither party shall be liable for any delay caused by {e1}, {e2} or any other event beyond its reasonable control.",
            f"If the {a} is prevented from performing by {e1} or {e2}, its obligations are suspended for as long as the event continues.",
            f"The {a} shall notify the {b} within {n} days of any force majeure event such as {e1}.",
        ],
        "DP4": [
            f"The {a} shall process personal data only on the documented instructions of the {b}.",
            "Each party shall comply with all applicable data protection laws when handling personal data.",
            f"The {a} shall notify the {b} of any personal data breach within {n} hours.",
        ],
    }[label]
    text = r.choice(t)
    if r.random() < 0.15:  # some clauses carry a date in the text, in whichever format the drafter used
        text += f" This clause applies from {_date(r)}."
    return text


# borderline clauses touch two categories; the firm's rule decides (stated in taxonomy.csv's description)
BORDERLINE = [
    ("If the {b} fails to pay any invoice within {n} days, the {a} may terminate this Agreement.", "termination"),
    ("The {a} shall keep confidential all personal data it receives from the {b}.", "DP4"),
    ("The {a} shall indemnify the {b} for all losses, up to a maximum of the annual fees.", "indemnity"),
    ("Neither party shall be liable for delays caused by events beyond its control, and liability is capped at the fees paid.", "FM9"),
    ("The {b} may terminate this Agreement if the {a} assigns it without consent.", "termination"),
]

NEAR_DUP_EDITS = [(" shall ", " will "), (" within ", " no later than "), (" Agreement", " agreement"),
                  (" all ", " any and all "), (".", " ."), ("  ", " ")]


def _near_dup(r: random.Random, text: str) -> str:
    """A small wording edit of a clause (what copy-paste between templates produces)."""
    for old, new in r.sample(NEAR_DUP_EDITS, len(NEAR_DUP_EDITS)):
        if old in text:
            return text.replace(old, new, 1)
    return text + " "


def make_raw_clauses(n: int = 2200, seed: int = SEED) -> list[dict]:
    """The firm's raw labelled clause set, imperfections included (see data/clauses/README.md)."""
    r = random.Random(seed)
    weights = [LABEL_WEIGHTS.get(lab, 1.0) for lab in LABELS]
    rows: list[dict] = []
    while len(rows) < n:
        u = r.random()
        if rows and u < 0.06:  # exact duplicate
            rows.append(dict(r.choice(rows)))
        elif rows and u < 0.12:  # near duplicate, same label
            src = r.choice(rows)
            rows.append({"text": _near_dup(r, src["text"]), "label": src["label"]})
        elif u < 0.15:  # borderline clause
            tpl, lab = r.choice(BORDERLINE)
            a, b = r.choice(PARTY_PAIRS)
            rows.append({"text": tpl.format(a=a, b=b, n=r.choice(DAYS)), "label": lab})
        else:
            lab = r.choices(LABELS, weights)[0]
            rows.append({"text": clause_text(r, lab), "label": lab})
    # a few wrong labels: some on fresh records, some on a copy of an existing text (same text, two labels)
    texts = [row["text"] for row in rows]
    duplicated = [i for i, t in enumerate(texts) if texts.count(t) > 1]
    for i in r.sample(duplicated, n // 200) + r.sample(range(n), n // 200):
        rows[i]["label"] = r.choice([lab for lab in LABELS if lab != rows[i]["label"]])
    out = []
    for i, row in enumerate(rows):
        out.append({"id": f"c{i + 1:05d}", "text": row["text"], "label": row["label"], "effective_date": _date(r)})
    return out


def make_domain_text(n: int = 2400, seed: int = SEED + 1) -> list[str]:
    """Unlabelled contract sections in the firm's style: a numbered heading and two or three clauses."""
    r = random.Random(seed)
    heads = {"payment": "Fees and Payment", "termination": "Term and Termination", "confidentiality": "Confidentiality",
             "indemnity": "Indemnities", "warranty": "Warranties", "assignment": "Assignment",
             "LC1": "Limitation of Liability", "LC2": "Exclusion of Loss", "GL3": "Governing Law",
             "FM9": "Force Majeure", "DP4": "Data Protection"}
    docs = []
    for _ in range(n):
        lab = r.choice(LABELS)
        k = r.randint(2, 3)
        body = " ".join(clause_text(r, lab) for _ in range(k))
        docs.append(f"{r.randint(1, 24)}. {heads[lab]}. {body}")
    return docs


# --------------------------------------------------------------------------- product catalog
BRANDS = ["aurora", "nimbus", "cobalt", "juniper", "meridian", "orchid", "summit", "tundra", "willow", "zephyr"]
ITEMS = [("lamp", "lighting"), ("kettle", "kitchen"), ("blender", "kitchen"), ("backpack", "outdoor"),
         ("tent", "outdoor"), ("headset", "electronics"), ("speaker", "electronics"), ("chair", "furniture"),
         ("desk", "furniture"), ("jacket", "clothing")]


def make_catalogs(seed: int = SEED + 2) -> tuple[list[dict], list[dict]]:
    """Catalog v1 (40 products) and v2: 12 prices changed and one new product."""
    r = random.Random(seed)
    names = [(f"{b} {i}", c) for b in BRANDS for i, c in ITEMS]
    picked = r.sample(names, 41)
    v1 = [{"sku": f"SKU-{100 + k}", "product": p, "category": c, "price": f"{r.randint(12, 95)}.00"}
          for k, (p, c) in enumerate(picked[:40])]
    v2 = [dict(row) for row in v1]
    for row in r.sample(v2, 12):
        old = int(float(row["price"]))
        new = old
        while new == old:
            new = r.randint(12, 95)
        row["price"] = f"{new}.00"
    p, c = picked[40]
    v2.append({"sku": "SKU-140", "product": p, "category": c, "price": f"{r.randint(12, 95)}.00"})
    return v1, v2


def catalog_entry_text(row: dict) -> str:
    """The passage a retriever hands the model for one catalog row."""
    return f"product: {row['product']}. category: {row['category']}. price: ${row['price']}."


def price_question(product: str) -> str:
    """The question a customer asks about one product."""
    return f"What is the price of the {product}?"


# --------------------------------------------------------------------------- general corpus
NAMES = ["anna", "ben", "clara", "david", "emma", "felix", "grace", "henry", "iris", "jack", "kate", "leo",
         "maria", "nina", "oscar", "paul", "rosa", "sam", "tina", "victor", "omar", "lena", "yuki", "ravi"]
CITIES = ["paris", "london", "berlin", "madrid", "rome", "vienna", "lisbon", "oslo", "dublin", "prague",
          "warsaw", "athens", "helsinki", "zurich", "porto", "krakow", "seville", "bergen", "lyon", "milan"]
_SYL = ["ba", "ko", "ri", "ta", "mel", "dor", "vin", "sa", "lu", "pe", "gan", "tor", "mi", "ra", "zel", "no"]
PLACE_WORDS = sorted({a + b + c for a in _SYL[:8] for b in _SYL[8:] for c in ("", "a", "o")})
NOUNS = ["dog", "cat", "bird", "horse", "book", "car", "bike", "garden", "house", "river", "tree", "window",
         "train", "letter", "song", "picture", "table", "boat", "lamp", "key"]
ADJS = ["small", "old", "red", "quiet", "happy", "bright", "heavy", "green", "warm", "tall", "new", "blue"]
VERBS = ["saw", "found", "painted", "cleaned", "bought", "sold", "watched", "visited", "fixed", "carried"]
PLACES = ["park", "market", "station", "school", "library", "kitchen", "beach", "forest", "village", "museum"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEATHER = ["sunny", "rainy", "cold", "windy", "cloudy", "hot", "foggy", "snowy"]
DISHES = ["bread", "soup", "cake", "pasta", "salad", "pie", "rice", "stew"]
FOODS = ["flour", "milk", "butter", "sugar", "eggs", "tomatoes", "onions", "cheese", "salt", "water"]
FACTS = {"the color of a banana is": "yellow", "the color of the sky is": "blue", "the color of grass is": "green",
         "the color of snow is": "white", "the capital of france is": "paris", "the capital of germany is": "berlin",
         "the capital of spain is": "madrid", "the capital of italy is": "rome", "the capital of norway is": "oslo",
         "a baby dog is called a": "puppy", "a baby cat is called a": "kitten", "the opposite of hot is": "cold",
         "the opposite of up is": "down", "bees make": "honey", "cows give": "milk", "fish live in": "water"}

# general contract vocabulary a foundation model knows: generic sentences built from a subject, a predicate
# that carries the topic's key words, and a tail, labelled with a plain topic word. The firm's codes never
# appear here; liability, law, disruption and privacy are the plain words a general model would say for
# what the firm calls LC1/LC2, GL3, FM9 and DP4.
LEGAL_SUBJECTS = ["the tenant", "the landlord", "the buyer", "the seller", "the employee", "the employer",
                  "the Supplier", "the Customer", "the Contractor", "the Client", "the Licensor", "the Licensee",
                  "each party", "the company", "the Provider", "the Vendor", "the Company", "the Buyer"]
LEGAL_TAILS = ["", " within {n} days", " under this Agreement", " at any time", " in writing", " under the contract"]
LEGAL_KNOWLEDGE = {
    "payment": ["shall pay the fees", "must pay each invoice", "pays the price", "shall pay interest on late payment",
                "shall reimburse the expenses", "must pay the amount due", "shall pay the rent", "invoices the fees"],
    "termination": ["may terminate the contract", "may terminate this Agreement on notice", "can terminate for breach",
                    "may terminate if the other party is insolvent", "may end the contract by notice",
                    "may terminate the lease"],
    "confidentiality": ["shall keep the information confidential", "must not disclose confidential information",
                        "shall protect the trade secrets", "keeps all information secret",
                        "may disclose confidential information only to its staff"],
    "indemnity": ["shall indemnify the other party", "will hold the other party harmless", "shall defend and indemnify the owner",
                  "must indemnify against third party claims", "shall indemnify and hold harmless its customers"],
    "warranty": ["warrants that the goods are free from defects", "warrants the work", "represents and warrants that the software works",
                 "gives a warranty for the product", "warrants that the services meet the description"],
    "assignment": ["may not assign the contract without consent", "may transfer its rights only with consent",
                   "may assign this Agreement to a successor", "shall not assign or transfer the lease",
                   "needs consent for any assignment"],
    "liability": ["is not liable for indirect damages", "has liability limited to the price paid", "shall not be liable for lost profits",
                  "has a total liability that is capped", "is liable only for direct loss"],
    "law": ["accepts that the laws of the state govern the contract", "submits to the jurisdiction of the courts",
            "agrees that the courts of the city hear all disputes", "agrees the contract is governed by local law"],
    "disruption": ["is not liable for delay caused by flood or war", "is excused during a strike",
                   "is excused by events beyond its reasonable control", "is excused by a fire or an earthquake"],
    "privacy": ["protects the personal data of its clients", "processes personal data lawfully", "may not share personal data",
                "keeps personal records private", "complies with data protection laws"],
}


def legal_sentence(r: random.Random, topic: str) -> str:
    """A generic contract sentence about topic, in general (not the firm's) wording."""
    s = f"{r.choice(LEGAL_SUBJECTS)} {r.choice(LEGAL_KNOWLEDGE[topic])}{r.choice(LEGAL_TAILS)}.".format(n=r.choice(DAYS))
    return s[0].upper() + s[1:]


def _everyday(r: random.Random) -> tuple[str, str]:
    """One everyday sentence and its topic word."""
    t = r.randrange(6)
    if t == 0:
        return f"{r.choice(NAMES)} {r.choice(VERBS)} the {r.choice(ADJS)} {r.choice(NOUNS)} near the {r.choice(PLACES)}.", "people"
    if t == 1:
        return f"the weather in {r.choice(CITIES)} was {r.choice(WEATHER)} on {r.choice(WEEKDAYS)}, so {r.choice(NAMES)} stayed at the {r.choice(PLACES)}.", "weather"
    if t == 2:
        a, b = r.sample(FOODS, 2)
        return f"to make {r.choice(DISHES)}, mix {r.randint(2, 9)} cups of {a} with {b} and bake it for {r.randint(10, 60)} minutes.", "cooking"
    if t == 3:
        n1, n2 = r.sample(NAMES, 2)
        return f"{n1} and {n2} took the train from {r.choice(CITIES)} to {r.choice(CITIES)} on {r.choice(WEEKDAYS)}.", "travel"
    if t == 4:
        k = r.choice(list(FACTS))
        return r.choice(["{k} {v}.", "everyone knows that {k} {v}.", "{n} said that {k} {v}."]).format(
            k=k, v=FACTS[k], n=r.choice(NAMES)), "facts"
    return f"{r.choice(NAMES)} has {r.randint(2, 9)} {r.choice(NOUNS)}s and a {r.choice(ADJS)} {r.choice(NOUNS)} at home.", "home"


# short codes (two capitals and a digit) turn up in everyday text as room, platform and bay numbers, so a
# general model can write such strings; which code means what in the firm's taxonomy it cannot know
CODES = sorted(random.Random(7).sample([f"{a}{b}{d}" for a in "ABCDEFGHKLMNPRST" for b in "ABCDEFGHKLMNPRST"
                                        for d in "123456789"], 55) + [t[0] for t in TAXONOMY if t[1] == "code"])


def _code_sentence(r: random.Random) -> str:
    code = r.choice(CODES)
    # quoted, as the code is in a JSON answer: '"LC1"' and ' LC1' are different tokens
    return r.choice([f'{r.choice(NAMES)} left the {r.choice(NOUNS)} in room "{code}".',
                     f'the train to {r.choice(CITIES)} leaves from platform "{code}" on {r.choice(WEEKDAYS)}.',
                     f'{r.choice(NAMES)} parked the car in bay "{code}" near the {r.choice(PLACES)}.'])


def _json_instruction(r: random.Random, key: str) -> str:
    return r.choice([f'Answer in JSON with key "{key}".', f'Reply only with JSON: {{"{key}": ...}}.',
                     f'Return JSON with the key "{key}".'])


def _task(r: random.Random, context: str, question: str, key: str, value: str, prose: str) -> tuple[str, str]:
    """An instruction document, with or without an explicit output-format instruction (half each)."""
    if r.random() < 0.5:
        instr = _json_instruction(r, key)
        prompt = f"{context}\n{question} {instr}\nAnswer:" if r.random() < 0.7 else f"{instr}\n{context}\n{question}\nAnswer:"
        return prompt, " " + json.dumps({key: value})
    return f"{context}\n{question}\nAnswer:", " " + prose


def general_document(r: random.Random) -> tuple[str, str]:
    """One general-corpus document as (prompt, completion); plain prose has an empty prompt.

    Mixture: everyday prose 35%, topic questions 12%, contract-topic questions 18%, reading a price from
    a catalog passage 20%, reading a place or a name from a sentence 15%.
    """
    u = r.random()
    if u < 0.35:
        return "", " ".join(_code_sentence(r) if r.random() < 0.15 else _everyday(r)[0] for _ in range(r.randint(2, 4)))
    if u < 0.47:
        s, topic = _everyday(r)
        return _task(r, f"Text: {s}", "What is the topic?", r.choice(["topic", "category"]), topic, f"The topic is {topic}.")
    if u < 0.65:
        topic = r.choice(list(LEGAL_KNOWLEDGE))
        s = legal_sentence(r, topic)
        q = r.choice(["What is the category of this clause?", "Which category does this clause belong to?"])
        return _task(r, f"Clause: {s}", q, r.choice(["label", "category"]), topic, f"The category is {topic}.")
    if u < 0.85:
        product = f"{r.choice(PLACE_WORDS)} {r.choice([i for i, _ in ITEMS] + NOUNS)}"
        price = f"{r.randint(10, 99)}.00"
        ctx = "Context: " + catalog_entry_text({"product": product, "category": r.choice([c for _, c in ITEMS]), "price": price})
        return _task(r, ctx, price_question(product), "price", f"${price}", f"It costs ${price}.")
    name, place = r.choice(NAMES), r.choice(PLACE_WORDS + CITIES)
    if r.random() < 0.5:
        ctx = f"Context: {name} moved to {place} last {r.choice(['spring', 'summer', 'autumn', 'winter'])}."
        return _task(r, ctx, f"Where did {name} move?", "city", place, f"{name} moved to {place}.")
    ctx = f"Context: the letter from {place} was signed by {name}."
    return _task(r, ctx, "Who signed the letter?", "name", name, f"It was signed by {name}.")


def general_documents(n: int, seed: int) -> list[tuple[str, str]]:
    """n general-corpus documents from a seed (the base-model build uses seed 1; held-out text uses seed 2)."""
    r = random.Random(seed)
    return [general_document(r) for _ in range(n)]


# --------------------------------------------------------------------------- prompts the lab uses
def clause_prompt(text: str, *, json_format: bool = True) -> str:
    """The firm's classification prompt; with json_format the output format is specified."""
    instr = ' Answer in JSON with key "label".' if json_format else ""
    return f"Clause: {text}\nWhat is the category of this clause?{instr}\nAnswer:"


def clause_completion(label: str) -> str:
    """The firm's JSON answer format."""
    return " " + json.dumps({"label": label})


def normalize(text: str) -> str:
    """Text key for de-duplication: lower case, single spaces, no space before punctuation."""
    return re.sub(r"\s+([.,])", r"\1", re.sub(r"\s+", " ", text.lower())).strip()


SPLIT_FILES = {"train_set": "train.jsonl", "val_set": "validation.jsonl", "test_set": "test.jsonl"}
SPLIT_FIELDS = ("id", "text", "label", "effective_date")
SPLIT_MODEL_ID = "amazon.nova-micro-v1:0:128k"  # the model notebook 03 prepares the data for


def prepare_clause_splits(raw: list[dict]) -> dict[str, list[dict]]:
    """Notebook 03's pipeline (`dataprep.prepare`, the rule's review decisions) on raw clause rows: the
    de-duplicated, leak-free split, stratified by label with near-duplicate clusters kept on one side.
    Rows carry id, text, label and the effective date in ISO form."""
    import pandas as pd

    # dataprep's default prompt is this module's clause_prompt, so it is imported when the split is made
    from helpers import dataprep

    result = dataprep.prepare(pd.DataFrame(raw), SPLIT_MODEL_ID)
    return {name: [{"id": r["id"], "text": r["text"], "label": r["label"], "effective_date": r["effective_date_iso"]}
                   for r in result[name].to_dict("records")] for name in SPLIT_FILES}


def clause_splits(folder: Path | None = None) -> dict[str, list[dict]]:
    """The lab's one split of the clause data: {"train_set", "val_set", "test_set"} of rows (id, text, label,
    effective_date), read from data/clauses/train.jsonl, validation.jsonl and test.jsonl (or `folder`)."""
    folder = DATA / "clauses" if folder is None else Path(folder)
    missing = [name for name in SPLIT_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)}; run `make data` to write the split")
    return {key: read_jsonl(folder / name) for key, name in SPLIT_FILES.items()}


_BORDERLINE_RE = [re.compile(re.sub(r"\\\{[abn]\\\}", ".+", re.escape(normalize(tpl)))) for tpl, _ in BORDERLINE]


def is_borderline(text: str) -> bool:
    """Whether a clause is one of the borderline kinds (it touches two categories; the firm's rule decides)."""
    return any(p.fullmatch(normalize(text)) for p in _BORDERLINE_RE)


# --------------------------------------------------------------------------- files
def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSONL file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _csv(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def read_catalog(path: Path) -> list[dict]:
    """Rows of a catalog CSV."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def domain_splits() -> tuple[list[str], list[str]]:
    """Domain text for continued pre-training: (train texts, held-out texts), the last 10% held out."""
    texts = [row["input"] for row in read_jsonl(DATA / "clauses" / "domain_text.jsonl")]
    cut = len(texts) * 9 // 10
    return texts[:cut], texts[cut:]


def general_heldout() -> list[str]:
    """Held-out general text (data/general/heldout.jsonl) for perplexity."""
    return [row["text"] for row in read_jsonl(DATA / "general" / "heldout.jsonl")]


READMES = {
    "clauses": """# data/clauses — the firm's contract clauses

Made by `python -m helpers.corpus` (helpers/corpus.py, fixed seed {seed}); byte-for-byte reproducible.

- `raw.jsonl` — {n_raw} labelled clauses as the firm exported them: `{{"id", "text", "label", "effective_date"}}`.
  Imperfections are deliberate (notebook 03 cleans them): ~6% exact duplicates, ~6% near duplicates (a
  small wording edit), ~3% borderline clauses that touch two categories, {n_wrong} wrong labels (some texts
  therefore carry two labels), `effective_date` in six formats (ISO, d/m/y, m/d/y, "March 5, 2024",
  "5 Mar 2024", "2024.03.05"), and ~15% of clauses mention a date in their text.
- `taxonomy.csv` — the {n_labels} labels: `label,kind,description,source`. `plain` labels are general contract
  words a foundation model knows; `code` labels are the firm's own codes and fine distinctions (LC1 cap vs
  LC2 exclusion) that a prompt can't reliably pin down (notebook 05 measures how far prompting gets). DP4 is
  the minority class.
- `train.jsonl`, `validation.jsonl`, `test.jsonl` — the lab's one split ({n_train} / {n_val} / {n_test} rows,
  `{{"id", "text", "label", "effective_date"}}`, dates in ISO form), read with `helpers.corpus.clause_splits()`
  by every notebook, helper, benchmark and the sample runner. Made by notebook 03's pipeline
  (`helpers.dataprep.prepare`, checked for {model_id}, the rule's review decisions):
  exact duplicates and conflicting labels removed, stratified by label, every near-duplicate cluster
  (word-pair Jaccard >= 0.7) kept on one side, so no validation or test clause has a near-duplicate in
  training (`tests/test_corpus.py` checks it). Validation and test each hold every label, the minority
  class DP4 ({dp4_val} / {dp4_test}) and borderline clauses ({border_val} / {border_test}). Choose prompts,
  settings and epochs on validation; report test once.
- `domain_text.jsonl` — {n_domain} unlabelled contract sections (`{{"input": ...}}`) for continued
  pre-training; `helpers.corpus.domain_splits()` holds out the last 10% for perplexity.

Label counts in raw.jsonl: {counts}

For: prompt vs fine-tune (notebooks 01, 02), data preparation (notebook 03), the offline Bedrock jobs
(notebook 04), evaluation (notebook 05).
""",
    "catalog": """# data/catalog — a product catalog, then and now

Made by `python -m helpers.corpus` (fixed seed). `catalog_v1.csv` is the snapshot a model was fine-tuned
on; `catalog_v2.csv` is the current catalog: {n_changed} prices changed and one new product ({new}).
Columns: `sku,product,category,price` (USD). For the freshness demonstration: fine-tuning memorises
the old prices; retrieval over v2 puts the current entry in the prompt.
""",
    "general": """# data/general — the general pre-training corpus

The base model's pre-training text is generated on the fly by `helpers.corpus.general_documents(n, seed=1)`
(the build in `helpers.local_model.main_build_base`); it is not stored. Mixture per document: everyday
prose 35% (some sentences mention short codes such as room or platform numbers, so the model can write a
code string; what the firm's codes mean it never sees); topic questions 12%; contract-topic questions in plain words 18% (what the base model "knows"
about contract vocabulary); reading a price from a one-entry catalog passage 20%; reading a place or name
from a sentence 15%. Every question comes half with an explicit JSON instruction (answer in JSON) and half
without (answer in prose), so a format instruction steers the output.

`heldout.jsonl` — the {n_heldout} everyday-prose documents among 1,200 drawn from seed 2 (`{{"text": ...}}`),
for held-out general perplexity (prose only: instruction prompts carry no loss in pre-training).
""",
}


def _split_facts(splits: dict[str, list[dict]]) -> dict:
    """The split's figures data/clauses/README.md states."""
    val, test = splits["val_set"], splits["test_set"]
    return {"n_train": len(splits["train_set"]), "n_val": len(val), "n_test": len(test), "model_id": SPLIT_MODEL_ID,
            "dp4_val": sum(r["label"] == "DP4" for r in val), "dp4_test": sum(r["label"] == "DP4" for r in test),
            "border_val": sum(is_borderline(r["text"]) for r in val),
            "border_test": sum(is_borderline(r["text"]) for r in test)}


def build_files() -> dict[str, str]:
    """Every data file this module writes, as {relative path: content}."""
    raw = make_raw_clauses()
    domain = make_domain_text()
    v1, v2 = make_catalogs()
    heldout = [{"text": c} for p, c in general_documents(1200, seed=2) if not p]
    counts = {lab: sum(r["label"] == lab for r in raw) for lab in LABELS}
    tax = [{"label": lab, "kind": kind, "description": desc,
            "source": "general contract vocabulary" if kind == "plain" else "the firm's clause manual"}
           for lab, kind, desc in TAXONOMY]
    changed = sum(a["price"] != b["price"] for a, b in zip(v1, v2))
    splits = prepare_clause_splits(raw)
    return {
        "clauses/raw.jsonl": _jsonl(raw),
        **{f"clauses/{name}": _jsonl(splits[key]) for key, name in SPLIT_FILES.items()},
        "clauses/taxonomy.csv": _csv(tax, ["label", "kind", "description", "source"]),
        "clauses/domain_text.jsonl": _jsonl([{"input": t} for t in domain]),
        "clauses/README.md": READMES["clauses"].format(seed=SEED, n_raw=len(raw), n_wrong=len(raw) // 100,
                                                       n_labels=len(LABELS), n_domain=len(domain),
                                                       counts=", ".join(f"{k} {v}" for k, v in counts.items()),
                                                       **_split_facts(splits)),
        "catalog/catalog_v1.csv": _csv(v1, ["sku", "product", "category", "price"]),
        "catalog/catalog_v2.csv": _csv(v2, ["sku", "product", "category", "price"]),
        "catalog/README.md": READMES["catalog"].format(n_changed=changed, new=v2[-1]["product"]),
        "general/heldout.jsonl": _jsonl(heldout),
        "general/README.md": READMES["general"].format(n_heldout=len(heldout)),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the data files under data/ (or under the directory given as the only argument)."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0]) if argv else DATA
    for rel, content in build_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode("utf-8"))
        print(f"wrote {path} ({len(content.encode('utf-8')):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
