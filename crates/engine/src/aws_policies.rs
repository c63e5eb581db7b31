//! The AWS-managed policies Coffer offers (`arn:aws:iam::aws:policy/NAME`),
//! for the S3 and IAM permissions they grant on AWS, so that attachments
//! written for AWS (`AmazonS3ReadOnlyAccess`, ...) work unchanged.
//!
//! Their documents are fixed here and cannot be changed or deleted. Which
//! users, groups and roles of an account they are attached to is stored per
//! account in the Policies table under `aws/NAME` (a name no customer
//! policy can have, `/` being outside IAM's name characters).

use coffer_meta::records::{ManagedPolicyRecord, PolicyVersionRecord};

/// (name, description, document)
const CATALOG: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "Provides full access to AWS services and resources.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "AmazonS3FullAccess",
        "Provides full access to all buckets.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    ),
    (
        "AmazonS3ReadOnlyAccess",
        "Provides read only access to all buckets.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "Provides full access to IAM.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "Provides read only access to IAM.",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
];

/// When the catalog's policies were created, as reported (2015-02-06).
const CREATED_MS: i64 = 1_423_248_000_000;

/// The key suffix under which an account's attachments of `name` are kept.
pub(crate) fn attachment_row(name: &str) -> String {
    format!("aws/{name}")
}

/// A stable `ANPA...` id derived from the name.
fn policy_id(name: &str) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = <sha2::Sha256 as sha2::Digest>::digest(name.as_bytes());
    let tail: String = digest
        .iter()
        .take(17)
        .map(|b| char::from(CHARS[usize::from(*b) % CHARS.len()]))
        .collect();
    format!("ANPA{tail}")
}

/// The catalog record of an AWS-managed policy, without attachments.
pub(crate) fn lookup(name: &str) -> Option<ManagedPolicyRecord> {
    CATALOG
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, description, document)| ManagedPolicyRecord {
            name: (*n).to_owned(),
            path: "/".to_owned(),
            policy_id: policy_id(n),
            created_ms: CREATED_MS,
            updated_ms: CREATED_MS,
            description: (*description).to_owned(),
            default_version: "v1".to_owned(),
            versions: vec![PolicyVersionRecord {
                version_id: "v1".to_owned(),
                document: (*document).to_owned(),
                created_ms: CREATED_MS,
            }],
            next_version: 2,
            aws_managed: true,
            ..ManagedPolicyRecord::default()
        })
}

/// Every catalog policy's name.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    CATALOG.iter().map(|(n, _, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_documents_are_valid_identity_policies() {
        for name in names() {
            let p = lookup(name).expect("listed");
            let doc = p.default_document().expect("v1");
            coffer_iam::Policy::parse_for(doc, coffer_iam::PolicyKind::Identity)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                p.arn("123456789012"),
                format!("arn:aws:iam::aws:policy/{name}")
            );
            assert!(p.policy_id.starts_with("ANPA") && p.policy_id.len() == 21);
        }
        assert!(lookup("amazons3readonlyaccess").is_some());
        assert!(lookup("NoSuchPolicy").is_none());
    }
}
