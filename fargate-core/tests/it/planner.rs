//! The generic planner: one concurrent observation round, plan-time facts
//! shared through the board, dependency reversal for destroy, and the graph
//! that applies the plan.

use std::sync::Arc;
use std::time::Duration;

use fargate_core::exec::RunOptions;
use fargate_core::resource::BoxFuture;
use fargate_core::{
    Change, Error, Executable, Fields, Mode, PlanBoard, Planned, Resource, ResourceId,
};
use tokio::time::Instant;

struct Fake {
    id: ResourceId,
    deps: Vec<ResourceId>,
    exists: bool,
}

impl Resource<()> for Fake {
    fn id(&self) -> ResourceId {
        self.id.clone()
    }
    fn depends_on(&self) -> Vec<ResourceId> {
        self.deps.clone()
    }
    fn plan<'a>(&'a self, _: &'a (), mode: Mode) -> BoxFuture<'a, Result<Planned<()>, Error>> {
        Box::pin(async move {
            // An observation takes one second.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let change = match (mode, self.exists) {
                (Mode::Apply, true) => Change::NoOp,
                (Mode::Apply, false) => Change::compute(&Fields::new().with("x", 1), None, &[]),
                (Mode::Destroy, true) => Change::Delete,
                (Mode::Destroy, false) => Change::NoOp,
            };
            let key = self.id.output::<String>("arn");
            let arn = format!("arn:{}", self.id.name);
            let planned_arn = format!("arn:{}", self.id.name);
            let mut planned = Planned::new(change, move |_, ctx| async move {
                ctx.set(&key, arn);
                Ok(())
            })
            .with_fact("arn", planned_arn.clone());
            if self.exists {
                planned = planned.with_output(&self.id.output::<String>("arn"), &planned_arn);
            }
            Ok(planned)
        })
    }
}

/// Follows its dependency: changes when the dependency changes.
struct Follower {
    id: ResourceId,
    leader: ResourceId,
}

impl Resource<()> for Follower {
    fn id(&self) -> ResourceId {
        self.id.clone()
    }
    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.leader.clone()]
    }
    fn plan<'a>(&'a self, _: &'a (), _: Mode) -> BoxFuture<'a, Result<Planned<()>, Error>> {
        Box::pin(async { Ok(Planned::nothing(Change::NoOp)) })
    }
    fn plan_with<'a>(
        &'a self,
        _: &'a (),
        _: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<()>, Error>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (leader_change, facts) = board
                .plan_of(&self.leader)
                .await
                .unwrap_or((Change::NoOp, Default::default()));
            let observed = Fields::new().with("leader", "arn:old");
            let desired = if leader_change.is_change() {
                Fields::new().with("leader", "(new)")
            } else {
                Fields::new().with("leader", facts.get("arn").cloned().unwrap_or_default())
            };
            Ok(Planned::nothing(Change::compute(
                &desired,
                Some(&observed),
                &[],
            )))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn observes_in_one_concurrent_round_and_shares_facts() {
    let a = ResourceId::new("t:a", "a");
    let resources: Vec<Arc<dyn Resource<()>>> = vec![
        Arc::new(Follower {
            id: ResourceId::new("t:f", "f"),
            leader: a.clone(),
        }),
        Arc::new(Fake {
            id: a.clone(),
            deps: vec![],
            exists: true,
        }),
        Arc::new(Fake {
            id: ResourceId::new("t:b", "b"),
            deps: vec![a.clone()],
            exists: false,
        }),
    ];
    let start = Instant::now();
    let exe = Executable::plan(&(), &resources, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "one round, not one per resource"
    );
    let follower = exe.plan.get(&ResourceId::new("t:f", "f")).unwrap();
    match &follower.change {
        Change::Update { diffs } => assert_eq!(diffs[0].new, Some(serde_json::json!("arn:a"))),
        other => panic!("follower should update to the leader's arn, got {other:?}"),
    }
    let summary = exe.plan.summary();
    assert_eq!(
        (summary.create, summary.update, summary.unchanged),
        (1, 1, 1)
    );

    let (_plan, graph) = exe.into_graph(()).unwrap();
    let report = graph.run(RunOptions::default()).await;
    assert!(report.is_success());
    assert_eq!(
        report.outputs.get(&a.output::<String>("arn")).unwrap(),
        "arn:a"
    );
    // b ran after a.
    let pos = |s: &str| report.finished.iter().position(|x| x == s).unwrap();
    assert!(pos("t:a a") < pos("t:b b"));
}

#[tokio::test(start_paused = true)]
async fn destroy_reverses_dependencies() {
    let a = ResourceId::new("t:a", "a");
    let b = ResourceId::new("t:b", "b");
    let resources: Vec<Arc<dyn Resource<()>>> = vec![
        Arc::new(Fake {
            id: a.clone(),
            deps: vec![],
            exists: true,
        }),
        Arc::new(Fake {
            id: b.clone(),
            deps: vec![a.clone()],
            exists: true,
        }),
    ];
    let exe = Executable::plan(&(), &resources, Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(exe.plan.get(&a).unwrap().depends_on, vec![b.clone()]);
    assert!(exe.plan.get(&b).unwrap().depends_on.is_empty());
    assert_eq!(exe.plan.summary().delete, 2);
    let (_, graph) = exe.into_graph(()).unwrap();
    let report = graph.run(RunOptions::default()).await;
    assert_eq!(report.finished, vec!["t:b b", "t:a a"]);
}

/// Reads its dependency's output at plan time through a `Ref`.
struct Reader {
    id: ResourceId,
    input: fargate_core::Ref<String>,
    producer: ResourceId,
    seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl Resource<()> for Reader {
    fn id(&self) -> ResourceId {
        self.id.clone()
    }
    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.producer.clone()]
    }
    fn plan<'a>(&'a self, _: &'a (), _: Mode) -> BoxFuture<'a, Result<Planned<()>, Error>> {
        Box::pin(async { Ok(Planned::nothing(Change::NoOp)) })
    }
    fn plan_with<'a>(
        &'a self,
        _: &'a (),
        _: Mode,
        board: &'a PlanBoard,
    ) -> BoxFuture<'a, Result<Planned<()>, Error>> {
        Box::pin(async move {
            *self.seen.lock().unwrap() = self.input.planned(board).await;
            Ok(Planned::nothing(Change::NoOp))
        })
    }
}

#[tokio::test(start_paused = true)]
async fn outputs_of_existing_resources_are_known_at_plan_time() {
    for exists in [true, false] {
        let a = ResourceId::new("t:a", "a/with/slashes");
        let seen = Arc::new(std::sync::Mutex::new(None));
        let resources: Vec<Arc<dyn Resource<()>>> = vec![
            Arc::new(Reader {
                id: ResourceId::new("t:r", "r"),
                input: fargate_core::Ref::Output(a.output("arn")),
                producer: a.clone(),
                seen: seen.clone(),
            }),
            Arc::new(Fake {
                id: a.clone(),
                deps: vec![],
                exists,
            }),
        ];
        Executable::plan(&(), &resources, Mode::Apply)
            .await
            .unwrap();
        let expected = exists.then(|| "arn:a/with/slashes".to_string());
        assert_eq!(*seen.lock().unwrap(), expected, "exists = {exists}");
    }
}
