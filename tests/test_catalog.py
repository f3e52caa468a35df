"""helpers.catalog: the model catalog and hyperparameter table as data, read the same way by the emulator and by
learner code."""
from __future__ import annotations

from helpers import catalog


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
