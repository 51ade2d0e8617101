//! CloudWatch Logs log groups: where an app's containers write (the `awslogs` driver).
//!
//! Start with [`LogGroupSpec::for_app`] (`/ecs/<env>/<app>`, logs kept 30 days). Retention is
//! one of the values CloudWatch allows ([`RetentionDays`]); keeping logs forever is possible
//! only by asking for it ([`LogGroupSpec::retain_forever`]), never by accident.
//!
//! For diagnosing a failed task, [`last_log_lines`] reads the end of a log stream.
//!
//! Output: [`log_group_arn`] (without the `:*` suffix `DescribeLogGroups` adds).

use std::collections::{HashMap, HashSet};
use std::fmt;

use aws_sdk_cloudwatchlogs::types::LogGroup;
use fargate_core::batch::Batcher;

use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, Error, Fields, Ident, InvalidValue, LogGroupName, Mode,
    PlanBoard, Planned, Resource, ResourceId, StepContext, Tags, create_or_existing, ok_unless,
};

use crate::Clients;
use crate::aws_util::{creation_tags, decide, ensure_owned_if_found};

/// The resource kind of log groups in plans.
pub const KIND: &str = "logs:log-group";

/// The identity of the log group `name` in plans.
pub fn log_group_id(name: &LogGroupName) -> ResourceId {
    ResourceId::new(KIND, name.as_str())
}

/// Output: the log group ARN, `arn:<partition>:logs:<region>:<account>:log-group:<name>`.
pub fn log_group_arn(name: &LogGroupName) -> OutputKey<String> {
    log_group_id(name).output("arn")
}

/// How long CloudWatch keeps log events, in days: one of the values CloudWatch accepts.
///
/// ```
/// use fargate_deploy::logs::RetentionDays;
/// assert_eq!(RetentionDays::new(14)?.get(), 14);
/// assert!(RetentionDays::new(10).is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u16", into = "u16")]
pub struct RetentionDays(u16);

impl RetentionDays {
    /// The retention periods CloudWatch Logs accepts, in days.
    pub const ALLOWED: [u16; 22] = [
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
        2922, 3288, 3653,
    ];

    /// The default, 30 days.
    pub const DEFAULT: RetentionDays = RetentionDays(30);

    /// A retention of `days`.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `retention_in_days` naming the allowed values.
    pub fn new(days: u16) -> Result<Self, InvalidValue> {
        if Self::ALLOWED.contains(&days) {
            Ok(Self(days))
        } else {
            let allowed: Vec<String> = Self::ALLOWED.iter().map(u16::to_string).collect();
            Err(InvalidValue::new(
                "retention_in_days",
                days.to_string(),
                "not a retention period CloudWatch Logs accepts",
                allowed.join(", "),
            ))
        }
    }

    /// The number of days.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for RetentionDays {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for RetentionDays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} days", self.0)
    }
}

impl TryFrom<u16> for RetentionDays {
    type Error = InvalidValue;
    fn try_from(days: u16) -> Result<Self, Self::Error> {
        Self::new(days)
    }
}

impl From<RetentionDays> for u16 {
    fn from(days: RetentionDays) -> Self {
        days.0
    }
}

/// The desired state of a log group.
///
/// ```
/// use fargate_core::Ownership;
/// use fargate_deploy::logs::LogGroupSpec;
///
/// let (env, app) = ("prod".parse()?, "web".parse()?);
/// let owner = Ownership::new(env).with_app(app);
/// let group = LogGroupSpec::for_app(&owner.environment, owner.app.as_ref().unwrap(), owner.clone())
///     .retention_days(90)?;
/// assert_eq!(group.name().as_str(), "/ecs/prod/web");
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct LogGroupSpec {
    name: LogGroupName,
    retention: Option<RetentionDays>,
    ownership: Ownership,
    tags: Tags,
}

impl LogGroupSpec {
    /// A log group named `name`, kept 30 days.
    pub fn new(name: LogGroupName, ownership: Ownership) -> Self {
        Self {
            name,
            retention: Some(RetentionDays::DEFAULT),
            ownership,
            tags: Tags::new(),
        }
    }

    /// The log group of an app, `/ecs/<env>/<app>`, kept 30 days.
    pub fn for_app(env: &Ident, app: &Ident, ownership: Ownership) -> Self {
        Self::new(
            LogGroupName::derive(&["ecs", env.as_str(), app.as_str()]),
            ownership,
        )
    }

    /// Keep log events `days` days.
    ///
    /// # Errors
    /// An [`InvalidValue`] unless `days` is one of [`RetentionDays::ALLOWED`].
    pub fn retention_days(mut self, days: u16) -> Result<Self, InvalidValue> {
        self.retention = Some(RetentionDays::new(days)?);
        Ok(self)
    }

    /// Keep log events for the given retention.
    #[must_use]
    pub fn retention(mut self, retention: RetentionDays) -> Self {
        self.retention = Some(retention);
        self
    }

    /// Keep log events forever (CloudWatch's "never expire"). Storage cost then grows without
    /// bound; prefer a retention.
    #[must_use]
    pub fn retain_forever(mut self) -> Self {
        self.retention = None;
        self
    }

    /// User tags, added to the ownership tags.
    #[must_use]
    pub fn tags(mut self, tags: Tags) -> Self {
        self.tags = tags;
        self
    }

    /// The log group name.
    pub fn name(&self) -> &LogGroupName {
        &self.name
    }

    /// The retention, `None` for "never expire".
    pub fn retention_value(&self) -> Option<RetentionDays> {
        self.retention
    }

    /// The managed fields of the desired log group (pure).
    pub fn desired_fields(&self) -> Fields {
        Fields::new().with("retention_in_days", self.retention.map(RetentionDays::get))
    }

    /// The managed fields of a log group as AWS reports it (pure).
    pub fn observed_fields(observed: &ObservedLogGroup) -> Fields {
        Fields::new().with("retention_in_days", observed.retention_in_days)
    }

    #[tracing::instrument(skip_all, fields(resource = %log_group_id(&self.name)))]
    async fn observe(
        &self,
        clients: &Clients,
        board: Option<&PlanBoard>,
    ) -> Result<Option<ObservedLogGroup>, Error> {
        let id = log_group_id(&self.name);
        let name = self.name.as_str().to_string();
        let fetch = |path: String, names: Vec<String>| find_log_groups(clients, path, names);
        let found = match board {
            // The groups of one plan under one path (`/ecs/<env>/`) are found by listing that
            // path once, instead of one DescribeLogGroups each.
            Some(board) => {
                let batcher = board.shared("logs:DescribeLogGroups", || {
                    Batcher::<String, String, LogGroup>::new(usize::MAX)
                });
                batcher.load(parent_path(&name), name, fetch).await?
            }
            None => fetch(name.clone(), vec![name.clone()]).await?.remove(&name),
        };
        let Some(group) = found else {
            return Ok(None);
        };
        let arn = group
            .log_group_arn()
            .or(group.arn())
            .map(normalize_log_group_arn)
            .unwrap_or_else(|| {
                crate::aws_util::log_group_arn(
                    &clients.aws.partition,
                    &clients.aws.region,
                    &clients.aws.account_id,
                    self.name.as_str(),
                )
            });
        let tags = clients
            .logs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .context(&id, "ListTagsForResource")?;
        let mut tags: Vec<(String, String)> = tags
            .tags()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.sort();
        Ok(Some(ObservedLogGroup {
            arn,
            retention_in_days: group.retention_in_days(),
            tags,
        }))
    }

    /// [`Self::observe`], refusing a log group that is not ours ([`Error::NotOwned`]).
    async fn observe_owned(
        &self,
        clients: &Clients,
        board: Option<&PlanBoard>,
    ) -> Result<Option<ObservedLogGroup>, Error> {
        let observed = self.observe(clients, board).await?;
        ensure_owned_if_found(
            &self.ownership,
            &log_group_id(&self.name),
            observed
                .as_ref()
                .map(|o| (o.arn.as_str(), o.tags.as_slice())),
        )?;
        Ok(observed)
    }

    async fn plan_change(
        &self,
        clients: &Clients,
        mode: Mode,
        board: Option<&PlanBoard>,
    ) -> Result<Planned<Clients>, Error> {
        let observed = self.observe_owned(clients, board).await?;
        let desired = self.desired_fields();
        let observed_fields = observed.as_ref().map(Self::observed_fields);
        let change = decide(mode, &desired, observed_fields.as_ref(), &[]);
        let spec = self.clone();
        let action_change = change.clone();
        Ok(Planned::new(
            change,
            move |clients: Clients, ctx| async move {
                spec.apply(&clients, &ctx, &action_change, observed).await
            },
        ))
    }

    #[tracing::instrument(skip_all, fields(resource = %log_group_id(&self.name)))]
    async fn apply(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        change: &Change,
        observed: Option<ObservedLogGroup>,
    ) -> Result<(), Error> {
        let id = log_group_id(&self.name);
        let arn = match &observed {
            Some(o) => o.arn.clone(),
            None => crate::aws_util::log_group_arn(
                &clients.aws.partition,
                &clients.aws.region,
                &clients.aws.account_id,
                self.name.as_str(),
            ),
        };
        match change {
            Change::Create { .. } => {
                let out = clients
                    .logs
                    .create_log_group()
                    .log_group_name(self.name.as_str())
                    .set_tags(Some(
                        creation_tags(&self.ownership, &self.tags, self.name.as_str())
                            .into_iter()
                            .collect(),
                    ))
                    .send()
                    .await;
                // A retried create whose first attempt was applied meets its own group.
                let found = || self.observe_owned(clients, None);
                let created = create_or_existing(
                    ctx,
                    &id,
                    "CreateLogGroup",
                    out,
                    |e| e.is_resource_already_exists_exception(),
                    found,
                )
                .await?;
                let retention_differs = match &created {
                    Created::New(_) => self.retention.is_some(),
                    Created::Existing(found) => {
                        found.retention_in_days != self.retention.map(|d| i32::from(d.get()))
                    }
                };
                if retention_differs {
                    self.put_retention(clients, &id).await?;
                }
            }
            Change::Update { .. } => self.put_retention(clients, &id).await?,
            Change::Delete => {
                let out = clients
                    .logs
                    .delete_log_group()
                    .log_group_name(self.name.as_str())
                    .send()
                    .await;
                // A retry whose first attempt was applied finds it gone.
                ok_unless(out, &id, "DeleteLogGroup", |e| {
                    e.is_resource_not_found_exception()
                })?;
                return Ok(());
            }
            _ if observed.is_none() => return Ok(()),
            _ => {}
        }
        ctx.set(&log_group_arn(&self.name), arn);
        Ok(())
    }

    async fn put_retention(&self, clients: &Clients, id: &ResourceId) -> Result<(), Error> {
        match self.retention {
            Some(days) => {
                clients
                    .logs
                    .put_retention_policy()
                    .log_group_name(self.name.as_str())
                    .retention_in_days(i32::from(days.get()))
                    .send()
                    .await
                    .context(id, "PutRetentionPolicy")?;
            }
            None => {
                clients
                    .logs
                    .delete_retention_policy()
                    .log_group_name(self.name.as_str())
                    .send()
                    .await
                    .context(id, "DeleteRetentionPolicy")?;
            }
        }
        Ok(())
    }
}

impl Resource<Clients> for LogGroupSpec {
    fn id(&self) -> ResourceId {
        log_group_id(&self.name)
    }

    fn plan<'a>(
        &'a self,
        clients: &'a Clients,
        mode: Mode,
    ) -> BoxFuture<'a, Result<Planned<Clients>, Error>> {
        Box::pin(self.plan_change(clients, mode, None))
    }

    fn plan_with<'a>(
        &'a self,
        clients: &'a Clients,
        mode: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<Clients>, Error>> {
        Box::pin(self.plan_change(clients, mode, Some(board)))
    }
}

/// The path a log group name is listed under: up to and including its last `/`
/// (`/ecs/prod/web` → `/ecs/prod/`), or the whole name when it has none.
fn parent_path(name: &str) -> String {
    match name.rfind('/') {
        Some(i) if i + 1 < name.len() => name[..=i].to_string(),
        _ => name.to_string(),
    }
}

/// The log groups named `names` that exist, found by listing the groups whose names start
/// with `path` (pages of 50). One name is looked up by itself, as a prefix of one.
#[tracing::instrument(skip_all, fields(path = %path, names = names.len()))]
async fn find_log_groups(
    clients: &Clients,
    path: String,
    names: Vec<String>,
) -> Result<HashMap<String, LogGroup>, Error> {
    let prefix = match names.as_slice() {
        [one] => one.clone(),
        _ => path,
    };
    let id = ResourceId::new(KIND, prefix.as_str());
    let wanted: HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut found = HashMap::new();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .logs
            .describe_log_groups()
            .log_group_name_prefix(prefix.as_str())
            .limit(50)
            .set_next_token(token.take())
            .send()
            .await
            .context(&id, "DescribeLogGroups")?;
        for g in page.log_groups() {
            if let Some(name) = g.log_group_name().filter(|n| wanted.contains(n)) {
                found.insert(name.to_string(), g.clone());
            }
        }
        match page.next_token() {
            Some(next) if !next.is_empty() && found.len() < wanted.len() => {
                token = Some(next.to_string());
            }
            _ => return Ok(found),
        }
    }
}

/// A log group as observed, reduced to what fargate-rs manages.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedLogGroup {
    /// The ARN, without a trailing `:*`.
    pub arn: String,
    /// The retention, `None` for "never expire".
    pub retention_in_days: Option<i32>,
    /// The log group's tags, sorted.
    pub tags: Vec<(String, String)>,
}

/// A log group ARN without the `:*` suffix `DescribeLogGroups` puts on its `arn` field.
///
/// ```
/// use fargate_deploy::logs::normalize_log_group_arn;
/// let arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/prod/web:*";
/// assert_eq!(normalize_log_group_arn(arn), "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/prod/web");
/// ```
pub fn normalize_log_group_arn(arn: &str) -> String {
    arn.strip_suffix(":*").unwrap_or(arn).to_string()
}

/// The last `n` (1 to 10000) lines of a log stream, oldest first: what a stopped task printed
/// before it died. A stream that does not exist (the task never started logging) gives no lines.
///
/// # Errors
/// [`Error::Aws`] when the log group does not exist or the call fails.
#[tracing::instrument(skip(clients), fields(resource = %format!("{KIND} {group}")))]
pub async fn last_log_lines(
    clients: &Clients,
    group: &str,
    stream: &str,
    n: u32,
) -> Result<Vec<String>, Error> {
    let id = ResourceId::new(KIND, group);
    let limit = i32::try_from(n.clamp(1, 10_000)).unwrap_or(10_000);
    let result = clients
        .logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(false)
        .limit(limit)
        .send()
        .await;
    if let Err(e) = &result {
        let stream_missing = fargate_core::error::sdk_error_code(e)
            == Some("ResourceNotFoundException")
            && e.as_service_error()
                .and_then(aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::message)
                .is_some_and(|m| m.to_ascii_lowercase().contains("log stream"));
        if stream_missing {
            return Ok(Vec::new());
        }
    }
    let out = result.context(&id, "GetLogEvents")?;
    Ok(out
        .events()
        .iter()
        .filter_map(|e| e.message().map(str::to_string))
        .collect())
}
