//! Bucket lifecycle configuration and the `x-amz-expiration` header.

use coffer_engine::{Engine, LifecycleFilter, LifecycleRule};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::convert::{http_date, ms_of, ts};
use crate::errors::to_s3_error;

fn malformed(m: &str) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedXML, m.to_owned())
}

fn tag_pair(t: &Tag) -> (String, String) {
    (
        t.key.clone().unwrap_or_default(),
        t.value.clone().unwrap_or_default(),
    )
}

fn rule_of(r: LifecycleRule_) -> S3Result<LifecycleRule> {
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(malformed("Status must be Enabled or Disabled")),
    };
    let filter = match (r.filter, r.prefix) {
        (Some(_), Some(_)) => {
            return Err(malformed("A rule has either Filter or Prefix, not both"));
        }
        (None, prefix) => LifecycleFilter {
            prefix: prefix.unwrap_or_default(),
            legacy_prefix: true,
            ..Default::default()
        },
        (Some(f), None) => match f.and {
            Some(and) => LifecycleFilter {
                prefix: and.prefix.unwrap_or_default(),
                tags: and.tags.unwrap_or_default().iter().map(tag_pair).collect(),
                size_greater_than: and.object_size_greater_than,
                size_less_than: and.object_size_less_than,
                legacy_prefix: false,
            },
            None => LifecycleFilter {
                prefix: f.prefix.unwrap_or_default(),
                tags: f.tag.iter().map(tag_pair).collect(),
                size_greater_than: f.object_size_greater_than,
                size_less_than: f.object_size_less_than,
                legacy_prefix: false,
            },
        },
    };
    let exp = r.expiration.unwrap_or_default();
    let nve = r.noncurrent_version_expiration.unwrap_or_default();
    Ok(LifecycleRule {
        id: r.id.unwrap_or_default(),
        enabled,
        filter,
        expiration_days: exp.days,
        expiration_date_ms: exp.date.as_ref().map(ms_of),
        expired_object_delete_marker: exp.expired_object_delete_marker.unwrap_or(false),
        noncurrent_days: nve.noncurrent_days,
        newer_noncurrent_versions: nve.newer_noncurrent_versions,
        abort_incomplete_days: r
            .abort_incomplete_multipart_upload
            .and_then(|a| a.days_after_initiation),
    })
}

// s3s names the DTO LifecycleRule too.
type LifecycleRule_ = s3s::dto::LifecycleRule;

fn dto_of(r: LifecycleRule) -> LifecycleRule_ {
    let f = r.filter;
    let tag = |(k, v): (String, String)| Tag {
        key: Some(k),
        value: Some(v),
    };
    let (filter, prefix) = if f.legacy_prefix {
        (None, Some(f.prefix))
    } else if f.tags.len()
        + usize::from(!f.prefix.is_empty())
        + usize::from(f.size_greater_than.is_some())
        + usize::from(f.size_less_than.is_some())
        > 1
    {
        let and = LifecycleRuleAndOperator {
            object_size_greater_than: f.size_greater_than,
            object_size_less_than: f.size_less_than,
            prefix: Some(f.prefix),
            tags: Some(f.tags.into_iter().map(tag).collect()),
        };
        (
            Some(LifecycleRuleFilter {
                and: Some(and),
                ..Default::default()
            }),
            None,
        )
    } else {
        let filter = LifecycleRuleFilter {
            and: None,
            object_size_greater_than: f.size_greater_than,
            object_size_less_than: f.size_less_than,
            prefix: Some(f.prefix),
            tag: f.tags.into_iter().next().map(tag),
        };
        (Some(filter), None)
    };
    let expiration = (r.expiration_days.is_some()
        || r.expiration_date_ms.is_some()
        || r.expired_object_delete_marker)
        .then(|| LifecycleExpiration {
            date: r.expiration_date_ms.map(ts),
            days: r.expiration_days,
            expired_object_delete_marker: r.expired_object_delete_marker.then_some(true),
        });
    LifecycleRule_ {
        abort_incomplete_multipart_upload: r.abort_incomplete_days.map(|d| {
            AbortIncompleteMultipartUpload {
                days_after_initiation: Some(d),
            }
        }),
        expiration,
        filter,
        id: Some(r.id),
        noncurrent_version_expiration: r.noncurrent_days.map(|d| NoncurrentVersionExpiration {
            newer_noncurrent_versions: r.newer_noncurrent_versions,
            noncurrent_days: Some(d),
        }),
        noncurrent_version_transitions: None,
        prefix,
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        transitions: None,
    }
}

pub async fn put_bucket_lifecycle_configuration(
    engine: &Engine,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let i = req.input;
    let config = i
        .lifecycle_configuration
        .ok_or_else(|| malformed("The lifecycle configuration is missing"))?;
    if config
        .rules
        .iter()
        .any(|r| r.transitions.as_ref().is_some_and(|t| !t.is_empty()))
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidStorageClass,
            "This server has one storage class: transitions are not supported",
        ));
    }
    let rules = config
        .rules
        .into_iter()
        .map(rule_of)
        .collect::<S3Result<Vec<_>>>()?;
    engine
        .set_bucket_lifecycle(&i.bucket, Some(rules))
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub async fn get_bucket_lifecycle_configuration(
    engine: &Engine,
    req: S3Request<GetBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let b = engine
        .head_bucket(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let Some(rules) = b.lifecycle else {
        return super::buckets::no_configuration(
            engine,
            &b.name,
            S3ErrorCode::NoSuchLifecycleConfiguration,
        )
        .await;
    };
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(rules.into_iter().map(dto_of).collect()),
        ..Default::default()
    }))
}

pub async fn delete_bucket_lifecycle(
    engine: &Engine,
    req: S3Request<DeleteBucketLifecycleInput>,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    engine
        .set_bucket_lifecycle(&req.input.bucket, None)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::with_status(
        DeleteBucketLifecycleOutput::default(),
        http::StatusCode::NO_CONTENT,
    ))
}

/// `x-amz-expiration: expiry-date="...", rule-id="..."`.
pub(super) fn expiration_header(v: &coffer_engine::Versioned) -> Option<String> {
    v.expiration
        .as_ref()
        .map(|(at, id)| format!("expiry-date=\"{}\", rule-id=\"{id}\"", http_date(*at)))
}
