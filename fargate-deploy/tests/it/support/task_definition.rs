//! A task definition spec alone against mocked ECS: the clients, plan and apply of one
//! spec, the rules of "nothing registered yet", and what ECS describes after a register.

use std::sync::{Arc, Mutex};

use fargate_core::{Executable, Mode, Resource, RunOptions};
use fargate_deploy::Clients;
use fargate_deploy::task_definition::TaskDefinitionSpec;
use fargate_testkit::aws_sdk_ecs as ecs_sdk;
use fargate_testkit::aws_smithy_mocks::{Rule, RuleMode, mock};
use fargate_testkit::{CallRecorder, aws_error_meta, aws_sdk_ecs, mock_sdk_client};

use ecs_sdk::operation::register_task_definition::RegisterTaskDefinitionInput;

use super::Mocks;

/// The request a [`capturing_register`] rule last saw.
pub type Sent = Arc<Mutex<Option<RegisterTaskDefinitionInput>>>;

/// Clients whose ECS answers with `ecs` only, recorded by `recorder`.
pub fn clients(ecs: &[&Rule], recorder: &CallRecorder) -> Clients {
    let mut clients = Mocks::default().clients();
    clients.ecs = mock_sdk_client!(aws_sdk_ecs, RuleMode::MatchAny, ecs.iter().copied(), |c| c
        .interceptor(recorder.clone()));
    clients
}

/// The plan of `spec` alone, and its executable.
pub async fn plan(
    clients: &Clients,
    spec: TaskDefinitionSpec,
) -> (fargate_core::Plan, Executable<Clients>) {
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![fargate_core::resource::node(spec)];
    let exe = Executable::plan(clients, &resources, Mode::Apply)
        .await
        .unwrap();
    (exe.plan.clone(), exe)
}

/// Run `exe` to the end; it must succeed.
pub async fn apply(clients: &Clients, exe: Executable<Clients>) {
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
}

/// No revision of the family yet: DescribeTaskDefinition answers ECS's ClientException.
pub fn absent() -> Rule {
    use ecs_sdk::operation::describe_task_definition::DescribeTaskDefinitionError;
    mock!(aws_sdk_ecs::Client::describe_task_definition).then_error(|| {
        DescribeTaskDefinitionError::generic(aws_error_meta(
            "ClientException",
            "Unable to describe task definition.",
        ))
    })
}

/// RegisterTaskDefinition answering revision 1 of `arn`, keeping the request in `sent`.
pub fn capturing_register(sent: &Sent, arn: &'static str) -> Rule {
    use ecs_sdk::operation::register_task_definition::RegisterTaskDefinitionOutput;
    let capture = sent.clone();
    mock!(aws_sdk_ecs::Client::register_task_definition)
        .match_requests(move |r| {
            *capture.lock().unwrap() = Some(r.clone());
            true
        })
        .then_output(move || {
            RegisterTaskDefinitionOutput::builder()
                .task_definition(
                    ecs_sdk::types::TaskDefinition::builder()
                        .task_definition_arn(format!("{arn}:1"))
                        .revision(1)
                        .build(),
                )
                .build()
        })
}

/// What ECS describes as revision 1 of `arn` after `RegisterTaskDefinition(input)`: the
/// request as sent, with what ECS fills in and reports: `host: {}` for bind volumes, an EFS
/// volume's `rootDirectory` `/` and `transitEncryption` `DISABLED`, explicit `readOnly`,
/// empty lists for what was not sent, both compatibilities.
pub fn as_described(
    input: &RegisterTaskDefinitionInput,
    arn: &str,
) -> ecs_sdk::types::TaskDefinition {
    use ecs_sdk::types::*;
    let containers = input
        .container_definitions()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            for m in c.mount_points.get_or_insert_with(Vec::new) {
                m.read_only = Some(m.read_only.unwrap_or(false));
            }
            c.volumes_from.get_or_insert_with(Vec::new);
            c.ulimits.get_or_insert_with(Vec::new);
            c
        })
        .collect();
    let volumes = input
        .volumes()
        .iter()
        .map(|v| {
            let b = Volume::builder().set_name(v.name().map(str::to_string));
            match v.efs_volume_configuration() {
                Some(efs) => {
                    let mut efs = efs.clone();
                    efs.root_directory.get_or_insert_with(|| "/".to_string());
                    efs.transit_encryption
                        .get_or_insert(EfsTransitEncryption::Disabled);
                    b.efs_volume_configuration(efs).build()
                }
                None => b.host(HostVolumeProperties::builder().build()).build(),
            }
        })
        .collect();
    TaskDefinition::builder()
        .task_definition_arn(format!("{arn}:1"))
        .family(input.family().unwrap_or_default())
        .revision(1)
        .status(TaskDefinitionStatus::Active)
        .set_cpu(input.cpu().map(str::to_string))
        .set_memory(input.memory().map(str::to_string))
        .set_network_mode(input.network_mode().cloned())
        .set_requires_compatibilities(Some(input.requires_compatibilities().to_vec()))
        .compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Fargate)
        .set_runtime_platform(input.runtime_platform().cloned())
        .set_execution_role_arn(input.execution_role_arn().map(str::to_string))
        .set_task_role_arn(input.task_role_arn().map(str::to_string))
        .set_volumes(Some(volumes))
        .set_container_definitions(Some(containers))
        .build()
}
