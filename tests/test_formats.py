"""helpers.formats: the per-family rules agree with the documented ones, on valid and invalid files per family."""
import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import formats
from helpers.formats import Finding, check_file, check_files, family_for, make_record, to_pair, to_text

FIXTURES = Path(__file__).parent / "fixtures" / "formats"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
CONTRACT_MODELS = {
    "amazon.nova-micro-v1:0:128k": "bedrock-conversation-2024",
    "amazon.nova-lite-v1:0:300k": "bedrock-conversation-2024",
    "amazon.nova-pro-v1:0:300k": "bedrock-conversation-2024",
    "anthropic.claude-3-haiku-20240307-v1:0:200k": "claude-messages",
    "meta.llama3-1-8b-instruct-v1:0:128k": "prompt-completion",
    "meta.llama3-1-70b-instruct-v1:0:128k": "prompt-completion",
    "meta.llama3-2-1b-instruct-v1:0:128k": "bedrock-conversation-2024",
    "meta.llama3-2-3b-instruct-v1:0:128k": "bedrock-conversation-2024",
    "amazon.titan-text-express-v1:0:8k": "prompt-completion",
    "amazon.titan-text-lite-v1:0:4k": "prompt-completion",
}
NOVA = "amazon.nova-micro-v1:0:128k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA31 = "meta.llama3-1-8b-instruct-v1:0:128k"
TITAN = "amazon.titan-text-express-v1:0:8k"


# ---------------------------------------------------------------- the rules table

def test_every_rule_row_has_a_source_and_a_checked_on_date():
    with open(formats.RULES_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows
    for row in rows:
        assert re.search(r"https://\S+", row["source"]), row["model_id"]
        assert dt.date.fromisoformat(row["checked_on"]) <= dt.date(2030, 1, 1)
        assert row["family"] in formats.FAMILIES


@pytest.mark.parametrize("model_id,family", sorted(CONTRACT_MODELS.items()))
def test_family_for_every_contract_model(model_id, family):
    assert family_for(model_id) == family


def test_documented_limits_are_in_the_table():
    assert formats.rules_for(HAIKU)["min_train_records"] == 32
    assert formats.rules_for(HAIKU)["max_val_records"] == 1000
    assert formats.rules_for(HAIKU)["max_tokens"] == 32000
    assert formats.rules_for(NOVA)["min_train_records"] == 8 and formats.rules_for(NOVA)["max_train_records"] == 20000
    assert formats.rules_for(LLAMA31)["max_tokens"] == 16000 and formats.rules_for(LLAMA31)["min_train_records"] == 100
    assert {"User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]"} <= set(
        formats.rules_for(NOVA)["reserved_words"])
    assert formats.rules_for(TITAN, "continued-pre-training")["max_train_file_bytes"] == 10_000_000_000


def test_model_ids_match_as_arn_and_without_the_context_suffix():
    arn = f"arn:aws:bedrock:us-east-1::foundation-model/{NOVA}"
    assert family_for(arn) == family_for("amazon.nova-micro-v1:0") == "bedrock-conversation-2024"
    assert family_for(TITAN, "continued-pre-training") == "continued-pretraining"


def test_unknown_model_or_customization_is_a_clear_error():
    with pytest.raises(ValueError, match="no FINE_TUNING rules for model 'acme.model'.*known: amazon.nova-micro"):
        family_for("acme.model")
    with pytest.raises(ValueError, match="unknown customization 'distilling'"):
        family_for(NOVA, "distilling")
    with pytest.raises(ValueError, match="no CONTINUED_PRE_TRAINING rules"):
        family_for(NOVA, "CONTINUED_PRE_TRAINING")


def test_tokens_are_counted_with_the_local_models_tokenizer():
    from helpers import local_model
    text = 'Route the ticket to billing 🤖 {"label": "LC2"}'
    assert formats.estimate_tokens(text) == len(local_model.load_base().tokenizer.encode(text))
    assert formats.estimate_tokens("") == 0


def test_limits_are_checked_at_the_documented_six_characters_per_token():
    assert [formats.documented_tokens("x" * n) for n in (0, 1, 6, 7, 12)] == [0, 1, 1, 2, 2]


# ---------------------------------------------------------------- fixtures: valid and invalid files per family

@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if ".valid." in n))
def test_valid_files_have_no_findings(name):
    spec = EXPECTED[name]
    report = check_file(FIXTURES / name, spec["model"], spec["customization"])
    assert report.findings == []
    assert report.ok and report.n_records == len(report.records) > 0
    assert "accepted" in report.summary() and "NOT" not in report.summary()


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if ".mixed." in n))
def test_every_invalid_record_is_reported_with_its_line_and_no_valid_one_is(name):
    spec = EXPECTED[name]
    report = check_file(FIXTURES / name, spec["model"], spec["customization"])
    fields_by_line: dict[int, list[str]] = {}
    for f in report.findings:
        fields_by_line.setdefault(f.line, []).append(f.field)
    expected = {int(line): field for line, field in spec["invalid"].items()}
    assert set(fields_by_line) - {0} == set(expected)
    for line, field in expected.items():
        assert field in fields_by_line[line], (line, fields_by_line[line])
    assert not report.ok


def test_blank_lines_crlf_and_bom_keep_physical_line_numbers():
    data = b"\xef\xbb\xbf" + b'{"prompt": "a", "completion": "b"}\r\n\r\n\n{"prompt": "a"}\r\n'
    report = check_file(data, TITAN)
    assert [(f.line, f.field) for f in report.findings] == [(4, "completion")]
    assert report.n_records == 2


def test_finding_prints_file_line_field_message_rule():
    f = Finding("train.jsonl", 3, "prompt", "is empty", "prompt-completion: both non-empty")
    assert str(f) == "train.jsonl:3: prompt: is empty (prompt-completion: both non-empty)"


# ---------------------------------------------------------------- file-level limits

def _jsonl(records):
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_record_count_bounds_per_role():
    good = make_record("q", "a", "claude-messages")
    few = check_file(_jsonl([good] * 31), HAIKU)
    assert [(f.line, f.field) for f in few.findings] == [(0, "(file)")]
    assert "fewer than 32" in few.findings[0].message
    assert check_file(_jsonl([good] * 32), HAIKU).ok
    too_many_val = check_file(_jsonl([good] * 1001), HAIKU, role="validation")
    assert too_many_val.findings[0].message == "1001 validation records, more than 1000"
    assert check_file(_jsonl([good] * 5), HAIKU, role="validation").ok


def test_check_files_bounds_the_total_of_training_and_validation():
    good = make_record("q", "a", "prompt-completion")
    report = check_files(_jsonl([good] * 9500), LLAMA31, validation=_jsonl([good] * 501))
    assert report.n_records == 10001
    assert [f.message for f in report.findings] == ["10001 training + validation records, more than 10000"]
    assert check_files(_jsonl([good] * 9500), LLAMA31, validation=_jsonl([good] * 500)).ok


def test_file_size_limit(monkeypatch):
    rows = tuple(dict(r, max_train_file_bytes=100) if r["model_id"] == TITAN else r for r in formats.load_rules())
    monkeypatch.setattr(formats, "load_rules", lambda path=None: rows)
    report = check_file(_jsonl([{"prompt": "p" * 80, "completion": "c"}]), TITAN)
    assert [(f.line, f.field) for f in report.findings] == [(0, "(file)")]
    assert "max 100 bytes for a training file" in report.findings[0].rule


def test_an_empty_file_is_not_accepted():
    assert check_file(b"\n\n", TITAN).findings[0].message == "no records"


def test_bad_role_is_a_programming_error():
    with pytest.raises(ValueError, match="role must be"):
        check_file(b"", TITAN, role="test")


# ---------------------------------------------------------------- converting records

@pytest.mark.parametrize("family", ["prompt-completion", "bedrock-conversation-2024", "claude-messages"])
def test_make_record_round_trips_through_to_pair_and_passes_the_check(family):
    model = {"prompt-completion": TITAN, "bedrock-conversation-2024": NOVA, "claude-messages": HAIKU}[family]
    record = make_record("Clause: x\nAnswer:", ' {"label": "LC1"}', family)
    assert to_pair(record, family) == ("Clause: x\nAnswer:", ' {"label": "LC1"}')
    with_system = make_record("q", "a", family, system="Be brief.")
    assert to_pair(with_system, family) == ("Be brief.\n\nq", "a")
    assert check_file(_jsonl([record] * 40), model).ok


def test_to_pair_uses_earlier_turns_as_the_prompt():
    record = {"schemaVersion": "x", "messages": [{"role": "user", "content": [{"text": "a"}]},
                                                 {"role": "assistant", "content": [{"text": "b"}]},
                                                 {"role": "user", "content": [{"text": "c"}]},
                                                 {"role": "assistant", "content": [{"text": "d"}]}]}
    assert to_pair(record, "bedrock-conversation-2024") == ("a\nb\nc", "d")


def test_continued_pretraining_records():
    record = make_record("Section 1.", "Text.", "continued-pretraining")
    assert record == {"input": "Section 1.\nText."} and to_text(record) == "Section 1.\nText."
    with pytest.raises(ValueError, match="continued pre-training record"):
        to_text({"prompt": "p"})
    with pytest.raises(ValueError, match="use to_text"):
        to_pair(record, "continued-pretraining")
    with pytest.raises(ValueError, match="unknown family"):
        make_record("a", "b", "nova")


# ---------------------------------------------------------------- fuzzing: bad data never makes it crash

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["prompt", "completion", "messages", "role", "content", "text", "system", "input",
                         "schemaVersion", "x"]), inner, max_size=4),
    max_leaves=25)
lines = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),  # mostly invalid UTF-8 / invalid JSON
    st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n),  # deep nesting
    st.integers(1, 3_000).map(lambda n: b'{"messages": ' + b"[" * n + b"]" * n + b"}"),
    st.integers(10_000, 300_000).map(lambda n: json.dumps({"prompt": "p" * n, "completion": "c"}).encode()),  # huge
    st.sampled_from([b"", b"\r", b"\xef\xbb\xbf{}", b"NaN", b"{\"input\": Infinity}", b"\x00", b"\"\\ud800\""]),
)
FUZZ_SETTINGS = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                                 HealthCheck.data_too_large])


@FUZZ_SETTINGS
@given(st.lists(lines, min_size=1, max_size=25), st.sampled_from(sorted(CONTRACT_MODELS)))
def test_fuzzed_files_never_crash_the_checker(raw_lines, model_id):
    data = b"\n".join(raw_lines)
    report = check_file(data, model_id)
    n_lines = data.count(b"\n") + 1
    for finding in report.findings:
        assert 0 <= finding.line <= n_lines
        assert str(finding).startswith(f"<bytes>:{finding.line}: ")
    assert isinstance(report.summary(), str)


@FUZZ_SETTINGS
@given(st.lists(json_values, min_size=1, max_size=30))
def test_fuzzed_records_never_crash_any_family(values):
    data = b"\n".join(json.dumps(v).encode() for v in values)
    for model_id, ctype in [(TITAN, "FINE_TUNING"), (NOVA, "FINE_TUNING"), (HAIKU, "FINE_TUNING"),
                            (TITAN, "CONTINUED_PRE_TRAINING")]:
        report = check_file(data, model_id, ctype)
        assert report.n_records == sum(1 for v in values if json.dumps(v).strip())


# ---------------------------------------------------------------- media, AWS's own validators (checked 2026-12-01)

LITE = "amazon.nova-lite-v1:0:300k"
PRO = "amazon.nova-pro-v1:0:300k"


def _image_record(fmt="png", uri="s3://bucket/images/a.png"):
    image = {"image": {"format": fmt, "source": {"s3Location": {"uri": uri}}}}
    return {"messages": [{"role": "user", "content": [{"text": "What is shown?"}, image]},
                         {"role": "assistant", "content": [{"text": "a clause"}]}]}


@pytest.mark.parametrize("model", [LITE, PRO])
def test_nova_lite_and_pro_take_image_records(model):
    assert check_file(_jsonl([_image_record()] * 8), model).ok


def test_nova_micro_refuses_image_records_naming_model_file_line_and_field():
    data = _jsonl([make_record("q", "a", "bedrock-conversation-2024")] * 7 + [_image_record()])
    report = check_file(data, NOVA, name="train.jsonl")
    assert [(f.file, f.line, f.field) for f in report.findings] == [("train.jsonl", 8, "messages[0].content[1].image")]
    assert NOVA in report.findings[0].message and "text only" in report.findings[0].message
    assert NOVA in report.findings[0].rule


@pytest.mark.parametrize("fmt,ok", [("png", True), ("JPEG", True), ("gif", True), ("webp", True), ("bmp", False),
                                    ("tiff", False)])
def test_image_formats_are_the_validators(fmt, ok):
    assert check_file(_jsonl([_image_record(fmt)] * 8), LITE).ok is ok


def test_a_file_of_images_and_videos_is_refused_on_the_line_that_mixes_them():
    video = _image_record()
    video["messages"][0]["content"][1] = {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}}
    report = check_file(_jsonl([_image_record()] * 8 + [video]), LITE)
    assert [(f.line, f.field) for f in report.findings] == [(9, "(file)")]


def test_schema_version_is_optional_for_nova():
    record = make_record("q", "a", "bedrock-conversation-2024")
    del record["schemaVersion"]
    assert check_file(_jsonl([record] * 8), NOVA).ok


@pytest.mark.parametrize("where", ["system", "user", "assistant"])
@pytest.mark.parametrize("word", ["\nHuman:", "\nAssistant:"])
def test_claude_reserved_words_after_a_line_break_anywhere_in_the_record(where, word):
    texts = {"system": "Be brief.", "user": "Classify this.", "assistant": "GL3"}
    texts[where] += word + " more"
    record = make_record(texts["user"], texts["assistant"], "claude-messages", system=texts["system"])
    report = check_file(_jsonl([make_record("q", "a", "claude-messages")] * 31 + [record]), HAIKU)
    assert [(f.line, f.field) for f in report.findings] == [(32, "(text)")]
    assert repr(word) in report.findings[0].message


def test_claude_token_limit_at_three_characters_per_token():
    good = make_record("q", "a", "claude-messages")

    def record(n_chars):
        return make_record("q" * n_chars, "a", "claude-messages")

    assert check_file(_jsonl([good] * 31 + [record(3 * 31999)]), HAIKU).ok  # 31999 + 1 tokens
    over = check_file(_jsonl([good] * 31 + [record(3 * 32000)]), HAIKU)
    assert [(f.line, f.field) for f in over.findings] == [(32, "(record)")]
    assert "3 chars/token" in over.findings[0].rule


# ---------------------------------------------------------------- the command line

def test_cli_accepts_a_valid_file(capsys):
    code = formats.main_check_data([str(FIXTURES / "claude.valid.jsonl"), "--model", formats.known_models()[3]])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out == [f"{FIXTURES / 'claude.valid.jsonl'}: 38 records, 0 findings on 0 lines; accepted for "
                   f"anthropic.claude-3-haiku-20240307-v1:0:200k (claude-messages)"]


def test_cli_reports_each_finding_and_exits_1(capsys):
    path = FIXTURES / "pretraining.mixed.jsonl"
    code = formats.main_check_data([str(path), "--model", "amazon.titan-text-express-v1:0:8k",
                              "--customization", "continued-pre-training"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0] == f"{path}:2: input: missing (continued pre-training: exactly {{\"input\": str}}, non-empty)"
    assert len(out) == 7 and out[-1].endswith("NOT accepted for amazon.titan-text-express-v1:0:8k "
                                               "(continued-pretraining)")


def test_cli_checks_a_validation_file(tmp_path, capsys):
    record = json.dumps(formats.make_record("q", "a", "claude-messages")) + "\n"
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train.write_text(record * 40)
    val.write_text(record * 1001)
    code = formats.main_check_data([str(train), "--model", "anthropic.claude-3-haiku-20240307-v1:0:200k",
                              "--validation", str(val)])
    assert code == 1
    assert "val.jsonl:0: (file): 1001 validation records, more than 1000" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["missing.jsonl", "--model", NOVA], "cannot read missing.jsonl"),
    (["x.jsonl", "--model", "acme.model"], "no FINE_TUNING rules for model 'acme.model'"),
    (["x.jsonl", "--model", NOVA, "--customization", "pretraining"], "unknown customization 'pretraining'"),
    (["x.jsonl"], "the following arguments are required: --model"),
    ([], "the following arguments are required"),
])
def test_cli_usage_and_io_errors_exit_2(argv, message, capsys):
    assert formats.main_check_data(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_help_exits_0(capsys):
    assert formats.main_check_data(["--help"]) == 0
    assert "--customization" in capsys.readouterr().out


def test_cli_never_prints_a_traceback_for_garbage(tmp_path, capsys):
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"\x00\xff\xfe" * 1000 + b"\n" + b"[" * 100_000 + b"\n{}\n")
    assert formats.main_check_data([str(path), "--model", NOVA]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.count("\n") == 5  # 2 bad lines, 1 record missing messages, too few records, the summary


def test_python_m_helpers_dispatches_check_data():
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "helpers", "check-data", str(FIXTURES / "conversation.mixed.jsonl"),
                           "--model", NOVA], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1].endswith("NOT accepted for amazon.nova-micro-v1:0:128k (bedrock-conversation-2024)")


def test_check_data_loads_neither_pandas_nor_numpy():
    import subprocess
    import sys
    code = ("import sys; from helpers.__main__ import main; main(['check-data', sys.argv[1], '--model', sys.argv[2]]); "
            "print(sorted(m for m in ('pandas', 'numpy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "claude.valid.jsonl"), HAIKU],
                          capture_output=True, text=True)
    assert proc.stdout.splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_llama_3_2_vision_takes_images_not_videos_and_the_small_llamas_text_only():
    vision, small = "meta.llama3-2-11b-instruct-v1:0:128k", "meta.llama3-2-1b-instruct-v1:0:128k"
    assert check_file(_jsonl([_image_record("gif")] * 100), vision).ok
    video = _image_record()
    video["messages"][0]["content"][1] = {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}}
    refused = check_file(_jsonl([_image_record()] * 99 + [video]), vision)
    assert [(f.line, f.field) for f in refused.findings] == [(100, "messages[0].content[1].video"), (100, "(file)")]
    assert "takes no video blocks" in refused.findings[0].message
    text_only = check_file(_jsonl([_image_record()] * 100), small)
    assert {f.field for f in text_only.findings} == {"messages[0].content[1].image"}
    assert all("takes text only" in f.message for f in text_only.findings)
