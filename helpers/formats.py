"""Per-family data formats and limits of Bedrock model customization: the one place the lab reads them.

The limits (record counts, tokens, file sizes, reserved words) are rows of data/formats/rules.csv, each
with its source and the date it was checked; the shapes of the four record families are code below.
The offline Bedrock emulator and `python -m helpers check-data` both call check_file / check_files.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Iterator

from helpers.paths import DATA_DIR

RULES_CSV = DATA_DIR / "formats" / "rules.csv"
CHARS_PER_TOKEN = 6  # "Use approximately 6 characters per token to estimate" (model-customization-prepare)
FAMILIES = ("prompt-completion", "bedrock-conversation-2024", "claude-messages", "continued-pretraining")
CUSTOMIZATIONS = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
LIMIT_COLUMNS = ("min_train_records", "max_train_records", "max_val_records", "max_total_records", "max_tokens",
                 "max_prompt_tokens", "max_completion_tokens", "max_train_file_bytes", "max_val_file_bytes",
                 "chars_per_token", "max_images_per_message")
# Media content blocks of conversation records (Nova: fine-tune-prepare-data-understanding.html and AWS's
# nova_ft_dataset_validator.py in aws-samples/amazon-bedrock-samples; Llama 3.2 Vision:
# preparing-image-text-data.html; all checked 2026-12-01): the formats, one video per message, never in an
# assistant turn, an s3:// URI of letters, digits, _ - / . only; a data set is text with images or text with
# videos, not both. Which media a model takes and how many images a message may carry are rows of rules.csv.
MEDIA_FORMATS = {"image": ("jpeg", "png", "gif", "webp"), "video": ("mov", "mkv", "mp4", "webm")}
_S3_PATH = re.compile(r"[\w\-/.]+")


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a file: where (file, line, field), what, and the rule it breaks."""

    file: str
    line: int
    field: str
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message} ({self.rule})"


@dataclass
class Report:
    """The result of checking one or more files against one model's rules."""

    model_id: str
    family: str
    findings: list[Finding] = field(default_factory=list)
    n_records: int = 0
    records: list[dict] = field(default_factory=list, repr=False)
    files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when Bedrock would accept the data (no findings)."""
        return not self.findings

    def summary(self) -> str:
        """Return one line: files, records, findings, verdict."""
        verdict = "accepted" if self.ok else "NOT accepted"
        bad_lines = len({(f.file, f.line) for f in self.findings if f.line > 0})
        return (f"{', '.join(self.files)}: {self.n_records} records, {len(self.findings)} findings on "
                f"{bad_lines} lines; {verdict} for {self.model_id} ({self.family})")

    def __repr__(self) -> str:
        return f"<Report {self.family} for {self.model_id}: {self.n_records} records, {len(self.findings)} findings>"


# --------------------------------------------------------------------------- the rules table

@lru_cache(maxsize=None)
def load_rules(path: str | None = None) -> tuple[dict, ...]:
    """Return the rows of the rules table, limits as int or None, reserved words as a tuple."""
    with open(path or RULES_CSV, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for col in LIMIT_COLUMNS:
            row[col] = int(row[col]) if row[col] else None
        row["reserved_words"] = tuple(w.replace("\\n", "\n") for w in row["reserved_words"].split("|") if w)
        row["media"] = tuple(m for m in row["media"].split("|") if m)
    return tuple(rows)


def normalise_customization(customization: str) -> str:
    """Map "fine-tuning" / "continued-pre-training" (any case, - or _) to the API's enum value."""
    value = customization.strip().upper().replace("-", "_")
    value = {"CONTINUED_PRETRAINING": "CONTINUED_PRE_TRAINING", "FINETUNING": "FINE_TUNING"}.get(value, value)
    if value not in CUSTOMIZATIONS:
        raise ValueError(f"unknown customization {customization!r}: expected one of {', '.join(CUSTOMIZATIONS)}")
    return value


def known_models(customization: str = "FINE_TUNING") -> list[str]:
    """Return the base model ids the table has rules for, for one customization type."""
    ctype = normalise_customization(customization)
    return [row["model_id"] for row in load_rules() if row["customization"] == ctype]


def rules_for(model_id: str, customization: str = "FINE_TUNING") -> dict:
    """Return the table row for a base model id (an ARN or an id without its ':128k' suffix also match)."""
    ctype = normalise_customization(customization)
    wanted = model_id.strip().rsplit("/", 1)[-1]
    rows = [r for r in load_rules() if r["customization"] == ctype]
    exact = [r for r in rows if r["model_id"] == wanted]
    prefix = [r for r in rows if r["model_id"].startswith(wanted + ":")]
    if exact or len(prefix) == 1:
        return (exact or prefix)[0]
    raise ValueError(f"no {ctype} rules for model {model_id!r}; known: {', '.join(r['model_id'] for r in rows)}")


def family_for(model_id: str, customization: str = "FINE_TUNING") -> str:
    """Return the data family a base model expects for a customization type."""
    return rules_for(model_id, customization)["family"]


def estimate_tokens(text: str) -> int:
    """The number of tokens in text as the lab counts them: with the local model's own tokenizer, the one
    that reads the record in an offline job (so cost estimates count what is trained on).

    Bedrock counts with each base model's own tokenizer, whose vocabulary is far larger: its docs estimate
    about 6 characters per token, where the lab's 2,560-piece tokenizer counts about 2.7 on everyday English
    (measured on support, meeting-note and news sentences) and down to one token per UTF-8 byte on text far
    from the lab's corpus (rare words, non-Latin scripts, emoji). So an estimate here errs on the high side;
    Bedrock's limits are checked with documented_tokens() instead."""
    from helpers import local_model

    return len(local_model.base_tokenizer().encode(text))


def documented_tokens(text: str, chars_per_token: int = CHARS_PER_TOKEN) -> int:
    """A token count the way AWS estimates it, a fixed number of characters per token (the docs' 6, or a
    row's own `chars_per_token`, 3 for Claude 3 Haiku as AWS's validator counts): what the limit checks use,
    so a record is refused where AWS's limits say (the lab's own tokenizer would refuse long runs of rare
    text that Bedrock's tokenizers take). Rounded up per text, so it refuses one token early at worst."""
    return math.ceil(len(text) / chars_per_token)


# --------------------------------------------------------------------------- reading JSONL

def read_lines(stream: IO[bytes]) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, parsed value, error) per non-blank line; BOM, CRLF and bad UTF-8 handled."""
    for number, raw in enumerate(stream, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield number, None, f"not valid UTF-8 at byte {e.start}"
            continue
        yield number, *parse_json(text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> tuple[Any, str | None]:
    """Parse one JSON line strictly (no NaN/Infinity); return (value, None) or (None, what is wrong)."""
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as e:
        return None, f"invalid JSON: {e.msg} at column {e.colno}"
    except ValueError as e:
        return None, f"invalid JSON: {e}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply to parse"


# --------------------------------------------------------------------------- per-record checks

def _text_problems(value: Any, where: str, rule: str) -> list[tuple[str, str, str]]:
    """Return problems of a value that must be a non-empty string."""
    if not isinstance(value, str):
        return [(where, f"must be a string, not {type(value).__name__}", rule)]
    if not value.strip():
        return [(where, "is empty", rule)]
    return []


def _key_problems(record: dict, required: tuple[str, ...], optional: tuple[str, ...], where: str,
                  rule: str) -> list[tuple[str, str, str]]:
    """Return missing and extra keys of an object."""
    allowed = required + optional
    out = [(f"{where}{k}", "missing", rule) for k in required if k not in record]
    out += [(f"{where}{k}", "unexpected key", rule) for k in record if k not in allowed]
    return out


def _role_problems(roles: list[Any], rule: str) -> list[tuple[str, str, str]]:
    """Return role-order problems: user first, then strict user/assistant alternation, assistant last."""
    out = []
    for i, role in enumerate(roles):
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            out.append((f"messages[{i}].role", f"is {role!r}, expected {expected!r}", rule))
    if roles and roles[-1] != "assistant" and len(roles) % 2 == 1:
        out.append(("messages", "the last message must be from the assistant", rule))
    return out


def _check_prompt_completion(record: dict, rules: dict) -> tuple[list, list[str], list[str]]:
    rule = 'prompt-completion: exactly {"prompt": str, "completion": str}, both non-empty'
    problems = _key_problems(record, ("prompt", "completion"), (), "", rule)
    prompt, completion = record.get("prompt"), record.get("completion")
    for key in ("prompt", "completion"):
        if key in record:
            problems += _text_problems(record[key], key, rule)
    return problems, [prompt] if isinstance(prompt, str) else [], [completion] if isinstance(completion, str) else []


def _check_conversation(record: dict, rules: dict) -> tuple[list, list[str], list[str]]:
    blocks = "{text}" + "".join(f" or {{{m}}}" for m in rules["media"])
    rule = (f"bedrock-conversation-2024: optional schemaVersion, optional system [{{text}}], "
            f"messages [{{role, content [{blocks}]}}]")
    order_rule = "bedrock-conversation-2024: user first, roles alternate, assistant last"
    problems = _key_problems(record, ("messages",), ("schemaVersion", "system"), "", rule)
    if "schemaVersion" in record and not isinstance(record["schemaVersion"], str):
        problems.append(("schemaVersion", f"must be a string, not {type(record['schemaVersion']).__name__}", rule))
    prompts: list[str] = []
    completions: list[str] = []
    system = record.get("system")
    if "system" in record:
        if not isinstance(system, list):
            problems.append(("system", f"must be a list of {{\"text\": ...}} blocks, not {type(system).__name__}", rule))
        else:
            for j, block in enumerate(system):
                problems += _block_problems(block, f"system[{j}]", rule, prompts)
    messages = record.get("messages")
    if "messages" in record:
        if not isinstance(messages, list):
            problems.append(("messages", f"must be a list, not {type(messages).__name__}", rule))
            return problems, prompts, completions
        if len(messages) < 2:
            problems.append(("messages", f"has {len(messages)} messages, needs at least a user and an assistant turn",
                             order_rule))
        roles = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                problems.append((f"messages[{i}]", f"must be an object, not {type(message).__name__}", rule))
                roles.append(None)
                continue
            problems += _key_problems(message, ("role", "content"), (), f"messages[{i}].", rule)
            roles.append(message.get("role"))
            content = message.get("content")
            sink = completions if message.get("role") == "assistant" else prompts
            if "content" in message and not isinstance(content, list):
                problems.append((f"messages[{i}].content", f"must be a list of {{\"text\": ...}} blocks, "
                                 f"not {type(content).__name__}", rule))
            elif isinstance(content, list):
                if not content:
                    problems.append((f"messages[{i}].content", "is empty", rule))
                for j, block in enumerate(content):
                    where = f"messages[{i}].content[{j}]"
                    if isinstance(block, dict) and block.keys() & MEDIA_FORMATS.keys():
                        problems += _media_problems(block, where, message.get("role"), rules)
                    else:
                        problems += _block_problems(block, where, rule, sink)
                problems += _media_count_problems(content, f"messages[{i}].content", rules)
        problems += _role_problems(roles, order_rule)
    return problems, prompts, completions


def _block_problems(block: Any, where: str, rule: str, sink: list[str]) -> list[tuple[str, str, str]]:
    """Return problems of a {"text": str} content block and collect its text."""
    if not isinstance(block, dict):
        return [(where, f"must be an object {{\"text\": ...}}, not {type(block).__name__}", rule)]
    out = _key_problems(block, ("text",), (), f"{where}.", rule + " (this checker covers text blocks only)")
    if "text" in block:
        out += _text_problems(block["text"], f"{where}.text", rule)
        if isinstance(block["text"], str):
            sink.append(block["text"])
    return out


def _media_problems(block: dict, where: str, role: Any, rules: dict) -> list[tuple[str, str, str]]:
    """Return problems of an {"image": ...} or {"video": ...} content block (Nova's shape, see MEDIA_FORMATS)."""
    model = rules["model_id"]
    kinds = sorted(block.keys() & MEDIA_FORMATS.keys())
    if not rules["media"]:
        return [(f"{where}.{kinds[0]}", f"{model} takes text only; this record carries {' and '.join(kinds)}",
                 f"image/video samples are not supported by this model (Nova Micro takes text only; Nova Lite and "
                 f"Pro take images and videos, Llama 3.2 11B and 90B images), {model}")]
    rule = ('bedrock-conversation-2024 media block: {"image"|"video": {"format", "source": {"s3Location": '
            '{"uri": "s3://..."}}}}, in user turns only')
    out = [(f"{where}.{k}", "unexpected key", rule) for k in block if k not in MEDIA_FORMATS]
    out += [(f"{where}.{k}", f"{model} takes no {k} blocks, only {' and '.join(rules['media'])}", rule)
            for k in kinds if k not in rules["media"]]
    if len(kinds) > 1:
        out.append((where, "has both an image and a video; one block carries one of them", rule))
    if role == "assistant":
        out.append((where, "an assistant turn carries text only", rule))
    for kind in (k for k in kinds if k in rules["media"]):
        media = block[kind]
        if not isinstance(media, dict):
            out.append((f"{where}.{kind}", f"must be an object, not {type(media).__name__}", rule))
            continue
        out += _key_problems(media, ("format", "source"), (), f"{where}.{kind}.", rule)
        fmt = media.get("format")
        if "format" in media and (not isinstance(fmt, str) or fmt.lower() not in MEDIA_FORMATS[kind]):
            out.append((f"{where}.{kind}.format", f"is {fmt!r}; supported: {', '.join(MEDIA_FORMATS[kind])}", rule))
        source = media.get("source")
        if "source" in media:
            location = source.get("s3Location") if isinstance(source, dict) else None
            if not isinstance(source, dict):
                out.append((f"{where}.{kind}.source", f"must be an object, not {type(source).__name__}", rule))
            elif not isinstance(location, dict):
                out += _key_problems(source, ("s3Location",), (), f"{where}.{kind}.source.", rule) or \
                    [(f"{where}.{kind}.source.s3Location", "must be an object {\"uri\": \"s3://...\"}", rule)]
            else:
                out += _key_problems(location, ("uri",), ("bucketOwner",), f"{where}.{kind}.source.s3Location.", rule)
                uri = location.get("uri")
                if "uri" in location and (not isinstance(uri, str) or not uri.startswith("s3://")
                                          or not _S3_PATH.fullmatch(uri[len("s3://"):])):
                    out.append((f"{where}.{kind}.source.s3Location.uri", f"is {uri!r}: must be s3://bucket/key of "
                                "letters, digits, _ - / . only", rule))
    return out


def _media_count_problems(content: list, where: str, rules: dict) -> list[tuple[str, str, str]]:
    """Return per-message media-count problems: at most the row's images, one video, not both."""
    if not rules["media"]:
        return []
    most = rules["max_images_per_message"]
    rule = f"{f'at most {most} images or ' if most else ''}one video per message, not both, {rules['model_id']}"
    images = sum(1 for b in content if isinstance(b, dict) and "image" in b)
    videos = sum(1 for b in content if isinstance(b, dict) and "video" in b)
    out = []
    if most and images > most:
        out.append((where, f"has {images} images", rule))
    if videos > 1:
        out.append((where, f"has {videos} videos", rule))
    if images and videos:
        out.append((where, "has images and a video", rule))
    return out


def media_of(record: Any) -> set[str]:
    """Return the media kinds ("image", "video") a conversation record's messages carry."""
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        return set()
    return {kind for m in record["messages"] if isinstance(m, dict) and isinstance(m.get("content"), list)
            for b in m["content"] if isinstance(b, dict) for kind in b.keys() & MEDIA_FORMATS.keys()}


def _check_claude(record: dict, rules: dict) -> tuple[list, list[str], list[str]]:
    rule = 'claude-messages: {"system"?: str, "messages": [{"role", "content": str}]}, no extraneous keys'
    order_rule = "claude-messages: at least 2 messages, user first, roles alternate, assistant last"
    problems = _key_problems(record, ("messages",), ("system",), "", rule)
    prompts: list[str] = []
    completions: list[str] = []
    if "system" in record:
        problems += _text_problems(record["system"], "system", rule)
        if isinstance(record["system"], str):
            prompts.append(record["system"])
    messages = record.get("messages")
    if "messages" in record:
        if not isinstance(messages, list):
            problems.append(("messages", f"must be a list, not {type(messages).__name__}", rule))
            return problems, prompts, completions
        if len(messages) < 2:
            problems.append(("messages", f"has {len(messages)} messages, needs at least 2", order_rule))
        roles = []
        for i, message in enumerate(messages):
            if not isinstance(message, dict):
                problems.append((f"messages[{i}]", f"must be an object, not {type(message).__name__}", rule))
                roles.append(None)
                continue
            problems += _key_problems(message, ("role", "content"), (), f"messages[{i}].", rule)
            roles.append(message.get("role"))
            if "content" in message:
                problems += _text_problems(message["content"], f"messages[{i}].content", rule)
                if isinstance(message["content"], str):
                    (completions if message.get("role") == "assistant" else prompts).append(message["content"])
        problems += _role_problems(roles, order_rule)
    return problems, prompts, completions


def _check_pretraining(record: dict, rules: dict) -> tuple[list, list[str], list[str]]:
    rule = 'continued pre-training: exactly {"input": str}, non-empty'
    problems = _key_problems(record, ("input",), (), "", rule)
    if "input" in record:
        problems += _text_problems(record["input"], "input", rule)
    value = record.get("input")
    return problems, [value] if isinstance(value, str) else [], []


CHECKERS = {"prompt-completion": _check_prompt_completion, "bedrock-conversation-2024": _check_conversation,
            "claude-messages": _check_claude, "continued-pretraining": _check_pretraining}


def check_record(record: Any, rules: dict) -> list[tuple[str, str, str]]:
    """Return (field, message, rule) for everything wrong with one parsed record under one table row."""
    family = rules["family"]
    if not isinstance(record, dict):
        return [("(record)", f"must be a JSON object, not {type(record).__name__}",
                 f"{family}: one JSON object per line")]
    problems, prompts, completions = CHECKERS[family](record, rules)
    problems += _limit_problems(prompts, completions, rules)
    return problems


def _limit_problems(prompts: list[str], completions: list[str], rules: dict) -> list[tuple[str, str, str]]:
    """Return token-limit and reserved-word problems of a record's texts."""
    out = []
    model = rules["model_id"]
    cpt = rules["chars_per_token"] or CHARS_PER_TOKEN
    p_tokens = sum(documented_tokens(t, cpt) for t in prompts)
    c_tokens = sum(documented_tokens(t, cpt) for t in completions)
    per_token = f"~{cpt} chars/token"
    if rules["max_prompt_tokens"] and p_tokens > rules["max_prompt_tokens"]:
        out.append(("(input)", f"about {p_tokens} input tokens", f"max {rules['max_prompt_tokens']} input tokens "
                    f"at {per_token}, {model}"))
    if rules["max_completion_tokens"] and c_tokens > rules["max_completion_tokens"]:
        out.append(("(output)", f"about {c_tokens} output tokens", f"max {rules['max_completion_tokens']} output "
                    f"tokens at {per_token}, {model}"))
    if rules["max_tokens"] and p_tokens + c_tokens > rules["max_tokens"]:
        out.append(("(record)", f"about {p_tokens + c_tokens} tokens", f"max {rules['max_tokens']} tokens per record "
                    f"at {per_token}, {model}"))
    if rules["reserved_words"]:
        found = sorted({w for t in prompts + completions for w in rules["reserved_words"] if w in t})
        if found:
            shown = ", ".join(repr(w) if "\n" in w else w for w in found)
            out.append(("(text)", f"contains reserved word{'s' if len(found) > 1 else ''} {shown}",
                        f"reserved keywords make the job fail, {model}"))
    return out


# --------------------------------------------------------------------------- files

def _open(path_or_bytes: str | os.PathLike | bytes) -> tuple[IO[bytes], int, str]:
    """Return (binary stream, size in bytes, display name) for a path or raw bytes."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return io.BytesIO(path_or_bytes), len(path_or_bytes), "<bytes>"
    path = Path(path_or_bytes)
    return open(path, "rb"), path.stat().st_size, str(path_or_bytes)


def _count_problems(name: str, n: int, low: int | None, high: int | None, what: str, model: str) -> list[Finding]:
    """Return a file-level finding when a record count is outside [low, high]."""
    if low is not None and n < low:
        return [Finding(name, 0, "(file)", f"{n} {what} records, fewer than {low}", f"min {low} {what} records, {model}")]
    if high is not None and n > high:
        return [Finding(name, 0, "(file)", f"{n} {what} records, more than {high}",
                        f"max {high} {what} records, {model}")]
    return []


def check_file(path_or_bytes: str | os.PathLike | bytes, model_id: str, customization: str = "FINE_TUNING", *,
               role: str = "training", name: str | None = None, keep_records: bool = True) -> Report:
    """Check one JSONL file (a path or its bytes) against a base model's rules; never raises on bad data.

    With keep_records the parsed records are in report.records (set it False for large files).
    """
    if role not in ("training", "validation"):
        raise ValueError(f"role must be 'training' or 'validation', not {role!r}")
    rules = rules_for(model_id, customization)
    stream, size, default_name = _open(path_or_bytes)
    name = name or default_name
    report = Report(model_id=rules["model_id"], family=rules["family"], files=[name])
    first_media: dict[str, int] = {}  # media kind -> first line that carries it
    with stream:
        for line, value, error in read_lines(stream):
            report.n_records += 1
            if error:
                report.findings.append(Finding(name, line, "(line)", error, "one JSON object per line, UTF-8"))
                continue
            if keep_records and isinstance(value, dict):
                report.records.append(value)
            report.findings += [Finding(name, line, f, m, r) for f, m, r in check_record(value, rules)]
            for kind in media_of(value) if rules["media"] else ():
                first_media.setdefault(kind, line)
    if len(first_media) > 1:
        mixed = (f"the file mixes images (first on line {first_media['image']}) and videos (first on line "
                 f"{first_media['video']})")
        report.findings.append(Finding(name, max(first_media.values()), "(file)", mixed, "a data set is text with "
                                       f"images or text with videos, not both, {rules['model_id']}"))
    max_bytes = rules["max_train_file_bytes" if role == "training" else "max_val_file_bytes"]
    if max_bytes and size > max_bytes:
        report.findings.append(Finding(name, 0, "(file)", f"{size} bytes", f"max {max_bytes} bytes for a {role} file, "
                                                                             f"{rules['model_id']}"))
    if report.n_records == 0:
        report.findings.append(Finding(name, 0, "(file)", "no records", "a data file needs at least one record"))
    elif role == "training":
        report.findings += _count_problems(name, report.n_records, rules["min_train_records"],
                                           rules["max_train_records"], "training", rules["model_id"])
    else:
        report.findings += _count_problems(name, report.n_records, None, rules["max_val_records"], "validation",
                                           rules["model_id"])
    return report


def check_files(train: str | os.PathLike | bytes, model_id: str, customization: str = "FINE_TUNING",
                validation: str | os.PathLike | bytes | None = None) -> Report:
    """Check a training file and an optional validation file, including the bound on their total records."""
    report = check_file(train, model_id, customization, role="training")
    if validation is None:
        return report
    val = check_file(validation, model_id, customization, role="validation")
    rules = rules_for(model_id, customization)
    total = report.n_records + val.n_records
    merged = Report(model_id=report.model_id, family=report.family, findings=report.findings + val.findings,
                    n_records=total, records=report.records + val.records, files=report.files + val.files)
    merged.findings += _count_problems(" + ".join(merged.files), total, None, rules["max_total_records"],
                                       "training + validation", rules["model_id"])
    return merged


# --------------------------------------------------------------------------- converting records

def to_pair(record: dict, family: str) -> tuple[str, str]:
    """Return (prompt, completion) of a fine-tuning record: the earlier turns, then the last reply."""
    if family == "prompt-completion":
        return record["prompt"], record["completion"]
    if family == "bedrock-conversation-2024":
        system = [b["text"] for b in record.get("system", [])]
        # image and video blocks carry no text: the lab's local model reads the text around them only
        turns = ["".join(b.get("text", "") for b in m["content"]) for m in record["messages"]]
    elif family == "claude-messages":
        system = [record["system"]] if record.get("system") else []
        turns = [m["content"] for m in record["messages"]]
    else:
        raise ValueError(f"to_pair: family {family!r} has no (prompt, completion); "
                         "use to_text for continued pre-training")
    prompt = "\n".join(turns[:-1])
    return ("\n\n".join(system + [prompt]) if system else prompt), turns[-1]


def to_text(record: dict) -> str:
    """Return the text of a continued pre-training record {"input": ...}."""
    if not isinstance(record, dict) or not isinstance(record.get("input"), str):
        raise ValueError(f'to_text: expected a continued pre-training record {{"input": str}}, got {str(record)[:80]}')
    return record["input"]


def make_record(prompt: str, completion: str, family: str, system: str | None = None) -> dict:
    """Return one record in a family's format (for continued pre-training, prompt and completion become one text)."""
    if family == "prompt-completion":
        return {"prompt": f"{system}\n\n{prompt}" if system else prompt, "completion": completion}
    if family == "bedrock-conversation-2024":
        record: dict = {"schemaVersion": "bedrock-conversation-2024"}
        if system:
            record["system"] = [{"text": system}]
        record["messages"] = [{"role": "user", "content": [{"text": prompt}]},
                              {"role": "assistant", "content": [{"text": completion}]}]
        return record
    if family == "claude-messages":
        record = {"system": system} if system else {}
        record["messages"] = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
        return record
    if family == "continued-pretraining":
        return {"input": "\n".join(t for t in (system, prompt, completion) if t)}
    raise ValueError(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")


# --------------------------------------------------------------------------- the command line

def main_check_data(argv: list[str]) -> int:
    """`python -m helpers check-data FILE --model ID [...]`: print findings; exit 0 accepted, 1 not, 2 usage/I-O error."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers check-data",
        description="Check a JSONL data file against a Bedrock base model's data rules (offline).",
        epilog="fine-tuning models: " + ", ".join(known_models("FINE_TUNING")) +
               "; continued pre-training models: " + ", ".join(known_models("CONTINUED_PRE_TRAINING")) +
               ". Exit code: 0 accepted, 1 not accepted, 2 usage or I/O error.")
    parser.add_argument("file", help="training data, JSONL")
    parser.add_argument("--model", required=True, help="base model id, e.g. amazon.nova-micro-v1:0:128k")
    parser.add_argument("--customization", default="fine-tuning", help="fine-tuning (default) | continued-pre-training")
    parser.add_argument("--validation", help="validation data, JSONL")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        rules_for(args.model, args.customization)
        report = check_files(args.file, args.model, args.customization, args.validation)
    except ValueError as e:
        print(f"check-data: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"check-data: cannot read {e.filename or args.file}: {e.strerror or e}", file=sys.stderr)
        return 2
    for finding in report.findings:
        print(finding)
    print(report.summary())
    return 0 if report.ok else 1
