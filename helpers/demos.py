"""Measurements on the local model that notebooks 01 and 02 show: format failures, prompt-only vs
fine-tuned clause classification, continued pre-training and forgetting. Plain functions returning numbers.

`python -m helpers.demos` measures every effect on the shipped base model and prints them (the figures in
data/base_model/README.md come from this command).
"""
from __future__ import annotations

import json
import sys
import time

from helpers import corpus, local_model, pretraining
from helpers.evaluation import clause_accuracy, clause_pairs, format_failure_rate


def prompt_fix(model, n: int = 60) -> dict:
    """Format failure rate of the clause request with a vague prompt and with a format-specified prompt."""
    texts = [r["text"] for r in corpus.clause_splits()["test_set"][:n]]
    vague = [corpus.clause_prompt(t, json_format=False) for t in texts]
    specified = [corpus.clause_prompt(t) for t in texts]
    return {"n": len(texts), "vague": format_failure_rate(model, vague),
            "format_specified": format_failure_rate(model, specified),
            "example_vague_prompt": vague[0], "example_specified_prompt": specified[0]}


# The runs notebook 05 chooses on validation (full fine-tuning's first epoch, LoRA r8 at lr 3e-3), with the same
# data, settings and validation set, so the weights cache trains each once for the tests and the notebook.
IFT = {"epochs": 1, "batch_size": 16, "learning_rate": 1e-3, "seed": 0}
IFT_LORA = {"epochs": 2, "batch_size": 16, "learning_rate": 3e-3, "lora_rank": 8, "seed": 0}


def instruction_tuning(base, *, progress: bool = False) -> dict:
    """Prompt-only vs full and LoRA fine-tuning on the clause test split (cached runs)."""
    splits = corpus.clause_splits()
    train, val, test = clause_pairs(splits["train_set"]), clause_pairs(splits["val_set"]), splits["test_set"]
    full = local_model.cached_finetune(base, train, val_pairs=val, progress=progress, **IFT)
    lora = local_model.cached_finetune(base, train, val_pairs=val, progress=progress, **IFT_LORA)
    return {"prompt_only": clause_accuracy(base, test), "prompt_only_1shot": clause_accuracy(base, test, splits["train_set"][:1]),
            "full": clause_accuracy(full, test),
            "lora": clause_accuracy(lora, test), "lora_trainable": local_model.count_parameters(lora, trainable=True),
            "general_ppl": {name: local_model.perplexity(m, corpus.general_heldout())
                            for name, m in [("base", base), ("full", full), ("lora", lora)]},
            "params": local_model.count_parameters(base), "n_train": len(train), "n_test": len(test)}


def continued_pretraining(base, *, progress: bool = False) -> dict:
    """Domain and general perplexity before and after continued pre-training, without and with replay (the runs
    of notebook 02, helpers.pretraining)."""
    dom_train, dom_test = corpus.domain_splits()
    general = corpus.general_heldout()
    cpt = pretraining.train(base, pretraining.CPT, dom_train, progress=progress)
    cpt_replay = pretraining.train(base, pretraining.CPT, pretraining.with_replay(dom_train), progress=progress)
    out = {}
    for name, m in [("base", base), ("cpt", cpt), ("cpt_replay", cpt_replay)]:
        out[name] = {"domain_ppl": local_model.perplexity(m, dom_test), "general_ppl": local_model.perplexity(m, general)}
    return out


def main(argv: list[str] | None = None) -> int:
    """Measure every effect on the shipped base model and print them as JSON."""
    from helpers import rag

    argv = sys.argv[1:] if argv is None else argv
    t0 = time.perf_counter()
    base = local_model.load_base()
    v1 = corpus.read_catalog(corpus.DATA / "catalog" / "catalog_v1.csv")
    v2 = corpus.read_catalog(corpus.DATA / "catalog" / "catalog_v2.csv")
    fresh = rag.freshness(base, v1, v2)
    res = {"model": repr(base), "general_heldout_ppl": local_model.perplexity(base, corpus.general_heldout()),
           "prompt_fix": {k: v for k, v in prompt_fix(base).items() if not k.startswith("example")},
           "freshness": {k: v for k, v in fresh.items() if not isinstance(v, list)},
           "instruction_tuning": instruction_tuning(base, progress="--progress" in argv),
           "continued_pretraining": continued_pretraining(base, progress="--progress" in argv)}
    print(json.dumps(res, indent=1))
    print(f"measured in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
