//! Access control lists on buckets and objects, as S3 keeps them: canned
//! ACLs, `x-amz-grant-*` headers and AccessControlPolicy documents become a
//! list of grants; the authorization call consults them when no policy
//! allows a request (see [`crate::auth`]).

use coffer_iam::AclReach;
use coffer_meta::records::{
    AccountRecord, AclGrant, AclPermission, BucketRecord, Grantee, ObjectOwnership,
    PublicAccessBlock,
};

use crate::{Engine, EngineError};

pub const ALL_USERS_URI: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS_URI: &str =
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
pub const LOG_DELIVERY_URI: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// A grantee as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GranteeSpec {
    Id(String),
    Uri(String),
    Email(String),
}

/// What a request says an ACL should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AclSpec {
    /// `x-amz-acl`.
    Canned(String),
    /// `x-amz-grant-*` headers or an AccessControlPolicy body.
    Grants(Vec<(GranteeSpec, AclPermission)>),
}

impl AclSpec {
    /// From `x-amz-acl` and the five `x-amz-grant-*` headers; `None` when
    /// the request has neither. S3 refuses both at once.
    pub fn from_headers(
        canned: Option<&str>,
        grants: [(AclPermission, Option<&str>); 5],
    ) -> Result<Option<Self>, EngineError> {
        let mut list = Vec::new();
        for (permission, value) in grants {
            if let Some(v) = value {
                for g in parse_grant_header(v)? {
                    list.push((g, permission));
                }
            }
        }
        match (canned, list.is_empty()) {
            (Some(_), false) => Err(EngineError::InvalidRequest(
                "Specifying both Canned ACLs and Header Grants is not allowed".into(),
            )),
            (Some(c), true) => Ok(Some(Self::Canned(c.to_owned()))),
            (None, false) => Ok(Some(Self::Grants(list))),
            (None, true) => Ok(None),
        }
    }

    /// Whether BucketOwnerEnforced accepts the ACL: only
    /// `bucket-owner-full-control`, and `private` when creating a bucket.
    pub(crate) fn is_owner_only(&self, creating_bucket: bool) -> bool {
        matches!(self, Self::Canned(c)
            if c == "bucket-owner-full-control" || (creating_bucket && c == "private"))
    }
}

/// `id="...", uri="...", emailAddress="..."` (comma-separated).
fn parse_grant_header(value: &str) -> Result<Vec<GranteeSpec>, EngineError> {
    let mut out = Vec::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, v) = part.split_once('=').ok_or_else(|| {
            EngineError::InvalidArgument(format!("Invalid grant header value {part:?}"))
        })?;
        let v = v.trim().trim_matches('"').to_owned();
        out.push(match kind.trim().to_ascii_lowercase().as_str() {
            "id" => GranteeSpec::Id(v),
            "uri" => GranteeSpec::Uri(v),
            "emailaddress" => GranteeSpec::Email(v),
            other => {
                return Err(EngineError::InvalidArgument(format!(
                    "Invalid grantee type {other:?}"
                )));
            }
        });
    }
    Ok(out)
}

fn grant(grantee: Grantee, permission: AclPermission) -> AclGrant {
    AclGrant {
        grantee,
        permission,
    }
}

/// The grants a canned ACL stands for. `owner` owns the resource; for
/// objects `bucket_owner` owns their bucket.
pub(crate) fn canned_grants(
    name: &str,
    owner: &str,
    bucket_owner: &str,
) -> Result<Vec<AclGrant>, EngineError> {
    use AclPermission::*;
    // Group grants come first and the owner's last, the order S3 lists
    // them in.
    let mut g = Vec::new();
    match name {
        "private" | "aws-exec-read" => {}
        "public-read" => g.push(grant(Grantee::AllUsers, Read)),
        "public-read-write" => {
            g.push(grant(Grantee::AllUsers, Read));
            g.push(grant(Grantee::AllUsers, Write));
        }
        "authenticated-read" => g.push(grant(Grantee::AuthenticatedUsers, Read)),
        "bucket-owner-read" if owner != bucket_owner => {
            g.push(grant(Grantee::Account(bucket_owner.to_owned()), Read));
        }
        "bucket-owner-full-control" if owner != bucket_owner => {
            g.push(grant(
                Grantee::Account(bucket_owner.to_owned()),
                FullControl,
            ));
        }
        "bucket-owner-read" | "bucket-owner-full-control" => {}
        "log-delivery-write" => {
            g.push(grant(Grantee::LogDelivery, Write));
            g.push(grant(Grantee::LogDelivery, ReadAcp));
        }
        other => {
            return Err(EngineError::InvalidArgument(format!(
                "The canned ACL {other:?} is not valid"
            )));
        }
    }
    g.push(grant(Grantee::Account(owner.to_owned()), FullControl));
    Ok(g)
}

/// Whether a list grants anything to everyone or every signed request.
pub(crate) fn is_public(grants: &[AclGrant]) -> bool {
    grants
        .iter()
        .any(|g| matches!(g.grantee, Grantee::AllUsers | Grantee::AuthenticatedUsers))
}

/// Which ACL permission an action needs, and whether on the object (else
/// on the bucket). `None` for actions no ACL can grant.
pub(crate) fn needed_permission(action: &str) -> Option<(bool, AclPermission)> {
    use AclPermission::*;
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            (false, Read)
        }
        "s3:PutObject"
        | "s3:DeleteObject"
        | "s3:DeleteObjectVersion"
        | "s3:AbortMultipartUpload"
        | "s3:ListMultipartUploadParts" => (false, Write),
        "s3:GetBucketAcl" => (false, ReadAcp),
        "s3:PutBucketAcl" => (false, WriteAcp),
        "s3:GetObject" | "s3:GetObjectVersion" => (true, Read),
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => (true, ReadAcp),
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => (true, WriteAcp),
        _ => return None,
    })
}

/// How far an ACL reaches for a caller: to everyone, to the caller's
/// account, or not at all.
pub(crate) fn reach(
    grants: &[AclGrant],
    needed: AclPermission,
    caller_canonical_id: Option<&str>,
    ignore_public: bool,
) -> Option<AclReach> {
    let mut best = None;
    for g in grants {
        if g.permission != needed && g.permission != AclPermission::FullControl {
            continue;
        }
        let r = match &g.grantee {
            Grantee::AllUsers if !ignore_public => AclReach::Everyone,
            Grantee::AuthenticatedUsers if !ignore_public && caller_canonical_id.is_some() => {
                AclReach::Account
            }
            Grantee::Account(id) if Some(id.as_str()) == caller_canonical_id => AclReach::Account,
            _ => continue,
        };
        if r == AclReach::Everyone {
            return Some(r);
        }
        best = Some(r);
    }
    best
}

/// Whether a bucket's ACLs count: not with BucketOwnerEnforced.
pub(crate) fn acls_enabled(bucket: &BucketRecord) -> bool {
    bucket.ownership != Some(ObjectOwnership::BucketOwnerEnforced)
}

fn block(bucket: &BucketRecord) -> PublicAccessBlock {
    bucket.public_access_block.unwrap_or_default()
}

impl Engine {
    /// Turns what a request asked for into the grants to store, checking
    /// the bucket's ownership setting and public access block. `owner` is
    /// the resource's owning account (the writer, for a new object).
    pub(crate) async fn resolve_acl(
        &self,
        spec: &AclSpec,
        bucket: &BucketRecord,
        owner: &str,
        creating_bucket: bool,
    ) -> Result<Vec<AclGrant>, EngineError> {
        if !acls_enabled(bucket) && !spec.is_owner_only(creating_bucket) {
            return Err(EngineError::AccessControlListNotSupported);
        }
        let owner_id = self.account(owner).await?.canonical_id;
        let grants = match spec {
            AclSpec::Canned(name) => {
                let bucket_owner_id = self.account(&bucket.owner).await?.canonical_id;
                canned_grants(name, &owner_id, &bucket_owner_id)?
            }
            AclSpec::Grants(list) => {
                let accounts = self.list_accounts().await?;
                let mut out = Vec::new();
                for (g, permission) in list {
                    out.push(grant(resolve_grantee(g, &accounts)?, *permission));
                }
                // Group grants first, as canned ACLs list them.
                out.sort_by_key(|g| matches!(g.grantee, Grantee::Account(_)));
                out
            }
        };
        if block(bucket).block_public_acls && is_public(&grants) {
            return Err(EngineError::AccessDenied(
                "Access Denied: the bucket's public access block refuses public ACLs".into(),
            ));
        }
        Ok(grants)
    }
}

impl Engine {
    /// The owner (when not the bucket owner) and ACL of an object a writer
    /// creates. The writer owns it, unless the bucket's Object Ownership
    /// gives it to the bucket owner (always with BucketOwnerEnforced; with
    /// BucketOwnerPreferred when the writer grants it full control).
    pub(crate) async fn new_object_acl(
        &self,
        bucket: &BucketRecord,
        writer: Option<&str>,
        spec: Option<&AclSpec>,
    ) -> Result<(Option<String>, Option<Vec<AclGrant>>), EngineError> {
        let to_bucket_owner = match bucket.ownership {
            Some(ObjectOwnership::BucketOwnerEnforced) => true,
            Some(ObjectOwnership::BucketOwnerPreferred) => {
                matches!(spec, Some(AclSpec::Canned(c)) if c == "bucket-owner-full-control")
            }
            _ => false,
        };
        let owner = writer
            .filter(|w| *w != bucket.owner && !to_bucket_owner)
            .map(str::to_owned);
        let acl = match spec {
            Some(s) => Some(
                self.resolve_acl(s, bucket, owner.as_deref().unwrap_or(&bucket.owner), false)
                    .await?,
            ),
            None => None,
        };
        Ok((owner, acl))
    }
}

fn resolve_grantee(g: &GranteeSpec, accounts: &[AccountRecord]) -> Result<Grantee, EngineError> {
    match g {
        GranteeSpec::Id(id) => accounts
            .iter()
            .find(|a| a.canonical_id == *id)
            .map(|a| Grantee::Account(a.canonical_id.clone()))
            .ok_or_else(|| EngineError::InvalidArgument("Invalid id".into())),
        GranteeSpec::Uri(u) => match u.as_str() {
            ALL_USERS_URI => Ok(Grantee::AllUsers),
            AUTHENTICATED_USERS_URI => Ok(Grantee::AuthenticatedUsers),
            LOG_DELIVERY_URI => Ok(Grantee::LogDelivery),
            _ => Err(EngineError::InvalidArgument(format!(
                "Invalid group uri {u}"
            ))),
        },
        // Accounts here have no e-mail addresses to look up.
        GranteeSpec::Email(e) => Err(EngineError::UnresolvableGrantByEmailAddress(format!(
            "The e-mail address you provided does not match any account on record: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclPermission::*;

    #[test]
    fn grant_headers_parse_every_grantee_kind() {
        let v = r#"id="abc", uri="http://acs.amazonaws.com/groups/global/AllUsers",emailAddress="a@b.c""#;
        assert_eq!(
            parse_grant_header(v).unwrap(),
            [
                GranteeSpec::Id("abc".into()),
                GranteeSpec::Uri(ALL_USERS_URI.into()),
                GranteeSpec::Email("a@b.c".into()),
            ]
        );
        assert!(parse_grant_header("nonsense").is_err());
        assert!(matches!(
            AclSpec::from_headers(
                Some("private"),
                [
                    (Read, Some("id=\"x\"")),
                    (Write, None),
                    (ReadAcp, None),
                    (WriteAcp, None),
                    (FullControl, None)
                ]
            ),
            Err(EngineError::InvalidRequest(_))
        ));
    }

    #[test]
    fn canned_acls_expand_as_s3_documents() {
        let g = canned_grants("public-read-write", "o", "b").unwrap();
        assert_eq!(g.len(), 3);
        assert!(is_public(&g));
        let g = canned_grants("bucket-owner-full-control", "writer", "owner").unwrap();
        assert_eq!(g[0], grant(Grantee::Account("owner".into()), FullControl));
        assert_eq!(g[1], grant(Grantee::Account("writer".into()), FullControl));
        assert_eq!(
            canned_grants("bucket-owner-read", "o", "o").unwrap().len(),
            1
        );
        assert!(canned_grants("bogus", "o", "o").is_err());
    }

    #[test]
    fn reach_follows_grantee_and_permission() {
        let g = canned_grants("public-read", "o", "o").unwrap();
        assert_eq!(reach(&g, Read, None, false), Some(AclReach::Everyone));
        assert_eq!(reach(&g, Write, None, false), None);
        assert_eq!(reach(&g, Read, None, true), None, "IgnorePublicAcls");
        assert_eq!(reach(&g, Write, Some("o"), false), Some(AclReach::Account));
        let auth = canned_grants("authenticated-read", "o", "o").unwrap();
        assert_eq!(reach(&auth, Read, None, false), None);
        assert_eq!(
            reach(&auth, Read, Some("x"), false),
            Some(AclReach::Account)
        );
    }
}
