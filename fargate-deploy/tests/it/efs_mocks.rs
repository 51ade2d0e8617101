//! Created EFS file systems against mocked clients (issue #12): the exact calls of creating
//! an encrypted file system by its creation token (waited for until available) and a mount
//! target in each task subnet with the EFS security group; a retried create
//! (`FileSystemAlreadyExists`) uses the existing one; re-planning what exists makes no
//! mutating call; a file system with our creation token but without our tags is refused;
//! destroy deletes the mount targets, waits until they are gone, then the file system.

use std::sync::Arc;

use fargate_core::exec::RunOptions;
use fargate_core::resource::node;
use fargate_core::{Error, Executable, Mode, Ownership, Ref, Resource, Tags};
use fargate_deploy::Clients;
use fargate_deploy::efs::{FileSystemSpec, MountTargetsSpec, creation_token, file_system_id};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_efs::Client as Efs;
use fargate_testkit::aws_sdk_efs::operation::create_file_system::{
    CreateFileSystemError, CreateFileSystemOutput,
};
use fargate_testkit::aws_sdk_efs::operation::create_mount_target::CreateMountTargetOutput;
use fargate_testkit::aws_sdk_efs::operation::delete_file_system::DeleteFileSystemOutput;
use fargate_testkit::aws_sdk_efs::operation::delete_mount_target::DeleteMountTargetOutput;
use fargate_testkit::aws_sdk_efs::operation::describe_file_systems::DescribeFileSystemsOutput;
use fargate_testkit::aws_sdk_efs::operation::describe_mount_targets::DescribeMountTargetsOutput;
use fargate_testkit::aws_sdk_efs::primitives::DateTime;
use fargate_testkit::aws_sdk_efs::types::{
    FileSystemDescription, FileSystemSize, LifeCycleState, MountTargetDescription, PerformanceMode,
    Tag,
};
use fargate_testkit::aws_smithy_mocks::{Rule, mock};

use crate::support::Mocks;

const NAME: &str = "prod-api-data";
const FS: &str = "fs-0a1b2c3d4e5f67890";
const SG: &str = "sg-0efs";
const SUBNETS: [&str; 2] = ["subnet-a", "subnet-b"];

fn owner() -> Ownership {
    Ownership::new("prod".parse().unwrap())
        .with_app("api".parse().unwrap())
        .with_component("efs-data")
}

fn resources() -> Vec<Arc<dyn Resource<Clients>>> {
    vec![
        node(FileSystemSpec::new(NAME, owner(), Tags::new())),
        node(MountTargetsSpec::new(
            NAME,
            Ref::Known(SUBNETS.iter().map(|s| s.to_string()).collect()),
            Ref::Known(SG.to_string()),
            Vec::new(),
        )),
    ]
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn file_system(state: LifeCycleState, owned: bool) -> FileSystemDescription {
    let tags = if owned {
        vec![
            tag("fargate:managed-by", "fargate-rs"),
            tag("fargate:environment", "prod"),
            tag("fargate:app", "api"),
            tag("fargate:component", "efs-data"),
            tag("Name", NAME),
        ]
    } else {
        vec![tag("Name", NAME)]
    };
    FileSystemDescription::builder()
        .owner_id("123456789012")
        .creation_token(NAME)
        .file_system_id(FS)
        .file_system_arn(format!(
            "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/{FS}"
        ))
        .creation_time(DateTime::from_secs(0))
        .life_cycle_state(state)
        .number_of_mount_targets(0)
        .size_in_bytes(FileSystemSize::builder().value(0).build())
        .performance_mode(PerformanceMode::GeneralPurpose)
        .encrypted(true)
        .set_tags(Some(tags))
        .build()
        .unwrap()
}

fn described(fs: Option<FileSystemDescription>) -> DescribeFileSystemsOutput {
    DescribeFileSystemsOutput::builder()
        .set_file_systems(Some(fs.into_iter().collect()))
        .build()
}

fn target(subnet: &str, state: LifeCycleState) -> MountTargetDescription {
    MountTargetDescription::builder()
        .mount_target_id(format!("fsmt-{subnet}"))
        .file_system_id(FS)
        .subnet_id(subnet)
        .life_cycle_state(state)
        .build()
        .unwrap()
}

fn targets(state: Option<LifeCycleState>) -> DescribeMountTargetsOutput {
    DescribeMountTargetsOutput::builder()
        .set_mount_targets(Some(
            state
                .map(|s| SUBNETS.iter().map(|n| target(n, s.clone())).collect())
                .unwrap_or_default(),
        ))
        .build()
}

fn by_token() -> impl Fn(
    &fargate_testkit::aws_sdk_efs::operation::describe_file_systems::DescribeFileSystemsInput,
) -> bool {
    |r| r.creation_token() == Some(creation_token(NAME).as_str())
}

async fn run(clients: &Clients, mode: Mode) -> fargate_core::Plan {
    let exe = Executable::plan(clients, &resources(), mode).await.unwrap();
    let (plan, graph) = exe.into_graph(clients.clone()).unwrap();
    graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    plan
}

fn create_rules(already_exists: bool) -> [Rule; 4] {
    let describe_fs = mock!(Efs::describe_file_systems)
        .match_requests(by_token())
        .sequence()
        .output(|| described(None))
        .output(|| described(Some(file_system(LifeCycleState::Creating, true))))
        .output(|| described(Some(file_system(LifeCycleState::Available, true))))
        .build();
    let create_fs = if already_exists {
        mock!(Efs::create_file_system).then_error(|| {
            CreateFileSystemError::generic(aws_error_meta("FileSystemAlreadyExists", "exists"))
        })
    } else {
        mock!(Efs::create_file_system)
            .match_requests(|r| {
                let tags = r.tags();
                r.creation_token() == Some(NAME)
                    && r.encrypted() == Some(true)
                    && tags
                        .iter()
                        .any(|t| t.key() == "fargate:app" && t.value() == "api")
                    && tags.iter().any(|t| t.key() == "Name" && t.value() == NAME)
            })
            .then_output(|| {
                CreateFileSystemOutput::builder()
                    .owner_id("123456789012")
                    .creation_token(NAME)
                    .file_system_id(FS)
                    .creation_time(DateTime::from_secs(0))
                    .life_cycle_state(LifeCycleState::Creating)
                    .number_of_mount_targets(0)
                    .size_in_bytes(FileSystemSize::builder().value(0).build())
                    .performance_mode(PerformanceMode::GeneralPurpose)
                    .set_tags(Some(Vec::new()))
                    .build()
                    .unwrap()
            })
    };
    let describe_mt = mock!(Efs::describe_mount_targets)
        .match_requests(|r| r.file_system_id() == Some(FS))
        .sequence()
        .output(|| targets(None))
        .output(|| targets(Some(LifeCycleState::Creating)))
        .output(|| targets(Some(LifeCycleState::Available)))
        .build();
    let create_mt = mock!(Efs::create_mount_target)
        .match_requests(|r| {
            r.file_system_id() == Some(FS)
                && r.subnet_id().is_some_and(|s| SUBNETS.contains(&s))
                && r.security_groups() == [SG.to_string()]
        })
        .then_output(|| {
            CreateMountTargetOutput::builder()
                .mount_target_id("fsmt-1")
                .file_system_id(FS)
                .subnet_id("subnet-a")
                .life_cycle_state(LifeCycleState::Creating)
                .build()
                .unwrap()
        });
    [describe_fs, create_fs, describe_mt, create_mt]
}

#[tokio::test(start_paused = true)]
async fn creating_makes_an_encrypted_file_system_by_token_then_a_mount_target_per_subnet() {
    let [describe_fs, create_fs, describe_mt, create_mt] = create_rules(false);
    let clients = Mocks {
        efs: vec![&describe_fs, &create_fs, &describe_mt, &create_mt],
        ..Mocks::default()
    }
    .clients();
    let exe = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap();
    assert_eq!(exe.plan.summary().create, 2, "{}", exe.plan);
    assert_eq!(
        describe_mt.num_calls(),
        0,
        "no file system yet: its mount targets are not read"
    );
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    assert_eq!(create_fs.num_calls(), 1);
    assert_eq!(
        describe_fs.num_calls(),
        3,
        "observed, then waited for until available"
    );
    assert_eq!(create_mt.num_calls(), 2, "one mount target per subnet");
    assert_eq!(
        describe_mt.num_calls(),
        3,
        "listed, then waited for until available"
    );
    assert_eq!(outputs.get(&file_system_id(NAME)).unwrap(), FS);
}

#[tokio::test(start_paused = true)]
async fn a_retried_create_uses_the_file_system_of_its_creation_token() {
    let [describe_fs, create_fs, describe_mt, create_mt] = create_rules(true);
    let clients = Mocks {
        efs: vec![&describe_fs, &create_fs, &describe_mt, &create_mt],
        ..Mocks::default()
    }
    .clients();
    run(&clients, Mode::Apply).await;
    assert_eq!(create_fs.num_calls(), 1);
    assert_eq!(create_mt.num_calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn what_exists_re_plans_as_a_no_op_without_mutating_calls() {
    let describe_fs = mock!(Efs::describe_file_systems)
        .match_requests(by_token())
        .then_output(|| described(Some(file_system(LifeCycleState::Available, true))));
    let describe_mt = mock!(Efs::describe_mount_targets)
        .match_requests(|r| r.file_system_id() == Some(FS))
        .then_output(|| targets(Some(LifeCycleState::Available)));
    // Only reads have rules: any mutating call fails the test.
    let clients = Mocks {
        efs: vec![&describe_fs, &describe_mt],
        ..Mocks::default()
    }
    .clients();
    let plan = run(&clients, Mode::Apply).await;
    assert!(!plan.has_changes(), "{plan}");
    assert_eq!((describe_fs.num_calls(), describe_mt.num_calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_file_system_of_our_token_without_our_tags_is_refused() {
    let describe_fs = mock!(Efs::describe_file_systems)
        .match_requests(by_token())
        .then_output(|| described(Some(file_system(LifeCycleState::Available, false))));
    let clients = Mocks {
        efs: vec![&describe_fs],
        ..Mocks::default()
    }
    .clients();
    let err = Executable::plan(&clients, &resources(), Mode::Apply)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotOwned { .. }), "{err:?}");
    // Destroy leaves it alone, with a note; only the read has a rule: no mutating call.
    let plan = run(&clients, Mode::Destroy).await;
    assert!(!plan.has_changes(), "{plan}");
    let shown = plan.to_string();
    assert!(
        shown.contains("not owned by fargate-rs") && shown.contains(FS),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn destroy_deletes_the_mount_targets_waits_until_gone_then_the_file_system() {
    let describe_fs = mock!(Efs::describe_file_systems)
        .match_requests(by_token())
        .sequence()
        .output(|| described(Some(file_system(LifeCycleState::Available, true))))
        .output(|| described(Some(file_system(LifeCycleState::Deleting, true))))
        .build();
    let describe_mt = mock!(Efs::describe_mount_targets)
        .match_requests(|r| r.file_system_id() == Some(FS))
        .sequence()
        .output(|| targets(Some(LifeCycleState::Available)))
        .output(|| targets(Some(LifeCycleState::Available)))
        .output(|| targets(None))
        .build();
    let delete_mt = mock!(Efs::delete_mount_target)
        .match_requests(|r| {
            r.mount_target_id()
                .is_some_and(|m| m == "fsmt-subnet-a" || m == "fsmt-subnet-b")
        })
        .then_output(|| DeleteMountTargetOutput::builder().build());
    let delete_fs = mock!(Efs::delete_file_system)
        .match_requests(|r| r.file_system_id() == Some(FS))
        .then_output(|| DeleteFileSystemOutput::builder().build());
    let clients = Mocks {
        efs: vec![&describe_fs, &describe_mt, &delete_mt, &delete_fs],
        ..Mocks::default()
    }
    .clients();
    let plan = run(&clients, Mode::Destroy).await;
    assert_eq!(plan.summary().delete, 2, "{plan}");
    assert_eq!(delete_mt.num_calls(), 2);
    assert_eq!(
        describe_mt.num_calls(),
        3,
        "observed, then waited for until none is left"
    );
    assert_eq!(delete_fs.num_calls(), 1);
    assert_eq!(
        describe_fs.num_calls(),
        2,
        "observed, then waited for until deleting"
    );
}

#[test]
fn invalid_app_volumes_are_refused_naming_the_field_before_any_aws_call() {
    use fargate_deploy::{AppVolume, ContainerService};
    let build = |v: AppVolume| {
        ContainerService::builder()
            .name("files")
            .image("busybox:1.36")
            .volumes(vec![v])
            .build()
            .unwrap_err()
            .to_string()
    };
    let mut both = AppVolume::created("data", "/data");
    both.file_system_id = Some("fs-0123abcd".into());
    let e = build(both);
    assert!(e.contains("files.volumes.data.file_system_id"), "{e}");
    let mut neither = AppVolume::created("data", "/data");
    neither.create = false;
    let e = build(neither);
    assert!(e.contains("files.volumes.data.create"), "{e}");
    let e = build(AppVolume::created("Data_1", "/data"));
    assert!(
        e.contains("files.volumes.name") && e.contains("lower-case"),
        "{e}"
    );
    let e = build(AppVolume::existing("data", "/data", "fs-1"));
    assert!(e.contains("files.volumes.data.file_system_id"), "{e}");
    let e = build(AppVolume::created("data", "relative"));
    assert!(e.contains("files."), "{e}");
    // From an app file: the same field names, unknown fields refused.
    let spec: Result<fargate_deploy::apps::ContainerServiceSpec, _> =
        serde_json::from_value(serde_json::json!({"name": "files", "image": "busybox:1.36",
            "volumes": [{"name": "data", "path": "/data", "create": true, "size": 5}]}));
    assert!(spec.unwrap_err().to_string().contains("size"));
}

#[tokio::test(start_paused = true)]
async fn an_access_point_is_created_with_its_posix_user_and_root_directory() {
    use fargate_deploy::efs::{AccessPointSpec, access_point_id};
    use fargate_testkit::aws_sdk_efs::operation::create_access_point::CreateAccessPointOutput;
    use fargate_testkit::aws_sdk_efs::operation::describe_access_points::DescribeAccessPointsOutput;
    use fargate_testkit::aws_sdk_efs::types::AccessPointDescription;
    let describe_fs = mock!(Efs::describe_file_systems)
        .match_requests(by_token())
        .then_output(|| described(Some(file_system(LifeCycleState::Available, true))));
    let available = || {
        AccessPointDescription::builder()
            .access_point_id("fsap-0a1b2c3d4e5f67890")
            .file_system_id(FS)
            .life_cycle_state(LifeCycleState::Available)
            .set_tags(Some(vec![
                tag("fargate:managed-by", "fargate-rs"),
                tag("fargate:environment", "prod"),
                tag("fargate:app", "api"),
                tag("Name", NAME),
            ]))
            .build()
    };
    let describe_ap = mock!(Efs::describe_access_points)
        .match_requests(|r| r.file_system_id() == Some(FS))
        .sequence()
        .output(|| DescribeAccessPointsOutput::builder().build())
        .output(move || {
            DescribeAccessPointsOutput::builder()
                .access_points(available())
                .build()
        })
        .build();
    let create_ap = mock!(Efs::create_access_point)
        .match_requests(|r| {
            let root = r.root_directory();
            let info = root.and_then(|d| d.creation_info());
            r.file_system_id() == Some(FS)
                && r.client_token() == Some(NAME)
                && r.posix_user().map(|u| (u.uid(), u.gid())) == Some((1000, 1001))
                && root.and_then(|d| d.path()) == Some("/app")
                && info.map(|i| (i.owner_uid(), i.owner_gid(), i.permissions()))
                    == Some((1000, 1001, "0755"))
                && r.tags()
                    .iter()
                    .any(|t| t.key() == "Name" && t.value() == NAME)
        })
        .then_output(|| CreateAccessPointOutput::builder().build());
    let clients = Mocks {
        efs: vec![&describe_fs, &describe_ap, &create_ap],
        ..Mocks::default()
    }
    .clients();
    let resources: Vec<Arc<dyn Resource<Clients>>> = vec![
        node(FileSystemSpec::new(NAME, owner(), Tags::new())),
        node(AccessPointSpec::new(
            NAME,
            (1000, 1001),
            "/app",
            owner(),
            Tags::new(),
        )),
    ];
    let exe = Executable::plan(&clients, &resources, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(exe.plan.summary().create, 1, "{}", exe.plan);
    let (_, graph) = exe.into_graph(clients.clone()).unwrap();
    let outputs = graph
        .run(RunOptions::default())
        .await
        .into_result()
        .unwrap();
    assert_eq!(create_ap.num_calls(), 1);
    assert_eq!(
        outputs.get(&access_point_id(NAME)).unwrap(),
        "fsap-0a1b2c3d4e5f67890"
    );
}
