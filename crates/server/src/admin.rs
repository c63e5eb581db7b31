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
    /// IAM users of the caller's account.
    #[command(subcommand)]
    User(UserCommand),
    /// Access keys of IAM users.
    #[command(subcommand)]
    Key(KeyCommand),
    /// IAM groups and their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Identity policies: inline user policies and the policy simulator.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Bucket policies.
    #[command(subcommand)]
    BucketPolicy(BucketPolicyCommand),
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

#[derive(Subcommand)]
enum UserCommand {
    /// Create an IAM user.
    Create {
        name: String,
        /// IAM path, such as /engineering/.
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a user.
    Get { name: String },
    /// List users.
    List,
    /// Delete a user (its keys and policies must be removed first).
    Delete { name: String },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create an access key for a user; prints the secret once.
    Create { user: String },
    /// List a user's access keys.
    List { user: String },
    /// Make a key unusable without deleting it.
    Disable { user: String, access_key_id: String },
    /// Make a disabled key usable again.
    Enable { user: String, access_key_id: String },
    /// Delete a key.
    Delete { user: String, access_key_id: String },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group.
    Create {
        name: String,
        #[arg(long)]
        path: Option<String>,
    },
    /// Show a group and its members.
    Get { name: String },
    /// List groups.
    List,
    /// Add a user to a group.
    AddUser { group: String, user: String },
    /// Remove a user from a group.
    RemoveUser { group: String, user: String },
    /// Add or replace an inline policy of a group: JSON text, or @FILE.
    PutPolicy {
        group: String,
        policy_name: String,
        document: String,
    },
    /// Delete a group (members and policies must be removed first).
    Delete { name: String },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Add or replace an inline policy of a user.
    PutUser {
        user: String,
        policy_name: String,
        /// The policy document: JSON text, or @FILE to read it from a file.
        document: String,
    },
    /// Show an inline policy of a user.
    GetUser { user: String, policy_name: String },
    /// Delete an inline policy of a user.
    DeleteUser { user: String, policy_name: String },
    /// Evaluate actions on resources against a user's policies.
    Simulate {
        /// The user whose policies are evaluated.
        #[arg(long)]
        user: String,
        /// An action such as s3:GetObject (repeatable).
        #[arg(long = "action", required = true)]
        actions: Vec<String>,
        /// A resource ARN (repeatable; default *).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// A condition key and value, KEY=VALUE (repeatable).
        #[arg(long = "context")]
        context: Vec<String>,
    },
}

#[derive(Subcommand)]
enum BucketPolicyCommand {
    /// Set a bucket's policy: JSON text, or @FILE.
    Put { bucket: String, document: String },
    /// Print a bucket's policy.
    Get { bucket: String },
    /// Remove a bucket's policy.
    Delete { bucket: String },
}

fn document(arg: &str) -> anyhow::Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(arg.to_owned()),
    }
}

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = IamClient::new(&args)?;
        let out = match args.command {
            AdminCommand::Account(c) => account(&client, c).await?,
            AdminCommand::User(c) => {
                let (action, params): (&str, Vec<(&str, String)>) = match &c {
                    UserCommand::Create { name, path } => {
                        let mut p = vec![("UserName", name.clone())];
                        if let Some(path) = path {
                            p.push(("Path", path.clone()));
                        }
                        ("CreateUser", p)
                    }
                    UserCommand::Get { name } => ("GetUser", vec![("UserName", name.clone())]),
                    UserCommand::List => ("ListUsers", vec![]),
                    UserCommand::Delete { name } => ("DeleteUser", vec![("UserName", name.clone())]),
                };
                client.json(action, &params).await?
            }
            AdminCommand::Key(c) => {
                let (action, params): (&str, Vec<(&str, String)>) = match &c {
                    KeyCommand::Create { user } => ("CreateAccessKey", vec![("UserName", user.clone())]),
                    KeyCommand::List { user } => ("ListAccessKeys", vec![("UserName", user.clone())]),
                    KeyCommand::Disable { user, access_key_id } | KeyCommand::Enable { user, access_key_id } => (
                        "UpdateAccessKey",
                        vec![
                            ("UserName", user.clone()),
                            ("AccessKeyId", access_key_id.clone()),
                            ("Status", if matches!(c, KeyCommand::Enable { .. }) { "Active" } else { "Inactive" }.to_owned()),
                        ],
                    ),
                    KeyCommand::Delete { user, access_key_id } => (
                        "DeleteAccessKey",
                        vec![("UserName", user.clone()), ("AccessKeyId", access_key_id.clone())],
                    ),
                };
                client.json(action, &params).await?
            }
            AdminCommand::Group(c) => {
                let (action, params): (&str, Vec<(&str, String)>) = match c {
                    GroupCommand::Create { name, path } => {
                        let mut p = vec![("GroupName", name)];
                        if let Some(path) = path {
                            p.push(("Path", path));
                        }
                        ("CreateGroup", p)
                    }
                    GroupCommand::Get { name } => ("GetGroup", vec![("GroupName", name)]),
                    GroupCommand::List => ("ListGroups", vec![]),
                    GroupCommand::AddUser { group, user } => ("AddUserToGroup", vec![("GroupName", group), ("UserName", user)]),
                    GroupCommand::RemoveUser { group, user } => {
                        ("RemoveUserFromGroup", vec![("GroupName", group), ("UserName", user)])
                    }
                    GroupCommand::PutPolicy { group, policy_name, document: d } => (
                        "PutGroupPolicy",
                        vec![("GroupName", group), ("PolicyName", policy_name), ("PolicyDocument", document(&d)?)],
                    ),
                    GroupCommand::Delete { name } => ("DeleteGroup", vec![("GroupName", name)]),
                };
                client.json(action, &params).await?
            }
            AdminCommand::Policy(c) => policy(&client, c).await?,
            AdminCommand::BucketPolicy(c) => {
                let (method, body) = match &c {
                    BucketPolicyCommand::Put { document: d, .. } => ("PUT", document(d)?),
                    BucketPolicyCommand::Get { .. } => ("GET", String::new()),
                    BucketPolicyCommand::Delete { .. } => ("DELETE", String::new()),
                };
                let (BucketPolicyCommand::Put { bucket, .. } | BucketPolicyCommand::Get { bucket } | BucketPolicyCommand::Delete { bucket }) = &c;
                let text = client.send("s3", method, &format!("/{bucket}"), "policy", body).await?;
                if method == "GET" {
                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
                } else {
                    serde_json::json!({ "Bucket": bucket, "Policy": if method == "PUT" { "set" } else { "deleted" } })
                }
            }
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        Ok(())
    })
}

async fn account(client: &IamClient, c: AccountCommand) -> anyhow::Result<serde_json::Value> {
    Ok(match c {
        // The new account's id, canonical id and root keys, flat.
        AccountCommand::Create { name } => client
            .json("CreateAccount", &[("AccountName", name)])
            .await?
            .get("Account")
            .cloned()
            .unwrap_or_default(),
        AccountCommand::List => client.json("ListAccounts", &[]).await?,
        AccountCommand::Delete { account_id } => {
            client
                .call("DeleteAccount", &[("AccountId", account_id.clone())])
                .await?;
            serde_json::json!({ "Deleted": account_id })
        }
    })
}

async fn policy(client: &IamClient, c: PolicyCommand) -> anyhow::Result<serde_json::Value> {
    match c {
        PolicyCommand::PutUser {
            user,
            policy_name,
            document: d,
        } => {
            let params = [
                ("UserName", user),
                ("PolicyName", policy_name),
                ("PolicyDocument", document(&d)?),
            ];
            client.json("PutUserPolicy", &params).await
        }
        PolicyCommand::GetUser { user, policy_name } => {
            let xml = client
                .call(
                    "GetUserPolicy",
                    &[("UserName", user), ("PolicyName", policy_name)],
                )
                .await?;
            let encoded = text_of(&xml, "PolicyDocument");
            let text = percent_encoding::percent_decode_str(&encoded)
                .decode_utf8_lossy()
                .into_owned();
            Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
        }
        PolicyCommand::DeleteUser { user, policy_name } => {
            client
                .json(
                    "DeleteUserPolicy",
                    &[("UserName", user), ("PolicyName", policy_name)],
                )
                .await
        }
        PolicyCommand::Simulate {
            user,
            actions,
            resources,
            context,
        } => {
            let me = client.call("GetUser", &[]).await?;
            let caller_arn = text_of(&me, "Arn");
            let account = caller_arn.split(':').nth(4).unwrap_or_default().to_owned();
            let mut params: Vec<(String, String)> = vec![(
                "PolicySourceArn".into(),
                format!("arn:aws:iam::{account}:user/{user}"),
            )];
            for (i, a) in actions.iter().enumerate() {
                params.push((format!("ActionNames.member.{}", i + 1), a.clone()));
            }
            for (i, r) in resources.iter().enumerate() {
                params.push((format!("ResourceArns.member.{}", i + 1), r.clone()));
            }
            for (i, kv) in context.iter().enumerate() {
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("--context {kv}: expected KEY=VALUE"))?;
                params.push((
                    format!("ContextEntries.member.{}.ContextKeyName", i + 1),
                    k.to_owned(),
                ));
                params.push((
                    format!("ContextEntries.member.{}.ContextKeyValues.member.1", i + 1),
                    v.to_owned(),
                ));
                params.push((
                    format!("ContextEntries.member.{}.ContextKeyType", i + 1),
                    "string".to_owned(),
                ));
            }
            let refs: Vec<(&str, String)> = params
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            client.json("SimulatePrincipalPolicy", &refs).await
        }
    }
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

    /// Calls an IAM Query API action and returns the response XML.
    async fn call(&self, action: &str, params: &[(&str, String)]) -> anyhow::Result<String> {
        let mut form: Vec<(&str, &str)> = vec![("Action", action), ("Version", "2010-05-08")];
        form.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let body = serde_urlencoded::to_string(&form)?;
        self.send("iam", "POST", "/", "", body)
            .await
            .with_context(|| format!("{action} failed"))
    }

    /// Calls an IAM action and renders its result element as JSON.
    async fn json(
        &self,
        action: &str,
        params: &[(&str, String)],
    ) -> anyhow::Result<serde_json::Value> {
        let xml = self.call(action, params).await?;
        Ok(result_json(&xml, &format!("{action}Result"))
            .unwrap_or_else(|| serde_json::json!({ "Status": "ok" })))
    }

    /// Sends one signed request; returns the body of a success, or an error
    /// naming the S3/IAM error code and message.
    async fn send(
        &self,
        service: &str,
        method: &str,
        path: &str,
        query: &str,
        body: String,
    ) -> anyhow::Result<String> {
        let amz_date = amz_date(SystemTime::now());
        let payload = coffer_sigv4::sha256_hex(body.as_bytes());
        let mut headers = vec![
            ("host".to_owned(), self.authority.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
            ("x-amz-content-sha256".to_owned(), payload.clone()),
        ];
        if service == "iam" {
            headers.push((
                "content-type".to_owned(),
                "application/x-www-form-urlencoded; charset=utf-8".to_owned(),
            ));
        }
        let query_pairs: Vec<(String, String)> = if query.is_empty() {
            vec![]
        } else {
            vec![(query.to_owned(), String::new())]
        };
        let signer = coffer_sigv4::Signer {
            access_key: &self.access_key,
            secret_key: &self.secret_key,
            region: &self.region,
            service,
            amz_date: &amz_date,
        };
        let auth = signer.authorization(&coffer_sigv4::Request {
            method,
            path,
            query: query_pairs,
            headers: headers.clone(),
            payload_hash: &payload,
        });
        let target = if query.is_empty() {
            coffer_sigv4::uri_encode(path, false)
        } else {
            format!("{}?{query}", coffer_sigv4::uri_encode(path, false))
        };
        let mut req = http::Request::builder().method(method).uri(target);
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
            bail!(
                "{status}: {}: {}",
                text_of(&text, "Code"),
                text_of(&text, "Message")
            );
        }
        Ok(text)
    }
}

/// An XML element as a tree.
#[derive(Default)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

fn parse_tree(xml: &str) -> Option<Node> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) => stack.push(Node {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                ..Node::default()
            }),
            quick_xml::events::Event::Empty(e) => {
                let n = Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    ..Node::default()
                };
                stack.last_mut()?.children.push(n);
            }
            quick_xml::events::Event::Text(t) => {
                let text = t.decode().map(|c| c.into_owned()).unwrap_or_default();
                let text = quick_xml::escape::unescape(&text)
                    .map(|c| c.into_owned())
                    .unwrap_or(text);
                stack.last_mut()?.text.push_str(&text);
            }
            quick_xml::events::Event::End(_) => {
                let done = stack.pop()?;
                stack.last_mut()?.children.push(done);
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    stack.pop()
}

fn find<'a>(n: &'a Node, name: &str) -> Option<&'a Node> {
    if n.name == name {
        return Some(n);
    }
    n.children.iter().find_map(|c| find(c, name))
}

/// IAM's XML as JSON: `member` lists become arrays, leaves strings.
fn to_json(n: &Node) -> serde_json::Value {
    if n.children.is_empty() {
        return serde_json::Value::String(n.text.trim().to_owned());
    }
    if n.children.iter().all(|c| c.name == "member") {
        return serde_json::Value::Array(n.children.iter().map(to_json).collect());
    }
    let mut map = serde_json::Map::new();
    for c in &n.children {
        map.insert(c.name.clone(), to_json(c));
    }
    serde_json::Value::Object(map)
}

fn result_json(xml: &str, result: &str) -> Option<serde_json::Value> {
    let tree = parse_tree(xml)?;
    find(&tree, result).map(to_json)
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

/// The text of the first element named `tag`, or empty.
fn text_of(xml: &str, tag: &str) -> String {
    parse_tree(xml)
        .as_ref()
        .and_then(|t| find(t, tag))
        .map(|n| n.text.trim().to_owned())
        .unwrap_or_default()
}
