"""The offline Bedrock's foundation-model catalog as boto3 lists it. The other offline modules' tests mirror
them: test_offline_service.py, _training, _runtime, _state, _hook, _server, _account; AWS's sample notebooks:
tests/test_aws_samples.py."""
from __future__ import annotations

from offline_support import NOVA, HAIKU, TITAN, Account


def test_foundation_models_follow_the_facts_per_region(account):
    east = {m["modelId"] for m in account.bedrock.list_foundation_models(
        byCustomizationType="FINE_TUNING")["modelSummaries"]}
    west = {m["modelId"] for m in Account("us-west-2").bedrock.list_foundation_models(
        byCustomizationType="FINE_TUNING")["modelSummaries"]}
    assert NOVA in east and NOVA not in west           # Nova: us-east-1
    assert HAIKU not in west and HAIKU not in east     # Claude 3 Haiku: end of life in us-west-2 (test_catalog.py)
    assert {"meta.llama3-1-8b-instruct-v1:0:128k", "meta.llama3-3-70b-instruct-v1:0:128k"} <= west  # Llama 3.x
    cpt = account.bedrock.list_foundation_models(byCustomizationType="CONTINUED_PRE_TRAINING")["modelSummaries"]
    assert {m["modelId"] for m in cpt} == {TITAN, "amazon.titan-text-lite-v1:0:4k"}
    detail = account.bedrock.get_foundation_model(modelIdentifier=NOVA)["modelDetails"]
    assert detail["customizationsSupported"] == ["FINE_TUNING", "DISTILLATION"]
    assert detail["modelLifecycle"]["status"] == "ACTIVE"
