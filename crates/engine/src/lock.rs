//! S3 Object Lock: buckets created with it keep versioning on, new versions
//! get the bucket's default retention unless the writer sets their own, and
//! a version under retention or legal hold cannot be deleted (S3 User Guide,
//! "Locking objects with Object Lock").

use coffer_meta::records::{
    BucketRecord, DefaultRetention, LockMode, ObjectLockConfig, ObjectRecord, Retention, Versioning,
};

use crate::{Engine, EngineError, now_ms};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn missing_configuration() -> EngineError {
    EngineError::InvalidRequest("Bucket is missing Object Lock Configuration".into())
}

/// The retention and legal hold a new version gets: as the writer asked,
/// else the bucket's default retention.
pub(crate) fn for_new_version(
    bucket: &BucketRecord,
    retention: Option<Retention>,
    legal_hold: Option<bool>,
) -> Result<(Option<Retention>, bool), EngineError> {
    let Some(config) = &bucket.object_lock else {
        return if retention.is_some() || legal_hold.is_some() {
            Err(missing_configuration())
        } else {
            Ok((None, false))
        };
    };
    let retention = retention.or_else(|| {
        config.default_retention.map(|d| Retention {
            mode: d.mode,
            until_ms: now_ms() + retention_ms(&d),
        })
    });
    Ok((retention, legal_hold.unwrap_or(false)))
}

fn retention_ms(d: &DefaultRetention) -> i64 {
    match (d.days, d.years) {
        (Some(days), _) => i64::from(days) * DAY_MS,
        (None, Some(years)) => i64::from(years) * 365 * DAY_MS,
        (None, None) => 0,
    }
}

/// Whether a version may be deleted for good: never under legal hold or
/// compliance retention, under governance retention only with bypass.
pub(crate) fn check_deletable(version: &ObjectRecord, bypass: bool) -> Result<(), EngineError> {
    let locked = || {
        EngineError::AccessDenied("Access Denied because object protected by object lock.".into())
    };
    if version.legal_hold {
        return Err(locked());
    }
    match version.retention {
        Some(r) if r.until_ms > now_ms() => match r.mode {
            LockMode::Compliance => Err(locked()),
            LockMode::Governance if !bypass => Err(locked()),
            LockMode::Governance => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Whether `new` may replace a version's retention `old`: lengthening is
/// always allowed; shortening or changing the mode needs bypass in
/// governance mode and is never allowed in compliance mode.
fn check_retention_change(
    old: Option<Retention>,
    new: Retention,
    bypass: bool,
) -> Result<(), EngineError> {
    let Some(old) = old.filter(|o| o.until_ms > now_ms()) else {
        return Ok(());
    };
    let weaker = new.until_ms < old.until_ms || new.mode != old.mode;
    let denied = || {
        EngineError::AccessDenied("Access Denied because object protected by object lock.".into())
    };
    match old.mode {
        LockMode::Compliance if weaker && !(new.mode == LockMode::Compliance) => Err(denied()),
        LockMode::Compliance if new.until_ms < old.until_ms => Err(denied()),
        LockMode::Governance if weaker && !bypass => Err(denied()),
        _ => Ok(()),
    }
}

/// Checks a default retention: one of days or years, positive.
pub fn validate_default(d: &DefaultRetention) -> Result<(), EngineError> {
    match (d.days, d.years) {
        (Some(_), Some(_)) | (None, None) => Err(EngineError::MalformedXml(
            "A default retention sets either Days or Years".into(),
        )),
        (Some(n), None) | (None, Some(n)) if n <= 0 => Err(EngineError::InvalidRetentionPeriod),
        _ => Ok(()),
    }
}

impl Engine {
    /// PutObjectLockConfiguration: on buckets created with Object Lock, or
    /// (as S3 allows since 2023) on buckets with versioning enabled, which
    /// then cannot suspend it.
    pub async fn put_object_lock_configuration(
        &self,
        bucket: &str,
        default_retention: Option<DefaultRetention>,
    ) -> Result<(), EngineError> {
        if let Some(d) = &default_retention {
            validate_default(d)?;
        }
        self.update_bucket(bucket, move |b| {
            if b.object_lock.is_none() && b.versioning != Some(Versioning::Enabled) {
                return Err(EngineError::InvalidBucketState(
                    "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
                        .into(),
                ));
            }
            b.object_lock = Some(ObjectLockConfig { default_retention });
            Ok(())
        })
        .await
    }

    pub async fn get_object_lock_configuration(
        &self,
        bucket: &str,
    ) -> Result<ObjectLockConfig, EngineError> {
        self.head_bucket(bucket)
            .await?
            .object_lock
            .ok_or(EngineError::ObjectLockConfigurationNotFound)
    }

    /// PutObjectRetention on a version (the latest by default).
    pub async fn put_object_retention(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        retention: Retention,
        bypass: bool,
    ) -> Result<(), EngineError> {
        self.update_version(bucket, key, version_id, move |rec| {
            check_retention_change(rec.retention, retention, bypass)?;
            rec.retention = Some(retention);
            Ok(())
        })
        .await
    }

    /// PutObjectLegalHold on a version (the latest by default).
    pub async fn put_object_legal_hold(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        on: bool,
    ) -> Result<(), EngineError> {
        self.update_version(bucket, key, version_id, move |rec| {
            rec.legal_hold = on;
            Ok(())
        })
        .await
    }

    /// A version's lock state; InvalidRequest on buckets without Object
    /// Lock.
    pub async fn object_lock_state(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<(Option<Retention>, bool), EngineError> {
        if self.head_bucket(bucket).await?.object_lock.is_none() {
            return Err(missing_configuration());
        }
        let v = self.get_object_version(bucket, key, version_id).await?;
        Ok((v.record.retention, v.record.legal_hold))
    }

    /// Changes a stored version of an object in a bucket with Object Lock.
    async fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: impl Fn(&mut ObjectRecord) -> Result<(), EngineError> + Send + 'static,
    ) -> Result<(), EngineError> {
        let (b, k, v) = crate::versions::target(bucket, key, version_id)?;
        self.meta()
            .write(move |tx| -> Result<(), EngineError> {
                let rec_bucket = crate::versions::read_bucket(tx, &b)?;
                if rec_bucket.object_lock.is_none() {
                    return Err(missing_configuration());
                }
                let mut rec = match crate::versions::lookup(tx, &b, &k, v.as_deref())? {
                    Some(r) if !r.delete_marker => r,
                    _ if v.is_some() => return Err(EngineError::NoSuchVersion),
                    _ => return Err(EngineError::NoSuchKey),
                };
                change(&mut rec)?;
                Ok(crate::versions::update(tx, &b, &k, &rec)?)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ret(mode: LockMode, in_ms: i64) -> Retention {
        Retention {
            mode,
            until_ms: now_ms() + in_ms,
        }
    }

    #[test]
    fn retention_changes_follow_the_mode() {
        use LockMode::*;
        let g = ret(Governance, 60_000);
        assert!(check_retention_change(Some(g), ret(Governance, 120_000), false).is_ok());
        assert!(check_retention_change(Some(g), ret(Governance, 1_000), false).is_err());
        assert!(check_retention_change(Some(g), ret(Governance, 1_000), true).is_ok());
        assert!(check_retention_change(Some(g), ret(Compliance, 60_000), false).is_err());
        assert!(check_retention_change(Some(g), ret(Compliance, 60_000), true).is_ok());
        let c = ret(Compliance, 60_000);
        assert!(check_retention_change(Some(c), ret(Compliance, 120_000), false).is_ok());
        assert!(check_retention_change(Some(c), ret(Compliance, 1_000), true).is_err());
        assert!(check_retention_change(Some(c), ret(Governance, 120_000), true).is_err());
        // An expired retention no longer binds.
        assert!(
            check_retention_change(Some(ret(Compliance, -1)), ret(Governance, 1), false).is_ok()
        );
    }

    #[test]
    fn default_retention_needs_one_positive_period() {
        let d = |days, years| DefaultRetention {
            mode: LockMode::Governance,
            days,
            years,
        };
        assert!(validate_default(&d(Some(1), None)).is_ok());
        assert!(matches!(
            validate_default(&d(Some(1), Some(1))),
            Err(EngineError::MalformedXml(_))
        ));
        assert!(matches!(
            validate_default(&d(Some(0), None)),
            Err(EngineError::InvalidRetentionPeriod)
        ));
        assert!(matches!(
            validate_default(&d(None, Some(-1))),
            Err(EngineError::InvalidRetentionPeriod)
        ));
    }
}
