//! The generic planner: one concurrent observation round, plan-time values flowing along
//! dependencies, a plan that is a pure function of recorded observations, dependency
//! reversal for destroy, and the graph that applies the plan.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fargate_core::exec::RunOptions;
use fargate_core::resource::{BoxFuture, node};
use fargate_core::{
    Change, Error, Executable, Fields, Kind, Mode, Observations, PlanValues, Ref, Resolved,
    Resource, ResourceId, Round, StepContext,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// What a fake resource observes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Seen {
    arn: String,
    fields: Fields,
}

/// A resource that exists or not; observing takes one second; its arn is an output.
#[derive(Debug, Clone)]
struct Fake {
    id: ResourceId,
    deps: Vec<ResourceId>,
    exists: bool,
    owned: bool,
}

fn fake(id: &ResourceId, deps: &[ResourceId], exists: bool) -> Fake {
    Fake {
        id: id.clone(),
        deps: deps.to_vec(),
        exists,
        owned: true,
    }
}

impl Fake {
    fn arn(&self) -> String {
        format!("arn:{}", self.id.name)
    }
}

impl Kind<()> for Fake {
    type Observed = Seen;

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
    ) -> BoxFuture<'a, Result<Option<Seen>, Error>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if self.exists && !self.owned {
                return Err(Error::NotOwned {
                    resource: self.id.clone(),
                    detail: "someone else's".into(),
                });
            }
            Ok(self.exists.then(|| Seen {
                arn: self.arn(),
                fields: Fields::new().with("x", 1).with_sensitive("token", "s3cr3t"),
            }))
        })
    }
    fn diff(&self, observed: Option<&Seen>, _: &Resolved) -> Result<Change, Error> {
        let desired = Fields::new().with("x", 1).with_sensitive("token", "s3cr3t");
        Ok(Change::compute(&desired, observed.map(|o| &o.fields), &[]))
    }
    fn outputs(&self, observed: Option<&Seen>, _: &Change, _: &Resolved) -> PlanValues {
        match observed {
            Some(o) => PlanValues::new().with(&self.id.output::<String>("arn"), &o.arn),
            None => PlanValues::new(),
        }
    }
    fn apply<'a>(
        &'a self,
        _: &'a (),
        ctx: &'a StepContext,
        _: &'a Change,
        _: Option<&'a Seen>,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            ctx.set(&self.id.output::<String>("arn"), self.arn());
            Ok(())
        })
    }
    fn destroy<'a>(
        &'a self,
        _: &'a (),
        _: &'a StepContext,
        _: &'a Seen,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
}

/// Follows its leader: its desired `leader` field is the leader's arn when the leader is
/// kept, `(new)` when the leader changes. It observes by the leader's arn, recording what
/// it saw at observation time.
#[derive(Debug, Clone)]
struct Follower {
    id: ResourceId,
    leader: ResourceId,
    seen_while_observing: Arc<Mutex<Option<String>>>,
}

impl Kind<()> for Follower {
    type Observed = Fields;

    fn id(&self) -> ResourceId {
        self.id.clone()
    }
    fn depends_on(&self) -> Vec<ResourceId> {
        vec![self.leader.clone()]
    }
    fn observe<'a>(
        &'a self,
        _: &'a (),
        round: &'a Round<'a>,
        _: Mode,
    ) -> BoxFuture<'a, Result<Option<Fields>, Error>> {
        Box::pin(async move {
            let arn = round.output(&self.leader.output::<String>("arn")).await;
            *self.seen_while_observing.lock().unwrap() = arn;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(Some(Fields::new().with("leader", "arn:old")))
        })
    }
    fn diff(&self, observed: Option<&Fields>, resolved: &Resolved) -> Result<Change, Error> {
        let leader_changes = resolved
            .change_of(&self.leader)
            .is_some_and(Change::is_change);
        let desired = if leader_changes {
            Fields::new().with("leader", "(new)")
        } else {
            let arn = resolved.get(&self.leader.output::<String>("arn"));
            Fields::new().with("leader", arn.unwrap_or_default())
        };
        Ok(Change::compute(&desired, observed, &[]))
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

fn follower(leader: &ResourceId) -> (Follower, Arc<Mutex<Option<String>>>) {
    let seen = Arc::new(Mutex::new(None));
    (
        Follower {
            id: ResourceId::new("t:f", "f"),
            leader: leader.clone(),
            seen_while_observing: seen.clone(),
        },
        seen,
    )
}

#[tokio::test(start_paused = true)]
async fn observes_in_one_concurrent_round_and_passes_plan_time_values() {
    let a = ResourceId::new("t:a", "a");
    let (f, _) = follower(&a);
    let resources: Vec<Arc<dyn Resource<()>>> = vec![
        node(f),
        node(fake(&a, &[], true)),
        node(fake(
            &ResourceId::new("t:b", "b"),
            std::slice::from_ref(&a),
            false,
        )),
    ];
    let start = Instant::now();
    let exe = Executable::plan(&(), &resources, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "two rounds deep (the follower waits for its leader), not one per resource"
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
    let pos = |s: &str| report.finished.iter().position(|x| x == s).unwrap();
    assert!(pos("t:a a") < pos("t:b b"));
}

#[tokio::test(start_paused = true)]
async fn a_dependency_that_changes_is_seen_as_changing_not_as_its_old_value() {
    let a = ResourceId::new("t:a", "a");
    let (f, seen) = follower(&a);
    let resources: Vec<Arc<dyn Resource<()>>> = vec![node(fake(&a, &[], false)), node(f)];
    let exe = Executable::plan(&(), &resources, Mode::Apply)
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        None,
        "nothing known of a leader to create"
    );
    match &exe.plan.get(&ResourceId::new("t:f", "f")).unwrap().change {
        Change::Update { diffs } => assert_eq!(diffs[0].new, Some(serde_json::json!("(new)"))),
        other => panic!("expected an update to (new), got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_plan_is_a_pure_function_of_recorded_observations() {
    let a = ResourceId::new("t:a", "a");
    let build = || -> Vec<Arc<dyn Resource<()>>> {
        let (f, _) = follower(&a);
        vec![
            node(f),
            node(fake(&a, &[], true)),
            node(fake(
                &ResourceId::new("t:b", "b"),
                std::slice::from_ref(&a),
                false,
            )),
        ]
    };
    let live = Executable::plan(&(), &build(), Mode::Apply).await.unwrap();
    let json = serde_json::to_string(&live.observations).unwrap();
    assert!(
        !json.contains("s3cr3t"),
        "observations hold no secret: {json}"
    );
    let recorded: Observations = serde_json::from_str(&json).unwrap();
    assert_eq!(
        recorded, live.observations,
        "observations round-trip as data"
    );
    let start = Instant::now();
    let replayed = Executable::from_observations(&build(), recorded.clone(), Mode::Apply).unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no observation is made again"
    );
    assert_eq!(replayed.plan, live.plan, "same observations, same plan");
    assert_eq!(
        replayed.plan.to_json().unwrap(),
        live.plan.to_json().unwrap()
    );

    // Another state of AWS gives another plan, and the observations say which resource.
    let other: Vec<Arc<dyn Resource<()>>> = vec![node(fake(&a, &[], false))];
    let now = Executable::plan(&(), &other, Mode::Apply).await.unwrap();
    assert_eq!(recorded.differing(&now.observations).len(), 3);
    let missing =
        Executable::from_observations(&build(), Observations::default(), Mode::Apply).unwrap_err();
    assert!(missing.to_string().contains("no observation"), "{missing}");
}

#[tokio::test(start_paused = true)]
async fn destroy_reverses_dependencies() {
    let a = ResourceId::new("t:a", "a");
    let b = ResourceId::new("t:b", "b");
    let resources: Vec<Arc<dyn Resource<()>>> = vec![
        node(fake(&a, &[], true)),
        node(fake(&b, std::slice::from_ref(&a), true)),
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

#[tokio::test(start_paused = true)]
async fn destroy_skips_what_is_not_ours_and_apply_refuses_it() {
    let a = ResourceId::new("t:a", "a");
    let b = ResourceId::new("t:b", "b");
    let foreign = Fake {
        owned: false,
        ..fake(&b, &[], true)
    };
    let resources: Vec<Arc<dyn Resource<()>>> =
        vec![node(fake(&a, &[], true)), node(foreign.clone())];
    let exe = Executable::plan(&(), &resources, Mode::Destroy)
        .await
        .unwrap();
    assert_eq!(exe.plan.get(&a).unwrap().change, Change::Delete);
    assert_eq!(exe.plan.get(&b).unwrap().change, Change::NoOp);
    assert!(
        exe.plan
            .notes
            .iter()
            .any(|n| n.contains("t:b b") && n.contains("not owned")),
        "{:?}",
        exe.plan.notes
    );
    let err = Executable::plan(&(), &[node(foreign)], Mode::Apply)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotOwned { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn outputs_of_existing_resources_are_known_at_plan_time() {
    for exists in [true, false] {
        let a = ResourceId::new("t:a", "a/with/slashes");
        let (f, seen) = follower(&a);
        let resources: Vec<Arc<dyn Resource<()>>> = vec![node(f), node(fake(&a, &[], exists))];
        Executable::plan(&(), &resources, Mode::Apply)
            .await
            .unwrap();
        let expected = exists.then(|| "arn:a/with/slashes".to_string());
        assert_eq!(*seen.lock().unwrap(), expected, "exists = {exists}");
    }
    let known: Ref<String> = Ref::Known("x".into());
    assert_eq!(Resolved::none().get_ref(&known), Some("x".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_dependency_cycle_is_refused_at_plan_time() {
    let a = ResourceId::new("t:a", "a");
    let b = ResourceId::new("t:b", "b");
    let resources: Vec<Arc<dyn Resource<()>>> = vec![
        node(fake(&a, std::slice::from_ref(&b), true)),
        node(fake(&b, std::slice::from_ref(&a), true)),
    ];
    let err = Executable::from_observations(&resources, Observations::default(), Mode::Apply)
        .unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}
