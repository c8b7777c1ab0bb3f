"""Bucket lifecycle configuration over S3 (boto3 and the AWS CLI's XML): set, read, delete, and
every configuration S3 refuses, refused with S3's error and nothing changed."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.awscli import AWS, aws_env

RULES: list[dict[str, Any]] = [
    {
        "ID": "logs",
        "Status": "Enabled",
        "Filter": {"Prefix": "logs/"},
        "Expiration": {"Days": 30},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3},
    },
    {
        "ID": "tmp-big",
        "Status": "Disabled",
        "Filter": {
            "And": {
                "Prefix": "tmp/",
                "Tags": [{"Key": "kind", "Value": "scratch"}, {"Key": "team", "Value": "a"}],
                "ObjectSizeGreaterThan": 1024,
                "ObjectSizeLessThan": 1048576,
            }
        },
        "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
    },
    {
        "ID": "markers",
        "Status": "Enabled",
        "Filter": {"Tag": {"Key": "a", "Value": "b"}},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
    },
    {
        "ID": "dm",
        "Status": "Enabled",
        "Filter": {"ObjectSizeGreaterThan": 10},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
    },
]


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_get_delete_round_trip(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert _code(none) == "NoSuchLifecycleConfiguration"
    assert none.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": RULES})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "tmp-big", "markers", "dm"]
    assert got[0]["Filter"] == {"Prefix": "logs/"}
    assert got[0]["Expiration"] == {"Days": 30}
    assert got[0]["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": 7,
        "NewerNoncurrentVersions": 2,
    }
    assert got[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 3}
    assert got[1]["Status"] == "Disabled"
    and_ = got[1]["Filter"]["And"]
    assert and_["Prefix"] == "tmp/"
    assert and_["Tags"] == RULES[1]["Filter"]["And"]["Tags"]
    assert (and_["ObjectSizeGreaterThan"], and_["ObjectSizeLessThan"]) == (1024, 1048576)
    assert got[1]["Expiration"]["Date"] == dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    assert got[2]["Filter"] == {"Tag": {"Key": "a", "Value": "b"}}
    assert got[3]["Expiration"] == {"ExpiredObjectDeleteMarker": True}

    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert _code(gone) == "NoSuchLifecycleConfiguration"


def test_v1_prefix_rule_and_generated_id(s3: Any, bucket: str) -> None:
    """The legacy form (Prefix in the Rule) is kept as such; a rule without ID gets one."""
    s3.put_bucket_lifecycle(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [{"Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 1}}]
        },
    )
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Prefix"] == "old/"
    assert rule["ID"]


def test_overlapping_v2_filters_are_accepted(s3: Any, bucket: str) -> None:
    """S3 accepts overlapping Filter prefixes (the earliest action wins)."""
    rules = [
        {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}},
        {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "l"}, "Expiration": {"Days": 5}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 2


def _rule(**fields: Any) -> dict[str, Any]:
    return {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, **fields}


REFUSED = [
    pytest.param([_rule(Expiration={"Days": 0})], "InvalidArgument", id="days-0"),
    pytest.param(
        [_rule(Expiration={"Date": dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)})],
        "InvalidArgument",
        id="date-not-midnight",
    ),
    pytest.param(
        [_rule(Expiration={"Days": 1}), _rule(Expiration={"Days": 2})],
        "InvalidArgument",
        id="duplicate-id",
    ),
    pytest.param(
        [
            {"ID": "a", "Prefix": "logs", "Status": "Enabled", "Expiration": {"Days": 1}},
            {"ID": "b", "Prefix": "logs/x", "Status": "Enabled", "Expiration": {"Days": 2}},
        ],
        "InvalidRequest",
        id="overlapping-v1-prefixes",
    ),
    pytest.param(
        [
            {"ID": "a", "Prefix": "logs", "Status": "Enabled", "Expiration": {"Days": 1}},
            _rule(ID="b", Expiration={"Days": 2}),
        ],
        "InvalidRequest",
        id="v1-and-v2-mixed",
    ),
    pytest.param(
        [_rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])],
        "InvalidStorageClass",
        id="transition",
    ),
    pytest.param(
        [_rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})],
        "InvalidArgument",
        id="noncurrent-days-0",
    ),
    pytest.param(
        [_rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})],
        "InvalidArgument",
        id="abort-days-0",
    ),
    pytest.param(
        [_rule(Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})],
        "InvalidArgument",
        id="marker-with-days",
    ),
    pytest.param([_rule()], "InvalidRequest", id="no-action"),
    pytest.param([_rule(ID="x" * 256, Expiration={"Days": 1})], "InvalidArgument", id="long-id"),
    pytest.param(
        [_rule(ID="a\r\nx-injected: 1", Expiration={"Days": 1})], "InvalidArgument", id="id-crlf"
    ),
    pytest.param(
        [
            _rule(
                Filter={
                    "And": {"Prefix": "", "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 5}
                },
                Expiration={"Days": 1},
            )
        ],
        "InvalidArgument",
        id="size-range-empty",
    ),
]


@pytest.mark.parametrize(("rules", "code"), REFUSED)
def test_refused_configurations_change_nothing(
    s3: Any, bucket: str, rules: list[dict[str, Any]], code: str
) -> None:
    kept = [_rule(ID="kept", Expiration={"Days": 9})]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": kept})
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )
    assert _code(refused) == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["kept"]


def test_x_amz_expiration_on_put_head_get(s3: Any, bucket: str) -> None:
    """As S3: the earliest expiration of a matching enabled rule, at midnight UTC after
    creation + Days, with the rule's id; nothing for an object no rule expires."""
    rules = [
        _rule(ID="ten", Filter={"Prefix": "logs/"}, Expiration={"Days": 10}),
        _rule(ID="three", Filter={"Prefix": "logs/a"}, Expiration={"Days": 3}),
        _rule(ID="off", Status="Disabled", Filter={"Prefix": "logs/"}, Expiration={"Days": 1}),
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    put = s3.put_object(Bucket=bucket, Key="logs/a1", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="logs/a1")
    created = head["LastModified"]
    due = (created + dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    due += dt.timedelta(days=1)
    expected = f'expiry-date="{due.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="three"'
    assert put["Expiration"] == expected
    assert head["Expiration"] == expected
    assert s3.get_object(Bucket=bucket, Key="logs/a1")["Expiration"] == expected
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="other")


def test_aws_cli_sets_and_reads_lifecycle(
    s3_endpoint: str, admin_keys: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    env = aws_env(admin_keys["id"], admin_keys["secret"], tmp_path)
    aws = [AWS, "--endpoint-url", s3_endpoint, "s3api"]
    (tmp_path / "lc.json").write_text(json.dumps({"Rules": RULES[:1]}))
    subprocess.run(
        [*aws, "put-bucket-lifecycle-configuration", "--bucket", bucket,
         "--lifecycle-configuration", f"file://{tmp_path / 'lc.json'}"],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    out = subprocess.run(
        [*aws, "get-bucket-lifecycle-configuration", "--bucket", bucket],
        env=env, check=True, capture_output=True, timeout=120, text=True,
    )  # fmt: skip
    assert json.loads(out.stdout)["Rules"][0]["ID"] == "logs"
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"] == {
        "Days": 30
    }


def test_a_thousand_rules_fit_and_an_oversized_configuration_is_refused(
    s3: Any, bucket: str
) -> None:
    many = [
        _rule(ID=f"rule-{i:04d}", Filter={"Prefix": f"p{i:04d}/"}, Expiration={"Days": 1 + i})
        for i in range(1000)
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": many})
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 1000
    tag = {"Key": "k" * 128, "Value": "v" * 256}
    big = [
        _rule(ID=f"r{i}", Filter={"Tag": tag}, NoncurrentVersionExpiration={"NoncurrentDays": 1})
        for i in range(400)
    ]
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": big})
    assert _code(refused) == "MaxMessageLengthExceeded"
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]) == 1000
