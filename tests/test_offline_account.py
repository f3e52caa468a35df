"""helpers.offline.account, the leaf of the emulator: ids and ARNs botocore accepts, and an import graph of
helpers.offline without cycles in which every module imports on its own."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest

from helpers.offline import account

PACKAGE = Path(account.__file__).parent
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")


def offline_imports(module: str) -> set[str]:
    """The helpers.offline modules a module imports anywhere in it (at the top or inside a function)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                found |= {node.module} if node.module else {a.name for a in node.names}
            elif node.module and node.module.startswith("helpers.offline"):
                rest = node.module.removeprefix("helpers.offline").lstrip(".")
                found |= {rest.split(".")[0]} if rest else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[2] for a in node.names if a.name.startswith("helpers.offline.")}
    return found & set(MODULES)


def test_account_is_a_leaf_and_the_import_graph_has_no_cycle():
    graph = {m: offline_imports(m) for m in MODULES}
    assert graph["account"] == set()
    for user in ("service", "training"):
        assert "account" in graph[user]
    assert "service" not in graph["training"] and "service" not in graph["runtime"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join(path + (module,))
        if module not in done:
            for dep in graph[module]:
                visit(dep, path + (module,))
            done.add(module)

    for module in MODULES:
        visit(module, ())


@pytest.mark.parametrize("module", MODULES)
def test_each_offline_module_imports_alone(module):
    proc = subprocess.run([sys.executable, "-c", f"import helpers.offline.{module}"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_ids_are_stable_and_arns_match_botocores_patterns():
    model = botocore.session.get_session().get_service_model("bedrock")
    job_id = account.new_id("job", "us-east-1", "lab-job")
    assert job_id == account.new_id("job", "us-east-1", "lab-job") != account.new_id("job", "us-west-2", "lab-job")
    assert len(job_id) == 12 and all(c in "0123456789abcdef" for c in job_id)
    fm = "amazon.nova-micro-v1:0:128k"
    cases = [
        (account.job_arn("us-east-1", fm, job_id), "GetModelCustomizationJobRequest", "jobIdentifier"),
        (account.custom_model_arn("us-east-1", fm, job_id), "GetCustomModelRequest", "modelIdentifier"),
        (account.fm_arn("us-east-1", fm), "GetFoundationModelRequest", "modelIdentifier"),
        (account.provisioned_model_arn("us-east-1", job_id), "GetProvisionedModelThroughputRequest",
         "provisionedModelId"),
        (account.deployment_arn("us-east-1", job_id), "GetCustomModelDeploymentRequest",
         "customModelDeploymentIdentifier"),
    ]
    for arn, shape, member in cases:
        pattern = model.shape_for(shape).members[member].metadata.get("pattern")
        assert pattern is None or re.fullmatch(pattern, arn), (arn, pattern)
