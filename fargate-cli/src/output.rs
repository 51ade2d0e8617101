//! Everything the CLI prints: colours, JSON Lines, plans, status and apply reports.
//!
//! Output never panics: [`outln!`] and [`errln!`] write like `println!`/`eprintln!` but ignore
//! a closed stdout or stderr (`fargate plan | head -1`), where those would panic.

use std::fmt;
use std::io::Write;

use fargate_core::PricingTable;
use fargate_deploy::{ApplyReport, DeployPlan, ServiceStatus};
use serde_json::{Value, json};

/// `println!` that ignores a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::write_line(&mut ::std::io::stdout().lock(), format_args!($($arg)*))
    };
}
pub(crate) use outln;

/// `eprintln!` that ignores a closed stderr.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_line(&mut ::std::io::stderr().lock(), format_args!($($arg)*))
    };
}
pub(crate) use errln;

/// Writes one line; a write error (a closed pipe) is ignored, like a terminal that went away.
pub fn write_line(w: &mut dyn Write, args: fmt::Arguments<'_>) {
    let _ = w.write_fmt(args).and_then(|()| w.write_all(b"\n"));
}

/// ANSI colours, only for a terminal and when `NO_COLOR` is unset.
#[derive(Clone, Copy)]
pub struct Paint(bool);

impl Paint {
    pub fn for_stream(is_terminal: bool) -> Self {
        Paint(is_terminal && std::env::var_os("NO_COLOR").is_none())
    }
    fn paint(self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn bold(self, s: &str) -> String {
        self.paint("1", s)
    }
    pub fn dim(self, s: &str) -> String {
        self.paint("2", s)
    }
    pub fn red(self, s: &str) -> String {
        self.paint("31", s)
    }
    pub fn green(self, s: &str) -> String {
        self.paint("32", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn magenta(self, s: &str) -> String {
        self.paint("35", s)
    }
    pub fn cyan(self, s: &str) -> String {
        self.paint("36", s)
    }
}

pub struct Out {
    /// JSON Lines on stdout instead of text.
    pub json: bool,
    /// Colours for stdout.
    pub paint: Paint,
    /// Colours for stderr.
    pub err: Paint,
}

impl Out {
    /// One JSON line for the step `command`.
    pub fn emit(&self, command: &str, value: Value) {
        let mut obj = serde_json::Map::new();
        obj.insert("command".into(), Value::String(command.into()));
        match value {
            Value::Object(m) => obj.extend(m),
            other => {
                obj.insert("result".into(), other);
            }
        }
        outln!("{}", Value::Object(obj));
    }
}

pub fn report_apply(report: &ApplyReport, has_changes: bool, command: &str, verb: &str, out: &Out) {
    if out.json {
        let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("ok".into(), Value::Bool(true));
            m.insert("had_changes".into(), Value::Bool(has_changes));
        }
        out.emit(command, v);
        return;
    }
    outln!(
        "{} in {:.1}s: {} ({} AWS calls, {} mutating)",
        out.paint.green(verb),
        report.elapsed.as_secs_f64(),
        report.summary,
        report.calls.total,
        report.calls.mutating
    );
    for (k, v) in &report.outputs {
        outln!("  {} = {v}", out.paint.bold(k));
    }
}

fn plan_line(line: &str, p: Paint) -> String {
    let t = line.trim_start();
    if t.starts_with("-/+ ") {
        p.magenta(line)
    } else if t.starts_with("+ ") {
        p.green(line)
    } else if t.starts_with("~ ") {
        p.yellow(line)
    } else if t.starts_with("- ") {
        p.red(line)
    } else if t.starts_with("<= ") {
        p.cyan(line)
    } else if t.starts_with("Plan:") {
        p.bold(line)
    } else if t.starts_with("No changes.") {
        p.green(line)
    } else if t.starts_with("note:") {
        p.dim(line)
    } else {
        line.to_string()
    }
}

/// The plan as people read it; `only_changes` leaves out the summary and notes.
pub fn print_plan_text(plan: &DeployPlan, only_changes: bool, out: &Out) {
    let text = plan.to_string();
    for line in text.lines() {
        let t = line.trim_start();
        let trailer = line.is_empty()
            || t.starts_with("Plan:")
            || t.starts_with("No changes.")
            || t.starts_with("note:");
        if only_changes && trailer {
            continue;
        }
        outln!("{}", plan_line(line, out.paint));
    }
    if only_changes && !plan.has_changes() {
        outln!("{}", out.paint.green("No changes."));
    }
}

pub fn show_plan(plan: &DeployPlan, only_changes: bool, command: &str, out: &Out) {
    let p = plan.plan();
    if out.json {
        let changes: Vec<_> = p
            .changes
            .iter()
            .filter(|c| !only_changes || c.change.is_change())
            .collect();
        let mut v = json!({
            "ok": true,
            "has_changes": p.has_changes(),
            "summary": p.summary(),
            "changes": changes,
            "notes": p.notes,
        });
        if !only_changes && let Value::Object(m) = &mut v {
            m.insert(
                "cost_estimate".into(),
                serde_json::to_value(plan.estimate_cost(&PricingTable::default()))
                    .unwrap_or(Value::Null),
            );
        }
        out.emit(command, v);
        return;
    }
    print_plan_text(plan, only_changes, out);
    if !only_changes {
        outln!("\n{}", plan.estimate_cost(&PricingTable::default()));
    }
}

pub fn print_status(name: &str, s: &ServiceStatus, out: &Out) {
    let p = out.paint;
    let state = format!("{} {}/{} running", s.status, s.running, s.desired);
    let state = if s.status == "ACTIVE" && s.running >= s.desired {
        p.green(&state)
    } else {
        p.yellow(&state)
    };
    outln!("{}: {state}, {} pending", p.bold(name), s.pending);
    if let Some(x) = &s.express {
        let status = x.status.as_deref().unwrap_or("-");
        match &x.status_reason {
            Some(why) => outln!("  Express service {status}: {why}"),
            None => outln!("  Express service {status}"),
        }
        if let Some(url) = &x.url {
            outln!("  url {url}");
        }
        for c in &x.configurations {
            outln!(
                "  configuration {} {} ({} CPU, {} MiB){}",
                c.revision.as_deref().unwrap_or("-"),
                c.image.as_deref().unwrap_or("-"),
                c.cpu.as_deref().unwrap_or("-"),
                c.memory.as_deref().unwrap_or("-"),
                if c.in_effect { ", in effect" } else { "" }
            );
        }
    }
    if let Some(td) = &s.task_definition {
        outln!("  task definition {td}");
    }
    if let Some(prev) = &s.previous_task_definition {
        outln!("  {}", p.dim(&format!("previous (rollback target) {prev}")));
    }
    for d in &s.deployments {
        outln!(
            "  deployment {} {}: {}/{} running, {} failed, {}",
            d.id,
            d.status,
            d.running,
            d.desired,
            d.failed_tasks,
            d.rollout_state.as_deref().unwrap_or("-")
        );
    }
    for t in &s.targets {
        let line = format!("  target {} is {}", t.target, t.state);
        outln!(
            "{}",
            if t.state == "healthy" {
                p.green(&line)
            } else {
                p.red(&line)
            }
        );
    }
    for e in &s.events {
        outln!("  {}", p.dim(&format!("event: {e}")));
    }
}

/// `<app>: not deployed (<what is missing> does not exist)`.
pub fn print_not_deployed(name: &str, e: &fargate_core::Error, out: &Out) {
    let p = out.paint;
    let why = match e {
        fargate_core::Error::NotDeployed { missing, .. } => format!("{missing} does not exist"),
        other => other.to_string(),
    };
    outln!("{}: {} ({why})", p.bold(name), p.yellow("not deployed"));
}
