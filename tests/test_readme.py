"""The README's recipes, run as written: the lines of its shared-offline-account block are read from README.md
(so the test and the text cannot drift) and run against a server on a free port of 127.0.0.1."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import ROOT

SECTION = "## One offline account for the AWS CLI, scripts and every kernel"
DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens on the discard port: a call sent through it fails


def readme_section(heading: str = SECTION) -> str:
    """Return the text of one README section, from its heading to the next one."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert heading in text, f"README.md has no section {heading!r}"
    return re.split(r"\n## ", text.split(heading, 1)[1], maxsplit=1)[0]


def recipe_lines(section: str) -> list[str]:
    """Return the commands of the section's bash block (comments and blank lines left out)."""
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the section has no ```bash block"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.lstrip().startswith("#")]


def assignments(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split leading NAME=value words from a command: (environment, the rest)."""
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    return env, words


class Recipe:
    """The README's lines, sorted into what each terminal runs, with the README's port replaced by `port`."""

    def __init__(self, section: str, port: int):
        lines = recipe_lines(section)
        server = next(line for line in lines if "helpers offline-aws" in line)
        self.readme_port = re.search(r"--port (\d+)", server).group(1)
        lines = [line.replace(self.readme_port, str(port)) for line in lines]
        # `. .venv/bin/activate && python ...`: this test's interpreter stands in for the activated .venv
        self.server = shlex.split(next(line for line in lines if "helpers offline-aws" in line).split("&&")[-1])
        assert self.server[:3] == ["python", "-m", "helpers"], self.server
        self.server[0] = sys.executable
        exports = [shlex.split(line) for line in lines if line.startswith("export ")]
        assert len(exports) == 1, f"expected one export line, found {len(exports)}"
        self.shell_env, rest = assignments(exports[0][1:])
        assert not rest, f"export line has more than NAME=value words: {rest}"
        self.cli = [shlex.split(line) for line in lines if line.startswith("aws ")]
        lab = [assignments(shlex.split(line)) for line in lines if line.rstrip().endswith("make lab")]
        assert len(lab) == 1 and lab[0][1] == ["make", "lab"], lab
        self.kernel_env = lab[0][0]
        banner = re.search(r"prints `(offline endpoint: [^`]+)`", section)
        assert banner, "the section no longer quotes the line a kernel prints"
        self.banner = banner.group(1).replace(self.readme_port, str(port))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A learner's fresh shell: no AWS settings of this machine, the lab's variables pointing at scratch folders."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "LAB_AWS")) and k.lower() not in ("http_proxy", "https_proxy", "no_proxy")}
    env.update(LAB_STATE_DIR=str(tmp_path / "state"), LAB_CACHE_DIR=str(tmp_path / "cache"),
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
    env.update(extra)
    return env


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert done.returncode == 0, f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def served(tmp_path):
    """The README's server command, on a free port; yields (Recipe, URL) and stops the server afterwards."""
    port = free_port()
    recipe = Recipe(readme_section(), port)
    proc = subprocess.Popen(recipe.server, cwd=ROOT, env=clean_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        started = first.rstrip().endswith(f" on http://127.0.0.1:{port}")
        assert started, (first, proc.stderr.read() if proc.poll() is not None else "")
        yield recipe, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


BUCKETS = "print(sorted(b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']))"


def test_readme_shares_one_offline_account_between_terminal_and_kernels(served, tmp_path):
    recipe, url = served
    assert recipe.shell_env["AWS_ENDPOINT_URL"] == recipe.kernel_env["AWS_ENDPOINT_URL"] == url
    shell = clean_env(tmp_path, **recipe.shell_env)
    # terminal 2, a plain boto3 script with only the exported variables: a bucket of its own
    made = "import boto3\nboto3.client('s3').create_bucket(Bucket='made-in-terminal-2')\n"
    run([sys.executable, "-c", made + BUCKETS], shell)
    # terminal 3's `make lab` hands the variable on to JupyterLab (and so to its kernels): it does not unset it
    shown = subprocess.run(["make", "-n", "lab"], capture_output=True, text=True, cwd=ROOT, timeout=60).stdout
    lab_command = next(line for line in shown.splitlines() if "jupyter lab" in line)
    assert "AWS_ENDPOINT_URL" not in lab_command, lab_command
    # a kernel of that JupyterLab (only the variable the README sets, behind a proxy that answers nothing)
    kernel = clean_env(tmp_path, **recipe.kernel_env, HTTP_PROXY=DEAD_PROXY, HTTPS_PROXY=DEAD_PROXY)
    code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
            "boto3.client('s3', region_name='us-east-1').create_bucket(Bucket='made-in-a-kernel')\n" + BUCKETS)
    lines = run([sys.executable, "-c", code], kernel).stdout.splitlines()
    assert lines[0] == recipe.banner
    assert lines[-1] == "['made-in-a-kernel', 'made-in-terminal-2']"
    # a kernel started without the variable keeps a bucket of its own, which the server never sees
    alone = clean_env(tmp_path)
    code = ("import boto3\nfrom helpers import aws\naws.activate()\n"
            "boto3.client('s3', region_name='us-east-1').create_bucket(Bucket='kernel-only')\n" + BUCKETS)
    assert run([sys.executable, "-c", code], alone).stdout.splitlines()[-1] == "['kernel-only']"
    listed = run([sys.executable, "-c", f"import boto3\n{BUCKETS}"], shell).stdout.splitlines()[-1]
    assert listed == "['made-in-a-kernel', 'made-in-terminal-2']"


def aws_cli() -> str | None:
    """The AWS CLI on PATH, if any: it is not one of the lab's dependencies (the README says how to install it)."""
    return shutil.which("aws")


@pytest.mark.skipif(aws_cli() is None, reason="the AWS CLI is not installed (python3 -m venv .venv-awscli && "
                                               ".venv-awscli/bin/pip install awscli, then put .venv-awscli/bin on PATH)")
def test_readme_aws_cli_commands_run_against_the_server(served, tmp_path):
    recipe, url = served
    assert recipe.cli, "the README's block has no aws command"
    shell = clean_env(tmp_path, **recipe.shell_env)
    run([sys.executable, "-c", "import boto3\nboto3.client('s3').create_bucket(Bucket='seen-by-the-cli')"], shell)
    outputs = {shlex.join(argv): run([aws_cli(), *argv[1:]], shell).stdout for argv in recipe.cli}
    assert "seen-by-the-cli" in outputs["aws s3 ls"]
    assert '"modelSummaries": []' in outputs["aws bedrock list-custom-models"]
    # without the Region the README exports, the AWS CLI stops before it sends anything
    no_region = {k: v for k, v in shell.items() if k != "AWS_DEFAULT_REGION"}
    done = subprocess.run([aws_cli(), "bedrock", "list-custom-models"], capture_output=True, text=True,
                          env=no_region, timeout=120)
    assert done.returncode != 0 and "You must specify a region" in done.stderr
