//! Monthly cost **estimates** of Fargate deployments ([`estimate`]) from a
//! [`PricingTable`] kept as data, with its region and the date its prices were
//! checked.
//!
//! An estimate is not a quote: it uses list prices (no free tier, Savings Plans,
//! taxes or data transfer out) and the usage assumptions listed in
//! [`CostEstimate::assumptions`]. Pure: no AWS calls.
//!
//! ```rust
//! use fargate_core::cost::{CostInputs, PricingTable, TaskCost, estimate};
//!
//! let inputs = CostInputs {
//!     tasks: vec![TaskCost::service("web", 0.5, 1.0, 2.0)],
//!     ..CostInputs::default()
//! };
//! let e = estimate(&inputs, &PricingTable::US_EAST_1);
//! // 2 tasks × (0.5 vCPU × $0.04048 + 1 GB × $0.004445) × 730 h, plus 2 GB of logs.
//! assert_eq!(format!("{:.2}", e.lines[0].monthly_usd), "36.04");
//! assert!(e.to_string().contains("ESTIMATE"));
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::InvalidValue;

/// Hours in the average month (8,760 / 12), the unit AWS bills hourly prices in.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Ephemeral storage every Fargate task gets without charge, in GiB.
pub const FREE_EPHEMERAL_GIB: f64 = 20.0;

/// List prices in one region, in USD, as data.
///
/// [`PricingTable::US_EAST_1`] is built in; load another region's with
/// [`PricingTable::from_json`] (same field names as the serde form).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingTable {
    /// The AWS region the prices are for.
    pub region: Cow<'static, str>,
    /// The day the prices were checked (`YYYY-MM-DD`).
    pub date: Cow<'static, str>,
    /// The currency (`USD`).
    pub currency: Cow<'static, str>,
    /// Where the prices come from.
    pub source: Cow<'static, str>,
    /// Fargate Linux/x86 per vCPU-hour.
    pub fargate_vcpu_hour_x86: f64,
    /// Fargate Linux/x86 per GB-hour of memory.
    pub fargate_gb_hour_x86: f64,
    /// Fargate Linux/ARM64 per vCPU-hour.
    pub fargate_vcpu_hour_arm: f64,
    /// Fargate Linux/ARM64 per GB-hour of memory.
    pub fargate_gb_hour_arm: f64,
    /// The Fargate Spot discount against on-demand, as a fraction (`0.7` = 70 % off).
    /// Spot prices move; this is the usual figure.
    pub fargate_spot_discount: f64,
    /// Whether Fargate Spot runs Linux/ARM64 tasks. It does, on platform version 1.4.0 or
    /// later (ECS developer guide, "Amazon ECS clusters for Fargate": Fargate Spot supports
    /// Linux tasks with the ARM64 architecture; checked 2026-12-02). Kept as data so a table
    /// for a region where it does not can say so.
    #[serde(default = "spot_runs_arm64")]
    pub fargate_spot_arm64: bool,
    /// Fargate ephemeral storage beyond the free 20 GiB, per GB-hour.
    pub fargate_ephemeral_gb_hour: f64,
    /// Application Load Balancer per hour.
    pub alb_hour: f64,
    /// Application Load Balancer per LCU-hour.
    pub alb_lcu_hour: f64,
    /// Network Load Balancer per hour.
    pub nlb_hour: f64,
    /// Network Load Balancer per NLCU-hour.
    pub nlb_lcu_hour: f64,
    /// NAT gateway per hour.
    pub nat_gateway_hour: f64,
    /// NAT gateway per GB processed.
    pub nat_gateway_gb: f64,
    /// Interface VPC endpoint per endpoint per availability zone per hour.
    pub vpc_endpoint_hour: f64,
    /// Public IPv4 address per hour (in use or not).
    pub public_ipv4_hour: f64,
    /// CloudWatch Logs ingestion (standard class) per GB.
    pub logs_ingestion_gb: f64,
    /// API Gateway HTTP API per million requests (first 300 million a month).
    pub http_api_per_million: f64,
    /// Lambda x86 per GB-second of duration (first tier).
    pub lambda_gb_second_x86: f64,
    /// Lambda ARM64 per GB-second of duration (first tier).
    pub lambda_gb_second_arm: f64,
    /// Lambda per million requests.
    pub lambda_per_million_requests: f64,
    /// Amazon EBS volumes (ECS managed volumes), per GB-month and provisioned performance.
    #[serde(default)]
    pub ebs: EbsPrices,
}

/// Amazon EBS list prices in one region, USD per month (billed per second, pro-rated).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbsPrices {
    /// Where the EBS prices come from and the day they were checked.
    pub source: Cow<'static, str>,
    /// gp3 storage per GB-month.
    pub gp3_gb_month: f64,
    /// gp3 IOPS above the free 3,000, per IOPS-month.
    pub gp3_iops_month: f64,
    /// gp3 throughput above the free 125 MiB/s, per MiB/s-month.
    pub gp3_mibps_month: f64,
    /// gp2 storage per GB-month.
    pub gp2_gb_month: f64,
    /// io1 and io2 storage per GB-month.
    pub io_gb_month: f64,
    /// io1 and io2 provisioned IOPS per IOPS-month (io2's first tier, up to 32,000).
    pub io_iops_month: f64,
    /// st1 storage per GB-month.
    pub st1_gb_month: f64,
    /// sc1 storage per GB-month.
    pub sc1_gb_month: f64,
}

impl EbsPrices {
    /// US East (N. Virginia), aws.amazon.com/ebs/pricing, checked on 2026-12-03.
    ///
    /// | volume | price (USD a month) |
    /// | --- | --- |
    /// | gp3 | 0.08 per GB, 0.005 per IOPS over 3,000, 0.04 per MiB/s over 125 |
    /// | gp2 | 0.10 per GB |
    /// | io1, io2 | 0.125 per GB, 0.065 per provisioned IOPS (io2 up to 32,000) |
    /// | st1 | 0.045 per GB |
    /// | sc1 | 0.015 per GB |
    pub const US_EAST_1: EbsPrices = EbsPrices {
        source: Cow::Borrowed("aws.amazon.com/ebs/pricing, us-east-1, checked 2026-12-03"),
        gp3_gb_month: 0.08,
        gp3_iops_month: 0.005,
        gp3_mibps_month: 0.04,
        gp2_gb_month: 0.10,
        io_gb_month: 0.125,
        io_iops_month: 0.065,
        st1_gb_month: 0.045,
        sc1_gb_month: 0.015,
    };

    fn prices(&self) -> [(&'static str, f64); 8] {
        [
            ("ebs.gp3_gb_month", self.gp3_gb_month),
            ("ebs.gp3_iops_month", self.gp3_iops_month),
            ("ebs.gp3_mibps_month", self.gp3_mibps_month),
            ("ebs.gp2_gb_month", self.gp2_gb_month),
            ("ebs.io_gb_month", self.io_gb_month),
            ("ebs.io_iops_month", self.io_iops_month),
            ("ebs.st1_gb_month", self.st1_gb_month),
            ("ebs.sc1_gb_month", self.sc1_gb_month),
        ]
    }

    /// What one volume costs a month of running, as `(item, quantity, unit, unit price)`
    /// billed items: storage, and for gp3 the IOPS and throughput above its baseline, for
    /// io1 and io2 the provisioned IOPS. `None` for a volume type without a price here.
    pub fn volume_month(&self, v: &EbsCost) -> Option<Vec<(&'static str, f64, &'static str, f64)>> {
        let size = amount(v.size_gib);
        let iops = amount(v.iops);
        Some(match v.volume_type.as_str() {
            "gp3" => vec![
                ("storage", size, "GB-months", self.gp3_gb_month),
                (
                    "IOPS over 3000",
                    amount(iops - 3000.0),
                    "IOPS-months",
                    self.gp3_iops_month,
                ),
                (
                    "throughput over 125 MiB/s",
                    amount(amount(v.throughput_mibps) - 125.0),
                    "MiB/s-months",
                    self.gp3_mibps_month,
                ),
            ],
            "gp2" => vec![("storage", size, "GB-months", self.gp2_gb_month)],
            "io1" | "io2" => vec![
                ("storage", size, "GB-months", self.io_gb_month),
                ("provisioned IOPS", iops, "IOPS-months", self.io_iops_month),
            ],
            "st1" => vec![("storage", size, "GB-months", self.st1_gb_month)],
            "sc1" => vec![("storage", size, "GB-months", self.sc1_gb_month)],
            _ => return None,
        })
    }
}

impl Default for EbsPrices {
    fn default() -> Self {
        Self::US_EAST_1
    }
}

/// The managed EBS volume each task of a [`TaskCost`] has (ECS creates one per task and
/// deletes it with the task, so it is billed for the task-hours).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EbsCost {
    /// `gp3`, `gp2`, `io1`, `io2`, `st1` or `sc1`.
    pub volume_type: String,
    /// Size, GiB.
    pub size_gib: f64,
    /// Provisioned IOPS (gp3: 3000 when not set; io1, io2).
    pub iops: f64,
    /// Throughput, MiB/s (gp3: 125 when not set).
    pub throughput_mibps: f64,
}

impl PricingTable {
    /// US East (N. Virginia) list prices, checked on 2026-11-24.
    ///
    /// | item | price (USD) |
    /// | --- | --- |
    /// | Fargate Linux/x86 | 0.04048 per vCPU-hour, 0.004445 per GB-hour |
    /// | Fargate Linux/ARM64 | 0.03238 per vCPU-hour, 0.00356 per GB-hour |
    /// | Fargate Spot | about 70 % off on-demand |
    /// | ephemeral storage over 20 GiB | 0.000111 per GB-hour |
    /// | ALB | 0.0225 per hour + 0.008 per LCU-hour |
    /// | NLB | 0.0225 per hour + 0.006 per NLCU-hour |
    /// | NAT gateway | 0.045 per hour + 0.045 per GB processed |
    /// | interface VPC endpoint | 0.01 per hour per zone |
    /// | public IPv4 address | 0.005 per hour |
    /// | CloudWatch Logs ingestion | 0.50 per GB |
    /// | API Gateway HTTP API | 1.00 per million requests |
    /// | Lambda | 0.0000166667 (x86) / 0.0000133334 (ARM64) per GB-second, 0.20 per million requests |
    /// | EBS volumes | [`EbsPrices::US_EAST_1`] (aws.amazon.com/ebs/pricing, 2026-12-03) |
    pub const US_EAST_1: PricingTable = PricingTable {
        region: Cow::Borrowed("us-east-1"),
        date: Cow::Borrowed("2026-11-24"),
        currency: Cow::Borrowed("USD"),
        source: Cow::Borrowed(
            "aws.amazon.com/fargate/pricing, /elasticloadbalancing/pricing, /vpc/pricing, \
             /privatelink/pricing, /cloudwatch/pricing, /api-gateway/pricing, /lambda/pricing",
        ),
        fargate_vcpu_hour_x86: 0.04048,
        fargate_gb_hour_x86: 0.004445,
        fargate_vcpu_hour_arm: 0.03238,
        fargate_gb_hour_arm: 0.00356,
        fargate_spot_discount: 0.70,
        fargate_spot_arm64: true,
        fargate_ephemeral_gb_hour: 0.000111,
        alb_hour: 0.0225,
        alb_lcu_hour: 0.008,
        nlb_hour: 0.0225,
        nlb_lcu_hour: 0.006,
        nat_gateway_hour: 0.045,
        nat_gateway_gb: 0.045,
        vpc_endpoint_hour: 0.01,
        public_ipv4_hour: 0.005,
        logs_ingestion_gb: 0.50,
        http_api_per_million: 1.00,
        lambda_gb_second_x86: 0.000_016_666_7,
        lambda_gb_second_arm: 0.000_013_333_4,
        lambda_per_million_requests: 0.20,
        ebs: EbsPrices::US_EAST_1,
    };

    /// A table from its JSON form (the serde form of this struct), validated.
    ///
    /// # Errors
    /// An [`InvalidValue`] for field `pricing` when the JSON does not parse or has
    /// unknown fields, or naming the price that is negative or not finite, or a
    /// Spot discount outside 0 to 1.
    pub fn from_json(json: &str) -> Result<Self, InvalidValue> {
        let table: PricingTable = serde_json::from_str(json).map_err(|e| {
            InvalidValue::new("pricing", "(json)", e.to_string(), "a PricingTable in JSON")
        })?;
        table.validate()?;
        Ok(table)
    }

    /// Checks every price is finite and non-negative and the Spot discount is a fraction.
    ///
    /// # Errors
    /// An [`InvalidValue`] naming the field (`pricing.<field>`).
    pub fn validate(&self) -> Result<(), InvalidValue> {
        for (name, value) in self.prices().into_iter().chain(self.ebs.prices()) {
            if !value.is_finite() || value < 0.0 {
                return Err(InvalidValue::new(
                    format!("pricing.{name}"),
                    value.to_string(),
                    "not a price",
                    "a finite number, 0 or more",
                ));
            }
        }
        if self.fargate_spot_discount > 1.0 {
            return Err(InvalidValue::new(
                "pricing.fargate_spot_discount",
                self.fargate_spot_discount.to_string(),
                "not a fraction",
                "0 to 1 (0.7 = 70 % off)",
            ));
        }
        Ok(())
    }

    fn prices(&self) -> [(&'static str, f64); 19] {
        [
            ("fargate_vcpu_hour_x86", self.fargate_vcpu_hour_x86),
            ("fargate_gb_hour_x86", self.fargate_gb_hour_x86),
            ("fargate_vcpu_hour_arm", self.fargate_vcpu_hour_arm),
            ("fargate_gb_hour_arm", self.fargate_gb_hour_arm),
            ("fargate_spot_discount", self.fargate_spot_discount),
            ("fargate_ephemeral_gb_hour", self.fargate_ephemeral_gb_hour),
            ("alb_hour", self.alb_hour),
            ("alb_lcu_hour", self.alb_lcu_hour),
            ("nlb_hour", self.nlb_hour),
            ("nlb_lcu_hour", self.nlb_lcu_hour),
            ("nat_gateway_hour", self.nat_gateway_hour),
            ("nat_gateway_gb", self.nat_gateway_gb),
            ("vpc_endpoint_hour", self.vpc_endpoint_hour),
            ("public_ipv4_hour", self.public_ipv4_hour),
            ("logs_ingestion_gb", self.logs_ingestion_gb),
            ("http_api_per_million", self.http_api_per_million),
            ("lambda_gb_second_x86", self.lambda_gb_second_x86),
            ("lambda_gb_second_arm", self.lambda_gb_second_arm),
            (
                "lambda_per_million_requests",
                self.lambda_per_million_requests,
            ),
        ]
    }

    /// The on-demand price of one task-hour of `vcpu` vCPUs and `memory_gib` GiB.
    pub fn fargate_task_hour(&self, vcpu: f64, memory_gib: f64, arm64: bool) -> f64 {
        if arm64 {
            vcpu * self.fargate_vcpu_hour_arm + memory_gib * self.fargate_gb_hour_arm
        } else {
            vcpu * self.fargate_vcpu_hour_x86 + memory_gib * self.fargate_gb_hour_x86
        }
    }
}

impl Default for PricingTable {
    fn default() -> Self {
        Self::US_EAST_1
    }
}

/// One kind of Fargate task and how much it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskCost {
    /// What the tasks are (the app's name).
    pub name: String,
    /// vCPUs per task (`0.25` for 256 CPU units).
    pub vcpu: f64,
    /// Memory per task, GiB.
    pub memory_gib: f64,
    /// ARM64 (Graviton) rather than x86.
    pub arm64: bool,
    /// The share of the tasks on Fargate Spot, 0 to 1.
    pub spot_share: f64,
    /// Tasks running on average while they run.
    pub count: f64,
    /// Ephemeral storage per task, GiB (20 are free).
    pub ephemeral_gib: f64,
    /// Hours a month they run: 730 for a service; runs a month × hours a run for a job.
    pub hours_per_month: f64,
    /// Each task has a public IPv4 address (tasks in public subnets).
    pub public_ip: bool,
    /// The managed EBS volume of each task, if any.
    #[serde(default)]
    pub ebs: Option<EbsCost>,
}

impl TaskCost {
    /// `count` x86 on-demand tasks of `vcpu` vCPUs and `memory_gib` GiB running all
    /// month, with the free 20 GiB of storage and no public IP.
    pub fn service(name: impl Into<String>, vcpu: f64, memory_gib: f64, count: f64) -> Self {
        Self {
            name: name.into(),
            vcpu,
            memory_gib,
            arm64: false,
            spot_share: 0.0,
            count,
            ephemeral_gib: FREE_EPHEMERAL_GIB,
            hours_per_month: HOURS_PER_MONTH,
            public_ip: false,
            ebs: None,
        }
    }
}

/// The load balancers of a deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancers {
    /// Application Load Balancers.
    pub alb: u32,
    /// Network Load Balancers.
    pub nlb: u32,
}

/// How much traffic the deployment has: the guesses an estimate rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Logs each task writes in a month of running, GB (default 1).
    pub log_gb_per_task_month: f64,
    /// Average capacity units each load balancer uses, LCU or NLCU (default 1).
    pub lcu_per_load_balancer: f64,
    /// Data through all NAT gateways in a month, GB (default 10).
    pub nat_gb_per_month: f64,
    /// API Gateway HTTP API requests in a month (default 0).
    pub api_requests_per_month: f64,
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            log_gb_per_task_month: 1.0,
            lcu_per_load_balancer: 1.0,
            nat_gb_per_month: 10.0,
            api_requests_per_month: 0.0,
        }
    }
}

/// What a deployment runs, for [`estimate`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostInputs {
    /// The Fargate tasks.
    pub tasks: Vec<TaskCost>,
    /// The load balancers.
    pub load_balancers: LoadBalancers,
    /// NAT gateways.
    pub nat_gateways: u32,
    /// Interface VPC endpoints, counted once per availability zone.
    pub vpc_endpoint_zones: u32,
    /// Public IPv4 addresses besides the tasks' (load balancer nodes, NAT gateways).
    pub public_ipv4_addresses: u32,
    /// Traffic assumptions.
    pub usage: Usage,
}

/// One line of a [`CostEstimate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostLine {
    /// What is billed.
    pub item: String,
    /// How much of it, in `unit`s.
    pub quantity: f64,
    /// The unit (`task-hours`, `GB`, ...).
    pub unit: String,
    /// The price of one unit.
    pub unit_price: f64,
    /// `quantity × unit_price`.
    pub monthly_usd: f64,
}

/// A monthly cost **estimate**: its lines, total, and the assumptions and prices it rests on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// The billed items (zero lines left out).
    pub lines: Vec<CostLine>,
    /// The sum of the lines, USD a month.
    pub total_monthly_usd: f64,
    /// What the estimate assumes.
    pub assumptions: Vec<String>,
    /// The day the prices were checked.
    pub table_date: String,
    /// The region the prices are for.
    pub region: String,
}

fn spot_runs_arm64() -> bool {
    true
}

/// A finite, non-negative copy of `x` (0 for NaN, infinities and negatives).
fn amount(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Estimates the monthly cost of `inputs` at `table`'s prices.
///
/// Negative, NaN or infinite quantities count as 0; `spot_share` is clamped to 0..1.
/// ARM64 tasks get the Spot discount like x86 ones where the table says Fargate Spot runs
/// ARM64 ([`PricingTable::fargate_spot_arm64`], true for AWS since platform 1.4.0), and are
/// priced on-demand otherwise (said in the assumptions).
pub fn estimate(inputs: &CostInputs, table: &PricingTable) -> CostEstimate {
    let mut lines = Vec::new();
    let mut push = |item: String, quantity: f64, unit: &str, unit_price: f64| {
        let quantity = amount(quantity);
        let unit_price = amount(unit_price);
        if quantity > 0.0 {
            lines.push(CostLine {
                item,
                quantity,
                unit: unit.to_string(),
                unit_price,
                monthly_usd: amount(quantity * unit_price),
            });
        }
    };
    let mut assumptions = vec![format!(
        "list prices for {} checked on {}; a month is {HOURS_PER_MONTH} hours; no free tier, \
         Savings Plans, taxes or data transfer out",
        table.region, table.date
    )];
    let usage = &inputs.usage;
    let spot = amount(table.fargate_spot_discount).min(1.0);
    let mut task_months = 0.0;
    let mut public_ip_hours = 0.0;
    let mut spot_used = false;
    for t in &inputs.tasks {
        let (vcpu, mem, count, hours) = (
            amount(t.vcpu),
            amount(t.memory_gib),
            amount(t.count),
            amount(t.hours_per_month),
        );
        let mut share = amount(t.spot_share).min(1.0);
        if t.arm64 && share > 0.0 && !table.fargate_spot_arm64 {
            assumptions.push(format!(
                "{}: this pricing table says Fargate Spot does not run ARM64 tasks here; priced on-demand",
                t.name
            ));
            share = 0.0;
        }
        spot_used |= share > 0.0;
        let task_hours = count * hours;
        let price = table.fargate_task_hour(vcpu, mem, t.arm64) * (1.0 - share * spot);
        let mut item = format!(
            "Fargate {}: {} × {} vCPU / {} GiB {}",
            t.name,
            trim(count),
            trim(vcpu),
            trim(mem),
            if t.arm64 { "ARM64" } else { "x86" }
        );
        if share > 0.0 {
            item.push_str(&format!(", {:.0} % Spot", share * 100.0));
        }
        push(item, task_hours, "task-hours", price);
        let extra = amount(t.ephemeral_gib - FREE_EPHEMERAL_GIB);
        push(
            format!("Fargate {}: storage over {FREE_EPHEMERAL_GIB} GiB", t.name),
            extra * task_hours,
            "GB-hours",
            table.fargate_ephemeral_gb_hour,
        );
        if let Some(v) = &t.ebs {
            let months = task_hours / HOURS_PER_MONTH;
            match table.ebs.volume_month(v) {
                Some(items) => {
                    for (what, quantity, unit, price) in items {
                        push(
                            format!(
                                "EBS {}: {} GiB {} {what}",
                                t.name,
                                trim(amount(v.size_gib)),
                                v.volume_type
                            ),
                            quantity * months,
                            unit,
                            price,
                        );
                    }
                }
                None => assumptions.push(format!(
                    "{}: EBS volume type {} has no price in this table; not counted",
                    t.name, v.volume_type
                )),
            }
        }
        task_months += task_hours / HOURS_PER_MONTH;
        if t.public_ip {
            public_ip_hours += task_hours;
        }
    }
    if spot_used {
        assumptions.push(format!(
            "Fargate Spot at {:.0} % off on-demand (Spot prices vary; tasks can be interrupted)",
            spot * 100.0
        ));
    }
    let lb = &inputs.load_balancers;
    let lcu = amount(usage.lcu_per_load_balancer);
    let albs = f64::from(lb.alb);
    let nlbs = f64::from(lb.nlb);
    push(
        "Application Load Balancer".into(),
        albs * HOURS_PER_MONTH,
        "hours",
        table.alb_hour,
    );
    push(
        "ALB capacity units".into(),
        albs * lcu * HOURS_PER_MONTH,
        "LCU-hours",
        table.alb_lcu_hour,
    );
    push(
        "Network Load Balancer".into(),
        nlbs * HOURS_PER_MONTH,
        "hours",
        table.nlb_hour,
    );
    push(
        "NLB capacity units".into(),
        nlbs * lcu * HOURS_PER_MONTH,
        "NLCU-hours",
        table.nlb_lcu_hour,
    );
    if lb.alb > 0 || lb.nlb > 0 {
        assumptions.push(format!(
            "each load balancer averages {} capacity unit(s)",
            trim(lcu)
        ));
    }
    let nats = f64::from(inputs.nat_gateways);
    push(
        "NAT gateway".into(),
        nats * HOURS_PER_MONTH,
        "hours",
        table.nat_gateway_hour,
    );
    if inputs.nat_gateways > 0 {
        let gb = amount(usage.nat_gb_per_month);
        push(
            "NAT gateway data processed".into(),
            gb,
            "GB",
            table.nat_gateway_gb,
        );
        assumptions.push(format!("{} GB a month through the NAT gateways", trim(gb)));
    }
    push(
        "interface VPC endpoints".into(),
        f64::from(inputs.vpc_endpoint_zones) * HOURS_PER_MONTH,
        "endpoint-zone-hours",
        table.vpc_endpoint_hour,
    );
    push(
        "public IPv4 addresses".into(),
        public_ip_hours + f64::from(inputs.public_ipv4_addresses) * HOURS_PER_MONTH,
        "address-hours",
        table.public_ipv4_hour,
    );
    let log_gb = task_months * amount(usage.log_gb_per_task_month);
    if log_gb > 0.0 {
        assumptions.push(format!(
            "{} GB of logs per task per month of running",
            trim(amount(usage.log_gb_per_task_month))
        ));
    }
    push(
        "CloudWatch Logs ingestion".into(),
        log_gb,
        "GB",
        table.logs_ingestion_gb,
    );
    let requests = amount(usage.api_requests_per_month);
    if requests > 0.0 {
        assumptions.push(format!("{} API requests a month", trim(requests)));
    }
    push(
        "API Gateway HTTP API requests".into(),
        requests / 1e6,
        "million requests",
        table.http_api_per_million,
    );
    let total = amount(lines.iter().map(|l| l.monthly_usd).sum());
    CostEstimate {
        lines,
        total_monthly_usd: total,
        assumptions,
        table_date: table.date.to_string(),
        region: table.region.to_string(),
    }
}

impl fmt::Display for CostEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Monthly cost ESTIMATE (USD, {} list prices of {}; not a quote)",
            self.region, self.table_date
        )?;
        let width = self
            .lines
            .iter()
            .map(|l| l.item.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        for l in &self.lines {
            let quantity = format!("{} {}", trim(l.quantity), l.unit);
            writeln!(
                f,
                "  {:<width$}  {:>26} × ${:<10}  ${:>10.2}",
                l.item,
                quantity,
                trim_price(l.unit_price),
                l.monthly_usd
            )?;
        }
        writeln!(
            f,
            "  {:<width$}  {:>26}   {:<11}  ${:>10.2}",
            "total", "", "", self.total_monthly_usd
        )?;
        if !self.assumptions.is_empty() {
            writeln!(f, "assumptions:")?;
            for a in &self.assumptions {
                writeln!(f, "  - {a}")?;
            }
        }
        Ok(())
    }
}

fn trim_price(x: f64) -> String {
    let s = format!("{x:.10}");
    let s = s.trim_end_matches('0');
    let s = s.strip_suffix('.').unwrap_or(s);
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(e: &CostEstimate, starts: &str) -> f64 {
        e.lines
            .iter()
            .find(|l| l.item.starts_with(starts))
            .map_or(f64::NAN, |l| l.monthly_usd)
    }

    #[test]
    fn ebs_volumes_are_priced_per_gb_month_for_the_task_hours() {
        let gp3 = EbsCost {
            volume_type: "gp3".into(),
            size_gib: 100.0,
            iops: 4000.0,
            throughput_mibps: 250.0,
        };
        let inputs = CostInputs {
            tasks: vec![
                TaskCost {
                    ebs: Some(gp3),
                    ..TaskCost::service("db", 0.5, 1.0, 2.0)
                },
                // A tenth of a month: a tenth of the GB-month price.
                TaskCost {
                    ebs: Some(EbsCost {
                        volume_type: "gp2".into(),
                        size_gib: 50.0,
                        iops: 0.0,
                        throughput_mibps: 0.0,
                    }),
                    hours_per_month: HOURS_PER_MONTH / 10.0,
                    ..TaskCost::service("batch", 0.25, 0.5, 1.0)
                },
                TaskCost {
                    ebs: Some(EbsCost {
                        volume_type: "gp3".into(),
                        size_gib: 20.0,
                        iops: 3000.0,
                        throughput_mibps: 125.0,
                    }),
                    ..TaskCost::service("base", 0.25, 0.5, 1.0)
                },
                TaskCost {
                    ebs: Some(EbsCost {
                        volume_type: "standard".into(),
                        size_gib: 20.0,
                        iops: 0.0,
                        throughput_mibps: 0.0,
                    }),
                    ..TaskCost::service("old", 0.25, 0.5, 1.0)
                },
            ],
            ..CostInputs::default()
        };
        let e = estimate(&inputs, &PricingTable::US_EAST_1);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // 2 tasks × 100 GB × $0.08; 1000 IOPS over 3000 × $0.005; 125 MiB/s over 125 × $0.04.
        assert!(close(usd(&e, "EBS db: 100 GiB gp3 storage"), 16.0), "{e}");
        assert!(close(usd(&e, "EBS db: 100 GiB gp3 IOPS"), 10.0), "{e}");
        assert!(
            close(usd(&e, "EBS db: 100 GiB gp3 throughput"), 10.0),
            "{e}"
        );
        assert!(close(usd(&e, "EBS batch: 50 GiB gp2 storage"), 0.5), "{e}");
        // The baseline performance of gp3 is in its storage price: no lines for it.
        assert!(close(usd(&e, "EBS base: 20 GiB gp3 storage"), 1.6), "{e}");
        assert!(
            !e.lines
                .iter()
                .any(|l| l.item.starts_with("EBS base: 20 GiB gp3 IOPS"))
        );
        assert!(!e.lines.iter().any(|l| l.item.starts_with("EBS old")));
        assert!(
            e.assumptions
                .iter()
                .any(|a| a.contains("standard has no price"))
        );
        // The prices say where they come from and when they were checked.
        assert!(PricingTable::US_EAST_1.ebs.source.contains("2026-12-03"));
        let mut bad = PricingTable::US_EAST_1;
        bad.ebs.gp3_gb_month = -1.0;
        assert_eq!(
            bad.validate().unwrap_err().field,
            "pricing.ebs.gp3_gb_month"
        );
    }
}
