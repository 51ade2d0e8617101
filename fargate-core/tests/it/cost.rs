//! Cost estimates and the Lambda-or-Fargate adviser, against hand-computed numbers.

use std::time::Duration;

use fargate_core::advise::{LambdaLimits, Recommendation, Workload, advise, advise_with};
use fargate_core::cost::{
    CostEstimate, CostInputs, LoadBalancers, PricingTable, TaskCost, Usage, estimate,
};
use proptest::prelude::*;

const P: PricingTable = PricingTable::US_EAST_1;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn line<'a>(e: &'a CostEstimate, starts: &str) -> &'a fargate_core::cost::CostLine {
    e.lines
        .iter()
        .find(|l| l.item.starts_with(starts))
        .unwrap_or_else(|| panic!("no line {starts:?} in\n{e}"))
}

fn no_logs() -> Usage {
    Usage {
        log_gb_per_task_month: 0.0,
        ..Usage::default()
    }
}

#[test]
fn two_half_vcpu_x86_on_demand_tasks_cost_36_04_a_month_plus_logs() {
    let inputs = CostInputs {
        tasks: vec![TaskCost::service("web", 0.5, 1.0, 2.0)],
        ..CostInputs::default()
    };
    let e = estimate(&inputs, &P);
    // 2 × (0.5 × 0.04048 + 1 × 0.004445) × 730
    let fargate = line(&e, "Fargate web");
    assert!(close(fargate.monthly_usd, 36.0401), "{e}");
    assert!(close(fargate.quantity, 1460.0));
    assert!(close(fargate.unit_price, 0.024685));
    // 2 task-months × 1 GB × $0.50
    assert!(close(line(&e, "CloudWatch Logs").monthly_usd, 1.0));
    assert!(close(e.total_monthly_usd, 37.0401));
    assert_eq!(e.lines.len(), 2, "no zero lines: {e}");
    assert_eq!(
        (e.region.as_str(), e.table_date.as_str()),
        ("us-east-1", "2026-11-24")
    );
}

#[test]
fn arm64_tasks_use_the_arm_prices() {
    let inputs = CostInputs {
        tasks: vec![TaskCost {
            arm64: true,
            ..TaskCost::service("api", 1.0, 2.0, 1.0)
        }],
        usage: no_logs(),
        ..CostInputs::default()
    };
    // (1 × 0.03238 + 2 × 0.00356) × 730
    assert!(close(estimate(&inputs, &P).total_monthly_usd, 28.835));
}

#[test]
fn spot_share_discounts_that_share_of_the_tasks_by_70_percent() {
    let inputs = CostInputs {
        tasks: vec![TaskCost {
            spot_share: 0.5,
            ..TaskCost::service("worker", 0.25, 0.5, 4.0)
        }],
        usage: no_logs(),
        ..CostInputs::default()
    };
    let e = estimate(&inputs, &P);
    // (0.25 × 0.04048 + 0.5 × 0.004445) × (1 − 0.5 × 0.7) × 4 × 730
    assert!(close(e.total_monthly_usd, 23.426065), "{e}");
    assert!(line(&e, "Fargate worker").item.contains("50 % Spot"));
    assert!(e.assumptions.iter().any(|a| a.contains("70 % off")));
}

#[test]
fn arm64_tasks_get_the_spot_discount_since_fargate_spot_runs_arm64() {
    let inputs = CostInputs {
        tasks: vec![TaskCost {
            arm64: true,
            spot_share: 1.0,
            ..TaskCost::service("api", 1.0, 2.0, 1.0)
        }],
        usage: no_logs(),
        ..CostInputs::default()
    };
    let e = estimate(&inputs, &P);
    // On demand 28.835 a month; all on Spot at 70 % off.
    assert!(
        close(e.total_monthly_usd, 28.835 * 0.3),
        "{}",
        e.total_monthly_usd
    );
    assert!(
        !e.assumptions
            .iter()
            .any(|a| a.contains("does not run ARM64"))
    );

    // A table that says otherwise prices ARM64 on demand, and says why.
    let table = PricingTable {
        fargate_spot_arm64: false,
        ..P.clone()
    };
    let e = estimate(&inputs, &table);
    assert!(close(e.total_monthly_usd, 28.835));
    assert!(
        e.assumptions
            .iter()
            .any(|a| a.contains("does not run ARM64"))
    );
}

#[test]
fn only_ephemeral_storage_over_20_gib_is_charged() {
    let inputs = CostInputs {
        tasks: vec![
            TaskCost {
                ephemeral_gib: 50.0,
                ..TaskCost::service("big", 0.25, 0.5, 1.0)
            },
            TaskCost {
                ephemeral_gib: 20.0,
                ..TaskCost::service("small", 0.25, 0.5, 1.0)
            },
        ],
        usage: no_logs(),
        ..CostInputs::default()
    };
    let e = estimate(&inputs, &P);
    // 30 GB × 730 h × 0.000111
    assert!(close(line(&e, "Fargate big: storage").monthly_usd, 2.4309));
    assert!(
        !e.lines
            .iter()
            .any(|l| l.item.starts_with("Fargate small: storage"))
    );
}

#[test]
fn load_balancers_nat_gateways_public_ips_and_api_requests_are_priced() {
    let inputs = CostInputs {
        tasks: vec![TaskCost {
            public_ip: true,
            ..TaskCost::service("web", 0.25, 0.5, 2.0)
        }],
        load_balancers: LoadBalancers { alb: 1, nlb: 1 },
        nat_gateways: 2,
        vpc_endpoint_zones: 10,
        public_ipv4_addresses: 0,
        usage: Usage {
            api_requests_per_month: 3_000_000.0,
            ..Usage::default()
        },
    };
    let e = estimate(&inputs, &P);
    assert!(close(
        line(&e, "Application Load Balancer").monthly_usd,
        16.425
    ));
    assert!(close(line(&e, "ALB capacity units").monthly_usd, 5.84));
    assert!(close(line(&e, "Network Load Balancer").monthly_usd, 16.425));
    assert!(close(line(&e, "NLB capacity units").monthly_usd, 4.38));
    assert!(close(line(&e, "NAT gateway").monthly_usd, 65.7));
    assert!(close(line(&e, "NAT gateway data").monthly_usd, 0.45));
    assert!(close(line(&e, "interface VPC endpoints").monthly_usd, 73.0));
    assert!(close(line(&e, "public IPv4").monthly_usd, 7.3));
    assert!(close(line(&e, "API Gateway").monthly_usd, 3.0));
    let sum: f64 = e.lines.iter().map(|l| l.monthly_usd).sum();
    assert!(close(e.total_monthly_usd, sum));
    for a in ["capacity unit", "NAT gateways", "API requests", "logs"] {
        assert!(e.assumptions.iter().any(|s| s.contains(a)), "{a}: {e}");
    }
}

#[test]
fn a_scheduled_job_costs_its_run_hours_only() {
    let inputs = CostInputs {
        tasks: vec![TaskCost {
            hours_per_month: 5.0, // 30 runs × 10 minutes
            ..TaskCost::service("nightly", 0.25, 0.5, 1.0)
        }],
        usage: no_logs(),
        ..CostInputs::default()
    };
    assert!(close(estimate(&inputs, &P).total_monthly_usd, 0.0617125));
}

#[test]
fn invalid_quantities_count_as_zero() {
    let inputs = CostInputs {
        tasks: vec![TaskCost {
            spot_share: f64::NAN,
            ephemeral_gib: f64::INFINITY,
            ..TaskCost::service("bad", -1.0, f64::NAN, 3.0)
        }],
        usage: Usage {
            log_gb_per_task_month: -5.0,
            lcu_per_load_balancer: f64::NAN,
            nat_gb_per_month: f64::NEG_INFINITY,
            api_requests_per_month: -1.0,
        },
        ..CostInputs::default()
    };
    let e = estimate(&inputs, &P);
    assert!(e.total_monthly_usd == 0.0, "{e}");
    assert!(e.lines.iter().all(|l| l.monthly_usd == 0.0));
}

#[test]
fn display_labels_the_estimate_with_region_date_and_total() {
    let inputs = CostInputs {
        tasks: vec![TaskCost::service("web", 0.5, 1.0, 2.0)],
        ..CostInputs::default()
    };
    let text = estimate(&inputs, &P).to_string();
    assert!(text.starts_with("Monthly cost ESTIMATE"), "{text}");
    assert!(
        text.contains("us-east-1") && text.contains("2026-11-24"),
        "{text}"
    );
    assert!(text.contains("$     37.04"), "{text}");
    assert!(text.contains("assumptions:"), "{text}");
}

#[test]
fn pricing_tables_load_from_json_and_reject_bad_prices() {
    let json = serde_json::to_string(&P).unwrap();
    assert_eq!(PricingTable::from_json(&json).unwrap(), P);
    let bad = json.replace("\"alb_hour\":0.0225", "\"alb_hour\":-1.0");
    assert_eq!(
        PricingTable::from_json(&bad).unwrap_err().field,
        "pricing.alb_hour"
    );
    let bad = json.replace(
        "\"fargate_spot_discount\":0.7",
        "\"fargate_spot_discount\":1.5",
    );
    assert_eq!(
        PricingTable::from_json(&bad).unwrap_err().field,
        "pricing.fargate_spot_discount"
    );
    assert_eq!(PricingTable::from_json("{}").unwrap_err().field, "pricing");
}

// ---- the adviser ----

fn mb(n: u64) -> u64 {
    n * 1024 * 1024
}

#[test]
fn a_low_volume_bursty_api_is_cheaper_on_lambda() {
    let advice = advise(&Workload::default(), &P);
    assert_eq!(advice.recommendation, Recommendation::Lambda, "{advice}");
    // 1M × 0.2 s × 0.5 GB × 0.0000166667 + 1 × 0.20
    assert!(close(advice.lambda_monthly_usd.unwrap(), 1.86667));
    // one 256 CPU / 512 MiB task all month
    assert!(close(advice.fargate_monthly_usd, 9.010025));
    assert!(
        advice.reasons[0].starts_with("Lambda is cheaper"),
        "{advice}"
    );
}

#[test]
fn a_high_volume_steady_api_is_cheaper_on_fargate() {
    let w = Workload {
        requests_per_month: 300_000_000,
        duration: Duration::from_millis(100),
        always_on: true,
        ..Workload::default()
    };
    let advice = advise(&w, &P);
    assert_eq!(advice.recommendation, Recommendation::Fargate, "{advice}");
    // 300M × 0.1 s × 0.5 GB × 0.0000166667 + 300 × 0.20
    assert!(close(advice.lambda_monthly_usd.unwrap(), 310.0005));
    // average concurrency 30M s / 2.628M s ≈ 11.4 → 2 tasks of 10
    assert!(close(advice.fargate_monthly_usd, 2.0 * 9.010025));
    assert!(
        advice.reasons[0].starts_with("Fargate is cheaper"),
        "{advice}"
    );
}

#[test]
fn similar_costs_recommend_either() {
    let w = Workload {
        requests_per_month: 4_800_000,
        duration: Duration::from_millis(200),
        ..Workload::default()
    };
    let advice = advise(&w, &P);
    assert_eq!(advice.recommendation, Recommendation::Either, "{advice}");
}

#[test]
fn each_lambda_limit_flips_the_recommendation_to_fargate_naming_the_limit() {
    let base = Workload::default();
    assert_eq!(advise(&base, &P).recommendation, Recommendation::Lambda);
    let cases: Vec<(Workload, &str)> = vec![
        (
            Workload {
                sync_request_bytes: Some(mb(6) + 1),
                ..base.clone()
            },
            "request payload",
        ),
        (
            Workload {
                sync_response_bytes: Some(mb(7)),
                ..base.clone()
            },
            "response payload 7 MB exceeds Lambda's 6 MB",
        ),
        (
            Workload {
                sync_request_bytes: None,
                sync_response_bytes: None,
                async_payload_bytes: Some(mb(2)),
                ..base.clone()
            },
            "asynchronous payload 2 MB exceeds Lambda's 1 MB",
        ),
        (
            Workload {
                duration: Duration::from_secs(16 * 60),
                ..base.clone()
            },
            "15-minute timeout",
        ),
        (
            Workload {
                memory_mib: 10_241,
                ..base.clone()
            },
            "10240 MB maximum",
        ),
        (
            Workload {
                long_lived_connections: true,
                ..base.clone()
            },
            "long-lived connections",
        ),
    ];
    for (w, reason) in cases {
        let advice = advise(&w, &P);
        assert_eq!(advice.recommendation, Recommendation::Fargate, "{reason}");
        assert!(advice.reasons[0].contains(reason), "{reason}: {advice}");
        assert_eq!(advice.lambda_monthly_usd, None);
    }
}

#[test]
fn payloads_at_the_limits_still_fit_lambda() {
    let w = Workload {
        sync_request_bytes: Some(mb(6)),
        sync_response_bytes: Some(mb(6)),
        async_payload_bytes: Some(mb(1)),
        duration: Duration::from_secs(15 * 60),
        memory_mib: 10_240,
        requests_per_month: 1000,
        ..Workload::default()
    };
    let advice = advise(&w, &P);
    assert!(advice.lambda_monthly_usd.is_some(), "{advice}");
}

#[test]
fn the_old_256_kb_async_limit_can_be_given() {
    let w = Workload {
        sync_request_bytes: None,
        sync_response_bytes: None,
        async_payload_bytes: Some(512 * 1024),
        ..Workload::default()
    };
    assert_ne!(advise(&w, &P).recommendation, Recommendation::Fargate);
    let old = LambdaLimits {
        async_payload_bytes: 256 * 1024,
        ..LambdaLimits::CURRENT
    };
    let advice = advise_with(&w, &P, &old);
    assert_eq!(advice.recommendation, Recommendation::Fargate);
    assert!(advice.reasons[0].contains("256 KB"), "{advice}");
}

#[test]
fn long_rare_async_jobs_run_one_fargate_task_per_request() {
    let w = Workload {
        sync_request_bytes: None,
        sync_response_bytes: None,
        async_payload_bytes: Some(1000),
        duration: Duration::from_secs(20 * 60),
        requests_per_month: 100,
        ..Workload::default()
    };
    let advice = advise(&w, &P);
    assert_eq!(advice.recommendation, Recommendation::Fargate);
    // 100 × (1200 + 30) s / 3600 × 0.0123425
    assert!(close(advice.fargate_monthly_usd, 0.4217020833), "{advice}");
    assert!(
        advice.reasons.iter().any(|r| r.contains("one task")),
        "{advice}"
    );
}

#[test]
fn advice_displays_the_recommendation_and_reasons() {
    let text = advise(&Workload::default(), &P).to_string();
    assert!(
        text.starts_with("Recommendation: Lambda\n  - Lambda is cheaper"),
        "{text}"
    );
    assert!(text.contains("Lambda $1.87, Fargate $9.01"), "{text}");
}

fn any_task() -> impl Strategy<Value = TaskCost> {
    (
        any::<f64>(),
        any::<f64>(),
        any::<bool>(),
        any::<f64>(),
        any::<f64>(),
        any::<f64>(),
        any::<f64>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                vcpu,
                memory_gib,
                arm64,
                spot_share,
                count,
                ephemeral_gib,
                hours_per_month,
                public_ip,
            )| {
                TaskCost {
                    name: "t".into(),
                    vcpu,
                    memory_gib,
                    arm64,
                    spot_share,
                    count,
                    ephemeral_gib,
                    hours_per_month,
                    public_ip,
                    ebs: None,
                }
            },
        )
}

proptest! {
    #[test]
    fn estimates_are_finite_and_non_negative(
        tasks in proptest::collection::vec(any_task(), 0..4),
        alb in any::<u32>(), nlb in any::<u32>(), nat in any::<u32>(),
        endpoints in any::<u32>(), ips in any::<u32>(),
        logs in any::<f64>(), lcu in any::<f64>(), nat_gb in any::<f64>(), api in any::<f64>(),
    ) {
        let inputs = CostInputs {
            tasks,
            load_balancers: LoadBalancers { alb, nlb },
            nat_gateways: nat,
            vpc_endpoint_zones: endpoints,
            public_ipv4_addresses: ips,
            usage: Usage {
                log_gb_per_task_month: logs,
                lcu_per_load_balancer: lcu,
                nat_gb_per_month: nat_gb,
                api_requests_per_month: api,
            },
        };
        let e = estimate(&inputs, &P);
        prop_assert!(e.total_monthly_usd.is_finite() && e.total_monthly_usd >= 0.0);
        for l in &e.lines {
            prop_assert!(l.monthly_usd.is_finite() && l.monthly_usd >= 0.0);
        }
        let _ = e.to_string();
    }

    #[test]
    fn advice_never_panics_and_costs_are_finite_and_non_negative(
        req in proptest::option::of(any::<u64>()),
        resp in proptest::option::of(any::<u64>()),
        asynchronous in proptest::option::of(any::<u64>()),
        secs in any::<u64>(), nanos in 0u32..1_000_000_000,
        memory_mib in any::<u32>(), requests_per_month in any::<u64>(),
        always_on in any::<bool>(), long_lived_connections in any::<bool>(),
        concurrency_per_task in any::<u32>(), arm64 in any::<bool>(),
    ) {
        let w = Workload {
            sync_request_bytes: req,
            sync_response_bytes: resp,
            async_payload_bytes: asynchronous,
            duration: Duration::new(secs, nanos),
            memory_mib,
            requests_per_month,
            always_on,
            long_lived_connections,
            concurrency_per_task,
            arm64,
        };
        let a = advise(&w, &P);
        prop_assert!(a.fargate_monthly_usd.is_finite() && a.fargate_monthly_usd >= 0.0);
        if let Some(l) = a.lambda_monthly_usd {
            prop_assert!(l.is_finite() && l >= 0.0);
        }
        prop_assert!(!a.reasons.is_empty());
        let _ = a.to_string();
    }
}
