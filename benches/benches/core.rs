//! Core costs with no AWS at all: planning 500 services (observe results
//! already in hand, diff, plan, render) and executor overhead for 10,000
//! no-op steps. Run: `cargo bench -p fargate-benches --bench core`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use fargate_core::exec::{GraphBuilder, RunOptions};
use fargate_core::resource::BoxFuture;
use fargate_core::resource::node;
use fargate_core::{
    Change, Error, Executable, Fields, Kind, Mode, Resolved, Resource, ResourceId, Round,
    StepContext,
};

/// A service-like resource whose observation is already known: measures the
/// planner, not AWS.
#[derive(Clone)]
struct Svc {
    id: ResourceId,
    deps: Vec<ResourceId>,
    desired: Fields,
    observed: Option<Fields>,
}

impl Kind<()> for Svc {
    type Observed = Fields;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }
    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps.clone()
    }
    fn observe<'a>(
        &'a self,
        _: &'a (),
        _: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<Fields>, Error>> {
        Box::pin(async move { Ok(self.observed.clone()) })
    }
    fn diff(&self, observed: Option<&Fields>, _: &Resolved) -> Result<Change, Error> {
        Ok(Change::compute(&self.desired, observed, &["port"]))
    }
    fn apply<'a>(
        &'a self,
        _: &'a (),
        _: &'a StepContext,
        _: &'a Change,
        _: Option<&'a Fields>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    fn destroy<'a>(
        &'a self,
        _: &'a (),
        _: &'a StepContext,
        _: &'a Fields,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

fn fields(i: usize, image: &str) -> Fields {
    Fields::new()
        .with("image", format!("registry/app-{i}:{image}"))
        .with("cpu", 256)
        .with("memory", 512)
        .with("port", 8080)
        .with("desired_count", 2)
        .with_set("subnets", ["subnet-b", "subnet-a", "subnet-c"])
        .with_set("security_groups", [format!("sg-{i}")])
        .with("health_check.path", "/health")
        .with_sensitive(
            "secret.DATABASE_URL",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        )
}

fn services(n: usize) -> Vec<Arc<dyn Resource<()>>> {
    let cluster = ResourceId::new("ecs:cluster", "prod");
    let mut out: Vec<Arc<dyn Resource<()>>> = vec![node(Svc {
        id: cluster.clone(),
        deps: vec![],
        desired: Fields::new().with("insights", "enabled"),
        observed: Some(Fields::new().with("insights", "enabled")),
    })];
    for i in 0..n {
        // A tenth change their image, a tenth are new, the rest are unchanged.
        let observed = match i % 10 {
            0 => None,
            1 => Some(fields(i, "v1")),
            _ => Some(fields(i, "v2")),
        };
        out.push(node(Svc {
            id: ResourceId::new("ecs:service", format!("prod/app-{i}")),
            deps: vec![cluster.clone()],
            desired: fields(i, "v2"),
            observed,
        }));
    }
    out
}

fn bench_plan(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let resources = services(500);
    c.bench_function("plan 500 services (diff + plan + graph)", |b| {
        b.iter(|| {
            rt.block_on(async {
                let exe = Executable::plan(&(), &resources, Mode::Apply)
                    .await
                    .expect("plan");
                let (plan, graph) = exe.into_graph(()).expect("graph");
                black_box((plan.summary(), graph.len()))
            })
        })
    });
    let plan = rt
        .block_on(Executable::plan(&(), &resources, Mode::Apply))
        .expect("plan")
        .plan;
    c.bench_function("render plan of 500 services", |b| {
        b.iter(|| black_box(plan.to_string().len()))
    });
    c.bench_function("plan of 500 services to JSON", |b| {
        b.iter(|| black_box(plan.to_json().map(|s| s.len())))
    });
}

fn bench_executor(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for (name, fan_in) in [
        ("10,000 independent no-op steps", false),
        ("10,000 no-op steps, 100 layers of 100", true),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let mut g = GraphBuilder::<Error>::new();
                for i in 0..10_000usize {
                    let deps: Vec<String> = if fan_in && i >= 100 {
                        // Each step depends on one step of the previous layer.
                        vec![format!("s{}", i - 100)]
                    } else {
                        vec![]
                    };
                    g.step(format!("s{i}"), deps, |_| async { Ok(()) });
                }
                let graph = g.build().expect("valid graph");
                let report = rt.block_on(graph.run(RunOptions {
                    concurrency: 64,
                    ..RunOptions::default()
                }));
                assert!(report.is_success());
                black_box(report.finished.len())
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_plan, bench_executor
}
criterion_main!(benches);
