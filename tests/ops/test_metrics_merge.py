"""The merged page of a multi-process server, on real exposition text of real Telemetry pages."""

from __future__ import annotations

from lightningstor_api.metrics import Gauges, Metrics
from lightningstor_api.metrics_merge import merge_pages
from lightningstor_api.telemetry import PRIMARY_ONLY_GAUGES, Telemetry
from lightningstor_types.service import RequestRecord
from tests.ops.test_observability import sample


def _page(gets: int, puts: int, gauges: Gauges | None = None, miss: int = 0) -> bytes:
    """A worker's page after ``gets`` 4 KiB GETs (1 ms each) and ``puts`` failed PUTs."""
    metrics = Metrics()
    if gauges is not None:
        metrics.gauges = gauges
    for _ in range(gets):
        metrics.record(RequestRecord("s3", "GetObject", 200, 0.001, bytes_out=4096))
    for _ in range(puts):
        metrics.record(RequestRecord("s3", "PutObject", 403, 0.02, error_code="AccessDenied"))
    for _ in range(miss):
        metrics.iam_decision(cache_hit=False, allowed=True, seconds=0.003)
    telemetry = Telemetry(metrics)
    try:
        return telemetry.page_bytes()
    finally:
        telemetry.close()


STORE = Gauges(objects=7, storage_bytes=28672, uploads_active=1, gc_backlog=2)


def _lines(page: str, name: str) -> list[str]:
    return [line for line in page.splitlines() if line.split("{")[0].split(" ")[0] == name]


def test_counters_and_histograms_are_summed_by_name_and_labels() -> None:
    merged = merge_pages(
        _page(3, 0, STORE), [_page(4, 2, Gauges(objects=99)), _page(0, 1, miss=5)],
        PRIMARY_ONLY_GAUGES,
    ).decode()  # fmt: skip
    get = {"api": "s3", "operation": "GetObject", "status": "2xx"}
    put = {"api": "s3", "operation": "PutObject", "status": "4xx"}
    assert sample(merged, "lightningstor_requests_total", **get) == 7
    assert sample(merged, "lightningstor_requests_total", **put) == 3
    assert sample(merged, "lightningstor_s3_errors_total", code="AccessDenied") == 3
    assert sample(merged, "lightningstor_transfer_bytes_total", direction="out") == 7 * 4096
    # every histogram series: buckets, count and sum
    assert sample(merged, "lightningstor_request_duration_seconds_bucket", le="0.001", **get) == 7
    assert sample(merged, "lightningstor_request_duration_seconds_bucket", le="0.01", **put) == 0
    assert sample(merged, "lightningstor_request_duration_seconds_bucket", le="0.025", **put) == 3
    assert sample(merged, "lightningstor_request_duration_seconds_count", **get) == 7
    assert abs(sample(merged, "lightningstor_request_duration_seconds_sum", **put) - 0.06) < 1e-9
    assert sample(merged, "lightningstor_object_size_bytes_bucket", le="4096.0") == 7
    assert sample(merged, "lightningstor_iam_decisions_total", cache="miss", decision="allow") == 5
    assert sample(merged, "lightningstor_iam_decision_duration_seconds_count") == 5
    # one line per series, not one per worker
    assert len(_lines(merged, "lightningstor_requests_total")) == 2
    assert merged.count("# TYPE lightningstor_requests_total counter") == 1


def test_store_gauges_and_target_info_come_from_worker_0_alone() -> None:
    merged = merge_pages(
        _page(1, 0, STORE), [_page(1, 0, Gauges(objects=99, storage_bytes=1))], PRIMARY_ONLY_GAUGES
    ).decode()
    assert _lines(merged, "lightningstor_objects") == ["lightningstor_objects 7.0"]
    assert sample(merged, "lightningstor_storage_bytes") == 28672
    assert sample(merged, "lightningstor_multipart_uploads_active") == 1
    assert sample(merged, "lightningstor_gc_backlog") == 2
    assert len(_lines(merged, "target_info")) == 1  # its labels name one process: not summed


def test_other_gauges_are_summed_as_process_local() -> None:
    merged = merge_pages(
        _page(0, 0, STORE), [_page(0, 0, Gauges(objects=5))], PRIMARY_ONLY_GAUGES - {
            "lightningstor_objects"
        },
    ).decode()  # fmt: skip
    assert sample(merged, "lightningstor_objects") == 12


def test_without_worker_0_the_page_has_the_others_counts_and_no_store_gauges() -> None:
    merged = merge_pages(None, [_page(2, 0, STORE), _page(3, 0)], PRIMARY_ONLY_GAUGES).decode()
    get = {"api": "s3", "operation": "GetObject", "status": "2xx"}
    assert sample(merged, "lightningstor_requests_total", **get) == 5
    assert _lines(merged, "lightningstor_objects") == []
    assert _lines(merged, "target_info") == []


def test_a_series_on_one_page_only_is_kept() -> None:
    merged = merge_pages(_page(0, 0, STORE), [_page(0, 2)], PRIMARY_ONLY_GAUGES).decode()
    put = {"api": "s3", "operation": "PutObject", "status": "4xx"}
    assert sample(merged, "lightningstor_requests_total", **put) == 2
    assert sample(merged, "lightningstor_objects") == 7


def test_family_names_follow_prometheus_conventions() -> None:
    """A counter ends in ``_total``, nothing else does; a count since start is a counter."""
    import re

    metrics = Metrics()
    metrics.gauges = Gauges(
        objects=1, storage_bytes=2, uploads_active=0, gc_backlog=0,
        repair_backlog=0, repair_restored=3, repair_lost=1,
    )  # fmt: skip
    page = Telemetry(metrics).page_bytes().decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", page, re.MULTILINE))
    for name, kind in types.items():
        assert name.endswith("_total") == (kind == "counter"), (name, kind)
    assert types["lightningstor_repair_replicas_restored_total"] == "counter"
    assert types["lightningstor_repair_chunks_lost_total"] == "counter"
    assert sample(page, "lightningstor_objects") == 1
