//! Secret access keys at rest.
//!
//! Without a master key, secrets are stored as they are (the data directory
//! is the trust boundary, as for the root credentials file). With one
//! (`COFFER_MASTER_KEY` or a key file), every secret is sealed with
//! XChaCha20-Poly1305 under that key, bound to its access key id, so a copy
//! of the metadata file alone does not hand out working keys. Sealed values
//! look like `sealed:v1:BASE64(nonce || ciphertext)`; a sealed value cannot
//! be used without the key, and a wrong key is detected, not guessed at.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::Digest as _;
use zeroize::Zeroizing;

use crate::EngineError;

const SEALED_PREFIX: &str = "sealed:v1:";

/// The key that seals secrets, derived from what the operator configured.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// 64 hex digits are used as the key itself; anything else (a
    /// passphrase, a file's contents) is hashed with SHA-256.
    pub fn from_config(material: &str) -> Result<Self, EngineError> {
        let m = material.trim();
        if m.is_empty() {
            return Err(EngineError::InvalidInput("the master key is empty".into()));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        if m.len() == 64 && hex::decode_to_slice(m, &mut key[..]).is_ok() {
            return Ok(Self(key));
        }
        key.copy_from_slice(&sha2::Sha256::digest(m.as_bytes()));
        Ok(Self(key))
    }

    /// Seals a secret for storage outside the metadata store (the root
    /// credentials file), bound to `id`.
    pub fn seal(&self, id: &str, secret: &str) -> String {
        seal(Some(self), id, secret)
    }

    /// Opens what [`Self::seal`] produced; plain values pass through.
    pub fn open(&self, id: &str, stored: &str) -> Result<String, EngineError> {
        open(Some(self), id, stored)
    }

    /// HMAC-SHA256 of `data` under this key: a value only the holder of
    /// the key can compute (e.g. the secret of a temporary access key).
    pub(crate) fn derive(&self, data: &[u8]) -> [u8; 32] {
        use hmac::{KeyInit as _, Mac as _};
        let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(&self.0[..])
            .expect("HMAC takes keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }
}

/// Prepares a secret for storage.
pub(crate) fn seal(key: Option<&MasterKey>, access_key_id: &str, secret: &str) -> String {
    let Some(key) = key else {
        return secret.to_owned();
    };
    let nonce_bytes: [u8; 24] = rand::random();
    let nonce = XNonce::from_slice(&nonce_bytes);
    let sealed = key.cipher().encrypt(
        nonce,
        Payload {
            msg: secret.as_bytes(),
            aad: access_key_id.as_bytes(),
        },
    );
    match sealed {
        Ok(ct) => {
            let mut blob = nonce_bytes.to_vec();
            blob.extend_from_slice(&ct);
            format!("{SEALED_PREFIX}{}", B64.encode(blob))
        }
        // Encryption with a valid key and nonce cannot fail; refuse to store
        // plaintext if it ever did.
        Err(_) => String::new(),
    }
}

/// Recovers a stored secret.
pub(crate) fn open(
    key: Option<&MasterKey>,
    access_key_id: &str,
    stored: &str,
) -> Result<String, EngineError> {
    let Some(b64) = stored.strip_prefix(SEALED_PREFIX) else {
        return Ok(stored.to_owned());
    };
    let key = key.ok_or_else(|| {
        EngineError::Internal(
            "stored secrets are sealed but no master key is configured (COFFER_MASTER_KEY)".into(),
        )
    })?;
    let blob = B64.decode(b64).map_err(|_| {
        EngineError::Corrupt(format!("sealed secret of {access_key_id} is not base64"))
    })?;
    if blob.len() < 24 {
        return Err(EngineError::Corrupt(format!(
            "sealed secret of {access_key_id} is truncated"
        )));
    }
    let (nonce, ct) = blob.split_at(24);
    let plain = key
        .cipher()
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ct,
                aad: access_key_id.as_bytes(),
            },
        )
        .map_err(|_| {
            EngineError::Internal(format!(
                "cannot open the secret of {access_key_id}: wrong master key?"
            ))
        })?;
    String::from_utf8(plain)
        .map_err(|_| EngineError::Corrupt(format!("sealed secret of {access_key_id} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_right_key_and_id() {
        let k = MasterKey::from_config("correct horse battery staple").unwrap();
        let sealed = seal(Some(&k), "AKIA1", "s3cr3t");
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(open(Some(&k), "AKIA1", &sealed).unwrap(), "s3cr3t");
        assert!(
            open(Some(&k), "AKIA2", &sealed).is_err(),
            "bound to its key id"
        );
        let other = MasterKey::from_config(&"ab".repeat(32)).unwrap();
        assert!(
            open(Some(&other), "AKIA1", &sealed).is_err(),
            "wrong master key"
        );
        assert!(open(None, "AKIA1", &sealed).is_err(), "no master key");
        assert_ne!(
            seal(Some(&k), "AKIA1", "s3cr3t"),
            sealed,
            "fresh nonce each time"
        );
    }

    #[test]
    fn without_a_master_key_secrets_are_stored_as_they_are() {
        assert_eq!(seal(None, "AKIA1", "plain"), "plain");
        assert_eq!(open(None, "AKIA1", "plain").unwrap(), "plain");
        let k = MasterKey::from_config("k").unwrap();
        assert_eq!(
            open(Some(&k), "AKIA1", "plain").unwrap(),
            "plain",
            "keys stored before the master key still work"
        );
    }
}
