//! Cross-origin resource sharing: a bucket's CORS rules and how a request
//! (a preflight `OPTIONS`, or any request with an `Origin`) is matched
//! against them, per the S3 User Guide ("Elements of a CORS configuration").

use coffer_iam::{Case, wildcard_match};
use coffer_meta::records::CorsRule;

use crate::{Engine, EngineError};

const MAX_RULES: usize = 100;
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// Checks a configuration before it is stored.
pub fn validate(rules: &[CorsRule]) -> Result<(), EngineError> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(EngineError::MalformedXml(format!(
            "A CORS configuration holds 1 to {MAX_RULES} rules"
        )));
    }
    for r in rules {
        if let Some(m) = r
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(EngineError::InvalidRequest(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            )));
        }
        if r.allowed_methods.is_empty() || r.allowed_origins.is_empty() {
            return Err(EngineError::MalformedXml(
                "A CORS rule needs an AllowedMethod and an AllowedOrigin".into(),
            ));
        }
        for o in &r.allowed_origins {
            if o.matches('*').count() > 1 {
                return Err(EngineError::InvalidRequest(format!(
                    "AllowedOrigin \"{o}\" can not have more than one wildcard."
                )));
            }
        }
    }
    Ok(())
}

/// The first rule that allows `origin` to use `method` with every one of
/// `request_headers`.
pub fn matching_rule<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    request_headers: &[&str],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin, Case::Sensitive))
            && r.allowed_methods.iter().any(|m| m == method)
            && request_headers.iter().all(|h| {
                r.allowed_headers
                    .iter()
                    .any(|a| wildcard_match(a, h, Case::Insensitive))
            })
    })
}

impl Engine {
    /// PutBucketCors (`Some`) or DeleteBucketCors (`None`).
    pub async fn set_bucket_cors(
        &self,
        bucket: &str,
        rules: Option<Vec<CorsRule>>,
    ) -> Result<(), EngineError> {
        if let Some(r) = &rules {
            validate(r)?;
        }
        self.update_bucket(bucket, move |b| {
            b.cors.clone_from(&rules);
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn origins_match_with_one_wildcard_and_methods_exactly() {
        let rules = [
            rule(&["*suffix"], &["GET"], &[]),
            rule(&["start*end"], &["GET"], &[]),
            rule(&["*.put"], &["PUT"], &[]),
        ];
        let m = |o: &str, meth: &str| matching_rule(&rules, o, meth, &[]).is_some();
        assert!(m("foo.suffix", "GET"));
        assert!(!m("foo.suffix.get", "GET"));
        assert!(m("startend", "GET") && m("start12end", "GET"));
        assert!(!m("0start12end", "GET"));
        assert!(!m("foo.put", "GET"));
        assert!(m("foo.put", "PUT"));
    }

    #[test]
    fn every_requested_header_must_be_allowed() {
        let rules = [rule(&["*"], &["GET"], &["x-amz-*", "Content-Type"])];
        assert!(matching_rule(&rules, "o", "GET", &["X-Amz-Date", "content-type"]).is_some());
        assert!(matching_rule(&rules, "o", "GET", &["x-other"]).is_none());
        let none = [rule(&["*"], &["GET"], &[])];
        assert!(matching_rule(&none, "o", "GET", &["x-amz-meta-header2"]).is_none());
    }

    #[test]
    fn bad_configurations_are_refused() {
        assert!(validate(&[]).is_err());
        assert!(validate(&[rule(&["*"], &["PATCH"], &[])]).is_err());
        assert!(validate(&[rule(&["*a*"], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&["*"], &["GET"], &[])]).is_ok());
    }
}
