//! ACLs, Object Ownership and the public access block: request headers and
//! bodies to engine values, and back.

use coffer_engine::{
    ALL_USERS_URI, AUTHENTICATED_USERS_URI, AclGrant, AclPermission, AclSpec, AclView, Engine,
    Grantee as StoredGrantee, GranteeSpec, LOG_DELIVERY_URI, ObjectOwnership as Ownership,
    PublicAccessBlock,
};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::acl;
use super::convert::principal;
use crate::errors::to_s3_error;

/// `x-amz-acl` and the `x-amz-grant-*` headers (objects have no WRITE).
pub(super) fn spec_from_headers(
    canned: Option<&str>,
    full_control: Option<&str>,
    read: Option<&str>,
    read_acp: Option<&str>,
    write: Option<&str>,
    write_acp: Option<&str>,
) -> S3Result<Option<AclSpec>> {
    AclSpec::from_headers(
        canned,
        [
            (AclPermission::FullControl, full_control),
            (AclPermission::Read, read),
            (AclPermission::ReadAcp, read_acp),
            (AclPermission::Write, write),
            (AclPermission::WriteAcp, write_acp),
        ],
    )
    .map_err(to_s3_error)
}

/// [`spec_from_headers`] for an input with the usual ACL fields.
macro_rules! acl_spec_of {
    (bucket $i:expr) => {
        acl::spec_from_headers(
            $i.acl.as_ref().map(|a| a.as_str()),
            $i.grant_full_control.as_deref(),
            $i.grant_read.as_deref(),
            $i.grant_read_acp.as_deref(),
            $i.grant_write.as_deref(),
            $i.grant_write_acp.as_deref(),
        )
    };
    (object $i:expr) => {
        acl::spec_from_headers(
            $i.acl.as_ref().map(|a| a.as_str()),
            $i.grant_full_control.as_deref(),
            $i.grant_read.as_deref(),
            $i.grant_read_acp.as_deref(),
            None,
            $i.grant_write_acp.as_deref(),
        )
    };
}
pub(crate) use acl_spec_of;

fn malformed_acl() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedACLError,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// An AccessControlPolicy document.
fn spec_from_policy(policy: &AccessControlPolicy) -> S3Result<AclSpec> {
    // An AccessControlPolicy without an AccessControlList (an empty one is
    // fine) sets nothing: malformed, the ACL stays as it was.
    let grants = policy.grants.as_deref().ok_or_else(malformed_acl)?;
    let mut list = Vec::new();
    for g in grants {
        let grantee = g.grantee.as_ref().ok_or_else(malformed_acl)?;
        let spec = match grantee.type_.as_str() {
            Type::CANONICAL_USER => GranteeSpec::Id(grantee.id.clone().ok_or_else(malformed_acl)?),
            Type::GROUP => GranteeSpec::Uri(grantee.uri.clone().ok_or_else(malformed_acl)?),
            Type::AMAZON_CUSTOMER_BY_EMAIL => {
                GranteeSpec::Email(grantee.email_address.clone().ok_or_else(malformed_acl)?)
            }
            _ => return Err(malformed_acl()),
        };
        let permission = match g.permission.as_ref().map(Permission::as_str) {
            Some(Permission::FULL_CONTROL) => AclPermission::FullControl,
            Some(Permission::READ) => AclPermission::Read,
            Some(Permission::WRITE) => AclPermission::Write,
            Some(Permission::READ_ACP) => AclPermission::ReadAcp,
            Some(Permission::WRITE_ACP) => AclPermission::WriteAcp,
            _ => return Err(malformed_acl()),
        };
        list.push((spec, permission));
    }
    Ok(AclSpec::Grants(list))
}

/// The ACL a Put*Acl request sets: headers or a body, not both.
fn put_spec(header_spec: Option<AclSpec>, body: Option<&AccessControlPolicy>) -> S3Result<AclSpec> {
    match (header_spec, body) {
        (Some(_), Some(_)) => Err(S3Error::with_message(
            S3ErrorCode::UnexpectedContent,
            "This request does not support content",
        )),
        (Some(s), None) => Ok(s),
        (None, Some(p)) => spec_from_policy(p),
        (None, None) => Err(S3Error::with_message(
            S3ErrorCode::MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl or an AccessControlPolicy body",
        )),
    }
}

/// Owner and grants as S3 shows them, with account display names.
async fn show(engine: &Engine, view: AclView) -> S3Result<(Owner, Vec<Grant>)> {
    let accounts = engine.list_accounts().await.map_err(to_s3_error)?;
    let grants = view
        .grants
        .iter()
        .map(|g: &AclGrant| {
            let group = |uri: &str| Grantee {
                display_name: None,
                email_address: None,
                id: None,
                type_: Type::from_static(Type::GROUP),
                uri: Some(uri.to_owned()),
            };
            let grantee = match &g.grantee {
                StoredGrantee::Account(id) => Grantee {
                    display_name: accounts
                        .iter()
                        .find(|a| a.canonical_id == *id)
                        .map(|a| a.name.clone()),
                    email_address: None,
                    id: Some(id.clone()),
                    type_: Type::from_static(Type::CANONICAL_USER),
                    uri: None,
                },
                StoredGrantee::AllUsers => group(ALL_USERS_URI),
                StoredGrantee::AuthenticatedUsers => group(AUTHENTICATED_USERS_URI),
                StoredGrantee::LogDelivery => group(LOG_DELIVERY_URI),
            };
            let permission = match g.permission {
                AclPermission::FullControl => Permission::FULL_CONTROL,
                AclPermission::Read => Permission::READ,
                AclPermission::Write => Permission::WRITE,
                AclPermission::ReadAcp => Permission::READ_ACP,
                AclPermission::WriteAcp => Permission::WRITE_ACP,
            };
            Grant {
                grantee: Some(grantee),
                permission: Some(Permission::from_static(permission)),
            }
        })
        .collect();
    let owner = Owner {
        display_name: Some(view.owner.name.clone()),
        id: Some(view.owner.canonical_id.clone()),
    };
    Ok((owner, grants))
}

pub async fn get_bucket_acl(
    engine: &Engine,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let view = engine
        .get_bucket_acl(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let (owner, grants) = show(engine, view).await?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants),
        owner: Some(owner),
    }))
}

pub async fn put_bucket_acl(
    engine: &Engine,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let i = req.input;
    let spec = put_spec(acl_spec_of!(bucket i)?, i.access_control_policy.as_ref())?;
    engine
        .put_bucket_acl(&i.bucket, spec)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

pub async fn get_object_acl(
    engine: &Engine,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let i = &req.input;
    let view = engine
        .get_object_acl(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3_error)?;
    let (owner, grants) = show(engine, view).await?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(grants),
        owner: Some(owner),
        request_charged: None,
    }))
}

pub async fn put_object_acl(
    engine: &Engine,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let i = req.input;
    let header_spec = acl::spec_from_headers(
        i.acl.as_ref().map(ObjectCannedACL::as_str),
        i.grant_full_control.as_deref(),
        i.grant_read.as_deref(),
        i.grant_read_acp.as_deref(),
        i.grant_write.as_deref(),
        i.grant_write_acp.as_deref(),
    )?;
    let spec = put_spec(header_spec, i.access_control_policy.as_ref())?;
    engine
        .put_object_acl(&i.bucket, &i.key, i.version_id.as_deref(), spec)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}

pub(super) fn ownership_of(o: &ObjectOwnership) -> S3Result<Ownership> {
    match o.as_str() {
        ObjectOwnership::BUCKET_OWNER_ENFORCED => Ok(Ownership::BucketOwnerEnforced),
        ObjectOwnership::BUCKET_OWNER_PREFERRED => Ok(Ownership::BucketOwnerPreferred),
        ObjectOwnership::OBJECT_WRITER => Ok(Ownership::ObjectWriter),
        other => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Invalid Object Ownership {other}"),
        )),
    }
}

pub async fn get_bucket_ownership_controls(
    engine: &Engine,
    req: S3Request<GetBucketOwnershipControlsInput>,
) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let Some(o) = b.ownership else {
        return super::buckets::no_configuration(
            engine,
            &b.name,
            S3ErrorCode::OwnershipControlsNotFoundError,
        )
        .await;
    };
    let name = match o {
        Ownership::BucketOwnerEnforced => ObjectOwnership::BUCKET_OWNER_ENFORCED,
        Ownership::BucketOwnerPreferred => ObjectOwnership::BUCKET_OWNER_PREFERRED,
        Ownership::ObjectWriter => ObjectOwnership::OBJECT_WRITER,
    };
    Ok(S3Response::new(GetBucketOwnershipControlsOutput {
        ownership_controls: Some(OwnershipControls {
            rules: vec![OwnershipControlsRule {
                object_ownership: ObjectOwnership::from_static(name),
            }],
        }),
    }))
}

pub async fn put_bucket_ownership_controls(
    engine: &Engine,
    req: S3Request<PutBucketOwnershipControlsInput>,
) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
    let i = req.input;
    let [rule] = i.ownership_controls.rules.as_slice() else {
        return Err(S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "OwnershipControls must hold exactly one rule",
        ));
    };
    let ownership = ownership_of(&rule.object_ownership)?;
    engine
        .set_bucket_ownership(&i.bucket, Some(ownership))
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
}

pub async fn delete_bucket_ownership_controls(
    engine: &Engine,
    req: S3Request<DeleteBucketOwnershipControlsInput>,
) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
    engine
        .set_bucket_ownership(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketOwnershipControlsOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_public_access_block(
    engine: &Engine,
    req: S3Request<GetPublicAccessBlockInput>,
) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let Some(p) = b.public_access_block else {
        return super::buckets::no_configuration(
            engine,
            &b.name,
            S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
        )
        .await;
    };
    Ok(S3Response::new(GetPublicAccessBlockOutput {
        public_access_block_configuration: Some(PublicAccessBlockConfiguration {
            block_public_acls: Some(p.block_public_acls),
            block_public_policy: Some(p.block_public_policy),
            ignore_public_acls: Some(p.ignore_public_acls),
            restrict_public_buckets: Some(p.restrict_public_buckets),
        }),
    }))
}

pub async fn put_public_access_block(
    engine: &Engine,
    req: S3Request<PutPublicAccessBlockInput>,
) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
    let i = req.input;
    let c = &i.public_access_block_configuration;
    let block = PublicAccessBlock {
        block_public_acls: c.block_public_acls.unwrap_or(false),
        ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
        block_public_policy: c.block_public_policy.unwrap_or(false),
        restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
    };
    engine
        .set_public_access_block(&i.bucket, Some(block))
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
}

pub async fn delete_public_access_block(
    engine: &Engine,
    req: S3Request<DeletePublicAccessBlockInput>,
) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
    engine
        .set_public_access_block(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeletePublicAccessBlockOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

/// The writer's account, for the ownership of objects it creates.
pub(super) fn writer<T>(req: &S3Request<T>) -> Option<String> {
    principal(req).account.map(|a| a.0)
}
