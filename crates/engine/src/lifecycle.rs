//! Lifecycle rules (S3 User Guide, "Managing the lifecycle of objects"):
//! validation, the `x-amz-expiration` a version is told, and the background
//! worker that expires current versions, removes noncurrent versions and
//! lone delete markers, and aborts stale multipart uploads.
//!
//! The length of a lifecycle "day" is configurable so that tests run in
//! seconds; it only speeds up the worker. `x-amz-expiration` always states
//! the date in real days, rounded up to the next midnight UTC as S3 does.

use std::time::Duration;

use coffer_meta::records::{LifecycleFilter, LifecycleRule, ObjectRecord};

use crate::{Engine, EngineError, UploadListParams, VersionListParams, now_ms};

pub const REAL_DAY: Duration = Duration::from_secs(24 * 60 * 60);
const MAX_RULES: usize = 1000;
const MAX_ID_LEN: usize = 255;

fn invalid(m: &str) -> EngineError {
    EngineError::InvalidArgument(m.to_owned())
}

/// Checks a configuration before it is stored, and names unnamed rules.
pub fn validate(rules: &mut [LifecycleRule]) -> Result<(), EngineError> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(EngineError::MalformedXml(format!(
            "A lifecycle configuration holds 1 to {MAX_RULES} rules"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for r in rules.iter_mut() {
        if r.id.is_empty() {
            r.id = hex::encode(rand::random::<[u8; 12]>());
        }
        if r.id.chars().count() > MAX_ID_LEN {
            return Err(invalid("ID length should not exceed allowed limit of 255"));
        }
        if !seen.insert(r.id.clone()) {
            return Err(invalid(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
        if r.expiration_days.is_some_and(|d| d <= 0) {
            return Err(invalid(
                "'Days' for Expiration action must be a positive integer",
            ));
        }
        if r.expiration_days.is_some() && r.expiration_date_ms.is_some() {
            return Err(EngineError::MalformedXml(
                "Expiration takes either Days or Date".into(),
            ));
        }
        if r.expiration_date_ms
            .is_some_and(|d| d.rem_euclid(REAL_DAY.as_millis() as i64) != 0)
        {
            return Err(invalid("'Date' must be at midnight GMT"));
        }
        if r.noncurrent_days.is_some_and(|d| d <= 0)
            || r.abort_incomplete_days.is_some_and(|d| d <= 0)
        {
            return Err(invalid("Days must be a positive integer"));
        }
    }
    Ok(())
}

/// Whether a version falls under a rule's filter.
pub fn matches(f: &LifecycleFilter, key: &str, rec: &ObjectRecord) -> bool {
    let size = i64::try_from(rec.size).unwrap_or(i64::MAX);
    key.starts_with(&f.prefix)
        && f.tags.iter().all(|t| rec.tags.contains(t))
        && f.size_greater_than.is_none_or(|n| size > n)
        && f.size_less_than.is_none_or(|n| size < n)
}

/// When the version of `key` would expire as the current version, and by
/// which rule: the `x-amz-expiration` header.
pub fn expiration_of<'a>(
    rules: &'a [LifecycleRule],
    key: &str,
    rec: &ObjectRecord,
    day: Duration,
) -> Option<(i64, &'a str)> {
    let day_ms = i64::try_from(day.as_millis()).unwrap_or(i64::MAX);
    rules
        .iter()
        .filter(|r| r.enabled && matches(&r.filter, key, rec))
        .filter_map(|r| {
            let at = match (r.expiration_days, r.expiration_date_ms) {
                (Some(days), _) => {
                    let t = rec.last_modified_ms + i64::from(days) * day_ms;
                    // S3 rounds up to the next midnight UTC.
                    if day == REAL_DAY {
                        (t.div_euclid(day_ms) + 1) * day_ms
                    } else {
                        t
                    }
                }
                (None, Some(date)) => date,
                (None, None) => return None,
            };
            Some((at, r.id.as_str()))
        })
        .min_by_key(|(at, _)| *at)
}

/// What one pass of the worker did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleReport {
    pub expired: usize,
    pub noncurrent_removed: usize,
    pub delete_markers_removed: usize,
    pub uploads_aborted: usize,
}

impl Engine {
    /// PutBucketLifecycleConfiguration (`Some`) or DeleteBucketLifecycle.
    pub async fn set_bucket_lifecycle(
        &self,
        bucket: &str,
        rules: Option<Vec<LifecycleRule>>,
    ) -> Result<(), EngineError> {
        let mut rules = rules;
        if let Some(r) = &mut rules {
            validate(r)?;
        }
        self.update_bucket(bucket, move |b| {
            b.lifecycle.clone_from(&rules);
            Ok(())
        })
        .await
    }

    /// Runs the lifecycle worker until the process ends: a pass every
    /// twenty-fourth of a lifecycle day (at least every 100 ms).
    pub(crate) fn spawn_lifecycle_worker(&self) {
        let engine = self.clone();
        let interval = (self.lifecycle_day() / 24).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                match engine.run_lifecycle().await {
                    Ok(r) if r != LifecycleReport::default() => {
                        tracing::info!(?r, "lifecycle pass");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "lifecycle pass failed"),
                }
            }
        });
    }

    /// One pass over every bucket with lifecycle rules.
    pub async fn run_lifecycle(&self) -> Result<LifecycleReport, EngineError> {
        let mut report = LifecycleReport::default();
        for bucket in self.all_buckets().await? {
            let Some(rules) = bucket.lifecycle.clone() else {
                continue;
            };
            let rules: Vec<LifecycleRule> = rules.into_iter().filter(|r| r.enabled).collect();
            if rules.is_empty() {
                continue;
            }
            self.expire_versions(&bucket.name, &rules, &mut report)
                .await?;
            self.abort_stale_uploads(&bucket.name, &rules, &mut report)
                .await?;
        }
        Ok(report)
    }

    fn day_ms(&self) -> i64 {
        i64::try_from(self.lifecycle_day().as_millis()).unwrap_or(i64::MAX)
    }

    /// Applies the version actions to every key, a listing page at a time.
    async fn expire_versions(
        &self,
        bucket: &str,
        rules: &[LifecycleRule],
        report: &mut LifecycleReport,
    ) -> Result<(), EngineError> {
        let (now, day) = (now_ms(), self.day_ms());
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let page = self
                .list_object_versions(
                    bucket,
                    VersionListParams {
                        key_marker: key_marker.clone(),
                        version_id_marker: version_marker.clone(),
                        max_keys: 1000,
                        ..Default::default()
                    },
                )
                .await?;
            // Versions of one key come newest first: each noncurrent
            // version became noncurrent when the one before it was written.
            let mut successor: Option<(String, i64, usize)> = None;
            for v in &page.versions {
                let rec = &v.record;
                let applicable = rules.iter().filter(|r| matches(&r.filter, &v.key, rec));
                if v.is_latest {
                    successor = Some((v.key.clone(), rec.last_modified_ms, 0));
                    for r in applicable {
                        let due = r
                            .expiration_days
                            .map(|d| rec.last_modified_ms + i64::from(d) * day)
                            .or(r.expiration_date_ms)
                            .is_some_and(|at| at <= now);
                        if !rec.delete_marker && due {
                            if self.delete_object(bucket, &v.key, None).await.is_ok() {
                                report.expired += 1;
                            }
                            break;
                        }
                        if rec.delete_marker
                            && r.expired_object_delete_marker
                            && self.only_version(bucket, &v.key).await?
                        {
                            if self
                                .delete_object(bucket, &v.key, Some(&rec.version_id))
                                .await
                                .is_ok()
                            {
                                report.delete_markers_removed += 1;
                            }
                            break;
                        }
                    }
                    continue;
                }
                let Some((skey, since, newer)) = successor.as_mut().filter(|s| s.0 == v.key) else {
                    continue;
                };
                *newer += 1;
                let (became_noncurrent, rank) = (*since, *newer);
                *since = rec.last_modified_ms;
                let _ = skey;
                let due = applicable.into_iter().any(|r| {
                    r.noncurrent_days.is_some_and(|d| {
                        became_noncurrent + i64::from(d) * day <= now
                            && r.newer_noncurrent_versions
                                .is_none_or(|keep| rank > usize::try_from(keep).unwrap_or(0))
                    })
                });
                // Locked versions refuse; they are retried on later passes.
                if due
                    && self
                        .delete_object(bucket, &v.key, Some(&rec.version_id))
                        .await
                        .is_ok()
                {
                    report.noncurrent_removed += 1;
                }
            }
            if !page.is_truncated {
                return Ok(());
            }
            key_marker = page.next_key_marker;
            version_marker = page.next_version_id_marker;
        }
    }

    /// Whether a key's latest version is also its only one.
    async fn only_version(&self, bucket: &str, key: &str) -> Result<bool, EngineError> {
        let page = self
            .list_object_versions(
                bucket,
                VersionListParams {
                    prefix: key.to_owned(),
                    max_keys: 2,
                    ..Default::default()
                },
            )
            .await?;
        Ok(page.versions.iter().filter(|v| v.key == key).count() == 1)
    }

    async fn abort_stale_uploads(
        &self,
        bucket: &str,
        rules: &[LifecycleRule],
        report: &mut LifecycleReport,
    ) -> Result<(), EngineError> {
        let (now, day) = (now_ms(), self.day_ms());
        let listing = self
            .list_multipart_uploads(
                bucket,
                UploadListParams {
                    max_uploads: 1000,
                    ..Default::default()
                },
            )
            .await?;
        for u in listing.uploads {
            let due = rules.iter().any(|r| {
                u.key.starts_with(&r.filter.prefix)
                    && r.abort_incomplete_days
                        .is_some_and(|d| u.initiated_ms + i64::from(d) * day <= now)
            });
            if due
                && self
                    .abort_multipart_upload(bucket, &u.key, &u.upload_id)
                    .await
                    .is_ok()
            {
                report.uploads_aborted += 1;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str) -> LifecycleRule {
        LifecycleRule {
            id: id.into(),
            enabled: true,
            expiration_days: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn configurations_are_checked_as_s3_does() {
        let mut ok = vec![rule("a"), rule("")];
        validate(&mut ok).unwrap();
        assert!(!ok[1].id.is_empty(), "unnamed rules get an id");
        assert!(validate(&mut [rule("a"), rule("a")]).is_err());
        assert!(validate(&mut [rule(&"x".repeat(256))]).is_err());
        let mut zero = rule("z");
        zero.expiration_days = Some(0);
        assert!(matches!(
            validate(&mut [zero]),
            Err(EngineError::InvalidArgument(_))
        ));
        let mut noon = rule("n");
        noon.expiration_days = None;
        noon.expiration_date_ms = Some(12 * 3600 * 1000);
        assert!(validate(&mut [noon]).is_err());
    }

    #[test]
    fn expiry_rounds_to_midnight_with_real_days() {
        let mut rec_rule = rule("r");
        rec_rule.filter.prefix = "logs/".into();
        let rules = [rec_rule];
        let rec = ObjectRecord {
            version_id: "null".into(),
            stamp: 0,
            delete_marker: false,
            size: 1,
            etag: String::new(),
            last_modified_ms: 10 * 3600 * 1000, // 1970-01-01T10:00Z
            headers: Default::default(),
            user_metadata: vec![],
            checksum: None,
            blobs: vec![],
            parts: vec![],
            tags: vec![],
            upload_id: None,
            sse: None,
            owner: None,
            acl: None,
            retention: None,
            legal_hold: false,
        };
        let (at, id) = expiration_of(&rules, "logs/a", &rec, REAL_DAY).unwrap();
        assert_eq!((at, id), (2 * 86_400_000, "r"));
        assert!(expiration_of(&rules, "other", &rec, REAL_DAY).is_none());
        let (at, _) = expiration_of(&rules, "logs/a", &rec, Duration::from_secs(2)).unwrap();
        assert_eq!(at, rec.last_modified_ms + 2000);
    }
}
