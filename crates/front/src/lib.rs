//! All of Coffer's HTTP: accepting connections, request ids and the access
//! log, and the S3 protocol (through s3s, whose types stay inside this
//! crate).
//!
//! ```text
//! TCP -> hyper -> [request id, log] -> s3s: authenticate (SigV4/SigV2)
//!     -> access: Engine::authorize(principal, operation, bucket, key)
//!     -> S3 operation (s3 module) -> Engine -> response / S3 XML error
//! ```

mod access;
mod body_rate;
mod chunk_seal;
mod cors;
mod errors;
mod host;
mod http_server;
mod iam_api;
mod post_form;
mod query_auth;
mod s3;
mod tls;
mod website;

pub use http_server::{Listener, ServeOptions, serve};

/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::chunk_seal::final_chunk_seen;
}
pub use tls::load_tls_config;

use coffer_engine::Engine;
use s3s::service::S3ServiceBuilder;

/// The root user's long-term credentials.
#[derive(Clone)]
pub struct RootCredentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// Builds the S3 service: s3s with our authentication, access check and
/// operations.
pub(crate) fn s3_service(
    engine: Engine,
    root: RootCredentials,
    domain: Option<&str>,
    allow_sse_c_over_http: bool,
) -> Result<s3s::service::S3Service, String> {
    let mut b = S3ServiceBuilder::new(s3::CofferS3::new(engine.clone(), allow_sse_c_over_http));
    b.set_auth(access::Auth {
        engine: engine.clone(),
        root: root.clone(),
    });
    b.set_access(access::Access { engine, root });
    if let Some(d) = domain {
        b.set_host(host::DomainHost::new(d)?);
    }
    Ok(b.build())
}
