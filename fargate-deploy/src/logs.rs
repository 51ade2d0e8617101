//! CloudWatch Logs log groups: where an app's containers write (the `awslogs` driver).
//!
//! Start with [`LogGroupSpec::for_app`] (`/ecs/<env>/<app>`, logs kept 30 days). Retention is
//! one of the values CloudWatch allows ([`RetentionDays`]); keeping logs forever is possible
//! only by asking for it ([`LogGroupSpec::retain_forever`]), never by accident.
//!
//! For diagnosing a failed task, [`last_log_lines`] reads the end of a log stream; for
//! following an app's logs live, [`LogTail`] polls `FilterLogEvents` (what
//! [`crate::Deployer::tail_logs`] runs).
//!
//! Output: [`log_group_arn`] (without the `:*` suffix `DescribeLogGroups` adds).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::operation::filter_log_events::FilterLogEventsOutput;
use aws_sdk_cloudwatchlogs::types::{FilteredLogEvent, LogGroup};
use fargate_core::batch::Batcher;

use fargate_core::exec::{CancellationToken, OutputKey};
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Created, Error, Fields, Ident, InvalidValue, Kind, LogGroupName, Mode,
    Resolved, ResourceId, Round, StepContext, Tags, create_or_existing, ok_unless,
};

use crate::Clients;
use crate::aws_util::{creation_tags, ensure_owned_if_found};

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
        round: Option<&Round<'_>>,
    ) -> Result<Option<ObservedLogGroup>, Error> {
        let id = log_group_id(&self.name);
        let name = self.name.as_str().to_string();
        let fetch = |path: String, names: Vec<String>| find_log_groups(clients, path, names);
        let found = match round {
            // The groups of one plan under one path (`/ecs/<env>/`) are found by listing that
            // path once, instead of one DescribeLogGroups each.
            Some(round) => {
                let batcher = round.shared("logs:DescribeLogGroups", || {
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
        round: Option<&Round<'_>>,
    ) -> Result<Option<ObservedLogGroup>, Error> {
        let observed = self.observe(clients, round).await?;
        ensure_owned_if_found(
            &self.ownership,
            &log_group_id(&self.name),
            observed
                .as_ref()
                .map(|o| (o.arn.as_str(), o.tags.as_slice())),
        )?;
        Ok(observed)
    }

    #[tracing::instrument(skip_all, fields(resource = %log_group_id(&self.name)))]
    async fn apply(
        &self,
        clients: &Clients,
        ctx: &StepContext,
        change: &Change,
        observed: Option<&ObservedLogGroup>,
    ) -> Result<(), Error> {
        let id = log_group_id(&self.name);
        let arn = match observed {
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

impl Kind<Clients> for LogGroupSpec {
    type Observed = ObservedLogGroup;

    fn id(&self) -> ResourceId {
        log_group_id(&self.name)
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedLogGroup>, Error>> {
        Box::pin(self.observe_owned(clients, Some(round)))
    }

    fn diff(&self, observed: Option<&ObservedLogGroup>, _: &Resolved) -> Result<Change, Error> {
        let observed_fields = observed.map(Self::observed_fields);
        Ok(Change::compute(
            &self.desired_fields(),
            observed_fields.as_ref(),
            &[],
        ))
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedLogGroup>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, change, observed))
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        observed: &'a ObservedLogGroup,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(self.apply(clients, ctx, &Change::Delete, Some(observed)))
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// One log event a [`LogTail`] saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// The log stream (`<prefix>/<container>/<task id>` for an app's containers).
    pub stream: String,
    /// When it was logged, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The line.
    pub message: String,
    /// CloudWatch's id of the event, when it gives one.
    pub event_id: Option<String>,
}

/// What a [`LogTail`] did until it was cancelled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct TailReport {
    /// The lines given to the sink.
    pub lines: u64,
    /// The polls made (each of one or more `FilterLogEvents` pages).
    pub polls: u64,
    /// Where a new tail would go on: the newest event's time seen (or the start), in
    /// milliseconds since the Unix epoch.
    pub resume_from_ms: i64,
}

/// Follows a log group live: polls `FilterLogEvents` from a start time on, following each
/// answer's `nextToken` pages, and gives every event to a sink once, until cancelled.
///
/// Each poll asks for the events from the newest time seen so far; the events at exactly that
/// time seen before are recognised by their `eventId` and not given again. Between polls that
/// find nothing it waits 1 s, doubling up to 8 s ([`LogTail::waits`] changes both); a poll
/// that finds lines brings the wait back to the first one. Failed calls are retried by the
/// SDK (its retry configuration), not here. An event that CloudWatch ingests only after
/// events newer than it were seen is not given (as with `aws logs tail --follow`).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use fargate_deploy::logs::LogTail;
///
/// let tail = LogTail::new("/ecs/prod/web", SystemTime::now())
///     .stream_prefix("web/")
///     .waits(Duration::from_millis(500), Duration::from_secs(4))?;
/// assert_eq!(tail.group(), "/ecs/prod/web");
/// assert!(LogTail::new("/ecs/prod/web", SystemTime::now())
///     .waits(Duration::from_secs(4), Duration::from_secs(1))
///     .is_err());
/// # Ok::<(), fargate_core::InvalidValue>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    group: String,
    stream_prefix: Option<String>,
    start_ms: i64,
    first_wait: Duration,
    max_wait: Duration,
    /// The environment and app the group belongs to: a missing group is then
    /// [`Error::NotDeployed`].
    app: Option<(String, String)>,
}

impl LogTail {
    /// The first wait after a poll that found nothing, and after a poll that found lines.
    pub const FIRST_WAIT: Duration = Duration::from_secs(1);
    /// The longest wait between polls.
    pub const MAX_WAIT: Duration = Duration::from_secs(8);

    /// A tail of the log group `group`, from the events logged at `since` on (all its
    /// streams).
    pub fn new(group: impl Into<String>, since: SystemTime) -> Self {
        let start_ms = since
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self {
            group: group.into(),
            stream_prefix: None,
            start_ms,
            first_wait: Self::FIRST_WAIT,
            max_wait: Self::MAX_WAIT,
            app: None,
        }
    }

    /// A tail of the containers of `app` (main container and sidecars: the streams
    /// `<app>/…` of its log group `/ecs/<env>/<app>`), from `since` on. A log group that does
    /// not exist is then [`Error::NotDeployed`].
    ///
    /// # Errors
    /// [`Error::NotFound`] when the app has no task (so no logs).
    pub fn for_app(
        env: &crate::Environment,
        app: &dyn crate::deployer::App,
        since: SystemTime,
    ) -> Result<Self, Error> {
        let Some(info) = app.task(env) else {
            return Err(Error::NotFound {
                resource: ResourceId::new(
                    "ecs:task-definition",
                    format!("{}/{}", env.name(), app.name()),
                ),
                detail: "this app has no task, so no logs".into(),
            });
        };
        let mut tail = Self::new(info.logs.group, since)
            .stream_prefix(format!("{}/", info.logs.stream_prefix));
        tail.app = Some((env.name().to_string(), app.name().to_string()));
        Ok(tail)
    }

    /// Only the streams whose names start with `prefix`.
    #[must_use]
    pub fn stream_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = Some(prefix.into()).filter(|p: &String| !p.is_empty());
        self
    }

    /// Wait `first` after a poll that found lines or the first that found nothing, doubling
    /// after each further empty poll up to `max` (default 1 s and 8 s).
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `first_wait` when it is zero, or `max_wait` when it is
    /// shorter than `first`.
    pub fn waits(mut self, first: Duration, max: Duration) -> Result<Self, InvalidValue> {
        if first.is_zero() {
            return Err(InvalidValue::new(
                "first_wait",
                format!("{first:?}"),
                "a tail must wait between polls",
                "a duration above zero",
            ));
        }
        if max < first {
            return Err(InvalidValue::new(
                "max_wait",
                format!("{max:?}"),
                "shorter than the first wait",
                format!("at least first_wait ({first:?})"),
            ));
        }
        self.first_wait = first;
        self.max_wait = max;
        Ok(self)
    }

    /// The log group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The start time, in milliseconds since the Unix epoch.
    pub fn start_ms(&self) -> i64 {
        self.start_ms
    }

    /// Poll until `cancel` is cancelled, giving each new event to `sink` (in CloudWatch's
    /// order, oldest first). Cancelling ends the tail with `Ok`, also in the middle of a call.
    ///
    /// # Errors
    /// [`Error::NotDeployed`] when the log group of an app ([`LogTail::for_app`]) does not
    /// exist; AWS errors (after the SDK's retries) otherwise.
    pub async fn run(
        &self,
        clients: &Clients,
        cancel: &CancellationToken,
        mut sink: impl FnMut(LogLine),
    ) -> Result<TailReport, Error> {
        let id = ResourceId::new(KIND, self.group.as_str());
        let mut report = TailReport {
            resume_from_ms: self.start_ms,
            ..TailReport::default()
        };
        let mut boundary = Boundary::new(self.start_ms);
        let mut wait = self.first_wait;
        loop {
            let start = boundary.start;
            let mut poll = boundary.poll();
            let mut token: Option<String> = None;
            loop {
                let page = tokio::select! {
                    page = self.page(clients, &id, start, token.take()) => page?,
                    () = cancel.cancelled() => return Ok(report),
                };
                for event in page.events() {
                    // Checked here too: the moto emulator ignores logStreamNamePrefix.
                    let other_stream = self.stream_prefix.as_deref().is_some_and(|p| {
                        !event.log_stream_name().unwrap_or_default().starts_with(p)
                    });
                    if other_stream {
                        continue;
                    }
                    if let Some(line) = poll.admit(event) {
                        report.lines += 1;
                        sink(line);
                    }
                }
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_string()),
                    _ => break,
                }
            }
            report.polls += 1;
            let found = poll.found;
            boundary = poll.finish();
            report.resume_from_ms = boundary.start;
            if found > 0 {
                wait = self.first_wait;
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => return Ok(report),
            }
            if found == 0 {
                wait = (wait * 2).min(self.max_wait);
            }
        }
    }

    /// One `FilterLogEvents` page of the events from `start_ms` on.
    #[tracing::instrument(skip(self, clients, token), fields(resource = %id, next_page = token.is_some()))]
    async fn page(
        &self,
        clients: &Clients,
        id: &ResourceId,
        start_ms: i64,
        token: Option<String>,
    ) -> Result<FilterLogEventsOutput, Error> {
        let out = clients
            .logs
            .filter_log_events()
            .log_group_name(self.group.as_str())
            .set_log_stream_name_prefix(self.stream_prefix.clone())
            .start_time(start_ms)
            .set_next_token(token)
            .send()
            .await
            .context(id, "FilterLogEvents");
        match (out, &self.app) {
            (Err(e), Some((environment, app)))
                if e.aws_code() == Some("ResourceNotFoundException") =>
            {
                Err(Error::NotDeployed {
                    environment: environment.clone(),
                    app: app.clone(),
                    missing: id.clone(),
                })
            }
            (out, _) => out,
        }
    }
}

/// The newest event time a tail has seen, and the events at exactly that time it gave
/// already (by event id): the next poll starts there and skips them.
#[derive(Debug)]
struct Boundary {
    start: i64,
    seen: HashSet<String>,
}

impl Boundary {
    fn new(start: i64) -> Self {
        Self {
            start,
            seen: HashSet::new(),
        }
    }

    fn poll(self) -> Poll {
        Poll {
            newest: self.start,
            at_newest: self.seen.clone(),
            given: HashSet::new(),
            found: 0,
            boundary: self,
        }
    }
}

/// One poll in progress: which events are new, and the boundary it moves to.
#[derive(Debug)]
struct Poll {
    boundary: Boundary,
    newest: i64,
    at_newest: HashSet<String>,
    given: HashSet<String>,
    found: u64,
}

impl Poll {
    /// The event as a line, unless it is older than the start or was given already.
    fn admit(&mut self, event: &FilteredLogEvent) -> Option<LogLine> {
        let start = self.boundary.start;
        let timestamp = event.timestamp().unwrap_or(start);
        if timestamp < start {
            return None;
        }
        let stream = event.log_stream_name().unwrap_or_default();
        let message = event.message().unwrap_or_default();
        // Without an event id, the event is known by where, when and what it logged.
        let key = match event.event_id() {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("{stream}\u{0}{timestamp}\u{0}{message}"),
        };
        if timestamp == start && self.boundary.seen.contains(&key) {
            return None;
        }
        if !self.given.insert(key.clone()) {
            return None;
        }
        if timestamp > self.newest {
            self.newest = timestamp;
            self.at_newest.clear();
        }
        if timestamp == self.newest {
            self.at_newest.insert(key);
        }
        self.found += 1;
        Some(LogLine {
            stream: stream.to_string(),
            timestamp_ms: timestamp,
            message: message.to_string(),
            event_id: event.event_id().map(str::to_string),
        })
    }

    fn finish(self) -> Boundary {
        Boundary {
            start: self.newest,
            seen: self.at_newest,
        }
    }
}
