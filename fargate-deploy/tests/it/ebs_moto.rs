//! Managed EBS volumes and job volumes against the moto server (issue #12), through the
//! `Deployer`.
//!
//! moto 5.2.5 keeps the task definition's `configuredAtLaunch` volume but ignores the
//! service's `volumeConfigurations` (its CreateService and UpdateService do not read them,
//! its deployments have none): the ECS requests are tested in `ebs_mocks`. Here, the rest of
//! the lifecycle: the app's ECS infrastructure role (trust, managed policy) and its task
//! definition are created, the plan shows the volume; re-applying makes zero mutating calls
//! (a primary deployment without `volumeConfigurations` is taken as asked for, see
//! `fargate_deploy::ebs`); a new mount path is a new revision; destroy deletes the role.
//! Removing the volume deletes the role (it is registered with the app), and a role of that
//! name without our tags is left alone. And a scheduled job with a created EFS volume and a bind mount: its file system, task
//! volumes and mounts, destroyed with the job.

use fargate_deploy::ebs::EbsVolume;
use fargate_deploy::{AppVolume, ContainerService, Deployer, Environment, ScheduledJob};
use fargate_testkit::context;

fn service(path: &str) -> ContainerService {
    ContainerService::builder()
        .name("web")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .volumes(vec![AppVolume::ebs(
            "data",
            path,
            EbsVolume::new(40).throughput(300),
        )])
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_ebs_volume_is_deployed_reapplied_without_mutating_calls_updated_and_destroyed() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("ebs").build().unwrap();
    let app = service("/var/lib/data");

    let plan = d.plan(&env, &[&app]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("+ iam:role ebs-web-ecs-ebs")
            && shown.contains("data (configured at launch)")
            && shown.contains(
                "data: size_gib=40 type=gp3 iops=3000 throughput=300 filesystem=xfs \
                 snapshot=- encrypted=true kms_key=default role=ebs-web-ecs-ebs"
            ),
        "{shown}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    let iam = ctx.iam();
    let role = iam
        .get_role()
        .role_name("ebs-web-ecs-ebs")
        .send()
        .await
        .unwrap();
    let trust = role.role().unwrap().assume_role_policy_document().unwrap();
    assert!(trust.contains("ecs.amazonaws.com"), "{trust}");
    let attached = iam
        .list_attached_role_policies()
        .role_name("ebs-web-ecs-ebs")
        .send()
        .await
        .unwrap();
    let policies: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name())
        .collect();
    assert_eq!(policies, ["AmazonECSInfrastructureRolePolicyForVolumes"]);

    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("ebs-web")
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    let [volume] = td.volumes() else {
        panic!("one volume: {:?}", td.volumes())
    };
    assert_eq!(
        (volume.name(), volume.configured_at_launch()),
        (Some("data"), Some(true))
    );
    assert!(volume.host().is_none() && volume.efs_volume_configuration().is_none());
    let mounts = td.container_definitions()[0].mount_points();
    assert_eq!(
        (mounts[0].source_volume(), mounts[0].container_path()),
        (Some("data"), Some("/var/lib/data"))
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

    // Update: another mount path is a new revision, the service follows it.
    let moved = service("/srv/data");
    let plan = d.plan(&env, &[&moved]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("~ ecs:task-definition ebs-web") && shown.contains("~ ecs:service"),
        "{shown}"
    );
    assert!(!shown.contains("iam:role ebs-web-ecs-ebs"), "{shown}");
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    let after = d.plan(&env, &[&moved]).await.unwrap();
    assert!(!after.has_changes(), "{after}");

    // Destroy: the role goes with the app.
    let all = d.plan_destroy(&env, &[&moved]).await.unwrap();
    d.apply(all).await.unwrap_or_else(|e| panic!("{e}"));
    let roles = iam.list_roles().send().await.unwrap();
    let names: Vec<&str> = roles.roles().iter().map(|r| r.role_name()).collect();
    assert!(!names.iter().any(|n| n.starts_with("ebs-web")), "{names:?}");
}

#[tokio::test]
async fn a_removed_ebs_volume_takes_its_role_and_a_foreign_role_of_that_name_stays() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("ebsrm").build().unwrap();
    let iam = ctx.iam();
    let role_exists = |iam: fargate_testkit::aws_sdk_iam::Client| async move {
        match iam.get_role().role_name("ebsrm-web-ecs-ebs").send().await {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                false
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    let plan = d.plan(&env, &[&service("/data")]).await.unwrap();
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(role_exists(iam.clone()).await);

    // The volume is removed: the service's update, then the role's deletion.
    let plain = ContainerService::builder()
        .name("web")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .build()
        .unwrap();
    let plan = d.plan(&env, &[&plain]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("~ ecs:task-definition ebsrm-web")
            && shown.contains("- fargate:retired iam:role ebsrm-web-ecs-ebs"),
        "{shown}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!role_exists(iam.clone()).await, "the role is left");

    // Nothing left to do: one read of the role, no mutating call.
    let again = d.plan(&env, &[&plain]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    // Someone else's role of that name (no tags of ours) is left alone, by apply and destroy.
    iam.create_role()
        .role_name("ebsrm-web-ecs-ebs")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    let foreign = d.plan(&env, &[&plain]).await.unwrap();
    assert!(!foreign.has_changes(), "{foreign}");
    d.apply(foreign).await.unwrap();
    let all = d.plan_destroy(&env, &[&plain]).await.unwrap();
    assert!(!all.to_string().contains("ecs-ebs"), "{all}");
    d.apply(all).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        role_exists(iam.clone()).await,
        "someone else's role was deleted"
    );
}

#[tokio::test]
async fn a_job_with_efs_and_bind_volumes_runs_with_them_and_destroys_its_file_system() {
    let ctx = context().await;
    let d = Deployer::with_interceptors(&ctx.sdk_config(), ctx.interceptors())
        .await
        .unwrap();
    let env = Environment::builder().name("jobfs").build().unwrap();
    let job = ScheduledJob::builder()
        .name("etl")
        .image("public.ecr.aws/docker/library/busybox:1.36")
        .schedule("rate(1 day)")
        .memory_reservation(256)
        .volumes(vec![
            AppVolume::created("work", "/work").read_only(),
            AppVolume::bind("scratch", "/scratch"),
        ])
        .build()
        .unwrap();

    let plan = d.plan(&env, &[&job]).await.unwrap();
    let shown = plan.to_string();
    assert!(
        shown.contains("+ efs:file-system jobfs-etl-work")
            && shown.contains("+ efs:mount-targets jobfs-etl-work"),
        "{shown}"
    );
    d.apply(plan).await.unwrap_or_else(|e| panic!("{e}"));

    let efs = ctx.client::<fargate_testkit::aws_sdk_efs::Client>();
    let fss = efs
        .describe_file_systems()
        .creation_token("jobfs-etl-work")
        .send()
        .await
        .unwrap();
    let [fs] = fss.file_systems() else {
        panic!("one file system: {fss:?}")
    };
    let td = ctx
        .ecs()
        .describe_task_definition()
        .task_definition("jobfs-etl")
        .send()
        .await
        .unwrap();
    let td = td.task_definition().unwrap();
    let volume = |name: &str| {
        td.volumes()
            .iter()
            .find(|v| v.name() == Some(name))
            .unwrap_or_else(|| panic!("{name}: {:?}", td.volumes()))
    };
    let config = volume("work").efs_volume_configuration().unwrap();
    assert_eq!(config.file_system_id(), fs.file_system_id());
    assert!(volume("scratch").efs_volume_configuration().is_none());
    let mut mounts: Vec<_> = td.container_definitions()[0]
        .mount_points()
        .iter()
        .map(|m| (m.source_volume(), m.container_path(), m.read_only()))
        .collect();
    mounts.sort();
    assert_eq!(
        mounts,
        [
            (Some("scratch"), Some("/scratch"), Some(false)),
            (Some("work"), Some("/work"), Some(true)),
        ]
    );

    // Run now: one RunTask of the same task definition (its volumes with it).
    let mark = ctx.recorder().mark();
    let outcome = d
        .run(
            &env,
            &job,
            vec![job.job_override().clone()],
            std::time::Duration::from_secs(120),
            fargate_core::EventSink::none(),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(outcome.task_arn.contains(":task/"), "{outcome:?}");
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        vec!["ECS.RunTask"]
    );
    let tasks = ctx
        .ecs()
        .describe_tasks()
        .cluster("jobfs")
        .tasks(&outcome.task_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        tasks.tasks()[0].task_definition_arn(),
        td.task_definition_arn()
    );

    let again = d.plan(&env, &[&job]).await.unwrap();
    assert!(!again.has_changes(), "{again}");
    let mark = ctx.recorder().mark();
    d.apply(again).await.unwrap();
    assert_eq!(
        ctx.recorder().mutating_calls_since(mark),
        Vec::<String>::new()
    );

    let all = d.plan_destroy(&env, &[&job]).await.unwrap();
    d.apply(all).await.unwrap_or_else(|e| panic!("{e}"));
    let left = efs.describe_file_systems().send().await.unwrap();
    assert!(left.file_systems().is_empty(), "{left:?}");
}
