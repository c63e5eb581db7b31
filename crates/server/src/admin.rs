//! `coffer admin`: administration through the server's public APIs (IAM's
//! Query API and Coffer's account actions on it), never by editing the data
//! directory behind the server's back.

use std::time::SystemTime;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt as _, Full};

#[derive(Args)]
pub struct AdminArgs {
    /// The Coffer endpoint.
    #[arg(
        long,
        global = true,
        env = "COFFER_ENDPOINT_URL",
        default_value = "http://127.0.0.1:9000"
    )]
    endpoint_url: String,
    /// Access key to sign with (default: AWS_ACCESS_KEY_ID).
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: Option<String>,
    /// Secret key to sign with (default: AWS_SECRET_ACCESS_KEY).
    #[arg(
        long,
        global = true,
        env = "AWS_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// Signing region (default: AWS_REGION or us-east-1).
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Accounts: separate owners of buckets and IAM entities (first account's root only).
    #[command(subcommand)]
    Account(AccountCommand),
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account; prints its id and its root user's access key as JSON.
    Create {
        /// A name for the account (unique).
        name: String,
    },
    /// List accounts as JSON.
    List,
    /// Delete an account (refused while it owns buckets).
    Delete {
        /// The 12-digit account id.
        account_id: String,
    },
}

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = IamClient::new(&args)?;
        let out = match args.command {
            AdminCommand::Account(AccountCommand::Create { name }) => {
                let xml = client.call("CreateAccount", &[("AccountName", &name)]).await?;
                let l = leaves(&xml);
                serde_json::json!({
                    "AccountId": field(&l, "AccountId"),
                    "AccountName": field(&l, "AccountName"),
                    "CanonicalUserId": field(&l, "CanonicalUserId"),
                    "AccessKeyId": field(&l, "AccessKeyId"),
                    "SecretAccessKey": field(&l, "SecretAccessKey"),
                })
            }
            AdminCommand::Account(AccountCommand::List) => {
                let xml = client.call("ListAccounts", &[]).await?;
                let l = leaves(&xml);
                let ids = all(&l, "AccountId");
                let names = all(&l, "AccountName");
                let canon = all(&l, "CanonicalUserId");
                let accounts: Vec<_> = ids
                    .iter()
                    .zip(names.iter().zip(canon.iter()))
                    .map(|(id, (n, c))| serde_json::json!({"AccountId": id, "AccountName": n, "CanonicalUserId": c}))
                    .collect();
                serde_json::json!({ "Accounts": accounts })
            }
            AdminCommand::Account(AccountCommand::Delete { account_id }) => {
                client.call("DeleteAccount", &[("AccountId", &account_id)]).await?;
                serde_json::json!({ "Deleted": account_id })
            }
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    })
}

struct IamClient {
    host: String,
    authority: String,
    access_key: String,
    secret_key: String,
    region: String,
}

impl IamClient {
    fn new(args: &AdminArgs) -> anyhow::Result<Self> {
        let authority = args
            .endpoint_url
            .strip_prefix("http://")
            .context("only http:// endpoints are supported by coffer admin for now")?
            .trim_end_matches('/')
            .to_owned();
        let (Some(access_key), Some(secret_key)) =
            (args.access_key.clone(), args.secret_key.clone())
        else {
            bail!(
                "credentials needed: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --access-key and --secret-key"
            );
        };
        let host = if authority.contains(':') {
            authority.clone()
        } else {
            format!("{authority}:80")
        };
        Ok(Self {
            host,
            authority,
            access_key,
            secret_key,
            region: args.region.clone(),
        })
    }

    /// Calls an IAM Query API action and returns the response XML, or the
    /// error's code and message.
    async fn call(&self, action: &str, params: &[(&str, &str)]) -> anyhow::Result<String> {
        let mut form = vec![("Action", action), ("Version", "2010-05-08")];
        form.extend_from_slice(params);
        let body = serde_urlencoded::to_string(&form)?;
        let amz_date = amz_date(SystemTime::now());
        let headers = vec![
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ),
            ("host".to_owned(), self.authority.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        let payload = coffer_sigv4::sha256_hex(body.as_bytes());
        let signer = coffer_sigv4::Signer {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
            service: "iam",
            amz_date: &amz_date,
        };
        let auth = signer.authorization(&coffer_sigv4::Request {
            method: "POST",
            path: "/",
            query: vec![],
            headers: headers.clone(),
            payload_hash: &payload,
        });
        let mut req = http::Request::post("/");
        for (n, v) in &headers {
            req = req.header(n, v);
        }
        let req = req
            .header("authorization", auth)
            .body(Full::new(Bytes::from(body)))?;
        let stream = tokio::net::TcpStream::connect(&self.host)
            .await
            .with_context(|| format!("cannot connect to {}", self.host))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !status.is_success() {
            let l = leaves(&text);
            bail!(
                "{action} failed ({status}): {}: {}",
                field(&l, "Code"),
                field(&l, "Message")
            );
        }
        Ok(text)
    }
}

fn amz_date(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Every leaf element of a document as (tag, text), in order.
fn leaves(xml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                current = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(quick_xml::events::Event::Text(t)) => {
                if let Some(tag) = current.take() {
                    let text = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                    let text = quick_xml::escape::unescape(&text)
                        .map(|c| c.into_owned())
                        .unwrap_or(text);
                    out.push((tag, text));
                }
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => break,
            Ok(_) => current = None,
        }
    }
    out
}

fn field(l: &[(String, String)], tag: &str) -> String {
    l.iter()
        .find(|(t, _)| t == tag)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn all(l: &[(String, String)], tag: &str) -> Vec<String> {
    l.iter()
        .filter(|(t, _)| t == tag)
        .map(|(_, v)| v.clone())
        .collect()
}
