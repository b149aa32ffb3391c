"""The endpoint as a process component: concurrent callers, clean stop, region-scoped ARNs, the CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from objective_sweep.personalize.server import LocalPersonalize


def test_stop_leaves_no_thread_or_port_behind(s3_endpoint: str, s3_data: dict[str, str], kit: Any) -> None:
    before = set(threading.enumerate())
    local = LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.01).start()
    port = int(local.url.rsplit(":", 1)[1])
    clients = kit.make_clients(local.url)
    group = kit.build_group(clients, "lifecycle", s3_data["interactions"], s3_data["items"])
    kit.train(clients, group, "lifecycle", "HIGH")
    local.stop()
    leftover = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_concurrent_branches_create_and_train_safely(
    endpoint: LocalPersonalize, s3_data: dict[str, str], kit: Any
) -> None:
    clients = kit.make_clients(endpoint.url)
    group = kit.build_group(clients, "concurrent", s3_data["interactions"], s3_data["items"])

    def branch(level: str) -> tuple[str, dict[str, float]]:
        own = kit.make_clients(endpoint.url)
        version = kit.train(own, group, f"concurrent-{level.lower()}", level)
        campaign = kit.deploy(own, f"concurrent-{level.lower()}", version)
        items = own.runtime.get_recommendations(campaignArn=campaign, userId="u3")["itemList"]
        assert own.checker.problems == []
        return campaign, {i["itemId"]: i["score"] for i in items}

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(branch, ("OFF", "LOW", "MEDIUM", "HIGH")))
    assert len({campaign for campaign, _ in results}) == 4
    solutions = clients.personalize.list_solutions(datasetGroupArn=group.arn)["solutions"]
    assert sorted(s["name"] for s in solutions) == [
        f"concurrent-{x}" for x in ("high", "low", "medium", "off")
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        names = list(
            pool.map(lambda i: clients.personalize.create_dataset_group(name=f"burst-{i}"), range(16))
        )
    assert len({n["datasetGroupArn"] for n in names}) == 16


def test_arns_carry_the_callers_region(endpoint: LocalPersonalize, kit: Any) -> None:
    west = kit.make_clients(endpoint.url, region="eu-west-1").personalize
    arn = west.create_dataset_group(name="regional")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:eu-west-1:123456789012:dataset-group/regional"
    assert "regional" in {g["name"] for g in west.list_dataset_groups()["datasetGroups"]}
    east = kit.make_clients(endpoint.url).personalize
    assert "regional" not in {g["name"] for g in east.list_dataset_groups()["datasetGroups"]}


def test_cli_prints_the_url_first_and_serves_with_its_faults(kit: Any) -> None:
    sweep = str(Path(sys.executable).with_name("sweep"))
    faults = '{"throttle": [{"operation": "ListRecipes", "count": 1}]}'
    process = subprocess.Popen(
        [sweep, "personalize", "serve", "--port", "0", "--faults", faults],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        p = kit.make_clients(url).personalize
        with pytest.raises(ClientError, match="ThrottlingException"):
            p.list_recipes()
        assert p.list_recipes()["recipes"]
        # SIGTERM stops it like Ctrl-C: status 143 (docs/cli.md) and one line, no traceback.
        process.terminate()
        _, err = process.communicate(timeout=30)
        assert process.returncode == 143
        assert err == "sweep personalize: terminated (SIGTERM); stopped cleanly\n"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    refused = subprocess.run(
        [sweep, "personalize", "serve", "--faults", '{"fail": [{"resource": "bucket", "name": "x"}]}'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "--faults: fail.resource 'bucket' is not one of" in refused.stderr


def test_a_campaign_serves_its_old_version_until_the_update_is_active(
    endpoint: LocalPersonalize, s3_data: dict[str, str], kit: Any
) -> None:
    clients = kit.make_clients(endpoint.url)
    p, rt = clients.personalize, clients.runtime
    group = kit.build_group(clients, "switch", s3_data["interactions"], s3_data["items"])
    off = kit.train(clients, group, "switch-off", "OFF")
    high = kit.train(clients, group, "switch-high", "HIGH")
    campaign = kit.deploy(clients, "switch", off)
    users = [f"u{i}" for i in range(0, 60, 7)]

    def lists() -> list[list[str]]:
        return [
            [i["itemId"] for i in rt.get_recommendations(campaignArn=campaign, userId=u)["itemList"]]
            for u in users
        ]

    before = lists()
    endpoint.faults.add({"slow": [{"resource": "campaign", "name": "switch", "seconds": 60}]})
    try:
        p.update_campaign(campaignArn=campaign, solutionVersionArn=high)
        during = lists()
        assert (
            p.describe_campaign(campaignArn=campaign)["campaign"]["latestCampaignUpdate"]["status"]
            != "ACTIVE"
        )
    finally:
        endpoint.faults.clear()
    kit.wait_until(p.describe_campaign, "campaign.latestCampaignUpdate", campaignArn=campaign)
    after = lists()
    assert during == before
    assert after != before

    endpoint.faults.add(
        {"fail": [{"resource": "campaign", "name": "switch", "reason": "Injected: update fails"}]}
    )
    try:
        p.update_campaign(campaignArn=campaign, solutionVersionArn=off)
        update = kit.wait_until(p.describe_campaign, "campaign.latestCampaignUpdate", campaignArn=campaign)
    finally:
        endpoint.faults.clear()
    assert (update["status"], update["failureReason"]) == ("CREATE FAILED", "Injected: update fails")
    described = p.describe_campaign(campaignArn=campaign)["campaign"]
    assert (described["status"], described["solutionVersionArn"]) == ("ACTIVE", high)
    assert lists() == after
