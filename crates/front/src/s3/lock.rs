//! Object Lock: bucket configuration, retention and legal hold operations,
//! and the `x-amz-object-lock-*` headers of writes and reads.

use coffer_engine::{DefaultRetention, Engine, LockMode, Retention};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::convert::{ms_of, ts};
use crate::errors::to_s3_error;

fn malformed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn mode_of(m: &str) -> Option<LockMode> {
    match m {
        ObjectLockRetentionMode::GOVERNANCE => Some(LockMode::Governance),
        ObjectLockRetentionMode::COMPLIANCE => Some(LockMode::Compliance),
        _ => None,
    }
}

fn mode_name(m: LockMode) -> &'static str {
    match m {
        LockMode::Governance => ObjectLockRetentionMode::GOVERNANCE,
        LockMode::Compliance => ObjectLockRetentionMode::COMPLIANCE,
    }
}

/// The lock headers of a write: mode and retain-until date come together;
/// the date must be in the future.
pub(super) fn write_headers(
    mode: Option<&ObjectLockMode>,
    until: Option<&Timestamp>,
    legal_hold: Option<&ObjectLockLegalHoldStatus>,
) -> S3Result<(Option<Retention>, Option<bool>)> {
    let invalid = |m: &str| S3Error::with_message(S3ErrorCode::InvalidArgument, m.to_owned());
    let retention = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let mode = mode_of(m.as_str()).ok_or_else(|| invalid("Unknown wormMode directive."))?;
            let until_ms = ms_of(u);
            if until_ms <= coffer_engine::now_ms() {
                return Err(invalid("The retain until date must be in the future!"));
            }
            Some(Retention { mode, until_ms })
        }
        _ => {
            return Err(invalid(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let legal_hold = match legal_hold.map(ObjectLockLegalHoldStatus::as_str) {
        None => None,
        Some(ObjectLockLegalHoldStatus::ON) => Some(true),
        Some(ObjectLockLegalHoldStatus::OFF) => Some(false),
        Some(_) => return Err(invalid("Legal Hold must be either of 'ON' or 'OFF'")),
    };
    Ok((retention, legal_hold))
}

/// [`write_headers`] for an input with the usual `object_lock_*` fields.
macro_rules! lock_headers_of {
    ($i:expr) => {
        super::lock::write_headers(
            $i.object_lock_mode.as_ref(),
            $i.object_lock_retain_until_date.as_ref(),
            $i.object_lock_legal_hold_status.as_ref(),
        )
    };
}
pub(crate) use lock_headers_of;

/// The lock headers of a read.
pub(super) struct LockFields {
    pub mode: Option<ObjectLockMode>,
    pub until: Option<Timestamp>,
    pub legal_hold: Option<ObjectLockLegalHoldStatus>,
}

pub(super) fn read_fields(rec: &coffer_engine::ObjectRecord) -> LockFields {
    LockFields {
        mode: rec
            .retention
            .map(|r| ObjectLockMode::from_static(mode_name(r.mode))),
        until: rec.retention.map(|r| ts(r.until_ms)),
        legal_hold: rec
            .legal_hold
            .then(|| ObjectLockLegalHoldStatus::from_static(ObjectLockLegalHoldStatus::ON)),
    }
}

pub async fn put_object_lock_configuration(
    engine: &Engine,
    req: S3Request<PutObjectLockConfigurationInput>,
) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
    let i = req.input;
    let config = i.object_lock_configuration.ok_or_else(malformed)?;
    if config
        .object_lock_enabled
        .as_ref()
        .map(ObjectLockEnabled::as_str)
        != Some(ObjectLockEnabled::ENABLED)
    {
        return Err(malformed());
    }
    let default = match config.rule.and_then(|r| r.default_retention) {
        None => None,
        Some(d) => Some(DefaultRetention {
            mode: d
                .mode
                .as_ref()
                .and_then(|m| mode_of(m.as_str()))
                .ok_or_else(malformed)?,
            days: d.days,
            years: d.years,
        }),
    };
    engine
        .put_object_lock_configuration(&i.bucket, default)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
}

pub async fn get_object_lock_configuration(
    engine: &Engine,
    req: S3Request<GetObjectLockConfigurationInput>,
) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
    let c = engine
        .get_object_lock_configuration(&req.input.bucket)
        .await
        .map_err(to_s3_error)?;
    let rule = c.default_retention.map(|d| ObjectLockRule {
        default_retention: Some(s3s::dto::DefaultRetention {
            days: d.days,
            mode: Some(ObjectLockRetentionMode::from_static(mode_name(d.mode))),
            years: d.years,
        }),
    });
    Ok(S3Response::new(GetObjectLockConfigurationOutput {
        object_lock_configuration: Some(ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule,
        }),
    }))
}

pub async fn put_object_retention(
    engine: &Engine,
    req: S3Request<PutObjectRetentionInput>,
) -> S3Result<S3Response<PutObjectRetentionOutput>> {
    let bypass = super::objects::may_bypass_governance(
        engine,
        &req,
        &req.input.bucket,
        &req.input.key,
        req.input.bypass_governance_retention,
    )
    .await;
    let i = req.input;
    let r = i.retention.ok_or_else(malformed)?;
    let mode = r
        .mode
        .as_ref()
        .and_then(|m| mode_of(m.as_str()))
        .ok_or_else(malformed)?;
    let until_ms = r
        .retain_until_date
        .as_ref()
        .map(ms_of)
        .ok_or_else(malformed)?;
    if until_ms <= coffer_engine::now_ms() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The retain until date must be in the future!",
        ));
    }
    engine
        .put_object_retention(
            &i.bucket,
            &i.key,
            i.version_id.as_deref(),
            Retention { mode, until_ms },
            bypass,
        )
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutObjectRetentionOutput::default()))
}

pub async fn get_object_retention(
    engine: &Engine,
    req: S3Request<GetObjectRetentionInput>,
) -> S3Result<S3Response<GetObjectRetentionOutput>> {
    let i = &req.input;
    let (retention, _) = engine
        .object_lock_state(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3_error)?;
    let r = retention
        .ok_or(coffer_engine::EngineError::NoSuchObjectLockConfiguration)
        .map_err(to_s3_error)?;
    Ok(S3Response::new(GetObjectRetentionOutput {
        retention: Some(ObjectLockRetention {
            mode: Some(ObjectLockRetentionMode::from_static(mode_name(r.mode))),
            retain_until_date: Some(ts(r.until_ms)),
        }),
    }))
}

pub async fn put_object_legal_hold(
    engine: &Engine,
    req: S3Request<PutObjectLegalHoldInput>,
) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
    let i = req.input;
    let on = match i
        .legal_hold
        .and_then(|h| h.status)
        .as_ref()
        .map(ObjectLockLegalHoldStatus::as_str)
    {
        Some(ObjectLockLegalHoldStatus::ON) => true,
        Some(ObjectLockLegalHoldStatus::OFF) => false,
        _ => return Err(malformed()),
    };
    engine
        .put_object_legal_hold(&i.bucket, &i.key, i.version_id.as_deref(), on)
        .await
        .map_err(to_s3_error)?;
    Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
}

pub async fn get_object_legal_hold(
    engine: &Engine,
    req: S3Request<GetObjectLegalHoldInput>,
) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
    let i = &req.input;
    let (_, on) = engine
        .object_lock_state(&i.bucket, &i.key, i.version_id.as_deref())
        .await
        .map_err(to_s3_error)?;
    let status = if on {
        ObjectLockLegalHoldStatus::ON
    } else {
        ObjectLockLegalHoldStatus::OFF
    };
    Ok(S3Response::new(GetObjectLegalHoldOutput {
        legal_hold: Some(ObjectLockLegalHold {
            status: Some(ObjectLockLegalHoldStatus::from_static(status)),
        }),
    }))
}
