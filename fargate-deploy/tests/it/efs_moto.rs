//! Created EFS volumes against the moto server (issue #12), through the `Deployer`: an app
//! with `volumes: [{create: true}]` gets its encrypted file system, the NFS security group
//! and a mount target per task subnet; the task definition's volume names the created file
//! system (transit encryption and IAM authorization on); re-applying makes zero mutating
//! calls; destroy leaves no file system, mount target or security group.

use fargate_deploy::{AppVolume, ContainerService, Deployer, Environment};
use fargate_testkit::aws_sdk_ecs::types::{EfsAuthorizationConfigIam, EfsTransitEncryption};
use fargate_testkit::context;

fn service() -> ContainerService {
    ContainerService::builder()
        .name("files")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .volumes(vec![AppVolume::created("data", "/var/lib/files")])
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_created_efs_volume_is_deployed_reapplied_without_mutating_calls_and_destroyed() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("efs").build().unwrap();
    let app = service();

    let plan = d.plan(&env, &[&app]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("+ efs:file-system efs-files-data")
            && shown.contains("+ efs:mount-targets efs-files-data")
            && shown.contains("efs-files-data-efs"),
        "{shown}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    let efs = ctx.client::<fargate_testkit::aws_sdk_efs::Client>();
    let fss = efs
        .describe_file_systems()
        .creation_token("efs-files-data")
        .send()
        .await
        .unwrap();
    let [fs] = fss.file_systems() else {
        panic!("one file system: {fss:?}")
    };
    assert_eq!(fs.encrypted(), Some(true));
    let fs_id = fs.file_system_id().to_string();
    let targets = efs
        .describe_mount_targets()
        .file_system_id(&fs_id)
        .send()
        .await
        .unwrap();
    assert!(!targets.mount_targets().is_empty(), "{targets:?}");

    // The task definition's volume is the created file system, mounted by the container.
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("efs-files")
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    let volume = td
        .volumes()
        .iter()
        .find(|v| v.name() == Some("data"))
        .unwrap();
    let config = volume.efs_volume_configuration().unwrap();
    assert_eq!(config.file_system_id(), fs_id);
    assert_eq!(
        config.transit_encryption(),
        Some(&EfsTransitEncryption::Enabled)
    );
    assert_eq!(
        config.authorization_config().and_then(|a| a.iam()),
        Some(&EfsAuthorizationConfigIam::Enabled)
    );
    let mounts = td.container_definitions()[0].mount_points();
    assert_eq!(mounts[0].container_path(), Some("/var/lib/files"));
    assert!(
        td.task_role_arn().is_some(),
        "the task role mounts the file system"
    );

    // Re-apply: nothing to do, no mutating call.
    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Destroy: no file system, mount target or EFS security group is left.
    let all = d.plan_destroy(&env, &[&app]).await.unwrap();
    d.apply(all).await.unwrap_or_else(|e| panic!("{e}"));
    let left = efs.describe_file_systems().send().await.unwrap();
    assert!(left.file_systems().is_empty(), "{left:?}");
    let groups = ctx.ec2().describe_security_groups().send().await.unwrap();
    let names: Vec<&str> = groups
        .security_groups()
        .iter()
        .filter_map(|g| g.group_name())
        .collect();
    assert!(!names.iter().any(|n| n.contains("efs-files")), "{names:?}");
}

#[tokio::test]
async fn a_created_access_point_is_the_task_volumes_and_is_destroyed_with_the_file_system() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("efsap").build().unwrap();
    let app = ContainerService::builder()
        .name("files")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .volumes(vec![
            AppVolume::created("data", "/data").access_point(1000, 1000, "/app"),
        ])
        .build()
        .unwrap();

    let plan = d.plan(&env, &[&app]).await.unwrap();
    assert!(
        plan.to_string()
            .contains("+ efs:access-point efsap-files-data"),
        "{plan}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    let efs = ctx.client::<fargate_testkit::aws_sdk_efs::Client>();
    let fs_id = efs
        .describe_file_systems()
        .creation_token("efsap-files-data")
        .send()
        .await
        .unwrap()
        .file_systems()[0]
        .file_system_id()
        .to_string();
    let aps = efs
        .describe_access_points()
        .file_system_id(&fs_id)
        .send()
        .await
        .unwrap();
    let [ap] = aps.access_points() else {
        panic!("one access point: {aps:?}")
    };
    let user = ap.posix_user().unwrap();
    assert_eq!((user.uid(), user.gid()), (1000, 1000));
    assert_eq!(ap.root_directory().and_then(|r| r.path()), Some("/app"));

    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("efsap-files")
        .send()
        .await
        .unwrap();
    let config = td.task_definition().unwrap().volumes()[0]
        .efs_volume_configuration()
        .unwrap()
        .clone();
    assert_eq!(config.file_system_id(), fs_id);
    assert_eq!(
        config
            .authorization_config()
            .and_then(|a| a.access_point_id()),
        ap.access_point_id()
    );

    let again = d.plan(&env, &[&app]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    let all = d.plan_destroy(&env, &[&app]).await.unwrap();
    d.apply(all).await.unwrap_or_else(|e| panic!("{e}"));
    let left = efs.describe_file_systems().send().await.unwrap();
    assert!(left.file_systems().is_empty(), "{left:?}");
    let aps = efs.describe_access_points().send().await.unwrap();
    assert!(aps.access_points().is_empty(), "{aps:?}");
}
