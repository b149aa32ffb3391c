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
from support.personalize import build_group, deploy, make_clients, train, wait_until
from support.poll import poll

from objective_sweep.personalize.server import LocalPersonalize


def test_stop_leaves_no_thread_or_port_behind(s3_endpoint: str, s3_data: dict[str, str]) -> None:
    before = set(threading.enumerate())
    local = LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.01).start()
    port = int(local.url.rsplit(":", 1)[1])
    clients = make_clients(local.url)
    group = build_group(clients, "lifecycle", s3_data["interactions"], s3_data["items"])
    train(clients, group, "lifecycle", "HIGH")
    local.stop()
    leftover = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
    assert leftover == []
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))


def test_concurrent_branches_create_and_train_safely(
    endpoint: LocalPersonalize, s3_data: dict[str, str]
) -> None:
    clients = make_clients(endpoint.url)
    group = build_group(clients, "concurrent", s3_data["interactions"], s3_data["items"])

    def branch(level: str) -> tuple[str, dict[str, float]]:
        own = make_clients(endpoint.url)
        version = train(own, group, f"concurrent-{level.lower()}", level)
        campaign = deploy(own, f"concurrent-{level.lower()}", version)
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


def test_arns_carry_the_callers_region(endpoint: LocalPersonalize) -> None:
    west = make_clients(endpoint.url, region="eu-west-1").personalize
    arn = west.create_dataset_group(name="regional")["datasetGroupArn"]
    assert arn == "arn:aws:personalize:eu-west-1:123456789012:dataset-group/regional"
    assert "regional" in {g["name"] for g in west.list_dataset_groups()["datasetGroups"]}
    east = make_clients(endpoint.url).personalize
    assert "regional" not in {g["name"] for g in east.list_dataset_groups()["datasetGroups"]}


# Starts the installed command twice (each a fresh interpreter importing the training stack).
@pytest.mark.slow
def test_cli_prints_the_url_first_and_serves_with_its_faults() -> None:
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
        p = make_clients(url).personalize
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
    endpoint: LocalPersonalize, s3_data: dict[str, str]
) -> None:
    clients = make_clients(endpoint.url)
    p, rt = clients.personalize, clients.runtime
    group = build_group(clients, "switch", s3_data["interactions"], s3_data["items"])
    off = train(clients, group, "switch-off", "OFF")
    high = train(clients, group, "switch-high", "HIGH")
    campaign = deploy(clients, "switch", off)
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
    wait_until(p.describe_campaign, "campaign.latestCampaignUpdate", campaignArn=campaign)
    after = lists()
    assert during == before
    assert after != before

    endpoint.faults.add(
        {"fail": [{"resource": "campaign", "name": "switch", "reason": "Injected: update fails"}]}
    )
    try:
        p.update_campaign(campaignArn=campaign, solutionVersionArn=off)
        update = wait_until(p.describe_campaign, "campaign.latestCampaignUpdate", campaignArn=campaign)
    finally:
        endpoint.faults.clear()
    assert (update["status"], update["failureReason"]) == ("CREATE FAILED", "Injected: update fails")
    described = p.describe_campaign(campaignArn=campaign)["campaign"]
    assert (described["status"], described["solutionVersionArn"]) == ("ACTIVE", high)
    assert lists() == after


def _raw(url: str, request: bytes, *, half_close: bool = True, wait: float = 5) -> bytes:
    """Send bytes as they are (no client library to tidy them up); the server's whole answer."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=wait) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def _fault_post(content_type: str, host: str, body: bytes = b'{"throttle": [{"operation": "*"}]}') -> bytes:
    return (
        f"POST /_local/faults HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    ("content_type", "host", "status"),
    [
        ("text/plain", "127.0.0.1", b"403"),  # what a cross-site form or a "simple" fetch can send
        ("application/x-www-form-urlencoded", "localhost:9", b"403"),
        ("application/json", "attacker.example", b"403"),  # a page reaching 127.0.0.1 by DNS rebinding
        ("application/json", "127.0.0.1.attacker.example:80", b"403"),
        ("application/json; charset=utf-8", "[::1]:4566", b"200"),
        ("application/json", "LOCALHOST", b"200"),
    ],
)
def test_the_fault_route_takes_only_json_addressed_to_a_loopback_name(
    endpoint: LocalPersonalize, content_type: str, host: str, status: bytes
) -> None:
    try:
        answer = _raw(endpoint.url, _fault_post(content_type, host))
        assert answer.split(b" ", 2)[1] == status, answer
        assert bool(endpoint.faults.describe()["throttle"]) == (status == b"200")
    finally:
        endpoint.faults.clear()
    refused = _raw(
        endpoint.url, b"GET /_local/faults HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"
    )
    assert refused.startswith(b"HTTP/1.1 403")


@pytest.mark.parametrize("length", [b"abc", b"-5", b"+5", b" ", b"1_0", "\u0665".encode()])
@pytest.mark.parametrize("path", [b"/", b"/recommendations", b"/_local/faults"])
def test_a_malformed_content_length_gets_400(endpoint: LocalPersonalize, length: bytes, path: bytes) -> None:
    request = (
        b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"X-Amz-Target: AmazonPersonalize.ListRecipes\r\nContent-Length: " + length + b"\r\n\r\n{}"
    )
    answer = _raw(endpoint.url, request)
    assert answer.startswith(b"HTTP/1.1 400"), answer


def test_a_body_shorter_than_its_content_length_gets_400(endpoint: LocalPersonalize) -> None:
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AmazonPersonalize.ListRecipes\r\n"
        b"Content-Length: 100\r\n\r\n{}"
    )
    assert _raw(endpoint.url, request).startswith(b"HTTP/1.1 400")


def test_a_stalled_client_is_disconnected(s3_endpoint: str) -> None:
    with LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, client_timeout=0.3) as local:
        before = threading.active_count()
        stalled = [
            b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{",  # mid-body
            b"POST / HTTP/1.1\r\nHost: 1",  # mid-headers
            b"",  # connected, then silent
        ]
        with ThreadPoolExecutor(max_workers=len(stalled)) as pool:
            answers = list(pool.map(lambda r: _raw(local.url, r, half_close=False), stalled))
        # The server hung up on each (recv saw the end) long before the client's own 5 s timeout.
        assert [a.startswith(b"HTTP/1.1 200") for a in answers] == [False] * len(stalled)
        poll(threading.active_count, lambda count: count <= before, timeout=5, interval=0.05)


def test_computing_means_an_import_is_parsing_not_an_injected_delay(
    s3_endpoint: str, s3_data: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local cloud's clock runs at real speed while computing() is True (docs/local-cloud.md)."""
    from objective_sweep.personalize import imports

    parsing, release = threading.Event(), threading.Event()
    real_read = imports.read_s3_location

    def held_read(*args: Any, **kwargs: Any) -> Any:
        parsing.set()
        release.wait(30)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(imports, "read_s3_location", held_read)
    with LocalPersonalize(port=0, s3_endpoint_url=s3_endpoint, status_delay=0.01) as local:
        local.faults.add({"slow": [{"resource": "datasetImportJob", "seconds": 1}]})
        clients = make_clients(local.url)
        assert not local.computing()
        group = build_group(clients, "computing", s3_data["few"], None, wait=False)
        job = clients.personalize.list_dataset_import_jobs(datasetArn=group.interactions)
        [arn] = [j["datasetImportJobArn"] for j in job["datasetImportJobs"]]
        # In progress, held by the injected delay: nothing computes.
        wait_until(
            clients.personalize.describe_dataset_import_job,
            "datasetImportJob",
            done=("CREATE IN_PROGRESS",),
            datasetImportJobArn=arn,
        )
        assert not parsing.is_set()
        assert not local.computing()
        assert parsing.wait(30)
        assert local.computing()
        release.set()
        record = wait_until(
            clients.personalize.describe_dataset_import_job, "datasetImportJob", datasetImportJobArn=arn
        )
        assert record["status"] == "ACTIVE", record.get("failureReason")
        assert not local.computing()
