//! Virtual-hosted-style addressing: which bucket, if any, a Host header names.
//!
//! `BUCKET.DOMAIN[:PORT]` names a bucket; `DOMAIN[:PORT]` and every other
//! host (an IP address, `localhost`, another name) are path-style, so
//! path-style requests keep working whatever the client calls the server.
//! Host names compare case-insensitively and the port is ignored. (s3s's
//! `SingleDomain` compares the port too and treats unknown hosts as CNAME
//! buckets, which breaks both on any port but 80.)

use std::borrow::Cow;

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

pub(crate) struct DomainHost {
    /// Lowercase, without a port.
    domain: String,
}

impl DomainHost {
    pub fn new(domain: &str) -> Result<Self, String> {
        let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if d.is_empty() || d.contains(['/', ':', ' ']) {
            return Err(format!(
                "invalid --domain {domain:?}: expected a host name such as s3.example.com"
            ));
        }
        Ok(Self { domain: d })
    }

    /// The bucket a host names, if it is `BUCKET.DOMAIN`.
    pub(crate) fn bucket_of(&self, host: &str) -> Option<String> {
        let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
        let bucket = name.strip_suffix(&self.domain)?.strip_suffix('.')?;
        (!bucket.is_empty()).then(|| bucket.to_owned())
    }
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6]:port
        return host
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 1]);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

impl S3Host for DomainHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let vh = VirtualHost::new(Cow::Borrowed(self.domain.as_str()));
        Ok(match self.bucket_of(host) {
            Some(bucket) => vh.with_bucket(bucket),
            None => vh,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_come_from_subdomains_of_the_domain_only() {
        let h = DomainHost::new("S3.Example.com").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.bucket_of("photos.s3.example.com"), Some("photos".into()));
        assert_eq!(
            h.bucket_of("photos.s3.example.com:9000"),
            Some("photos".into())
        );
        assert_eq!(h.bucket_of("Photos.S3.Example.COM."), Some("photos".into()));
        assert_eq!(
            h.bucket_of("my.dotted.bucket.s3.example.com"),
            Some("my.dotted.bucket".into())
        );
        for path_style in [
            "s3.example.com",
            "s3.example.com:9000",
            "127.0.0.1:9000",
            "localhost",
            "[::1]:9000",
            "xs3.example.com",
            "other.org",
        ] {
            assert_eq!(h.bucket_of(path_style), None, "{path_style}");
        }
    }
}
