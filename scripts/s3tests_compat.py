#!/usr/bin/env python3
"""Writes the lists of COMPAT.md from a ceph/s3-tests run.

    s3tests_compat.py RESULTS.xml [--suite /tmp/s3-tests --conf /tmp/s3tests-LABEL.conf
                                   --python /tmp/s3tests-venv/bin/python]

Prints Markdown: passing tests, failing tests (with the first line of each
failure), and the tests the default marker filter excludes, each with the
marker that excludes it. The per-group table comes from the harness's
summarize.py (`summarize.py --markdown RESULTS.xml`).
"""
from __future__ import annotations

import argparse
import subprocess
import xml.etree.ElementTree as ET

EXCLUDED = {
    "fails_on_aws": "asserts Ceph RGW behaviour AWS does not have",
    "bucket_logging": "bucket logging (mostly RGW extensions)",
    "lifecycle_transition": "needs storage tiers",
    "cloud_transition": "needs a cloud storage tier",
    "cloud_restore": "needs a cloud storage tier",
    "s3select": "S3 Select, another service",
    "sns": "SNS notifications, another service",
    "webidentity_test": "STS web identity, another service",
}


def results(path: str) -> tuple[list[str], list[tuple[str, str]]]:
    passed, failed = [], []
    for tc in ET.parse(path).iter("testcase"):
        name = tc.get("name", "")
        problem = next((c for c in tc if c.tag in ("failure", "error")), None)
        skipped = next((c for c in tc if c.tag == "skipped"), None)
        if problem is not None:
            first = (problem.get("message") or "").strip().splitlines()
            failed.append((name, first[0][:160] if first else problem.tag))
        elif skipped is None:
            passed.append(name)
    return passed, failed


def excluded(suite: str, conf: str, python: str) -> dict[str, list[str]]:
    by_test: dict[str, list[str]] = {}
    for marker in EXCLUDED:
        out = subprocess.run(
            [python, "-m", "pytest", "--collect-only", "-q", "-m", marker,
             "s3tests/functional/test_s3.py"],
            cwd=suite, env={"S3TEST_CONF": conf, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if "::" in line:
                by_test.setdefault(line.split("::", 1)[1], []).append(marker)
    return by_test


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("xml")
    ap.add_argument("--suite", default="/tmp/s3-tests")
    ap.add_argument("--conf")
    ap.add_argument("--python", default="/tmp/s3tests-venv/bin/python")
    a = ap.parse_args()
    passed, failed = results(a.xml)
    print(f"### Passing ({len(passed)})\n")
    print(", ".join(f"`{n}`" for n in sorted(passed)))
    print(f"\n### Failing ({len(failed)})\n")
    for n, why in sorted(failed):
        print(f"- `{n}`: {why.replace('|', '/')}")
    if a.conf:
        ex = excluded(a.suite, a.conf, a.python)
        print(f"\n### Excluded by the default marker filter ({len(ex)})\n")
        for marker, reason in EXCLUDED.items():
            names = sorted(n for n, ms in ex.items() if ms[0] == marker)
            if names:
                print(f"- **{marker}** ({len(names)}, {reason}): "
                      + ", ".join(f"`{n}`" for n in names))


if __name__ == "__main__":
    main()
