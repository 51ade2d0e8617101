//! Running an invocation: load and check everything, connect, then run the steps in order.

use std::cell::Cell;
use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatchlogs::types::OrderBy;
use fargate_core::exec::CancellationToken;
use fargate_core::{AwsResultExt, Error, EventSink, ResourceId};
use fargate_deploy::run_task::ContainerOverride;
use fargate_deploy::{ApplyOptions, ApplyReport, DeployPlan, Deployer, DeployerOptions, SavedPlan};
use fargate_local::Endpoint;
use serde_json::{Value, json};

use crate::app_file::{BuiltApp, Kind, Loaded, load};
use crate::args::{Command, Invocation};
use crate::connect::Connection;
use crate::exit::{CHANGES, Failure, NOT_DEPLOYED, OK, TASK_FAILED};
use crate::output::{
    Out, errln, outln, print_not_deployed, print_plan_text, print_status, report_apply, show_plan,
};

/// What the steps share.
struct Session<'a> {
    loaded: &'a Loaded,
    deployer: &'a Deployer,
    out: &'a Out,
    endpoint: &'a Endpoint,
    /// Set when Ctrl-C ended a step (`logs --follow`): the invocation stops after it.
    interrupted: Cell<bool>,
}

/// Runs the invocation and returns its exit code: the failing step's, or else the last step's.
pub async fn run(inv: Invocation, out: Out) -> u8 {
    let first = inv.steps.first().map(Command::name).unwrap_or("load");
    let fail = |f: Failure, step: &str| {
        f.report(&out, step);
        f.code
    };
    // `fargate schema` alone reads no file.
    if inv.steps.iter().all(|s| matches!(s, Command::Schema)) {
        for _ in &inv.steps {
            print_schema(&out);
        }
        return OK;
    }
    // Everything about the input is checked before any AWS call.
    let loaded = match load(&inv.file, !inv.aws) {
        Ok(l) => l,
        Err(f) => return fail(f, first),
    };
    for step in &inv.steps {
        if let Err(f) = check_step(step, &loaded, &inv) {
            return fail(f, step.name());
        }
    }
    // The apps together (unique names, shared load balancers), still before any AWS call.
    if let Err(e) = fargate_deploy::validate(&loaded.env, &loaded.all()) {
        return fail(Failure::from_error(&e), first);
    }
    let connection = match crate::connect::connect(inv.aws).await {
        Ok(c) => c,
        Err(f) => return fail(f, first),
    };
    let target = &connection.target;
    if !out.json {
        banner(&loaded, &connection, &out);
    }
    let mut options = DeployerOptions::default().interceptors(target.interceptors.clone());
    if let Some(n) = connection.max_attempts {
        options = options.retry_config(fargate_deploy::default_retry_config().with_max_attempts(n));
    }
    let deployer = match Deployer::with_options(&target.sdk, options).await {
        Ok(d) => d,
        Err(e) => {
            let hint = if connection.running_emulator {
                format!(
                    "\n  hint: {} names a moto server that must already be running",
                    crate::connect::MOTO_URL
                )
            } else {
                String::new()
            };
            let f = Failure::setup(format!(
                "cannot connect to {}: {e}{}{hint}",
                target.endpoint,
                crate::exit::causes(&e)
            ));
            return fail(f, first);
        }
    };
    if target.is_emulator() {
        match crate::emulator::seed_secrets(&loaded, &deployer).await {
            Ok(notes) if !out.json => {
                for n in notes {
                    errln!("{} {n}", out.err.dim("note:"));
                }
            }
            Ok(_) => {}
            Err(f) => return fail(f, first),
        }
    }
    if inv.force_unlock {
        match deployer.force_unlock(&loaded.env).await {
            Ok(Some(lease)) if !out.json => {
                errln!(
                    "{} removed the environment lock of {lease}",
                    out.err.dim("note:")
                );
            }
            Ok(_) => {}
            Err(e) => return fail(Failure::from_error(&e), first),
        }
    }
    let session = Session {
        loaded: &loaded,
        deployer: &deployer,
        out: &out,
        endpoint: &target.endpoint,
        interrupted: Cell::new(false),
    };
    let mut code = OK;
    for step in &inv.steps {
        if !out.json && inv.steps.len() > 1 {
            outln!("{}", out.paint.bold(&format!("== {}", step_title(step))));
        }
        match execute(step, &session).await {
            Ok(c) => code = c,
            Err(f) => return fail(f, step.name()),
        }
        if session.interrupted.get() {
            // Ctrl-C ends the invocation, not only the step (it also stopped a local
            // emulator started by this invocation).
            break;
        }
    }
    code
}

/// The notes and the line that says what this invocation talks to, on stderr.
fn banner(loaded: &Loaded, connection: &Connection, out: &Out) {
    let target = &connection.target;
    for n in loaded.notes.iter().chain(&connection.notes) {
        errln!("{} {n}", out.err.dim("note:"));
    }
    if target.is_emulator()
        && let Some(url) = std::env::var_os("AWS_ENDPOINT_URL").filter(|u| !u.is_empty())
    {
        errln!(
            "{} AWS_ENDPOINT_URL={} is ignored: without --aws, fargate uses its own local emulator",
            out.err.dim("note:"),
            url.to_string_lossy()
        );
    }
    let account = connection
        .override_account
        .as_ref()
        .map(|id| {
            format!(
                ", in the moto account {id} ({})",
                crate::connect::MOTO_ACCOUNT
            )
        })
        .unwrap_or_default();
    errln!(
        "{} environment `{}` ({} apps) on {}{account}",
        out.err.dim("fargate:"),
        loaded.env.name(),
        loaded.apps.len(),
        target.endpoint
    );
}

fn step_title(step: &Command) -> String {
    match step.app() {
        Some(app) => format!("{} {app}", step.name()),
        None => step.name().to_string(),
    }
}

/// Input checks of a step that need no AWS call.
fn check_step(step: &Command, loaded: &Loaded, inv: &Invocation) -> Result<(), Failure> {
    if inv.aws && step.mutates() && !inv.yes {
        return Err(Failure::bad_input(format!(
            "`{}` with --aws changes the AWS account of your AWS config: add --yes to confirm",
            step.name()
        )));
    }
    if let Some(name) = step.app() {
        let app = loaded.find(name)?;
        let needs_service = matches!(
            step,
            Command::Status { .. }
                | Command::Rollback { .. }
                | Command::Continue { .. }
                | Command::Exec { .. }
        );
        if needs_service && app.kind() == Kind::Job {
            return Err(Failure::bad_input(format!(
                "app `{name}` is a scheduled job: it has no service to {}",
                match step {
                    Command::Rollback { .. } => "roll back",
                    Command::Continue { .. } => "continue",
                    Command::Exec { .. } => "run a command in (try `run`)",
                    _ => "show (try `run` or `logs`)",
                }
            )));
        }
    }
    if let Command::Run { env, .. } = step {
        for kv in env {
            if kv.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
                return Err(Failure::bad_input(format!(
                    "--env {kv}: expected NAME=VALUE"
                )));
            }
        }
    }
    Ok(())
}

async fn execute(step: &Command, s: &Session<'_>) -> Result<u8, Failure> {
    let (loaded, deployer, out) = (s.loaded, s.deployer, s.out);
    let env = &loaded.env;
    match step {
        Command::Plan { .. } | Command::Diff => {
            let only_changes = matches!(step, Command::Diff);
            let plan = deployer
                .plan(env, &loaded.all())
                .await
                .map_err(|e| Failure::from_error(&e))?;
            show_plan(&plan, only_changes, step.name(), out);
            if let Command::Plan { out: Some(file) } = step {
                write_saved(&plan, file, out)?;
            }
            Ok(if plan.has_changes() { CHANGES } else { OK })
        }
        Command::Apply { plan: Some(file) } => {
            let saved = read_saved(file)?;
            if !out.json {
                print_saved(&saved, file, out);
            }
            let (events, renderer) = progress(deployer, out);
            let result = deployer
                .apply_saved(
                    env,
                    &loaded.all(),
                    &saved,
                    ApplyOptions {
                        events,
                        ..ApplyOptions::default()
                    },
                )
                .await;
            if let Some(r) = renderer {
                let _ = r.await;
            }
            let report = result.map_err(|e| Failure::from_apply(&e))?;
            report_apply(&report, saved.plan().has_changes(), "apply", "applied", out);
            Ok(OK)
        }
        Command::Apply { plan: None } => {
            let plan = deployer
                .plan(env, &loaded.all())
                .await
                .map_err(|e| Failure::from_error(&e))?;
            let has_changes = plan.has_changes();
            if !out.json {
                print_plan_text(&plan, false, out);
            }
            let report = apply(deployer, plan, out).await?;
            report_apply(&report, has_changes, "apply", "applied", out);
            Ok(OK)
        }
        Command::Destroy { apps_only } => {
            let apps = loaded.all();
            let plan = if *apps_only {
                deployer.plan_destroy_apps(env, &apps).await
            } else {
                deployer.plan_destroy(env, &apps).await
            }
            .map_err(|e| Failure::from_error(&e))?;
            let has_changes = plan.has_changes();
            if !out.json {
                print_plan_text(&plan, false, out);
            }
            let report = apply(deployer, plan, out).await?;
            report_apply(&report, has_changes, "destroy", "destroyed", out);
            Ok(OK)
        }
        Command::Status { app } => status(s, app.as_deref()).await,
        Command::Run {
            app,
            env: vars,
            timeout,
            command,
        } => run_task(s, app, vars, *timeout, command).await,
        Command::Logs {
            app,
            lines,
            follow: false,
        } => logs(s, app, *lines).await,
        Command::Logs {
            app,
            lines,
            follow: true,
        } => follow_logs(s, app, *lines).await,
        Command::Continue { app, reject } => continue_deployment(s, app, *reject).await,
        Command::Exec {
            app,
            container,
            command,
        } => exec(s, app, container.as_deref(), command).await,
        Command::Rollback { app } => {
            let a = loaded.find(app)?;
            let td = deployer
                .rollback(env, a.app())
                .await
                .map_err(|e| Failure::from_error(&e))?;
            if out.json {
                out.emit(
                    "rollback",
                    json!({"ok": true, "app": app, "task_definition": td}),
                );
            } else {
                outln!("{} {app} to {td}", out.paint.green("rolled back"));
            }
            Ok(OK)
        }
        Command::Schema => {
            print_schema(out);
            Ok(OK)
        }
    }
}

/// The app file's JSON Schema on stdout: as shipped, or on one line with `--json`.
fn print_schema(out: &Out) {
    if out.json {
        outln!("{}", crate::app_file::schema::app_file());
    } else {
        outln!("{}", crate::app_file::schema::pretty());
    }
}

/// The status of one app's service, or of every service. An app that is not deployed is
/// reported as such (exit code 6) and the others are still shown.
async fn status(s: &Session<'_>, app: Option<&str>) -> Result<u8, Failure> {
    let (loaded, out) = (s.loaded, s.out);
    let apps: Vec<&BuiltApp> = match app {
        Some(name) => vec![loaded.find(name)?],
        None => loaded
            .apps
            .iter()
            .filter(|a| a.kind() != Kind::Job)
            .collect(),
    };
    let mut all = Vec::new();
    let mut code = OK;
    for a in apps {
        let name = a.app().name().as_str();
        match s.deployer.status(&loaded.env, a.app()).await {
            Ok(status) => {
                if !out.json {
                    print_status(name, &status, out);
                }
                all.push(json!({"app": name, "deployed": true, "status": status}));
            }
            Err(e @ Error::NotDeployed { .. }) => {
                code = NOT_DEPLOYED;
                if !out.json {
                    print_not_deployed(name, &e, out);
                }
                all.push(json!({"app": name, "deployed": false, "reason": e.to_string()}));
            }
            Err(e) => return Err(Failure::from_error(&e)),
        }
    }
    if out.json {
        out.emit(
            "status",
            json!({"ok": code == OK, "exit_code": code, "services": all}),
        );
    } else if all.is_empty() {
        outln!("no services in the file");
    }
    Ok(code)
}

async fn apply(deployer: &Deployer, plan: DeployPlan, out: &Out) -> Result<ApplyReport, Failure> {
    let (events, renderer) = progress(deployer, out);
    let result = deployer
        .apply_with(
            plan,
            ApplyOptions {
                events,
                ..ApplyOptions::default()
            },
        )
        .await;
    if let Some(r) = renderer {
        let _ = r.await;
    }
    result.map_err(|e| Failure::from_apply(&e))
}

/// `plan --out FILE`: the plan as a saved plan (JSON), for `apply --plan FILE`.
fn write_saved(plan: &DeployPlan, file: &Path, out: &Out) -> Result<(), Failure> {
    let json = plan
        .to_saved()
        .to_json()
        .map_err(|e| Failure::failed(format!("cannot write the plan as JSON: {e}")))?;
    std::fs::write(file, json + "\n").map_err(|e| {
        Failure::failed(format!(
            "cannot write the saved plan to {}: {e}",
            file.display()
        ))
    })?;
    if !out.json {
        errln!(
            "{} saved the plan to {}: review it, then `apply --plan {}` applies exactly it",
            out.err.dim("note:"),
            file.display(),
            file.display()
        );
    }
    Ok(())
}

/// `apply --plan FILE`: the saved plan; a file that cannot be read or is not a saved plan
/// of this version is bad input.
fn read_saved(file: &Path) -> Result<SavedPlan, Failure> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        Failure::bad_input(format!("--plan {}: cannot read it: {e}", file.display()))
    })?;
    SavedPlan::from_json(&text)
        .map_err(|e| Failure::bad_input(format!("--plan {}: {e}", file.display())))
}

/// The saved plan as it was reviewed, before it is checked and applied.
fn print_saved(saved: &SavedPlan, file: &Path, out: &Out) {
    outln!(
        "{}",
        out.paint.dim(&format!(
            "saved plan {} ({} of environment {}):",
            file.display(),
            saved.mode(),
            saved.environment()
        ))
    );
    for line in saved.plan().to_string().lines() {
        outln!("{line}");
    }
}

/// Progress bars on stderr, except with `--json`.
fn progress(deployer: &Deployer, out: &Out) -> (EventSink, Option<tokio::task::JoinHandle<()>>) {
    if out.json {
        (EventSink::none(), None)
    } else {
        let (events, handle) = fargate_local::progress(deployer.recorder().clone());
        (events, Some(handle))
    }
}

async fn run_task(
    s: &Session<'_>,
    name: &str,
    vars: &[String],
    timeout: u64,
    command: &[String],
) -> Result<u8, Failure> {
    let (loaded, deployer, out) = (s.loaded, s.deployer, s.out);
    let a = loaded.find(name)?;
    let info = a
        .app()
        .task(&loaded.env)
        .ok_or_else(|| Failure::bad_input(format!("app `{name}` has no task to run")))?;
    let mut o = match a {
        BuiltApp::Job(job) => job.job_override().clone(),
        _ => ContainerOverride::new(info.container.clone())
            .map_err(|e| Failure::bad_input(e.to_string()))?,
    };
    for kv in vars {
        if let Some((k, v)) = kv.split_once('=') {
            o = o
                .env(k, v)
                .map_err(|e| Failure::bad_input(format!("--env {kv}: {e}")))?;
        }
    }
    if !command.is_empty() {
        o = o.command(command.iter().cloned());
    }
    let (events, renderer) = progress(deployer, out);
    let result = deployer
        .run(
            &loaded.env,
            a.app(),
            vec![o],
            Duration::from_secs(timeout),
            events,
        )
        .await;
    if let Some(r) = renderer {
        let _ = r.await;
    }
    let outcome = result.map_err(|e| {
        let mut f = Failure::from_error(&e);
        f.message.push_str(&run_task_hint(s, name, &e));
        f
    })?;
    let code = match outcome.exit_code() {
        Some(c) if c != 0 => TASK_FAILED,
        _ => OK,
    };
    if out.json {
        let mut v = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("ok".into(), Value::Bool(code == OK));
            m.insert("app".into(), Value::String(name.into()));
            m.insert("exit_code".into(), json!(outcome.exit_code()));
        }
        out.emit("run", v);
        return Ok(code);
    }
    let exit = outcome
        .exit_code()
        .map(|c| format!("exit code {c}"))
        .unwrap_or_else(|| "no exit code".into());
    let exit = if code == OK {
        out.paint.green(&exit)
    } else {
        out.paint.red(&exit)
    };
    outln!(
        "task {} stopped: {exit}, {}",
        outcome.task_id(),
        outcome
            .stopped_reason
            .as_deref()
            .unwrap_or("no reason given")
    );
    for c in &outcome.containers {
        for line in &c.last_log_lines {
            outln!("  {} {line}", out.paint.dim("|"));
        }
    }
    Ok(code)
}

/// On an endpoint override (another emulator), a failed RunTask of an app whose container
/// reserves no memory is most likely moto's HTTP 500: say which field to set.
fn run_task_hint(s: &Session<'_>, name: &str, e: &Error) -> String {
    let run_task_failed = matches!(e, Error::Aws(aws) if aws.operation == "RunTask");
    let overridden = matches!(s.endpoint, Endpoint::Override { .. });
    if run_task_failed
        && overridden
        && s.loaded
            .without_memory_reservation
            .iter()
            .any(|n| n == name)
    {
        format!(
            "\n  hint: moto (an emulator) fails RunTask with HTTP 500 when no container sets \
             memory or memoryReservation: set `memory_reservation` (MiB) on app `{name}`"
        )
    } else {
        String::new()
    }
}

async fn logs(s: &Session<'_>, name: &str, lines: u32) -> Result<u8, Failure> {
    let (loaded, deployer, out) = (s.loaded, s.deployer, s.out);
    let a = loaded.find(name)?;
    let info = a
        .app()
        .task(&loaded.env)
        .ok_or_else(|| Failure::bad_input(format!("app `{name}` has no task")))?;
    let group = info.logs.group.clone();
    let prefix = format!("{}/{}/", info.logs.stream_prefix, info.container);
    let id = ResourceId::new("logs:log-group", group.as_str());
    let clients = deployer.clients();
    // The most recently written streams; the app's main container's is `<prefix>/<container>/<task>`.
    // (fargate-deploy reads a given stream, `logs::last_log_lines`; finding the newest stream of
    // an app is this command's own question.)
    let found = clients
        .logs
        .describe_log_streams()
        .log_group_name(&group)
        .order_by(OrderBy::LastEventTime)
        .descending(true)
        .limit(50)
        .send()
        .await
        .context(&id, "DescribeLogStreams");
    let found = match found {
        Ok(f) => f,
        Err(e) if e.aws_code() == Some("ResourceNotFoundException") => {
            return Err(Failure::from_error(&Error::NotDeployed {
                environment: loaded.env.name().to_string(),
                app: name.to_string(),
                missing: id,
            }));
        }
        Err(e) => return Err(Failure::from_error(&e)),
    };
    let stream = found
        .log_streams()
        .iter()
        .filter_map(|s| s.log_stream_name())
        .find(|s| s.starts_with(&prefix))
        .map(str::to_string);
    let lines = match &stream {
        Some(s) => fargate_deploy::logs::last_log_lines(clients, &group, s, lines)
            .await
            .map_err(|e| Failure::from_error(&e))?,
        None => Vec::new(),
    };
    if out.json {
        out.emit(
            "logs",
            json!({"ok": true, "app": name, "group": group, "stream": stream, "lines": lines}),
        );
        return Ok(OK);
    }
    match &stream {
        Some(s) => outln!("{}", out.paint.dim(&format!("{group} {s}"))),
        None => outln!("no log stream yet in {group} (no task of `{name}` has logged)"),
    }
    for l in &lines {
        outln!("  {} {l}", out.paint.dim("|"));
    }
    Ok(OK)
}

/// `logs --follow`: the last lines as `logs` prints them, then every new line of the app's
/// containers (`<stream> | <line>`, or one JSON object per line) until Ctrl-C, which ends
/// the invocation with exit code 0.
async fn follow_logs(s: &Session<'_>, name: &str, lines: u32) -> Result<u8, Failure> {
    let (loaded, deployer, out) = (s.loaded, s.deployer, s.out);
    let a = loaded.find(name)?;
    // From before the last lines are read: a line logged meanwhile is not lost (it may
    // show twice).
    let since = SystemTime::now();
    logs(s, name, lines).await?;
    let cancel = CancellationToken::new();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ctrl_c = tokio::spawn({
        let (cancel, interrupted) = (cancel.clone(), interrupted.clone());
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                cancel.cancel();
            }
        }
    });
    if !out.json {
        errln!(
            "{} following {name}'s logs: Ctrl-C stops",
            out.err.dim("note:")
        );
    }
    let result = deployer
        .tail_logs(&loaded.env, a.app(), since, &cancel, |line| {
            print_log_line(name, &line, out);
        })
        .await;
    ctrl_c.abort();
    result.map_err(|e| Failure::from_error(&e))?;
    if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
        s.interrupted.set(true);
    }
    Ok(OK)
}

fn print_log_line(app: &str, line: &fargate_deploy::logs::LogLine, out: &Out) {
    if out.json {
        out.emit(
            "logs",
            json!({
                "ok": true,
                "app": app,
                "stream": line.stream,
                "timestamp_ms": line.timestamp_ms,
                "line": line.message,
            }),
        );
    } else {
        outln!(
            "{} {} {}",
            out.paint.dim(&line.stream),
            out.paint.dim("|"),
            line.message.trim_end_matches(['\r', '\n'])
        );
    }
}

/// `continue APP [--reject]`: continue (or roll back) the app's deployment paused at a
/// lifecycle hook.
async fn continue_deployment(s: &Session<'_>, name: &str, reject: bool) -> Result<u8, Failure> {
    let (loaded, deployer, out) = (s.loaded, s.deployer, s.out);
    let a = loaded.find(name)?;
    let done = if reject {
        deployer.reject_deployment(&loaded.env, a.app()).await
    } else {
        deployer.continue_deployment(&loaded.env, a.app()).await
    }
    .map_err(|e| Failure::from_error(&e))?;
    if out.json {
        out.emit(
            "continue",
            json!({"ok": true, "app": name, "continued": done}),
        );
        return Ok(OK);
    }
    let hooks: Vec<&str> = done.hooks.iter().map(|h| h.hook_id.as_str()).collect();
    let stage = done
        .lifecycle_stage
        .as_deref()
        .map(|st| format!(" at stage {st}"))
        .unwrap_or_default();
    let verb = if reject {
        out.paint.yellow("rolling back")
    } else {
        out.paint.green("continued")
    };
    outln!(
        "{verb} {name}: service deployment {}{stage} (hook {})",
        done.service_deployment_arn,
        hooks.join(", ")
    );
    if !reject {
        outln!(
            "{}",
            out.paint
                .dim("ECS goes on with the deployment; `status` shows where it stands")
        );
    }
    Ok(OK)
}

/// The Session Manager plugin: `FARGATE_SESSION_MANAGER_PLUGIN`, or
/// `session-manager-plugin` on `PATH`.
fn session_manager_plugin() -> Result<std::path::PathBuf, Failure> {
    const INSTALL: &str = "install the AWS Session Manager plugin \
        (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html) \
        or set FARGATE_SESSION_MANAGER_PLUGIN to its path";
    if let Some(path) = std::env::var_os("FARGATE_SESSION_MANAGER_PLUGIN") {
        let path = std::path::PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Failure::setup(format!(
                "FARGATE_SESSION_MANAGER_PLUGIN={}: no such file; {INSTALL}",
                path.display()
            )))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("session-manager-plugin"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::setup(format!(
                "exec needs session-manager-plugin, which is not on PATH: {INSTALL}"
            ))
        })
}

/// `exec APP [--container NAME] [-- COMMAND...]`: ECS Exec, connected through the Session
/// Manager plugin as the AWS CLI's `ecs execute-command` does. Ctrl-C goes to the command.
async fn exec(
    s: &Session<'_>,
    name: &str,
    container: Option<&str>,
    command: &[String],
) -> Result<u8, Failure> {
    let (loaded, deployer, out) = (s.loaded, s.deployer, s.out);
    let a = loaded.find(name)?;
    // Before any AWS call: without the plugin the session could not be used.
    let plugin = session_manager_plugin()?;
    let command = (!command.is_empty()).then(|| command.join(" "));
    let session = deployer
        .exec(&loaded.env, a.app(), container, command.as_deref())
        .await
        .map_err(|e| Failure::from_error(&e))?;
    if out.json {
        out.emit(
            "exec",
            json!({
                "app": name,
                "task": session.task_arn(),
                "container": session.container(),
                "session_id": session.session_id(),
            }),
        );
    } else {
        outln!(
            "{name}: session {} in container {} of task {}",
            session.session_id(),
            session.container(),
            session.task_arn()
        );
    }
    let args = session.plugin_args(&deployer.clients().aws.region);
    // The plugin owns the terminal: Ctrl-C is for the remote command, not for us.
    let swallow = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&plugin).args(&args).status()
    })
    .await;
    swallow.abort();
    match status {
        Ok(Ok(st)) if st.success() => Ok(OK),
        Ok(Ok(st)) => Err(Failure::failed(format!(
            "session-manager-plugin ended with {st}"
        ))),
        Ok(Err(e)) => Err(Failure::setup(format!(
            "cannot start session-manager-plugin: {e}"
        ))),
        Err(e) => Err(Failure::failed(format!("the plugin's wait failed: {e}"))),
    }
}
