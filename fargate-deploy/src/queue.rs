//! SQS queues of queue workers: an app's queue `<env>-<app>` and its dead-letter queue
//! `<env>-<app>-dlq`, made by fargate-rs and owned through tags like every other resource
//! (a queue of the same name without our tags is never modified or deleted).
//!
//! [`SqsQueueSpec`] is one queue: its attributes (visibility timeout, message retention and,
//! for the main queue, the `RedrivePolicy` naming the dead-letter queue's ARN) are compared
//! normalized, and an update is one `SetQueueAttributes`.
//!
//! Outputs: [`queue_url`], [`queue_arn`].

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use fargate_core::exec::OutputKey;
use fargate_core::resource::BoxFuture;
use fargate_core::tags::Ownership;
use fargate_core::{
    AwsResultExt, Change, Error, Fields, InvalidValue, Kind, Mode, PlanValues, Resolved,
    ResourceId, Round, StepContext, Tags,
};

use crate::Clients;
use crate::aws_util::{creation_tags, ensure_owned, missing};

/// The resource kind of SQS queues in plans.
pub const KIND: &str = "sqs:queue";

/// Default visibility timeout, in seconds.
pub const DEFAULT_VISIBILITY_TIMEOUT: u32 = 30;
/// Default message retention of the main queue, in seconds (4 days).
pub const DEFAULT_RETENTION: u32 = 4 * 24 * 3600;
/// Default message retention of the dead-letter queue, in seconds (14 days, the maximum).
pub const DEFAULT_DLQ_RETENTION: u32 = 14 * 24 * 3600;
/// Default receives before a message moves to the dead-letter queue.
pub const DEFAULT_MAX_RECEIVES: u32 = 5;

/// The identity of the queue `name` in plans.
pub fn queue_resource(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// Output: the queue URL.
pub fn queue_url(name: &str) -> OutputKey<String> {
    queue_resource(name).output("url")
}

/// Output: the queue ARN.
pub fn queue_arn(name: &str) -> OutputKey<String> {
    queue_resource(name).output("arn")
}

/// The ARN of the queue `name` in this partition, region and account.
pub fn arn_of(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:sqs:{region}:{account}:{name}")
}

/// The URL of the queue `name`, `https://sqs.<region>.amazonaws.com[.cn]/<account>/<name>`.
pub fn url_of(region: &str, account: &str, name: &str) -> String {
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sqs.{region}.{domain}/{account}/{name}")
}

/// A queue name: 1 to 80 characters of letters, digits, `-` and `_`.
///
/// # Errors
/// An [`InvalidValue`] for `field`.
pub fn check_name(field: &str, name: &str) -> Result<(), InvalidValue> {
    if name.is_empty()
        || name.len() > 80
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(InvalidValue::new(
            field,
            name,
            "not an SQS queue name",
            "1 to 80 characters of letters, digits, '-' and '_' (shorten the environment or app name)",
        ));
    }
    Ok(())
}

/// The queue's ARN and URL from an SQS queue URL
/// (`https://sqs.<region>.amazonaws.com/<account>/<name>`) or ARN
/// (`arn:<partition>:sqs:<region>:<account>:<name>`); `partition` is used for a URL.
///
/// # Errors
/// An [`InvalidValue`] for `field` when it is neither.
pub fn parse_adopted(
    field: &str,
    partition: &str,
    s: &str,
) -> Result<(String, String), InvalidValue> {
    const ALLOWED: &str = "a queue URL https://sqs.<region>.amazonaws.com/<account>/<name> \
                           or ARN arn:aws:sqs:<region>:<account>:<name>";
    let bad = |why: &str| InvalidValue::new(field, s, why, ALLOWED);
    let valid_account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.split(':').collect();
        let [part, "sqs", region, account, name] = parts.as_slice() else {
            return Err(bad("not an SQS queue ARN"));
        };
        if part.is_empty() || region.is_empty() || !valid_account(account) {
            return Err(bad("the ARN has no partition, region or 12-digit account"));
        }
        check_name(field, name)?;
        return Ok((s.to_string(), url_of(region, account, name)));
    }
    let rest = s
        .strip_prefix("https://sqs.")
        .ok_or_else(|| bad("neither an https://sqs. URL nor an ARN"))?;
    let (host, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("the URL has no path"))?;
    let region = host
        .split_once('.')
        .map(|(r, _)| r)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| bad("the URL has no region"))?;
    let (account, name) = path
        .split_once('/')
        .ok_or_else(|| bad("the URL path is not /<account>/<name>"))?;
    if !valid_account(account) {
        return Err(bad("the URL has no 12-digit account"));
    }
    check_name(field, name)?;
    Ok((arn_of(partition, region, account, name), s.to_string()))
}

/// An app's work queue, as given ([`crate::ContainerService`]'s `queue`): fargate-rs makes
/// the queue `<env>-<app>` and its dead-letter queue `<env>-<app>-dlq` (or adopts the queue
/// at `adopt_url` and makes nothing), sets the task's `QUEUE_URL` and lets the task role
/// receive, delete and change the visibility of its messages and read its attributes.
///
/// JSON: `{"visibility_timeout_secs": 60, "max_receives": 3}`, every field optional.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueWorker {
    /// Use this existing queue (its URL or ARN) instead of making one; it is never modified
    /// or deleted, and has no dead-letter queue of fargate-rs.
    #[serde(default)]
    pub adopt_url: Option<String>,
    /// Receives before a message moves to the dead-letter queue (1 to 1000). Default 5.
    #[serde(default = "default_max_receives")]
    pub max_receives: u32,
    /// Visibility timeout in seconds (0 to 43200). Default 30.
    #[serde(default = "default_visibility")]
    pub visibility_timeout_secs: u32,
    /// Message retention in seconds (60 to 1209600). Default 4 days.
    #[serde(default = "default_retention")]
    pub retention_secs: u32,
    /// Message retention of the dead-letter queue in seconds (60 to 1209600). Default 14 days.
    #[serde(default = "default_dlq_retention")]
    pub dlq_retention_secs: u32,
    /// With the app's `autoscaling`: scale on the backlog per task, keeping the visible
    /// messages per running task near this (a target-tracking policy on metric math;
    /// needs Container Insights on the cluster for `RunningTaskCount`). Default none.
    #[serde(default)]
    pub messages_per_task: Option<u32>,
}

fn default_max_receives() -> u32 {
    DEFAULT_MAX_RECEIVES
}
fn default_visibility() -> u32 {
    DEFAULT_VISIBILITY_TIMEOUT
}
fn default_retention() -> u32 {
    DEFAULT_RETENTION
}
fn default_dlq_retention() -> u32 {
    DEFAULT_DLQ_RETENTION
}

impl Default for QueueWorker {
    fn default() -> Self {
        Self {
            adopt_url: None,
            max_receives: DEFAULT_MAX_RECEIVES,
            visibility_timeout_secs: DEFAULT_VISIBILITY_TIMEOUT,
            retention_secs: DEFAULT_RETENTION,
            dlq_retention_secs: DEFAULT_DLQ_RETENTION,
            messages_per_task: None,
        }
    }
}

/// The actions a queue worker's task role gets on its queue.
pub const WORKER_ACTIONS: [&str; 4] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
];

/// The environment variable the task reads its queue's URL from.
pub const QUEUE_URL_VAR: &str = "QUEUE_URL";

impl QueueWorker {
    /// Check the ranges (no AWS call); fields are named `<app>.queue.<field>`.
    ///
    /// # Errors
    /// The first value out of range, or an adopted queue that is neither a URL nor an ARN.
    pub fn validate(&self, app: &str) -> Result<(), InvalidValue> {
        let range = |field: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(InvalidValue::new(
                    format!("{app}.queue.{field}"),
                    v.to_string(),
                    "out of range",
                    format!("{lo} to {hi}"),
                ))
            }
        };
        range("max_receives", self.max_receives, 1, 1000)?;
        range(
            "visibility_timeout_secs",
            self.visibility_timeout_secs,
            0,
            43_200,
        )?;
        range("retention_secs", self.retention_secs, 60, 1_209_600)?;
        range("dlq_retention_secs", self.dlq_retention_secs, 60, 1_209_600)?;
        if let Some(a) = &self.adopt_url {
            parse_adopted(&format!("{app}.queue.adopt_url"), "aws", a)?;
        }
        if let Some(n) = self.messages_per_task {
            range("messages_per_task", n, 1, 1_000_000)?;
        }
        Ok(())
    }

    /// What the app gets in `env` (name `<env>-<app>`): the queue's URL and ARN, and the
    /// queue kinds to make (none for an adopted queue; else the dead-letter queue, then the
    /// queue).
    ///
    /// # Errors
    /// A queue name SQS refuses (too long), naming `<app>.queue`.
    pub fn expand(
        &self,
        env: &fargate_core::Ident,
        app: &fargate_core::Ident,
        aws: &crate::AwsContext,
        tags: &Tags,
    ) -> Result<ExpandedQueue, InvalidValue> {
        let field = format!("{app}.queue");
        if let Some(a) = &self.adopt_url {
            let (arn, url) = parse_adopted(&format!("{field}.adopt_url"), &aws.partition, a)?;
            let name = arn.rsplit(':').next().unwrap_or_default().to_string();
            return Ok(ExpandedQueue {
                name,
                url,
                arn,
                specs: Vec::new(),
            });
        }
        let name = format!("{env}-{app}");
        let dlq = format!("{name}-dlq");
        check_name(&field, &dlq)?;
        let arn = |n: &str| arn_of(&aws.partition, &aws.region, &aws.account_id, n);
        let owner = |c: &str| {
            Ownership::new(env.clone())
                .with_app(app.clone())
                .with_component(c)
        };
        let dead = SqsQueueSpec::new(dlq.clone(), owner("dlq"), tags.clone())
            .visibility_timeout(self.visibility_timeout_secs)
            .retention(self.dlq_retention_secs);
        let main = SqsQueueSpec::new(name.clone(), owner("queue"), tags.clone())
            .visibility_timeout(self.visibility_timeout_secs)
            .retention(self.retention_secs)
            .redrive(Redrive {
                dead_letter_arn: arn(&dlq),
                dead_letter_queue: dlq,
                max_receives: self.max_receives,
            });
        Ok(ExpandedQueue {
            name: name.clone(),
            url: url_of(&aws.region, &aws.account_id, &name),
            arn: arn(&name),
            specs: vec![dead, main],
        })
    }
}

/// A [`QueueWorker`] in an environment ([`QueueWorker::expand`]).
#[derive(Debug, Clone)]
pub struct ExpandedQueue {
    /// The queue's name.
    pub name: String,
    /// The queue URL (the task's `QUEUE_URL`).
    pub url: String,
    /// The queue ARN (the task role statement's resource).
    pub arn: String,
    /// The queues to make: the dead-letter queue, then the queue (the last is the app's).
    pub specs: Vec<SqsQueueSpec>,
}

impl ExpandedQueue {
    /// The task role statement: [`WORKER_ACTIONS`] on this queue only.
    ///
    /// # Errors
    /// An ARN IAM would refuse (not from fargate-rs's own names).
    pub fn statement(&self) -> Result<crate::iam::PolicyStatement, InvalidValue> {
        crate::iam::PolicyStatement::allow(WORKER_ACTIONS, [self.arn.as_str()])
    }
}

/// Where a queue's messages go after too many receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    /// The dead-letter queue's name (a dependency).
    pub dead_letter_queue: String,
    /// Its ARN.
    pub dead_letter_arn: String,
    /// Receives before a message moves there.
    pub max_receives: u32,
}

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueueSpec {
    name: String,
    visibility_timeout: u32,
    retention: u32,
    redrive: Option<Redrive>,
    ownership: Ownership,
    tags: Tags,
}

impl SqsQueueSpec {
    /// The standard queue `name`, owned as `ownership`, with the default visibility timeout
    /// and retention and no dead-letter queue.
    pub fn new(name: impl Into<String>, ownership: Ownership, tags: Tags) -> Self {
        Self {
            name: name.into(),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            retention: DEFAULT_RETENTION,
            redrive: None,
            ownership,
            tags,
        }
    }

    /// The visibility timeout, in seconds.
    #[must_use]
    pub fn visibility_timeout(mut self, seconds: u32) -> Self {
        self.visibility_timeout = seconds;
        self
    }

    /// The message retention, in seconds.
    #[must_use]
    pub fn retention(mut self, seconds: u32) -> Self {
        self.retention = seconds;
        self
    }

    /// Move messages to a dead-letter queue after too many receives.
    #[must_use]
    pub fn redrive(mut self, redrive: Redrive) -> Self {
        self.redrive = Some(redrive);
        self
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn desired_fields(&self) -> Fields {
        let mut f = Fields::new()
            .with("visibility_timeout", self.visibility_timeout.to_string())
            .with("message_retention", self.retention.to_string());
        if let Some(r) = &self.redrive {
            f = f
                .with("redrive.dead_letter_target_arn", r.dead_letter_arn.as_str())
                .with("redrive.max_receive_count", r.max_receives.to_string());
        }
        f
    }

    /// The attributes as SQS takes them (all of them: an update sets them in one call).
    fn attributes(&self) -> HashMap<QueueAttributeName, String> {
        let mut a = HashMap::from([
            (
                QueueAttributeName::VisibilityTimeout,
                self.visibility_timeout.to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                self.retention.to_string(),
            ),
        ]);
        if let Some(r) = &self.redrive {
            a.insert(
                QueueAttributeName::RedrivePolicy,
                serde_json::json!({
                    "deadLetterTargetArn": r.dead_letter_arn,
                    "maxReceiveCount": r.max_receives.to_string(),
                })
                .to_string(),
            );
        }
        a
    }

    /// The normalized fields of what `GetQueueAttributes` answered.
    fn observed_fields(attributes: &HashMap<QueueAttributeName, String>) -> Fields {
        let get = |k: QueueAttributeName| attributes.get(&k).cloned().unwrap_or_default();
        let mut f = Fields::new()
            .with(
                "visibility_timeout",
                get(QueueAttributeName::VisibilityTimeout),
            )
            .with(
                "message_retention",
                get(QueueAttributeName::MessageRetentionPeriod),
            );
        if let Some(policy) = attributes
            .get(&QueueAttributeName::RedrivePolicy)
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        {
            let text = |v: Option<&serde_json::Value>| match v {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            f = f
                .with(
                    "redrive.dead_letter_target_arn",
                    text(policy.get("deadLetterTargetArn")),
                )
                .with(
                    "redrive.max_receive_count",
                    text(policy.get("maxReceiveCount")),
                );
        }
        f
    }

    #[tracing::instrument(skip_all, fields(resource = %queue_resource(&self.name)))]
    async fn find(&self, c: &Clients) -> Result<Option<ObservedQueue>, Error> {
        let id = queue_resource(&self.name);
        let url = match c.sqs.get_queue_url().queue_name(&self.name).send().await {
            Ok(o) => o
                .queue_url()
                .ok_or_else(|| missing(&id, "GetQueueUrl", "QueueUrl"))?
                .to_string(),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist())
                    || matches!(
                        fargate_core::error::sdk_error_code(&e),
                        Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")
                    ) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(Error::from_sdk(&id, "GetQueueUrl", e)),
        };
        let tags = c
            .sqs
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .context(&id, "ListQueueTags")?;
        ensure_owned(
            &self.ownership,
            &id,
            &format!("SQS queue {url}"),
            tags.tags()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        )?;
        let got = c
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .context(&id, "GetQueueAttributes")?;
        let attributes = got.attributes().cloned().unwrap_or_default();
        let arn = attributes
            .get(&QueueAttributeName::QueueArn)
            .ok_or_else(|| missing(&id, "GetQueueAttributes", "QueueArn"))?
            .clone();
        Ok(Some(ObservedQueue {
            url,
            arn,
            fields: Self::observed_fields(&attributes),
        }))
    }

    #[tracing::instrument(skip_all, fields(resource = %queue_resource(&self.name)))]
    async fn create(&self, c: &Clients) -> Result<ObservedQueue, Error> {
        let id = queue_resource(&self.name);
        // CreateQueue is idempotent for a name with the same attributes: it answers the
        // existing queue's URL.
        let out = c
            .sqs
            .create_queue()
            .queue_name(&self.name)
            .set_attributes(Some(self.attributes()))
            .set_tags(Some(
                creation_tags(&self.ownership, &self.tags, &self.name)
                    .into_iter()
                    .collect(),
            ))
            .send()
            .await
            .context(&id, "CreateQueue")?;
        let url = out
            .queue_url()
            .ok_or_else(|| missing(&id, "CreateQueue", "QueueUrl"))?
            .to_string();
        let got = c
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .context(&id, "GetQueueAttributes")?;
        let arn = got
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .ok_or_else(|| missing(&id, "GetQueueAttributes", "QueueArn"))?
            .clone();
        Ok(ObservedQueue {
            url,
            arn,
            fields: self.desired_fields(),
        })
    }

    #[tracing::instrument(skip_all, fields(resource = %queue_resource(&self.name)))]
    async fn update(&self, c: &Clients, observed: &ObservedQueue) -> Result<(), Error> {
        c.sqs
            .set_queue_attributes()
            .queue_url(&observed.url)
            .set_attributes(Some(self.attributes()))
            .send()
            .await
            .context(queue_resource(&self.name), "SetQueueAttributes")?;
        Ok(())
    }
}

/// A queue as observed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ObservedQueue {
    url: String,
    arn: String,
    fields: Fields,
}

impl Kind<Clients> for SqsQueueSpec {
    type Observed = ObservedQueue;

    fn id(&self) -> ResourceId {
        queue_resource(&self.name)
    }

    fn depends_on(&self) -> Vec<ResourceId> {
        self.redrive
            .iter()
            .map(|r| queue_resource(&r.dead_letter_queue))
            .collect()
    }

    fn observe<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<ObservedQueue>, Error>> {
        Box::pin(self.find(clients))
    }

    fn diff(&self, observed: Option<&ObservedQueue>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(
            &self.desired_fields(),
            observed.map(|o| &o.fields),
            &[],
        ))
    }

    fn outputs(
        &self,
        observed: Option<&ObservedQueue>,
        change: &Change,
        _: &Resolved,
    ) -> PlanValues {
        PlanValues::kept(change, observed, |o| {
            PlanValues::new()
                .with(&queue_url(&self.name), &o.url)
                .with(&queue_arn(&self.name), &o.arn)
        })
    }

    fn apply<'a>(
        &'a self,
        clients: &'a Clients,
        ctx: &'a StepContext,
        change: &'a Change,
        observed: Option<&'a ObservedQueue>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let (url, arn) = match (change, observed) {
                (Change::NoOp, Some(o)) => (o.url.clone(), o.arn.clone()),
                (Change::Update { .. }, Some(o)) => {
                    self.update(clients, o).await?;
                    (o.url.clone(), o.arn.clone())
                }
                _ => {
                    let q = self.create(clients).await?;
                    (q.url, q.arn)
                }
            };
            ctx.set(&queue_url(&self.name), url);
            ctx.set(&queue_arn(&self.name), arn);
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        clients: &'a Clients,
        _: &'a StepContext,
        observed: &'a ObservedQueue,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let id = queue_resource(&self.name);
            match clients
                .sqs
                .delete_queue()
                .queue_url(&observed.url)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_queue_does_not_exist()) =>
                {
                    Ok(())
                }
                Err(e) => Err(Error::from_sdk(&id, "DeleteQueue", e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adopted_queues_are_read_from_a_url_or_an_arn() {
        let (arn, url) = parse_adopted(
            "w.queue.adopt_url",
            "aws",
            "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
        )
        .unwrap();
        assert_eq!(arn, "arn:aws:sqs:eu-west-1:123456789012:jobs");
        assert_eq!(url, "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs");
        let (arn, url) = parse_adopted(
            "w.queue.adopt_url",
            "aws",
            "arn:aws:sqs:eu-west-1:123456789012:jobs",
        )
        .unwrap();
        assert_eq!(arn, "arn:aws:sqs:eu-west-1:123456789012:jobs");
        assert_eq!(url, "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs");
        for bad in [
            "",
            "http://sqs.eu-west-1.amazonaws.com/123456789012/jobs",
            "https://sqs.eu-west-1.amazonaws.com/12345/jobs",
            "arn:aws:sns:eu-west-1:123456789012:jobs",
            "arn:aws:sqs:eu-west-1:123456789012:jo bs",
        ] {
            let e = parse_adopted("w.queue.adopt_url", "aws", bad).unwrap_err();
            assert_eq!(e.field, "w.queue.adopt_url", "{bad}");
        }
    }

    #[test]
    fn a_redrive_policy_with_a_numeric_count_compares_equal() {
        let spec = SqsQueueSpec::new("q", Ownership::new("prod".parse().unwrap()), Tags::new())
            .redrive(Redrive {
                dead_letter_queue: "q-dlq".into(),
                dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:q-dlq".into(),
                max_receives: 5,
            });
        let observed = HashMap::from([
            (QueueAttributeName::VisibilityTimeout, "30".to_string()),
            (QueueAttributeName::MessageRetentionPeriod, "345600".to_string()),
            (
                QueueAttributeName::RedrivePolicy,
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:q-dlq","maxReceiveCount":5}"#
                    .to_string(),
            ),
        ]);
        assert!(
            SqsQueueSpec::observed_fields(&observed)
                .diff(&spec.desired_fields())
                .is_empty()
        );
    }

    #[test]
    fn long_names_are_refused() {
        assert!(check_name("w.queue", &"a".repeat(80)).is_ok());
        assert!(check_name("w.queue", &"a".repeat(81)).is_err());
    }
}
