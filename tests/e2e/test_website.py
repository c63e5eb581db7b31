"""Static website hosting: PutBucketWebsite and the website endpoint that
`coffer serve --website-domain DOMAIN` serves at BUCKET.DOMAIN (anonymous
GET/HEAD, index and error documents, redirects, HTML errors)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

import helpers as h
from helpers import err

DOMAIN = "web.test"


@pytest.fixture(scope="module")
def site_server(server_factory):
    return server_factory(extra_args=["--website-domain", DOMAIN])


@pytest.fixture
def c(site_server):
    return site_server.client()


@pytest.fixture
def site(c, bucket_name):
    from conftest import empty_and_delete_bucket
    c.create_bucket(Bucket=bucket_name)
    public = {"ACL": "public-read", "ContentType": "text/html"}
    c.put_object(Bucket=bucket_name, Key="index.html", Body=b"<h1>home</h1>", **public)
    c.put_object(Bucket=bucket_name, Key="docs/index.html", Body=b"<h1>docs</h1>", **public)
    c.put_object(Bucket=bucket_name, Key="error.html", Body=b"<h1>oops</h1>", **public)
    c.put_object(Bucket=bucket_name, Key="style.css", Body=b"body{}", ACL="public-read",
                 ContentType="text/css")
    c.put_object(Bucket=bucket_name, Key="secret.txt", Body=b"private")
    c.put_bucket_website(Bucket=bucket_name, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "error.html"}})
    yield bucket_name
    empty_and_delete_bucket(c, bucket_name)


def visit(server, bucket, path, method="GET"):
    return h.send(server.endpoint, method, path, {"Host": f"{bucket}.{DOMAIN}"})


def test_configuration_round_trips(c, site):
    got = c.get_bucket_website(Bucket=site)
    assert got["IndexDocument"] == {"Suffix": "index.html"}
    assert got["ErrorDocument"] == {"Key": "error.html"}
    c.delete_bucket_website(Bucket=site)
    with pytest.raises(ClientError) as ei:
        c.get_bucket_website(Bucket=site)
    assert err(ei) == ("NoSuchWebsiteConfiguration", 404)


def test_a_configuration_needs_an_index_document(c, site):
    with pytest.raises(ClientError) as ei:
        c.put_bucket_website(Bucket=site, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "a/b.html"}})
    assert err(ei)[1] == 400


def test_index_documents_serve_directories(site_server, site):
    home = visit(site_server, site, "/")
    assert (home.status, home.body) == (200, b"<h1>home</h1>")
    assert home.headers["content-type"] == "text/html"
    docs = visit(site_server, site, "/docs/")
    assert (docs.status, docs.body) == (200, b"<h1>docs</h1>")
    css = visit(site_server, site, "/style.css")
    assert (css.status, css.body, css.headers["content-type"]) == (200, b"body{}", "text/css")
    head = visit(site_server, site, "/style.css", method="HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == "6"


def test_a_directory_without_its_slash_is_redirected(site_server, site):
    r = visit(site_server, site, "/docs")
    assert r.status == 302
    assert r.headers["location"] == "/docs/"


def test_failures_serve_the_error_document(site_server, c, site):
    private = visit(site_server, site, "/secret.txt")
    assert (private.status, private.body) == (403, b"<h1>oops</h1>")
    # As on S3, a missing key is 403 to visitors who may not list the bucket...
    missing = visit(site_server, site, "/nope.html")
    assert (missing.status, missing.body) == (403, b"<h1>oops</h1>")
    # ...and 404 once they may.
    c.put_bucket_acl(Bucket=site, ACL="public-read")
    missing = visit(site_server, site, "/nope.html")
    assert (missing.status, missing.body) == (404, b"<h1>oops</h1>")


def test_errors_without_an_error_document_are_html(site_server, c, site):
    c.put_bucket_website(Bucket=site, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}})
    c.put_bucket_acl(Bucket=site, ACL="public-read")
    r = visit(site_server, site, "/nope.html")
    assert r.status == 404
    assert r.headers["content-type"].startswith("text/html")
    assert b"NoSuchKey" in r.body


def test_only_get_and_head_are_served(site_server, site):
    assert visit(site_server, site, "/index.html", method="DELETE").status == 405
    assert visit(site_server, site, "/index.html", method="PUT").status == 405


def test_buckets_without_a_website_say_so(site_server, c, bucket_name):
    from conftest import empty_and_delete_bucket
    c.create_bucket(Bucket=bucket_name)
    try:
        r = visit(site_server, bucket_name, "/")
        assert r.status == 404 and b"NoSuchWebsiteConfiguration" in r.body
    finally:
        empty_and_delete_bucket(c, bucket_name)
    assert b"NoSuchBucket" in visit(site_server, "no-such-bucket-here", "/").body


def test_redirect_all_requests(site_server, c, site):
    c.put_bucket_website(Bucket=site, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "example.com", "Protocol": "https"}})
    r = visit(site_server, site, "/a/b.html")
    assert r.status == 301
    assert r.headers["location"] == "https://example.com/a/b.html"


def test_the_s3_endpoint_is_unchanged(site_server, c, site):
    # Requests to the plain endpoint stay S3 requests (signed, XML).
    assert c.get_object(Bucket=site, Key="secret.txt")["Body"].read() == b"private"
