//! EventBridge Scheduler schedules against mocked clients: a change of expression is one
//! UpdateSchedule and a one-field plan; an unchanged schedule makes no mutating call; a
//! schedule with our name but without our ownership marker is refused; a new task definition
//! revision planned in the same plan shows up as a change of the schedule's target.

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::resource::BoxFuture;
use fargate_core::{
    Change, Error, Executable, FieldDiff, Mode, Ownership, Ref, Resource, ResourceId,
};
use fargate_deploy::Clients;
use fargate_deploy::run_task::ContainerOverride;
use fargate_deploy::schedule::{EcsTarget, ScheduleSpec};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_scheduler::Client as Scheduler;
use fargate_testkit::aws_sdk_scheduler::operation::get_schedule::{
    GetScheduleError, GetScheduleOutput,
};
use fargate_testkit::aws_sdk_scheduler::operation::update_schedule::UpdateScheduleOutput;
use fargate_testkit::aws_sdk_scheduler::types::{
    AssignPublicIp, AwsVpcConfiguration, EcsParameters, FlexibleTimeWindow, FlexibleTimeWindowMode,
    LaunchType, NetworkConfiguration, RetryPolicy, ScheduleState, Target,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};
use serde_json::json;

use crate::support::Mocks;

const ARN: &str = "arn:aws:scheduler:us-east-1:123456789012:schedule/default/prod-report";
const CLUSTER: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/prod";
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-report:4";
const TD_NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/prod-report:5";
const ROLE: &str = "arn:aws:iam::123456789012:role/prod-report-scheduler";
const MARKER: &str = "[managed-by fargate-rs env=prod app=report]";

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap()).with_app("report".parse().unwrap())
}

fn target(td: Ref<String>) -> EcsTarget {
    EcsTarget::new(
        Ref::Known(CLUSTER.into()),
        td,
        Ref::Known(vec!["subnet-b".into(), "subnet-a".into()]),
        Ref::Known(vec!["sg-1".into()]),
    )
    .unwrap()
    .assign_public_ip(true)
    .container_override(
        ContainerOverride::new("app")
            .unwrap()
            .env("MODE", "daily")
            .unwrap()
            .command(["report", "--all"]),
    )
    .unwrap()
}

fn spec(expression: &str) -> ScheduleSpec {
    ScheduleSpec::new(
        owner(),
        expression.parse().unwrap(),
        target(Ref::Known(TD.into())),
        Ref::Known(ROLE.into()),
    )
    .unwrap()
    .description("nightly report")
    .unwrap()
}

/// What GetSchedule answers for a schedule made from `spec(expression)`; the input JSON is
/// formatted differently from what fargate-rs sends (it is compared parsed).
fn observed(expression: &str, description: &str, td: &str) -> GetScheduleOutput {
    let vpc = AwsVpcConfiguration::builder()
        .subnets("subnet-a")
        .subnets("subnet-b")
        .security_groups("sg-1")
        .assign_public_ip(AssignPublicIp::Enabled)
        .build()
        .unwrap();
    let ecs = EcsParameters::builder()
        .task_definition_arn(td)
        .task_count(1)
        .launch_type(LaunchType::Fargate)
        .platform_version("LATEST")
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .build()
        .unwrap();
    let input = r#"{ "containerOverrides": [ { "command": ["report", "--all"], "environment": [{"value": "daily", "name": "MODE"}], "name": "app" } ] }"#;
    GetScheduleOutput::builder()
        .arn(ARN)
        .name("prod-report")
        .group_name("default")
        .schedule_expression(expression)
        .schedule_expression_timezone("UTC")
        .state(ScheduleState::Enabled)
        .description(description)
        .flexible_time_window(
            FlexibleTimeWindow::builder()
                .mode(FlexibleTimeWindowMode::Off)
                .build()
                .unwrap(),
        )
        .target(
            Target::builder()
                .arn(CLUSTER)
                .role_arn(ROLE)
                .ecs_parameters(ecs)
                .input(input)
                .retry_policy(
                    RetryPolicy::builder()
                        .maximum_retry_attempts(185)
                        .maximum_event_age_in_seconds(86_400)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
}

fn get(out: GetScheduleOutput) -> Rule {
    mock!(Scheduler::get_schedule)
        .match_requests(|r| r.name() == Some("prod-report") && r.group_name() == Some("default"))
        .then_output(move || out.clone())
}

async fn apply(
    clients: &Clients,
    resources: Vec<Arc<dyn Resource<Clients>>>,
) -> fargate_core::Plan {
    let exe = Executable::plan(clients, &resources, Mode::Apply)
        .await
        .unwrap();
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    plan
}

#[tokio::test]
async fn changing_only_the_expression_is_one_update_schedule_and_a_one_field_plan() {
    let description = format!("nightly report {MARKER}");
    let get = get(observed("cron(0 3 * * ? *)", &description, TD));
    let sent_description = description.clone();
    let update = mock!(Scheduler::update_schedule)
        .match_requests(move |r| {
            let t = r.target();
            let ecs = t.and_then(|t| t.ecs_parameters());
            let input: serde_json::Value = t.and_then(|t| t.input()).map(|i| serde_json::from_str(i).unwrap()).unwrap_or_default();
            // UpdateSchedule replaces the whole schedule: everything is sent, not only the expression.
            r.schedule_expression() == Some("cron(0 4 * * ? *)")
                && r.description() == Some(sent_description.as_str())
                && r.state() == Some(&ScheduleState::Enabled)
                && t.map(|t| t.role_arn()) == Some(ROLE)
                && ecs.map(|e| e.task_definition_arn()) == Some(TD)
                && input == json!({"containerOverrides":[{"name":"app","environment":[{"name":"MODE","value":"daily"}],"command":["report","--all"]}]})
        })
        .then_output(|| UpdateScheduleOutput::builder().schedule_arn(ARN).build().unwrap());
    let clients = Mocks {
        scheduler: vec![&get, &update],
        ..Mocks::default()
    }
    .clients();
    let spec = spec("cron(0 4 * * ? *)");
    let arn = spec.arn_output();

    let exe = Executable::plan(
        &clients,
        &[fargate_core::resource::node(spec.clone())],
        Mode::Apply,
    )
    .await
    .unwrap();
    match &exe.plan.changes[0].change {
        Change::Update { diffs } => assert_eq!(
            diffs,
            &[FieldDiff::new(
                "expression",
                Some(json!("cron(0 3 * * ? *)")),
                Some(json!("cron(0 4 * * ? *)")),
                false
            )]
        ),
        other => panic!("expected an update of the expression, got {other:?}"),
    }
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();

    assert_eq!(update.num_calls(), 1);
    assert_eq!(outputs.get(&arn).unwrap(), ARN);
}

#[tokio::test]
async fn an_unchanged_schedule_plans_no_op_and_makes_no_mutating_call() {
    let get = get(observed(
        "cron(0 3 * * ? *)",
        &format!("nightly report {MARKER}"),
        TD,
    ));
    // Only GetSchedule is mocked: any mutating call would panic ("no rule matched").
    let clients = Mocks {
        scheduler: vec![&get],
        ..Mocks::default()
    }
    .clients();

    let plan = apply(
        &clients,
        vec![fargate_core::resource::node(spec("cron(0 3 * * ? *)"))],
    )
    .await;

    assert_eq!(plan.changes[0].change, Change::NoOp);
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn a_schedule_with_our_name_but_no_ownership_marker_is_refused() {
    let get = get(observed("cron(0 3 * * ? *)", "made by hand", TD));
    let clients = Mocks {
        scheduler: vec![&get],
        ..Mocks::default()
    }
    .clients();
    let resources: Vec<Arc<dyn Resource<Clients>>> =
        vec![fargate_core::resource::node(spec("cron(0 3 * * ? *)"))];

    let err = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotOwned { .. }), "{err:?}");
    assert!(err.to_string().contains("made by hand"), "{err}");
    // Destroy leaves it alone and says why.
    let exe = Executable::plan(&clients, &resources, Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(exe.plan.changes[0].change, fargate_core::Change::NoOp);
    assert!(
        exe.plan.notes.iter().any(|n| n.contains("made by hand")),
        "{:?}",
        exe.plan.notes
    );
}

#[tokio::test]
async fn a_missing_schedule_is_nothing_to_destroy() {
    let get = mock!(Scheduler::get_schedule).then_error(|| {
        GetScheduleError::generic(aws_error_meta(
            "ResourceNotFoundException",
            "Schedule prod-report does not exist.",
        ))
    });
    let clients = Mocks {
        scheduler: vec![&get],
        ..Mocks::default()
    }
    .clients();
    let resources: Vec<Arc<dyn Resource<Clients>>> =
        vec![fargate_core::resource::node(spec("cron(0 3 * * ? *)"))];
    let exe = Executable::plan(&clients, &resources, Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(exe.plan.changes[0].change, Change::NoOp);
}

/// A task definition that plans a new revision and publishes its ARN when applied.
#[derive(Clone)]
struct NewRevision;

impl fargate_core::Kind<Clients> for NewRevision {
    type Observed = ();

    fn id(&self) -> ResourceId {
        ResourceId::new("ecs:task-definition", "prod-report")
    }

    fn observe<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<()>, Error>> {
        Box::pin(async { Ok(Some(())) })
    }

    fn diff(&self, _: Option<&()>, _: &fargate_core::Resolved) -> Result<Change, Error> {
        Ok(Change::Update { diffs: vec![] })
    }

    fn apply<'a>(
        &'a self,
        _: &'a Clients,
        ctx: &'a fargate_core::StepContext,
        _: &'a Change,
        _: Option<&'a ()>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            ctx.set(&self.id().output::<String>("arn"), TD_NEW.to_string());
            Ok(())
        })
    }

    fn destroy<'a>(
        &'a self,
        _: &'a Clients,
        _: &'a fargate_core::StepContext,
        _: &'a (),
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_new_task_definition_revision_is_planned_and_applied_to_the_target() {
    let get = get(observed(
        "cron(0 3 * * ? *)",
        &format!("nightly report {MARKER}"),
        TD,
    ));
    let update = mock!(Scheduler::update_schedule)
        .match_requests(|r| {
            r.target()
                .and_then(|t| t.ecs_parameters())
                .map(|e| e.task_definition_arn())
                == Some(TD_NEW)
        })
        .then_output(|| {
            UpdateScheduleOutput::builder()
                .schedule_arn(ARN)
                .build()
                .unwrap()
        });
    let clients = Mocks {
        scheduler: vec![&get, &update],
        ..Mocks::default()
    }
    .clients();
    let td = NewRevision;
    let spec = ScheduleSpec::new(
        owner(),
        "cron(0 3 * * ? *)".parse().unwrap(),
        target(Ref::Output(
            fargate_core::Kind::<Clients>::id(&td).output("arn"),
        ))
        .follows(fargate_core::Kind::<Clients>::id(&td)),
        Ref::Known(ROLE.into()),
    )
    .unwrap()
    .description("nightly report")
    .unwrap();

    let plan = apply(
        &clients,
        vec![
            fargate_core::resource::node(td),
            fargate_core::resource::node(spec),
        ],
    )
    .await;

    let schedule = plan
        .changes
        .iter()
        .find(|c| c.id.kind == "scheduler:schedule")
        .unwrap();
    match &schedule.change {
        Change::Update { diffs } => {
            assert_eq!(diffs.len(), 1, "{diffs:?}");
            assert_eq!(diffs[0].field, "target.task_definition");
            assert_eq!(diffs[0].new, Some(json!("(new revision of prod-report)")));
        }
        other => panic!("expected an update of the task definition, got {other:?}"),
    }
    assert_eq!(update.num_calls(), 1);
}

/// Right after its role was created, Scheduler may refuse the role ("must allow AWS
/// EventBridge Scheduler to assume the role"): CreateSchedule is tried again (with a new
/// client token, since the refused call created nothing), and only for that error.
#[tokio::test(start_paused = true)]
async fn create_schedule_is_retried_while_its_new_role_cannot_be_assumed() {
    use fargate_testkit::aws_sdk_scheduler::operation::create_schedule::{
        CreateScheduleError, CreateScheduleOutput,
    };
    use std::sync::Mutex;
    let get = mock!(Scheduler::get_schedule).then_error(|| {
        GetScheduleError::generic(aws_error_meta(
            "ResourceNotFoundException",
            "Schedule prod-report does not exist.",
        ))
    });
    let tokens = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = tokens.clone();
    let create = mock!(Scheduler::create_schedule)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.client_token().unwrap_or_default().to_string());
            true
        })
        .sequence()
        .error(|| {
            CreateScheduleError::generic(aws_error_meta(
                "ValidationException",
                "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
            ))
        })
        .times(2)
        .output(|| CreateScheduleOutput::builder().schedule_arn(ARN).build().unwrap())
        .build();
    let clients = Mocks {
        scheduler: vec![&get, &create],
        ..Mocks::default()
    }
    .clients();
    apply(
        &clients,
        vec![fargate_core::resource::node(spec("cron(0 3 * * ? *)"))],
    )
    .await;
    assert_eq!(create.num_calls(), 3);
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    assert!(tokens.iter().all(|t| t.len() == 36), "{tokens:?}");
    assert!(
        tokens[0] != tokens[1] && tokens[1] != tokens[2],
        "{tokens:?}"
    );

    // Another validation error is not retried.
    let other = mock!(Scheduler::create_schedule).then_error(|| {
        CreateScheduleError::generic(aws_error_meta(
            "ValidationException",
            "Invalid Schedule Expression cron(0 3 * *).",
        ))
    });
    let clients = Mocks {
        scheduler: vec![&get, &other],
        ..Mocks::default()
    }
    .clients();
    let resources: Vec<Arc<dyn Resource<Clients>>> =
        vec![fargate_core::resource::node(spec("cron(0 3 * * ? *)"))];
    let exe = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap();
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    assert!(
        graph
            .run(RunOptions::default())
            .await
            .into_result()
            .is_err()
    );
    assert_eq!(other.num_calls(), 1);
}
