"""Benchmark the local Personalize on MovieLens latest-small: wall time of import, training (with offline
metrics) and GetSolutionMetrics for the four sensitivities, and GetRecommendations latency over HTTP.

Each run starts a fresh endpoint (no shared factorisation from an earlier run); the medians over
the runs are printed and saved to benchmarks/results/personalize.json."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from benchmarks import ML_LATEST_SMALL
from objective_sweep.datasets import prepared
from objective_sweep.datasets.movielens import prepare
from objective_sweep.personalize.server import LocalPersonalize
from objective_sweep.personalize.training import is_test_user

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "personalize.json"
LEVELS = ("OFF", "LOW", "MEDIUM", "HIGH")
BUCKET = "bench-personalize"
RECIPE = "arn:aws:personalize:::recipe/aws-user-personalization"
NDCG10 = "normalized_discounted_cumulative_gain_at_10"


def _wait(describe: Callable[..., Any], key: str, **arguments: str) -> dict[str, Any]:
    while True:
        record: dict[str, Any] = describe(**arguments)[key]
        if record["status"] in ("ACTIVE", "CREATE FAILED"):
            if record["status"] != "ACTIVE":
                raise RuntimeError(f"{key} failed: {record.get('failureReason')}")
            return record
        time.sleep(0.01)


def _objective(level: str) -> Any:
    return {"optimizationObjective": {"itemAttribute": prepared.OBJECTIVE, "objectiveSensitivity": level}}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def one_run(
    s3_url: str, folder: Path, users: list[str], royalties: dict[str, float], requests: int, run: int
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    config = Config(region_name="us-east-1", retries={"mode": "standard"})
    with LocalPersonalize(port=0, s3_endpoint_url=s3_url, status_delay=0.0) as local:
        p = boto3.client("personalize", endpoint_url=local.url, config=config)
        rt = boto3.client("personalize-runtime", endpoint_url=local.url, config=config)
        name = f"bench-{run}"
        group = p.create_dataset_group(name=name)["datasetGroupArn"]
        _wait(p.describe_dataset_group, "datasetGroup", datasetGroupArn=group)
        datasets = {}
        for kind, schema_file in (
            ("Interactions", prepared.INTERACTIONS_SCHEMA_FILE),
            ("Items", prepared.ITEMS_SCHEMA_FILE),
        ):
            schema = p.create_schema(name=f"{name}-{kind}", schema=(folder / schema_file).read_text())[
                "schemaArn"
            ]
            datasets[kind] = p.create_dataset(
                name=f"{name}-{kind}", schemaArn=schema, datasetGroupArn=group, datasetType=kind
            )["datasetArn"]
            _wait(p.describe_dataset, "dataset", datasetArn=datasets[kind])
        started = time.perf_counter()
        jobs = [
            p.create_dataset_import_job(
                jobName=f"{name}-{kind}",
                datasetArn=arn,
                dataSource={"dataLocation": f"s3://{BUCKET}/{file}"},
            )["datasetImportJobArn"]
            for (kind, arn), file in zip(
                datasets.items(), (prepared.INTERACTIONS_FILE, prepared.ITEMS_FILE), strict=True
            )
        ]
        for job in jobs:
            _wait(p.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=job)
        imported = time.perf_counter()
        solutions = [
            p.create_solution(
                name=f"{name}-{level.lower()}",
                datasetGroupArn=group,
                recipeArn=RECIPE,
                performAutoTraining=False,
                solutionConfig=_objective(level),
            )["solutionArn"]
            for level in LEVELS
        ]
        for solution in solutions:
            _wait(p.describe_solution, "solution", solutionArn=solution)
        trained_from = time.perf_counter()
        versions = [p.create_solution_version(solutionArn=s)["solutionVersionArn"] for s in solutions]
        hours = [
            _wait(p.describe_solution_version, "solutionVersion", solutionVersionArn=v)["trainingHours"]
            for v in versions
        ]
        trained = time.perf_counter()
        metrics = {
            level: p.get_solution_metrics(solutionVersionArn=v)["metrics"]
            for level, v in zip(LEVELS, versions, strict=True)
        }
        measured = time.perf_counter()
        campaigns = {
            level: p.create_campaign(name=f"{name}-{level.lower()}", solutionVersionArn=v)["campaignArn"]
            for level, v in zip(LEVELS, versions, strict=True)
        }
        for campaign in campaigns.values():
            _wait(p.describe_campaign, "campaign", campaignArn=campaign)
        latencies = []
        for index in range(requests):
            before = time.perf_counter()
            rt.get_recommendations(campaignArn=campaigns["HIGH"], userId=users[index % len(users)])
            latencies.append(time.perf_counter() - before)
        royalty = {
            level: _mean_royalty_sum(rt, campaign, royalties, users) for level, campaign in campaigns.items()
        }
    timings = {
        "import_seconds": imported - started,
        "train_seconds": trained - trained_from,
        "metrics_seconds": measured - trained,
        "import_train_metrics_seconds": (imported - started) + (measured - trained_from),
        "sum_training_hours_reported": sum(hours),
        "get_recommendations_p50_ms": 1000 * _percentile(latencies, 0.50),
        "get_recommendations_p99_ms": 1000 * _percentile(latencies, 0.99),
    }
    quality = {
        level: {
            **metrics[level],
            "mean_top25_royalty_sum": round(royalty[level], 4),
            "royalty_sum_vs_off": round(royalty[level] / royalty["OFF"], 3),
            "ndcg_at_10_vs_off": round(
                metrics[level][NDCG10] / metrics["OFF"][NDCG10],
                3,
            ),
        }
        for level in LEVELS
    }
    return timings, quality


def _mean_royalty_sum(runtime: Any, campaign: str, royalties: dict[str, float], users: list[str]) -> float:
    """Mean over the evaluated users of the royalty (the negated objective) summed over their top 25."""
    evaluated = [u for u in users if is_test_user(u)]
    total = 0.0
    for user in evaluated:
        items = runtime.get_recommendations(campaignArn=campaign, userId=user, numResults=25)["itemList"]
        total += sum(-royalties[item["itemId"]] for item in items)
    return total / len(evaluated)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    for key, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(key, value)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        s3_url = f"http://{host}:{port}"
        with tempfile.TemporaryDirectory() as scratch:
            data = prepare(ML_LATEST_SMALL, Path(scratch))
            s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
            for file in (prepared.INTERACTIONS_FILE, prepared.ITEMS_FILE):
                s3.upload_file(str(data.path / file), BUCKET, file)
            with (data.path / prepared.INTERACTIONS_FILE).open() as interactions:
                users = sorted({row["USER_ID"] for row in csv.DictReader(interactions)}, key=int)
            with (data.path / prepared.ITEMS_FILE).open() as items:
                royalties = {row["ITEM_ID"]: float(row[prepared.OBJECTIVE]) for row in csv.DictReader(items)}
            outcomes = [
                one_run(s3_url, data.path, users, royalties, args.requests, run) for run in range(args.runs)
            ]
    finally:
        moto.stop()
    runs = [timings for timings, _ in outcomes]
    qualities = [quality for _, quality in outcomes]
    if any(q != qualities[0] for q in qualities):
        raise RuntimeError(
            "runs on the same data gave different metrics or lists: training is not deterministic"
        )
    medians = {key: round(statistics.median(r[key] for r in runs), 4) for key in runs[0]}
    result = {
        "benchmark": "personalize",
        "dataset": f"ml-latest-small prepared: {data.interactions} interactions, {data.users} users, {data.items} items",
        "levels": list(LEVELS),
        "runs": args.runs,
        "requests_per_run": args.requests,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "medians": medians,
        "acceptance": qualities[0],
        "per_run": [{k: round(v, 4) for k, v in r.items()} for r in runs],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["medians"], indent=2))
    print(f"{'level':8}{'NDCG@10':>9}{'vs OFF':>8}{'royalty sum':>13}{'vs OFF':>8}")
    for level, row in qualities[0].items():
        print(
            f"{level:8}{row[NDCG10]:>9.4f}{row['ndcg_at_10_vs_off']:>8.3f}"
            f"{row['mean_top25_royalty_sum']:>13.4f}{row['royalty_sum_vs_off']:>8.3f}"
        )
    print(f"saved {RESULTS.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
