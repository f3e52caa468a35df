"""Cells run out of order say what to run first: the hook's pieces, then notebook cells out of order in a kernel."""
import json

import pytest
from botocore.exceptions import ClientError

from helpers import learner, paths, run_first

NB01 = paths.ROOT / "notebooks" / "01_decision_tree.ipynb"


def test_assigned_names_are_the_top_level_bindings():
    code = ("import numpy as np\nfrom helpers import aws\nx, (y, z) = 1, (2, 3)\nfor i in range(3): pass\n"
            "def f(a):\n    inner = a\nclass C: pass\nw = [k for k in range(3)]\n%time x\n")
    assert run_first.assigned_names(code) == set()  # a magic line: not Python, nothing claimed
    assert run_first.assigned_names(code.replace("%time x\n", "")) == {"np", "aws", "x", "y", "z", "i", "f", "C", "w"}


def test_where_defined_names_the_first_cell_and_its_section():
    notebook = learner.read(NB01)
    where = run_first.where_defined(notebook, "price_list")
    assert where == ("it is set by the cell in section '2.3 Walk through it yourself' that begins "
                     "`price_list = {\"need\": \"knowledge\", \"facts_fit\": \"no\"}`")
    assert run_first.where_defined(notebook, "no_such_variable") is None


def test_explain_finds_the_notebook_from_the_session_or_the_running_cell(tmp_path):
    err = NameError("name 'price_list' is not defined", name="price_list")
    by_session = run_first.explain(err, "", {"JPY_SESSION_NAME": str(NB01)})
    assert by_session.startswith("name 'price_list' is not defined yet: it is set by the cell in section '2.3")
    assert by_session.endswith("Run that cell first (or Run > Run All Above Selected Cell).")
    running = "".join(next(c for c in learner.read(NB01)["cells"] if c.get("id") == "b1076ecc")["source"])
    assert run_first.explain(err, running, {}) == by_session  # no session: the notebook holding the running cell
    assert run_first.explain(NameError("name 'typo' is not defined", name="typo"), running, {}) is None
    assert run_first.explain(KeyError("trainingMetrics"), running, {}) is None  # other errors: shown as always


def test_explain_adds_what_to_run_to_bedrocks_not_ready_error():
    err = ClientError({"Error": {"Code": "ModelNotReadyException", "Message": "Model is not ready for inference."}},
                      "Converse")
    assert "not InService yet: run the cell that waits for it" in run_first.explain(err, "", {})
    assert run_first.explain(run_first.NotReady("job x is InProgress"), "", {}) == "job x is InProgress"
    other = RuntimeError("a library's error")
    other.response = object()  # e.g. an HTTP library's response object: not AWS's error dict
    assert run_first.explain(other, "", {}) is None


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A fresh kernel whose session is notebook 01's learner copy, as JupyterLab would start it."""
    from jupyter_client.manager import start_new_kernel

    copy_path = tmp_path / NB01.name
    learner.write(copy_path, learner.learner_copy(learner.read(NB01)))
    monkeypatch.setenv("JPY_SESSION_NAME", str(copy_path))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def run_cell(client, code: str) -> list[dict]:
    """Execute code; return its error outputs (name, value, traceback)."""
    errors = []

    def keep(msg):
        if msg["msg_type"] == "error":
            errors.append(msg["content"])

    client.execute_interactive(code, output_hook=keep, timeout=120)
    return errors


def test_cells_run_out_of_order_in_a_kernel_say_what_to_run_first(kernel):
    cells = {c["id"]: "".join(c["source"]) for c in learner.read(NB01)["cells"]}
    assert run_cell(kernel, cells["41119ee3"]) == []  # the first cell: imports helpers, which installs the hook
    (error,) = run_cell(kernel, cells["b1076ecc"])  # section 2.3's second cell, before the first
    assert error["ename"] == "NameError"
    assert error["evalue"].startswith("name 'price_list' is not defined yet: it is set by the cell in section "
                                      "'2.3 Walk through it yourself' that begins `price_list = ")
    assert not any("Traceback" in line or "File " in line for line in error["traceback"])  # the message, no trace
    (typo,) = run_cell(kernel, "prize_list")  # a name no cell sets keeps Python's own message and traceback
    assert typo["evalue"] == "name 'prize_list' is not defined" and len(typo["traceback"]) > 1
    job = {"jobArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/nova/abc", "jobName": "lab04",
           "status": "InProgress"}
    (not_ready,) = run_cell(kernel, f"from helpers import aws\naws.require_status({json.dumps(job)}, 'Completed')")
    assert not_ready["ename"] == "NotReady"
    assert not_ready["evalue"] == ("job lab04 is InProgress, not Completed yet: run the cell above that calls "
                                   "aws.wait_for on it first (it waits until the job is done)")
    assert run_cell(kernel, cells["66ec608d"]) == [] and run_cell(kernel, cells["b1076ecc"]) == []  # in order: fine
