//! The single authorization call every request makes, and the accounts it
//! needs.

use coffer_iam::{
    AuthzRequest, Caller, ConditionContext, Effect, NamedPolicy, Policy, PolicyKind,
    PolicySizeLimit, access_denied_message, actions, evaluate,
};
use coffer_meta::records::{AccountRecord, BucketRecord, ObjectRecord, decode, encode};
use coffer_meta::{MetaError, MetaStore, Table, keys};
use coffer_types::{AccountId, Principal, PrincipalKind};

use tokio::sync::OnceCell;

use crate::{Engine, EngineError};

const ROOT_ACCOUNT_KEY: &[u8] = b"account/root";

/// Loads the first account, creating it (with fresh ids) on first start.
pub(crate) async fn ensure_root_account(meta: &MetaStore) -> Result<AccountRecord, EngineError> {
    meta.write(|tx| -> Result<AccountRecord, EngineError> {
        if let Some(v) = tx.get(Table::System, ROOT_ACCOUNT_KEY)? {
            return Ok(decode(&v)?);
        }
        let account = AccountRecord {
            id: new_account_id(),
            canonical_id: hex::encode(rand::random::<[u8; 32]>()),
            name: "root".into(),
        };
        tx.put(Table::System, ROOT_ACCOUNT_KEY, &encode(&account))?;
        Ok(account)
    })
    .await
}

/// A random 12-digit account id.
pub(crate) fn new_account_id() -> String {
    (0..12)
        .map(|_| char::from(b'0' + rand::random_range(0..10u8)))
        .collect()
}

/// What evaluation reads about a principal (see
/// [`Engine::principal_policies`]).
#[derive(Debug, Default)]
pub(crate) struct PrincipalPolicies {
    /// Identity policies, as (name, document).
    pub identity: Vec<(String, String)>,
    /// Session policies, when the credentials carry any.
    pub session: Option<Vec<(String, String)>>,
    /// `aws:PrincipalTag/KEY` values.
    pub tags: Vec<(String, String)>,
}

impl PrincipalPolicies {
    pub(crate) fn add_principal_keys(&self, cx: &mut ConditionContext) {
        for (k, v) in &self.tags {
            cx.set(&format!("aws:PrincipalTag/{k}"), [v.clone()]);
        }
    }
}

/// Stored policy documents parsed for evaluation; one that no longer parses
/// is left out (fail closed) and reported.
pub(crate) struct ParsedPolicies(Vec<(String, Policy)>);

impl ParsedPolicies {
    pub(crate) fn parse(docs: &[(String, String)]) -> Self {
        Self(
            docs.iter()
                .filter_map(|(id, text)| {
                    parse_stored(id, text, PolicyKind::Identity).map(|p| (id.clone(), p))
                })
                .collect(),
        )
    }

    pub(crate) fn named(&self) -> Vec<NamedPolicy<'_>> {
        self.0
            .iter()
            .map(|(id, policy)| NamedPolicy { id, policy })
            .collect()
    }
}

/// What a request asks to do, as the front end sees it.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// The S3 operation name, e.g. `GetObject`.
    pub operation: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// The version the request names (`?versionId=`), if any.
    pub version_id: Option<&'a str>,
    /// Condition keys the front end knows from the request (`aws:SourceIp`,
    /// `s3:prefix`, ...).
    pub conditions: &'a [(String, String)],
}

fn now_secs() -> i64 {
    crate::now_ms().div_euclid(1000)
}

fn parse_stored(id: &str, text: &str, kind: PolicyKind) -> Option<Policy> {
    match Policy::parse_for(text, kind) {
        Ok(p) => Some(p),
        Err(e) => {
            // Documents are validated when stored; one that no longer parses
            // grants nothing (fail closed) and is reported.
            tracing::error!(policy = id, error = %e, "stored policy does not parse");
            None
        }
    }
}

/// The object a request is about: the version it names, or the latest.
#[derive(Debug, Clone, Copy)]
struct ObjectRef<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
}

/// Object actions the object's owner decides (see `decide`): those an
/// object ACL governs, and the object's tags.
fn object_owner_decides(action: &str) -> bool {
    matches!(crate::acl::needed_permission(action), Some((true, _)))
        || matches!(
            action,
            "s3:GetObjectTagging"
                | "s3:GetObjectVersionTagging"
                | "s3:PutObjectTagging"
                | "s3:PutObjectVersionTagging"
                | "s3:DeleteObjectTagging"
                | "s3:DeleteObjectVersionTagging"
        )
}

impl Engine {
    /// Decides whether `principal` may make `request`; the one authorization
    /// point for S3 operations: identity policies, the bucket policy and
    /// AWS's evaluation logic (coffer_iam::evaluate).
    pub async fn authorize(
        &self,
        principal: &Principal,
        request: AccessRequest<'_>,
    ) -> Result<(), EngineError> {
        let (action, kind) = match actions::lookup(request.operation) {
            Some(row) => (
                actions::action_for(row, request.version_id.is_some()),
                row.resource,
            ),
            // Operations without a row are not implemented; they still need
            // the bucket owner's authority to reach the NotImplemented reply.
            None => ("s3:*", actions::ResourceKind::Bucket),
        };
        let resource = actions::resource_arn(kind, request.bucket, request.key);
        let bucket = match (kind, request.bucket) {
            (actions::ResourceKind::Service, _) | (_, None) => None,
            _ if request.operation == "CreateBucket" => None,
            // A bucket that does not exist is reported as such to every
            // caller, as S3 does: its name is global, so this reveals
            // nothing, and no policy could apply to it.
            (_, Some(b)) => Some(
                self.bucket_record(b)
                    .await?
                    .ok_or(EngineError::NoSuchBucket)?,
            ),
        };
        // The bucket owner's root may always read, change and delete the
        // bucket policy, so that no policy can lock the owner out.
        if matches!(
            action,
            "s3:GetBucketPolicy" | "s3:PutBucketPolicy" | "s3:DeleteBucketPolicy"
        ) && principal.kind == PrincipalKind::Root
            && let (Some(b), Some(a)) = (&bucket, &principal.account)
            && b.owner == a.0
            && !b.policy_binds_owner
        {
            return Ok(());
        }
        let mut context = ConditionContext::new();
        for (k, v) in request.conditions {
            context.insert(k, v.clone());
        }
        let object = match (kind, bucket.as_ref(), request.key) {
            (actions::ResourceKind::Object, Some(b), Some(k)) => Some(ObjectRef {
                bucket: b.name.as_str(),
                key: k,
                version_id: request.version_id,
            }),
            _ => None,
        };
        let decision = self
            .decide(
                principal,
                action,
                &resource,
                bucket.as_ref(),
                object,
                context,
            )
            .await;
        // S3 tells a caller who may list the bucket that a missing key is
        // missing (404); others get 403, so existence does not leak.
        if let (
            Err(EngineError::AccessDenied(_)),
            Some(ObjectRef {
                bucket: b, key: k, ..
            }),
        ) = (&decision, object)
            && action == "s3:GetObject"
            && matches!(self.get_object(b, k).await, Err(EngineError::NoSuchKey))
        {
            let mut listing = ConditionContext::new();
            for (ck, v) in request.conditions {
                listing.insert(ck, v.clone());
            }
            listing.insert("s3:prefix", k.to_owned());
            let bucket_arn = actions::resource_arn(actions::ResourceKind::Bucket, Some(b), None);
            if self
                .decide(
                    principal,
                    "s3:ListBucket",
                    &bucket_arn,
                    bucket.as_ref(),
                    None,
                    listing,
                )
                .await
                .is_ok()
            {
                return Err(EngineError::NoSuchKey);
            }
        }
        decision
    }

    /// Decides an IAM API action (`iam:CreateUser` on a user ARN, ...) on the
    /// caller's own account.
    pub async fn authorize_iam(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
    ) -> Result<(), EngineError> {
        self.decide(
            principal,
            action,
            resource,
            None,
            None,
            ConditionContext::new(),
        )
        .await
    }

    async fn decide(
        &self,
        principal: &Principal,
        action: &str,
        resource: &str,
        bucket: Option<&BucketRecord>,
        object: Option<ObjectRef<'_>>,
        request_keys: ConditionContext,
    ) -> Result<(), EngineError> {
        let mut caller = Caller::from(principal);
        if let Some(a) = &principal.account {
            caller = caller.with_canonical_id(&self.account(&a.0).await?.canonical_id);
        }
        let mut context = ConditionContext::for_caller(&caller).with_time(now_secs());
        for (k, values) in request_keys.iter() {
            context.set(k, values.iter().cloned());
        }
        let policies = self.principal_policies(principal).await?;
        policies.add_principal_keys(&mut context);
        let identity_docs = &policies.identity;
        let identity = ParsedPolicies::parse(identity_docs);
        let named = identity.named();
        let session = policies.session.as_deref().map(ParsedPolicies::parse);
        let session_named = session.as_ref().map(ParsedPolicies::named);
        let bucket_policy_text = bucket.and_then(|b| b.policy.as_deref());
        // RestrictPublicBuckets: a public bucket policy only counts for the
        // bucket owner's account.
        let restricted = bucket.is_some_and(|b| {
            b.public_access_block
                .is_some_and(|p| p.restrict_public_buckets)
                && principal.account.as_ref().map(|a| a.0.as_str()) != Some(b.owner.as_str())
        });
        let mut bucket_policy = bucket_policy_text
            .and_then(|text| parse_stored("bucket-policy", text, PolicyKind::Resource))
            .filter(|p| !(restricted && p.is_public()));
        // s3:ExistingObjectTag/KEY needs the object's record: read it only
        // when some applicable policy mentions the key.
        // The tags, the owner and the ACL below all come from this one read.
        let record = OnceCell::new();
        let mentions_tags = |t: &str| t.to_ascii_lowercase().contains("s3:existingobjecttag");
        if (identity_docs.iter().any(|(_, t)| mentions_tags(t))
            || bucket_policy_text.is_some_and(mentions_tags))
            && let Some(rec) = self.object_record(object, &record).await
        {
            for (tk, tv) in &rec.tags {
                context.set(&format!("s3:ExistingObjectTag/{tk}"), [tv.clone()]);
            }
        }
        // IAM resources belong to the caller's account; buckets to theirs.
        let mut owner = match bucket {
            Some(b) => Some(b.owner.clone()),
            None if action.starts_with("iam:") => principal.account.as_ref().map(|a| a.0.clone()),
            None => None,
        };
        // An object another account wrote (ACLs enabled: ObjectWriter) is
        // that account's: reading it or its ACL or tags needs the object
        // owner's grant, and the bucket policy can only deny it, as in S3
        // (the bucket owner keeps deleting and overwriting, which are bucket
        // permissions).
        if let Some(b) = bucket
            && object_owner_decides(action)
            && b.foreign_objects != Some(false)
            && crate::acl::acls_enabled(b)
            && let Some(rec) = self.object_record(object, &record).await
            && let Some(writer) = rec.owner.as_ref().filter(|w| **w != b.owner)
        {
            owner = Some(writer.clone());
            if let Some(p) = bucket_policy.as_mut() {
                p.statements.retain(|s| s.effect == Effect::Deny);
            }
        }
        let request = AuthzRequest {
            caller: &caller,
            action,
            resource,
            resource_owner: owner.as_deref(),
            context: &context,
            identity_policies: &named,
            resource_policy: bucket_policy.as_ref().map(|policy| NamedPolicy {
                id: "bucket-policy",
                policy,
            }),
            session_policies: session_named.as_deref(),
            acl: None,
        };
        let mut eval = evaluate(&request);
        // ACLs are read only when no policy allowed the request.
        if eval.decision == coffer_iam::Decision::ImplicitDeny
            && let Some(b) = bucket
            && let Some(reach) = self.acl_reach(&caller, action, b, object, &record).await?
        {
            eval = evaluate(&AuthzRequest {
                acl: Some(reach),
                ..request
            });
        }
        match eval.decision {
            coffer_iam::Decision::Allow => Ok(()),
            _ => Err(EngineError::AccessDenied(access_denied_message(
                &caller, action, resource, &eval,
            ))),
        }
    }

    /// The record of the version `object` names (its ACL, owner and tags
    /// are that version's), or `None` when there is none to consult; read
    /// once per decision, into `cell`.
    async fn object_record<'c>(
        &self,
        object: Option<ObjectRef<'_>>,
        cell: &'c OnceCell<Option<ObjectRecord>>,
    ) -> Option<&'c ObjectRecord> {
        let o = object?;
        cell.get_or_init(|| async {
            self.get_object_version(o.bucket, o.key, o.version_id)
                .await
                .ok()
                .map(|v| v.record)
        })
        .await
        .as_ref()
    }

    /// How far the ACL that governs `action` reaches the caller.
    async fn acl_reach(
        &self,
        caller: &Caller,
        action: &str,
        bucket: &BucketRecord,
        object: Option<ObjectRef<'_>>,
        record: &OnceCell<Option<ObjectRecord>>,
    ) -> Result<Option<coffer_iam::AclReach>, EngineError> {
        let Some((on_object, needed)) = crate::acl::needed_permission(action) else {
            return Ok(None);
        };
        if !crate::acl::acls_enabled(bucket) {
            return Ok(None);
        }
        let grants = if on_object {
            match self.object_record(object, record).await {
                Some(ObjectRecord { acl: Some(acl), .. }) => Some(acl.clone()),
                // A foreign writer's object without an ACL: its owner's.
                Some(ObjectRecord {
                    acl: None,
                    owner: Some(writer),
                    ..
                }) => Some(vec![coffer_meta::records::AclGrant {
                    grantee: coffer_meta::records::Grantee::Account(
                        self.account(writer).await?.canonical_id,
                    ),
                    permission: coffer_meta::records::AclPermission::FullControl,
                }]),
                _ => None,
            }
        } else {
            bucket.acl.clone()
        };
        let ignore_public = bucket
            .public_access_block
            .is_some_and(|p| p.ignore_public_acls);
        Ok(grants.and_then(|g| {
            crate::acl::reach(&g, needed, caller.canonical_id.as_deref(), ignore_public)
        }))
    }

    /// The identity policies that apply to a principal, as (name, document).
    pub(crate) async fn identity_policy_documents(
        &self,
        principal: &Principal,
    ) -> Result<Vec<(String, String)>, EngineError> {
        Ok(self.principal_policies(principal).await?.identity)
    }

    /// Everything about a principal that evaluation reads from the store, in
    /// one snapshot: for an IAM user its inline and attached managed
    /// policies and those of its groups, and its tags; for a role session the
    /// role's policies and tags; and the session policies of temporary
    /// credentials.
    pub(crate) async fn principal_policies(
        &self,
        principal: &Principal,
    ) -> Result<PrincipalPolicies, EngineError> {
        let Some(account) = principal.account.as_ref().map(|a| a.0.clone()) else {
            return Ok(PrincipalPolicies::default());
        };
        // A root user has no policies or tags of its own: nothing to read
        // (unless its session carries session policies or tags).
        if principal.kind == PrincipalKind::Root
            && principal
                .session
                .as_ref()
                .is_none_or(|s| !s.has_policies() && s.tags.is_empty())
        {
            return Ok(PrincipalPolicies::default());
        }
        let (kind, session) = (principal.kind.clone(), principal.session.clone());
        self.meta()
            .read(move |tx| -> Result<_, EngineError> {
                let mut out = PrincipalPolicies::default();
                match &kind {
                    PrincipalKind::User { name, .. } => {
                        let user = crate::entities::load_user(tx, &account, name)?;
                        out.identity =
                            crate::managed_policies::user_identity_policies(tx, &account, &user)?;
                        out.tags = user.tags;
                    }
                    PrincipalKind::AssumedRole { role_name, .. } => {
                        let role = crate::roles::load_role(tx, &account, role_name)?;
                        out.identity = crate::roles::role_identity_policies(tx, &account, &role)?;
                        out.tags = role.tags;
                    }
                    PrincipalKind::Root | PrincipalKind::Anonymous => {}
                }
                if let Some(s) = &session {
                    // Session tags override the role's tags of the same key.
                    for (k, v) in &s.tags {
                        out.tags.retain(|(tk, _)| !tk.eq_ignore_ascii_case(k));
                        out.tags.push((k.clone(), v.clone()));
                    }
                    if s.has_policies() {
                        let mut docs: Vec<(String, String)> = s
                            .policy
                            .iter()
                            .map(|p| ("session-policy".to_owned(), p.clone()))
                            .collect();
                        for arn in &s.policy_arns {
                            // A managed session policy deleted since grants nothing.
                            if let Ok(p) = crate::managed_policies::load_policy(tx, &account, arn)
                                && let Some(doc) = p.default_document()
                            {
                                docs.push((arn.clone(), doc.to_owned()));
                            }
                        }
                        out.session = Some(docs);
                    }
                }
                Ok(out)
            })
            .await
    }

    /// Checks a bucket policy before it is stored.
    pub fn validate_bucket_policy(&self, document: &str) -> Result<(), EngineError> {
        let malformed =
            |e: coffer_iam::PolicyError| EngineError::MalformedPolicyDocument(e.to_string());
        PolicySizeLimit::BucketPolicy
            .check(document)
            .map_err(malformed)?;
        Policy::parse_for(document, PolicyKind::Resource).map_err(malformed)?;
        Ok(())
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
