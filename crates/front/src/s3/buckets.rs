//! Service- and bucket-level operations.

use coffer_engine::{BucketEncryption, Engine, SseMode, Versioning};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::acl::{self, acl_spec_of};
use super::convert::{owner, principal, ts};
use crate::errors::to_s3_error;

pub async fn list_buckets(
    engine: &Engine,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let p = principal(&req);
    let list = engine.list_buckets(&p).await.map_err(to_s3_error)?;
    // max-buckets pages the list (1-10000); the continuation token is the
    // last name returned, and buckets come back in name order.
    let max = match req.input.max_buckets {
        None => usize::MAX,
        Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(usize::MAX),
        Some(_) => {
            return Err(s3s::S3Error::with_message(
                s3s::S3ErrorCode::InvalidArgument,
                "max-buckets must be between 1 and 10000",
            ));
        }
    };
    let after = req.input.continuation_token.clone().unwrap_or_default();
    let mut matching = list.into_iter().filter(|b| {
        b.name > after
            && req
                .input
                .prefix
                .as_deref()
                .is_none_or(|pre| b.name.starts_with(pre))
            && req
                .input
                .bucket_region
                .as_deref()
                .is_none_or(|r| b.region == r)
    });
    let page: Vec<_> = matching.by_ref().take(max).collect();
    let more = matching.next().is_some();
    let next = more.then(|| page.last().map(|b| b.name.clone())).flatten();
    let buckets = page
        .into_iter()
        .map(|b| Bucket {
            bucket_region: Some(b.region),
            creation_date: Some(ts(b.created_ms)),
            name: Some(b.name),
        })
        .collect();
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        continuation_token: next,
        owner: match p.account.as_ref() {
            Some(a) => Some(owner(engine, &a.0).await?),
            None => None,
        },
        prefix: req.input.prefix,
    }))
}

pub async fn create_bucket(
    engine: &Engine,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let p = principal(&req);
    let location = req
        .input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|l| l.as_str().to_owned());
    let i = &req.input;
    let acl_spec = acl_spec_of!(bucket i)?;
    let ownership = i
        .object_ownership
        .as_ref()
        .map(super::acl::ownership_of)
        .transpose()?;
    let b = engine
        .create_bucket_with(
            &p,
            &i.bucket,
            location.as_deref(),
            coffer_engine::BucketOptions {
                acl: acl_spec,
                ownership,
                object_lock: i.object_lock_enabled_for_bucket.unwrap_or(false),
            },
        )
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{}", b.name)),
    }))
}

pub async fn head_bucket(
    engine: &Engine,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(b.region),
        ..Default::default()
    }))
}

pub async fn delete_bucket(
    engine: &Engine,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    engine
        .delete_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(DeleteBucketOutput {}))
}

pub async fn get_bucket_location(
    engine: &Engine,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    // AWS answers an empty LocationConstraint for us-east-1.
    let location_constraint =
        (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint,
    }))
}

/// Versioning has never been enabled on any bucket yet: AWS answers an empty
/// VersioningConfiguration for such a bucket.
pub async fn get_bucket_versioning(
    engine: &Engine,
    req: S3Request<GetBucketVersioningInput>,
) -> S3Result<S3Response<GetBucketVersioningOutput>> {
    let bucket = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let status = bucket.versioning.map(|v| {
        BucketVersioningStatus::from_static(match v {
            Versioning::Enabled => BucketVersioningStatus::ENABLED,
            Versioning::Suspended => BucketVersioningStatus::SUSPENDED,
        })
    });
    Ok(S3Response::new(GetBucketVersioningOutput {
        status,
        ..Default::default()
    }))
}

pub async fn put_bucket_versioning(
    engine: &Engine,
    req: S3Request<PutBucketVersioningInput>,
) -> S3Result<S3Response<PutBucketVersioningOutput>> {
    let i = req.input;
    let state = match i
        .versioning_configuration
        .status
        .as_ref()
        .map(|s| s.as_str())
    {
        Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
        Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
    };
    if i.versioning_configuration
        .mfa_delete
        .as_ref()
        .is_some_and(|m| m.as_str() == MFADelete::ENABLED)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "MFA delete is not supported",
        ));
    }
    engine
        .put_bucket_versioning(&i.bucket, state)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketVersioningOutput::default()))
}

/// Buckets and objects are private to their owner (ACLs arrive with the
/// completeness issue): the owner holds FULL_CONTROL and nobody else anything.
/// Bucket configurations that cannot be set yet are absent: S3 answers such
/// a GET with its "no such configuration" error, which clients expect.
pub async fn no_configuration<T>(
    engine: &Engine,
    bucket: &str,
    code: S3ErrorCode,
) -> S3Result<S3Response<T>> {
    engine.head_bucket(bucket).await.map_err(to_s3_error)?;
    let mut e = S3Error::with_message(code, "The bucket has no such configuration");
    e.set_status_code(http::StatusCode::NOT_FOUND);
    Err(e)
}

pub async fn get_bucket_policy(
    engine: &Engine,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    match b.policy {
        Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput {
            policy: Some(policy),
        })),
        None => Err(to_s3_error(coffer_engine::EngineError::NoSuchBucketPolicy)),
    }
}

pub async fn put_bucket_policy(
    engine: &Engine,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let i = req.input;
    engine.head_bucket(&i.bucket).await.map_err(to_s3_error)?;
    engine
        .validate_bucket_policy(&i.policy)
        .map_err(to_s3_error)?;
    engine
        .set_bucket_policy(
            &i.bucket,
            Some(i.policy),
            i.confirm_remove_self_bucket_access == Some(true),
        )
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        PutBucketPolicyOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn delete_bucket_policy(
    engine: &Engine,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    engine
        .set_bucket_policy(&req.input.bucket, None, false)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketPolicyOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_bucket_encryption(
    engine: &Engine,
    req: S3Request<GetBucketEncryptionInput>,
) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
    let bucket = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    // Without a configuration of its own a bucket has S3's default, SSE-S3.
    let (algorithm, kms_master_key_id, bucket_key_enabled) = match bucket.encryption {
        Some(e) if e.mode == SseMode::Kms => (
            ServerSideEncryption::AWS_KMS,
            e.kms_key_id,
            e.bucket_key_enabled,
        ),
        Some(e) => (ServerSideEncryption::AES256, None, e.bucket_key_enabled),
        None => (ServerSideEncryption::AES256, None, false),
    };
    Ok(S3Response::new(GetBucketEncryptionOutput {
        server_side_encryption_configuration: Some(ServerSideEncryptionConfiguration {
            rules: vec![ServerSideEncryptionRule {
                apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                    kms_master_key_id,
                    sse_algorithm: ServerSideEncryption::from_static(algorithm),
                }),
                bucket_key_enabled: Some(bucket_key_enabled),
            }],
        }),
    }))
}

pub async fn put_bucket_encryption(
    engine: &Engine,
    req: S3Request<PutBucketEncryptionInput>,
) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
    let i = req.input;
    let malformed = || {
        S3Error::with_message(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    };
    let [rule] = i.server_side_encryption_configuration.rules.as_slice() else {
        return Err(malformed());
    };
    let default = rule
        .apply_server_side_encryption_by_default
        .as_ref()
        .ok_or_else(malformed)?;
    let mode = match default.sse_algorithm.as_str() {
        ServerSideEncryption::AES256 if default.kms_master_key_id.is_none() => SseMode::S3,
        ServerSideEncryption::AWS_KMS | ServerSideEncryption::AWS_KMS_DSSE => SseMode::Kms,
        _ => {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "The server-side encryption algorithm or KMS key of the default rule is invalid",
            ));
        }
    };
    engine
        .set_bucket_encryption(
            &i.bucket,
            Some(BucketEncryption {
                mode,
                kms_key_id: default.kms_master_key_id.clone(),
                bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
            }),
        )
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketEncryptionOutput::default()))
}

pub async fn delete_bucket_encryption(
    engine: &Engine,
    req: S3Request<DeleteBucketEncryptionInput>,
) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
    engine
        .set_bucket_encryption(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketEncryptionOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_bucket_cors(
    engine: &Engine,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let Some(rules) = b.cors else {
        return no_configuration(engine, &b.name, S3ErrorCode::NoSuchCORSConfiguration).await;
    };
    let cors_rules = rules
        .into_iter()
        .map(|r| CORSRule {
            allowed_headers: (!r.allowed_headers.is_empty()).then_some(r.allowed_headers),
            allowed_methods: r.allowed_methods,
            allowed_origins: r.allowed_origins,
            expose_headers: (!r.expose_headers.is_empty()).then_some(r.expose_headers),
            id: r.id,
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(cors_rules),
    }))
}

pub async fn put_bucket_cors(
    engine: &Engine,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let i = req.input;
    let rules = i
        .cors_configuration
        .cors_rules
        .into_iter()
        .map(|r| coffer_engine::CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers.unwrap_or_default(),
            expose_headers: r.expose_headers.unwrap_or_default(),
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    engine
        .set_bucket_cors(&i.bucket, Some(rules))
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketCorsOutput::default()))
}

pub async fn delete_bucket_cors(
    engine: &Engine,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    engine
        .set_bucket_cors(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketCorsOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

/// Whether the bucket policy makes the bucket public. (S3 answers
/// NoSuchBucketPolicy without a policy; a bucket without one is reported
/// as not public, which is what the question asks.)
pub async fn get_bucket_policy_status(
    engine: &Engine,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let is_public = b.policy.as_deref().is_some_and(Engine::policy_is_public);
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(is_public),
        }),
    }))
}

pub async fn get_bucket_tagging(
    engine: &Engine,
    req: S3Request<GetBucketTaggingInput>,
) -> S3Result<S3Response<GetBucketTaggingOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let Some(tags) = b.tags else {
        return no_configuration(engine, &b.name, S3ErrorCode::NoSuchTagSet).await;
    };
    Ok(S3Response::new(GetBucketTaggingOutput {
        tag_set: super::convert::tag_set(&tags),
    }))
}

pub async fn put_bucket_tagging(
    engine: &Engine,
    req: S3Request<PutBucketTaggingInput>,
) -> S3Result<S3Response<PutBucketTaggingOutput>> {
    let i = req.input;
    let tags = super::convert::tag_pairs(i.tagging.tag_set)?;
    engine
        .set_bucket_tagging(&i.bucket, Some(tags))
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketTaggingOutput::default()))
}

pub async fn delete_bucket_tagging(
    engine: &Engine,
    req: S3Request<DeleteBucketTaggingInput>,
) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
    engine
        .set_bucket_tagging(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketTaggingOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

pub async fn get_bucket_website(
    engine: &Engine,
    req: S3Request<GetBucketWebsiteInput>,
) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let Some(w) = b.website else {
        return no_configuration(engine, &b.name, S3ErrorCode::NoSuchWebsiteConfiguration).await;
    };
    Ok(S3Response::new(GetBucketWebsiteOutput {
        error_document: w.error_key.map(|key| ErrorDocument { key }),
        index_document: w.index_suffix.map(|suffix| IndexDocument { suffix }),
        redirect_all_requests_to: w.redirect_host.map(|host_name| RedirectAllRequestsTo {
            host_name,
            protocol: w.redirect_protocol.map(Protocol::from),
        }),
        routing_rules: None,
    }))
}

pub async fn put_bucket_website(
    engine: &Engine,
    req: S3Request<PutBucketWebsiteInput>,
) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
    let i = req.input;
    let c = i.website_configuration;
    if c.routing_rules.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(S3Error::with_message(
            S3ErrorCode::NotImplemented,
            "Website routing rules are not supported",
        ));
    }
    let config = coffer_engine::WebsiteConfig {
        index_suffix: c.index_document.map(|d| d.suffix),
        error_key: c.error_document.map(|d| d.key),
        redirect_host: c
            .redirect_all_requests_to
            .as_ref()
            .map(|r| r.host_name.clone()),
        redirect_protocol: c
            .redirect_all_requests_to
            .and_then(|r| r.protocol)
            .map(|p| p.as_str().to_owned()),
    };
    engine
        .set_bucket_website(&i.bucket, Some(config))
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutBucketWebsiteOutput::default()))
}

pub async fn delete_bucket_website(
    engine: &Engine,
    req: S3Request<DeleteBucketWebsiteInput>,
) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
    engine
        .set_bucket_website(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketWebsiteOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

/// Requester-pays is not offered: every bucket's payer is its owner.
pub async fn get_bucket_request_payment(
    engine: &Engine,
    req: S3Request<GetBucketRequestPaymentInput>,
) -> S3Result<S3Response<GetBucketRequestPaymentOutput>> {
    engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(GetBucketRequestPaymentOutput {
        payer: Some(Payer::from_static(Payer::BUCKET_OWNER)),
    }))
}
