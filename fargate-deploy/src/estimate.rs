//! Monthly cost **estimates** of an [`Environment`] and its apps, without AWS
//! calls: [`estimate_cost`] (or [`cost_inputs`] to adjust the usage
//! assumptions first, then [`fargate_core::cost::estimate`]).
//!
//! What is counted: each app's Fargate tasks ([`App::cost_inputs`]: size,
//! architecture, desired count, Fargate Spot share, public IPs), the shared
//! ALB and NLB when an app needs them, the network's NAT gateways or
//! interface endpoints (a new environment's network spans 2 availability
//! zones), public IPv4 addresses and log ingestion. Data transfer, ECR storage,
//! Secrets Manager, Container Insights and free tiers are not.
//!
//! ```
//! use fargate_core::cost::PricingTable;
//! use fargate_deploy::estimate::estimate_cost;
//! use fargate_deploy::{ContainerService, Environment};
//!
//! let env = Environment::builder().name("staging").build()?;
//! let worker = ContainerService::builder()
//!     .name("worker")
//!     .image("public.ecr.aws/docker/library/busybox:1.36")
//!     .cpu(512)
//!     .memory(1024)
//!     .desired_count(2)
//!     .build()?;
//! let estimate = estimate_cost(&env, &[&worker], &PricingTable::US_EAST_1);
//! // 2 × (0.5 vCPU × $0.04048 + 1 GB × $0.004445) × 730 h
//! assert_eq!(format!("{:.2}", estimate.lines[0].monthly_usd), "36.04");
//! println!("{estimate}");
//! # Ok::<(), fargate_core::Error>(())
//! ```

use fargate_core::cost::{
    CostEstimate, CostInputs, EbsCost, FREE_EPHEMERAL_GIB, HOURS_PER_MONTH, PricingTable, TaskCost,
    estimate,
};
use fargate_core::schedule::RateUnit;
use fargate_core::{Architecture, ScheduleExpression};
use fargate_net::network::Egress;

use crate::apps::AppSettings;
use crate::deployer::App;
use crate::environment::Environment;
use crate::service::Capacity;

/// Availability zones of a network an [`Environment`] creates (the network's default).
const ZONES: usize = 2;
/// Interface endpoints of [`Egress::VpcEndpoints`] (ECR api and dkr, Logs, Secrets Manager, SSM).
const INTERFACE_ENDPOINTS: usize = 5;
/// Public IPv4 addresses of an internet-facing ALB: one per zone.
const ALB_PUBLIC_IPS: usize = ZONES;
/// Assumed length of one scheduled job run.
pub const JOB_RUN_MINUTES: f64 = 10.0;
/// Minutes in the average month (730 hours).
const MINUTES_PER_MONTH: f64 = HOURS_PER_MONTH * 60.0;
/// Days in the average month.
const DAYS_PER_MONTH: f64 = 365.0 / 12.0;

/// The monthly cost estimate of deploying `apps` into `env`, at `table`'s prices,
/// with the default usage assumptions ([`fargate_core::cost::Usage`]).
pub fn estimate_cost(env: &Environment, apps: &[&dyn App], table: &PricingTable) -> CostEstimate {
    let (inputs, notes) = inputs_and_notes(env, apps);
    let mut e = estimate(&inputs, table);
    e.assumptions.extend(notes);
    e
}

/// What [`estimate_cost`] prices: adjust `usage` (API requests, NAT traffic, logs)
/// and pass it to [`fargate_core::cost::estimate`].
pub fn cost_inputs(env: &Environment, apps: &[&dyn App]) -> CostInputs {
    inputs_and_notes(env, apps).0
}

fn inputs_and_notes(env: &Environment, apps: &[&dyn App]) -> (CostInputs, Vec<String>) {
    let mut notes = Vec::new();
    let mut inputs = CostInputs::default();
    for app in apps {
        let tasks = app.cost_inputs(env);
        if tasks.is_empty()
            && let Some(service) = app.service(env)
        {
            // An app that does not describe its tasks: its service's count at the smallest size.
            let count = f64::from(service.desired_count.unwrap_or(1));
            notes.push(format!(
                "{}: task size unknown, assumed 0.25 vCPU / 0.5 GiB",
                app.name()
            ));
            inputs.tasks.push(TaskCost {
                spot_share: spot_share(&service.capacity, count),
                public_ip: service.assign_public_ip,
                ..TaskCost::service(app.name().to_string(), 0.25, 0.5, count)
            });
        }
        inputs.tasks.extend(tasks);
    }
    let needs: Vec<_> = apps.iter().map(|a| a.needs()).collect();
    let alb_adopted = env.shared_lb().alb_source().1.is_none();
    if needs.iter().any(|n| n.alb) {
        if alb_adopted {
            notes.push("the adopted ALB is not counted".into());
        } else {
            inputs.load_balancers.alb = 1;
            inputs.public_ipv4_addresses += count_u32(ALB_PUBLIC_IPS);
        }
    }
    if needs.iter().any(|n| !n.nlb_listener_ports.is_empty()) {
        if env.shared_lb().nlb_adopted() {
            notes.push("the adopted NLB is not counted".into());
        } else {
            inputs.load_balancers.nlb = 1;
        }
        notes.push(
            "API Gateway requests not counted: set usage.api_requests_per_month \
             (fargate_deploy::estimate::cost_inputs)"
                .into(),
        );
    }
    match env.network().egress() {
        Some(egress) => {
            let nats = egress.nat_gateways(ZONES);
            inputs.nat_gateways = count_u32(nats);
            inputs.public_ipv4_addresses += count_u32(nats);
            if egress == Egress::VpcEndpoints {
                inputs.vpc_endpoint_zones = count_u32(INTERFACE_ENDPOINTS * ZONES);
            }
        }
        None => {
            notes.push("adopted network: its NAT gateways or endpoints are not counted".to_string())
        }
    }
    (inputs, notes)
}

fn count_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The share of `count` tasks on Fargate Spot under `capacity`'s strategy.
fn spot_share(capacity: &Capacity, count: f64) -> f64 {
    let weights = f64::from(capacity.spot_weight) + f64::from(capacity.on_demand_weight);
    if capacity.spot_weight == 0 || count <= 0.0 || weights <= 0.0 {
        return 0.0;
    }
    let beyond_base = (count - f64::from(capacity.on_demand_base)).max(0.0);
    beyond_base * f64::from(capacity.spot_weight) / weights / count
}

/// The tasks of a service of `settings` running `count` tasks with `capacity`.
pub(crate) fn service_task(
    settings: &AppSettings,
    env: &Environment,
    name: String,
    count: u32,
    capacity: &Capacity,
) -> TaskCost {
    let count = f64::from(count);
    TaskCost {
        name,
        vcpu: settings.size.vcpu(),
        memory_gib: settings.size.memory_gib(),
        arm64: settings.architecture == Architecture::Arm64,
        spot_share: spot_share(capacity, count),
        count,
        ephemeral_gib: FREE_EPHEMERAL_GIB,
        hours_per_month: HOURS_PER_MONTH,
        public_ip: env.network().tasks_need_public_ip(),
        ebs: settings
            .volumes
            .iter()
            .find_map(|v| v.ebs.as_ref())
            .map(ebs_cost),
    }
}

/// The task of a job of `settings` run on `schedule` (`enabled` or not), each run
/// assumed to last [`JOB_RUN_MINUTES`].
pub(crate) fn job_task(
    settings: &AppSettings,
    env: &Environment,
    schedule: &ScheduleExpression,
    enabled: bool,
) -> TaskCost {
    let runs = if enabled {
        runs_per_month(schedule)
    } else {
        0.0
    };
    TaskCost {
        name: format!(
            "{} ({} runs × {JOB_RUN_MINUTES} min)",
            settings.name,
            runs.round()
        ),
        vcpu: settings.size.vcpu(),
        memory_gib: settings.size.memory_gib(),
        arm64: settings.architecture == Architecture::Arm64,
        spot_share: 0.0,
        count: 1.0,
        ephemeral_gib: FREE_EPHEMERAL_GIB,
        hours_per_month: runs * JOB_RUN_MINUTES / 60.0,
        public_ip: env.network().tasks_need_public_ip(),
        ebs: None,
    }
}

/// What a task's managed EBS volume is billed for: gp3 at its baseline 3000 IOPS and 125
/// MiB/s unless more is asked for; a volume from a snapshot without a size counted as 0 GiB
/// (its size is the snapshot's, unknown without AWS).
fn ebs_cost(v: &crate::ebs::EbsVolume) -> EbsCost {
    let gp3 = v.volume_type == "gp3";
    EbsCost {
        volume_type: v.volume_type.clone(),
        size_gib: f64::from(v.size_gib.unwrap_or(0)),
        iops: f64::from(v.iops.unwrap_or(if gp3 { 3000 } else { 0 })),
        throughput_mibps: f64::from(v.throughput.unwrap_or(if gp3 { 125 } else { 0 })),
    }
}

/// Runs of `schedule` in an average month: `rate` exactly; `cron` by counting the
/// matching minutes, hours, days and months (year ignored; `L`, `W` and `#` forms
/// count as one day a month); `at` once.
pub fn runs_per_month(schedule: &ScheduleExpression) -> f64 {
    match schedule {
        ScheduleExpression::Rate(r) => {
            let unit = match r.unit() {
                RateUnit::Minutes => 1.0,
                RateUnit::Hours => 60.0,
                RateUnit::Days => 1440.0,
            };
            MINUTES_PER_MONTH / (f64::from(r.value().max(1)) * unit)
        }
        ScheduleExpression::At(_) => 1.0,
        ScheduleExpression::Cron(c) => {
            let [minutes, hours, dom, month, dow, _year] = c.fields();
            let days = if dom == "?" {
                if dow.contains('L') || dow.contains('#') {
                    1.0
                } else {
                    matches(dow, 1, 7, DAYS) * DAYS_PER_MONTH / 7.0
                }
            } else if dom.contains('L') || dom.contains('W') {
                1.0
            } else {
                matches(dom, 1, 31, &[]) * DAYS_PER_MONTH / 31.0
            };
            matches(minutes, 0, 59, &[])
                * matches(hours, 0, 23, &[])
                * days
                * matches(month, 1, 12, MONTHS)
                / 12.0
        }
    }
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How many values from `lo` to `hi` a cron field (already validated) matches.
fn matches(field: &str, lo: u32, hi: u32, names: &[&str]) -> f64 {
    let value = |s: &str| -> Option<u32> {
        s.parse().ok().or_else(|| {
            names
                .iter()
                .position(|n| *n == s)
                .and_then(|i| u32::try_from(i).ok())
                .map(|i| lo + i)
        })
    };
    let mut hit = vec![false; usize::try_from(hi - lo + 1).unwrap_or(0)];
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, s.parse::<u32>().unwrap_or(1).max(1)),
            None => (item, 1),
        };
        let (from, to) = match base {
            "*" => (lo, hi),
            _ => match base.split_once('-') {
                Some((a, b)) => match (value(a), value(b)) {
                    (Some(a), Some(b)) => (a, b),
                    _ => continue,
                },
                None => match value(base) {
                    // `5/15` means from 5 to the end every 15.
                    Some(v) if item.contains('/') => (v, hi),
                    Some(v) => (v, v),
                    None => continue,
                },
            },
        };
        let mut v = from.max(lo);
        while v <= to.min(hi) {
            if let Some(slot) = usize::try_from(v - lo).ok().and_then(|i| hit.get_mut(i)) {
                *slot = true;
            }
            v = v.saturating_add(step);
        }
    }
    hit.iter().filter(|h| **h).count() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(s: &str) -> f64 {
        runs_per_month(&s.parse::<ScheduleExpression>().unwrap())
    }

    #[test]
    fn a_services_ebs_volume_is_priced_for_each_task_all_month() {
        let env = Environment::builder().name("staging").build().unwrap();
        let app = crate::ContainerService::builder()
            .name("db")
            .image("public.ecr.aws/docker/library/busybox:1.36")
            .desired_count(2)
            .volumes(vec![crate::AppVolume::ebs(
                "data",
                "/data",
                crate::ebs::EbsVolume::new(100).throughput(250),
            )])
            .build()
            .unwrap();
        let e = estimate_cost(&env, &[&app], &PricingTable::US_EAST_1);
        let usd = |start: &str| {
            e.lines
                .iter()
                .find(|l| l.item.starts_with(start))
                .map_or(f64::NAN, |l| l.monthly_usd)
        };
        // 2 tasks × 100 GB × $0.08; gp3's baseline IOPS are free; 125 MiB/s over × $0.04.
        assert!(
            (usd("EBS db: 100 GiB gp3 storage") - 16.0).abs() < 1e-9,
            "{e}"
        );
        assert!(
            (usd("EBS db: 100 GiB gp3 throughput") - 10.0).abs() < 1e-9,
            "{e}"
        );
        assert!(!e.lines.iter().any(|l| l.item.contains("gp3 IOPS")), "{e}");
    }

    #[test]
    fn rate_schedules_run_exactly_their_rate() {
        assert!((runs("rate(5 minutes)") - 8760.0).abs() < 1e-9);
        assert!((runs("rate(1 hour)") - 730.0).abs() < 1e-9);
        assert!((runs("rate(2 days)") - 15.208_333_333).abs() < 1e-6);
    }

    #[test]
    fn cron_schedules_count_matching_minutes_hours_days_and_months() {
        // daily at 03:00
        assert!((runs("cron(0 3 * * ? *)") - DAYS_PER_MONTH).abs() < 1e-9);
        // every 15 minutes on weekdays
        let weekdays = 5.0 * DAYS_PER_MONTH / 7.0;
        assert!((runs("cron(0/15 * ? * MON-FRI *)") - 4.0 * 24.0 * weekdays).abs() < 1e-9);
        // 09:00 and 09:30 in January only → twice a day for a twelfth of the year
        assert!((runs("cron(0,30 9 1-31 JAN ? *)") - 2.0 * DAYS_PER_MONTH / 12.0).abs() < 1e-9);
        // last day of the month
        assert!((runs("cron(0 0 L * ? *)") - 1.0).abs() < 1e-9);
        assert!((runs("cron(0 0 ? * 6#3 *)") - 1.0).abs() < 1e-9);
    }

    #[test]
    fn one_time_schedules_run_once() {
        assert!((runs("at(2030-01-31T09:00:00)") - 1.0).abs() < 1e-9);
    }

    fn env(egress: Egress) -> Environment {
        Environment::builder()
            .name("prod")
            .egress(egress)
            .build()
            .unwrap()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn a_service_counts_its_size_architecture_count_and_spot_share() {
        let worker = crate::ContainerService::builder()
            .name("worker")
            .image("busybox")
            .cpu(1024)
            .memory(2048)
            .desired_count(4)
            .spot_weight(1)
            .build()
            .unwrap();
        let inputs = cost_inputs(&env(Egress::SharedNat), &[&worker]);
        let t = &inputs.tasks[0];
        assert_eq!((t.vcpu, t.memory_gib, t.count), (1.0, 2.0, 4.0));
        assert!(!t.arm64 && !t.public_ip, "private subnets behind NAT");
        assert!(close(t.spot_share, 0.5));
        assert_eq!(inputs.nat_gateways, 1);
        assert_eq!(inputs.public_ipv4_addresses, 1, "the NAT gateway's address");
        assert_eq!(inputs.load_balancers, Default::default());
    }

    #[test]
    fn an_autoscaled_arm64_service_is_counted_at_its_minimum() {
        let api = crate::ContainerService::builder()
            .name("api")
            .image("busybox")
            .architecture(Architecture::Arm64)
            .autoscaling(crate::autoscaling::AutoscalingSpec::new(2, 10, Vec::new()).unwrap())
            .build()
            .unwrap();
        let inputs = cost_inputs(&env(Egress::PublicSubnets), &[&api]);
        let t = &inputs.tasks[0];
        assert!(t.arm64 && t.public_ip);
        assert_eq!(t.count, 2.0);
        assert!(t.name.contains("autoscaled 2-10"), "{}", t.name);
        assert_eq!(inputs.nat_gateways, 0);
    }

    #[test]
    fn a_daily_job_costs_a_month_of_ten_minute_runs() {
        let job = crate::ScheduledJob::builder()
            .name("nightly")
            .image("busybox")
            .schedule("cron(0 3 * * ? *)")
            .build()
            .unwrap();
        let inputs = cost_inputs(&env(Egress::PublicSubnets), &[&job]);
        assert!(close(inputs.tasks[0].hours_per_month, DAYS_PER_MONTH / 6.0));
        let e = estimate_cost(
            &env(Egress::PublicSubnets),
            &[&job],
            &PricingTable::US_EAST_1,
        );
        // (0.25 × 0.04048 + 0.5 × 0.004445) × 30.4167 runs × 1/6 h
        assert!(
            close(e.lines[0].monthly_usd, 0.0123425 * DAYS_PER_MONTH / 6.0),
            "{e}"
        );
        let disabled = crate::ScheduledJob::builder()
            .name("nightly")
            .image("busybox")
            .schedule("cron(0 3 * * ? *)")
            .enabled(false)
            .build()
            .unwrap();
        let inputs = cost_inputs(&env(Egress::PublicSubnets), &[&disabled]);
        assert_eq!(inputs.tasks[0].hours_per_month, 0.0);
    }

    #[test]
    fn frontend_and_backend_apps_add_the_shared_alb_and_nlb() {
        let web = crate::FrontendApp::builder()
            .service(
                crate::ContainerService::builder()
                    .name("web")
                    .image("nginx")
                    .port(80)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let api = crate::BackendApi::builder()
            .service(
                crate::ContainerService::builder()
                    .name("orders")
                    .image("nginx")
                    .port(8080)
                    .build()
                    .unwrap(),
            )
            .routes(vec!["GET /orders".into()])
            .build()
            .unwrap();
        let env = env(Egress::NatPerAz);
        let e = estimate_cost(&env, &[&web, &api], &PricingTable::US_EAST_1);
        let inputs = cost_inputs(&env, &[&web, &api]);
        assert_eq!(
            (inputs.load_balancers.alb, inputs.load_balancers.nlb),
            (1, 1)
        );
        assert_eq!(inputs.nat_gateways, 2);
        assert_eq!(
            inputs.public_ipv4_addresses,
            2 + 2,
            "ALB nodes and NAT gateways"
        );
        assert_eq!(inputs.tasks.len(), 2, "{e}");
        assert!(
            e.assumptions
                .iter()
                .any(|a| a.contains("API Gateway requests not counted"))
        );
        // An adopted NLB is someone else's cost.
        let adopted = crate::Environment::builder()
            .name("prod")
            .adopt_nlb(crate::AdoptNlb {
                load_balancer_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/shared/0123456789abcdef".into(),
                security_group_ids: vec!["sg-0123456789abcdef0".into()],
                vpc_link_id: None,
            })
            .build()
            .unwrap();
        assert_eq!(cost_inputs(&adopted, &[&api]).load_balancers.nlb, 0);
        let adopted_cost = estimate_cost(&adopted, &[&api], &PricingTable::US_EAST_1);
        assert!(
            adopted_cost
                .assumptions
                .iter()
                .any(|a| a.contains("adopted NLB")),
            "{adopted_cost}"
        );
        assert!(
            e.lines
                .iter()
                .any(|l| l.item == "Application Load Balancer")
        );
        assert!(e.lines.iter().any(|l| l.item == "Network Load Balancer"));
    }

    #[test]
    fn vpc_endpoint_egress_counts_five_endpoints_in_two_zones() {
        let inputs = cost_inputs(&env(Egress::VpcEndpoints), &[]);
        assert_eq!((inputs.vpc_endpoint_zones, inputs.nat_gateways), (10, 0));
    }

    #[test]
    fn spot_share_follows_weights_beyond_the_on_demand_base() {
        let c = Capacity {
            spot_weight: 3,
            on_demand_weight: 1,
            on_demand_base: 2,
        };
        // 10 tasks: 2 on-demand base, then 8 split 3:1 → 6 on Spot
        assert!((spot_share(&c, 10.0) - 0.6).abs() < 1e-9);
        assert!(spot_share(&Capacity::default(), 10.0).abs() < 1e-9);
        assert!(spot_share(&c, 0.0).abs() < 1e-9);
    }
}
