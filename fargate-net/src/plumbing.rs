//! The parts of a [`fargate_core::Resource`] impl that every kind planning in
//! `plan_with` writes the same way.

/// Inside `impl<C> Resource<C> for Spec`: `plan` as `plan_with` on an empty
/// [`fargate_core::PlanBoard`] (no facts from other resources' plans).
///
/// With `id, depends_on`, also `id` and `depends_on` returning clones of the
/// spec's `id` and `depends_on` fields.
macro_rules! plan_via_plan_with {
    () => {
        fn plan<'a>(
            &'a self,
            clients: &'a C,
            mode: fargate_core::Mode,
        ) -> fargate_core::resource::BoxFuture<
            'a,
            Result<fargate_core::Planned<C>, fargate_core::Error>,
        > {
            Box::pin(async move {
                self.plan_with(clients, mode, &fargate_core::PlanBoard::default())
                    .await
            })
        }
    };
    (id, depends_on) => {
        fn id(&self) -> fargate_core::ResourceId {
            self.id.clone()
        }

        fn depends_on(&self) -> Vec<fargate_core::ResourceId> {
            self.depends_on.clone()
        }

        plan_via_plan_with!();
    };
}
