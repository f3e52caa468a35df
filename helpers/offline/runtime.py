"""Offline Bedrock Runtime: converse and invoke_model (and their streaming forms) answered by the local model.

Every model id resolves to a local checkpoint: a foundation model to the shipped base model, a
provisioned throughput or custom model deployment to the weights its customization job trained. The
prompt is built from the request exactly as a training record becomes a prompt (helpers.formats), so a
custom model sees at inference what it saw in training. invoke_model speaks each family's own body.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from helpers import formats

from helpers import catalog

from .wire import LAB_VOICE, AwsError

MAX_NEW_TOKENS = 128  # offline cap on generated tokens: the local model's answers are short
# AWS wording; the validator's findings follow each other with no separator: "Malformed input request: #: required
# key [prompt] not found#: extraneous key [system] is not permitted, please reformat your input and try again."
# (lobehub/lobehub issue 5203, 2024-12-27; rollwagen/bods issue 51 for Nova; checked 2026-12-01)
MALFORMED = "Malformed input request: {}, please reformat your input and try again."
NOT_READY = "The model {} is not ready to serve inference requests (status {}). Wait until it is {}."
_LOAD_LOCK = threading.Lock()
_LLAMA_TURN = re.compile(r"<\|start_header_id\|>(\w+)<\|end_header_id\|>\s*(.*?)(?:<\|eot_id\|>|$)", re.S)


@dataclass
class Target:
    """What a modelId resolves to: the local weights, the data family of its prompts, the body it speaks."""

    model: Any
    family: str
    body_format: str
    label: str


@functools.lru_cache(maxsize=1)
def base_model():
    """Return the shipped base checkpoint (loaded once per process)."""
    from helpers import local_model
    return local_model.load_base()


def load_weights(emulator, model_arn: str):
    """Return a custom model's trained weights, loaded once per process."""
    with emulator.store.transaction() as doc:
        model = doc["models"].get(model_arn)
    if model is None:
        raise AwsError("ResourceNotFoundException", f"Custom model {model_arn} not found.")
    return _load(str(emulator.store.model_dir(model["id"])), model["creationTime"])


@functools.lru_cache(maxsize=8)
def _load(path: str, _created: float):
    from helpers import local_model
    with _LOAD_LOCK:
        return local_model.load(path)


def resolve(emulator, region: str, model_id: str) -> Target:
    """Return the Target of a modelId, or raise the error Bedrock Runtime gives for it."""
    with emulator.store.transaction() as doc:
        emulator.refresh(doc)
        if ":provisioned-model/" in model_id:
            pt = doc["throughputs"].get(model_id)
            if pt is None:
                raise AwsError("ResourceNotFoundException", f"The provisioned model {model_id} was not found.")
            if pt["status"] != "InService":
                raise AwsError("ModelNotReadyException", NOT_READY.format(model_id, pt["status"], "InService"))
            custom = doc["models"][pt["modelArn"]]
        elif ":custom-model-deployment/" in model_id:
            dep = doc["deployments"].get(model_id)
            if dep is None:
                raise AwsError("ResourceNotFoundException", f"The custom model deployment {model_id} was not found.")
            if dep["status"] != "Active":
                raise AwsError("ModelNotReadyException", NOT_READY.format(model_id, dep["status"], "Active"))
            custom = doc["models"][dep["modelArn"]]
        elif ":custom-model/" in model_id:
            raise AwsError("ValidationException", "The provided model identifier is invalid. To invoke a custom "
                                                  "model, use the ARN of its Provisioned Throughput or of its "
                                                  "custom model deployment.")
        else:
            custom = None
    if custom is not None:
        fm = catalog.foundation_models()[custom["base_model_id"]]
        check_not_eol(fm, region)  # a custom model serves until the end of life of its base model version
        return Target(load_weights(emulator, custom["modelArn"]), custom["family"], fm.body_format, custom["modelName"])
    return _foundation_target(region, model_id)


def _foundation_target(region: str, model_id: str) -> Target:
    bare = catalog.model_id_of(model_id)
    fm = catalog.foundation_models().get(bare)
    if fm is None or region not in fm.regions or "PROVISIONED" in fm.inference_types:
        raise AwsError("ValidationException", "The provided model identifier is invalid.")  # AWS wording
    check_not_eol(fm, region)
    profile = model_id.rsplit("/", 1)[-1].startswith(catalog.PROFILE_PREFIXES)
    if profile and "INFERENCE_PROFILE" not in fm.inference_types:
        raise AwsError("ValidationException", "The provided model identifier is invalid.")
    if not profile and "ON_DEMAND" not in fm.inference_types:
        raise AwsError("ValidationException", f"Invocation of model ID {bare} with on-demand throughput isn't "
                                              "supported. Retry your request with the ID or ARN of an inference "
                                              "profile that contains this model.")  # AWS wording
    variant = catalog.customizable_variant(bare)
    family = formats.family_for(variant.model_id) if variant else "prompt-completion"
    return Target(base_model(), family, fm.body_format, bare)


def check_not_eol(model: catalog.FoundationModel, region: str) -> None:
    """Raise Bedrock's answer to a request for a model version past its end of life in this Region."""
    if catalog.lifecycle(model, region) == "EOL":
        raise AwsError("ResourceNotFoundException", catalog.EOL_MESSAGE)


def prompt_for(family: str, turns: list[str], system: str | None) -> str:
    """Return the prompt the local model sees: the same text a training record of this family becomes."""
    text = "\n".join(turns)
    if family == "continued-pretraining":
        return "\n".join(t for t in (system, text) if t)
    return formats.to_pair(formats.make_record(text, "-", family, system=system), family)[0]


def complete(target: Target, turns: list[str], system: str | None, max_tokens: int | None,
             temperature: float | None, top_p: float | None, stop: list[str] | None) -> dict:
    """Run the local model; return text, stop reason (end_turn | max_tokens | stop_sequence) and token counts."""
    from helpers import local_model
    started = time.perf_counter()
    prompt = prompt_for(target.family, turns, system)
    budget = min(max_tokens or MAX_NEW_TOKENS, MAX_NEW_TOKENS)
    ids = local_model.generate_ids(target.model, [prompt], max_new_tokens=budget,
                                   temperature=0.0 if temperature is None else temperature,
                                   top_p=1.0 if top_p is None else top_p, seed=0)[0]
    text, tokens_out = target.model.tokenizer.decode(ids), len(ids)
    reason, sequence = "max_tokens" if tokens_out >= budget else "end_turn", None
    for s in stop or []:
        if s and s in text:
            text, reason, sequence = text[:text.index(s)], "stop_sequence", s
            tokens_out = local_model.count_tokens(target.model, text)
    # a prompt longer than the context is read from its end: inputTokens says how many tokens were read
    return {"text": text, "stop": reason, "sequence": sequence,
            "in": local_model.prompt_tokens_read(target.model, prompt, budget),
            "out": tokens_out, "ms": max(1, round((time.perf_counter() - started) * 1000))}


# --------------------------------------------------------------------------------------------- Converse
def _conversation(messages: list[dict]) -> list[str]:
    if not messages or messages[0]["role"] != "user":
        raise AwsError("ValidationException", "A conversation must start with a user message. Try again with a "
                                              "conversation that starts with a user message.")  # AWS wording
    for before, after in zip(messages, messages[1:]):
        if before["role"] == after["role"]:
            raise AwsError("ValidationException", "A conversation must alternate between user and assistant roles. "
                                                  "Make sure the conversation alternates between user and assistant "
                                                  "roles and try again.")  # AWS wording
    turns = []
    for m in messages:
        for block in m["content"]:
            if "text" not in block:
                raise AwsError("ValidationException", f"{LAB_VOICE}the offline lab's models read text only; "
                                                      f"content block {sorted(block)[0]} is not emulated.")
        turns.append("".join(b["text"] for b in m["content"]))
    return turns


def converse(emulator, region: str, model_id: str, messages: list, system: list | None, config: dict,
             rest: dict) -> dict:
    """Answer Converse: the reply of the resolved model to the conversation."""
    unsupported = sorted(k for k in ("toolConfig", "guardrailConfig", "promptVariables") if rest.get(k))
    if unsupported:
        raise AwsError("ValidationException", f"{LAB_VOICE}the offline lab's models do not support "
                                              f"{', '.join(unsupported)}; run it in live mode (LAB_AWS_MODE=live).")
    turns = _conversation(messages)
    target = resolve(emulator, region, model_id)
    sys_text = "\n".join(b["text"] for b in system or [] if "text" in b) or None
    out = complete(target, turns, sys_text, config.get("maxTokens"), config.get("temperature"), config.get("topP"),
                   config.get("stopSequences"))
    return {"output": {"message": {"role": "assistant", "content": [{"text": out["text"]}]}},
            "stopReason": out["stop"],
            "usage": {"inputTokens": out["in"], "outputTokens": out["out"], "totalTokens": out["in"] + out["out"]},
            "metrics": {"latencyMs": out["ms"]}}


def _pieces(text: str) -> list[str]:
    return re.findall(r"\S+\s*|\s+", text) or [""]


def converse_events(reply: dict) -> list[dict]:
    """Return a Converse reply as the ConverseStream event sequence."""
    text = reply["output"]["message"]["content"][0]["text"]
    return ([{"messageStart": {"role": "assistant"}}]
            + [{"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}} for p in _pieces(text)]
            + [{"contentBlockStop": {"contentBlockIndex": 0}}, {"messageStop": {"stopReason": reply["stopReason"]}},
               {"metadata": {"usage": reply["usage"], "metrics": reply["metrics"]}}])


# --------------------------------------------------------------------------------------------- InvokeModel
def _body(raw: bytes) -> dict:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise AwsError("ValidationException", MALFORMED.format("#: expected a JSON object")) from None
    if not isinstance(body, dict):
        raise AwsError("ValidationException", MALFORMED.format("#: expected type: JSONObject"))
    return body


# Each family's request body as JSON Schema-like rules: (type names, object members or list item, required
# members, extra members allowed). Bedrock checks bodies with a JSON Schema validator and quotes it:
# "Malformed input request: #/messages/0: required key [content] not found, please reformat your input and
# try again." (AWS wording, seen in public issue reports 2024-2026; the schemas themselves are the lab's reading
# of each provider's documented request fields.)
def _object(members: dict, required: tuple = (), extra: bool = False) -> tuple:
    return ("JSONObject",), members, required, extra


def _array(item: tuple | None = None) -> tuple:
    return ("JSONArray",), item, (), True


STRING, INTEGER, NUMBER, ANY = (("String",), None, (), True), (("Integer",), None, (), True), \
    (("Number", "Integer"), None, (), True), ((), None, (), True)
_ANTHROPIC_CONTENT = (("String", "JSONArray"), _object({"type": STRING, "text": STRING}, ("type",), extra=True),
                      (), True)
_NOVA_CONFIG = _object({"maxTokens": INTEGER, "max_new_tokens": INTEGER, "temperature": NUMBER, "topP": NUMBER,
                        "top_p": NUMBER, "topK": INTEGER, "top_k": INTEGER, "stopSequences": _array(STRING)})
# A Nova content block holds one of the Converse block kinds, so an Anthropic block's "type" is extraneous.
_NOVA_BLOCK = _object({"text": STRING, "image": ANY, "video": ANY, "document": ANY, "toolUse": ANY, "toolResult": ANY,
                       "reasoningContent": ANY, "cachePoint": ANY})
BODY_SCHEMAS = {
    "anthropic": _object({
        "anthropic_version": STRING, "anthropic_beta": _array(STRING), "max_tokens": INTEGER,
        "messages": _array(_object({"role": STRING, "content": _ANTHROPIC_CONTENT}, ("role", "content"))),
        "system": (("String", "JSONArray"), _object({"type": STRING, "text": STRING}, ("type",), True), (), True),
        "stop_sequences": _array(STRING), "temperature": NUMBER, "top_p": NUMBER, "top_k": INTEGER,
        "tools": _array(ANY), "tool_choice": ANY, "metadata": ANY, "thinking": ANY},
        ("anthropic_version", "max_tokens", "messages")),
    "nova": _object({
        "schemaVersion": STRING, "system": _array(_object({"text": STRING}, ("text",))),
        "messages": _array(_object({"role": STRING, "content": _array(_NOVA_BLOCK)}, ("role", "content"))),
        "inferenceConfig": _NOVA_CONFIG, "toolConfig": ANY}, ("messages",)),
    "llama": _object({"prompt": STRING, "max_gen_len": INTEGER, "temperature": NUMBER, "top_p": NUMBER,
                      "images": _array(STRING)}, ("prompt",)),
    "titan": _object({"inputText": STRING, "textGenerationConfig": _object({
        "maxTokenCount": INTEGER, "temperature": NUMBER, "topP": NUMBER, "stopSequences": _array(STRING)})},
        ("inputText",)),
}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    return {float: "Number", str: "String", list: "JSONArray", dict: "JSONObject"}.get(type(value), "Null")


def _violations(schema: tuple, value: Any, where: str = "#") -> list[str]:
    """The schema violations of a value, in the validator's words ('#/messages/0: required key [content] ...')."""
    types, inner, required, extra = schema
    found = _json_type(value)
    if types and found not in types:
        return [f"{where}: expected type: {types[0]}, found: {found}"]
    out: list[str] = []
    if found == "JSONObject" and isinstance(inner, dict):
        out += [f"{where}: required key [{k}] not found" for k in required if k not in value]
        out += [f"{where}: extraneous key [{k}] is not permitted" for k in value if k not in inner and not extra]
        for key, member in inner.items():
            if key in value:
                out += _violations(member, value[key], f"{where}/{key}")
    elif found == "JSONArray" and inner is not None:
        for i, item in enumerate(value):
            out += _violations(inner, item, f"{where}/{i}")
    return out


def check_body(body_format: str, body: dict) -> None:
    """Raise Bedrock's ValidationException 'Malformed input request: ...' if a body breaks its family's schema."""
    problems = _violations(BODY_SCHEMAS[body_format], body)
    if problems:
        raise AwsError("ValidationException", MALFORMED.format("".join(problems)))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content if isinstance(b, dict))


def _request(body_format: str, body: dict) -> tuple[list[str], str | None, dict]:
    """Return (turns, system, generation settings) from a family's own request body (checked against its schema)."""
    check_body(body_format, body)
    if body_format == "anthropic":
        system = body.get("system")
        return ([_text_of(m["content"]) for m in body["messages"]], _text_of(system) if system else None,
                dict(max_tokens=body["max_tokens"], temperature=body.get("temperature"), top_p=body.get("top_p"),
                     stop=body.get("stop_sequences")))
    if body_format == "nova":
        cfg = body.get("inferenceConfig", {})
        system = "\n".join(b.get("text", "") for b in body.get("system", [])) or None
        return ([_text_of(m["content"]) for m in body["messages"]], system,
                dict(max_tokens=cfg.get("maxTokens", cfg.get("max_new_tokens")), temperature=cfg.get("temperature"),
                     top_p=cfg.get("topP", cfg.get("top_p")), stop=cfg.get("stopSequences")))
    if body_format == "llama":
        turns = _LLAMA_TURN.findall(body["prompt"])
        system = next((t for role, t in turns if role == "system"), None)
        texts = [t.strip() for role, t in turns if role != "system" and t.strip()] or [body["prompt"]]
        return (texts, system, dict(max_tokens=body.get("max_gen_len"), temperature=body.get("temperature"),
                                    top_p=body.get("top_p"), stop=None))
    cfg = body.get("textGenerationConfig", {})
    return ([body["inputText"]], None, dict(max_tokens=cfg.get("maxTokenCount"), temperature=cfg.get("temperature"),
                                            top_p=cfg.get("topP"), stop=cfg.get("stopSequences")))


def _generate(emulator, region: str, model_id: str, raw: bytes) -> tuple[Target, dict]:
    body = _body(raw)
    target = resolve(emulator, region, model_id)
    turns, system, settings = _request(target.body_format, body)
    return target, complete(target, turns, system, **settings)


def invoke(emulator, region: str, model_id: str, raw: bytes) -> dict:
    """Answer InvokeModel with the response body of the model's family."""
    target, out = _generate(emulator, region, model_id, raw)
    kind = target.body_format
    if kind == "anthropic":
        return {"id": "msg_bdrk_" + hashlib.sha1(out["text"].encode()).hexdigest()[:24], "type": "message",
                "role": "assistant", "model": target.label, "content": [{"type": "text", "text": out["text"]}],
                "stop_reason": out["stop"], "stop_sequence": out["sequence"],
                "usage": {"input_tokens": out["in"], "output_tokens": out["out"]}}
    if kind == "nova":
        return {"output": {"message": {"role": "assistant", "content": [{"text": out["text"]}]}},
                "stopReason": out["stop"],
                "usage": {"inputTokens": out["in"], "outputTokens": out["out"], "totalTokens": out["in"] + out["out"]}}
    if kind == "llama":
        return {"generation": out["text"], "prompt_token_count": out["in"], "generation_token_count": out["out"],
                "stop_reason": "length" if out["stop"] == "max_tokens" else "stop"}
    return {"inputTextTokenCount": out["in"], "results": [{
        "tokenCount": out["out"], "outputText": out["text"],
        "completionReason": {"max_tokens": "LENGTH", "stop_sequence": "STOP_CRITERIA_MET"}.get(out["stop"], "FINISH")}]}


def invoke_chunks(emulator, region: str, model_id: str, raw: bytes) -> list[dict]:
    """Answer InvokeModelWithResponseStream: the family's own stream chunks, in order."""
    target, out = _generate(emulator, region, model_id, raw)
    pieces, kind = _pieces(out["text"]), target.body_format
    if kind == "anthropic":
        return ([{"type": "message_start", "message": {"id": "msg_bdrk_offline", "type": "message", "role": "assistant",
                                                        "model": target.label, "content": [], "stop_reason": None,
                                                        "usage": {"input_tokens": out["in"], "output_tokens": 0}}},
                 {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
                + [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
                   for p in pieces]
                + [{"type": "content_block_stop", "index": 0},
                   {"type": "message_delta", "delta": {"stop_reason": out["stop"], "stop_sequence": out["sequence"]},
                    "usage": {"output_tokens": out["out"]}},
                   {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                       "inputTokenCount": out["in"], "outputTokenCount": out["out"], "invocationLatency": out["ms"],
                       "firstByteLatency": out["ms"]}}])
    if kind == "nova":
        reply = {"output": {"message": {"content": [{"text": out["text"]}]}}, "stopReason": out["stop"],
                 "usage": {"inputTokens": out["in"], "outputTokens": out["out"],
                           "totalTokens": out["in"] + out["out"]}, "metrics": {"latencyMs": out["ms"]}}
        return converse_events(reply)
    last = len(pieces) - 1
    if kind == "llama":
        return [{"generation": p, "prompt_token_count": out["in"] if i == 0 else None,
                 "generation_token_count": out["out"] if i == last else None,
                 "stop_reason": ("length" if out["stop"] == "max_tokens" else "stop") if i == last else None}
                for i, p in enumerate(pieces)]
    return [{"outputText": p, "index": 0, "inputTextTokenCount": out["in"] if i == 0 else None,
             "totalOutputTextTokenCount": out["out"] if i == last else None,
             "completionReason": "FINISH" if i == last else None} for i, p in enumerate(pieces)]
