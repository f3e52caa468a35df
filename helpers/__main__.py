"""Command line of the lab: `python -m helpers SUBCOMMAND ...` (run it without one for the list)."""
from __future__ import annotations

import importlib
import os
import sys

# subcommand -> ("module:function", one-line help). Each function takes the remaining arguments and
# returns an exit code; modules are imported only when their subcommand runs, so `--help` stays fast.
COMMANDS = {
    "check-data": ("helpers.formats:main_check_data", "check a JSONL file against a model's data rules"),
    "offline-aws": ("helpers.offline.server:main", "serve the offline AWS stand-in on 127.0.0.1"),
    "teardown": ("helpers.aws:main_teardown", "delete everything the lab created (throughput first)"),
    "run-aws-sample": ("helpers.aws_samples:main", "run AWS's Bedrock sample notebooks against the offline account"),
    "learner-copies": ("helpers.learner:main_copies", "make your copies of the notebooks (never overwrites one)"),
    "refresh": ("helpers.learner:main_refresh", "replace your copy of one notebook with a fresh one (keeps a backup)"),
    "build-base-model": ("helpers.local_model:main_build_base", "build the shipped base checkpoint"),
}


def usage() -> str:
    """Return the list of subcommands."""
    lines = ["usage: python -m helpers SUBCOMMAND [ARGS...]", "", "subcommands:"]
    lines += [f"  {name:<18} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a subcommand and return its exit code (2 for a usage error)."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"unknown subcommand {argv[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, func_name = COMMANDS[argv[0]][0].split(":")
    try:
        code = int(getattr(importlib.import_module(module_name), func_name)(argv[1:]) or 0)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`... | head -1`): not an error of the lab's; stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, the shell's code for a command whose output pipe was closed
    return code


if __name__ == "__main__":
    sys.exit(main())
