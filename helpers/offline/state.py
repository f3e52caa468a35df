"""The offline account's Bedrock state on disk, shared by every kernel and server on this machine.

One JSON document under a file lock: each request reads it, changes it and writes it back atomically,
so a custom model trained in one notebook is found by another. Custom model weights live next to it,
never in the learner's bucket (Bedrock keeps them in AWS-managed storage too).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Iterator

from helpers.paths import state_dir

EMPTY = {"jobs": {}, "models": {}, "throughputs": {}, "deployments": {}, "tags": {}, "tokens": {}}


class Store:
    """A JSON document guarded by an exclusive file lock (processes) and a mutex (threads)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else state_dir()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "bedrock.json"
        self._mutex = threading.RLock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[dict]:
        """Yield the document; whatever the block leaves in it is written back when it ends without error."""
        with self._mutex, open(self.root / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                doc = self._load()
                before = json.dumps(doc, sort_keys=True)
                yield doc
                if json.dumps(doc, sort_keys=True) != before:
                    self._save(doc)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def model_dir(self, model_key: str) -> Path:
        """Return where a custom model's weights are kept."""
        return self.root / "custom-models" / model_key

    def _load(self) -> dict:
        if not self.path.exists():
            return json.loads(json.dumps(EMPTY))
        with open(self.path, encoding="utf-8") as f:
            doc = json.load(f)
        return {**json.loads(json.dumps(EMPTY)), **doc}

    def _save(self, doc: dict) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)
