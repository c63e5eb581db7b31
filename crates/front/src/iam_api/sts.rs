//! The STS Query API (`Version=2011-06-15`, SigV4 service `sts`):
//! GetCallerIdentity, AssumeRole and GetSessionToken, with the XML shapes of
//! the STS API reference. The engine decides and mints (coffer_engine's
//! `sts.rs`); this module parses parameters and writes results.

use coffer_engine::{Engine, SessionGrant, TemporaryCredentials};
use coffer_types::Principal;
use http::StatusCode;

use super::{IamError, Params, Xml, account_of, date, err};

fn duration(params: &Params) -> Result<Option<u32>, IamError> {
    params
        .get("DurationSeconds")
        .map(|v| {
            v.parse::<u32>().map_err(|_| {
                err(
                    StatusCode::BAD_REQUEST,
                    "ValidationError",
                    format!("DurationSeconds must be a whole number of seconds, not {v:?}"),
                )
            })
        })
        .transpose()
}

fn write_credentials(x: &mut Xml, c: &TemporaryCredentials) {
    x.open("Credentials")
        .leaf("AccessKeyId", &c.access_key_id)
        .leaf("SecretAccessKey", &c.secret_access_key)
        .leaf("SessionToken", &c.session_token)
        .leaf("Expiration", &date(c.expires_ms))
        .close("Credentials");
}

pub(super) async fn dispatch(
    engine: &Engine,
    principal: &Principal,
    action: &str,
    params: &Params,
    conditions: &[(String, String)],
) -> Result<String, IamError> {
    account_of(principal)?;
    let mut x = Xml::default();
    match action {
        // Needs no permission, as on AWS: anyone may ask who they are.
        "GetCallerIdentity" => {
            x.leaf("Arn", &principal.arn())
                .leaf("UserId", &principal.user_id())
                .leaf("Account", account_of(principal)?);
        }
        "AssumeRole" => {
            let grant = SessionGrant {
                role_arn: params.required("RoleArn")?,
                session_name: params.required("RoleSessionName")?,
                duration_seconds: duration(params)?,
                external_id: params.get("ExternalId"),
                policy: params.get("Policy"),
                policy_arns: (1..)
                    .map_while(|i| params.get(&format!("PolicyArns.member.{i}.arn")))
                    .map(str::to_owned)
                    .collect(),
                tags: params.tags("Tags"),
                conditions,
            };
            let narrowed = grant.policy.is_some() || !grant.policy_arns.is_empty();
            let tagged = !grant.tags.is_empty();
            let r = engine.assume_role(principal, grant).await?;
            write_credentials(&mut x, &r.credentials);
            x.open("AssumedRoleUser")
                .leaf("AssumedRoleId", &r.assumed_role_id)
                .leaf("Arn", &r.arn)
                .close("AssumedRoleUser");
            if narrowed || tagged {
                x.leaf("PackedPolicySize", &r.packed_policy_size.to_string());
            }
        }
        "GetSessionToken" => {
            let c = engine
                .get_session_token(principal, duration(params)?)
                .await?;
            write_credentials(&mut x, &c);
        }
        other => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "InvalidAction",
                format!("Could not find operation {other} for version 2011-06-15"),
            ));
        }
    }
    Ok(x.into_string())
}
