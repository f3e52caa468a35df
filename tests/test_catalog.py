"""helpers.catalog: the model catalog and hyperparameter table as data, read the same way by the emulator and by
learner code."""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import re
import runpy
import sys

import pytest

from helpers import catalog, formats
from offline_support import FIXTURES, TITAN, Account, error_of, jsonl, records, wait

HAIKU_ON_DEMAND = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU = HAIKU_ON_DEMAND + ":200k"


def test_model_ids_arns_and_profiles_resolve_to_the_bare_id():
    assert catalog.model_id_of("amazon.nova-micro-v1:0") == "amazon.nova-micro-v1:0"
    assert catalog.model_id_of("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0") == \
        "amazon.nova-micro-v1:0"
    assert catalog.model_id_of("us.amazon.nova-micro-v1:0") == "amazon.nova-micro-v1:0"


def test_an_on_demand_id_finds_its_customizable_variant():
    assert catalog.customizable_variant("amazon.nova-micro-v1:0").model_id == "amazon.nova-micro-v1:0:128k"
    assert catalog.customizable_variant("amazon.nova-micro-v1:0:128k").model_id == "amazon.nova-micro-v1:0:128k"
    assert catalog.customizable_variant("example.unknown-v1:0") is None


def test_hyperparameters_are_read_per_group_with_their_ranges():
    nova = catalog.hyperparameters("nova")
    assert (nova["epochCount"].low, nova["epochCount"].high, nova["epochCount"].default) == (1, 5, "2")
    assert nova["learningRate"].kind == "float"


# ------------------------------------------------------------------------------------------ the data
BEDROCK_DATA = catalog.DATA_DIR
ISO_DATE = re.compile(r"^20\d\d-\d\d-\d\d$")


@pytest.mark.parametrize("name", ["foundation_models.csv", "lifecycle_regions.csv", "hyperparameters.csv"])
def test_every_row_names_an_aws_source_and_the_day_it_was_checked(name):
    with open(BEDROCK_DATA / name, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows
    for row in rows:
        assert row["source"].startswith("https://docs.aws.amazon.com/"), row
        assert ISO_DATE.match(row["checked_on"]), row
    assert not any("bedrock-facts" in p.read_text() for p in BEDROCK_DATA.parent.rglob("*.csv"))  # learners lack it


def test_lifecycle_values_regions_and_modalities_are_the_apis_own():
    models = catalog.foundation_models()
    for m in models.values():
        assert m.lifecycle in ("ACTIVE", "LEGACY", "EOL") and m.regions and m.input_modalities, m
        assert set(m.input_modalities) <= {"TEXT", "IMAGE", "VIDEO"}, m
    with open(BEDROCK_DATA / "lifecycle_regions.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            model = models[row["model_id"]]
            assert row["region"] in model.regions and row["lifecycle"] in ("ACTIVE", "LEGACY"), row


def test_lifecycle_is_per_region_and_a_customizable_variant_shares_its_versions():
    haiku, tunable = catalog.foundation_models()[HAIKU_ON_DEMAND], catalog.foundation_models()[HAIKU]
    assert {r: catalog.lifecycle(haiku, r) for r in haiku.regions} == {
        "us-east-1": "EOL", "us-west-2": "EOL", "ap-northeast-2": "LEGACY", "ca-central-1": "ACTIVE",
        "eu-central-2": "ACTIVE", "sa-east-1": "ACTIVE"}
    assert catalog.lifecycle(tunable, "us-west-2") == "EOL" and not catalog.available(tunable, "us-west-2")
    assert catalog.available(haiku, "ca-central-1") and not catalog.available(haiku, "eu-west-1")
    assert catalog.lifecycle(catalog.foundation_models()[TITAN], "us-east-1") == "LEGACY"


def test_the_fine_tuning_table_of_today_is_in_the_catalog():
    tunable = {m.model_id: m for m in catalog.foundation_models().values() if "FINE_TUNING" in m.customizations}
    for model_id in ("amazon.nova-2-lite-v1:0:256k", "meta.llama3-2-11b-instruct-v1:0:128k",
                     "meta.llama3-2-90b-instruct-v1:0:128k", "meta.llama3-3-70b-instruct-v1:0:128k"):
        assert model_id in tunable and formats.rules_for(model_id)  # a job needs both the model and its data rules
    assert tunable["amazon.nova-2-lite-v1:0:256k"].regions == ("us-east-1",)
    assert tunable["meta.llama3-3-70b-instruct-v1:0:128k"].regions == ("us-west-2",)
    assert catalog.foundation_models()["amazon.nova-micro-v1:0"].input_modalities == ("TEXT",)
    assert "IMAGE" in catalog.foundation_models()["amazon.nova-lite-v1:0:300k"].input_modalities


# ------------------------------------------------------------------------------------------ the offline account
def every_model_and_region() -> list[tuple[str, str]]:
    return [(m.model_id, r) for m in catalog.foundation_models().values() for r in m.regions]


def test_listing_reports_each_models_lifecycle_in_each_region_and_drops_end_of_life(account):
    regions = sorted({r for _, r in every_model_and_region()})
    for region in regions:
        listed = {m["modelId"]: m for m in Account(region).bedrock.list_foundation_models()["modelSummaries"]}
        for m in catalog.foundation_models().values():
            state = catalog.lifecycle(m, region) if region in m.regions else None
            if state in ("ACTIVE", "LEGACY"):
                assert listed[m.model_id]["modelLifecycle"] == {"status": state}, (m.model_id, region)
                assert listed[m.model_id]["inputModalities"] == [x for x in m.input_modalities if x != "VIDEO"]
            else:
                assert m.model_id not in listed, (m.model_id, region)


def test_get_foundation_model_answers_as_the_lifecycle_says_for_every_model_and_region(account):
    for model_id, region in every_model_and_region():
        bedrock = Account(region).bedrock
        m = catalog.foundation_models()[model_id]
        if catalog.lifecycle(m, region) == "EOL":
            assert error_of(lambda: bedrock.get_foundation_model(modelIdentifier=model_id))[:2] == (
                "ResourceNotFoundException", catalog.EOL_MESSAGE), (model_id, region)
        else:
            details = bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
            assert details["modelLifecycle"]["status"] == catalog.lifecycle(m, region), (model_id, region)


def run_script(name: str, *args: str) -> list[str]:
    """Run a plain boto3 script of tests/fixtures in this process (the offline hook answers it); return its lines."""
    out = io.StringIO()
    sys.argv, saved = [name, *args], sys.argv
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(FIXTURES / name), run_name="__main__")
    finally:
        sys.argv = saved
    return out.getvalue().splitlines()


def run_lifecycle_script(region: str, model: str, customizable: str | None = None) -> dict[str, str]:
    """The plain boto3 lifecycle script's answer per operation."""
    extra = ["--customizable", customizable] if customizable else []
    lines = run_script("plain_boto3_lifecycle.py", "--region", region, "--model", model, *extra)
    return dict(line.split(": ", 1) for line in lines)


def test_a_plain_boto3_script_in_us_west_2_meets_the_end_of_life_of_claude_3_haiku(account):
    seen = run_lifecycle_script("us-west-2", HAIKU_ON_DEMAND, HAIKU)
    eol = f"ResourceNotFoundException: {catalog.EOL_MESSAGE}"
    assert seen == {"ListFoundationModels": "not listed", "GetFoundationModel": eol, "Converse": eol,
                    "InvokeModel": eol, "CreateModelCustomizationJob": eol}


def test_where_claude_3_haiku_lives_on_the_same_script_is_answered(account):
    seen = run_lifecycle_script("ca-central-1", HAIKU_ON_DEMAND)
    assert seen["ListFoundationModels"] == "ACTIVE" and seen["GetFoundationModel"] == "OK ACTIVE"
    assert seen["Converse"] in ("OK end_turn", "OK max_tokens")
    assert seen["InvokeModel"].startswith("OK ") and "'content'" in seen["InvokeModel"]
    assert run_lifecycle_script("ap-northeast-2", HAIKU_ON_DEMAND)["ListFoundationModels"] == "LEGACY"


def test_a_custom_model_stops_serving_when_its_base_reaches_end_of_life(account, monkeypatch):
    """A custom model serves until its base model version's end of life (model-lifecycle-legacy.html)."""
    llama = "meta.llama3-3-70b-instruct-v1:0:128k"
    west = Account("us-west-2")
    bucket = west.bucket("lab-llama-eol", {"train.jsonl": jsonl(records("bedrock-conversation-2024", 100))})
    job = wait(west, west.job(bucket, model=llama, validation=None, hp={"epochCount": "1"}))
    assert job["status"] == "Completed", job.get("failureMessage")
    pt = west.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="llama-pt",
                                                          modelId=job["outputModelArn"])["provisionedModelArn"]
    wait(west, pt)
    hello = [{"role": "user", "content": [{"text": "hello"}]}]
    assert west.runtime.converse(modelId=pt, messages=hello)["output"]["message"]["role"] == "assistant"
    ended = dataclasses.replace(catalog.foundation_models()[llama], lifecycle="EOL")
    monkeypatch.setitem(catalog.foundation_models(), llama, ended)
    assert error_of(lambda: west.runtime.converse(modelId=pt, messages=hello))[:2] == (
        "ResourceNotFoundException", catalog.EOL_MESSAGE)


ENGLISH = {  # today's fine-tunable models on the plain boto3 flow: (region, base model, records, counts, hp)
    "nova-2-lite": ("us-east-1", "amazon.nova-2-lite-v1:0:256k", "bedrock-conversation-2024", (16, 4),
                    ["epochCount=1", "learningRate=0.0001"]),
    "llama-3.3-70b": ("us-west-2", "meta.llama3-3-70b-instruct-v1:0:128k", "bedrock-conversation-2024", (100, 4),
                      ["epochCount=1", "learningRate=0.0001"]),
}


@pytest.mark.parametrize("case", sorted(ENGLISH))
def test_todays_models_reach_completed_with_a_plain_boto3_script(account, lab_env, case):
    region, model, family, (n_train, n_val), hp = ENGLISH[case]
    paths = [lab_env / "train.jsonl", lab_env / "validation.jsonl"]
    paths[0].write_bytes(jsonl(records(family, n_train)))
    paths[1].write_bytes(jsonl(records(family, n_val, start=n_train)))
    lines = run_script("plain_boto3_flow.py", *map(str, paths), "--region", region, "--model", model,
                       *[a for kv in hp for a in ("--hp", kv)])
    assert lines[1] == "job Completed " and lines[-1] == "OK"
    assert any(line.startswith("converse ") for line in lines)


def test_a_legacy_titan_models_provisioned_throughput_is_refused_with_the_reason(account, lab_env):
    train = lab_env / "train.jsonl"
    train.write_bytes(jsonl(records("continued-pretraining", 24)))
    lines = run_script("plain_boto3_flow.py", str(train), "--model", TITAN, "--type", "CONTINUED_PRE_TRAINING",
                       "--hp", "epochCount=1", "--hp", "batchSize=1", "--hp", "learningRate=0.00001")
    assert lines[1] == "job Completed "  # existing customers may still customize a Legacy model
    refusal = catalog.LEGACY_PROVISIONING_MESSAGE.format(model=TITAN)
    assert lines[-2:] == [f"throughput refused: {refusal}", "OK"]
    assert "You can't create new Provisioned Throughput for models in the Legacy state." in refusal  # AWS's rule
    code, message, _ = error_of(lambda: account.bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="titan-base", modelId="amazon.titan-text-lite-v1"))
    assert (code, message) == ("ValidationException",
                               catalog.LEGACY_PROVISIONING_MESSAGE.format(model="amazon.titan-text-lite-v1"))
