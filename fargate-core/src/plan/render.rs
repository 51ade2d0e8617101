//! Rendering a [`Plan`] for people, in the style of `terraform plan`.

use std::fmt;

use serde_json::Value;

use super::{Change, FieldDiff, Plan};

fn value(v: &Option<Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(v) => v.to_string(),
    }
}

fn write_diffs(f: &mut fmt::Formatter<'_>, diffs: &[FieldDiff], created: bool) -> fmt::Result {
    let width = diffs.iter().map(|d| d.field.len()).max().unwrap_or(0);
    for d in diffs {
        if created {
            writeln!(f, "      {:width$} = {}", d.field, value(&d.new))?;
        } else {
            writeln!(
                f,
                "      {:width$} : {} -> {}",
                d.field,
                value(&d.old),
                value(&d.new)
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for Plan {
    /// Resources that change are listed with their fields; unchanged ones are
    /// only counted. The last lines are the summary and the notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.changes {
            let sym = c.change.symbol();
            match &c.change {
                Change::NoOp => continue,
                Change::Create { fields } => {
                    writeln!(f, "  {sym} {}", c.id)?;
                    write_diffs(f, fields, true)?;
                }
                Change::Update { diffs } => {
                    writeln!(f, "  {sym} {}", c.id)?;
                    write_diffs(f, diffs, false)?;
                }
                Change::Replace { reason, diffs } => {
                    writeln!(f, "{sym} {} (replace: {reason})", c.id)?;
                    write_diffs(f, diffs, false)?;
                }
                Change::Delete => writeln!(f, "  {sym} {}", c.id)?,
                Change::Adopt { detail } => writeln!(f, " {sym} {} (adopted: {detail})", c.id)?,
            }
        }
        if self.has_changes() {
            writeln!(f)?;
            writeln!(f, "Plan: {}.", self.summary())?;
        } else {
            writeln!(f, "No changes. {}.", self.summary())?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Change, Fields, Plan, PlannedChange, ResourceId};

    fn sample() -> Plan {
        let desired = Fields::new().with("image", "nginx:1.27").with_sensitive(
            "secret.DB_URL",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
        );
        let observed = Fields::new().with("image", "nginx:1.26").with_sensitive(
            "secret.DB_URL",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:old-AbCdEf",
        );
        let mut plan = Plan::new(vec![
            PlannedChange {
                id: ResourceId::new("ec2:vpc", "prod"),
                change: Change::compute(&Fields::new().with("cidr", "10.0.0.0/16"), None, &[]),
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ecs:task-definition", "prod-web"),
                change: Change::compute(&desired, Some(&observed), &[]),
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("elbv2:target-group", "prod-web"),
                change: Change::compute(
                    &Fields::new().with("port", 8080),
                    Some(&Fields::new().with("port", 80)),
                    &["port"],
                ),
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ecs:cluster", "prod"),
                change: Change::NoOp,
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ecs:service", "prod/old"),
                change: Change::Delete,
                depends_on: vec![],
            },
            PlannedChange {
                id: ResourceId::new("ec2:subnet", "shared-a"),
                change: Change::Adopt {
                    detail: "subnet-0abc".into(),
                },
                depends_on: vec![],
            },
        ]);
        plan.note(
            "tasks run in public subnets with public IPs; inbound only from the load balancer",
        );
        plan
    }

    #[test]
    fn renders_like_terraform_plan() {
        let expected = r#"  + ec2:vpc prod
      cidr = "10.0.0.0/16"
  ~ ecs:task-definition prod-web
      image         : "nginx:1.26" -> "nginx:1.27"
      secret.DB_URL : "(sensitive)" -> "(sensitive)"
-/+ elbv2:target-group prod-web (replace: port cannot change in place)
      port : 80 -> 8080
  - ecs:service prod/old
 <= ec2:subnet shared-a (adopted: subnet-0abc)

Plan: 1 to create, 1 to update, 1 to replace, 1 to destroy, 1 unchanged, 1 adopted.
note: tasks run in public subnets with public IPs; inbound only from the load balancer
"#;
        assert_eq!(sample().to_string(), expected);
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let plan = Plan::new(vec![PlannedChange {
            id: ResourceId::new("ecs:cluster", "prod"),
            change: Change::NoOp,
            depends_on: vec![],
        }]);
        assert_eq!(
            plan.to_string(),
            "No changes. 0 to create, 0 to update, 0 to replace, 0 to destroy, 1 unchanged.\n"
        );
    }

    #[test]
    fn json_round_trips_and_never_contains_secrets() {
        let plan = sample();
        let json = plan.to_json().unwrap();
        assert!(!json.contains("secret:db-AbCdEf"));
        assert!(!json.contains("secret:old-AbCdEf"));
        let back: Plan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, plan);
    }
}
