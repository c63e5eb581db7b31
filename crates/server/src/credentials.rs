//! The root user's credentials: from the environment, or generated once and
//! kept in the data directory (mode 0600).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::{Context as _, bail};
use coffer_front::RootCredentials;

const FILE: &str = "root-credentials";
const ENV_ACCESS: &str = "COFFER_ROOT_ACCESS_KEY";
const ENV_SECRET: &str = "COFFER_ROOT_SECRET_KEY";

pub struct Loaded {
    pub root: RootCredentials,
    /// True when this start generated them (so they are printed once).
    pub generated: bool,
}

/// Loads the root credentials. With a master key the generated secret is
/// stored sealed, and a sealed file needs the key to be read.
pub fn load_or_create(
    data: &Path,
    master: Option<&coffer_engine::MasterKey>,
) -> anyhow::Result<Loaded> {
    let env_access = std::env::var(ENV_ACCESS).ok().filter(|s| !s.is_empty());
    let env_secret = std::env::var(ENV_SECRET).ok().filter(|s| !s.is_empty());
    match (env_access, env_secret) {
        (Some(access_key), Some(secret_key)) => {
            return Ok(Loaded {
                root: RootCredentials {
                    access_key,
                    secret_key,
                },
                generated: false,
            });
        }
        (Some(_), None) | (None, Some(_)) => {
            bail!("set both {ENV_ACCESS} and {ENV_SECRET}, or neither")
        }
        (None, None) => {}
    }
    let path = data.join(FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
                .map(|v| v.trim().to_owned())
        };
        let (Some(access_key), Some(stored)) = (field("access_key"), field("secret_key")) else {
            bail!(
                "{} is malformed: expected access_key= and secret_key= lines",
                path.display()
            );
        };
        let secret_key = match master {
            Some(m) => m
                .open(&access_key, &stored)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            None if stored.starts_with("sealed:") => {
                bail!(
                    "{} is sealed: configure the master key (COFFER_MASTER_KEY or --master-key-file)",
                    path.display()
                )
            }
            None => stored,
        };
        return Ok(Loaded {
            root: RootCredentials {
                access_key,
                secret_key,
            },
            generated: false,
        });
    }
    let root = RootCredentials {
        access_key: random_string("AKIA", 16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        secret_key: random_string(
            "",
            40,
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        ),
    };
    write_private(
        &path,
        &format!(
            "access_key={}\nsecret_key={}\n",
            root.access_key,
            match master {
                Some(m) => m.seal(&root.access_key, &root.secret_key),
                None => root.secret_key.clone(),
            }
        ),
    )?;
    Ok(Loaded {
        root,
        generated: true,
    })
}

fn random_string(prefix: &str, len: usize, alphabet: &[u8]) -> String {
    let mut s = prefix.to_owned();
    for _ in 0..len {
        let i = rand::random_range(0..alphabet.len());
        s.push(char::from(alphabet[i]));
    }
    s
}

/// Writes a file readable only by its owner, durably and atomically.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

pub fn print_welcome(
    out: &mut impl Write,
    root: &RootCredentials,
    endpoint: &str,
    region: &str,
    data: &Path,
) -> std::io::Result<()> {
    let host = endpoint.trim_start_matches("http://");
    writeln!(out)?;
    writeln!(
        out,
        "Generated root credentials (saved in {}, shown only this once):",
        data.join(FILE).display()
    )?;
    writeln!(out, "  AccessKeyId:     {}", root.access_key)?;
    writeln!(out, "  SecretAccessKey: {}", root.secret_key)?;
    writeln!(out)?;
    writeln!(out, "aws cli:")?;
    writeln!(
        out,
        "  export AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION={region}",
        root.access_key, root.secret_key
    )?;
    writeln!(out, "  aws --endpoint-url {endpoint} s3 mb s3://my-bucket")?;
    writeln!(out)?;
    writeln!(out, "s3cmd (~/.s3cfg):")?;
    writeln!(out, "  [default]")?;
    writeln!(out, "  access_key = {}", root.access_key)?;
    writeln!(out, "  secret_key = {}", root.secret_key)?;
    writeln!(out, "  host_base = {host}")?;
    writeln!(out, "  host_bucket = {host}")?;
    writeln!(out, "  bucket_location = {region}")?;
    writeln!(out, "  use_https = False")?;
    writeln!(out)?;
    Ok(())
}
