"""The SageMaker path: the training script keeps the container contract, runs locally on the local model, and
the CreateTrainingJob request for it is one SageMaker accepts."""
import json

import boto3
import numpy as np
import pytest
from botocore.session import get_session
from botocore.validate import validate_parameters

from helpers import corpus, formats, local_model, sagemaker_training
from helpers.paths import DATA_DIR

FAMILY = "bedrock-conversation-2024"


def clause_records(n: int) -> list[dict]:
    rows = corpus.read_jsonl(DATA_DIR / "clauses" / "raw.jsonl")[:n]
    return [formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]), FAMILY)
            for r in rows]


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    """A tiny base checkpoint, passed to the script as the 'base' channel (as open weights would be)."""
    tok = local_model.Tokenizer.build(["".join(formats.to_pair(r, FAMILY)) for r in clause_records(40)])
    config = {"n_layer": 1, "d_model": 32, "n_head": 2, "context": 192, "vocab_size": len(tok)}
    path = tmp_path_factory.mktemp("base") / "base"
    local_model.save(local_model.Model(config, tok, local_model.init_params(config, np.random.default_rng(0))), path)
    return path


def lines(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def test_hyperparameters_arrive_as_strings_and_are_checked():
    hp = sagemaker_training.read_hyperparameters({"epochs": "3", "lora_rank": "8"})
    assert hp == {"epochs": 3, "batch_size": 8, "learning_rate": 0.001, "warmup_steps": 0, "lora_rank": 8, "seed": 0}
    with pytest.raises(sagemaker_training.HyperparameterError, match=r"epochs='0' is outside \[1, 20\]"):
        sagemaker_training.read_hyperparameters({"epochs": "0"})
    with pytest.raises(sagemaker_training.HyperparameterError, match="learning_rate='fast' is not a valid float"):
        sagemaker_training.read_hyperparameters({"learning_rate": "fast"})
    with pytest.raises(sagemaker_training.HyperparameterError, match="unknown hyperparameter 'epochCount'"):
        sagemaker_training.read_hyperparameters({"epochCount": "2"})


def test_script_runs_locally_in_the_container_contract(tmp_path, base_dir, monkeypatch):
    monkeypatch.setenv("LAB_CACHE_DIR", str(tmp_path / "cache"))
    data = clause_records(40)
    channels = {"train": lines(data[:32]), "validation": lines(data[32:]), "base": base_dir}
    hyperparameters = {"epochs": "2", "batch_size": "8", "learning_rate": "0.01", "lora_rank": "4"}
    run = sagemaker_training.run_local(tmp_path / "opt" / "ml", channels, hyperparameters)
    assert run.exit_code == 0 and run.failure is None, run.log
    config = json.loads((tmp_path / "opt" / "ml" / "input" / "config" / "inputdataconfig.json").read_text())
    assert sorted(config) == ["base", "train", "validation"]
    assert len(run.metrics["train:loss"]) == 2 * 4 and len(run.metrics["validation:loss"]) == 2
    assert run.metrics["train:loss"][-1] < run.metrics["train:loss"][0]
    tuned = local_model.load(run.model_dir)
    assert tuned.lora["rank"] == 4 and len(tuned.history) == 8
    # the same run again comes from the weights cache, with the same weights and the metric lines it printed
    again = sagemaker_training.run_local(tmp_path / "again" / "opt" / "ml", channels, hyperparameters)
    assert again.exit_code == 0 and "weights from the lab's cache" in again.log, again.log
    assert again.metrics == run.metrics
    assert local_model.fingerprint(local_model.load(again.model_dir)) == local_model.fingerprint(tuned)


def test_script_failure_is_written_where_sagemaker_reads_it(tmp_path, base_dir):
    run = sagemaker_training.run_local(tmp_path, {"train": lines(clause_records(4)), "base": base_dir},
                                       {"lora_rank": "65"})
    assert run.exit_code == 1
    assert run.failure == "HyperparameterError: hyperparameter lora_rank='65' is outside [0, 64]"
    bad = sagemaker_training.run_local(tmp_path / "bad", {"train": b'{"prompt": "a"\n', "base": base_dir}, {})
    assert bad.exit_code == 1 and bad.failure.startswith("ValueError: train.jsonl:1: ")


def test_metric_regexes_pick_values_out_of_the_log():
    log = "epoch=1 step=1 train_loss=2.5000\nepoch=1 step=2 train_loss=2.0000 val_loss=2.2500\n"
    assert sagemaker_training.parse_metrics(log) == {"train:loss": [2.5, 2.0], "validation:loss": [2.25]}


def test_training_job_request_is_valid_for_sagemaker():
    request = sagemaker_training.training_job_request(
        "lab-clauses-lora", role_arn="arn:aws:iam::123456789012:role/LabSageMakerRole",
        image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3-cpu-py311",
        train_s3="s3://lab-sm/train/", validation_s3="s3://lab-sm/validation/", output_s3="s3://lab-sm/output/",
        hyperparameters={"epochs": "2", "lora_rank": "8"}, tags=[{"Key": "lab", "Value": "bedrock-customization-lab"}])
    shape = get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob").input_shape
    validate_parameters(request, shape)  # raises ParamValidationError if the request is off-model
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "validation"]
    with pytest.raises(sagemaker_training.HyperparameterError, match="not strings"):
        sagemaker_training.training_job_request("x", role_arn="r", image_uri="i", train_s3="s3://b/t",
                                                output_s3="s3://b/o", hyperparameters={"epochs": 2})
    from moto import mock_aws
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_training_job(**request)
        described = sagemaker.describe_training_job(TrainingJobName="lab-clauses-lora")
        assert described["HyperParameters"] == {"epochs": "2", "lora_rank": "8"}


def test_decision_table_rows_each_name_a_source():
    rows = sagemaker_training.decision_table()
    assert len(rows) >= 10 and all(r["source"] for r in rows)
    assert {"bedrock_customization", "sagemaker_training_job"} <= set(rows[0])
