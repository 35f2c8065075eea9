//! The commands.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tripline_core::definition::{Definition, Trigger};
use tripline_core::kernel::percent;
use tripline_core::schedule::preview::parse_preview_query;

use crate::client::Client;
use crate::files::{self, Problem};
use crate::follow::{self, Follow, Interrupted};
use crate::output::{self, duration, table, Style};
use crate::plan::{self, Action, Remote};
use crate::{Cli, Command, Failure};

pub fn run(cli: Cli) -> Result<(), Failure> {
    if cli.command.changes_the_server() {
        output::finish_when_unread();
    }
    let style = Style::detect();
    let json_out = cli.json;
    // Only the commands that call the server build a client, so `check`, `preview FILE` and
    // `schema` need no token.
    let client = || {
        // The local token of a checkout goes only to a Tripline on this machine.
        let local = crate::client::on_this_machine(&cli.url);
        let token = token(cli.token.as_deref(), local);
        let client = Client::new(&cli.url, token.as_deref().unwrap_or(""))?;
        let client = token.map(|_| client).ok_or_else(|| {
            Failure::Usage(match local {
                true => NO_TOKEN.into(),
                false => NO_REMOTE_TOKEN.into(),
            })
        })?;
        if let Some(host) = crate::client::plain_http_off_this_machine(&cli.url) {
            err_line!(
                "warning: the admin token goes to {host} over plain http, readable by anyone on \
                 the way; use an https:// --url for a Tripline not on this machine"
            );
        }
        Ok(client)
    };
    match &cli.command {
        Command::Check { paths } => check(paths, json_out, style),
        Command::Diff {
            paths,
            deploy,
            prune,
            prune_prefix,
        }
        | Command::Apply {
            paths,
            deploy,
            prune,
            prune_prefix,
        } => {
            let write = matches!(cli.command, Command::Apply { .. });
            // What the command line says is checked before the server is asked anything.
            let prune = prune_scope(paths, *prune, prune_prefix.as_deref())?;
            apply(&client()?, paths, *deploy, prune, write, json_out, style)
        }
        Command::Runs {
            key,
            status,
            limit,
            follow,
        } => runs(
            &client()?,
            key,
            status.as_deref(),
            *limit,
            *follow,
            json_out,
            style,
        ),
        Command::Run { run_id } => show_run(&client()?, run_id, json_out, style),
        Command::Replay { run_id } => replay(&client()?, run_id, json_out),
        Command::Preview {
            target,
            count,
            after,
        } => preview(client, target, *count, after.as_deref(), json_out),
        Command::Send {
            key,
            test,
            data,
            headers,
            query,
            method,
        } => send(
            &client()?,
            key,
            *test,
            data.as_deref(),
            headers,
            query,
            method.as_deref(),
            json_out,
        ),
        Command::Pull { dir } => crate::pull::pull(&client()?, dir, json_out, style),
        Command::Undeploy { key } => undeploy(&client()?, key, json_out),
        Command::Delete { key, yes } => {
            if !yes {
                return Err(Failure::Usage(format!(
                    "deleting {key} removes it with its versions, runs and URLs, and cannot be \
                     undone: pass --yes to confirm (or `undeploy` to stop it and keep them)"
                )));
            }
            delete(&client()?, key, json_out)
        }
        Command::Schema => {
            out!("{}", tripline_core::schema::definition_schema_json());
            Ok(())
        }
    }
}

/// [`NO_TOKEN`] for a `--url` on another machine, which never gets a `.dev.vars` token.
const NO_REMOTE_TOKEN: &str = "no admin token: pass --token or set TRIPLINE_TOKEN (a token \
                               in .dev.vars goes only to a Tripline on this machine)";

/// Why a command that calls the server stops before any request when [`token`] finds none.
const NO_TOKEN: &str = "no admin token: pass --token, set TRIPLINE_TOKEN, or run inside the \
                        checkout whose .dev.vars holds ADMIN_TOKEN";

/// The token: given (`--token`, `TRIPLINE_TOKEN`), else, when `local` (the URL is on this
/// machine), `ADMIN_TOKEN` from a `.dev.vars` here or in a parent folder (where `scripts/dev`
/// writes it). An empty one counts as none.
fn token(given: Option<&str>, local: bool) -> Option<String> {
    if let Some(t) = given.filter(|t| !t.trim().is_empty()) {
        return Some(t.to_string());
    }
    if !local {
        return None;
    }
    let mut dir = std::env::current_dir().ok();
    while let Some(d) = dir {
        if let Ok(text) = std::fs::read_to_string(d.join(".dev.vars")) {
            if let Some(t) = dev_var(&text, "ADMIN_TOKEN") {
                return (!t.is_empty()).then_some(t);
            }
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    None
}

/// The value of `name` in a `.dev.vars` file, read as `wrangler dev` reads it (the dotenv
/// format), so the token sent is the one the Worker has: the last line `NAME=VALUE` (also
/// `export NAME=VALUE`, spaces around `=`, or `NAME: VALUE`). A value in matching single,
/// double or back quotes is what is between them (in double quotes `\n` and `\r` are a line
/// break and a carriage return); any other value is trimmed and ends before a `#` (a comment).
/// Values spanning several lines are not read.
fn dev_var(text: &str, name: &str) -> Option<String> {
    text.lines()
        .filter_map(|l| dev_var_line(l, name))
        .next_back()
}

fn dev_var_line(line: &str, name: &str) -> Option<String> {
    let line = line.trim_start();
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    };
    let rest = line.strip_prefix(name)?;
    let value = match rest.trim_start().strip_prefix('=') {
        Some(value) => value,
        None => rest
            .strip_prefix(':')
            .filter(|v| v.starts_with(char::is_whitespace))?,
    };
    let value = value.trim_start();
    // Quoted: up to the first closing quote not escaped with `\`, then only a comment.
    let quoted = ['\'', '"', '`'].into_iter().find_map(|q| {
        let inner = value.strip_prefix(q)?;
        let mut escaped = false;
        let end = inner.char_indices().find_map(|(i, c)| {
            let closes = c == q && !escaped;
            escaped = c == '\\' && !escaped;
            closes.then_some(i)
        })?;
        let after = inner[end + 1..].trim_start();
        (after.is_empty() || after.starts_with('#')).then(|| (q, inner[..end].to_string()))
    });
    Some(match quoted {
        Some(('"', inner)) => inner.replace("\\n", "\n").replace("\\r", "\r"),
        Some((_, inner)) => inner,
        None => value
            .split('#')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
    })
}

/// Prints the problems found; the command then fails with exit 1, also when the reader of its
/// output goes away while they are written.
pub(crate) fn print_problems(problems: &[Problem], json_out: bool, style: Style) {
    if !problems.is_empty() {
        output::exit_when_unread_with(Failure::Reported.code());
    }
    if json_out {
        out!(
            "{}",
            json!({ "ok": problems.is_empty(), "problems": problems })
        );
        return;
    }
    for p in problems {
        out!("{}", p.render(style));
    }
}

/// `N problems in M files`.
pub(crate) fn problems_summary(problems: &[Problem]) -> String {
    let files: std::collections::BTreeSet<&str> =
        problems.iter().map(|p| p.file.as_str()).collect();
    format!(
        "{} problem{} in {} file{}",
        problems.len(),
        plural(problems.len()),
        files.len(),
        plural(files.len())
    )
}

fn check(paths: &[String], json_out: bool, style: Style) -> Result<(), Failure> {
    let found = files::collect(paths)?;
    files::refuse_empty_folders(paths, "nothing was checked")?;
    let (locals, problems) = files::load(&found);
    print_problems(&problems, json_out, style);
    if !problems.is_empty() {
        if !json_out {
            err_line!("{}", problems_summary(&problems));
        }
        return Err(Failure::Reported);
    }
    if !json_out {
        out!(
            "{} {} workflow file{} valid",
            style.green("ok:"),
            locals.len(),
            plural(locals.len())
        );
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What `--prune` may delete: `None` without it; with it, the start every deleted key has
/// (`""` for any key). `--prune` deletes every keyed workflow no file in the given folders has,
/// so each path must be a folder that holds workflow files: a single file (`apply nightly.yaml
/// --prune`, or a shell's `workflows/*.yaml`) would have every other workflow deleted, and so
/// would a mistyped or reorganised folder, or one with its files in subfolders. Either is a
/// usage error before anything is sent.
fn prune_scope<'a>(
    paths: &[String],
    prune: bool,
    prefix: Option<&'a str>,
) -> Result<Option<&'a str>, Failure> {
    if !prune {
        return Ok(None);
    }
    files::collect(paths)?;
    if let Some(file) = paths.iter().find(|p| !Path::new(p).is_dir()) {
        return Err(Failure::Usage(format!(
            "{file} is a file, not a folder, and --prune deletes every keyed workflow that no \
             file in the given folders has (here every other one), so it needs whole folders: \
             nothing was sent. Give the folder that holds the files (with --prune-prefix to \
             leave other keys alone), or leave out --prune"
        )));
    }
    if let Some(folder) = files::folders_without_workflows(paths)?.first() {
        return Err(Failure::Usage(format!(
            "{folder} holds no workflow file (.json, .yaml or .yml; subfolders are not \
             searched), and --prune would delete the workflows its files give: nothing was \
             sent. Name the folder that holds the files, or leave out --prune"
        )));
    }
    // Named like a workflow file but not read: a workflow applied from one earlier is pruned.
    for (path, why) in files::left_out(paths) {
        err_line!(
            "warning: {} is not read ({why}): --prune deletes a workflow only it gives",
            path.display()
        );
    }
    Ok(Some(prefix.unwrap_or("")))
}

/// `diff` (when `!write`) and `apply`; `prune` as [`prune_scope`] gives it.
fn apply(
    client: &Client,
    paths: &[String],
    deploy: bool,
    prune: Option<&str>,
    write: bool,
    json_out: bool,
    style: Style,
) -> Result<(), Failure> {
    let found = files::collect(paths)?;
    files::refuse_empty_folders(paths, "nothing was sent")?;
    let (locals, problems) = files::load(&found);
    if !problems.is_empty() {
        if json_out {
            // The shape `apply --json` always prints: nothing applied, and why.
            output::exit_when_unread_with(Failure::Reported.code());
            out!(
                "{}",
                json!({ "applied": false, "changes": 0, "problems": problems })
            );
        } else {
            print_problems(&problems, json_out, style);
            err_line!(
                "{}: nothing was sent (fix them first)",
                problems_summary(&problems)
            );
        }
        return Err(Failure::Reported);
    }
    let listed = match client.workflows() {
        Ok(listed) => listed,
        Err(f) => {
            // The shape `apply --json` always prints: nothing applied, and why.
            if json_out {
                output::exit_when_unread_with(f.code());
                out!(
                    "{}",
                    json!({ "applied": false, "changes": 0, "error": f.message() })
                );
            }
            return Err(f);
        }
    };
    let remotes: Vec<Remote> = listed.iter().filter_map(Remote::from_resource).collect();
    let actions = plan::plan(&locals, &remotes, deploy, prune);
    let changes = actions.iter().filter(|a| a.changes_something()).count();
    let mut created: Vec<(String, String)> = Vec::new(); // key → id
                                                         // key → the revision tag of the draft this apply saved, if the server gave one (a deploy
                                                         // deploys only that draft).
    let mut saved: Vec<(String, Option<String>)> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for action in &actions {
        if !json_out {
            print_action(action, style, write);
        }
        let mut result = json!({ "action": action.verb(), "key": action.key() });
        if let Action::Create { file, .. }
        | Action::Update { file, .. }
        | Action::Deploy { file, .. }
        | Action::Unchanged { file, .. } = action
        {
            result["file"] = json!(file);
        }
        if write {
            let done = match perform(client, action, &created, &saved) {
                Ok((done, tag)) => {
                    if let Action::Create { .. } | Action::Update { .. } = action {
                        saved.push((action.key().to_string(), tag));
                    }
                    done
                }
                Err(f) => {
                    // What was done stays said: the actions before this one, then this one
                    // with its error (in text its line is already printed, without an outcome).
                    if json_out {
                        result["error"] = json!(f.message());
                        // `changes`: those made before the failure, of `planned`.
                        let made = results
                            .iter()
                            .filter(|r| r["action"] != "unchanged")
                            .count();
                        out!(
                            "{}",
                            json!({
                                "applied": false,
                                "changes": made,
                                "planned": changes,
                                "actions": results,
                                "failed": result,
                            })
                        );
                    } else {
                        let first = f.message().lines().next().unwrap_or_default();
                        out!("    {}", style.red(&format!("failed: {first}")));
                    }
                    let at = where_of(action);
                    return Err(match f {
                        Failure::Invalid(m) => Failure::Invalid(format!("{at}: {m}")),
                        Failure::Server(m) => Failure::Server(format!("{at}: {m}")),
                        Failure::Network(m) => Failure::Network(format!("{at}: {m}")),
                        other => other,
                    });
                }
            };
            if let Action::Create { key, .. } = action {
                created.push((key.clone(), done["id"].as_str().unwrap_or("").to_string()));
            }
            result["id"] = done["id"].clone();
            // Said, not refused: a secret may be set after the deploy. Once a key: from its
            // deploy's answer when it is deployed, else from its save's.
            let last = match action {
                Action::Deploy { .. } => true,
                Action::Create { .. } | Action::Update { .. } => !deploy,
                _ => false,
            };
            let missing = done["missing_secrets"].as_array().filter(|m| !m.is_empty());
            if let Some(missing) = missing.filter(|_| last) {
                result["missing_secrets"] = json!(missing);
                for m in missing.iter().filter(|_| !json_out) {
                    let name = m["name"].as_str().unwrap_or_default();
                    err_line!(
                        "warning: {}: {} reads the secret {name}, which the Worker does not \
                         have: its runs fail until it is set (`wrangler secret put {name}`; \
                         locally, a line in .dev.vars)",
                        action.key(),
                        m["location"].as_str().unwrap_or_default()
                    );
                }
            }
            if let Action::Deploy { .. } = action {
                result["version"] = done["deployed_version"].clone();
                if !json_out {
                    out!(
                        "    {}",
                        style.dim(&format!("live as version {}", done["deployed_version"]))
                    );
                }
            }
        } else if let Some(diff) = action.draft_diff().filter(|_| json_out) {
            result["diff"] = json!(diff);
        }
        results.push(result);
    }
    if json_out {
        out!(
            "{}",
            json!({ "applied": write, "changes": changes, "actions": results })
        );
        return Ok(());
    }
    let count = |verb: &str| actions.iter().filter(|a| a.verb() == verb).count();
    let summary = format!(
        "{} to create, {} to update, {} to deploy, {} to delete, {} unchanged",
        count("create"),
        count("update"),
        count("deploy"),
        count("delete"),
        count("unchanged")
    );
    if changes == 0 {
        out!(
            "{} {} workflow{} up to date",
            style.green("nothing to do:"),
            locals.len(),
            plural(locals.len())
        );
    } else if write {
        out!(
            "{} {}",
            style.green("applied:"),
            summary
                .replace(" to create", " created")
                .replace(" to update", " updated")
                .replace(" to deploy", " deployed")
                .replace(" to delete", " deleted")
        );
    } else {
        out!("{} {summary}", style.bold("plan:"));
    }
    Ok(())
}

fn where_of(action: &Action) -> String {
    match action {
        Action::Create { file, .. }
        | Action::Update { file, .. }
        | Action::Deploy { file, .. }
        | Action::Unchanged { file, .. } => file.clone(),
        Action::Delete { key, .. } => format!("key {key}"),
    }
}

fn print_action(action: &Action, style: Style, write: bool) {
    let verb = |v: &str| {
        if write {
            v.to_string()
        } else {
            format!("would {v}")
        }
    };
    match action {
        Action::Create { key, file, .. } => out!(
            "{} {key}  {}",
            style.green(&format!("+ {}", verb("create"))),
            style.dim(file)
        ),
        Action::Update { key, file, .. } => {
            out!(
                "{} {key}  {}",
                style.yellow(&format!("~ {}", verb("update"))),
                style.dim(file)
            );
            if !write {
                for line in action.draft_diff().unwrap_or_default() {
                    let painted = match line.chars().next() {
                        Some('+') => style.green(&line),
                        Some('-') => style.red(&line),
                        _ => style.dim(&line),
                    };
                    out!("    {painted}");
                }
            }
        }
        Action::Deploy { key, .. } => {
            out!("{} {key}", style.cyan(&format!("^ {}", verb("deploy"))))
        }
        Action::Delete { key, id } => out!(
            "{} {key}  {}",
            style.red(&format!("- {}", verb("delete"))),
            style.dim(id)
        ),
        Action::Unchanged { key, file, .. } => {
            out!("{} {key}  {}", style.dim("= unchanged"), style.dim(file))
        }
    }
}

/// The title of the API's 503 for a saved draft whose copy for the test URL was not kept.
const DRAFT_COPY_NOT_KEPT: &str = "Draft saved, test URL not updated";

/// Does `action`; answers the server's answer and, for a saved draft, its revision tag.
fn perform(
    client: &Client,
    action: &Action,
    created: &[(String, String)],
    saved: &[(String, Option<String>)],
) -> Result<(Value, Option<String>), Failure> {
    match action {
        Action::Create { body, .. } => {
            let answer = client.answer("POST", "/api/workflows", Some(body))?;
            let created = client.checked("POST", "/api/workflows", &answer)?;
            // The id names the workflow in what follows (its deploy, the summary).
            match created["id"].as_str() {
                Some(_) => Ok((created, answer.etag)),
                None => Err(Failure::Server(
                    "POST /api/workflows answered without the new workflow's `id`".into(),
                )),
            }
        }
        Action::Update { id, body, .. } => {
            let path = format!("/api/workflows/{}", seg(id)?);
            let answer = client.answer("PUT", &path, Some(body))?;
            // The draft was saved but its copy for the test URL did not reach the workflow's
            // object: the same draft is saved again, as the answer asks, up to 3 more times
            // 1, 2 and 4 s apart (a later `apply` would find the draft unchanged and send
            // nothing).
            let mut answer = answer;
            for wait in [1, 2, 4] {
                if !(answer.status == 503 && answer.json()["title"] == DRAFT_COPY_NOT_KEPT) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_secs(wait));
                answer = client.answer("PUT", &path, Some(body))?;
            }
            let done = client.checked("PUT", &path, &answer)?;
            Ok((done, answer.etag))
        }
        Action::Deploy { key, id, body, .. } => {
            let id = match id {
                Some(id) => id.clone(),
                None => created
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, id)| id.clone())
                    .ok_or_else(|| Failure::Server(format!("{key} was not created")))?,
            };
            let path = format!("/api/workflows/{}", seg(&id)?);
            // Only the file's draft is deployed: the one this apply saved (by the tag its save
            // answered), else the server's once it is read to be the file's. One saved
            // elsewhere meanwhile (the dashboard, another apply) is refused by its revision
            // tag rather than deployed unseen.
            let tag = match saved.iter().find(|(k, _)| k == key) {
                Some((_, Some(tag))) => Some(tag.clone()),
                _ => {
                    let answer = client.answer("GET", &path, None)?;
                    let workflow = client.checked("GET", &path, &answer)?;
                    if !plan::is_draft_of(&workflow["draft"], body) {
                        return Err(changed_elsewhere(key));
                    }
                    answer.etag
                }
            };
            let deploy = format!("{path}/deploy");
            let answer = client.answer_if("POST", &deploy, None, tag.as_deref())?;
            if answer.status == 412 {
                return Err(changed_elsewhere(key));
            }
            Ok((client.checked("POST", &deploy, &answer)?, None))
        }
        Action::Delete { id, .. } => client
            .api("DELETE", &format!("/api/workflows/{}", seg(id)?), None)
            .map(|_| (json!({ "id": id }), None)),
        Action::Unchanged { id, .. } => Ok((json!({ "id": id }), None)),
    }
}

/// A deploy refused because the server's draft is no longer the file's.
fn changed_elsewhere(key: &str) -> Failure {
    Failure::Invalid(format!(
        "not deployed: the draft of {key} on the server was changed while apply ran (saved \
         elsewhere), and it is not the file's; run `tripline diff` to see it, then apply again"
    ))
}

/// `s` as one segment of a request's path: an id the server gave (always of a safe shape, but
/// never trusted to be) cannot reach another route. Percent-encoding covers `/`, `?` and `#`;
/// an empty id, `.` and `..` (which a URL parser removes or climbs) are refused.
fn seg(s: &str) -> Result<String, Failure> {
    if matches!(s, "" | "." | "..") {
        return Err(Failure::Server(format!(
            "the server gave `{s}` where a workflow or run id belongs"
        )));
    }
    Ok(percent::encode(s))
}

/// A run id given on the command line, checked for the shape the server gives run ids before
/// it goes into a path: anything else (`../workflows/wf_…/undeploy?`) is a usage error.
fn check_run_id(run_id: &str) -> Result<(), Failure> {
    if tripline_core::kernel::ids::is_run_id(run_id) {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "`{run_id}` is not a run id: run ids look like `run_01k2v6x7…`, as `tripline runs KEY` \
         lists them"
    )))
}

fn run_row(r: &Value) -> Vec<String> {
    // What the server sent, its control and direction characters escaped (a proxy's answer).
    let s = |k: &str| files::visible(r[k].as_str().unwrap_or(""));
    vec![
        s("id"),
        s("status"),
        s("trigger"),
        r["version"].to_string(),
        s("created_at"),
        duration(r["started_at"].as_str(), r["finished_at"].as_str()),
    ]
}

const RUN_HEADER: [&str; 6] = ["RUN", "STATUS", "TRIGGER", "VERSION", "CREATED", "TOOK"];

fn runs(
    client: &Client,
    key: &str,
    status: Option<&str>,
    limit: u32,
    follow: bool,
    json_out: bool,
    style: Style,
) -> Result<(), Failure> {
    let wf = client.by_key(key)?;
    let id = wf["id"].as_str().unwrap_or("").to_string();
    let filter = status.map(|s| format!("&status={s}")).unwrap_or_default();
    if follow {
        return follow_runs(client, key, &id, status, limit, json_out, style);
    }
    let list = newest_runs(client, &id, &filter, limit as usize)?;
    if json_out {
        out!("{}", json!({ "workflow_id": id, "runs": list }));
    } else if list.is_empty() {
        match status {
            Some(s) => out!("no {s} runs of {key}"),
            None => out!("no runs of {key} yet"),
        }
    } else {
        let rows: Vec<Vec<String>> = list.iter().map(run_row).collect();
        out!(
            "{}",
            table(&RUN_HEADER, &rows, |i, c| paint_run_cell(style, i, c))
        );
    }
    Ok(())
}

/// The newest `want` runs of workflow `id` (`filter`: a `&status=` or nothing).
fn newest_runs(
    client: &Client,
    id: &str,
    filter: &str,
    want: usize,
) -> Result<Vec<Value>, Failure> {
    client.pages(
        &format!("/api/workflows/{}/runs", seg(id)?),
        filter,
        "runs",
        want,
    )
}

/// `runs --follow`: the newest `limit` runs (oldest first), then every new run and every status
/// change, polled once a second; the rules of what to print are in [`Follow`].
fn follow_runs(
    client: &Client,
    key: &str,
    id: &str,
    status: Option<&str>,
    limit: u32,
    json_out: bool,
    style: Style,
) -> Result<(), Failure> {
    let print = |r: &Value| {
        if json_out {
            out!("{r}");
        } else {
            let row = run_row(r);
            out!(
                "{}  {}  {}  v{}  {}  {}",
                row[0],
                style.status(&format!("{:<9}", row[1])),
                row[2],
                row[3],
                row[4],
                row[5]
            );
        }
        use std::io::Write;
        let _ = std::io::stdout().flush();
    };
    // The listings are not filtered by status (see `Follow`), except the first one shown.
    let first = newest_runs(client, id, "", follow::PAGE as usize)?;
    let (mut state, mut shown) = Follow::start(&first, limit as usize, status);
    if let Some(s) = status {
        let mut of_status = newest_runs(client, id, &format!("&status={s}"), limit as usize)?;
        of_status.reverse();
        // Read after the first listing: a run new or changed in between is not printed again.
        state.printed(&of_status);
        shown = of_status;
    }
    if !json_out {
        err_line!("following runs of {key} ({id}); Ctrl-C to stop");
    }
    shown.iter().for_each(print);
    let get = |path: &str, gone_ok: bool| {
        follow::read_answer(path, client.answer("GET", path, None), gone_ok)
    };
    let mut failures = 0;
    loop {
        std::thread::sleep(Duration::from_millis(1000));
        // Nothing new may come for long: a reader gone (`| head -1`) ends it now, as a line
        // written to it would.
        if crate::output::reader_gone() {
            return Ok(());
        }
        let polled = state.poll(
            |cursor| {
                let mut path = format!(
                    "/api/workflows/{}/runs?limit={}",
                    seg(id).map_err(Interrupted::Stop)?,
                    follow::PAGE
                );
                if let Some(c) = cursor {
                    path.push_str(&format!("&cursor={}", percent::encode(c)));
                }
                let page = get(&path, false)?.unwrap_or_default();
                if !page["runs"].is_array() {
                    return Err(Interrupted::Retry(crate::client::not_a_list(
                        &client.base,
                        &path,
                        "runs",
                    )));
                }
                let next = page["next_cursor"].as_str().map(str::to_string);
                Ok((runs_of(&page), next))
            },
            |run_id| {
                get(
                    &format!("/api/runs/{}", seg(run_id).map_err(Interrupted::Stop)?),
                    true,
                )
            },
        );
        match polled {
            Ok(polled) => {
                failures = 0;
                if polled.skipped {
                    err_line!(
                        "warning: more than {} new runs since the last poll; older ones are not shown",
                        follow::MAX_PAGES * follow::PAGE as usize
                    );
                }
                polled.print.iter().for_each(print);
            }
            // A restart of the server should not end a follow; a long outage does.
            Err(Interrupted::Retry(f)) if failures < follow::MAX_FAILED_POLLS => {
                failures += 1;
                if failures == 1 {
                    err_line!("warning: {}; retrying", f.message());
                }
            }
            Err(Interrupted::Retry(f) | Interrupted::Stop(f)) => return Err(f),
        }
    }
}

/// The runs of a list answer.
fn runs_of(page: &Value) -> Vec<Value> {
    page["runs"].as_array().cloned().unwrap_or_default()
}

fn paint_run_cell(style: Style, i: usize, c: &str) -> String {
    if i == 1 {
        style.status(c)
    } else {
        c.to_string()
    }
}

fn show_run(client: &Client, run_id: &str, json_out: bool, style: Style) -> Result<(), Failure> {
    check_run_id(run_id)?;
    let run = client.api("GET", &format!("/api/runs/{}", seg(run_id)?), None)?;
    if json_out {
        out!("{run}");
        return Ok(());
    }
    // The steps of its version when that is the deployed one (the only definition the API gives
    // besides the draft), for those the run has not reached; without them when it cannot be read.
    let planned = match (run["status"].as_str(), run["workflow_id"].as_str()) {
        (Some("succeeded") | None, _) | (_, None) => None,
        (_, Some(wf)) => client
            .api("GET", &format!("/api/workflows/{}", seg(wf)?), None)
            .ok()
            .filter(|w| w["deployed_version"] == run["version"])
            .and_then(|w| w["deployed_definition"]["steps"].as_array().cloned()),
    };
    run_lines(&run, planned.as_deref(), style)
        .iter()
        .for_each(|l| out!("{l}"));
    Ok(())
}

/// The steps of `planned` (the run's version's) a run has not recorded, each with what it is:
/// `in progress` and `waiting` while the run is open, `not run` once it failed. None when the
/// records are not the first of them, or the run succeeded.
fn unreached(run: &Value, planned: &[Value]) -> Vec<(String, &'static str)> {
    let status = run["status"].as_str().unwrap_or_default();
    let open = matches!(status, "queued" | "running");
    let names: Vec<String> = planned
        .iter()
        .enumerate()
        .map(|(i, s)| match s["name"].as_str() {
            Some(name) => name.to_string(),
            None => tripline_core::steps::default_name(s["type"].as_str(), i),
        })
        .collect();
    let steps = run["steps"].as_array().map_or(&[][..], Vec::as_slice);
    let matches = steps.len() <= names.len()
        && steps
            .iter()
            .zip(&names)
            .all(|(s, n)| s["name"] == n.as_str());
    if !matches || !(open || status == "failed") {
        return Vec::new();
    }
    names[steps.len()..]
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let state = match (open, j == 0 && status == "running") {
                (false, _) => "not run",
                (true, true) => "in progress",
                (true, false) => "waiting",
            };
            (name.clone(), state)
        })
        .collect()
}

/// A run as `run` shows it: a header, its input, then its steps as a timeline, and after them
/// the steps of `planned` (its version's) it has not reached.
fn run_lines(run: &Value, planned: Option<&[Value]>, style: Style) -> Vec<String> {
    // What the server sent, its control and direction characters escaped (a proxy's answer).
    let s = |v: &Value| files::visible(v.as_str().unwrap_or(""));
    let mut lines = vec![
        format!(
            "{}  {}  workflow {} v{}  trigger {}",
            style.bold(&s(&run["id"])),
            style.status(&s(&run["status"])),
            s(&run["workflow_id"]),
            run["version"],
            s(&run["trigger"])
        ),
        format!(
            "created {}  took {}",
            s(&run["created_at"]),
            duration(run["started_at"].as_str(), run["finished_at"].as_str())
        ),
    ];
    if !run["input"].is_null() {
        lines.push(format!(
            "{} {}",
            style.bold("input:"),
            shortened(&run["input"])
        ));
    }
    let start = run["started_at"].as_str().or(run["created_at"].as_str());
    lines.push(style.bold("steps:"));
    let steps = run["steps"].as_array().cloned().unwrap_or_default();
    let rest = planned.map(|p| unreached(run, p)).unwrap_or_default();
    if steps.is_empty() && rest.is_empty() {
        lines.push("  (none recorded yet)".into());
    }
    for step in &steps {
        let mark = match step["status"].as_str() {
            Some("succeeded") => style.green("✓"),
            Some("failed") => style.red("✗"),
            _ => style.yellow("…"),
        };
        lines.push(format!(
            "  {mark} +{:<7} {:<20} {:<10} {:>7}  attempts {}",
            duration(start, step["started_at"].as_str()),
            s(&step["name"]),
            s(&step["status"]),
            duration(step["started_at"].as_str(), step["finished_at"].as_str()),
            step["attempts"]
        ));
        if !step["error"].is_null() {
            lines.push(format!(
                "      {}",
                style.red(&format!("error: {}", step["error"]))
            ));
        }
        if !step["output"].is_null() {
            // A failed step's output is the answer it failed on.
            let label = if step["status"] == "failed" {
                "answer"
            } else {
                "output"
            };
            let output = format!("{label}: {}", shortened(&step["output"]));
            lines.push(format!("      {}", style.dim(&output)));
        }
    }
    for (name, state) in rest {
        lines.push(style.dim(&format!("  · {:<8} {name:<20} {state}", "")));
    }
    if !run["error"].is_null() {
        lines.push(style.red(&format!("error: {}", run["error"])));
    }
    lines
}

/// A value as compact JSON on one line, cut after 200 characters (`…`); `--json` shows it whole.
fn shortened(v: &Value) -> String {
    let text = v.to_string();
    let short: String = text.chars().take(200).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// `undeploy KEY`: the workflow's trigger stops; the API's answer (the workflow) with `--json`.
fn undeploy(client: &Client, key: &str, json_out: bool) -> Result<(), Failure> {
    let wf = client.by_key(key)?;
    let id = wf["id"].as_str().unwrap_or("");
    let v = client.api(
        "POST",
        &format!("/api/workflows/{}/undeploy", seg(id)?),
        None,
    )?;
    if json_out {
        out!("{v}");
    } else {
        out!("undeployed {key}  {id}");
    }
    Ok(())
}

/// `delete KEY --yes`: the workflow goes, with its versions and runs.
fn delete(client: &Client, key: &str, json_out: bool) -> Result<(), Failure> {
    let wf = client.by_key(key)?;
    let id = wf["id"].as_str().unwrap_or("");
    client.api("DELETE", &format!("/api/workflows/{}", seg(id)?), None)?;
    if json_out {
        out!("{}", json!({ "deleted": id, "key": key }));
    } else {
        out!("deleted {key}  {id}");
    }
    Ok(())
}

fn replay(client: &Client, run_id: &str, json_out: bool) -> Result<(), Failure> {
    check_run_id(run_id)?;
    let v = client.api("POST", &format!("/api/runs/{}/replay", seg(run_id)?), None)?;
    if json_out {
        out!("{v}");
    } else {
        out!(
            "replayed {run_id} as {}",
            v["run_id"].as_str().or(v["id"].as_str()).unwrap_or("?")
        );
    }
    Ok(())
}

fn preview(
    client: impl FnOnce() -> Result<Client, Failure>,
    target: &str,
    count: u32,
    after: Option<&str>,
    json_out: bool,
) -> Result<(), Failure> {
    // The same usage error for a key as for a file, before the server is asked.
    let count_text = count.to_string();
    let (count, after_instant) = parse_preview_query(Some(&count_text), after)
        .map_err(|(loc, m)| Failure::Usage(format!("{}: {m}", loc.replace("query.", "--"))))?;
    let fire_times: Vec<Value> = if names_a_file(target) {
        if !Path::new(target).is_file() {
            return Err(Failure::Usage(format!("{target}: no such file")));
        }
        let (locals, problems) = files::load(&[Path::new(target).to_path_buf()]);
        if !problems.is_empty() {
            print_problems(&problems, json_out, Style::detect());
            return Err(Failure::Reported);
        }
        let def = Definition::parse(&locals[0].body).map_err(|_| Failure::Reported)?;
        let Trigger::Schedule(trigger) = &def.trigger else {
            return Err(Failure::Invalid(format!(
                "{target} has a trigger of type `{}`; only schedules have fire times",
                def.trigger.kind()
            )));
        };
        let now = chrono::Utc::now();
        // Offline there is no deploy date: `daily` with `every > 1` counts days from now.
        trigger
            .preview(after_instant.unwrap_or(now), now, count)
            .into_iter()
            .map(|f| json!(f))
            .collect()
    } else {
        let client = client()?;
        let wf = client.by_key(target)?;
        let id = wf["id"].as_str().unwrap_or("");
        let mut path = format!("/api/workflows/{}/schedule/preview?count={count}", seg(id)?);
        if let Some(a) = after {
            path.push_str(&format!("&after={}", percent::encode(a)));
        }
        let v = client.api("GET", &path, None)?;
        v["fire_times"].as_array().cloned().unwrap_or_default()
    };
    if json_out {
        out!("{}", json!({ "fire_times": fire_times }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = fire_times
        .iter()
        .map(|f| {
            vec![
                f["at"].as_str().unwrap_or("").to_string(),
                f["utc"].as_str().unwrap_or("").to_string(),
                if f["dst_shifted"] == true {
                    "yes".into()
                } else {
                    String::new()
                },
            ]
        })
        .collect();
    out!(
        "{}",
        table(&["LOCAL", "UTC", "DST SHIFT"], &rows, |_, c| c.to_string())
    );
    Ok(())
}

/// Whether `preview`'s target is a file rather than a key: one that exists, or that looks like a
/// path (a `/`, or a workflow file's extension, which no key has).
fn names_a_file(target: &str) -> bool {
    let path = Path::new(target);
    path.is_file()
        || target.contains('/')
        || target.contains(std::path::MAIN_SEPARATOR)
        || crate::source::is_workflow_file(path)
}

/// Whether `name` is an HTTP header name (a token: RFC 9110).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `send`'s query string (`?a=1&b=2`, empty without `-q`) and headers, from its `-q name=value`
/// and `-H 'Name: value'` options; a malformed one is a usage error.
fn query_and_headers(
    query: &[String],
    headers: &[String],
) -> Result<(String, Vec<(String, String)>), Failure> {
    let mut q_string = String::new();
    for (i, q) in query.iter().enumerate() {
        let (k, v) = q
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--query `{q}`: write name=value")))?;
        q_string.push(if i == 0 { '?' } else { '&' });
        q_string.push_str(&format!("{}={}", percent::encode(k), percent::encode(v)));
    }
    let mut hs: Vec<(String, String)> = Vec::new();
    for h in headers {
        let (k, v) = h
            .split_once(':')
            .ok_or_else(|| Failure::Usage(format!("-H `{h}`: write `Name: value`")))?;
        let (k, v) = (k.trim(), v.trim());
        if !is_header_name(k) {
            return Err(Failure::Usage(format!(
                "-H `{h}`: `{k}` is not a header name (letters, digits and !#$%&'*+-.^_`|~)"
            )));
        }
        if v.bytes()
            .any(|b| (b.is_ascii_control() && b != b'\t') || !b.is_ascii())
        {
            return Err(Failure::Usage(format!(
                "-H `{h}`: a header value holds only ASCII without control characters \
                 (percent-encode or base64 other text)"
            )));
        }
        hs.push((k.to_string(), v.to_string()));
    }
    Ok((q_string, hs))
}

#[allow(clippy::too_many_arguments)]
fn send(
    client: &Client,
    key: &str,
    test: bool,
    data: Option<&str>,
    headers: &[String],
    query: &[String],
    method: Option<&str>,
    json_out: bool,
) -> Result<(), Failure> {
    // What the command line says is checked before the server is asked anything: a malformed
    // option is a usage error (exit 2), whether or not the server knows the key or answers.
    let (query, mut hs) = query_and_headers(query, headers)?;
    if let Some(m) = method.filter(|m| !is_header_name(m)) {
        return Err(Failure::Usage(format!(
            "-X `{m}` is not a method name (letters, digits and !#$%&'*+-.^_`|~)"
        )));
    }
    let body: Option<Vec<u8>> = match data {
        None => None,
        Some("@-") => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
            Some(b)
        }
        Some(d) if d.starts_with('@') => {
            Some(std::fs::read(&d[1..]).map_err(|e| Failure::Usage(format!("--data {d}: {e}")))?)
        }
        Some(d) => Some(d.as_bytes().to_vec()),
    };
    let wf = client.by_key(key)?;
    let id = wf["id"].as_str().unwrap_or_default();
    // The test URL serves the draft; the live URL, the deployed version.
    let trigger = if test {
        wf["draft"]["trigger"].clone()
    } else {
        let full = client.api("GET", &format!("/api/workflows/{}", seg(id)?), None)?;
        match &full["deployed_definition"] {
            Value::Null => {
                return Err(Failure::Invalid(format!(
                    "{key} is not deployed: deploy it (tripline apply --deploy), or send to its \
                     test URL (--test)"
                )))
            }
            d => d["trigger"].clone(),
        }
    };
    if trigger["type"] != "endpoint" {
        let which = if test { "draft" } else { "deployed version" };
        return Err(Failure::Invalid(format!(
            "{key}'s {which} is not an endpoint workflow (its trigger is `{}`)",
            trigger["type"].as_str().unwrap_or("?")
        )));
    }
    // Sent to the server we talk to (it may know itself by another origin, behind a proxy).
    let full = format!(
        "{}/hooks/{}{}{query}",
        client.base,
        seg(id)?,
        if test { "/test" } else { "" }
    );
    if body.is_some()
        && !hs
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        hs.push(("content-type".into(), "application/json".into()));
    }
    let method = match method {
        Some(m) => m.to_ascii_uppercase(),
        None => match &trigger["method"] {
            Value::String(m) => m.to_ascii_uppercase(),
            Value::Array(ms) => ms
                .first()
                .and_then(Value::as_str)
                .unwrap_or("POST")
                .to_ascii_uppercase(),
            _ => "POST".into(),
        },
    };
    let answer = client.raw(&method, &full, &hs, body.as_deref())?;
    if json_out {
        let body: Value =
            serde_json::from_str(&answer.text).unwrap_or(Value::String(answer.text.clone()));
        out!("{}", json!({ "status": answer.status, "body": body }));
    } else {
        err_line!("{method} {full} → {}", answer.status);
        out!("{}", answer.text.trim_end());
    }
    match answer.status {
        // A Response step may answer with a redirect: an answer like any other.
        200..=399 => Ok(()),
        400..=499 => Err(Failure::Invalid(format!(
            "the endpoint answered {}",
            answer.status
        ))),
        s => Err(Failure::Server(format!("the endpoint answered {s}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_goes_into_a_path_as_one_segment() {
        let wf = "wf_abcdefghjkmnpqrstvwxyz01";
        assert_eq!(seg(wf).unwrap(), wf);
        assert_eq!(seg("%2e%2e").unwrap(), "%252e%252e");
        assert_eq!(seg("a/../b").unwrap(), "a%2F..%2Fb");
        for bad in ["..", ".", ""] {
            assert!(matches!(seg(bad), Err(Failure::Server(_))), "{bad}");
        }
    }

    #[test]
    fn send_reads_its_query_and_headers_and_refuses_malformed_ones() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (query, headers) = query_and_headers(
            &strings(&["source=web site", "n=1"]),
            &strings(&["X-Tenant:  acme ", "authorization: Bearer a:b"]),
        )
        .unwrap();
        assert_eq!(query, "?source=web%20site&n=1");
        assert_eq!(
            headers,
            [
                ("X-Tenant".to_string(), "acme".to_string()),
                ("authorization".to_string(), "Bearer a:b".to_string())
            ]
        );
        assert_eq!(
            query_and_headers(&[], &[]).unwrap(),
            (String::new(), vec![])
        );
        for (query, headers, message) in [
            (&["source"][..], &[][..], "write name=value"),
            (&[], &["X-Tenant acme"], "write `Name: value`"),
            (&[], &["X Key: 1"], "is not a header name"),
            (&[], &[": 1"], "is not a header name"),
            (&[], &["X-Key: a\u{1}b"], "control characters"),
        ] {
            match query_and_headers(&strings(query), &strings(headers)) {
                Err(Failure::Usage(m)) => assert!(m.contains(message), "{m}"),
                other => panic!("{query:?} {headers:?}: {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn dev_vars_are_read_as_wrangler_reads_them() {
        let token = |text: &str| dev_var(text, "ADMIN_TOKEN");
        for (text, want) in [
            ("ADMIN_TOKEN=abc\n", "abc"),
            ("ADMIN_TOKEN=\"abc\"\n", "abc"),
            ("ADMIN_TOKEN='abc'", "abc"),
            ("ADMIN_TOKEN=`abc`", "abc"),
            ("ADMIN_TOKEN=\"a b#c\"  # the local token", "a b#c"),
            ("ADMIN_TOKEN=  abc  # the local token", "abc"),
            ("export ADMIN_TOKEN = \"abc\"\r\n", "abc"),
            ("  ADMIN_TOKEN: abc", "abc"),
            ("ADMIN_TOKEN=\"a\\nb\"", "a\nb"),
            ("ADMIN_TOKEN='a\\nb'", "a\\nb"),
            ("ADMIN_TOKEN=\"a\\\"b\"", "a\\\"b"),
            // Not matching: the quotes stay.
            ("ADMIN_TOKEN=\"abc", "\"abc"),
            ("ADMIN_TOKEN='abc\"", "'abc\""),
            ("ADMIN_TOKEN=a\"b\"", "a\"b\""),
            ("ADMIN_TOKEN=\"\"", ""),
            ("ADMIN_TOKEN=", ""),
            // The last one counts.
            ("ADMIN_TOKEN=old\nOTHER=x\nADMIN_TOKEN=\"new\"\n", "new"),
        ] {
            assert_eq!(token(text).as_deref(), Some(want), "{text:?}");
        }
        for text in [
            "",
            "ADMIN_TOKENS=abc",
            "# ADMIN_TOKEN=abc",
            "MY_ADMIN_TOKEN=abc",
            "ADMIN_TOKEN:abc",
            "exportADMIN_TOKEN=abc",
        ] {
            assert_eq!(token(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_run_s_text_from_the_server_cannot_drive_the_terminal() {
        let run = json!({
            "id": "run_1\u{1b}[2J", "status": "succeeded", "workflow_id": "wf_1", "version": 2,
            "trigger": "endpoint\n\u{202e}", "created_at": "2026-01-01T00:00:00Z",
            "steps": [{"name": "no\u{1b}]0;te", "status": "succeeded", "attempts": 1}],
        });
        let lines = run_lines(&run, None, Style::plain()).join("\n");
        assert!(
            !lines.contains('\u{1b}') && !lines.contains('\u{202e}'),
            "{lines}"
        );
        assert!(lines.contains("run_1\\u{1b}[2J"), "{lines}");
        assert!(lines.contains("endpoint\\u{a}\\u{202e}"), "{lines}");
        let row = run_row(&run).join(" ");
        assert!(!row.contains('\u{1b}') && !row.contains('\n'), "{row}");
    }

    #[test]
    fn a_run_shows_its_input_on_one_line() {
        let run = json!({
            "id": "run_1", "status": "succeeded", "workflow_id": "wf_1", "version": 2,
            "trigger": "endpoint", "created_at": "2026-01-01T00:00:00Z",
            "input": {"request": {"body": {"email": "ada@example.com"}}},
            "steps": [{"name": "note", "status": "succeeded", "attempts": 1, "output": {"m": "x".repeat(300)}}],
        });
        let lines = run_lines(&run, None, Style::plain());
        assert_eq!(
            lines[2],
            r#"input: {"request":{"body":{"email":"ada@example.com"}}}"#
        );
        assert_eq!(lines[3], "steps:");
        let output = lines.last().unwrap();
        assert!(output.ends_with("xxx…"), "{output}");
        assert_eq!(output.trim_start().chars().count(), "output: ".len() + 201);
    }

    #[test]
    fn a_run_lists_the_steps_it_has_not_reached() {
        let planned = [
            json!({"type": "http", "name": "call"}),
            json!({"type": "log"}),
            json!({"type": "response", "name": "answer"}),
        ];
        let run = |status: &str, names: &[&str]| {
            let steps: Vec<Value> = names
                .iter()
                .map(|n| json!({"name": n, "status": "succeeded", "attempts": 1}))
                .collect();
            json!({"id": "run_1", "status": status, "workflow_id": "wf_1", "version": 2,
                   "trigger": "endpoint", "created_at": "2026-01-01T00:00:00Z", "steps": steps})
        };
        let tail = |r: Value| -> Vec<String> {
            run_lines(&r, Some(&planned), Style::plain())
                .into_iter()
                .filter(|l| l.starts_with("  · "))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(
            tail(run("failed", &["call"])),
            ["log_1 not run", "answer not run"]
        );
        assert_eq!(
            tail(run("running", &["call"])),
            ["log_1 in progress", "answer waiting"]
        );
        assert_eq!(
            tail(run("queued", &[])),
            ["call waiting", "log_1 waiting", "answer waiting"]
        );
        assert!(tail(run("succeeded", &["call", "log_1", "answer"])).is_empty());
        // Records of another definition: nothing is said.
        assert!(tail(run("failed", &["other"])).is_empty());
        let lines = run_lines(&run("queued", &[]), Some(&planned), Style::plain());
        assert!(
            !lines.iter().any(|l| l.contains("none recorded")),
            "{lines:#?}"
        );
    }

    #[test]
    fn a_failed_step_shows_the_answer_it_failed_on() {
        let run = json!({
            "id": "run_1", "status": "failed", "workflow_id": "wf_1", "version": 2,
            "trigger": "endpoint", "created_at": "2026-01-01T00:00:00Z",
            "steps": [{"name": "call", "status": "failed", "attempts": 1,
                       "error": "the server answered HTTP 422",
                       "output": {"status": 422, "body": {"error": "bad email"}}}],
        });
        let lines = run_lines(&run, None, Style::plain());
        let answer = lines.iter().find(|l| l.contains("bad email")).unwrap();
        assert!(answer.trim_start().starts_with("answer: {"), "{lines:#?}");
    }
}
