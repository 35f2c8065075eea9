//! `tripline`: workflows as code. Checks definition files offline with the Worker's own
//! validation, shows and applies the difference between a folder and a Tripline by stable key,
//! and reads runs, previews schedules and sends test requests.
//!
//! Exit codes: 0 ok · 1 invalid (a definition problem, an unknown key or run, a request the
//! server refused as invalid) · 2 usage (bad arguments, unreadable paths, no admin token for a
//! command that calls the server) · 3 server or network.

/// `println!` for everything the commands print to standard output: a reader that went away
/// (`tripline schema | head`) ends the program quietly with exit 0 instead of a panic, or,
/// for a command that changes the server, only the output (`output::WhenUnread`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// A line on standard error; one that cannot be written (a full disk) is dropped, never a panic
/// as `eprintln!`'s would be.
macro_rules! err_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod client;
pub mod commands;
pub mod files;
pub mod follow;
#[cfg(test)]
mod openapi_tests;
pub mod output;
pub mod plan;
pub mod pull;
#[cfg(test)]
mod schema_tests;
pub mod source;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::client::Answer;

/// Why a command did not succeed; each kind has its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: invalid input (already printed when `printed`).
    Invalid(String),
    /// Exit 1 after the problems were printed.
    Reported,
    /// Exit 2: the command line or a path is wrong, or no admin token was found.
    Usage(String),
    /// Exit 3: the server could not be reached or failed.
    Network(String),
    Server(String),
}

impl Failure {
    pub fn code(&self) -> u8 {
        match self {
            Failure::Invalid(_) | Failure::Reported => 1,
            Failure::Usage(_) => 2,
            Failure::Network(_) | Failure::Server(_) => 3,
        }
    }

    /// What went wrong, as printed after `error: ` (empty when it was printed already).
    pub fn message(&self) -> &str {
        match self {
            Failure::Reported => "",
            Failure::Invalid(m) | Failure::Usage(m) | Failure::Network(m) | Failure::Server(m) => m,
        }
    }

    /// A non-2xx answer of the management API: its problem+json detail and every error location.
    pub fn from_problem(method: &str, path: &str, answer: &Answer) -> Failure {
        let v = answer.json();
        let said = match v["detail"].as_str().or(v["title"].as_str()) {
            Some(said) => printable(said),
            None => printable(&not_a_problem(answer)),
        };
        let mut text = format!("{method} {path}: {} {said}", answer.status);
        for e in v["errors"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "\n  {}: {}",
                printable(e["location"].as_str().unwrap_or("?")),
                printable(e["message"].as_str().unwrap_or(""))
            ));
        }
        match answer.status {
            400 | 404 | 409 | 413 | 415 | 422 => Failure::Invalid(text),
            _ => Failure::Server(text),
        }
    }
}

/// Text a server sent, fit for a terminal: its control and direction characters (an escape
/// sequence, a line break that would fake a line of our own) written as escapes. A proxy or a
/// wrong `--url` chooses this text.
fn printable(text: &str) -> String {
    files::visible(text)
}

/// What an answer that is no problem document says: a redirect's target (redirects are not
/// followed: an access proxy in front of the Worker, or a `--url` that is not the Worker's),
/// else its content type and the start of its body (an HTML error page of a proxy).
fn not_a_problem(answer: &Answer) -> String {
    if let (300..=399, Some(to)) = (answer.status, &answer.location) {
        return format!(
            "redirects to {to}: check --url, or an access proxy in front of the Worker"
        );
    }
    let body = answer.text.trim();
    const SHOWN: usize = 200;
    let start: String = body.chars().take(SHOWN).collect();
    let cut = if start.len() < body.len() { "…" } else { "" };
    match answer.content_type.as_str() {
        "" => format!("{start}{cut}"),
        t => format!("({t}) {start}{cut}"),
    }
}

const AFTER_HELP: &str = "\
Example:
  tripline check workflows/ && tripline apply workflows/ --deploy --prune

Exit codes: 0 ok, 1 invalid (definition problems, unknown key or run), 2 usage, 3 server or network.
The server is --url / TRIPLINE_URL (default http://localhost:8787, where scripts/dev runs), the
admin token --token / TRIPLINE_TOKEN (default: ADMIN_TOKEN from a .dev.vars in this folder or above).";

#[derive(Parser, Debug)]
#[command(
    name = "tripline",
    version,
    about = "Workflows as code for Tripline: check, diff and apply a folder of workflow files; follow runs",
    after_help = AFTER_HELP,
    after_long_help = AFTER_HELP,
)]
pub struct Cli {
    /// Base URL of the Tripline Worker.
    #[arg(
        long,
        global = true,
        env = "TRIPLINE_URL",
        default_value = "http://localhost:8787"
    )]
    pub url: String,
    /// Admin token of the management API.
    #[arg(long, global = true, env = "TRIPLINE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check workflow files offline, with the same validation the server runs.
    #[command(
        after_help = "Example:\n  tripline check workflows/\n  tripline check workflows/nightly.yaml workflows/lead.json\n\nEvery problem is printed as file:line:col: location: message; exit 1 if there is any."
    )]
    Check {
        /// Files or folders (a folder means its *.json, *.yaml and *.yml files).
        #[arg(required = true)]
        paths: Vec<String>,
    },
    /// Show what `apply` would change, without changing anything.
    #[command(
        after_help = "Example:\n  tripline diff workflows/ --deploy --prune\n  tripline diff team-a/ --prune --prune-prefix team-a-"
    )]
    Diff {
        /// A folder of workflow files (or single files; not with --prune).
        #[arg(required = true)]
        paths: Vec<String>,
        /// Include the deploys `apply --deploy` would do.
        #[arg(long)]
        deploy: bool,
        /// Include the deletes `apply --prune` would do (only folders may be given).
        #[arg(long)]
        prune: bool,
        /// With --prune: only workflows whose key starts with PREFIX would be deleted.
        #[arg(long, value_name = "PREFIX", requires = "prune", value_parser = key_prefix)]
        prune_prefix: Option<String>,
    },
    /// Create or update drafts by key; deploy and prune when asked. Running it twice changes nothing the second time.
    #[command(
        after_help = "Example:\n  tripline apply workflows/ --deploy --prune\n  tripline apply team-a/ --prune --prune-prefix team-a-\n\nA workflow's key is its `key` field, or else its file name without the extension.\nOnly workflows with a key are ever updated or pruned; ones made by hand are left alone.\n--prune deletes every keyed workflow that no file in the given folders has, so it takes\nfolders only (a single file is a usage error); --prune-prefix limits it to the keys that\nstart with PREFIX, so several folders can share one Tripline."
    )]
    Apply {
        /// A folder of workflow files (or single files; not with --prune).
        #[arg(required = true)]
        paths: Vec<String>,
        /// Deploy each workflow whose draft changed or that is not live.
        #[arg(long)]
        deploy: bool,
        /// Delete keyed workflows that no file in the given folders has (only folders may be given).
        #[arg(long)]
        prune: bool,
        /// With --prune: delete only workflows whose key starts with PREFIX.
        #[arg(long, value_name = "PREFIX", requires = "prune", value_parser = key_prefix)]
        prune_prefix: Option<String>,
    },
    /// Write the server's keyed workflows into a folder, one file each (for workflows made or
    /// edited in the dashboard); `apply` of the folder right after changes nothing.
    #[command(
        after_help = "Example:\n  tripline pull workflows/\n\nEach keyed workflow's draft goes to the file that has its key, or else to FOLDER/KEY.json\n(the folder is created when missing). A JSON file that differs is rewritten; a YAML one is\nleft as it is, with a warning. Files of workflows the server does not have are left alone.\nWorkflows without a key are not pulled: add a \"key\" to a draft to keep it as a file."
    )]
    Pull {
        /// The folder to write the files into.
        dir: String,
    },
    /// Stop a workflow's trigger (its live URL answers 404, its schedule or poll stops); its draft,
    /// versions and runs stay, and `apply --deploy` or a deploy starts it again.
    #[command(after_help = "Example:\n  tripline undeploy every-5-seconds")]
    Undeploy {
        /// The workflow's key.
        key: String,
    },
    /// Delete a workflow with its versions, runs and URLs (asks for --yes).
    #[command(
        after_help = "Example:\n  tripline delete old-report --yes\n\nA workflow whose file is still in a folder that `apply` reads is created again by the next apply."
    )]
    Delete {
        /// The workflow's key.
        key: String,
        /// Confirm: a delete cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// List a workflow's runs, newest first; --follow keeps printing new runs and status changes.
    #[command(
        after_help = "Example:\n  tripline runs lead-created --status failed\n  tripline runs nightly --follow"
    )]
    Runs {
        /// The workflow's key.
        key: String,
        /// Only runs with this status.
        #[arg(long, value_parser = ["queued", "running", "succeeded", "failed"])]
        status: Option<String>,
        /// How many runs to list.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Keep watching: print each new run and each status change until interrupted.
        #[arg(long)]
        follow: bool,
    },
    /// Show one run: its input and its steps as a timeline.
    #[command(after_help = "Example:\n  tripline run run_01k2v6x7…")]
    Run { run_id: String },
    /// Run a run's input again, as a new run of the workflow's deployed version (the run need
    /// not have finished).
    #[command(after_help = "Example:\n  tripline replay run_01k2v6x7…")]
    Replay { run_id: String },
    /// The next fire times of a schedule: offline for a file, from the server for a key.
    #[command(
        after_help = "Example:\n  tripline preview workflows/nightly.yaml --count 5\n  tripline preview nightly --after 2027-03-27T00:00:00Z"
    )]
    Preview {
        /// A workflow file (read offline) or a workflow key.
        target: String,
        /// How many fire times.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100))]
        count: u32,
        /// Start after this RFC 3339 instant (default: now).
        #[arg(long)]
        after: Option<String>,
    },
    /// Send a request to an endpoint workflow's live URL (or its test URL with --test).
    #[command(
        after_help = "Example:\n  tripline send lead-created --data @lead.json -H 'idempotency-key: lead-42' --query source=website\n  tripline send lead-created --test --data '{\"email\":\"ada@example.com\"}'"
    )]
    Send {
        /// The workflow's key.
        key: String,
        /// Send to the test URL (records the request on the test shelf; runs nothing).
        #[arg(long)]
        test: bool,
        /// The body: text, or @FILE to read it from a file (@- for standard input).
        #[arg(long, short = 'd')]
        data: Option<String>,
        /// A header, `Name: value` (repeatable).
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
        /// A query parameter, `name=value` (repeatable).
        #[arg(long = "query", short = 'q')]
        query: Vec<String>,
        /// The HTTP method (default: the trigger's first method, else POST).
        #[arg(long, short = 'X')]
        method: Option<String>,
    },
    /// Print the JSON Schema of the definition format (for editors: "$schema" in a file).
    #[command(after_help = "Example:\n  tripline schema > definition.schema.json")]
    Schema,
}

/// A `--prune-prefix`: the start of a key, so itself written like one (a prefix no key can
/// start with would make `--prune` delete nothing without a word).
fn key_prefix(prefix: &str) -> Result<String, String> {
    if tripline_core::definition::is_workflow_key(prefix) {
        Ok(prefix.to_string())
    } else {
        Err(tripline_core::definition::key_rule(prefix).replace("valid key", "valid key prefix"))
    }
}

impl Command {
    /// Whether the command changes the server (or, for `pull`, files): it then finishes its
    /// work, and exits with its own code, when the reader of its output goes away
    /// (`tripline apply . --deploy | head`).
    pub fn changes_the_server(&self) -> bool {
        matches!(
            self,
            Command::Apply { .. }
                | Command::Replay { .. }
                | Command::Send { .. }
                | Command::Pull { .. }
                | Command::Undeploy { .. }
                | Command::Delete { .. }
        )
    }
}

/// Runs the command line; the exit code follows the table at the top of this file.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match commands::run(cli) {
        // Its work done, a command whose output could not be written says so by its code.
        Ok(()) if output::output_failed() => ExitCode::from(3),
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !matches!(f, Failure::Reported) {
                err_line!("error: {}", f.message());
            }
            ExitCode::from(f.code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_command_has_an_example_in_its_help() {
        Cli::command().debug_assert();
        let top = Cli::command()
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(top.contains("Example:\n  tripline "), "{top}");
        for sub in Cli::command().get_subcommands() {
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                help.contains("Example:\n  tripline "),
                "{}: {help}",
                sub.get_name()
            );
        }
    }

    #[test]
    fn a_server_s_text_cannot_drive_the_terminal() {
        let answer = |content_type: &str, text: &str| Answer {
            status: 400,
            content_type: content_type.into(),
            text: text.into(),
            location: None,
            etag: None,
        };
        let f = Failure::from_problem(
            "POST",
            "/api/workflows",
            &answer(
                "application/problem+json",
                r#"{"detail":"bad \u001b[31mred\u001b[0m thing","errors":[{"location":"a\nb","message":"x\ry"}]}"#,
            ),
        );
        assert_eq!(
            f.message(),
            "POST /api/workflows: 400 bad \\u{1b}[31mred\\u{1b}[0m thing\n  a\\u{a}b: x\\u{d}y"
        );
        let f = Failure::from_problem(
            "GET",
            "/x",
            &answer("text/plain", "\u{7}ring\u{1b}]0;title"),
        );
        assert_eq!(
            f.message(),
            "GET /x: 400 (text/plain) \\u{7}ring\\u{1b}]0;title"
        );
        // Direction overrides too: a name shown reversed could pass for another.
        let f = Failure::from_problem("GET", "/x", &answer("text/plain", "a\u{202e}b"));
        assert_eq!(f.message(), "GET /x: 400 (text/plain) a\\u{202e}b");
    }

    #[test]
    fn problems_map_to_exit_codes() {
        let answer = |status: u16, text: &str| Answer {
            status,
            content_type: "application/problem+json".into(),
            text: text.into(),
            location: None,
            etag: None,
        };
        let f = Failure::from_problem(
            "POST",
            "/api/workflows",
            &answer(
                400,
                r#"{"detail":"the workflow definition has 1 error","errors":[{"location":"name","message":"is required"}]}"#,
            ),
        );
        assert_eq!(f.code(), 1);
        assert!(
            matches!(&f, Failure::Invalid(m) if m.contains("400 the workflow definition has 1 error\n  name: is required"))
        );
        assert_eq!(
            Failure::from_problem("GET", "/x", &answer(503, "down")).code(),
            3
        );
        assert_eq!(
            Failure::from_problem("GET", "/x", &answer(401, "{}")).code(),
            3
        );
        assert_eq!(Failure::Usage("x".into()).code(), 2);
    }

    #[test]
    fn an_answer_that_is_no_problem_is_named_briefly() {
        let page = Answer {
            status: 502,
            content_type: "text/html".into(),
            text: format!("<html>{}</html>", "x".repeat(10_000)),
            location: None,
            etag: None,
        };
        let m = Failure::from_problem("GET", "/api/workflows", &page)
            .message()
            .to_string();
        assert!(
            m.starts_with("GET /api/workflows: 502 (text/html) <html>xx"),
            "{m}"
        );
        assert!(m.ends_with('…') && m.len() < 300, "{m}");
        let redirect = Answer {
            status: 302,
            content_type: String::new(),
            text: String::new(),
            location: Some("https://login.example.com/".into()),
            etag: None,
        };
        let m = Failure::from_problem("GET", "/api/workflows", &redirect)
            .message()
            .to_string();
        assert!(
            m.contains("302 redirects to https://login.example.com/: check --url"),
            "{m}"
        );
    }
}
