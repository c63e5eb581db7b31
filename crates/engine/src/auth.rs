//! The single authorization call every request makes, and the accounts it
//! needs.

use coffer_iam::{RequestContext, actions};
use coffer_meta::records::{AccountRecord, BucketRecord, decode, encode};
use coffer_meta::{MetaError, MetaStore, Table, keys};
use coffer_types::{AccountId, Principal};

use crate::{Engine, EngineError};

const ROOT_ACCOUNT_KEY: &[u8] = b"account/root";

/// Loads the first account, creating it (with fresh ids) on first start.
pub(crate) async fn ensure_root_account(meta: &MetaStore) -> Result<AccountRecord, EngineError> {
    meta.write(|tx| -> Result<AccountRecord, EngineError> {
        if let Some(v) = tx.get(Table::System, ROOT_ACCOUNT_KEY)? {
            return Ok(decode(&v)?);
        }
        let digits: String = (0..12)
            .map(|_| char::from(b'0' + rand::random_range(0..10u8)))
            .collect();
        let account = AccountRecord {
            id: digits,
            canonical_id: hex::encode(rand::random::<[u8; 32]>()),
            name: "root".into(),
        };
        tx.put(Table::System, ROOT_ACCOUNT_KEY, &encode(&account))?;
        Ok(account)
    })
    .await
}

/// What a request asks to do, as the front end sees it.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// The S3 operation name, e.g. `GetObject`.
    pub operation: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    pub has_version_id: bool,
}

impl Engine {
    /// Decides whether `principal` may make `request`; the one authorization
    /// point for S3 operations.
    pub async fn authorize(
        &self,
        principal: &Principal,
        request: AccessRequest<'_>,
    ) -> Result<(), EngineError> {
        let (action, kind) = match actions::lookup(request.operation) {
            Some(row) => (
                actions::action_for(row, request.has_version_id),
                row.resource,
            ),
            // Operations without a row are not implemented; they still need
            // the bucket owner's authority to reach the NotImplemented reply.
            None => ("s3:*", actions::ResourceKind::Bucket),
        };
        let resource = actions::resource_arn(kind, request.bucket, request.key);
        let owner = match (kind, request.bucket) {
            (actions::ResourceKind::Service, _) | (_, None) => None,
            _ if request.operation == "CreateBucket" => None,
            (_, Some(b)) => self.bucket_record(b).await?.map(|r| AccountId(r.owner)),
        };
        let context = RequestContext {
            resource_owner: owner,
        };
        match coffer_iam::authorize(principal, action, &resource, &context) {
            coffer_iam::Decision::Allow => Ok(()),
            decision => Err(EngineError::AccessDenied(coffer_iam::denial_message(
                principal, action, &resource, decision,
            ))),
        }
    }

    /// The principal for a root access key of the first account.
    pub fn root_principal(&self, access_key: &str) -> Principal {
        Principal::root(
            AccountId(self.root_account().id.clone()),
            access_key.to_owned(),
        )
    }

    pub(crate) async fn bucket_record(
        &self,
        bucket: &str,
    ) -> Result<Option<BucketRecord>, EngineError> {
        let key = keys::bucket(bucket);
        self.meta()
            .read(move |tx| -> Result<_, MetaError> {
                tx.get(Table::Buckets, &key)?
                    .map(|v| decode(&v))
                    .transpose()
            })
            .await
            .map_err(EngineError::from)
    }
}
