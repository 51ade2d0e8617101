//! ECS Exec against mocked ECS: `Deployer::exec` picks the newest task started with exec,
//! checks its agent and calls `ExecuteCommand` with the app's container; the session's
//! plugin arguments are the AWS CLI's; a task without exec, an agent not running, no task and
//! no cluster are typed errors with no `ExecuteCommand` call. `enable_exec` gives the task
//! role the SSM channel permissions.

use fargate_core::{CallRecorder, Error};
use fargate_deploy::exec::ExecError;
use fargate_deploy::iam::PolicyStatement;
use fargate_deploy::{ContainerService, Deployer, Environment};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_ecs::Client as Ecs;
use fargate_testkit::aws_sdk_ecs::operation::describe_tasks::DescribeTasksOutput;
use fargate_testkit::aws_sdk_ecs::operation::execute_command::ExecuteCommandOutput;
use fargate_testkit::aws_sdk_ecs::operation::list_tasks::{ListTasksError, ListTasksOutput};
use fargate_testkit::aws_sdk_ecs::primitives::DateTime;
use fargate_testkit::aws_sdk_ecs::types::{
    Container, ManagedAgent, ManagedAgentName, Session, Task,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const OLD: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/0000000000000000aaaa";
const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/1111111111111111bbbb";
const TOKEN: &str = "session-token-do-not-print";

fn setup() -> (Environment, ContainerService) {
    let env = Environment::builder().name("prod").build().unwrap();
    let app = ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .enable_exec(true)
        .build()
        .unwrap();
    (env, app)
}

/// A deployer whose ECS answers with `rules` only.
fn mocked(rules: &[&Rule]) -> Deployer {
    let clients = Mocks {
        ecs: rules.to_vec(),
        ..Mocks::default()
    }
    .clients();
    Deployer::from_clients(clients, CallRecorder::new())
}

fn task(arn: &str, started: i64, exec: bool, agent: Option<&str>) -> Task {
    let mut c = Container::builder()
        .name("web")
        .runtime_id(format!("rt-{started}"));
    if let Some(status) = agent {
        c = c.managed_agents(
            ManagedAgent::builder()
                .name(ManagedAgentName::ExecuteCommandAgent)
                .last_status(status)
                .build(),
        );
    }
    Task::builder()
        .task_arn(arn)
        .last_status("RUNNING")
        .started_at(DateTime::from_secs(started))
        .enable_execute_command(exec)
        .containers(c.build())
        .containers(Container::builder().name("log-router").build())
        .build()
}

fn list(cluster: String) -> Rule {
    mock!(Ecs::list_tasks)
        .match_requests(move |r| {
            r.cluster() == Some(cluster.as_str()) && r.service_name() == Some("web")
        })
        .then_output(|| {
            ListTasksOutput::builder()
                .task_arns(OLD)
                .task_arns(NEW)
                .build()
        })
}

fn describe(tasks: Vec<Task>) -> Rule {
    mock!(Ecs::describe_tasks).then_output(move || {
        DescribeTasksOutput::builder()
            .set_tasks(Some(tasks.clone()))
            .build()
    })
}

fn execute() -> Rule {
    mock!(Ecs::execute_command)
        .match_requests(|r| {
            r.task() == Some(NEW)
                && r.container() == Some("web")
                && r.interactive() == Some(true)
                && r.command() == Some("/bin/sh")
        })
        .then_output(|| {
            ExecuteCommandOutput::builder()
                .session(
                    Session::builder()
                        .session_id("ecs-execute-command-0abc")
                        .stream_url("wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/x")
                        .token_value(TOKEN)
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn exec_opens_a_shell_in_the_newest_task_started_with_exec() {
    let (env, app) = setup();
    let list = list(env.cluster_name().to_string());
    let describe = describe(vec![
        task(OLD, 100, false, None),
        task(NEW, 200, true, Some("RUNNING")),
    ]);
    let execute = execute();
    let deployer = mocked(&[&list, &describe, &execute]);
    let session = deployer.exec(&env, &app, None, None).await.unwrap();
    assert_eq!(execute.num_calls(), 1);
    assert_eq!(session.task_arn(), NEW);
    assert_eq!(session.container(), "web");
    assert_eq!(
        session.target(),
        format!("ecs:{}_1111111111111111bbbb_rt-200", env.cluster_name())
    );
    let args = session.plugin_args("us-east-1");
    assert_eq!(args.len(), 6);
    let s: serde_json::Value = serde_json::from_str(&args[0]).unwrap();
    assert_eq!(s["SessionId"], "ecs-execute-command-0abc");
    assert_eq!(s["TokenValue"], TOKEN);
    assert_eq!(args[1], "us-east-1");
    assert_eq!(args[2], "StartSession");
    let r: serde_json::Value = serde_json::from_str(&args[4]).unwrap();
    assert_eq!(r["Target"], session.target());
    assert_eq!(args[5], "https://ssm.us-east-1.amazonaws.com");
    let debug = format!("{session:?}");
    assert!(!debug.contains(TOKEN), "{debug}");
}

fn exec_error(e: Error) -> ExecError {
    match e {
        Error::Failed { source, .. } => match source.downcast::<ExecError>() {
            Ok(e) => *e,
            Err(other) => panic!("not an ExecError: {other}"),
        },
        other => panic!("not Error::Failed: {other}"),
    }
}

#[tokio::test]
async fn a_task_started_without_exec_is_refused_before_execute_command() {
    let (env, app) = setup();
    let list = list(env.cluster_name().to_string());
    let describe = describe(vec![
        task(OLD, 100, false, None),
        task(NEW, 200, false, None),
    ]);
    let execute = execute();
    let deployer = mocked(&[&list, &describe, &execute]);
    let e = deployer.exec(&env, &app, None, None).await.unwrap_err();
    let shown = e.to_string();
    match exec_error(e) {
        ExecError::NotEnabled { task } => assert_eq!(task, NEW),
        other => panic!("{other}"),
    }
    assert!(shown.contains("enable_exec: true"), "{shown}");
    assert_eq!(execute.num_calls(), 0);
}

#[tokio::test]
async fn an_agent_not_running_and_an_unknown_container_are_named() {
    let (env, app) = setup();
    let list = list(env.cluster_name().to_string());
    let describe = describe(vec![task(NEW, 200, true, Some("PENDING"))]);
    let execute = execute();
    let deployer = mocked(&[&list, &describe, &execute]);
    match exec_error(deployer.exec(&env, &app, None, None).await.unwrap_err()) {
        ExecError::AgentNotRunning { status, .. } => assert_eq!(status, "PENDING"),
        other => panic!("{other}"),
    }
    match exec_error(
        deployer
            .exec(&env, &app, Some("sidecar"), None)
            .await
            .unwrap_err(),
    ) {
        ExecError::NoContainer {
            container,
            available,
            ..
        } => {
            assert_eq!(container, "sidecar");
            assert_eq!(available, "web, log-router");
        }
        other => panic!("{other}"),
    }
    assert_eq!(execute.num_calls(), 0);
}

#[tokio::test]
async fn no_task_and_no_cluster_are_typed_errors() {
    let (env, app) = setup();
    let none = mock!(Ecs::list_tasks).then_output(|| ListTasksOutput::builder().build());
    let deployer = mocked(&[&none]);
    match exec_error(deployer.exec(&env, &app, None, None).await.unwrap_err()) {
        ExecError::NoRunningTask { service } => assert_eq!(service, "web"),
        other => panic!("{other}"),
    }

    let missing = mock!(Ecs::list_tasks).then_error(|| {
        ListTasksError::generic(aws_error_meta(
            "ClusterNotFoundException",
            "Cluster not found.",
        ))
    });
    let deployer = mocked(&[&missing]);
    match deployer.exec(&env, &app, None, None).await.unwrap_err() {
        Error::NotDeployed { app, missing, .. } => {
            assert_eq!(app, "web");
            assert_eq!(missing.kind, "ecs:cluster");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn enable_exec_gives_the_task_role_the_ssm_channels() {
    let (_, with_exec) = setup();
    assert_eq!(
        with_exec.settings().task_role_statements,
        [PolicyStatement::ecs_exec()]
    );
    let without = ContainerService::builder()
        .name("web")
        .image("nginx:1.27")
        .build()
        .unwrap();
    assert!(without.settings().task_role_statements.is_empty());
    assert!(with_exec.exec_enabled() && !without.exec_enabled());
}
