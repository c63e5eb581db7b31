//! Server-side encryption of object data: SSE-C, SSE-S3 and SSE-KMS.
//!
//! Every encrypted object version (or multipart upload) has one 256-bit data
//! key. Each stored piece is encrypted with AES-256 in CTR mode under that
//! key and its own random initial counter block, so a ranged read decrypts
//! from any offset and the blob layer's per-block CRC32C still guards the
//! stored bytes. Where the data key lives:
//! - SSE-C: the customer's key is the data key. Only a salted HMAC of it is
//!   stored, to recognise the right key later (as S3 does).
//! - SSE-S3: a random data key, sealed under the server's SSE-S3 key.
//! - SSE-KMS: a random data key, sealed under the named key of the local key
//!   store (the key ids the operator configured, plus `aws/s3`, the default).
//!
//! The SSE-S3 and KMS keys are generated on first start into the metadata
//! store, sealed with the master key when one is configured, so they never
//! leave the data directory.

use std::collections::BTreeMap;

use aes::Aes256;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use coffer_meta::records::{SseMode, StoredSse};
use coffer_meta::{MetaStore, Table};
use ctr::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use futures::TryStreamExt;
use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

use crate::EngineError;
use crate::objects::DataStream;
use crate::secrets::{self, MasterKey};

type Cipher = ctr::Ctr128BE<Aes256>;

/// The KMS key used when SSE-KMS is asked for without a key id.
pub const DEFAULT_KMS_KEY: &str = "aws/s3";

/// A 256-bit data key.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    fn random() -> Self {
        Self(Zeroizing::new(rand::random()))
    }
}

/// An SSE-C key as a request carries it, checked against its MD5.
#[derive(Clone)]
pub struct CustomerKey {
    key: DataKey,
    /// Base64 MD5 of the key.
    pub key_md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5 {})", self.key_md5)
    }
}

impl CustomerKey {
    /// The three `x-amz-server-side-encryption-customer-*` headers (or their
    /// copy-source twins), validated as S3 does. `Ok(None)` when none is set.
    pub fn from_headers(
        algorithm: Option<&str>,
        key_b64: Option<&str>,
        key_md5: Option<&str>,
    ) -> Result<Option<Self>, EngineError> {
        let invalid = |m: &str| Err(EngineError::InvalidArgument(m.to_owned()));
        let (algorithm, key_b64) = match (algorithm, key_b64) {
            (None, None) if key_md5.is_none() => return Ok(None),
            (Some(a), Some(k)) => (a, k),
            (Some(_), None) => {
                return invalid(
                    "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
                );
            }
            _ => {
                return invalid(
                    "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
                );
            }
        };
        if algorithm != "AES256" {
            return invalid("The encryption algorithm specified is not supported.");
        }
        let Ok(raw) = B64.decode(key_b64.trim()) else {
            return invalid("The secret key was invalid for the specified algorithm.");
        };
        let Ok(key) = <[u8; 32]>::try_from(raw.as_slice()) else {
            return invalid("The secret key was invalid for the specified algorithm.");
        };
        let computed = B64.encode(<md5::Md5 as md5::Digest>::digest(key));
        match key_md5 {
            None => invalid(
                "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
            ),
            Some(m) if m.trim() != computed => invalid(
                "The calculated MD5 hash of the key did not match the hash that was provided.",
            ),
            Some(_) => Ok(Some(Self {
                key: DataKey(Zeroizing::new(key)),
                key_md5: computed,
            })),
        }
    }
}

/// The encryption a write asks for.
#[derive(Debug, Clone)]
pub enum SseRequest {
    Customer(CustomerKey),
    S3,
    Kms { key_id: Option<String> },
}

/// The server's key-encryption keys, loaded once at start-up.
pub(crate) struct Keyring {
    s3: MasterKey,
    kms: BTreeMap<String, MasterKey>,
    /// Seals STS session tokens and derives their secrets (see `sts.rs`).
    pub(crate) sts: MasterKey,
}

const S3_KEY_ROW: &str = "sse/s3-key";
const STS_KEY_ROW: &str = "sts/token-key";
const KMS_KEY_ROW_PREFIX: &str = "sse/kms-key/";

impl Keyring {
    /// Loads the SSE-S3 key and the KMS keys named in `kms_key_ids` (and the
    /// default), generating the missing ones.
    pub(crate) async fn load(
        meta: &MetaStore,
        master: Option<&MasterKey>,
        kms_key_ids: &[String],
    ) -> Result<Self, EngineError> {
        let mut names = vec![
            S3_KEY_ROW.to_owned(),
            STS_KEY_ROW.to_owned(),
            format!("{KMS_KEY_ROW_PREFIX}{DEFAULT_KMS_KEY}"),
        ];
        names.extend(
            kms_key_ids
                .iter()
                .map(|id| format!("{KMS_KEY_ROW_PREFIX}{id}")),
        );
        let master = master.cloned();
        let rows = meta
            .write(move |tx| -> Result<Vec<(String, String)>, EngineError> {
                let mut out = Vec::new();
                for name in &names {
                    let stored = match tx.get(Table::System, name.as_bytes())? {
                        Some(v) => String::from_utf8(v)
                            .map_err(|_| EngineError::Corrupt(format!("{name} is not text")))?,
                        None => {
                            let fresh = hex::encode(rand::random::<[u8; 32]>());
                            let sealed = secrets::seal(master.as_ref(), name, &fresh);
                            tx.put(Table::System, name.as_bytes(), sealed.as_bytes())?;
                            sealed
                        }
                    };
                    out.push((name.clone(), secrets::open(master.as_ref(), name, &stored)?));
                }
                Ok(out)
            })
            .await?;
        let (mut s3, mut sts) = (None, None);
        let mut kms = BTreeMap::new();
        for (name, hex_key) in rows {
            let key = MasterKey::from_config(&hex_key)?;
            match name.strip_prefix(KMS_KEY_ROW_PREFIX) {
                Some(id) => {
                    kms.insert(id.to_owned(), key);
                }
                None if name == STS_KEY_ROW => sts = Some(key),
                None => s3 = Some(key),
            }
        }
        let missing = |what: &str| EngineError::Internal(format!("{what} key missing"));
        Ok(Self {
            s3: s3.ok_or_else(|| missing("SSE-S3"))?,
            sts: sts.ok_or_else(|| missing("STS"))?,
            kms,
        })
    }

    fn kms_key(&self, id: &str) -> Result<&MasterKey, EngineError> {
        self.kms.get(id).ok_or_else(|| {
            EngineError::InvalidArgument(format!(
                "The KMS key {id} does not exist in this key store"
            ))
        })
    }

    /// A fresh data key for a write, and how to store it.
    pub(crate) fn new_key(&self, req: &SseRequest) -> Result<(StoredSse, DataKey), EngineError> {
        let mut stored = StoredSse {
            mode: SseMode::S3,
            kms_key_id: None,
            customer_key_md5: None,
            customer_key_hmac: None,
            sealed_key: None,
        };
        match req {
            SseRequest::Customer(c) => {
                stored.mode = SseMode::Customer;
                stored.customer_key_md5 = Some(c.key_md5.clone());
                let salt: [u8; 16] = rand::random();
                stored.customer_key_hmac = Some(format!(
                    "{}:{}",
                    hex::encode(salt),
                    hex::encode(key_hmac(&salt, &c.key))
                ));
                Ok((stored, c.key.clone()))
            }
            SseRequest::S3 => {
                let key = DataKey::random();
                stored.sealed_key = Some(seal_key(&self.s3, "sse-s3", &key));
                Ok((stored, key))
            }
            SseRequest::Kms { key_id } => {
                let id = key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY);
                let key = DataKey::random();
                stored.mode = SseMode::Kms;
                stored.sealed_key = Some(seal_key(self.kms_key(id)?, &format!("kms:{id}"), &key));
                stored.kms_key_id = Some(id.to_owned());
                Ok((stored, key))
            }
        }
    }

    /// The data key of stored data, given what the request carries.
    pub(crate) fn open_key(
        &self,
        stored: Option<&StoredSse>,
        customer: Option<&CustomerKey>,
    ) -> Result<Option<DataKey>, EngineError> {
        let Some(stored) = stored else {
            return match customer {
                Some(_) => Err(EngineError::InvalidRequest(
                    "The encryption parameters are not applicable to this object.".into(),
                )),
                None => Ok(None),
            };
        };
        match (stored.mode, customer) {
            (SseMode::Customer, None) => Err(EngineError::InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
            )),
            (SseMode::Customer, Some(c)) => {
                let matches = stored
                    .customer_key_hmac
                    .as_deref()
                    .and_then(|s| s.split_once(':'))
                    .and_then(|(salt, mac)| Some((hex::decode(salt).ok()?, hex::decode(mac).ok()?)))
                    .is_some_and(|(salt, mac)| {
                        let mut m = <hmac::Hmac<sha2::Sha256>>::new_from_slice(&salt)
                            .expect("HMAC takes keys of any length");
                        m.update(&c.key.0[..]);
                        m.verify_slice(&mac).is_ok()
                    });
                if !matches {
                    return Err(EngineError::InvalidArgument(
                        "The provided encryption key does not match the key the object was stored with.".into(),
                    ));
                }
                Ok(Some(c.key.clone()))
            }
            (_, Some(_)) => Err(EngineError::InvalidRequest(
                "The encryption parameters are not applicable to this object.".into(),
            )),
            (SseMode::S3, None) => open_sealed(&self.s3, "sse-s3", stored).map(Some),
            (SseMode::Kms, None) => {
                let id = stored.kms_key_id.as_deref().unwrap_or(DEFAULT_KMS_KEY);
                open_sealed(self.kms_key(id)?, &format!("kms:{id}"), stored).map(Some)
            }
        }
    }
}

fn key_hmac(salt: &[u8], key: &DataKey) -> Vec<u8> {
    let mut m =
        <hmac::Hmac<sha2::Sha256>>::new_from_slice(salt).expect("HMAC takes keys of any length");
    m.update(&key.0[..]);
    m.finalize().into_bytes().to_vec()
}

fn seal_key(kek: &MasterKey, context: &str, key: &DataKey) -> String {
    kek.seal(context, &hex::encode(&key.0[..]))
}

fn open_sealed(kek: &MasterKey, context: &str, stored: &StoredSse) -> Result<DataKey, EngineError> {
    let sealed = stored
        .sealed_key
        .as_deref()
        .ok_or_else(|| EngineError::Corrupt("encrypted object without its data key".into()))?;
    let hex_key = Zeroizing::new(kek.open(context, sealed)?);
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_key.as_bytes(), &mut key[..])
        .map_err(|_| EngineError::Corrupt("sealed data key is malformed".into()))?;
    Ok(DataKey(key))
}

/// Encrypts the pieces of one write as they stream through.
pub(crate) struct PieceEncryptor {
    cipher: Cipher,
    iv: [u8; 16],
}

impl PieceEncryptor {
    pub(crate) fn new(key: &DataKey) -> Self {
        let iv: [u8; 16] = rand::random();
        Self {
            cipher: Cipher::new((&*key.0).into(), (&iv).into()),
            iv,
        }
    }

    pub(crate) fn iv_hex(&self) -> String {
        hex::encode(self.iv)
    }

    pub(crate) fn encrypt(&mut self, chunk: &[u8]) -> Bytes {
        let mut buf = BytesMut::from(chunk);
        self.cipher.apply_keystream(&mut buf);
        buf.freeze()
    }
}

/// Decrypts a stream of a piece's stored bytes that starts at `offset`.
pub(crate) fn decrypting(
    stored: DataStream,
    key: &DataKey,
    iv_hex: &str,
    offset: u64,
) -> Result<DataStream, EngineError> {
    let mut iv = [0u8; 16];
    hex::decode_to_slice(iv_hex, &mut iv)
        .map_err(|_| EngineError::Corrupt("piece IV is malformed".into()))?;
    let mut cipher = Cipher::new((&*key.0).into(), (&iv).into());
    cipher.seek(offset);
    Ok(Box::pin(stored.map_ok(move |chunk| {
        // Blob reads hand over blocks nobody else holds: decrypt those in
        // place rather than copying each one.
        let mut buf = chunk
            .try_into_mut()
            .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
        cipher.apply_keystream(&mut buf);
        buf.freeze()
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The key and MD5 ceph/s3-tests use, which S3 accepts.
    const KEY: &str = "pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=";
    const KEY_MD5: &str = "DWygnHRtgiJ77HCm+1rvHw==";

    #[test]
    fn customer_keys_are_checked_as_s3_does() {
        let ok = CustomerKey::from_headers(Some("AES256"), Some(KEY), Some(KEY_MD5)).unwrap();
        assert_eq!(ok.unwrap().key_md5, KEY_MD5);
        assert!(
            CustomerKey::from_headers(None, None, None)
                .unwrap()
                .is_none()
        );
        for (a, k, m) in [
            (Some("AES256"), Some(KEY), Some("AAAAAAAAAAAAAAAAAAAAAA==")),
            (Some("AES256"), Some(KEY), None),
            (Some("AES256"), None, None),
            (None, Some(KEY), Some(KEY_MD5)),
            (Some("AES128"), Some(KEY), Some(KEY_MD5)),
            (Some("AES256"), Some("c2hvcnQ="), Some(KEY_MD5)),
        ] {
            assert!(
                matches!(
                    CustomerKey::from_headers(a, k, m),
                    Err(EngineError::InvalidArgument(_))
                ),
                "{a:?} {k:?} {m:?}"
            );
        }
    }

    #[tokio::test]
    async fn ctr_decrypts_from_any_offset() {
        let key = DataKey::random();
        let mut enc = PieceEncryptor::new(&key);
        let plain: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut stored = Vec::new();
        for c in plain.chunks(77) {
            stored.extend_from_slice(&enc.encrypt(c));
        }
        assert_ne!(stored, plain);
        for offset in [0usize, 1, 15, 16, 17, 500, 999] {
            let tail = Bytes::copy_from_slice(&stored[offset..]);
            let s: DataStream = Box::pin(futures::stream::iter([Ok(tail)]));
            let out = decrypting(s, &key, &enc.iv_hex(), offset as u64)
                .unwrap()
                .try_collect::<Vec<Bytes>>()
                .await
                .unwrap()
                .concat();
            assert_eq!(out, plain[offset..], "offset {offset}");
        }
    }

    #[tokio::test]
    async fn data_keys_round_trip_and_customer_keys_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let meta = MetaStore::new(std::sync::Arc::new(
            coffer_meta_redb::RedbBackend::open(&dir.path().join("m.redb")).unwrap(),
        ));
        let ring = Keyring::load(&meta, None, &["testkey-1".into()])
            .await
            .unwrap();
        for req in [
            SseRequest::S3,
            SseRequest::Kms {
                key_id: Some("testkey-1".into()),
            },
        ] {
            let (stored, key) = ring.new_key(&req).unwrap();
            assert!(
                !stored
                    .sealed_key
                    .as_deref()
                    .unwrap()
                    .contains(&hex::encode(&key.0[..]))
            );
            let opened = ring.open_key(Some(&stored), None).unwrap().unwrap();
            assert_eq!(opened.0, key.0);
        }
        assert!(
            ring.new_key(&SseRequest::Kms {
                key_id: Some("nope".into())
            })
            .is_err()
        );
        // Reloading finds the same keys.
        let (stored, key) = ring.new_key(&SseRequest::S3).unwrap();
        let again = Keyring::load(&meta, None, &[]).await.unwrap();
        assert_eq!(
            again.open_key(Some(&stored), None).unwrap().unwrap().0,
            key.0
        );

        let c = CustomerKey::from_headers(Some("AES256"), Some(KEY), Some(KEY_MD5))
            .unwrap()
            .unwrap();
        let (stored, _) = ring.new_key(&SseRequest::Customer(c.clone())).unwrap();
        assert!(ring.open_key(Some(&stored), Some(&c)).is_ok());
        assert!(matches!(
            ring.open_key(Some(&stored), None),
            Err(EngineError::InvalidRequest(_))
        ));
        let other = CustomerKey::from_headers(
            Some("AES256"),
            Some("6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4="),
            Some("arxBvwY2V4SiOne6yppVPQ=="),
        )
        .unwrap()
        .unwrap();
        assert!(matches!(
            ring.open_key(Some(&stored), Some(&other)),
            Err(EngineError::InvalidArgument(_))
        ));
    }
}
