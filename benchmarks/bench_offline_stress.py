"""A workshop's load on one shared `offline-aws`: 8 concurrent clients x 50 mixed calls, then list latency as the
account grows from 40 to 400 jobs.

Starts `python -m helpers offline-aws --port 0` on 127.0.0.1 in a scratch state and weights cache (removed at the
end), so the identical jobs of the 8 clients really race to train and cache the same model. Each client creates
2 jobs (each sent twice with the same clientRequestToken, as a retry would) and mixes in gets, lists, tags, S3
reads and writes, converse and invoke_model. Prints: failed calls, failed/lost/duplicated jobs, latency p50/p95.
Then it adds Completed job records (copies of a real one) to the shared state until the account holds 40 and
400 jobs, and prints the p50 of list_model_customization_jobs at each size. Bounded: every wait has a deadline,
and the server is stopped at the end. Asserts nothing; exit 1 if a job failed or was lost or duplicated.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLIENTS, CALLS, JOBS_PER_CLIENT = 8, 50, 2
DEADLINE = 600.0  # seconds for the whole run
NOVA = "amazon.nova-micro-v1:0:128k"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "bedrock.amazonaws.com"}}]}


def start_server(scratch: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(LAB_STATE_DIR=str(scratch / "state"), LAB_CACHE_DIR=str(scratch / "cache"),
               LAB_OFFLINE_TIME_SCALE="0.1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "offline-aws", "--port", "0"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split(" on ")[-1].strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"offline-aws did not start: {proc.stderr.read()}")
    return proc, url


def client(service: str, url: str):
    import boto3
    from botocore.config import Config
    return boto3.client(service, region_name="us-east-1", endpoint_url=url, aws_access_key_id="testing",
                        aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}, read_timeout=120, connect_timeout=10))


def training_data(n: int = 40) -> bytes:
    from helpers import corpus, formats
    rows = corpus.clause_splits()["train_set"][:n]
    return "\n".join(json.dumps(formats.make_record(corpus.clause_prompt(r["text"]), corpus.clause_completion(r["label"]),
                                                    "bedrock-conversation-2024")) for r in rows).encode() + b"\n"


def run_client(n: int, url: str, role: str, latencies: list, errors: list, arns: dict, start: threading.Barrier):
    """One learner's kernel: CALLS calls, JOBS_PER_CLIENT jobs among them (each create sent twice)."""
    bedrock, rt, s3 = client("bedrock", url), client("bedrock-runtime", url), client("s3", url)
    hello = [{"role": "user", "content": [{"text": "hello"}]}]
    mine: list[str] = []

    def create(j: int):
        name = f"stress-{n}-{j}"
        arn = bedrock.create_model_customization_job(
            jobName=name, customModelName=f"{name}-model", roleArn=role, baseModelIdentifier=NOVA,
            clientRequestToken=f"token-{name}", trainingDataConfig={"s3Uri": "s3://stress-data/train.jsonl"},
            outputDataConfig={"s3Uri": f"s3://stress-data/out/{name}/"}, hyperParameters={"epochCount": "1"})["jobArn"]
        if name in arns and arns[name] != arn:
            errors.append(f"{name}: a retried create answered {arn}, not {arns[name]}")
        arns[name] = arn
        if arn not in mine:
            mine.append(arn)

    mixed = [
        ("get job", lambda: bedrock.get_model_customization_job(jobIdentifier=mine[-1]) if mine else None),
        ("list jobs", lambda: bedrock.list_model_customization_jobs(maxResults=50)),
        ("list models", lambda: bedrock.list_custom_models()),
        ("list foundation models", lambda: bedrock.list_foundation_models(byCustomizationType="FINE_TUNING")),
        ("tags", lambda: bedrock.list_tags_for_resource(resourceARN=mine[-1]) if mine else None),
        ("s3 put+get", lambda: (s3.put_object(Bucket="stress-data", Key=f"notes/{n}.txt", Body=b"x" * 2048),
                                s3.get_object(Bucket="stress-data", Key=f"notes/{n}.txt")["Body"].read())),
        ("converse", lambda: rt.converse(modelId="amazon.nova-micro-v1:0", messages=hello,
                                         inferenceConfig={"maxTokens": 4})),
        ("invoke_model", lambda: rt.invoke_model(modelId="amazon.nova-micro-v1:0", body=json.dumps(
            {"messages": hello, "inferenceConfig": {"maxTokens": 4}}))["body"].read()),
    ]
    plan = []
    for i in range(CALLS):
        j = i * JOBS_PER_CLIENT // CALLS
        if i % (CALLS // JOBS_PER_CLIENT) in (0, 1):  # the create, then its retry
            plan.append(("create job", lambda j=j: create(j)))
        else:
            plan.append(mixed[(i + n) % len(mixed)])
    start.wait()
    for what, call in plan:
        t0 = time.perf_counter()
        try:
            call()
        except Exception as exc:  # counted and shown: the benchmark is about these
            errors.append(f"client {n} {what}: {type(exc).__name__}: {exc}")
        latencies.append((what, time.perf_counter() - t0))


def all_jobs(bedrock) -> list[dict]:
    out, token = [], None
    while True:
        page = bedrock.list_model_customization_jobs(maxResults=100, **({"nextToken": token} if token else {}))
        out += page["modelCustomizationJobSummaries"]
        token = page.get("nextToken")
        if not token:
            return out


def seed_jobs(state: Path, total: int) -> None:
    """Add Completed copies of a real job record until the shared state holds `total` jobs."""
    from helpers.offline.state import Store
    with Store(state).transaction() as doc:
        model = next(j for j in doc["jobs"].values() if j["status"] == "Completed")
        for i in range(len(doc["jobs"]), total):
            arn = model["jobArn"].rsplit("/", 1)[0] + f"/seed{i:08d}"
            doc["jobs"][arn] = {**model, "jobArn": arn, "jobName": f"seed-{i}", "id": f"seed{i:08d}",
                                "clientRequestToken": None}
            doc["tags"][arn] = []


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-stress-") as tmp:
        scratch = Path(tmp)
        proc, url = start_server(scratch)
        try:
            return measure(scratch, url, started)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def measure(scratch: Path, url: str, started: float) -> int:
    s3, iam, bedrock = client("s3", url), client("iam", url), client("bedrock", url)
    s3.create_bucket(Bucket="stress-data")
    s3.put_object(Bucket="stress-data", Key="train.jsonl", Body=training_data())
    role = iam.create_role(RoleName="StressRole", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]

    latencies: list = []
    errors: list[str] = []
    arns: dict[str, str] = {}
    barrier = threading.Barrier(CLIENTS)
    threads = [threading.Thread(target=run_client, args=(n, url, role, latencies, errors, arns, barrier), daemon=True)
               for n in range(CLIENTS)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, DEADLINE - (time.monotonic() - started)))
    wall = time.perf_counter() - t0

    expected = CLIENTS * JOBS_PER_CLIENT
    while time.monotonic() - started < DEADLINE:
        jobs = all_jobs(bedrock)
        if len(jobs) >= expected and all(j["status"] in ("Completed", "Failed", "Stopped") for j in jobs):
            break
        time.sleep(0.5)
    jobs = all_jobs(bedrock)
    names = [j["jobName"] for j in jobs]
    failed = [j["jobName"] for j in jobs if j["status"] != "Completed"]
    lost = sorted(set(arns) - set(names))
    duplicated = sorted({n for n in names if names.count(n) > 1})
    seconds = [s for _, s in latencies]
    print(f"offline-aws stress: {CLIENTS} clients x {CALLS} mixed calls = {len(latencies)} calls in {wall:.1f} s; "
          f"{len(errors)} failed calls")
    for line in errors[:10]:
        print(f"  ! {line[:300]}")
    print(f"jobs: {len(arns)} created (each create sent twice), {len(jobs)} listed; {len(failed)} not Completed "
          f"{failed[:5]}, {len(lost)} lost, {len(duplicated)} duplicated")
    print(f"latency over all calls: p50 {p(seconds, 50) * 1000:.0f} ms, p95 {p(seconds, 95) * 1000:.0f} ms")
    for what in sorted({w for w, _ in latencies}):
        mine = [s for w, s in latencies if w == what]
        print(f"  {what:<24} n={len(mine):<4} p50 {p(mine, 50) * 1000:6.0f} ms   p95 {p(mine, 95) * 1000:6.0f} ms")

    print("list_model_customization_jobs on an idle server, 20 calls each (p50):")
    p50s: dict[tuple[int, int], float] = {}
    for total in (40, 400):
        seed_jobs(scratch / "state", total)
        for page in (40, 100):  # the same 40 summaries at both sizes, and the default page of up to 100
            timings = []
            for _ in range(20):
                t = time.perf_counter()
                bedrock.list_model_customization_jobs(maxResults=page)
                timings.append(time.perf_counter() - t)
            p50s[total, page] = p(timings, 50)
        print(f"  {total:>3} jobs in the account: p50 {p50s[total, 40] * 1000:.1f} ms for a page of 40, "
              f"{p50s[total, 100] * 1000:.1f} ms for a page of up to 100")
    print(f"  400 vs 40 jobs, same page of 40: x{p50s[400, 40] / p50s[40, 40]:.2f} (the JSON-file store measured "
          "400 -> 1,500 ms from 40 to 120 jobs in issue 9)")
    return 1 if failed or lost or duplicated else 0


if __name__ == "__main__":
    sys.exit(main())
