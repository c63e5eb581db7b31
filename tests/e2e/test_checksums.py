"""Checksums on multipart uploads, through boto3: COMPOSITE and FULL_OBJECT
(`x-amz-checksum-type`), per-part checksums in ListParts, and GetObjectAttributes.

AWS behaviour pinned here (userguide/checking-object-integrity.html):
- A composite checksum is the checksum of the concatenated binary part checksums, followed
  by "-N" for N parts; a full-object checksum (CRC32, CRC32C, CRC64NVME only) is the
  checksum of the whole object, as if uploaded in one piece.
- ListParts and GetObjectAttributes(ObjectParts) report each part's checksum;
  GetObjectAttributes reports the ETag without quotes.
"""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def parts_of(size: int, n: int) -> list[bytes]:
    return [bytes([65 + i]) * size for i in range(n)]


def upload(s3, bucket: str, key: str, parts: list[bytes], algorithm: str, kind: str | None):
    extra = {"ChecksumType": kind} if kind else {}
    uid = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm,
                                     **extra)["UploadId"]
    done = []
    for number, data in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=number, Body=data,
                           ChecksumAlgorithm=algorithm)
        done.append({"PartNumber": number, "ETag": r["ETag"],
                     f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
    return uid, done


def test_composite_sha256_is_listed_per_part_and_reported(s3, bucket):
    parts = parts_of(5 * MiB, 2) + [b"tail"]
    uid, done = upload(s3, bucket, "comp", parts, "SHA256", "COMPOSITE")
    listed = s3.list_parts(Bucket=bucket, Key="comp", UploadId=uid)
    assert listed.get("ChecksumAlgorithm") == "SHA256"
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == \
        [b64(hashlib.sha256(p).digest()) for p in parts]
    out = s3.complete_multipart_upload(Bucket=bucket, Key="comp", UploadId=uid,
                                       MultipartUpload={"Parts": done})
    composite = b64(hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts))
                    .digest()) + "-3"
    assert out["ChecksumSHA256"] == composite
    head = s3.head_object(Bucket=bucket, Key="comp", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == composite
    assert head["ChecksumType"] == "COMPOSITE"

    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="comp",
        ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize", "StorageClass"])
    assert attrs["ObjectSize"] == sum(len(p) for p in parts)
    assert attrs["ETag"] == head["ETag"].strip('"') and attrs["ETag"].endswith("-3")
    assert attrs["Checksum"]["ChecksumSHA256"] == composite
    assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE"
    assert attrs["StorageClass"] == "STANDARD"
    op = attrs["ObjectParts"]
    assert op["TotalPartsCount"] == 3
    assert [(p["PartNumber"], p["Size"], p["ChecksumSHA256"]) for p in op["Parts"]] == \
        [(i, len(p), b64(hashlib.sha256(p).digest())) for i, p in enumerate(parts, 1)]
    # Paged, as GetObjectAttributes pages parts.
    page = s3.get_object_attributes(Bucket=bucket, Key="comp", ObjectAttributes=["ObjectParts"],
                                    MaxParts=1, PartNumberMarker=1)["ObjectParts"]
    assert [p["PartNumber"] for p in page["Parts"]] == [2]
    assert page["IsTruncated"] is True and page["NextPartNumberMarker"] == 2


def test_full_object_crc32_is_the_whole_objects_crc(s3, bucket):
    parts = parts_of(5 * MiB, 2) + [b"last part"]
    whole = b"".join(parts)
    uid, done = upload(s3, bucket, "full", parts, "CRC32", "FULL_OBJECT")
    # A wrong full-object value is refused and leaves the upload to retry.
    with pytest.raises(ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=uid,
                                     ChecksumCRC32=crc32(b"other"), ChecksumType="FULL_OBJECT",
                                     MultipartUpload={"Parts": done})
    assert ei.value.response["Error"]["Code"] == "BadDigest"
    out = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=uid,
                                       ChecksumCRC32=crc32(whole), ChecksumType="FULL_OBJECT",
                                       MultipartUpload={"Parts": done})
    assert out["ChecksumCRC32"] == crc32(whole)
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32(whole)
    assert head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == whole
    attrs = s3.get_object_attributes(Bucket=bucket, Key="full", ObjectAttributes=["Checksum"])
    assert attrs["Checksum"] == {"ChecksumCRC32": crc32(whole), "ChecksumType": "FULL_OBJECT"}


def test_full_object_is_refused_for_sha256(s3, bucket):
    with pytest.raises(ClientError) as ei:
        s3.create_multipart_upload(Bucket=bucket, Key="x", ChecksumAlgorithm="SHA256",
                                   ChecksumType="FULL_OBJECT")
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_attributes_of_a_single_put(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"hello", ChecksumAlgorithm="CRC32")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="one",
                                     ObjectAttributes=["ETag", "Checksum", "ObjectSize"])
    assert attrs["ETag"] == hashlib.md5(b"hello").hexdigest()
    assert attrs["ObjectSize"] == 5
    assert attrs["Checksum"]["ChecksumCRC32"] == crc32(b"hello")
    assert attrs["Checksum"]["ChecksumType"] == "FULL_OBJECT"
    assert "ObjectParts" not in attrs
