"""Seeded fuzz inputs for the S3 API: one request per call, cheap to make.

Each request belongs to one family: ``sigv4`` (a garbled Authorization, date or payload hash),
``presign`` (mutated ``X-Amz-*`` query parameters), ``chunked`` (aws-chunked framing, signed or
with trailers, then damaged), ``range`` (Range, ``x-amz-copy-source-range``, ``partNumber``),
``xml`` (the five request documents, re-encoded, truncated, with DTDs or random bytes), ``key``
(object keys and bucket names), ``header`` (content headers, metadata, ``response-*``
overrides, Content-MD5, checksums, tagging, copy sources, directives, protection headers),
``policy`` (bucket policy JSON), ``config`` (the XML of ``?acl``, ``?cors``, ``?lifecycle``,
``?object-lock``, ``?retention``, ``?legal-hold``, ``?encryption``, ``?ownershipControls``,
``?publicAccessBlock``, ``?tagging``), ``grants`` (canned ACL, grant and Object Lock headers),
``form`` (POST Object forms) and ``ssec`` (SSE-C and SSE-KMS headers); the documents are made
in ``documents.py``. The families that change a bucket's configuration address buckets of
their own (``CONF_BUCKET``, ``LOCK_BUCKET``), so that a policy or an ACL that takes effect
never shuts the other families out.
Apart from the ``sigv4`` and ``presign`` families, requests are validly signed (the signer here
is written from the SigV4 spec, over bytes), so that they reach the handlers and the core.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from tests.fuzz import documents

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = b"UNSIGNED-PAYLOAD"
FAMILIES = ("sigv4", "presign", "chunked", "range", "xml", "key", "header", "policy", "config",
            "grants", "form", "ssec")  # fmt: skip
_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5)
"""The families of the protection features at half weight: the others keep most of their
share of a run (the suite's run counts on enough 206 and 416 answers)."""
CONF_BUCKET = "fuzz-conf"
"""The bucket whose policy, ACL and other configuration the fuzzer changes."""
LOCK_BUCKET = "fuzz-lock"
"""A bucket with Object Lock, holding ``LOCKED``."""
LOCKED = "locked"
CONFIGS = ("acl", "cors", "lifecycle", "object-lock", "retention", "legal-hold", "encryption",
           "ownershipControls", "publicAccessBlock", "tagging")  # fmt: skip

_NUMBERS = [
    "0",
    "1",
    "9",
    "10",
    "-1",
    "",
    "007",
    "99999999999999999999",
    str(2**63),
    str(2**63 - 1),
    str(2**64),
    "1e3",
    "0x10",
    " 5",
    "\u00bd",
    "\u00b2",
    "1\u00b3",
    "\uff11",
]
_CONTROL = [chr(c) for c in (*range(0x00, 0x20), 0x7F)]
_ODD = [
    "é",
    "ü",
    "日本",
    "\u202e",
    "\ufeff",
    "\U0001f600",
    "%",
    "%zz",
    "%ff",
    "..",
    "/",
    "\\",
    "?",
    "#",
    "&",
    "=",
    "+",
    " ",
    "\t",
    "\x85",
    "\xa0",
    "'",
    '"',
    "<",
    ">",
    "*",
    "~",
]
_ENCODINGS = [
    "ebcdic",
    "utf-16",
    "UTF-16LE",
    "utf-32",
    "utf-7",
    "latin-1",
    "cp500",
    "ascii",
    "x" * 200,
    "",
    "utf-8\x00",
    "big5",
    "iso-2022-jp",
    "idna",
    "rot13",
    "base64",
    "hex",
    "zlib",
    "unicode_escape",
    "mbcs",
]
_PROTECTION = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-object-lock-mode",
    "x-amz-object-lock-legal-hold",
    "x-amz-acl",
    "x-amz-grant-read",
    "x-amz-bucket-object-lock-enabled",
    "x-amz-object-ownership",
    "x-amz-server-side-encryption-bucket-key-enabled",
]
_CONTENT = [
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
]
_OVERRIDES = [
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
]
_CHECKSUMS = [
    "x-amz-checksum-crc32",
    "x-amz-checksum-crc32c",
    "x-amz-checksum-sha1",
    "x-amz-checksum-sha256",
    "x-amz-checksum-crc64nvme",
]


@dataclass(slots=True)
class S3Input:
    """One HTTP request: the path and query as sent (bytes), headers, body."""

    family: str
    method: str
    path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def describe(self) -> str:
        head = {k.decode("latin-1"): v[:80].decode("latin-1") for k, v in self.headers}
        head.pop("authorization", None)
        return (
            f"[{self.family}] {self.method} {self.path[:120]!r}?{self.query[:160]!r} "
            f"{head} body={self.body[:80]!r}({len(self.body)})"
        )


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def _q(value: str) -> str:
    return quote(value, safe="-_.~")


class S3Fuzzer:
    """Makes :class:`S3Input` from a seed, for a host, a key and a few known names."""

    def __init__(
        self,
        seed: int,
        *,
        host: str,
        key_id: str,
        secret: str,
        bucket: str,
        objects: list[str],
        upload: tuple[str, str],
        owner: str = "",
        region: str = "us-east-1",
    ) -> None:
        self.rng = random.Random(seed)
        self.owner = owner
        self.host = host.encode()
        self.key_id = key_id
        self.secret = secret
        self.bucket = bucket
        self.objects = objects
        self.upload = upload
        self.region = region
        self._day = ""
        self._signing_key = b""

    # ---- signing (SigV4, from the spec, over bytes) ----

    def _key(self, day: str) -> bytes:
        if day != self._day:
            k = _hmac(("AWS4" + self.secret).encode(), day.encode())
            for part in (self.region, "s3", "aws4_request"):
                k = _hmac(k, part.encode())
            self._day, self._signing_key = day, k
        return self._signing_key

    def _scope(self, day: str) -> str:
        return f"{day}/{self.region}/s3/aws4_request"

    @staticmethod
    def _canonical_query(pairs: list[tuple[str, str]]) -> bytes:
        return "&".join(f"{n}={v}" for n, v in sorted((_q(n), _q(v)) for n, v in pairs)).encode()

    def _signature(
        self,
        method: str,
        path: bytes,
        pairs: list[tuple[str, str]],
        headers: list[tuple[bytes, bytes]],
        payload: bytes,
        stamp: str,
    ) -> tuple[bytes, str]:
        names = sorted({n for n, _ in headers})
        values = {n: b",".join(b" ".join(v.split()) for m, v in headers if m == n) for n in names}
        canonical = b"\n".join(
            [
                method.encode(),
                path,
                self._canonical_query(pairs),
                b"".join(n + b":" + values[n] + b"\n" for n in names),
                b";".join(names),
                payload,
            ]
        )
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                stamp,
                self._scope(stamp[:8]),
                hashlib.sha256(canonical).hexdigest(),
            ]
        )
        sig = hmac.new(self._key(stamp[:8]), to_sign.encode(), hashlib.sha256).hexdigest()
        return b";".join(names), sig

    def _signed(
        self,
        family: str,
        method: str,
        path: bytes,
        pairs: list[tuple[str, str]],
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        payload: bytes = UNSIGNED,
        stamp: str | None = None,
    ) -> tuple[S3Input, str]:
        stamp = stamp or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        all_headers = [(n.lower(), v) for n, v in headers]
        all_headers += [
            (b"host", self.host),
            (b"x-amz-date", stamp.encode()),
            (b"x-amz-content-sha256", payload),
        ]
        signed, sig = self._signature(method, path, pairs, all_headers, payload, stamp)
        auth = (
            f"AWS4-HMAC-SHA256 Credential={self.key_id}/{self._scope(stamp[:8])}, "
            f"SignedHeaders={signed.decode()}, Signature={sig}"
        ).encode()
        all_headers.append((b"authorization", auth))
        if body and not any(n == b"content-length" for n, _ in all_headers):
            all_headers.append((b"content-length", str(len(body)).encode()))
        query = "&".join(f"{_q(n)}={_q(v)}" for n, v in pairs).encode()
        return S3Input(family, method, path, query, all_headers, body), sig

    # ---- pieces ----

    def _text(self, n: int = 12) -> str:
        rng = self.rng
        pool = rng.choice([_CONTROL, _ODD, ["a", "b", "0", "-", "_"]])
        return "".join(
            rng.choice(pool) if rng.random() < 0.5 else "x" for _ in range(rng.randint(0, n))
        )

    def _value(self) -> bytes:
        """A header value as bytes: mostly printable, sometimes control or non-UTF-8 bytes."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            return self._text().encode("utf-8", "surrogatepass")
        if roll < 0.5:
            return bytes(rng.randrange(256) for _ in range(rng.randint(0, 16)))
        if roll < 0.6:
            return rng.choice(_NUMBERS).encode()
        return rng.choice(
            [
                b"text/plain",
                b"private",
                b"OFF",
                b"AES256",
                b"GOVERNANCE",
                b"true",
                b"",
                b"a" * rng.randint(1, 9000),
                b"attachment; filename=x",
            ]
        )

    def _key_name(self) -> str:
        rng = self.rng
        if rng.random() < 0.4 and self.objects:
            return rng.choice(self.objects)
        roll = rng.random()
        if roll < 0.2:
            return "k" * rng.choice([1, 1024, 1025, 2000])
        return "".join(
            rng.choice([*_ODD, *_CONTROL, "a", "b", "/"]) for _ in range(rng.randint(0, 20))
        )

    def _object_path(self, key: str | None = None) -> bytes:
        key = self._key_name() if key is None else key
        return f"/{self.bucket}/{quote(key, safe='/-_.~')}".encode()

    # ---- families ----

    def next(self) -> S3Input:
        family = self.rng.choices(FAMILIES, _WEIGHTS)[0]
        make = {
            "sigv4": self._sigv4,
            "presign": self._presign,
            "chunked": self._chunked,
            "range": self._range,
            "xml": self._xml,
            "key": self._names,
            "header": self._header,
            "policy": self._policy,
            "config": self._config,
            "grants": self._grants,
            "form": self._form,
            "ssec": self._ssec,
        }[family]
        return make()

    def _sigv4(self) -> S3Input:
        rng = self.rng
        method = rng.choice(["GET", "PUT", "HEAD", "DELETE", "POST"])
        inp, sig = self._signed(
            "sigv4", method, self._object_path(), [], [], b"x" * rng.randint(0, 3)
        )
        headers = dict(inp.headers)
        part = rng.randrange(6)
        auth = headers[b"authorization"].decode()
        if part == 0:
            auth = auth.replace(sig, rng.choice(["", "0" * 64, sig[:-1], sig.upper(), "zz" * 32]))
        elif part == 1:
            auth = auth.replace(
                "Credential=",
                rng.choice(["", "Credential=" * 2, "Credential=/", "Credential=a/b/c/d/e/f/"]),
            )
        elif part == 2:
            auth = auth.replace(
                "SignedHeaders=", rng.choice(["SignedHeaders=;", "", "SignedHeaders=zz;"])
            )
        elif part == 3:
            headers[b"x-amz-date"] = rng.choice(
                [
                    b"",
                    b"2024",
                    b"99999999T999999Z",
                    b"20240230T000000Z",
                    b"\xff\xfe",
                    b"19700101T000000Z",
                ]
            )
        elif part == 4:
            headers[b"x-amz-content-sha256"] = rng.choice(
                [b"", b"STREAMING-X", b"g" * 64, b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", b"\x01"]
            )
        else:
            auth = auth[: rng.randrange(len(auth))] + self._text(4)
        headers[b"authorization"] = auth.encode("utf-8", "surrogatepass")
        inp.headers = list(headers.items())
        return inp

    def _presign(self) -> S3Input:
        rng = self.rng
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        params = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{self.key_id}/{self._scope(stamp[:8])}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": "300",
            "X-Amz-SignedHeaders": "host",
        }
        method = rng.choice(["GET", "PUT", "HEAD"])
        path = self._object_path()
        pairs = list(params.items())
        if rng.random() < 0.3:
            pairs.append(
                (rng.choice(_OVERRIDES + _PROTECTION + ["x-id", "versionId"]), self._text())
            )
        _, sig = self._signature(method, path, pairs, [(b"host", self.host)], UNSIGNED, stamp)
        pairs.append(("X-Amz-Signature", sig))
        if rng.random() < 0.8:
            i = rng.randrange(len(pairs))
            name, _ = pairs[i]
            pairs[i] = (name, rng.choice([*_NUMBERS, self._text(), "", sig[:10]]))
        if rng.random() < 0.2:
            pairs.append(rng.choice(pairs))  # a repeated parameter
        query = "&".join(f"{_q(n)}={_q(v)}" for n, v in pairs).encode()
        return S3Input("presign", method, path, query, [(b"host", self.host)], b"")

    def _chunked(self) -> S3Input:
        rng = self.rng
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        mode = rng.choice(
            [
                b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                b"STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            ]
        )
        chunks = [b"a" * rng.choice([0, 1, 100, 8192, 9000]) for _ in range(rng.randint(0, 3))]
        decoded = sum(map(len, chunks))
        headers = [
            (b"content-encoding", b"aws-chunked"),
            (b"x-amz-decoded-content-length", rng.choice([str(decoded).encode(), self._value()])),
        ]
        trailer = b""
        if mode.endswith(b"TRAILER"):
            headers.append(
                (
                    b"x-amz-trailer",
                    rng.choice([b"x-amz-checksum-crc32", b"x-amz-checksum-zz", self._value()]),
                )
            )
            trailer = b"x-amz-checksum-crc32:" + rng.choice([b"AAAAAA==", self._value()]) + b"\r\n"
        signed = mode == b"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        # the body's length is only known after framing; sign the seed with a placeholder
        inp, seed = self._signed(
            "chunked", "PUT", self._object_path(), [], headers, b"", mode, stamp
        )
        out, previous = [], seed
        for chunk in [*chunks, b""]:
            if signed:
                to_sign = "\n".join(
                    [
                        "AWS4-HMAC-SHA256-PAYLOAD",
                        stamp,
                        self._scope(stamp[:8]),
                        previous,
                        EMPTY_SHA256,
                        hashlib.sha256(chunk).hexdigest(),
                    ]
                )
                previous = hmac.new(
                    self._key(stamp[:8]), to_sign.encode(), hashlib.sha256
                ).hexdigest()
                out.append(
                    f"{len(chunk):x};chunk-signature={previous}\r\n".encode() + chunk + b"\r\n"
                )
            else:
                out.append(f"{len(chunk):x}\r\n".encode() + chunk + (b"\r\n" if chunk else b""))
        body = b"".join(out) + trailer + (b"" if signed else b"\r\n")
        roll = rng.random()
        if roll < 0.25 and body:
            i = rng.randrange(len(body))
            body = body[:i] + bytes([rng.randrange(256)]) + body[i + 1 :]
        elif roll < 0.4:
            body = body[: rng.randrange(len(body) + 1)]
        elif roll < 0.55:
            body = (
                rng.choice(
                    [
                        b"ffffffffffffffffffff\r\n",
                        b"-1\r\n",
                        b"0;chunk-signature=\r\n",
                        b"10;" + b"a" * 5000 + b"\r\n",
                        b"zz\r\n\r\n",
                        b"\r\n" * 10,
                    ]
                )
                + body
            )
        inp.body = body
        inp.headers.append((b"content-length", str(len(body)).encode()))
        return inp

    def _range_value(self) -> str:
        rng = self.rng
        n = lambda: rng.choice(_NUMBERS)  # noqa: E731
        return rng.choice(
            [
                f"bytes={n()}-{n()}",
                f"bytes=-{n()}",
                f"bytes={n()}-",
                f"bytes={n()}-{n()},{n()}-{n()}",
                f"items={n()}-{n()}",
                f"bytes = {n()} - {n()}",
                "bytes=",
                "bytes=-",
                self._text(),
            ]
        )

    def _range(self) -> S3Input:
        rng = self.rng
        key = rng.choice(self.objects)
        roll = rng.random()
        if roll < 0.6:
            headers = [(b"range", self._range_value().encode("utf-8", "surrogatepass"))]
            pairs = [("partNumber", rng.choice(_NUMBERS))] if rng.random() < 0.2 else []
            method = rng.choice(["GET", "HEAD"])
            return self._signed("range", method, self._object_path(key), pairs, headers, b"")[0]
        if roll < 0.8:
            pairs = [("partNumber", rng.choice(_NUMBERS))]
            return self._signed(
                "range", rng.choice(["GET", "HEAD"]), self._object_path(key), pairs, [], b""
            )[0]
        upload_key, upload_id = self.upload
        pairs = [("partNumber", rng.choice(["1", "2", *_NUMBERS])), ("uploadId", upload_id)]
        headers = [
            (b"x-amz-copy-source", f"{self.bucket}/{quote(key)}".encode()),
            (b"x-amz-copy-source-range", self._range_value().encode("utf-8", "surrogatepass")),
        ]
        return self._signed("range", "PUT", self._object_path(upload_key), pairs, headers, b"")[0]

    def _xml(self) -> S3Input:
        rng = self.rng
        upload_key, upload_id = self.upload
        key = rng.choice(self.objects)
        status = rng.choice(["Suspended", "Enabled", "x"])
        mfa = rng.choice(["Disabled", "Enabled", ""])
        docs = [
            (
                "POST",
                self._object_path(upload_key),
                [("uploadId", upload_id)],
                f"<CompleteMultipartUpload><Part><PartNumber>{rng.choice(_NUMBERS)}</PartNumber>"
                f'<ETag>"{"0" * 32}"</ETag></Part></CompleteMultipartUpload>',
            ),
            (
                "POST",
                f"/{self.bucket}".encode(),
                [("delete", "")],
                f"<Delete><Quiet>{rng.choice(['true', 'x', ''])}</Quiet><Object><Key>{self._text()}"
                f"</Key></Object></Delete>",
            ),
            (
                "PUT",
                self._object_path(key),
                [("tagging", "")],
                f"<Tagging><TagSet><Tag><Key>{self._text()}</Key><Value>v</Value></Tag></TagSet></Tagging>",
            ),
            (
                "PUT",
                f"/{self.bucket}".encode(),
                [("tagging", "")],
                "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
            ),
            (
                "PUT",
                f"/{self.bucket}".encode(),
                [("versioning", "")],
                f"<VersioningConfiguration><Status>{status}</Status>"
                f"<MfaDelete>{mfa}</MfaDelete></VersioningConfiguration>",
            ),
        ]
        method, path, pairs, doc = rng.choice(docs)
        body = doc.encode("utf-8", "surrogatepass")
        roll = rng.random()
        if roll < 0.3:
            body = f'<?xml version="1.0" encoding="{rng.choice(_ENCODINGS)}"?>'.encode() + body
        elif roll < 0.4:
            body = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]>' + body.replace(
                b"v<", b"&e;<"
            )
        elif roll < 0.55:
            body = body[: rng.randrange(len(body) + 1)]
        elif roll < 0.7:
            i = rng.randrange(len(body) + 1)
            body = body[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + body[i:]
        elif roll < 0.75:
            body = b"<a>" * 5000 + b"</a>" * 5000
        elif roll < 0.8:
            body = codecs_bom(rng) + body
        md5 = base64.b64encode(hashlib.md5(body).digest())
        headers = [(b"content-md5", md5 if rng.random() < 0.9 else self._value())]
        return self._signed("xml", method, path, pairs, headers, body)[0]

    def _listing(self) -> S3Input:
        """ListBuckets, ListObjects (v1, v2), versions, uploads and parts with fuzzed
        parameters."""
        rng = self.rng
        params = [
            "max-keys",
            "max-buckets",
            "max-uploads",
            "max-parts",
            "part-number-marker",
            "continuation-token",
            "encoding-type",
            "delimiter",
            "prefix",
            "start-after",
            "key-marker",
            "version-id-marker",
            "upload-id-marker",
            "marker",
            "fetch-owner",
        ]
        pairs = [
            (rng.choice(params), rng.choice([*_NUMBERS, self._text(), "url"]))
            for _ in range(rng.randint(1, 3))
        ]
        roll = rng.random()
        if roll < 0.2:
            path = b"/"
        elif roll < 0.4:
            upload_key, upload_id = self.upload
            path, pairs = self._object_path(upload_key), [*pairs, ("uploadId", upload_id)]
        else:
            path = f"/{self.bucket}".encode()
            pairs.append(rng.choice([("list-type", "2"), ("versions", ""), ("uploads", ""),
                                     ("list-type", self._text(3))]))  # fmt: skip
        return self._signed("key", "GET", path, pairs, [], b"")[0]

    def _names(self) -> S3Input:
        rng = self.rng
        if rng.random() < 0.3:
            return self._listing()
        method = rng.choice(["PUT", "GET", "HEAD", "DELETE"])
        roll = rng.random()
        if roll < 0.2:
            path = ("/" + quote(self._text(70), safe="/-_.~")).encode()
        elif roll < 0.35:
            raw = rng.choice(["%ff%fe", "%", "%zz", "//", "/./../", "%00", "%0d%0a", "%c0%af"])
            path = f"/{self.bucket}/a{raw}b".encode()
        else:
            path = self._object_path()
        pairs = [("versionId", self._text())] if rng.random() < 0.1 else []
        return self._signed("key", method, path, pairs, [], b"k" if method == "PUT" else b"")[0]

    def _header(self) -> S3Input:
        rng = self.rng
        names = [
            *_CONTENT,
            *_CHECKSUMS,
            *_PROTECTION,
            "content-md5",
            "x-amz-tagging",
            "x-amz-copy-source",
            "x-amz-metadata-directive",
            "x-amz-tagging-directive",
            "x-amz-storage-class",
            "x-amz-checksum-algorithm",
            "x-amz-checksum-type",
            "if-match",
            "if-none-match",
            "if-modified-since",
            "if-unmodified-since",
            "x-amz-copy-source-if-match",
            "x-amz-meta-" + self._text(6).lower(),
            "x-amz-meta-a",
            "expect",
            "content-length",
        ]
        headers = [
            (rng.choice(names).encode("utf-8", "surrogatepass"), self._value())
            for _ in range(rng.randint(1, 4))
        ]
        roll = rng.random()
        key = rng.choice(self.objects) if rng.random() < 0.5 else None
        pairs: list[tuple[str, str]] = []
        body = b""
        if roll < 0.35:
            method, body = "PUT", b"data" * rng.randint(0, 3)
        elif roll < 0.5:
            method, pairs = "POST", [("uploads", "")]
        elif roll < 0.65:
            method = "PUT"
            headers.append(
                (b"x-amz-copy-source", f"{self.bucket}/{rng.choice(self.objects)}".encode())
            )
        elif roll < 0.75:
            upload_key, upload_id = self.upload
            key, method, body = upload_key, "PUT", b"part"
            pairs = [("partNumber", rng.choice(["1", *_NUMBERS])), ("uploadId", upload_id)]
        else:
            method = rng.choice(["GET", "HEAD"])
            key = rng.choice(self.objects)
            pairs = [
                (rng.choice(_OVERRIDES), self._value().decode("latin-1"))
                for _ in range(rng.randint(1, 3))
            ]
        return self._signed("header", method, self._object_path(key), pairs, headers, body)[0]

    # ---- the protection features: policies, configurations, ACLs, forms, SSE ----

    def _md5_header(self, body: bytes) -> list[tuple[bytes, bytes]]:
        if self.rng.random() < 0.85:
            return [(b"content-md5", base64.b64encode(hashlib.md5(body).digest()))]
        return [] if self.rng.random() < 0.5 else [(b"content-md5", self._value())]

    def _policy(self) -> S3Input:
        rng = self.rng
        path = f"/{CONF_BUCKET}".encode()
        roll = rng.random()
        if roll < 0.08:
            pairs = [(rng.choice(["policy", "policyStatus"]), "")]
            return self._signed("policy", "GET", path, pairs, [], b"")[0]
        if roll < 0.14:
            return self._signed("policy", "DELETE", path, [("policy", "")], [], b"")[0]
        body = documents.policy_document(rng, CONF_BUCKET)
        headers = self._md5_header(body)
        if rng.random() < 0.1:
            headers.append((b"x-amz-confirm-remove-self-bucket-access", self._value()))
        return self._signed("policy", "PUT", path, [("policy", "")], headers, body)[0]

    def _config(self) -> S3Input:
        rng = self.rng
        sub = rng.choice(CONFIGS)
        if sub in ("retention", "legal-hold"):
            path = (
                self._object_path(LOCKED).replace(self.bucket.encode(), LOCK_BUCKET.encode(), 1)
                if rng.random() < 0.8
                else self._object_path(rng.choice(self.objects))
            )
        elif sub == "object-lock":
            path = f"/{LOCK_BUCKET if rng.random() < 0.8 else CONF_BUCKET}".encode()
        elif sub in ("acl", "tagging") and rng.random() < 0.4:
            path = f"/{CONF_BUCKET}/obj".encode()
        else:
            path = f"/{CONF_BUCKET}".encode()
        pairs = [(sub, "")]
        if rng.random() < 0.1:
            pairs.append(("versionId", rng.choice(["null", "", self._text(), "1" * 40])))
        roll = rng.random()
        if roll < 0.08:
            return self._signed("config", "GET", path, pairs, [], b"")[0]
        if roll < 0.15:
            return self._signed("config", "DELETE", path, pairs, [], b"")[0]
        body = documents.config_document(rng, sub, self.owner)
        headers = self._md5_header(body)
        if rng.random() < 0.15:
            headers.append(
                (
                    rng.choice(
                        [
                            b"x-amz-bypass-governance-retention",
                            b"x-amz-acl",
                            b"x-amz-expected-bucket-owner",
                            b"x-amz-grant-read",
                            b"x-amz-sdk-checksum-algorithm",
                        ]
                    ),
                    self._value(),
                )
            )
        return self._signed("config", "PUT", path, pairs, headers, body)[0]

    _CANNED = [
        "private",
        "public-read",
        "public-read-write",
        "authenticated-read",
        "bucket-owner-read",
        "bucket-owner-full-control",
        "log-delivery-write",
        "aws-exec-read",
        "",
        "PRIVATE",
        "private,public-read",
    ]

    def _grant_headers(self) -> list[tuple[bytes, bytes]]:
        rng = self.rng
        headers = [
            (rng.choice(documents.GRANT_HEADERS).encode(), documents.grant_value(rng, self.owner))
            for _ in range(rng.choice([0, 1, 1, 2, 5]))
        ]
        if rng.random() < 0.4 or not headers:
            headers.append(
                (
                    b"x-amz-acl",
                    rng.choice([*self._CANNED, self._text()]).encode("utf-8", "surrogatepass"),
                )
            )
        return headers

    def _grants(self) -> S3Input:
        rng = self.rng
        headers = self._grant_headers()
        roll = rng.random()
        pairs: list[tuple[str, str]] = []
        body = b""
        method = "PUT"
        if roll < 0.3:  # PutBucketAcl / PutObjectAcl from headers
            path = rng.choice([f"/{CONF_BUCKET}".encode(), f"/{CONF_BUCKET}/obj".encode()])
            pairs = [("acl", "")]
            if rng.random() < 0.1:  # headers and a document: never both
                body = documents.config_document(rng, "acl", self.owner)
        elif roll < 0.55:
            path = f"/{CONF_BUCKET}/g/{rng.randrange(4)}".encode()
            body = b"granted"
        elif roll < 0.65:  # CreateBucket with an ACL, an ownership and Object Lock
            path = f"/fuzz-new-{rng.randrange(3)}".encode()
            if rng.random() < 0.2:
                return self._signed("grants", "DELETE", path, [], [], b"")[0]
            for name in (b"x-amz-object-ownership", b"x-amz-bucket-object-lock-enabled"):
                if rng.random() < 0.4:
                    headers.append(
                        (
                            name,
                            rng.choice(
                                [
                                    b"BucketOwnerEnforced",
                                    b"ObjectWriter",
                                    b"true",
                                    b"false",
                                    self._value(),
                                ]
                            ),
                        )
                    )
        elif roll < 0.75:  # CopyObject and CreateMultipartUpload with grants
            path = f"/{CONF_BUCKET}/g/copy".encode()
            if rng.random() < 0.5:
                headers.append((b"x-amz-copy-source", f"{CONF_BUCKET}/obj".encode()))
            else:
                method, pairs = "POST", [("uploads", "")]
        else:  # Object Lock headers on a write to the locked bucket
            path = f"/{LOCK_BUCKET}/w/{rng.randrange(4)}".encode()
            body = b"locked"
            headers = [h for h in headers if rng.random() < 0.2]
            lock = [
                (b"x-amz-object-lock-mode", [b"GOVERNANCE", b"COMPLIANCE", b"governance", b""]),
                (
                    b"x-amz-object-lock-retain-until-date",
                    [
                        b"2030-01-01T00:00:00Z",
                        b"2000-01-01T00:00:00Z",
                        b"9999-12-31T23:59:59.999Z",
                        b"2030-01-01",
                        b"10000-01-01T00:00:00Z",
                        b"2030-13-45T00:00:00Z",
                        b"0",
                    ],
                ),
                (b"x-amz-object-lock-legal-hold", [b"ON", b"OFF", b"on", b"maybe"]),
                (b"x-amz-bypass-governance-retention", [b"true", b"false", b"1"]),
            ]
            for name, values in lock:
                if rng.random() < 0.6:
                    headers.append((name, rng.choice([*values, self._value()])))
            if rng.random() < 0.2:
                method, body = "POST", b""
                pairs = [("uploads", "")]
        headers += self._md5_header(body) if body and rng.random() < 0.5 else []
        return self._signed("grants", method, path, pairs, headers, body)[0]

    def _form(self) -> S3Input:
        """A POST Object form: its fields, a policy naming them and its signature, damaged."""
        rng = self.rng
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        day = stamp[:8]
        fields: dict[str, str] = {"key": rng.choice(["f/${filename}", "f/x", "", self._text()])}
        optional = {
            "acl": lambda: rng.choice([*self._CANNED, self._text()]),
            "Content-Type": lambda: self._value().decode("latin-1"),
            "x-amz-meta-a": lambda: self._value().decode("latin-1"),
            "tagging": lambda: documents.config_document(rng, "tagging", "").decode("latin-1"),
            "success_action_status": lambda: rng.choice(["200", "201", "204", "999", "x"]),
            "success_action_redirect": lambda: rng.choice(
                ["http://a.example/", "javascript:x", "\x01", ""]
            ),
            "x-amz-server-side-encryption": lambda: rng.choice(["AES256", "aws:kms", "x"]),
            "x-amz-checksum-crc32": lambda: rng.choice(["AAAAAA==", "!!", ""]),
            "x-amz-storage-class": lambda: rng.choice(["STANDARD", "GLACIER", "x"]),
        }
        for name, make in optional.items():
            if rng.random() < 0.12:
                fields[name] = make()
        if rng.random() < 0.1:
            fields.update(self._ssec_headers(as_fields=True))
        fields["x-amz-algorithm"] = rng.choice(["AWS4-HMAC-SHA256"] * 9 + ["AWS4-HMAC-SHA1"])
        fields["x-amz-credential"] = rng.choice(
            [f"{self.key_id}/{self._scope(day)}"] * 9 + ["x/y", f"{self.key_id}/{day}/zz/s3/x", ""]
        )
        fields["x-amz-date"] = rng.choice([stamp] * 9 + ["20000101T000000Z", "x"])
        policy = documents.post_policy(rng, dict(fields), self.bucket)
        fields["policy"] = policy
        sig = hmac.new(
            self._key(day), policy.encode("utf-8", "replace"), hashlib.sha256
        ).hexdigest()
        fields["x-amz-signature"] = rng.choice([sig] * 8 + [sig[:-1] + "0", "", sig.upper()])
        items = list(fields.items())
        roll = rng.random()
        if roll < 0.1:
            items.pop(rng.randrange(len(items)))
        elif roll < 0.15:
            items.append(("x-amz-meta-big", "x" * rng.choice([70_000, 65_536])))
        elif roll < 0.2:
            items.append(rng.choice(items))
        elif roll < 0.23:
            items += [(f"x-ignore-{i}", "y") for i in range(2000)]
        boundary = rng.choice(["fuzzboundary"] * 9 + ["x" * 201, "", "a b", "\u00e9"])
        dash = f"--{boundary}".encode("utf-8", "surrogatepass")
        parts = [
            dash
            + f'\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n'.encode(
                "utf-8", "surrogatepass"
            )
            + v.encode("utf-8", "surrogatepass")
            + b"\r\n"
            for n, v in items
        ]
        files = rng.choice([1] * 8 + [0, 2])
        for _ in range(files):
            parts.append(
                dash
                + b'\r\nContent-Disposition: form-data; name="file"; '
                + rng.choice(
                    [b'filename="a.txt"', b'filename=""', b"filename", b'filename="../\xff\x01"']
                )
                + b"\r\nContent-Type: text/plain\r\n\r\n"
                + b"filedata" * rng.choice([0, 1, 100])
                + b"\r\n"
            )
        body = b"".join(parts) + dash + b"--\r\n"
        roll = rng.random()
        if roll < 0.1:
            body = body[: rng.randrange(len(body) + 1)]
        elif roll < 0.15:
            body = body.replace(b"\r\n", b"\n")
        elif roll < 0.2:
            body = body.replace(
                b"Content-Disposition: form-data; ",
                rng.choice([b"", b"Content-Disposition: ", b"X: y\r\n", b": ;"]),
                1,
            )
        elif roll < 0.23 and body:
            i = rng.randrange(len(body))
            body = body[:i] + bytes([rng.randrange(256)]) + body[i + 1 :]
        ctype = rng.choice(
            [f"multipart/form-data; boundary={boundary}"] * 9
            + [
                "multipart/form-data",
                "multipart/mixed; boundary=x",
                'multipart/form-data; boundary="' + boundary + '"',
            ]
        )
        bucket = rng.choice([CONF_BUCKET] * 8 + [self.bucket, "no-such-bucket"])
        headers = [
            (b"host", self.host),
            (b"content-type", ctype.encode("utf-8", "surrogatepass")),
            (b"content-length", str(len(body)).encode()),
        ]
        return S3Input("form", "POST", f"/{bucket}".encode(), b"", headers, body)

    def _ssec_headers(self, *, source: bool = False, as_fields: bool = False) -> dict[str, str]:
        """SSE-C headers: right, or with a wrong length, bad base64 or a mismatched MD5."""
        rng = self.rng
        key = bytes(rng.randrange(256) for _ in range(rng.choice([32] * 6 + [0, 16, 31, 33, 64])))
        b64 = base64.b64encode(key).decode()
        md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
        roll = rng.random()
        if roll < 0.1:
            b64 = rng.choice(
                [
                    b64.rstrip("="),
                    b64 + "!",
                    "@@@@",
                    " " + b64,
                    b64.replace("+", "-"),
                    "\u00e9" * 44,
                    b64 * 100,
                ]
            )
        elif roll < 0.2:
            md5 = rng.choice(
                [
                    base64.b64encode(hashlib.md5(b"x").digest()).decode(),
                    hashlib.md5(key).hexdigest(),
                    "",
                    "!!",
                    md5[:-2],
                ]
            )
        algorithm = rng.choice(["AES256"] * 8 + ["aes256", "AES128", "", "x" * 300])
        prefix = "x-amz-copy-source-" if source else "x-amz-"
        out = {
            f"{prefix}server-side-encryption-customer-algorithm": algorithm,
            f"{prefix}server-side-encryption-customer-key": b64,
            f"{prefix}server-side-encryption-customer-key-MD5"
            if as_fields
            else f"{prefix}server-side-encryption-customer-key-md5": md5,
        }
        if rng.random() < 0.1:
            out.pop(rng.choice(list(out)))
        return out

    def _ssec(self) -> S3Input:
        rng = self.rng
        ssec = {
            k.encode(): v.encode("utf-8", "surrogatepass") for k, v in self._ssec_headers().items()
        }
        headers = list(ssec.items()) if rng.random() < 0.85 else []
        if rng.random() < 0.2:
            headers.append(
                (
                    b"x-amz-server-side-encryption",
                    rng.choice([b"AES256", b"aws:kms", b"aws:kms:dsse", self._value()]),
                )
            )
            for name in (
                b"x-amz-server-side-encryption-aws-kms-key-id",
                b"x-amz-server-side-encryption-context",
                b"x-amz-server-side-encryption-bucket-key-enabled",
            ):
                if rng.random() < 0.3:
                    context = base64.b64encode(rng.choice([b'{"a":"b"}', b"[]", b"{", b'{"a":1}']))
                    headers.append((name, rng.choice([context, self._value()])))
        key = f"ssec/{rng.randrange(4)}"
        pairs: list[tuple[str, str]] = []
        body = b""
        roll = rng.random()
        if roll < 0.35:
            method, body = "PUT", b"secret" * rng.randint(0, 3)
        elif roll < 0.65:
            method = rng.choice(["GET", "HEAD"])
            if rng.random() < 0.3:
                headers.append((b"range", self._range_value().encode("utf-8", "surrogatepass")))
            if rng.random() < 0.15:
                pairs = [("partNumber", rng.choice(["1", *_NUMBERS]))]
        elif roll < 0.8:  # a copy from an SSE-C source, to SSE-C or not
            method = "PUT"
            src = rng.choice([key, rng.choice(self.objects)])
            headers.append((b"x-amz-copy-source", f"{self.bucket}/{quote(src)}".encode()))
            headers += [
                (k.encode(), v.encode("utf-8", "surrogatepass"))
                for k, v in self._ssec_headers(source=True).items()
                if rng.random() < 0.9
            ]
            key = rng.choice(["ssec/copy", key])
        elif roll < 0.9:
            method, pairs = "POST", [("uploads", "")]
        else:
            upload_key, upload_id = self.upload
            key, method, body = upload_key, "PUT", b"part"
            pairs = [("partNumber", "1"), ("uploadId", upload_id)]
        return self._signed("ssec", method, self._object_path(key), pairs, headers, body)[0]


def codecs_bom(rng: random.Random) -> bytes:
    return rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff"])
