"""helpers.offline.runtime: InvokeModel and Converse in each family's body, refused as Bedrock refuses them."""
from __future__ import annotations

import json

from offline_support import Account, error_of


def test_invoke_model_speaks_each_familys_body(account):
    west, canada = Account("us-west-2"), Account("ca-central-1")  # Claude 3 Haiku lives on in ca-central-1
    ask = "hello"
    claude = json.loads(canada.runtime.invoke_model(
        modelId="arn:aws:bedrock:ca-central-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        body=json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                         "messages": [{"role": "user", "content": ask}]}))["body"].read())
    assert claude["type"] == "message" and claude["content"][0]["type"] == "text"
    assert set(claude["usage"]) == {"input_tokens", "output_tokens"}
    llama = json.loads(west.runtime.invoke_model(modelId="meta.llama3-1-8b-instruct-v1:0", body=json.dumps(
        {"prompt": f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{ask}<|eot_id|>",
         "max_gen_len": 8}))["body"].read())
    assert set(llama) == {"generation", "prompt_token_count", "generation_token_count", "stop_reason"}
    titan = json.loads(account.runtime.invoke_model(modelId="amazon.titan-text-express-v1", body=json.dumps(
        {"inputText": ask, "textGenerationConfig": {"maxTokenCount": 8}}))["body"].read())
    assert titan["results"][0]["completionReason"] in ("FINISH", "LENGTH")
    nova = json.loads(account.runtime.invoke_model(modelId="amazon.nova-micro-v1:0", body=json.dumps(
        {"messages": [{"role": "user", "content": [{"text": ask}]}]}))["body"].read())
    assert nova["output"]["message"]["role"] == "assistant"
    chunks = [json.loads(e["chunk"]["bytes"]) for e in canada.runtime.invoke_model_with_response_stream(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps(
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
             "messages": [{"role": "user", "content": ask}]}))["body"]]
    assert chunks[0]["type"] == "message_start" and chunks[-1]["type"] == "message_stop"
    titan_chunks = [json.loads(e["chunk"]["bytes"]) for e in account.runtime.invoke_model_with_response_stream(
        modelId="amazon.titan-text-express-v1", body=json.dumps({"inputText": ask}))["body"]]
    assert titan_chunks[-1]["completionReason"] in ("FINISH", "LENGTH") and "outputText" in titan_chunks[0]
    # what Bedrock says to bodies and ids it does not accept
    code, message, _ = error_of(lambda: canada.runtime.invoke_model(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=json.dumps({"messages": [], "max_tokens": 5})))
    assert (code, message) == ("ValidationException", "Malformed input request: #: required key [anthropic_version] "
                                                      "not found, please reformat your input and try again.")
    assert error_of(lambda: account.runtime.converse(modelId="acme.nope-v1", messages=[
        {"role": "user", "content": [{"text": ask}]}]))[1] == "The provided model identifier is invalid."
    _, message, _ = error_of(lambda: west.runtime.converse(modelId="meta.llama3-2-1b-instruct-v1:0", messages=[
        {"role": "user", "content": [{"text": ask}]}]))
    assert message.startswith("The provided model identifier is invalid")
    _, message, _ = error_of(lambda: account.runtime.converse(modelId="amazon.nova-micro-v1:0", messages=[
        {"role": "assistant", "content": [{"text": ask}]}]))
    assert message.startswith("A conversation must start with a user message.")
    _, message, _ = error_of(lambda: account.runtime.converse(
        modelId="amazon.nova-micro-v1:0", messages=[{"role": "user", "content": [{"text": ask}]}],
        inferenceConfig={"temperature": 5.0}))
    assert "at 'inferenceConfig.temperature' failed to satisfy constraint" in message


def test_nova_refuses_an_anthropic_body_as_bedrock_does(account):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    code, message, status = error_of(lambda: account.runtime.invoke_model(modelId="us.amazon.nova-micro-v1:0",
                                                                          body=json.dumps(body)))
    # AWS wording: the validator's findings run on with no separator (lobehub/lobehub issue 5203, 2024-12-27)
    assert (code, status) == ("ValidationException", 400)
    assert message == ("Malformed input request: #: extraneous key [anthropic_version] is not permitted"
                       "#: extraneous key [max_tokens] is not permitted"
                       "#/messages/0/content/0: extraneous key [type] is not permitted, please reformat your input "
                       "and try again.")


def test_invoking_a_custom_model_arn_directly_is_refused(account):
    code, message, _ = error_of(lambda: account.runtime.converse(
        modelId="arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1/abcdefabcdef",
        messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert code == "ValidationException" and "Provisioned Throughput" in message
    code, _, status = error_of(lambda: account.runtime.converse(
        modelId="arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefabcdef",
        messages=[{"role": "user", "content": [{"text": "hi"}]}]))
    assert (code, status) == ("ResourceNotFoundException", 404)
