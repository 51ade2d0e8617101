//! IAM roles for tasks: the task execution role (what ECS itself needs to start a task: pull
//! the image, ship logs, read the secrets) and the optional task role (what the app's code may
//! do).
//!
//! Start with [`IamRoleSpec::execution_role`] and an [`ExecutionAccess`] naming the images, log
//! group, secrets and KMS keys of the app: its inline policy allows exactly those ARNs; the
//! only `*` resource is `ecr:GetAuthorizationToken`, which has no resource-level permission.
//! [`IamRoleSpec::task_role`] takes the app's own [`PolicyStatement`]s. Both trust only
//! `ecs-tasks.amazonaws.com`, conditioned on this account (`aws:SourceAccount`) and this
//! account's ECS resources in this region (`aws:SourceArn`), against confused-deputy use.
//!
//! Policies are compared normalized ([`parse_policy_document`]): IAM returns them URL-encoded
//! and may reorder statements, actions and resources; none of that is a change.
//!
//! Destroy deletes the inline policy, detaches every managed policy attached to the role (the
//! role is fargate-rs's, so whatever is attached to it was attached for it), then deletes the
//! role.
//!
//! Right after a role is created, ECS may not be able to assume it yet;
//! [`is_iam_propagation_error`] recognizes those errors for
//! [`fargate_core::wait::retry_eventual`].
//!
//! Output: [`role_arn`].

use aws_sdk_iam::operation::create_role::CreateRoleError;
use aws_sdk_iam::types::Tag;
use fargate_core::exec::OutputKey;
use fargate_core::resource::{BoxFuture, all_concurrently};
use fargate_core::secret::SecretKind;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, Error, Fields, IamRoleName, Ident, ImageRef, InvalidValue, Kind,
    LogGroupName, Mode, Resolved, ResourceId, Round, SecretRef, StepContext, Tags,
    create_or_existing, ok_unless,
};
use serde_json::{Value, json};

use crate::aws_util::{absent_on, bad_request, creation_tags, ensure_owned_if_found};
use crate::{AwsContext, Clients};

mod policy;

pub use policy::{
    Effect, PolicyStatement, normalize_policy, parse_policy_document, percent_decode,
};

/// The resource kind of IAM roles in plans.
pub const KIND: &str = "iam:role";

/// The name of the inline policy fargate-rs puts on its roles.
pub const INLINE_POLICY_NAME: &str = "fargate-rs";

/// The service principal of ECS tasks.
pub const ECS_TASKS_PRINCIPAL: &str = "ecs-tasks.amazonaws.com";

/// Check that `arn` is an IAM policy ARN (`arn:<partition>:iam::<account or aws>:policy/<name>`),
/// naming `field` when it is not.
///
/// # Errors
/// An [`InvalidValue`] for `field`.
pub(crate) fn check_policy_arn(field: &str, arn: &str) -> Result<(), InvalidValue> {
    let mut parts = arn.splitn(6, ':');
    let valid = parts.next() == Some("arn")
        && parts.next().is_some_and(fargate_core::is_partition)
        && parts.next() == Some("iam")
        && parts.next() == Some("")
        && parts
            .next()
            .is_some_and(|a| a == "aws" || fargate_core::is_account_id(a))
        && parts
            .next()
            .and_then(|r| r.strip_prefix("policy/"))
            .is_some_and(|name| !name.is_empty() && !name.contains("..."));
    if valid {
        Ok(())
    } else {
        Err(InvalidValue::new(
            field,
            arn,
            "not an IAM policy ARN",
            "arn:<partition>:iam::<12-digit account or aws>:policy/<name>",
        ))
    }
}

/// The identity of the role `name` in plans.
pub fn role_id(name: &IamRoleName) -> ResourceId {
    ResourceId::new(KIND, name.as_str())
}

/// Output: the role ARN.
pub fn role_arn(name: &IamRoleName) -> OutputKey<String> {
    role_id(name).output("arn")
}

/// The ARN a role named `name` has (or will have) in this account: role ARNs are
/// deterministic, so dependents can know it at plan time.
pub fn role_arn_in(aws: &AwsContext, name: &IamRoleName) -> String {
    crate::aws_util::role_arn(&aws.partition, &aws.account_id, name.as_str())
}

/// Whether `e` is AWS failing to assume a role that was just created or changed (IAM is
/// eventually consistent). Only the documented answers count:
///
/// - ECS (`RegisterTaskDefinition`, `CreateService`, `RunTask`): an
///   `InvalidParameterException` or `ClientException` saying "Unable to assume role" or
///   "ECS was unable to assume the role '…' that was provided for this task" (as reported in
///   boto/boto3#1878 and telia-oss/terraform-aws-ecs-fargate#58);
/// - EventBridge Scheduler (`CreateSchedule`, `UpdateSchedule`): a `ValidationException`
///   saying "The execution role you provide must allow AWS EventBridge Scheduler to assume
///   the role." (aws/aws-sdk-js-v3#6494), its answer while a new role's trust policy has not
///   propagated.
///
/// Use it with [`fargate_core::wait::retry_eventual`] around those calls.
pub fn is_iam_propagation_error(e: &Error) -> bool {
    match e {
        Error::Aws(aws)
            if matches!(
                aws.code.as_str(),
                "InvalidParameterException" | "ClientException"
            ) =>
        {
            let message = aws.message.to_ascii_lowercase();
            message.contains("unable to assume role")
                || message.contains("unable to assume the role")
        }
        Error::Aws(aws) if aws.code == "ValidationException" => aws
            .message
            .to_ascii_lowercase()
            .contains("must allow aws eventbridge scheduler to assume the role"),
        _ => false,
    }
}

/// What the task execution role may read: the images to pull, the log groups to write, the
/// secrets to inject and the KMS keys that encrypt them. Anything not named here is denied.
///
/// ```
/// use fargate_deploy::iam::ExecutionAccess;
/// let access = ExecutionAccess::new()
///     .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/web:v1".parse()?)
///     .log_group("/ecs/prod/web".parse()?)
///     .secret("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf".parse()?);
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionAccess {
    images: Vec<ImageRef>,
    log_groups: Vec<LogGroupName>,
    secrets: Vec<SecretRef>,
    kms_keys: Vec<String>,
}

impl ExecutionAccess {
    /// No access at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pull `image`: for an ECR image, its repository (images from other registries need no IAM).
    #[must_use]
    pub fn image(mut self, image: ImageRef) -> Self {
        self.images.push(image);
        self
    }

    /// Create streams in and write to the log group `group`.
    #[must_use]
    pub fn log_group(mut self, group: LogGroupName) -> Self {
        self.log_groups.push(group);
        self
    }

    /// Read the secret `secret` (Secrets Manager or SSM Parameter Store) at task start.
    #[must_use]
    pub fn secret(mut self, secret: SecretRef) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Decrypt with the KMS key `key_arn` (for secrets encrypted with a customer-managed key).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `kms_key` unless `key_arn` is a KMS key ARN.
    pub fn kms_key(mut self, key_arn: impl Into<String>) -> Result<Self, InvalidValue> {
        let key_arn = key_arn.into();
        let parts: Vec<&str> = key_arn.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts.first() == Some(&"arn")
            && parts.get(2) == Some(&"kms")
            && parts
                .get(5)
                .is_some_and(|r| r.starts_with("key/") || r.starts_with("alias/"));
        if !valid {
            return Err(InvalidValue::new(
                "kms_key",
                key_arn,
                "not a KMS key ARN",
                "arn:<partition>:kms:<region>:<account>:key/<id>",
            ));
        }
        self.kms_keys.push(key_arn);
        Ok(self)
    }

    /// The policy statements, with every ARN resolved for this account and region.
    pub fn statements(&self, aws: &AwsContext) -> Vec<Value> {
        let (p, region, account) = (
            aws.partition.as_str(),
            aws.region.as_str(),
            aws.account_id.as_str(),
        );
        let mut out = Vec::new();
        let repos: Vec<String> = self
            .images
            .iter()
            .filter_map(|i| {
                let (acct, reg) = (i.ecr_account()?, i.ecr_region()?);
                Some(crate::aws_util::ecr_repository_arn(
                    p,
                    reg,
                    acct,
                    i.repository(),
                ))
            })
            .collect();
        if !repos.is_empty() {
            out.push(allow(&["ecr:GetAuthorizationToken"], vec!["*".to_string()]));
            out.push(allow(
                &[
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                ],
                repos,
            ));
        }
        let logs: Vec<String> = self
            .log_groups
            .iter()
            .flat_map(|g| {
                let arn = crate::aws_util::log_group_arn(p, region, account, g.as_str());
                [format!("{arn}:log-stream:*"), arn]
            })
            .collect();
        if !logs.is_empty() {
            out.push(allow(&["logs:CreateLogStream", "logs:PutLogEvents"], logs));
        }
        let of_kind = |kind: SecretKind| -> Vec<String> {
            self.secrets
                .iter()
                .filter(|s| s.kind() == kind)
                .map(|s| s.resource_arn(p, region, account))
                .collect()
        };
        let sm = of_kind(SecretKind::SecretsManager);
        if !sm.is_empty() {
            out.push(allow(&["secretsmanager:GetSecretValue"], sm));
        }
        let ssm = of_kind(SecretKind::SsmParameter);
        if !ssm.is_empty() {
            out.push(allow(&["ssm:GetParameters"], ssm));
        }
        if !self.kms_keys.is_empty() {
            out.push(allow(&["kms:Decrypt"], self.kms_keys.clone()));
        }
        out
    }
}

fn allow(actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// What an ECS infrastructure role is for (its name suffix and managed policy).
#[derive(Clone, Copy)]
enum InfrastructureUse {
    LoadBalancers,
    Express,
    Volumes,
}

/// What the role's inline policy grants.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    /// A task execution role.
    Execution(ExecutionAccess),
    /// A task role with the app's statements.
    Task(Vec<PolicyStatement>),
    /// An EventBridge Scheduler role with these statements.
    Scheduler(Vec<PolicyStatement>),
    /// A role ECS itself assumes (an infrastructure role: load balancer traffic, an
    /// Express service's infrastructure, EBS volumes), managed policy only.
    LoadBalancers,
}

/// The desired state of an IAM role assumed by ECS tasks.
///
/// ```
/// use fargate_core::Ownership;
/// use fargate_deploy::iam::{ExecutionAccess, IamRoleSpec};
///
/// let (env, app) = ("prod".parse()?, "web".parse()?);
/// let owner = Ownership::new(env).with_app(app);
/// let access = ExecutionAccess::new().log_group("/ecs/prod/web".parse()?);
/// let role = IamRoleSpec::execution_role(&owner.environment, owner.app.as_ref().unwrap(), owner.clone(), access);
/// assert_eq!(role.name().as_str(), "prod-web-exec");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IamRoleSpec {
    name: IamRoleName,
    ownership: Ownership,
    tags: Tags,
    description: String,
    access: Access,
    managed_policies: Vec<String>,
}

impl IamRoleSpec {
    /// The role of `app` in `env` named `<env>-<app>-<suffix>`, described as
    /// "`<purpose>` of `<env>/<app>` (fargate-rs)", with no user tags or managed policies.
    fn of_app(
        env: &Ident,
        app: &Ident,
        suffix: &str,
        purpose: &str,
        ownership: Ownership,
        access: Access,
    ) -> Self {
        Self {
            name: IamRoleName::derive(&[env.as_str(), app.as_str(), suffix]),
            ownership,
            tags: Tags::new(),
            description: format!("{purpose} of {env}/{app} (fargate-rs)"),
            access,
            managed_policies: Vec::new(),
        }
    }

    /// The task execution role of `app` in `env`, named `<env>-<app>-exec`.
    pub fn execution_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        access: ExecutionAccess,
    ) -> Self {
        Self::of_app(
            env,
            app,
            "exec",
            "ECS task execution role",
            ownership,
            Access::Execution(access),
        )
    }

    /// The task role of `app` in `env`, named `<env>-<app>-task`, allowing `statements`
    /// (none: the app's code gets no AWS permissions).
    pub fn task_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        statements: Vec<PolicyStatement>,
    ) -> Self {
        Self::of_app(
            env,
            app,
            "task",
            "ECS task role",
            ownership,
            Access::Task(statements),
        )
    }

    /// The EventBridge Scheduler role of job `app` in `env`, named
    /// `<env>-<app>-scheduler`, trusted by `scheduler.amazonaws.com` (only for this
    /// account) and allowing `statements` (see `crate::schedule::scheduler_role_statements`).
    pub fn scheduler_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        statements: Vec<PolicyStatement>,
    ) -> Self {
        Self::of_app(
            env,
            app,
            "scheduler",
            "EventBridge Scheduler role",
            ownership,
            Access::Scheduler(statements),
        )
    }

    /// The role ECS assumes to move traffic between the target groups of `app` in `env`
    /// during blue/green, linear and canary deployments, named `<env>-<app>-ecs-lb`, with the
    /// AWS managed policy `AmazonECSInfrastructureRolePolicyForLoadBalancers`: trusted by
    /// `ecs.amazonaws.com` (only for this account), no inline policy.
    ///
    /// # Errors
    /// An [`InvalidValue`] when `partition` makes no IAM policy ARN.
    pub fn load_balancer_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        partition: &str,
    ) -> Result<Self, InvalidValue> {
        Self::infrastructure_role(
            env,
            app,
            ownership,
            partition,
            InfrastructureUse::LoadBalancers,
        )
    }

    /// The infrastructure role ECS assumes to manage what an Express Mode service of `app` in
    /// `env` needs (load balancer, security groups, certificate, scaling), named
    /// `<env>-<app>-ecs-infra`, with the AWS managed policy
    /// `service-role/AmazonECSInfrastructureRoleforExpressGatewayServices`: trusted by
    /// `ecs.amazonaws.com` (only for this account), no inline policy.
    ///
    /// # Errors
    /// An [`InvalidValue`] when `partition` makes no IAM policy ARN.
    pub fn express_infrastructure_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        partition: &str,
    ) -> Result<Self, InvalidValue> {
        Self::infrastructure_role(env, app, ownership, partition, InfrastructureUse::Express)
    }

    /// The ECS infrastructure role that creates, attaches and deletes the managed EBS
    /// volumes of `app`'s tasks in `env`, named `<env>-<app>-ecs-ebs`, with the AWS managed
    /// policy `service-role/AmazonECSInfrastructureRolePolicyForVolumes` (trusted by
    /// `ecs.amazonaws.com` for this account, no inline policy). One per app, like
    /// the load balancer role: it lives and goes with the app, and an app's destroy leaves no
    /// role another app uses.
    ///
    /// # Errors
    /// An [`InvalidValue`] when `partition` makes no IAM policy ARN.
    pub fn volume_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        partition: &str,
    ) -> Result<Self, InvalidValue> {
        Self::infrastructure_role(env, app, ownership, partition, InfrastructureUse::Volumes)
    }

    /// An ECS infrastructure role of `app` in `env` for `usage`: trusted by
    /// `ecs.amazonaws.com` (only for this account), with that use's AWS managed policy of
    /// `partition` and no inline policy.
    fn infrastructure_role(
        env: &Ident,
        app: &Ident,
        ownership: Ownership,
        partition: &str,
        usage: InfrastructureUse,
    ) -> Result<Self, InvalidValue> {
        let (suffix, description, policy) = match usage {
            InfrastructureUse::LoadBalancers => (
                "ecs-lb",
                "ECS load balancer role",
                "AmazonECSInfrastructureRolePolicyForLoadBalancers",
            ),
            InfrastructureUse::Express => (
                "ecs-infra",
                "ECS Express infrastructure role",
                "service-role/AmazonECSInfrastructureRoleforExpressGatewayServices",
            ),
            InfrastructureUse::Volumes => (
                "ecs-ebs",
                "ECS infrastructure role for EBS volumes",
                "service-role/AmazonECSInfrastructureRolePolicyForVolumes",
            ),
        };
        Self::of_app(
            env,
            app,
            suffix,
            description,
            ownership,
            Access::LoadBalancers,
        )
        .managed_policy(format!("arn:{partition}:iam::aws:policy/{policy}"))
    }

    /// The same role with another name.
    #[must_use]
    pub fn named(mut self, name: IamRoleName) -> Self {
        self.name = name;
        self
    }

    /// Also attach the managed policy `policy_arn` (for example
    /// `arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess`).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `managed_policy` unless it is an IAM policy ARN.
    pub fn managed_policy(mut self, policy_arn: impl Into<String>) -> Result<Self, InvalidValue> {
        let arn = policy_arn.into();
        check_policy_arn("managed_policy", &arn)?;
        self.managed_policies.push(arn);
        Ok(self)
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The role name.
    pub fn name(&self) -> &IamRoleName {
        &self.name
    }

    /// The trust policy: `ecs-tasks.amazonaws.com` may assume the role, only for this
    /// account's ECS resources in this region.
    pub fn trust_policy(&self, aws: &AwsContext) -> Value {
        if let Access::LoadBalancers = self.access {
            return json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": "ecs.amazonaws.com" },
                    "Action": "sts:AssumeRole",
                    "Condition": { "StringEquals": { "aws:SourceAccount": aws.account_id } },
                }],
            });
        }
        if let Access::Scheduler(_) = self.access {
            return json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": "scheduler.amazonaws.com" },
                    "Action": "sts:AssumeRole",
                    "Condition": { "StringEquals": { "aws:SourceAccount": aws.account_id } },
                }],
            });
        }
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": ECS_TASKS_PRINCIPAL },
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": { "aws:SourceAccount": aws.account_id },
                    "ArnLike": { "aws:SourceArn": aws.arn("ecs", "*") },
                },
            }],
        })
    }

    /// The inline policy, `None` when it would grant nothing.
    pub fn inline_policy(&self, aws: &AwsContext) -> Option<Value> {
        let statements: Vec<Value> = match &self.access {
            Access::Execution(access) => access.statements(aws),
            Access::Task(statements) | Access::Scheduler(statements) => {
                statements.iter().map(PolicyStatement::to_json).collect()
            }
            Access::LoadBalancers => Vec::new(),
        };
        (!statements.is_empty())
            .then(|| json!({ "Version": "2012-10-17", "Statement": statements }))
    }

    /// The managed fields of the desired role (pure, given the account facts).
    pub fn desired_fields(&self, aws: &AwsContext) -> Fields {
        Fields::new()
            .with("trust_policy", normalize_policy(self.trust_policy(aws)))
            .with(
                "inline_policy",
                self.inline_policy(aws).map(normalize_policy),
            )
            .with_set(
                "managed_policies",
                self.managed_policies.iter().map(String::as_str),
            )
    }

    /// The managed fields of a role as IAM reports it (pure).
    pub fn observed_fields(observed: &ObservedRole) -> Fields {
        Fields::new()
            .with("trust_policy", observed.trust_policy.clone())
            .with("inline_policy", observed.inline_policy.clone())
            .with_set(
                "managed_policies",
                observed.managed_policies.iter().map(String::as_str),
            )
    }

    #[tracing::instrument(skip_all, fields(resource = %role_id(&self.name)))]
    async fn observe(&self, clients: &Clients) -> Result<Option<ObservedRole>, Error> {
        let id = role_id(&self.name);
        let name = self.name.as_str();
        // GetRole answers the trust policy and the tags (ownership) too: a role that does
        // not exist costs one read, and only an existing one has its policies read.
        let role = clients.iam.get_role().role_name(name).send().await;
        let Some(role) = absent_on(role, &["NoSuchEntity"], &id, "GetRole")? else {
            return Ok(None);
        };
        let Some(role) = role.role() else {
            return Ok(None);
        };
        let tags = role
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect();
        let (policy, attached) = tokio::join!(
            clients
                .iam
                .get_role_policy()
                .role_name(name)
                .policy_name(INLINE_POLICY_NAME)
                .send(),
            clients
                .iam
                .list_attached_role_policies()
                .role_name(name)
                .send(),
        );
        let policy = absent_on(policy, &["NoSuchEntity"], &id, "GetRolePolicy")?;
        let attached = attached.context(&id, "ListAttachedRolePolicies")?;
        Ok(Some(ObservedRole {
            arn: role.arn().to_string(),
            trust_policy: role
                .assume_role_policy_document()
                .map(parse_policy_document)
                .unwrap_or(Value::Null),
            inline_policy: policy.map(|p| parse_policy_document(p.policy_document())),
            managed_policies: attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect(),
            tags,
        }))
    }

    /// [`Self::observe`], refusing a role that is not ours ([`Error::NotOwned`]).
    async fn observe_owned(&self, clients: &Clients) -> Result<Option<ObservedRole>, Error> {
        let observed = self.observe(clients).await?;
        ensure_owned_if_found(
            &self.ownership,
            &role_id(&self.name),
            observed
                .as_ref()
                .map(|o| (o.arn.as_str(), o.tags.as_slice())),
        )?;
        Ok(observed)
    }

    #[tracing::instrument(skip_all, fields(resource = %role_id(&self.name)))]
    async fn apply(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        change: &Change,
        observed: Option<&ObservedRole>,
    ) -> Result<(), Error> {
        let id = role_id(&self.name);
        let name = self.name.as_str();
        let aws = &clients.aws;
        match (change, observed) {
            (Change::Create { .. }, _) => {
                let tags = creation_tags(&self.ownership, &self.tags, name)
                    .into_iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| bad_request(&id, "CreateRole", e))?;
                let out = clients
                    .iam
                    .create_role()
                    .role_name(name)
                    .description(&self.description)
                    .assume_role_policy_document(self.trust_policy(aws).to_string())
                    .set_tags(Some(tags))
                    .send()
                    .await;
                // A retried create whose first attempt was applied meets its own role.
                let found = || self.observe_owned(clients);
                let is_duplicate = |e: &CreateRoleError| e.is_entity_already_exists_exception();
                match create_or_existing(ctx, &id, "CreateRole", out, is_duplicate, found).await? {
                    Created::New(created) => {
                        let arn = created
                            .role()
                            .map_or_else(|| role_arn_in(aws, &self.name), |r| r.arn().to_string());
                        // The inline policy and each managed policy attachment are
                        // independent: one round.
                        let id = &id;
                        let mut calls: Vec<BoxFuture<'_, Result<(), Error>>> = Vec::new();
                        if let Some(policy) = self.inline_policy(aws) {
                            calls.push(Box::pin(async move {
                                self.put_policy(clients, id, &policy).await
                            }));
                        }
                        for policy in &self.managed_policies {
                            calls.push(Box::pin(self.attach(clients, id, policy)));
                        }
                        all_concurrently(id, calls).await?;
                        ctx.set(&role_arn(&self.name), arn);
                    }
                    Created::Existing(observed) => self.converge(clients, ctx, &observed).await?,
                }
            }
            (Change::Update { .. }, Some(observed)) => {
                self.converge(clients, ctx, observed).await?
            }
            (Change::Delete, Some(observed)) => {
                // The inline policy and the attachments go concurrently; the role once
                // they are all gone (IAM refuses to delete a role that still has them).
                let mut calls: Vec<BoxFuture<'_, Result<(), Error>>> = Vec::new();
                if observed.inline_policy.is_some() {
                    calls.push(Box::pin(self.delete_policy(clients, &id)));
                }
                for policy in &observed.managed_policies {
                    calls.push(Box::pin(self.detach(clients, &id, policy)));
                }
                all_concurrently(&id, calls).await?;
                let out = clients.iam.delete_role().role_name(name).send().await;
                // A retry whose first attempt was applied finds it gone.
                ok_unless(out, &id, "DeleteRole", |e| e.is_no_such_entity_exception())?;
            }
            (_, Some(observed)) => ctx.set(&role_arn(&self.name), observed.arn.clone()),
            (_, None) => {}
        }
        Ok(())
    }

    /// Brings an existing role to the spec with only the calls that differ: trust policy,
    /// inline policy, managed policies.
    async fn converge(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        observed: &ObservedRole,
    ) -> Result<(), Error> {
        let id = role_id(&self.name);
        let name = self.name.as_str();
        let aws = &clients.aws;
        let desired = self.desired_fields(aws);
        let before = Self::observed_fields(observed);
        // The trust policy, the inline policy and each attachment are independent: one round.
        let id = &id;
        let mut calls: Vec<BoxFuture<'_, Result<(), Error>>> = Vec::new();
        if desired.get("trust_policy") != before.get("trust_policy") {
            let document = self.trust_policy(aws).to_string();
            calls.push(Box::pin(async move {
                clients
                    .iam
                    .update_assume_role_policy()
                    .role_name(name)
                    .policy_document(document)
                    .send()
                    .await
                    .context(id, "UpdateAssumeRolePolicy")
                    .map(drop)
            }));
        }
        if desired.get("inline_policy") != before.get("inline_policy") {
            match self.inline_policy(aws) {
                Some(policy) => calls.push(Box::pin(async move {
                    self.put_policy(clients, id, &policy).await
                })),
                None => calls.push(Box::pin(self.delete_policy(clients, id))),
            }
        }
        for policy in self
            .managed_policies
            .iter()
            .filter(|p| !observed.managed_policies.contains(p))
        {
            calls.push(Box::pin(self.attach(clients, id, policy)));
        }
        for policy in observed
            .managed_policies
            .iter()
            .filter(|p| !self.managed_policies.contains(p))
        {
            calls.push(Box::pin(self.detach(clients, id, policy)));
        }
        all_concurrently(id, calls).await?;
        ctx.set(&role_arn(&self.name), observed.arn.clone());
        Ok(())
    }

    async fn put_policy(
        &self,
        clients: &Clients,
        id: &ResourceId,
        policy: &Value,
    ) -> Result<(), Error> {
        clients
            .iam
            .put_role_policy()
            .role_name(self.name.as_str())
            .policy_name(INLINE_POLICY_NAME)
            .policy_document(policy.to_string())
            .send()
            .await
            .context(id, "PutRolePolicy")?;
        Ok(())
    }

    async fn delete_policy(&self, clients: &Clients, id: &ResourceId) -> Result<(), Error> {
        let result = clients
            .iam
            .delete_role_policy()
            .role_name(self.name.as_str())
            .policy_name(INLINE_POLICY_NAME)
            .send()
            .await;
        absent_on(result, &["NoSuchEntity"], id, "DeleteRolePolicy")?;
        Ok(())
    }

    async fn attach(&self, clients: &Clients, id: &ResourceId, policy: &str) -> Result<(), Error> {
        clients
            .iam
            .attach_role_policy()
            .role_name(self.name.as_str())
            .policy_arn(policy)
            .send()
            .await
            .context(id, "AttachRolePolicy")?;
        Ok(())
    }

    async fn detach(&self, clients: &Clients, id: &ResourceId, policy: &str) -> Result<(), Error> {
        let result = clients
            .iam
            .detach_role_policy()
            .role_name(self.name.as_str())
            .policy_arn(policy)
            .send()
            .await;
        absent_on(result, &["NoSuchEntity"], id, "DetachRolePolicy")?;
        Ok(())
    }
}

impl Kind<Clients> for IamRoleSpec {
    type Observed = RoleObservation;

    fn id(&self) -> ResourceId {
        role_id(&self.name)
    }

    /// Always an observation: the account (the desired policies name it) even when the role
    /// does not exist.
    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<RoleObservation>, Error>> {
        Box::pin(async move {
            let role = self.observe_owned(clients).await?;
            Ok(Some(RoleObservation {
                aws: clients.aws.clone(),
                role,
            }))
        })
    }

    fn diff(&self, observed: Option<&RoleObservation>, _: &Resolved) -> Result<Change, Error> {
        let Some(observed) = observed else {
            return Err(Error::Unexpected {
                resource: role_id(&self.name),
                operation: "plan".into(),
                detail: "the role was planned without its account".into(),
            });
        };
        let observed_fields = observed.role.as_ref().map(Self::observed_fields);
        Ok(Change::compute(
            &self.desired_fields(&observed.aws),
            observed_fields.as_ref(),
            &[],
        ))
    }

    fn destroy_change(&self, observed: Option<&RoleObservation>) -> Change {
        match observed.and_then(|o| o.role.as_ref()) {
            Some(_) => Change::Delete,
            None => Change::NoOp,
        }
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a RoleObservation>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, change, observed.and_then(|o| o.role.as_ref())))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a RoleObservation,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, &Change::Delete, observed.role.as_ref()))
    }
}

/// What observing a role found: the account and region it is planned in (its desired trust
/// and inline policies name them, so the diff needs them even when the role does not exist
/// yet) and the role, `None` when it does not exist.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoleObservation {
    /// The account, region and partition of the plan.
    pub aws: AwsContext,
    /// The role, if it exists.
    pub role: Option<ObservedRole>,
}

/// A role as observed, its policies normalized.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedRole {
    /// The role ARN.
    pub arn: String,
    /// The trust policy, normalized.
    pub trust_policy: Value,
    /// fargate-rs's inline policy, normalized, if the role has one.
    pub inline_policy: Option<Value>,
    /// The ARNs of the attached managed policies.
    pub managed_policies: Vec<String>,
    /// The role's tags.
    pub tags: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_policy_and_kms_arns_are_validated() {
        let owner = Ownership::new("prod".parse().unwrap());
        let role = IamRoleSpec::task_role(
            &"prod".parse().unwrap(),
            &"web".parse().unwrap(),
            owner,
            vec![],
        );
        assert!(
            role.clone()
                .managed_policy("arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess")
                .is_ok()
        );
        assert_eq!(
            role.managed_policy("AmazonSSMReadOnlyAccess")
                .unwrap_err()
                .field,
            "managed_policy"
        );
        assert_eq!(
            ExecutionAccess::new().kms_key("alias/x").unwrap_err().field,
            "kms_key"
        );
    }
}
