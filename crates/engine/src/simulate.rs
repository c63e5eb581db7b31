//! The policy simulator behind IAM's SimulatePrincipalPolicy and
//! SimulateCustomPolicy: evaluates actions on resources against a user's
//! identity policies (or given documents) and reports the decision and the
//! statements that made it, without performing anything.

use coffer_iam::{
    AuthzRequest, Caller, ConditionContext, Decision, NamedPolicy, Policy, PolicyKind,
    PolicySource, evaluate,
};
use coffer_types::{AccountId, Principal};

use crate::{Engine, EngineError};

/// One (action, resource) pair's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulationResult {
    pub action: String,
    pub resource: String,
    /// `allowed`, `explicitDeny` or `implicitDeny`, as IAM spells them.
    pub decision: &'static str,
    pub matched: Vec<MatchedPolicyStatement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedPolicyStatement {
    pub policy_id: String,
    /// `IAM Policy` or `Resource Policy`.
    pub policy_type: &'static str,
    pub sid: Option<String>,
    pub index: usize,
}

fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Allow => "allowed",
        Decision::ExplicitDeny => "explicitDeny",
        Decision::ImplicitDeny => "implicitDeny",
    }
}

fn run(
    caller: &Caller,
    account: &str,
    policies: &[(String, Policy)],
    actions: &[String],
    resources: &[String],
    context: &[(String, String)],
) -> Vec<SimulationResult> {
    let named: Vec<NamedPolicy<'_>> = policies
        .iter()
        .map(|(id, policy)| NamedPolicy { id, policy })
        .collect();
    let mut cx = ConditionContext::for_caller(caller).with_time(crate::now_ms().div_euclid(1000));
    for (k, v) in context {
        cx.insert(k, v.clone());
    }
    let all = ["*".to_owned()];
    let resources = if resources.is_empty() {
        &all[..]
    } else {
        resources
    };
    let mut out = Vec::new();
    for action in actions {
        for resource in resources {
            let eval = evaluate(&AuthzRequest {
                caller,
                action,
                resource,
                resource_owner: Some(account),
                context: &cx,
                identity_policies: &named,
                resource_policy: None,
                session_policies: None,
                acl: None,
            });
            out.push(SimulationResult {
                action: action.clone(),
                resource: resource.clone(),
                decision: decision_name(eval.decision),
                matched: eval
                    .decided_by
                    .iter()
                    .map(|m| MatchedPolicyStatement {
                        policy_id: m.policy_id.clone(),
                        policy_type: match m.source {
                            PolicySource::Identity => "IAM Policy",
                            PolicySource::Resource => "Resource Policy",
                            PolicySource::Session => "Session Policy",
                        },
                        sid: m.sid.clone(),
                        index: m.index,
                    })
                    .collect(),
            });
        }
    }
    out
}

impl Engine {
    /// SimulatePrincipalPolicy for an IAM user of `account`, named by ARN.
    pub async fn simulate_user(
        &self,
        account: &str,
        user_arn: &str,
        actions: &[String],
        resources: &[String],
        context: &[(String, String)],
    ) -> Result<Vec<SimulationResult>, EngineError> {
        let prefix = format!("arn:aws:iam::{account}:user");
        let name = user_arn
            .strip_prefix(&prefix)
            .and_then(|rest| rest.rsplit('/').next())
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                EngineError::InvalidInput(format!(
                    "PolicySourceArn {user_arn} is not a user of account {account}"
                ))
            })?;
        let user = self.get_user(account, name).await?;
        let principal = Principal::user(
            AccountId(account.to_owned()),
            String::new(),
            user.name,
            user.path,
            user.user_id,
        );
        let caller = Caller::from(&principal);
        let docs = self.identity_policy_documents(&principal).await?;
        let policies: Vec<(String, Policy)> = docs
            .into_iter()
            .filter_map(|(id, text)| {
                Policy::parse_for(&text, PolicyKind::Identity)
                    .ok()
                    .map(|p| (id, p))
            })
            .collect();
        Ok(run(
            &caller, account, &policies, actions, resources, context,
        ))
    }

    /// SimulateCustomPolicy: the given documents, as if they were the
    /// identity policies of a user of `account`.
    pub fn simulate_custom(
        &self,
        account: &str,
        documents: &[String],
        actions: &[String],
        resources: &[String],
        context: &[(String, String)],
    ) -> Result<Vec<SimulationResult>, EngineError> {
        let mut policies = Vec::new();
        for (i, text) in documents.iter().enumerate() {
            let p = Policy::parse_for(text, PolicyKind::Identity)
                .map_err(|e| EngineError::MalformedPolicyDocument(e.to_string()))?;
            policies.push((format!("PolicyInputList.{}", i + 1), p));
        }
        let caller = Caller::user(account, "/", "simulated", "AIDASIMULATEDUSER0000");
        Ok(run(
            &caller, account, &policies, actions, resources, context,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_policies_report_decisions_and_matching_statements() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
            {"Sid":"NoSecrets","Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::b/secret/*"}]}"#;
        let policies = vec![(
            "p".to_owned(),
            Policy::parse_for(doc, PolicyKind::Identity).unwrap(),
        )];
        let caller = Caller::user("111111111111", "/", "u", "AIDAX");
        let r = run(
            &caller,
            "111111111111",
            &policies,
            &["s3:GetObject".to_owned(), "s3:PutObject".to_owned()],
            &[
                "arn:aws:s3:::b/k".to_owned(),
                "arn:aws:s3:::b/secret/k".to_owned(),
            ],
            &[],
        );
        let d: Vec<_> = r
            .iter()
            .map(|x| (x.action.as_str(), x.resource.as_str(), x.decision))
            .collect();
        assert_eq!(
            d,
            [
                ("s3:GetObject", "arn:aws:s3:::b/k", "allowed"),
                ("s3:GetObject", "arn:aws:s3:::b/secret/k", "explicitDeny"),
                ("s3:PutObject", "arn:aws:s3:::b/k", "implicitDeny"),
                ("s3:PutObject", "arn:aws:s3:::b/secret/k", "explicitDeny"),
            ]
        );
        assert_eq!(r[0].matched[0].sid.as_deref(), Some("Read"));
        assert_eq!(r[1].matched[0].sid.as_deref(), Some("NoSecrets"));
    }
}
