//! Input validation before any AWS call, and the pre-flight look-ups, against
//! aws-smithy-mocks: the builders refuse bad input at `build()`, `validate` and
//! `Deployer::plan` refuse bad combinations of apps with zero AWS calls (the mocked
//! clients have no rule for anything, so any call would panic), and `preflight::check`
//! makes each distinct look-up once and turns "not found" into typed findings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use fargate_core::{CallRecorder, Error, Ident, Mode, Resource};
use fargate_deploy::deployer::App;
use fargate_deploy::preflight::{self, PreflightError};
use fargate_deploy::{
    AwsContext, Clients, ContainerService, Deployer, Environment, FrontendApp, Image, ScheduledJob,
};
use fargate_testkit::aws_error_meta;
use fargate_testkit::aws_sdk_ecr::operation::describe_images::{
    DescribeImagesError, DescribeImagesOutput,
};
use fargate_testkit::aws_sdk_ecr::types::ImageDetail;
use fargate_testkit::aws_sdk_secretsmanager::operation::describe_secret::{
    DescribeSecretError, DescribeSecretOutput,
};
use fargate_testkit::aws_sdk_ssm::operation::describe_parameters::DescribeParametersOutput;
use fargate_testkit::aws_sdk_ssm::types::ParameterMetadata;
use fargate_testkit::aws_smithy_mocks::mock;
use fargate_testkit::{aws_sdk_ecr, aws_sdk_secretsmanager, aws_sdk_ssm};
use proptest::prelude::*;

use crate::support::Mocks;

const ACCOUNT: &str = "123456789012";

fn env() -> Environment {
    Environment::builder().name("prod").build().unwrap()
}

fn invalid(e: Error) -> fargate_core::InvalidValue {
    match e {
        Error::Invalid(v) => v,
        other => panic!("expected bad input, got {other}"),
    }
}

/// A deployer whose clients answer nothing: any AWS call panics ("no rule matched").
fn offline_deployer() -> Deployer {
    Deployer::from_clients(Mocks::default().clients(), CallRecorder::new())
}

fn worker(name: &str) -> ContainerService {
    ContainerService::builder()
        .name(name)
        .image("busybox:1.36")
        .build()
        .unwrap()
}

fn web(name: &str, priority: u32) -> FrontendApp {
    FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name(name)
                .image("nginx:1.27")
                .port(80)
                .build()
                .unwrap(),
        )
        .paths(vec![format!("/{name}/*")])
        .priority(priority)
        .build()
        .unwrap()
}

#[tokio::test]
async fn duplicate_app_names_are_refused_with_zero_aws_calls() {
    let env = env();
    let (a, b) = (worker("api"), worker("api"));
    let e = invalid(preflight::validate(&env, &[&a, &b]).unwrap_err());
    assert_eq!(e.field, "app name");
    assert_eq!(e.value, "api");
    assert_eq!(e.reason, "two apps in one environment have this name");
    let d = offline_deployer();
    let e = invalid(d.plan(&env, &[&a, &b]).await.unwrap_err());
    assert_eq!(e.field, "app name");
}

#[tokio::test]
async fn clashing_load_balancer_rules_are_refused_with_zero_aws_calls() {
    let env = env();
    let (a, b) = (web("shop", 10), web("blog", 10));
    let e = invalid(preflight::validate(&env, &[&a, &b]).unwrap_err());
    assert_eq!(e.field, "blog.priority");
    assert!(e.reason.contains("shop has a listener rule"), "{e}");
    let e = invalid(offline_deployer().plan(&env, &[&a, &b]).await.unwrap_err());
    assert_eq!(e.field, "blog.priority");
    // Different priorities: no clash.
    assert!(preflight::validate(&env, &[&a, &web("blog", 11)]).is_ok());
}

/// A frontend with the default (preferred) priority on `/<name>/*`.
fn default_web(name: &str) -> FrontendApp {
    FrontendApp::builder()
        .service(
            ContainerService::builder()
                .name(name)
                .image("nginx:1.27")
                .port(80)
                .build()
                .unwrap(),
        )
        .paths(vec![format!("/{name}/*")])
        .build()
        .unwrap()
}

#[test]
fn coinciding_default_priorities_are_no_clash() {
    let env = env();
    // Find two names whose preferred positions coincide (same band, same hash slot).
    let apps: Vec<FrontendApp> = (0..200).map(|i| default_web(&format!("a{i}"))).collect();
    let (x, y) = apps
        .iter()
        .enumerate()
        .find_map(|(i, x)| {
            apps[i + 1..]
                .iter()
                .find(|y| y.priority() == x.priority())
                .map(|y| (x, y))
        })
        .expect("200 names in 500 slots share a preferred priority");
    assert!(preflight::validate(&env, &[x, y]).is_ok());
    // An explicit priority on another app's preferred position is no clash either: the
    // preferred one moves at plan time.
    let z = web("z", x.priority());
    assert!(preflight::validate(&env, &[x, &z]).is_ok());
}

#[tokio::test]
async fn more_rules_than_an_alb_takes_are_refused_with_zero_aws_calls() {
    let env = env();
    let apps: Vec<FrontendApp> = (0..101).map(|i| default_web(&format!("app-{i}"))).collect();
    let refs: Vec<&dyn App> = apps.iter().map(|a| a as &dyn App).collect();
    let e = invalid(preflight::validate(&env, &refs).unwrap_err());
    assert_eq!(e.field, "app-100.listener_rule");
    assert_eq!(e.value, "101 rules");
    assert!(e.reason.contains("more than the 100 AWS allows"), "{e}");
    assert!(e.allowed.contains("another environment"), "{e}");
    let e = invalid(offline_deployer().plan(&env, &refs).await.unwrap_err());
    assert_eq!(e.field, "app-100.listener_rule");
    assert!(preflight::validate(&env, &refs[..100]).is_ok(), "100 fit");
}

/// An app that names itself `then` without a builder.
struct Then(Ident);

impl App for Then {
    fn name(&self) -> &Ident {
        &self.0
    }
    fn resources(
        &self,
        _: &Environment,
        _: &AwsContext,
    ) -> Result<Vec<Arc<dyn Resource<Clients>>>, Error> {
        Ok(Vec::new())
    }
    fn service(&self, _: &Environment) -> Option<fargate_deploy::service::ServiceSpec> {
        None
    }
    fn output_keys(
        &self,
        _: &Environment,
    ) -> Vec<(String, fargate_core::OutputKey<String>, String)> {
        Vec::new()
    }
}

#[tokio::test]
async fn the_app_name_then_is_refused_with_its_reason() {
    let e = invalid(
        ContainerService::builder()
            .name("then")
            .image("busybox")
            .build()
            .unwrap_err(),
    );
    assert_eq!(e.field, "name");
    assert_eq!(e.value, "then");
    assert!(e.reason.contains("`then`"), "{e}");
    assert!(e.reason.contains("separates chained steps"), "{e}");
    let job = ScheduledJob::builder()
        .name("then")
        .image("busybox")
        .schedule("rate(1 hour)")
        .build();
    assert_eq!(invalid(job.unwrap_err()).field, "name");
    // Names that merely start with it are fine.
    assert!(
        ContainerService::builder()
            .name("thenable")
            .image("busybox")
            .build()
            .is_ok()
    );
    // An App that is not built by a builder is refused by validate, before any call.
    let then = Then("then".parse().unwrap());
    let e = invalid(preflight::validate(&env(), &[&then]).unwrap_err());
    assert_eq!(e.field, "name");
    let e = invalid(offline_deployer().plan(&env(), &[&then]).await.unwrap_err());
    assert_eq!(e.value, "then");
}

#[test]
fn log_retention_is_checked_at_build() {
    let allowed = "1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, \
                   2192, 2557, 2922, 3288, 3653";
    let service = ContainerService::builder()
        .name("api")
        .image("busybox")
        .log_retention_days(10)
        .build()
        .unwrap_err();
    let e = invalid(service);
    assert_eq!(e.field, "api.log_retention_days");
    assert_eq!(e.value, "10");
    assert_eq!(e.allowed, allowed);
    let job = ScheduledJob::builder()
        .name("etl")
        .image("busybox")
        .schedule("rate(1 hour)")
        .log_retention_days(0)
        .build()
        .unwrap_err();
    assert_eq!(invalid(job).field, "etl.log_retention_days");
    for days in [1, 30, 3653] {
        assert!(
            ContainerService::builder()
                .name("api")
                .image("busybox")
                .log_retention_days(days)
                .build()
                .is_ok(),
            "{days}"
        );
    }
}

#[test]
fn time_zones_are_checked_against_the_tz_database_at_build() {
    let job = |tz: &str| {
        ScheduledJob::builder()
            .name("etl")
            .image("busybox")
            .schedule("cron(0 3 * * ? *)")
            .timezone(tz)
            .build()
    };
    let e = invalid(job("Mars/Olympus_Mons").unwrap_err());
    assert_eq!(e.field, "etl.timezone");
    assert!(e.reason.contains("IANA time zone database"), "{e}");
    let e = invalid(job("EUROPE/PARIS").unwrap_err());
    assert_eq!(e.field, "etl.timezone");
    assert!(e.reason.contains(r#"did you mean "Europe/Paris"?"#), "{e}");
    assert!(job("Europe/Paris").is_ok());
    assert!(job("America/Argentina/Buenos_Aires").is_ok());
}

#[test]
fn a_50_mb_environment_value_is_refused_at_build_naming_the_field() {
    let big = "x".repeat(50 * 1024 * 1024);
    let e = invalid(
        ContainerService::builder()
            .name("api")
            .image("busybox")
            .env(BTreeMap::from([
                ("BIG".to_string(), big),
                ("MODE".to_string(), "full".to_string()),
            ]))
            .build()
            .unwrap_err(),
    );
    assert_eq!(e.field, "container.api.environment.BIG");
    assert_eq!(e.value, "52428800 bytes");
    assert!(e.reason.contains("65536"), "{e}");
    assert!(e.allowed.contains("64 KiB"), "{e}");
    // The error never carries the value itself.
    assert!(e.to_string().len() < 1000);
}

#[test]
fn many_values_over_64_kib_in_all_are_refused_naming_the_largest() {
    let mut env: BTreeMap<String, String> = (0..20)
        .map(|i| (format!("PART_{i:02}"), "y".repeat(3000)))
        .collect();
    env.insert("LARGEST".into(), "z".repeat(8000));
    let e = invalid(
        ContainerService::builder()
            .name("api")
            .image("busybox")
            .env(env.clone())
            .build()
            .unwrap_err(),
    );
    assert_eq!(e.field, "container.api.environment.LARGEST");
    assert_eq!(e.value, "8000 bytes");
    assert!(e.reason.contains("would be about"), "{e}");
    // The same values with a little room left are fine.
    env.retain(|k, _| k.as_str() < "PART_10");
    assert!(
        ContainerService::builder()
            .name("api")
            .image("busybox")
            .env(env)
            .build()
            .is_ok()
    );
}

#[test]
fn job_env_too_large_for_run_task_is_refused_at_build() {
    let e = invalid(
        ScheduledJob::builder()
            .name("etl")
            .image("busybox")
            .schedule("rate(1 hour)")
            .job_env(BTreeMap::from([("PAYLOAD".to_string(), "p".repeat(9000))]))
            .build()
            .unwrap_err(),
    );
    assert_eq!(e.field, "etl.job_env");
    assert!(e.allowed.contains("8192"), "{e}");
}

#[test]
fn debug_of_builders_and_apps_redacts_secret_looking_values() {
    let spec_env = BTreeMap::from([
        ("API_TOKEN".to_string(), "abc123".to_string()),
        ("DB".to_string(), "postgresql://u:hunter2@h/db".to_string()),
        ("MODE".to_string(), "full".to_string()),
    ]);
    let spec = ScheduledJob::builder()
        .name("etl")
        .image("busybox")
        .schedule("rate(1 hour)")
        .env(spec_env.clone())
        .job_env(spec_env.clone());
    let job = spec.build().unwrap();
    let service = ContainerService::builder()
        .name("api")
        .image("busybox")
        .env(spec_env)
        .build()
        .unwrap();
    for shown in [
        format!("{job:?}"),
        format!("{:?}", job.job_override()),
        format!("{service:?}"),
    ] {
        assert!(!shown.contains("abc123"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("\"MODE\": \"full\""), "{shown}");
        assert!(shown.contains("(sensitive)"), "{shown}");
    }
    // What is sent keeps the real value.
    assert_eq!(
        job.job_override().to_json()["environment"][0]["value"],
        "abc123"
    );
}

fn clients_for(mocks: &Mocks<'_>) -> Clients {
    mocks.clients()
}

fn secret_arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}")
}

fn ecr_app(name: &str, tag: &str, secrets: &[(&str, String)]) -> ContainerService {
    ContainerService::builder()
        .name(name)
        .image(Image::Ecr { tag: tag.into() })
        .secrets(
            secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn preflight_turns_missing_things_into_typed_findings_with_one_call_each() {
    let images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("prod/api"))
        .then_error(|| {
            DescribeImagesError::generic(aws_error_meta("ImageNotFoundException", "no such tag"))
        });
    let repo_missing = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("prod/new"))
        .then_error(|| {
            DescribeImagesError::generic(aws_error_meta(
                "RepositoryNotFoundException",
                "no such repository",
            ))
        });
    let pushed = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("prod/ok"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(ImageDetail::builder().image_tags("1.0").build())
                .build()
        });
    let missing_secret = mock!(aws_sdk_secretsmanager::Client::describe_secret)
        .match_requests(|r| r.secret_id() == Some(&*secret_arn("db-AbCdEf")))
        .then_error(|| {
            DescribeSecretError::generic(aws_error_meta("ResourceNotFoundException", "gone"))
        });
    let deleted_secret = mock!(aws_sdk_secretsmanager::Client::describe_secret)
        .match_requests(|r| r.secret_id() == Some("old"))
        .then_output(|| {
            DescribeSecretOutput::builder()
                .name("old")
                .deleted_date(aws_smithy_types_now())
                .build()
        });
    let parameters = mock!(aws_sdk_ssm::Client::describe_parameters)
        .match_requests(|r| {
            r.parameter_filters()
                .first()
                .is_some_and(|f| f.values() == ["/prod/token"])
        })
        .then_output(|| DescribeParametersOutput::builder().build());
    let found_parameter = mock!(aws_sdk_ssm::Client::describe_parameters)
        .match_requests(|r| {
            r.parameter_filters()
                .first()
                .is_some_and(|f| f.values() == ["flat", "/flat"])
        })
        .then_output(|| {
            DescribeParametersOutput::builder()
                .parameters(ParameterMetadata::builder().name("/flat").build())
                .build()
        });
    let mocks = Mocks {
        ecr: vec![&images, &repo_missing, &pushed],
        secrets: vec![&missing_secret, &deleted_secret],
        ssm: vec![&parameters, &found_parameter],
        ..Mocks::default()
    };
    let clients = clients_for(&mocks);
    let shared = secret_arn("db-AbCdEf");
    let api = ecr_app(
        "api",
        "2.0",
        &[
            ("DB_PASSWORD", shared.clone()),
            ("TOKEN", "/prod/token".into()),
            (
                "FLAT",
                format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/flat"),
            ),
        ],
    );
    let new = ecr_app("new", "1.0", &[("OLD", secret_arn("old"))]);
    let ok = ecr_app(
        "ok",
        "1.0",
        &[
            ("DB_PASSWORD", shared.clone()),
            // Another region: not checked, a note says so (and no call is made).
            (
                "ELSEWHERE",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf".into(),
            ),
        ],
    );
    let env = env();
    let found = preflight::check(&clients, &env, &[&api, &new, &ok], Mode::Apply)
        .await
        .unwrap();
    let expected = [
        PreflightError::ImageNotPushed {
            app: "api".into(),
            repository: "prod/api".into(),
            image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/prod/api:2.0".into(),
        },
        PreflightError::SecretNotFound {
            app: "new".into(),
            env_var: "OLD".into(),
            secret: secret_arn("old"),
            reason: "is scheduled for deletion".into(),
        },
        PreflightError::ParameterNotFound {
            app: "api".into(),
            env_var: "TOKEN".into(),
            parameter: "/prod/token".into(),
        },
        PreflightError::SecretNotFound {
            app: "api".into(),
            env_var: "DB_PASSWORD".into(),
            secret: shared.clone(),
            reason: "does not exist".into(),
        },
        PreflightError::SecretNotFound {
            app: "ok".into(),
            env_var: "DB_PASSWORD".into(),
            secret: shared.clone(),
            reason: "does not exist".into(),
        },
    ];
    for b in &expected {
        assert!(found.blockers.contains(b), "{b:?} not in {found:#?}");
    }
    assert_eq!(found.blockers.len(), 5, "{found:#?}");
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.contains("prod/new does not exist yet; this apply creates it")),
        "{found:#?}"
    );
    assert!(
        found.notes.iter().any(|n| n.contains("ELSEWHERE")
            && n.contains("eu-west-1")
            && n.contains("not checked")),
        "{found:#?}"
    );
    // Each distinct look-up once: the secret shared by two apps is described once.
    for (rule, n) in [
        (&images, 1),
        (&repo_missing, 1),
        (&pushed, 1),
        (&missing_secret, 1),
        (&deleted_secret, 1),
        (&parameters, 1),
        (&found_parameter, 1),
    ] {
        assert_eq!(rule.num_calls(), n);
    }
    // Nothing is checked for a destroy (the rules would count it).
    let none = preflight::check(&clients, &env, &[&api, &new, &ok], Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(none, preflight::Preflight::default());
    assert_eq!(images.num_calls(), 1);
}

#[tokio::test]
async fn preflight_without_permission_is_a_note_not_a_blocker() {
    let denied = mock!(aws_sdk_secretsmanager::Client::describe_secret).then_error(|| {
        DescribeSecretError::generic(aws_error_meta("AccessDeniedException", "not allowed"))
    });
    let mocks = Mocks {
        secrets: vec![&denied],
        ..Mocks::default()
    };
    let app = ContainerService::builder()
        .name("api")
        .image("busybox")
        .secrets(BTreeMap::from([(
            "DB".to_string(),
            secret_arn("db-AbCdEf"),
        )]))
        .build()
        .unwrap();
    let found = preflight::check(&mocks.clients(), &env(), &[&app], Mode::Apply)
        .await
        .unwrap();
    assert!(found.is_clear(), "{found:#?}");
    assert_eq!(found.notes.len(), 1, "{found:#?}");
    assert!(
        found.notes[0].contains("no permission to call secretsmanager:DescribeSecret"),
        "{found:#?}"
    );
}

fn aws_smithy_types_now() -> fargate_testkit::aws_sdk_secretsmanager::primitives::DateTime {
    fargate_testkit::aws_sdk_secretsmanager::primitives::DateTime::from_secs(1_700_000_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the environment values, building never panics; a refusal names an
    /// environment variable of the container and never carries its value.
    #[test]
    fn task_definition_size_check_never_panics(
        sizes in prop::collection::vec(0usize..40_000, 0..6),
    ) {
        let env: BTreeMap<String, String> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("VAR_{i}"), "v".repeat(*n)))
            .collect();
        let total: usize = sizes.iter().sum();
        match ContainerService::builder().name("api").image("busybox").env(env).build() {
            Ok(_) => prop_assert!(total < 65_536, "{total} bytes accepted"),
            Err(e) => {
                let e = invalid(e);
                prop_assert!(e.field.starts_with("container.api.environment.VAR_"), "{}", e);
                prop_assert!(e.value.ends_with(" bytes"), "{}", e);
                prop_assert!(total > 60_000, "{total} bytes refused");
            }
        }
    }

    /// Any time zone string: no panic; refused ones name the job's timezone field.
    #[test]
    fn time_zone_strings_never_panic(tz in any::<String>()) {
        let built = ScheduledJob::builder()
            .name("etl")
            .image("busybox")
            .schedule("rate(1 hour)")
            .timezone(tz)
            .build();
        if let Err(e) = built {
            prop_assert_eq!(invalid(e).field, "etl.timezone");
        }
    }

    /// Any retention: no panic; exactly CloudWatch's values are accepted.
    #[test]
    fn log_retention_days_never_panic(days in any::<u16>()) {
        let built = ContainerService::builder()
            .name("api")
            .image("busybox")
            .log_retention_days(days)
            .build();
        let allowed = fargate_deploy::logs::RetentionDays::ALLOWED.contains(&days);
        prop_assert_eq!(built.is_ok(), allowed);
        if let Err(e) = built {
            prop_assert_eq!(invalid(e).field, "api.log_retention_days");
        }
    }
}
