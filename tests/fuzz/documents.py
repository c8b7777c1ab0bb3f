"""Hostile request documents for the fuzz families that came with the protection features:
bucket policy JSON, the configuration XML of ``?acl``, ``?cors``, ``?lifecycle``,
``?object-lock``, ``?retention``, ``?legal-hold``, ``?encryption``, ``?ownershipControls``,
``?publicAccessBlock`` and ``?tagging``, grant header values, POST policy documents and
PROXY protocol headers.

Each builder starts from a document S3 would accept and damages it, on the tree (wrong types,
unknown names, repeats, nesting) and then on the bytes (truncation, encodings, entities), so
that a share reaches the validation deep inside and the rest the parser's edges.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import socket
import struct
from typing import Any

from lightningstor_s3.connections.proxy_header import (
    MalformedProxyHeaderError,
    ProxyHeader,
    parse_proxy_header,
)

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"

# Values a leaf may take instead of its own: types, ranges and spellings S3 would not accept.
_LEAVES = [
    "",
    " ",
    "0",
    "-1",
    "1",
    "36500",
    "99999999999999999999",
    str(2**31),
    str(2**63),
    "1.5",
    "1e9",
    "NaN",
    "true",
    "TRUE",
    "yes",
    "null",
    "ON",
    "on",
    "OFF",
    "Enabled",
    "Disabled",
    "GOVERNANCE",
    "COMPLIANCE",
    "governance",
    "AES256",
    "aws:kms",
    "aws:kms:dsse",
    "BucketOwnerEnforced",
    "ObjectWriter",
    "READ",
    "FULL_CONTROL",
    "*",
    "**",
    "GET",
    "TRACE",
    "2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00.000Z",
    "2030-01-01",
    "1970-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "10000-01-01T00:00:00Z",
    "2030-02-30T00:00:00Z",
    "2030-01-01T25:61:61+99:00",
    "\u00e9t\u00e9",
    "\u65e5\u672c",
    "\U0001f600",
    "\u202e",
    "\ufeff",
    "&#0;",
    "&#1;",
    "&#xD800;",
    "&#x110000;",
    "&amp;",
    "&lt;x&gt;",
    "<![CDATA[<x>]]>",
    "<!-- c -->",
    "<?pi x?>",
    "\x01",
    "\x7f",
    "a\tb",
    "x" * 2000,
]

_ENTITIES = [
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x"> %p;]>',
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;'
    b'&a;&a;&a;&a;&a;"><!ENTITY e "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/r.dtd">',
    b'<?xml version="1.0" standalone="no"?>',
    b'<?xml version="1.1"?>',
    b'<?xml version="9.0" encoding="utf-8"?>',
    b'<?xml-stylesheet href="x"?>',
]


# ---- XML trees --------------------------------------------------------------------------

Node = tuple[str, "list[Node] | str"]
"""An element: its tag and either its children or its text (already escaped as wanted)."""


def _el(tag: str, *children: Node) -> Node:
    return (tag, list(children))


def _tx(tag: str, text: str) -> Node:
    return (tag, text)


MAX_TREE_CHARS = 200_000
"""Where serializing stops (the document is then cut short): repeats of repeated elements that
hold deep nesting would otherwise make documents of hundreds of megabytes."""


def serialize(node: Node, ns: str | None = None) -> str:
    out: list[str] = []
    _serialize(node, ns, out, [0])
    return "".join(out)


def _serialize(node: Node, ns: str | None, out: list[str], size: list[int]) -> None:
    if size[0] > MAX_TREE_CHARS:
        return
    tag, body = node
    attrs = f' xmlns="{ns}"' if ns is not None else ""
    out.append(f"<{tag}{attrs}>")
    if isinstance(body, str):
        out.append(body)
        size[0] += len(body)
    else:
        for child in body:
            _serialize(child, None, out, size)
    out.append(f"</{tag}>")
    size[0] += 2 * len(tag) + 5


def _nodes(node: Node, out: list[list[Node]], holder: list[Node]) -> None:
    """Every element with the list that holds it (for replacing, repeating, removing)."""
    out.append(holder)
    _, body = node
    if isinstance(body, list):
        for i in range(len(body)):
            _nodes(body[i], out, body)


class XmlDamage:
    """Damages a configuration document, on its tree and then on its bytes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def leaf(self) -> str:
        rng = self.rng
        if rng.random() < 0.85:
            return rng.choice(_LEAVES)
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randint(1, 8)))

    def tree(self, root: Node) -> Node:
        rng = self.rng
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            holders: list[list[Node]] = []
            _nodes(root, holders, [root])
            holder = rng.choice(holders[1:] or holders)
            if not holder:
                continue
            i = rng.randrange(len(holder))
            tag, body = holder[i]
            roll = rng.random()
            if roll < 0.35:  # a wrong value, or text where elements belong
                holder[i] = (tag, self.leaf())
            elif roll < 0.5:  # an element where text belongs
                holder[i] = (tag, [(tag, body if isinstance(body, str) else "x")])
            elif roll < 0.6:
                holder.pop(i)
            elif roll < 0.72:  # repeated, sometimes far past any limit
                holder.insert(i, holder[i])
                # only under the root: a repeat inside repeated rules would multiply
                if rng.random() < 0.3 and holder is root[1] and len(holder) < 10:
                    holder[i:i] = [holder[i]] * rng.choice([10, 101, 1001])
            elif roll < 0.82:  # an unknown element
                holder.insert(
                    i, (rng.choice(["Foo", "rule", "Rule", tag.lower(), "x:Y"]), self.leaf())
                )
            elif roll < 0.9:  # a misspelled (or differently cased) name
                holder[i] = (
                    rng.choice([tag.upper(), tag.lower(), tag + "s", tag[:-1] or "Z"]),
                    body,
                )
            else:  # deep nesting inside a known element
                depth = rng.choice([50, 1000, 20000])
                holder[i] = (tag, "<a>" * depth + "</a>" * depth)
        return root

    def finish(self, root: Node) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.75:
            ns: str | None = S3_NS
        elif roll < 0.87:
            ns = None
        else:
            ns = rng.choice(["http://example.com/", "", "urn:x", S3_NS.upper(), S3_NS + "x"])
        text = serialize(self.tree(root), ns)
        if rng.random() < 0.05:  # a prefixed namespace in place of the default one
            tag = root[0]
            text = text.replace(f"<{tag}", f'<p:{tag} xmlns:p="{S3_NS}"', 1)
            text = text[: text.rfind("</")] + f"</p:{tag}>"
        body = text.encode("utf-8", "surrogatepass")
        roll = rng.random()
        if roll < 0.06:
            body = rng.choice(_ENTITIES) + body.replace(b"</", b"&e;</", 1)
        elif roll < 0.11:
            body = body[: rng.randrange(len(body) + 1)]
        elif roll < 0.15:
            i = rng.randrange(len(body) + 1)
            body = body[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + body[i:]
        elif roll < 0.18:
            enc = rng.choice(["utf-16", "utf-16-le", "latin-1", "ascii", "ebcdic", "utf-32"])
            body = f'<?xml version="1.0" encoding="{enc}"?>'.encode() + body
        elif roll < 0.2:
            body = body.decode("utf-8", "replace").encode("utf-16")
        elif roll < 0.23:
            body = body + rng.choice([b"<x/>", b"garbage", b"\x00", body])
        elif roll < 0.25:  # huge: past any document limit
            body = body.replace(b">", b">" + b" " * rng.choice([70_000, 300_000]), 1)
        return body


def _grantee(rng: random.Random, damage: XmlDamage, owner: str) -> str:
    kind = rng.choice(["CanonicalUser", "Group", "AmazonCustomerByEmail", "Foo", ""])
    child = rng.choice(
        [
            f"<ID>{owner}</ID>",
            f"<ID>{rng.choice(['arn:aws:iam::other:user/x', 'x', '', '*'])}</ID>",
            "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>",
            "<URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI>",
            "<URI>http://acs.amazonaws.com/groups/s3/LogDelivery</URI>",
            f"<URI>{damage.leaf()}</URI>",
            "<EmailAddress>a@example.com</EmailAddress>",
            f"<DisplayName>{damage.leaf()}</DisplayName>",
            "",
        ]
    )
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    attr = rng.choice([f'{xsi} xsi:type="{kind}"', f'type="{kind}"', "", f'xsi:type="{kind}"'])
    return f"<Grantee {attr}>{child}</Grantee>"


def config_document(rng: random.Random, subresource: str, owner: str) -> bytes:
    """A damaged request document for ``PUT ?{subresource}``."""
    damage = XmlDamage(rng)
    leaf = damage.leaf
    pick = rng.choice
    root: Node
    if subresource == "acl":
        grants = [
            _el(
                "Grant",
                ("Grantee_", _grantee(rng, damage, owner)),
                _tx(
                    "Permission",
                    pick(["READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL", leaf()]),
                ),
            )
            for _ in range(pick([0, 1, 2, 101]))
        ]
        root = _el(
            "AccessControlPolicy",
            _el("Owner", _tx("ID", pick([owner, leaf()]))),
            _el("AccessControlList", *grants),
        )
        body = damage.finish(root)
        # the grantee carries attributes the tree does not model: spliced in as text
        return body.replace(b"<Grantee_>", b"").replace(b"</Grantee_>", b"")
    if subresource == "cors":
        rule = _el(
            "CORSRule",
            _tx("ID", pick(["r", leaf()])),
            _tx(
                "AllowedOrigin", pick(["*", "https://a.example", "https://*.example", "**", leaf()])
            ),
            _tx("AllowedMethod", pick(["GET", "PUT", "HEAD", "POST", "DELETE", leaf()])),
            _tx("AllowedHeader", pick(["*", "x-amz-*", "a*b*", leaf()])),
            _tx("ExposeHeader", pick(["ETag", leaf()])),
            _tx("MaxAgeSeconds", pick(["3000", leaf()])),
        )
        root = _el("CORSConfiguration", *([rule] * pick([1, 1, 2, 101])))
    elif subresource == "lifecycle":
        filt = pick(
            [
                _el("Filter", _tx("Prefix", pick(["logs/", "", leaf()]))),
                _el("Filter", _el("Tag", _tx("Key", leaf()), _tx("Value", leaf()))),
                _el(
                    "Filter",
                    _el(
                        "And",
                        _tx("Prefix", "p"),
                        _tx("ObjectSizeGreaterThan", leaf()),
                        _tx("ObjectSizeLessThan", leaf()),
                    ),
                ),
                _el("Filter"),
                _tx("Prefix", leaf()),
            ]
        )
        action = pick(
            [
                _el("Expiration", _tx("Days", pick(["1", leaf()]))),
                _el("Expiration", _tx("Date", pick(["2030-01-01T00:00:00Z", leaf()]))),
                _el("Expiration", _tx("ExpiredObjectDeleteMarker", pick(["true", leaf()]))),
                _el(
                    "NoncurrentVersionExpiration",
                    _tx("NoncurrentDays", leaf()),
                    _tx("NewerNoncurrentVersions", leaf()),
                ),
                _el("AbortIncompleteMultipartUpload", _tx("DaysAfterInitiation", leaf())),
                _el(
                    "Transition",
                    _tx("Days", leaf()),
                    _tx("StorageClass", pick(["GLACIER", leaf()])),
                ),
            ]
        )
        rule = _el(
            "Rule",
            _tx("ID", pick(["r", leaf()])),
            filt,
            _tx("Status", pick(["Enabled", "Disabled", leaf()])),
            action,
        )
        root = _el("LifecycleConfiguration", *([rule] * pick([1, 1, 2, 1001])))
    elif subresource == "object-lock":
        retention = _el(
            "DefaultRetention",
            _tx("Mode", pick(["GOVERNANCE", "COMPLIANCE", leaf()])),
            _tx(pick(["Days", "Years"]), pick(["1", leaf()])),
        )
        root = _el(
            "ObjectLockConfiguration",
            _tx("ObjectLockEnabled", pick(["Enabled", leaf()])),
            _el("Rule", retention),
        )
    elif subresource == "retention":
        root = _el(
            "Retention",
            _tx("Mode", pick(["GOVERNANCE", "COMPLIANCE", leaf()])),
            _tx("RetainUntilDate", pick(["2030-01-01T00:00:00Z", leaf()])),
        )
    elif subresource == "legal-hold":
        root = _el("LegalHold", _tx("Status", pick(["ON", "OFF", leaf()])))
    elif subresource == "encryption":
        default = _el(
            "ApplyServerSideEncryptionByDefault",
            _tx("SSEAlgorithm", pick(["AES256", "aws:kms", leaf()])),
            _tx("KMSMasterKeyID", pick(["", "arn:aws:kms:us-east-1:1:key/x", leaf()])),
        )
        rule = _el("Rule", default, _tx("BucketKeyEnabled", pick(["true", leaf()])))
        root = _el("ServerSideEncryptionConfiguration", *([rule] * pick([1, 1, 2])))
    elif subresource == "ownershipControls":
        rule = _el(
            "Rule",
            _tx(
                "ObjectOwnership",
                pick(["BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced", leaf()]),
            ),
        )
        root = _el("OwnershipControls", *([rule] * pick([1, 1, 2])))
    elif subresource == "publicAccessBlock":
        names = [
            "BlockPublicAcls",
            "IgnorePublicAcls",
            "BlockPublicPolicy",
            "RestrictPublicBuckets",
        ]
        root = _el(
            "PublicAccessBlockConfiguration",
            *(_tx(n, pick(["true", "false", leaf()])) for n in names),
        )
    else:  # tagging
        tag = _el("Tag", _tx("Key", pick(["k", leaf()])), _tx("Value", pick(["v", leaf()])))
        root = _el("Tagging", _el("TagSet", *([tag] * pick([0, 1, 2, 11, 51]))))
    return damage.finish(root)


# ---- bucket policy JSON -----------------------------------------------------------------

_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:Get*",
    "s3:*Object*",
    "s3:PutObjectRetention",
    "s3:BypassGovernanceRetention",
    "s3:",
    "s3:Foo",
    "S3:GETOBJECT",
    "iam:*",
    "*",
    "s3:GetObject\u0000",
    "s3:\u00e9",
    "",
]
_ARNS = [
    "arn:aws:s3:::{b}/*",
    "arn:aws:s3:::{b}",
    "arn:aws:s3:::",
    "arn:aws:s3",
    "arn:",
    "arn:aws:s3:::other/*",
    "arn:aws:s3:::{b}/../*",
    "arn:aws:s3:::{b}/\u65e5*?",
    "arn:aws:s3:us-east-1:123:{b}",
    "arn:aws:iam::fuzz:user/fuzzer",
    "*",
    "",
    "arn:aws:s3:::{b}/" + "*" * 300,
    "arn:" * 500,
]
_OPERATORS = [
    "StringEquals",
    "StringLike",
    "StringNotEqualsIgnoreCase",
    "IpAddress",
    "NotIpAddress",
    "DateGreaterThan",
    "NumericLessThan",
    "Bool",
    "Null",
    "ArnLike",
    "StringLikeIfExists",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "StringFoo",
    "ForSome:StringLike",
    "BinaryEquals",
    "",
]
_CONDITION_KEYS = [
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:UserAgent",
    "s3:prefix",
    "s3:max-keys",
    "s3:ExistingObjectTag/k",
    "s3:x-amz-acl",
    "s3:object-lock-remaining-retention-days",
    "aws:PrincipalTag/t",
    "foo:bar",
    "aws:",
    "",
    "s3:RequestObjectTagKeys",
]
_CONDITION_VALUES: list[Any] = [
    "203.0.113.0/24",
    "300.1.1.1/99",
    "::1/129",
    "2001:db8::/32",
    "true",
    "maybe",
    "2030-01-01T00:00:00Z",
    "yesterday",
    "10",
    "abc",
    1e400,
    -1,
    None,
    [],
    {},
    [1, [2]],
    {"a": "b"},
    "*",
    "\ud800",
    "x" * 5000,
]
_GOOD_CONDITIONS: list[dict[str, Any]] = [
    {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]}},
    {"Bool": {"aws:SecureTransport": "false"}},
    {"StringLike": {"aws:UserAgent": "*fuzz*"}},
    {"DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}},
    {"NumericLessThanEquals": {"s3:max-keys": "10"}},
    {"StringEquals": {"s3:ExistingObjectTag/k": "v"}},
    {"Null": {"aws:UserAgent": "false"}},
    {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["a", "b"]}},
]
_HOSTILE: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64,
    10**30,
    1.5,
    "",
    "x",
    [],
    {},
    [None],
    {"": ""},
    "\U0001f600",
    "\x00",
    "\ud800",
    "x" * 30_000,
]


def _walk(doc: Any, out: list[tuple[Any, Any]]) -> None:
    """Every (container, key) of a JSON value, to replace what it holds."""
    if isinstance(doc, dict):
        for k in list(doc):
            out.append((doc, k))
            _walk(doc[k], out)
    elif isinstance(doc, list):
        for i in range(len(doc)):
            out.append((doc, i))
            _walk(doc[i], out)


def policy_document(rng: random.Random, bucket: str) -> bytes:
    """A damaged bucket policy. Never a valid Deny (it would shut the fuzzer out of the bucket
    for the rest of the run): a damaged one is refused before it can take effect."""
    pick = rng.choice

    def arn() -> str:
        return pick(_ARNS).replace("{b}", bucket)

    def clean_statement() -> dict[str, Any]:
        st: dict[str, Any] = {
            "Sid": pick(["", f"s{rng.randrange(10**6)}"]),
            "Effect": "Allow",
            "Principal": pick(["*", {"AWS": "*"}, {"AWS": "arn:aws:iam::fuzz:root"}]),
            "Action": pick([a for a in _ACTIONS[:7] if a != "s3:ListBucket"]),
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        if rng.random() < 0.7:
            st["Condition"] = pick(_GOOD_CONDITIONS)
        return st

    def statement() -> dict[str, Any]:
        if clean:
            return clean_statement()
        st: dict[str, Any] = {
            "Sid": pick(["s1", "", "x" * 100, "\u00e9"]),
            "Effect": pick(["Allow", "Allow", "allow", "DENY", "", "Permit"]),
            "Principal": pick(
                [
                    "*",
                    {"AWS": "*"},
                    {"AWS": [arn(), "fuzz"]},
                    {"Service": "x"},
                    {"CanonicalUser": "x"},
                    {"Foo": "*"},
                ]
            ),
            "Action": pick([pick(_ACTIONS), [pick(_ACTIONS) for _ in range(pick([1, 2, 30]))]]),
            "Resource": pick([arn(), [arn(), arn()]]),
        }
        if rng.random() < 0.6:
            st["Condition"] = {
                pick(_OPERATORS): {pick(_CONDITION_KEYS): copy.deepcopy(pick(_CONDITION_VALUES))}
                for _ in range(pick([1, 2]))
            }
        if rng.random() < 0.15:
            st[pick(["NotAction", "NotResource", "NotPrincipal", "Foo", "effect"])] = copy.deepcopy(
                pick(_HOSTILE)
            )
        return st

    # a share close to valid, so that the statements reach the checks past the parser
    clean = rng.random() < 0.4
    doc: dict[str, Any] = {
        "Version": "2012-10-17"
        if clean
        else pick(["2012-10-17", "2012-10-17", "2008-10-17", "", "2012-10-18"]),
        "Statement": [statement() for _ in range(pick([1, 1, 2, 0, 101]))],
    }
    if rng.random() < 0.2 and not clean:
        doc[pick(["Id", "Foo", "version", "Statement "])] = copy.deepcopy(pick(_HOSTILE))
    for _ in range(pick([0, 0, 1] if clean else [0, 1, 2])):
        slots: list[tuple[Any, Any]] = []
        _walk(doc, slots)
        container, key = pick(slots)
        container[key] = copy.deepcopy(pick(_HOSTILE))
    if rng.random() < 0.1:
        statements = doc.get("Statement")
        doc["Statement"] = statements[0] if isinstance(statements, list) and statements else {}
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5)
    roll = rng.random() + (0.5 if clean else 0)
    if roll < 0.08:  # deep nesting, past any recursion limit
        depth = pick([100, 1000, 5000, 20_000])
        nest = pick(["[", '{"a":'])
        close = "]" if nest == "[" else "}"
        text = text.replace(
            '"Statement": ', '"Statement": ' + nest * depth + "1" + close * depth + ', "X": ', 1
        )
    elif roll < 0.13:
        text = text[: rng.randrange(len(text) + 1)]
    elif roll < 0.18:  # JSON that Python reads and others do not
        text = text.replace(
            '"Version"',
            pick(
                [
                    '"Version": NaN, "Version"',
                    '"Version": 1e999, "Version"',
                    '"Version": 1, "Version"',
                ]
            ),
            1,
        )
    elif roll < 0.22:
        text = text.replace('"', '"' + pick(["\\ud800", "\\u0000", "\\udfff\\ud800", "\\x"]), 1)
    elif roll < 0.25:
        text = pick(["", "null", "[]", "1", '"s"', "{", "}", "{}" * 3, "\x00" * 4, "1" * 5000])
    elif roll < 0.27:
        text += " " * pick([25_000, 300_000])
    body = text.encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.05:
        body = text.encode("utf-16", "surrogatepass")
    elif roll < 0.1:
        body = b"\xef\xbb\xbf" + body
    elif roll < 0.15 and body:
        i = rng.randrange(len(body))
        body = body[:i] + bytes([rng.randrange(256)]) + body[i + 1 :]
    return body


def policy_text(rng: random.Random, bucket: str) -> str:
    """A damaged policy as the gRPC API takes it (a string)."""
    return policy_document(rng, bucket).decode("utf-8", "surrogateescape")


# ---- grant headers ----------------------------------------------------------------------

GRANT_HEADERS = [
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
]


def grant_value(rng: random.Random, owner: str) -> bytes:
    """A grant header's grantee list: valid, garbled or hostile."""
    pick = rng.choice
    one = [
        f'id="{owner}"',
        'id="arn:aws:iam::other:user/x"',
        'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
        'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"',
        'uri="http://evil.example/"',
        'emailAddress="a@example.com"',
        "id=",
        'id="',
        'id=""',
        "id=x",
        'ID="x"',
        'foo="x"',
        "=",
        '""',
        ",",
        "",
        'id="\u00e9\U0001f600"',
        'id="a\x01b"',
        'uri="' + "x" * 9000 + '"',
        'id="a", , id="b"',
        'id="a";uri="b"',
        'id="a\\"b"',
    ]
    # half the time only grantees S3 knows, so that the grants reach the ACL itself
    pool = one[:6] if rng.random() < 0.5 else one
    text = ", ".join(pick(pool) for _ in range(pick([1, 1, 2, 3, 200])))
    return text.encode("utf-8", "surrogatepass")


# ---- POST policy ------------------------------------------------------------------------


def post_policy(rng: random.Random, fields: dict[str, str], bucket: str) -> str:
    """The base64 policy of a POST form: one naming every field, often damaged."""
    pick = rng.choice
    conditions: list[Any] = [{"bucket": bucket}]
    for name, value in fields.items():
        conditions.append(
            pick([["starts-with", f"${name}", ""], {name: value}, ["eq", f"${name}", value]])
        )
    if rng.random() < 0.5:
        conditions.append(
            [
                "content-length-range",
                pick([0, 1, -1, "0", 2**64, None]),
                pick([1 << 20, 0, -5, "x", 1e400, None]),
            ]
        )
    doc: dict[str, Any] = {
        "expiration": pick(
            [
                "2099-01-01T00:00:00.000Z",
                "2099-01-01T00:00:00Z",
                "2000-01-01T00:00:00Z",
                "",
                "tomorrow",
                "9999-99-99T99:99:99Z",
                0,
                None,
            ]
        ),
        "conditions": conditions,
    }
    roll = rng.random()
    if roll < 0.15:
        conds = doc["conditions"]
        if conds:
            conds[rng.randrange(len(conds))] = pick(
                [
                    ["starts-with"],
                    ["eq", "key"],
                    ["eq", 1, 2],
                    ["foo", "$key", ""],
                    {"a": 1},
                    {"a": "b", "c": "d"},
                    [],
                    {},
                    None,
                    "x",
                    ["starts-with", "$key", ["x"]],
                    ["content-length-range", 5, 1],
                    ["eq", "$", ""],
                ]
            )
    elif roll < 0.2:
        doc["conditions"] = pick([None, {}, "x", [[[[]]]]])
    text = json.dumps(doc)
    roll = rng.random()
    if roll < 0.05:
        text = "[" * 5000 + "]" * 5000
    elif roll < 0.1:
        text = text[: rng.randrange(len(text) + 1)]
    encoded = base64.b64encode(text.encode()).decode()
    roll = rng.random()
    if roll < 0.05:
        encoded = encoded.rstrip("=")
    elif roll < 0.08:
        encoded = encoded + "!!"
    elif roll < 0.1:
        encoded = "\u00e9" + encoded
    return encoded


# ---- PROXY protocol ---------------------------------------------------------------------

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def _v2(rng: random.Random, source: str, command: int, tlv: bytes) -> bytes:
    packed = socket.inet_pton(socket.AF_INET6 if ":" in source else socket.AF_INET, source)
    family = 0x21 if len(packed) == 16 else 0x11
    block = packed + packed + struct.pack("!HH", rng.randrange(65536), 9000) + tlv
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


def proxy_header(rng: random.Random, request: bytes) -> tuple[bytes, ProxyHeader | None]:
    """A PROXY header to send before ``request``, and what the server's parser makes of the
    two together: a header (judge the answer as usual) or None (malformed: the server must
    close the connection without an answer). Never an incomplete header (the server would
    rightly wait for the rest until its head timeout)."""
    pick = rng.choice
    sources = ["127.0.0.1", "203.0.113.7", "10.0.0.1", "::1", "2001:db8::1", "0.0.0.0"]
    while True:
        roll = rng.random()
        source = pick(sources)
        if roll < 0.4:
            family = "TCP6" if ":" in source else "TCP4"
            dest = "::1" if family == "TCP6" else "127.0.0.1"
            header = f"PROXY {family} {source} {dest} {rng.randrange(1, 65536)} 9000\r\n".encode()
        elif roll < 0.75:
            tlv = pick([b"", b"\x04\x00\x03abc", b"\x01\x00\x02h2"])
            header = _v2(rng, source, pick([1, 1, 1, 0]), tlv)
        elif roll < 0.8:
            header = pick([b"PROXY UNKNOWN\r\n", b"PROXY UNKNOWN ffff::1 ::2 1 2\r\n"])
        else:
            header = pick(
                [
                    b"PROXY TCP4 203.0.113.7 127.0.0.1 99999 9000\r\n",
                    b"PROXY TCP4 203.0.113.7 127.0.0.1 1 2 3\r\n",
                    b"PROXY TCP4 ::1 127.0.0.1 1 2\r\n",
                    b"PROXY TCP9 a b 1 2\r\n",
                    b"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
                    b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
                    b"PROXY TCP4 1.2.3.4 5.6.7.8 \xff 2\r\n",
                    b"PROXY " + b"A" * 200 + b"\r\n",
                    b"PROXY\r\n",
                    b"PROXY \r\n",
                    b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
                    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
                    b"PROXY TCP4 \xe9.2.3.4 5.6.7.8 1 2\r\n",
                    V2_SIGNATURE + b"\x21\x11\xff\xff" + bytes(12),
                    V2_SIGNATURE + b"\x21\x11\x00\x00",
                    V2_SIGNATURE + b"\x21\x31\x00\x0c" + bytes(12),
                    V2_SIGNATURE + b"\x21\x21\x00\x0c" + bytes(12),
                    V2_SIGNATURE + b"\x2f\x11\x00\x0c" + bytes(12),
                    V2_SIGNATURE + b"\x01\x11\x00\x0c" + bytes(12),
                    V2_SIGNATURE + b"\x21\x00\x00\x03abc",
                    V2_SIGNATURE + b"\x20\x11\x00\x0c" + bytes(12),
                    V2_SIGNATURE[:6] + b"JUNK" + bytes(10),
                    b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                    bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))),
                    b"GET / HTTP/1.1\r\n",
                    b"",
                ]
            )
            if rng.random() < 0.3 and header:
                i = rng.randrange(len(header))
                header = header[:i] + bytes([rng.randrange(256)]) + header[i + 1 :]
        try:
            parsed = parse_proxy_header(header + request)
        except MalformedProxyHeaderError:
            return header, None
        if parsed is not None:
            return header, parsed
