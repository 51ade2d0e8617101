//! ECS Exec: a command (a shell by default) in a running task of an app, as
//! `aws ecs execute-command` opens it.
//!
//! [`crate::Deployer::exec`] finds a running task of the app's service, checks that it was started with
//! ECS Exec enabled and that its exec agent runs, and calls `ExecuteCommand`. The answer is
//! an [`ExecSession`]: an SSM session that the AWS Session Manager plugin
//! (`session-manager-plugin`) connects the terminal to, with the arguments of
//! [`ExecSession::plugin_args`] (what the AWS CLI passes it). The `fargate exec APP` command
//! does both.
//!
//! The app needs `enable_exec: true` ([`crate::apps::ContainerServiceSpec::enable_exec`]): its
//! service then starts tasks with ECS Exec, and its task role allows the SSM channels
//! ([`crate::iam::PolicyStatement::ecs_exec`]). Tasks started before exec was enabled
//! cannot be entered; the error says so.

use std::fmt;

use aws_sdk_ecs::types::DesiredStatus;
use fargate_core::{AwsResultExt, Error, ResourceId};
use serde_json::json;

use crate::Clients;

/// Why a command cannot be started in the app's tasks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The service runs no task now.
    #[error("service {service} has no running task to run a command in")]
    NoRunningTask {
        /// The service.
        service: String,
    },
    /// The task was started without ECS Exec.
    #[error(
        "task {task} was started without ECS Exec: set enable_exec: true on the app, apply, and \
         wait for the new tasks (tasks started before keep running without it)"
    )]
    NotEnabled {
        /// The task's ARN.
        task: String,
    },
    /// The task has no container of that name.
    #[error("task {task} has no container {container}; its containers: {available}")]
    NoContainer {
        /// The task's ARN.
        task: String,
        /// The container asked for.
        container: String,
        /// The task's containers, comma-separated.
        available: String,
    },
    /// The exec agent in the container is not running (yet).
    #[error(
        "the ECS Exec agent of container {container} in task {task} is {status}, not RUNNING: \
         wait a few seconds after the task starts; if it stays so, the task role lacks the \
         ssmmessages permissions or the task cannot reach SSM"
    )]
    AgentNotRunning {
        /// The task's ARN.
        task: String,
        /// The container.
        container: String,
        /// The agent's last status (or `missing`).
        status: String,
    },
}

/// A command started in a task: the SSM session to connect to.
///
/// Its `Debug` leaves out the session token.
#[derive(Clone)]
pub struct ExecSession {
    cluster: String,
    task_arn: String,
    container: String,
    runtime_id: String,
    session_id: String,
    stream_url: String,
    token: String,
}

impl fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecSession")
            .field("cluster", &self.cluster)
            .field("task_arn", &self.task_arn)
            .field("container", &self.container)
            .field("runtime_id", &self.runtime_id)
            .field("session_id", &self.session_id)
            .field("stream_url", &self.stream_url)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl ExecSession {
    /// The task's ARN.
    pub fn task_arn(&self) -> &str {
        &self.task_arn
    }

    /// The container the command runs in.
    pub fn container(&self) -> &str {
        &self.container
    }

    /// The SSM session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The SSM target of the session: `ecs:<cluster>_<task id>_<container runtime id>`.
    pub fn target(&self) -> String {
        let task_id = self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn);
        format!("ecs:{}_{}_{}", self.cluster, task_id, self.runtime_id)
    }

    /// The arguments of `session-manager-plugin` for this session, as the AWS CLI passes
    /// them: the session (JSON, with its token), the region, `StartSession`, the profile
    /// (empty), the request (JSON, with the target) and the SSM endpoint URL of `region`.
    /// They hold the session token: do not log them.
    pub fn plugin_args(&self, region: &str) -> Vec<String> {
        let session = json!({
            "SessionId": self.session_id,
            "StreamUrl": self.stream_url,
            "TokenValue": self.token,
        });
        let request = json!({ "Target": self.target() });
        vec![
            session.to_string(),
            region.to_string(),
            "StartSession".to_string(),
            String::new(),
            request.to_string(),
            format!("https://ssm.{region}.amazonaws.com"),
        ]
    }
}

/// Start `command` in `container` of a running task of `service` (the newest task first):
/// `ListTasks`, `DescribeTasks`, `ExecuteCommand` (interactive).
///
/// # Errors
/// [`Error::NotDeployed`] when the cluster or the service does not exist; an
/// [`ExecError`] (inside [`Error::Failed`]) when no task runs, the task was started
/// without ECS Exec, has no such container or its exec agent does not run; AWS errors.
pub(crate) async fn start(
    clients: &Clients,
    env_name: &str,
    app: &str,
    cluster: &str,
    service: &str,
    container: &str,
    command: &str,
) -> Result<ExecSession, Error> {
    let id = ResourceId::new("ecs:service", format!("{cluster}/{service}"));
    let not_deployed = |what: &str| Error::NotDeployed {
        environment: env_name.to_string(),
        app: app.to_string(),
        missing: ResourceId::new(
            what,
            if what == "ecs:cluster" {
                cluster
            } else {
                service
            },
        ),
    };
    let failed = |e: ExecError| Error::Failed {
        resource: id.clone(),
        source: Box::new(e),
    };
    let listed = clients
        .ecs
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Running)
        .send()
        .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => {
            return Err(match fargate_core::error::sdk_error_code(&e) {
                Some("ClusterNotFoundException") => not_deployed("ecs:cluster"),
                Some("ServiceNotFoundException") => not_deployed("ecs:service"),
                _ => Error::from_sdk(&id, "ListTasks", e),
            });
        }
    };
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Err(failed(ExecError::NoRunningTask {
            service: service.to_string(),
        }));
    }
    let described = clients
        .ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .context(&id, "DescribeTasks")?;
    let mut running: Vec<&aws_sdk_ecs::types::Task> = described
        .tasks()
        .iter()
        .filter(|t| t.last_status() == Some("RUNNING"))
        .collect();
    // The newest first: after a deploy that enabled exec, the new tasks have it.
    running.sort_by_key(|t| std::cmp::Reverse(t.started_at().map(|d| d.secs())));
    let Some(task) = running
        .iter()
        .find(|t| t.enable_execute_command())
        .or(running.first())
    else {
        return Err(failed(ExecError::NoRunningTask {
            service: service.to_string(),
        }));
    };
    let task_arn = task.task_arn().unwrap_or_default().to_string();
    if !task.enable_execute_command() {
        return Err(failed(ExecError::NotEnabled { task: task_arn }));
    }
    let Some(c) = task
        .containers()
        .iter()
        .find(|c| c.name() == Some(container))
    else {
        let available = task
            .containers()
            .iter()
            .filter_map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(failed(ExecError::NoContainer {
            task: task_arn,
            container: container.to_string(),
            available,
        }));
    };
    let agent = c
        .managed_agents()
        .iter()
        .find(|a| a.name().map(|n| n.as_str()) == Some("ExecuteCommandAgent"))
        .and_then(|a| a.last_status())
        .unwrap_or("missing");
    if agent != "RUNNING" {
        return Err(failed(ExecError::AgentNotRunning {
            task: task_arn,
            container: container.to_string(),
            status: agent.to_string(),
        }));
    }
    let runtime_id = c.runtime_id().unwrap_or_default().to_string();
    let out = clients
        .ecs
        .execute_command()
        .cluster(cluster)
        .task(&task_arn)
        .container(container)
        .interactive(true)
        .command(command)
        .send()
        .await
        .context(&id, "ExecuteCommand")?;
    let Some(session) = out.session() else {
        return Err(Error::Unexpected {
            resource: id,
            operation: "ExecuteCommand".into(),
            detail: "no session in the answer".into(),
        });
    };
    Ok(ExecSession {
        cluster: cluster.to_string(),
        task_arn,
        container: container.to_string(),
        runtime_id,
        session_id: session.session_id().unwrap_or_default().to_string(),
        stream_url: session.stream_url().unwrap_or_default().to_string(),
        token: session.token_value().unwrap_or_default().to_string(),
    })
}
