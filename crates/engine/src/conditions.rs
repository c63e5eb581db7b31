//! Conditional requests: RFC 7232 as S3 applies it.
//!
//! Times compare at whole seconds, the resolution of HTTP dates.

use crate::EngineError;
use crate::ObjectRecord;

/// An If-Match / If-None-Match value: `*` or a list of entity tags
/// (unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagMatch {
    Any,
    Tags(Vec<String>),
}

impl EtagMatch {
    /// Parses a header value such as `"a", "b"` or `*`.
    pub fn parse(header: &str) -> Self {
        if header.trim() == "*" {
            return Self::Any;
        }
        Self::Tags(
            header
                .split(',')
                .map(|t| {
                    t.trim()
                        .trim_start_matches("W/")
                        .trim_matches('"')
                        .to_owned()
                })
                .filter(|t| !t.is_empty())
                .collect(),
        )
    }

    fn matches(&self, etag: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t == etag),
        }
    }
}

/// Preconditions on GET and HEAD.
#[derive(Debug, Clone, Default)]
pub struct ReadConditions {
    pub if_match: Option<EtagMatch>,
    pub if_none_match: Option<EtagMatch>,
    /// Milliseconds since the epoch.
    pub if_modified_since_ms: Option<i64>,
    pub if_unmodified_since_ms: Option<i64>,
}

fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

impl ReadConditions {
    /// AWS's order: a failing If-Match gives 412 (If-Unmodified-Since only
    /// counts without If-Match); a matching If-None-Match gives 304
    /// (If-Modified-Since only counts without If-None-Match).
    pub fn check(&self, object: &ObjectRecord) -> Result<(), EngineError> {
        let modified = secs(object.last_modified_ms);
        if let Some(m) = &self.if_match {
            if !m.matches(&object.etag) {
                return Err(EngineError::PreconditionFailed);
            }
        } else if let Some(t) = self.if_unmodified_since_ms
            && modified > secs(t)
        {
            return Err(EngineError::PreconditionFailed);
        }
        if let Some(m) = &self.if_none_match {
            if m.matches(&object.etag) {
                return Err(EngineError::NotModified);
            }
        } else if let Some(t) = self.if_modified_since_ms
            && modified <= secs(t)
        {
            return Err(EngineError::NotModified);
        }
        Ok(())
    }
}

/// `x-amz-copy-source-if-*` on CopyObject and UploadPartCopy: every failure
/// is 412.
#[derive(Debug, Clone, Default)]
pub struct CopySourceConditions(pub ReadConditions);

impl CopySourceConditions {
    pub fn check(&self, source: &ObjectRecord) -> Result<(), EngineError> {
        let c = &self.0;
        let modified = secs(source.last_modified_ms);
        let fail = c
            .if_match
            .as_ref()
            .is_some_and(|m| !m.matches(&source.etag))
            || c.if_none_match
                .as_ref()
                .is_some_and(|m| m.matches(&source.etag))
            || (c.if_match.is_none()
                && c.if_unmodified_since_ms.is_some_and(|t| modified > secs(t)))
            || (c.if_none_match.is_none()
                && c.if_modified_since_ms.is_some_and(|t| modified <= secs(t)));
        if fail {
            Err(EngineError::PreconditionFailed)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectHeaders;

    fn obj(etag: &str, ms: i64) -> ObjectRecord {
        ObjectRecord {
            version_id: "null".into(),
            stamp: 0,
            delete_marker: false,
            size: 0,
            etag: etag.into(),
            last_modified_ms: ms,
            headers: ObjectHeaders::default(),
            user_metadata: vec![],
            tags: vec![],
            upload_id: None,
            sse: None,
            owner: None,
            acl: None,
            retention: None,
            legal_hold: false,
            checksum: None,
            blobs: vec![],
            parts: vec![],
        }
    }

    #[test]
    fn if_match_and_if_none_match() {
        let o = obj("abc", 10_000);
        let c = |m: Option<&str>, n: Option<&str>| {
            ReadConditions {
                if_match: m.map(EtagMatch::parse),
                if_none_match: n.map(EtagMatch::parse),
                ..Default::default()
            }
            .check(&o)
        };
        assert!(c(Some("\"abc\""), None).is_ok());
        assert!(c(Some("*"), None).is_ok());
        assert!(c(Some("\"x\", \"abc\""), None).is_ok());
        assert!(matches!(
            c(Some("\"x\""), None),
            Err(EngineError::PreconditionFailed)
        ));
        assert!(matches!(
            c(None, Some("\"abc\"")),
            Err(EngineError::NotModified)
        ));
        assert!(c(None, Some("\"x\"")).is_ok());
    }

    #[test]
    fn dates_compare_at_second_resolution_with_aws_precedence() {
        let o = obj("abc", 10_500);
        let c = |ims: Option<i64>, ius: Option<i64>, m: Option<&str>| {
            ReadConditions {
                if_match: m.map(EtagMatch::parse),
                if_modified_since_ms: ims,
                if_unmodified_since_ms: ius,
                ..Default::default()
            }
            .check(&o)
        };
        assert!(matches!(
            c(Some(10_000), None, None),
            Err(EngineError::NotModified)
        ));
        assert!(c(Some(9_999), None, None).is_ok());
        assert!(matches!(
            c(None, Some(9_000), None),
            Err(EngineError::PreconditionFailed)
        ));
        assert!(c(None, Some(10_000), None).is_ok());
        // If-Match true overrides a failing If-Unmodified-Since.
        assert!(c(None, Some(9_000), Some("\"abc\"")).is_ok());
    }

    #[test]
    fn copy_source_conditions_fail_with_412() {
        let o = obj("abc", 10_000);
        let c = CopySourceConditions(ReadConditions {
            if_none_match: Some(EtagMatch::parse("\"abc\"")),
            ..Default::default()
        });
        assert!(matches!(c.check(&o), Err(EngineError::PreconditionFailed)));
    }
}
