"""lightningstor_types.json_documents: the limits json.loads lacks (found by the fuzzer: a
bucket policy or POST policy nested thousands deep was a 500, and a ``\\ud800`` escape made an
error message that could not be sent)."""

from __future__ import annotations

import pytest

from lightningstor_types.json_documents import MAX_DEPTH, load_document


def test_ordinary_documents_load() -> None:
    text = '{"Statement": [{"Sid": "\\u00e9\\ud83d\\ude00", "Action": ["s3:*"]}], "n": 1}'
    assert load_document(text) == {"Statement": [{"Sid": "é😀", "Action": ["s3:*"]}], "n": 1}
    assert load_document(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,  # json.loads: RecursionError
        '{"a":' * 5000 + "1" + "}" * 5000,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"\\ud800": 1}',
        '["\\udfff\\ud800"]',
        '{"a": {"b": ["x\\ud800"]}}',
        b'["\xed\xa0\x80"]',  # an encoded surrogate: not UTF-8
        "{not json",
    ],
)
def test_what_is_refused_is_a_value_error(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        load_document(text)
