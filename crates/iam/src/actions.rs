//! The one table mapping S3 operations to the IAM action they require and
//! the kind of resource it applies to, as AWS documents them in "Actions,
//! resources, and condition keys for Amazon S3" and "Policy actions for S3
//! API operations".

/// The resource an action is evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// No resource: service-level actions such as ListAllMyBuckets.
    Service,
    /// `arn:aws:s3:::BUCKET`
    Bucket,
    /// `arn:aws:s3:::BUCKET/KEY`
    Object,
}

/// One row: the S3 operation name (as in the S3 API reference), the IAM
/// action it requires, the action when a `versionId` is given, and the
/// resource kind.
pub struct ActionRow {
    pub operation: &'static str,
    pub action: &'static str,
    pub versioned_action: Option<&'static str>,
    pub resource: ResourceKind,
}

const fn row(
    operation: &'static str,
    action: &'static str,
    versioned_action: Option<&'static str>,
    resource: ResourceKind,
) -> ActionRow {
    ActionRow {
        operation,
        action,
        versioned_action,
        resource,
    }
}

use ResourceKind::{Bucket, Object, Service};

pub static S3_ACTIONS: &[ActionRow] = &[
    row("ListBuckets", "s3:ListAllMyBuckets", None, Service),
    row("CreateBucket", "s3:CreateBucket", None, Bucket),
    row("DeleteBucket", "s3:DeleteBucket", None, Bucket),
    row("HeadBucket", "s3:ListBucket", None, Bucket),
    row("GetBucketLocation", "s3:GetBucketLocation", None, Bucket),
    row("ListObjects", "s3:ListBucket", None, Bucket),
    row("ListObjectsV2", "s3:ListBucket", None, Bucket),
    row("ListObjectVersions", "s3:ListBucketVersions", None, Bucket),
    row(
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
        None,
        Bucket,
    ),
    row(
        "GetBucketVersioning",
        "s3:GetBucketVersioning",
        None,
        Bucket,
    ),
    row(
        "PutBucketVersioning",
        "s3:PutBucketVersioning",
        None,
        Bucket,
    ),
    row("GetBucketPolicy", "s3:GetBucketPolicy", None, Bucket),
    row("PutBucketPolicy", "s3:PutBucketPolicy", None, Bucket),
    row("DeleteBucketPolicy", "s3:DeleteBucketPolicy", None, Bucket),
    row("GetBucketAcl", "s3:GetBucketAcl", None, Bucket),
    row("PutBucketAcl", "s3:PutBucketAcl", None, Bucket),
    row("GetBucketCors", "s3:GetBucketCORS", None, Bucket),
    row("PutBucketCors", "s3:PutBucketCORS", None, Bucket),
    row("DeleteBucketCors", "s3:PutBucketCORS", None, Bucket),
    row("GetBucketTagging", "s3:GetBucketTagging", None, Bucket),
    row("PutBucketTagging", "s3:PutBucketTagging", None, Bucket),
    row("DeleteBucketTagging", "s3:PutBucketTagging", None, Bucket),
    row(
        "GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
        None,
        Bucket,
    ),
    row(
        "PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
        None,
        Bucket,
    ),
    row(
        "DeleteBucketLifecycle",
        "s3:PutLifecycleConfiguration",
        None,
        Bucket,
    ),
    row("GetBucketWebsite", "s3:GetBucketWebsite", None, Bucket),
    row("PutBucketWebsite", "s3:PutBucketWebsite", None, Bucket),
    row(
        "DeleteBucketWebsite",
        "s3:DeleteBucketWebsite",
        None,
        Bucket,
    ),
    row(
        "GetBucketOwnershipControls",
        "s3:GetBucketOwnershipControls",
        None,
        Bucket,
    ),
    row(
        "GetPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
        None,
        Bucket,
    ),
    row(
        "GetBucketEncryption",
        "s3:GetEncryptionConfiguration",
        None,
        Bucket,
    ),
    row(
        "PutBucketEncryption",
        "s3:PutEncryptionConfiguration",
        None,
        Bucket,
    ),
    row(
        "DeleteBucketEncryption",
        "s3:PutEncryptionConfiguration",
        None,
        Bucket,
    ),
    row(
        "PutBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        None,
        Bucket,
    ),
    row(
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
        None,
        Bucket,
    ),
    row(
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        None,
        Bucket,
    ),
    row(
        "DeletePublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
        None,
        Bucket,
    ),
    row(
        "GetBucketPolicyStatus",
        "s3:GetBucketPolicyStatus",
        None,
        Bucket,
    ),
    row(
        "PutObjectLockConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        None,
        Bucket,
    ),
    row(
        "GetObjectLockConfiguration",
        "s3:GetBucketObjectLockConfiguration",
        None,
        Bucket,
    ),
    row("PutObjectRetention", "s3:PutObjectRetention", None, Object),
    row("GetObjectRetention", "s3:GetObjectRetention", None, Object),
    row("PutObjectLegalHold", "s3:PutObjectLegalHold", None, Object),
    row("GetObjectLegalHold", "s3:GetObjectLegalHold", None, Object),
    // Not an operation: checked in addition when a request sets
    // x-amz-bypass-governance-retention.
    row(
        "BypassGovernanceRetention",
        "s3:BypassGovernanceRetention",
        None,
        Object,
    ),
    row("GetBucketLogging", "s3:GetBucketLogging", None, Bucket),
    row(
        "GetBucketRequestPayment",
        "s3:GetBucketRequestPayment",
        None,
        Bucket,
    ),
    row(
        "GetObject",
        "s3:GetObject",
        Some("s3:GetObjectVersion"),
        Object,
    ),
    row(
        "HeadObject",
        "s3:GetObject",
        Some("s3:GetObjectVersion"),
        Object,
    ),
    row(
        "GetObjectAttributes",
        "s3:GetObject",
        Some("s3:GetObjectVersion"),
        Object,
    ),
    row("PutObject", "s3:PutObject", None, Object),
    row("CopyObject", "s3:PutObject", None, Object),
    row(
        "DeleteObject",
        "s3:DeleteObject",
        Some("s3:DeleteObjectVersion"),
        Object,
    ),
    // DeleteObjects is authorized per key as s3:DeleteObject; the request
    // itself is checked against the bucket.
    row("DeleteObjects", "s3:DeleteObject", None, Bucket),
    row(
        "GetObjectAcl",
        "s3:GetObjectAcl",
        Some("s3:GetObjectVersionAcl"),
        Object,
    ),
    row(
        "PutObjectAcl",
        "s3:PutObjectAcl",
        Some("s3:PutObjectVersionAcl"),
        Object,
    ),
    row(
        "GetObjectTagging",
        "s3:GetObjectTagging",
        Some("s3:GetObjectVersionTagging"),
        Object,
    ),
    row(
        "PutObjectTagging",
        "s3:PutObjectTagging",
        Some("s3:PutObjectVersionTagging"),
        Object,
    ),
    row(
        "DeleteObjectTagging",
        "s3:DeleteObjectTagging",
        Some("s3:DeleteObjectVersionTagging"),
        Object,
    ),
    row("CreateMultipartUpload", "s3:PutObject", None, Object),
    row("UploadPart", "s3:PutObject", None, Object),
    row("UploadPartCopy", "s3:PutObject", None, Object),
    row("CompleteMultipartUpload", "s3:PutObject", None, Object),
    row(
        "AbortMultipartUpload",
        "s3:AbortMultipartUpload",
        None,
        Object,
    ),
    row("ListParts", "s3:ListMultipartUploadParts", None, Object),
];

/// Looks up the row for an S3 operation name.
pub fn lookup(operation: &str) -> Option<&'static ActionRow> {
    S3_ACTIONS.iter().find(|r| r.operation == operation)
}

/// The IAM action a request needs, taking `versionId` into account.
pub fn action_for(row: &ActionRow, has_version_id: bool) -> &'static str {
    match (has_version_id, row.versioned_action) {
        (true, Some(v)) => v,
        _ => row.action,
    }
}

/// The resource ARN for a bucket and optional key.
pub fn resource_arn(kind: ResourceKind, bucket: Option<&str>, key: Option<&str>) -> String {
    match (kind, bucket, key) {
        // Service-level S3 actions (ListAllMyBuckets) name no resource; AWS
        // matches them by `*` and by `arn:aws:s3:::*` (the form its examples
        // use), and by no bucket's ARN.
        (ResourceKind::Service, _, _) => "arn:aws:s3:::*".to_owned(),
        (_, None, _) => "*".to_owned(),
        (ResourceKind::Bucket, Some(b), _) | (ResourceKind::Object, Some(b), None) => {
            format!("arn:aws:s3:::{b}")
        }
        (ResourceKind::Object, Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the mapping AWS documents for the operations clients use most.
    #[test]
    fn table_matches_aws_documentation() {
        let cases = [
            ("ListObjectsV2", false, "s3:ListBucket", Bucket),
            ("ListObjects", false, "s3:ListBucket", Bucket),
            ("HeadObject", false, "s3:GetObject", Object),
            ("GetObject", true, "s3:GetObjectVersion", Object),
            ("UploadPart", false, "s3:PutObject", Object),
            ("CompleteMultipartUpload", false, "s3:PutObject", Object),
            ("ListBuckets", false, "s3:ListAllMyBuckets", Service),
            ("HeadBucket", false, "s3:ListBucket", Bucket),
            ("DeleteObject", true, "s3:DeleteObjectVersion", Object),
            (
                "ListMultipartUploads",
                false,
                "s3:ListBucketMultipartUploads",
                Bucket,
            ),
            ("ListParts", false, "s3:ListMultipartUploadParts", Object),
        ];
        for (op, versioned, action, kind) in cases {
            let r = lookup(op).unwrap_or_else(|| panic!("{op} missing"));
            assert_eq!(action_for(r, versioned), action, "{op}");
            assert_eq!(r.resource, kind, "{op}");
        }
    }

    #[test]
    fn operations_appear_once() {
        let mut names: Vec<_> = S3_ACTIONS.iter().map(|r| r.operation).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn resource_arns() {
        assert_eq!(resource_arn(Service, Some("b"), None), "arn:aws:s3:::*");
        assert_eq!(resource_arn(Bucket, Some("b"), Some("k")), "arn:aws:s3:::b");
        assert_eq!(
            resource_arn(Object, Some("b"), Some("a/b")),
            "arn:aws:s3:::b/a/b"
        );
    }
}
