//! SimulatePrincipalPolicy and SimulateCustomPolicy.

use coffer_engine::SimulationResult;

use super::xml::Xml;
use super::{Ctx, IamError, Params};

pub(super) const ACTIONS: &[&str] = &["SimulatePrincipalPolicy", "SimulateCustomPolicy"];

/// ContextEntries: each entry's key with each of its values.
fn context_entries(params: &Params) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in 1.. {
        let base = format!("ContextEntries.member.{n}");
        let Some(key) = params.get(&format!("{base}.ContextKeyName")) else {
            break;
        };
        let key = key.to_owned();
        for v in params.members(&format!("{base}.ContextKeyValues")) {
            out.push((key.clone(), v));
        }
    }
    out
}

fn write_results(x: &mut Xml, results: &[SimulationResult]) {
    x.open("EvaluationResults");
    for r in results {
        x.open("member")
            .leaf("EvalActionName", &r.action)
            .leaf("EvalResourceName", &r.resource)
            .leaf("EvalDecision", r.decision)
            .open("MatchedStatements");
        for m in &r.matched {
            x.open("member")
                .leaf("SourcePolicyId", &m.policy_id)
                .leaf("SourcePolicyType", m.policy_type)
                .close("member");
        }
        x.close("MatchedStatements")
            .open("MissingContextValues")
            .close("MissingContextValues")
            .close("member");
    }
    x.close("EvaluationResults").leaf("IsTruncated", "false");
}

pub(super) async fn handle(
    cx: &Ctx<'_>,
    action: &str,
    params: &Params,
    x: &mut Xml,
) -> Result<(), IamError> {
    let actions = params.members("ActionNames");
    let resources = params.members("ResourceArns");
    let context = context_entries(params);
    let results = if action == "SimulatePrincipalPolicy" {
        let source = params.required("PolicySourceArn")?;
        cx.authorize("iam:SimulatePrincipalPolicy", source).await?;
        cx.engine
            .simulate_user(cx.account, source, &actions, &resources, &context)
            .await?
    } else {
        cx.authorize("iam:SimulateCustomPolicy", "*").await?;
        let documents = params.members("PolicyInputList");
        cx.engine
            .simulate_custom(cx.account, &documents, &actions, &resources, &context)?
    };
    write_results(x, &results);
    Ok(())
}
