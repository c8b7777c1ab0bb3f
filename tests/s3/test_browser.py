"""A real browser against the S3 facade: headless Chromium (Debian's chromium and
chromium-driver, driven by selenium) on a page served from another loopback origin does a
presigned PUT and a GET with fetch(), allowed by the bucket's CORS rule and refused without it,
and uploads a file through a plain HTML form (POST Object) that redirects back to the page.

Skipped where chromium or chromedriver is missing (scripts/bootstrap.sh installs them unless
LIGHTNINGSTOR_SKIP_BROWSER=1).
"""

from __future__ import annotations

import html
import http.server
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None, reason="chromium and chromedriver are not installed"
)

PAGE = b"<!doctype html><html><head><title>app</title></head><body>app</body></html>"
PAGES: dict[str, bytes] = {}
"""Pages the tests add by path (the form); any other path is PAGE."""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path.partition("?")[0], PAGE)
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """http://127.0.0.1:PORT of a page server: another origin than the S3 port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(page_origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-proxy-server", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_script_timeout(30)
        driver.get(page_origin + "/")
        yield driver
    finally:
        driver.quit()


FETCH = """
const [putUrl, getUrl, body, done] = arguments;
(async () => {
  try {
    const put = await fetch(putUrl, {method: "PUT", body, headers: {"content-type": "text/plain"}});
    const got = await fetch(getUrl);
    done({put: put.status, etag: put.headers.get("etag"), get: got.status, text: await got.text()});
  } catch (e) {
    done({error: String(e)});
  }
})();
"""


def test_fetch_needs_a_cors_rule(browser: Any, s3v4: Any, page_origin: str, tmp_path: Path) -> None:
    bucket = f"web-{uuid.uuid4().hex[:12]}"
    s3v4.create_bucket(Bucket=bucket)

    def run(key: str, body: str) -> dict[str, Any]:
        put = s3v4.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": key, "ContentType": "text/plain"}
        )
        get = s3v4.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
        result: dict[str, Any] = browser.execute_async_script(FETCH, put, get, body)
        return result

    # No rule: the browser's preflight is refused and fetch() fails; nothing is written.
    refused = run("refused.txt", "no")
    assert "error" in refused, refused
    assert s3v4.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    s3v4.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page_origin],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["content-type"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )
    allowed = run("hello.txt", "hello from the browser")
    assert allowed.get("put") == 200 and allowed.get("get") == 200, allowed
    assert allowed["text"] == "hello from the browser"
    assert allowed["etag"]  # readable only because the rule exposes it
    stored = s3v4.get_object(Bucket=bucket, Key="hello.txt")
    assert stored["Body"].read() == b"hello from the browser"
    assert stored["ContentType"] == "text/plain"


def test_html_form_upload(
    browser: Any, s3v4: Any, s3_endpoint: str, page_origin: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    bucket = f"form-{uuid.uuid4().hex[:12]}"
    s3v4.create_bucket(Bucket=bucket)
    done = page_origin + "/done"
    post = s3v4.generate_presigned_post(
        bucket,
        "forms/${filename}",
        Fields={"success_action_redirect": done, "x-amz-meta-from": "browser"},
        Conditions=[
            {"success_action_redirect": done},
            {"x-amz-meta-from": "browser"},
            ["starts-with", "$key", "forms/"],
            ["content-length-range", 1, 1024 * 1024],
        ],
    )
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in post["fields"].items()
    )
    PAGES["/form"] = (
        f'<!doctype html><html><body><form action="{html.escape(post["url"])}" method="post" '
        f'enctype="multipart/form-data">{hidden}<input type="file" name="file" id="file">'
        '<input type="submit" id="go" value="Upload"></form></body></html>'
    ).encode()
    upload = tmp_path / "picked by the user.txt"
    upload.write_bytes("uploaded through a form ✓\n".encode())

    browser.get(page_origin + "/form")
    browser.find_element(By.ID, "file").send_keys(str(upload))
    browser.find_element(By.ID, "go").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url.startswith(done))
    query = parse_qs(urlsplit(browser.current_url).query)
    assert query["bucket"] == [bucket]
    assert query["key"] == ["forms/picked by the user.txt"]
    stored = s3v4.get_object(Bucket=bucket, Key="forms/picked by the user.txt")
    assert stored["Body"].read() == upload.read_bytes()
    assert stored["Metadata"] == {"from": "browser"}
    assert query["etag"] == [stored["ETag"]]
    assert post["url"] == f"{s3_endpoint}/{bucket}"


FORM_FETCH = """
const [url, fields, done] = arguments;
(async () => {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob(["posted by fetch"], {type: "text/plain"}), "fetched.txt");
  try {
    const resp = await fetch(url, {method: "POST", body: form});
    done({status: resp.status, text: await resp.text()});
  } catch (e) {
    done({error: String(e)});
  }
})();
"""


def test_fetch_form_post_reads_the_answer_only_with_a_rule(
    browser: Any, s3v4: Any, page_origin: str
) -> None:
    bucket = f"xhr-{uuid.uuid4().hex[:12]}"
    s3v4.create_bucket(Bucket=bucket)

    def run(key: str) -> dict[str, Any]:
        post = s3v4.generate_presigned_post(
            bucket,
            key,
            Fields={"success_action_status": "201"},
            Conditions=[{"success_action_status": "201"}],
        )
        result: dict[str, Any] = browser.execute_async_script(
            FORM_FETCH, post["url"], post["fields"]
        )
        return result

    # A form POST is a simple request (no preflight): stored, but the page may not read why.
    blind = run("blind.txt")
    assert "error" in blind, blind
    assert s3v4.get_object(Bucket=bucket, Key="blind.txt")["Body"].read() == b"posted by fetch"
    s3v4.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": [page_origin], "AllowedMethods": ["POST"]}]
        },
    )
    seen = run("seen.txt")
    assert seen.get("status") == 201, seen
    assert "<Key>seen.txt</Key>" in seen["text"]
