//! fargate-deploy's integration tests: every builder against aws-smithy-mocks and the moto server.
//!
//! All integration tests of the crate are modules of this one binary (`tests/it/`), so the
//! crate's tests are linked once and, where they use moto, share one moto server (each test in
//! its own account, see `fargate_testkit::context`). Add a test file here as a module, not as
//! a new `tests/*.rs`.

/// Helpers shared by the test modules (`crate::support::...`).
mod support;

mod adopt_nlb_moto;
mod autoscaling_mocks;
mod autoscaling_moto;
mod backend_api_moto;
mod batched_reads_moto;
mod cli_json_ebs;
mod cli_json_features;
mod cli_json_features_moto;
mod cli_json_import;
mod cli_json_plan_mocks;
mod cli_json_roundtrip;
mod cli_json_run_task;
mod cli_json_service_connect;
mod common_mocks;
mod common_moto;
mod container_service_moto;
mod continue_mocks;
mod deployment_mocks;
mod deployment_moto;
mod discovery_mocks;
mod discovery_moto;
mod domain_mocks;
mod domain_moto;
mod ebs_mocks;
mod ebs_moto;
mod efs_mocks;
mod efs_moto;
mod efs_volume_mocks;
mod exec_mocks;
mod express_mocks;
mod faults_moto;
mod frontend_app_moto;
mod logs_tail_mocks;
mod logs_tail_moto;
mod plan_snapshots_moto;
mod preflight_moto;
mod queue_mocks;
mod queue_moto;
mod rollout_mocks;
mod run_task_mocks;
mod run_task_moto;
mod saved_plan_moto;
mod schedule_mocks;
mod schedule_moto;
mod scheduled_job_moto;
mod service_connect_mocks;
mod service_connect_moto;
mod shared_env_moto;
mod sidecar_moto;
mod validation_mocks;
