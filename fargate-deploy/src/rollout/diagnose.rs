//! Gathering the evidence of a failed rollout: stopped tasks, container exit
//! codes and reasons, the last log lines of failed containers, target health
//! and service events.

use std::fmt;

use aws_sdk_ecs::types::DesiredStatus;
use serde::{Deserialize, Serialize};

use crate::Clients;
use fargate_core::{AwsResultExt, Error};

/// One container of a stopped task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerExit {
    /// Container name.
    pub name: String,
    /// Exit code, if it ran.
    pub exit_code: Option<i32>,
    /// ECS's reason (e.g. `CannotPullContainerError: ...`).
    pub reason: Option<String>,
    /// The last lines it logged, oldest first.
    pub last_log_lines: Vec<String>,
}

/// A stopped task of the failed deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedTask {
    /// Task ARN.
    pub task_arn: String,
    /// Its task definition.
    pub task_definition: String,
    /// Why it stopped.
    pub stopped_reason: Option<String>,
    /// ECS stop code (e.g. `TaskFailedToStart`, `EssentialContainerExited`).
    pub stop_code: Option<String>,
    /// Its containers.
    pub containers: Vec<ContainerExit>,
}

impl StoppedTask {
    /// The task id (last part of the ARN).
    pub fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }
}

/// A load balancer target that is not healthy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetIssue {
    /// The target (ip:port).
    pub target: String,
    /// Its state (unhealthy, draining, ...).
    pub state: String,
    /// ELB's reason code.
    pub reason: Option<String>,
    /// ELB's description.
    pub description: Option<String>,
}

/// Everything known about why a rollout failed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Stopped tasks of the failed deployment, newest first.
    pub stopped_tasks: Vec<StoppedTask>,
    /// Targets that are not healthy.
    pub unhealthy_targets: Vec<TargetIssue>,
    /// Service events since the deployment began, newest first.
    pub events: Vec<String>,
}

impl Diagnosis {
    /// The first container exit that explains the failure (non-zero exit or a reason).
    pub fn first_failed_container(&self) -> Option<(&StoppedTask, &ContainerExit)> {
        self.stopped_tasks.iter().find_map(|t| {
            t.containers
                .iter()
                .find(|c| c.exit_code.is_some_and(|e| e != 0) || c.reason.is_some())
                .map(|c| (t, c))
        })
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in &self.stopped_tasks {
            writeln!(
                f,
                "  task {} stopped: {} ({})",
                t.task_id(),
                t.stopped_reason.as_deref().unwrap_or("no reason given"),
                t.stop_code.as_deref().unwrap_or("-")
            )?;
            for c in &t.containers {
                let exit = c
                    .exit_code
                    .map(|e| format!("exit code {e}"))
                    .unwrap_or_else(|| "did not run".to_string());
                write!(f, "    container {}: {exit}", c.name)?;
                if let Some(r) = &c.reason {
                    write!(f, ": {r}")?;
                }
                writeln!(f)?;
                if !c.last_log_lines.is_empty() {
                    writeln!(f, "    last log lines:")?;
                    for l in &c.last_log_lines {
                        writeln!(f, "      | {l}")?;
                    }
                }
            }
        }
        for t in &self.unhealthy_targets {
            writeln!(
                f,
                "  target {} is {}: {} {}",
                t.target,
                t.state,
                t.reason.as_deref().unwrap_or(""),
                t.description.as_deref().unwrap_or("")
            )?;
        }
        for e in &self.events {
            writeln!(f, "  event: {e}")?;
        }
        Ok(())
    }
}

/// Where a container's awslogs stream is: `<prefix>/<container>/<task-id>` in `group`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLocation {
    /// The log group.
    pub group: String,
    /// The awslogs stream prefix.
    pub stream_prefix: String,
}

/// Stopped tasks started by one deployment (newest first, at most `limit`).
///
/// # Errors
/// When ListTasks or DescribeTasks fails.
#[tracing::instrument(skip_all, fields(cluster, deployment = started_by))]
pub async fn stopped_tasks(
    clients: &Clients,
    cluster: &str,
    started_by: &str,
    limit: usize,
) -> Result<Vec<StoppedTask>, Error> {
    let list = clients
        .ecs
        .list_tasks()
        .cluster(cluster)
        .started_by(started_by)
        .desired_status(DesiredStatus::Stopped)
        .send()
        .await
        .context(format!("ecs:deployment {started_by}"), "ListTasks")?;
    let arns: Vec<String> = list.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = clients
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .context(format!("ecs:deployment {started_by}"), "DescribeTasks")?;
    let mut tasks: Vec<(i64, StoppedTask)> = described
        .tasks()
        .iter()
        .map(|t| {
            let at = t.stopped_at().map(|d| d.secs()).unwrap_or(0);
            (
                at,
                StoppedTask {
                    task_arn: t.task_arn().unwrap_or_default().to_string(),
                    task_definition: t.task_definition_arn().unwrap_or_default().to_string(),
                    stopped_reason: t.stopped_reason().map(str::to_string),
                    stop_code: t.stop_code().map(|c| c.as_str().to_string()),
                    containers: t
                        .containers()
                        .iter()
                        .map(|c| ContainerExit {
                            name: c.name().unwrap_or_default().to_string(),
                            exit_code: c.exit_code(),
                            reason: c.reason().map(str::to_string),
                            last_log_lines: Vec::new(),
                        })
                        .collect(),
                },
            )
        })
        .collect();
    tasks.sort_by_key(|t| std::cmp::Reverse(t.0));
    Ok(tasks.into_iter().take(limit).map(|(_, t)| t).collect())
}

/// Fill in the last log lines of each failed container (best effort: a
/// missing stream is not an error, the task may never have started).
#[tracing::instrument(skip_all)]
pub async fn attach_log_lines(
    clients: &Clients,
    tasks: &mut [StoppedTask],
    logs: &LogLocation,
    lines: usize,
) {
    for t in tasks.iter_mut() {
        let task_id = t.task_id().to_string();
        for c in t.containers.iter_mut() {
            if c.exit_code == Some(0) {
                continue;
            }
            let stream = format!("{}/{}/{task_id}", logs.stream_prefix, c.name);
            match clients
                .logs
                .get_log_events()
                .log_group_name(&logs.group)
                .log_stream_name(&stream)
                .start_from_head(false)
                .limit(lines.clamp(1, 10_000) as i32)
                .send()
                .await
            {
                Ok(out) => {
                    c.last_log_lines = out
                        .events()
                        .iter()
                        .filter_map(|e| e.message().map(|m| m.trim_end().to_string()))
                        .collect();
                }
                Err(e) => {
                    tracing::debug!(stream, error = %fargate_core::error::sdk_error_code(&e).unwrap_or("error"), "no log lines for container");
                }
            }
        }
    }
}

/// Every target of these target groups with its health, as ELB reports it.
///
/// # Errors
/// When DescribeTargetHealth fails.
#[tracing::instrument(skip_all)]
pub async fn target_health(
    clients: &Clients,
    target_groups: &[String],
) -> Result<Vec<TargetIssue>, Error> {
    Ok(describe_targets(clients, target_groups)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// Targets of these target groups that are not healthy.
///
/// # Errors
/// When DescribeTargetHealth fails.
#[tracing::instrument(skip_all)]
pub async fn unhealthy_targets(
    clients: &Clients,
    target_groups: &[String],
) -> Result<Vec<TargetIssue>, Error> {
    Ok(describe_targets(clients, target_groups)
        .await?
        .into_iter()
        .filter(|(reported, t)| *reported && t.state != "healthy")
        .map(|(_, t)| t)
        .collect())
}

/// Each target with whether ELB reported its health at all.
async fn describe_targets(
    clients: &Clients,
    target_groups: &[String],
) -> Result<Vec<(bool, TargetIssue)>, Error> {
    let mut out = Vec::new();
    for tg in target_groups {
        let health = clients
            .net
            .elb
            .describe_target_health()
            .target_group_arn(tg)
            .send()
            .await
            .context(format!("elbv2:target-group {tg}"), "DescribeTargetHealth")?;
        for d in health.target_health_descriptions() {
            let h = d.target_health();
            let target = d
                .target()
                .map(|t| {
                    format!(
                        "{}:{}",
                        t.id().unwrap_or_default(),
                        t.port().unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            out.push((
                h.is_some(),
                TargetIssue {
                    target,
                    state: h
                        .and_then(|h| h.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    reason: h.and_then(|h| h.reason()).map(|r| r.as_str().to_string()),
                    description: h.and_then(|h| h.description()).map(str::to_string),
                },
            ));
        }
    }
    Ok(out)
}
