//! Authentication (which secret signs for an access key) and the access
//! check that turns credentials into a principal and asks the engine.

use coffer_engine::{AccessRequest, Engine};
use coffer_types::Principal;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::{S3Auth, SecretKey};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};

use crate::RootCredentials;
use crate::errors::to_s3_error;

pub(crate) struct Auth {
    pub root: RootCredentials,
}

#[async_trait::async_trait]
impl S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if access_key == self.root.access_key {
            return Ok(SecretKey::from(self.root.secret_key.as_str()));
        }
        Err(s3_error!(
            InvalidAccessKeyId,
            "The AWS Access Key Id you provided does not exist in our records."
        ))
    }
}

/// Where the access check leaves the principal for the access log.
#[derive(Clone, Default)]
pub(crate) struct PrincipalSlot(pub std::sync::Arc<std::sync::Mutex<Option<String>>>);

pub(crate) struct Access {
    pub engine: Engine,
    pub root: RootCredentials,
}

impl Access {
    fn principal(&self, access_key: Option<&str>) -> Principal {
        match access_key {
            Some(k) if k == self.root.access_key => self.engine.root_principal(k),
            _ => Principal::anonymous(),
        }
    }
}

#[async_trait::async_trait]
impl S3Access for Access {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let principal = self.principal(cx.credentials().map(|c| c.access_key.as_str()));
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        let has_version_id = cx
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p.starts_with("versionId=")));
        let operation = cx.s3_op().name().to_owned();
        if let Some(slot) = cx.extensions_mut().get::<PrincipalSlot>()
            && let Ok(mut g) = slot.0.lock()
        {
            *g = Some(principal.arn());
        }
        self.engine
            .authorize(
                &principal,
                AccessRequest {
                    operation: &operation,
                    bucket: bucket.as_deref(),
                    key: key.as_deref(),
                    has_version_id,
                },
            )
            .await
            .map_err(to_s3_error)?;
        cx.extensions_mut().insert(principal);
        Ok(())
    }
}
