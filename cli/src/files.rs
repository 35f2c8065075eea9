//! Reading a folder of workflow files and checking them with tripline-core's validation.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use tripline_core::definition::{is_workflow_key, key_rule, Definition};
use tripline_core::kernel::json_budget::{
    self, stored_definition_too_large, OverBudget, MAX_DEPTH, MAX_VALUES,
};

use crate::output::Style;
use crate::plan::{body_for, Local};
use crate::source::{self, locate, Document, Pos};
use crate::Failure;

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The definition location (`steps[1].url`; `$` for the whole file).
    pub location: String,
    pub message: String,
}

impl Problem {
    /// `file:line:col: location: message` (position in bold, location in cyan on a terminal).
    /// Control characters a file's text put there are shown escaped (`\u{1b}`), so that a file
    /// cannot move the cursor or clear the terminal or a CI log that shows its problems.
    pub fn render(&self, style: Style) -> String {
        format!(
            "{}: {}: {}",
            style.bold(&visible(&format!(
                "{}:{}:{}",
                self.file, self.line, self.col
            ))),
            style.cyan(&visible(&self.location)),
            visible(&self.message)
        )
    }
}

/// `text` with its control characters and bidirectional formatting characters (which reorder
/// what a terminal shows) escaped.
pub(crate) fn visible(text: &str) -> String {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    text.chars()
        .map(|c| match c.is_control() || bidi(c) {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// The workflow files named by `paths`: files as given, folders by extension (not recursive,
/// without the names starting with `.`), sorted by name, each file once however often it is
/// named. A path that does not exist, a file given by name that is not a workflow file (`.json`,
/// `.yaml`, `.yml`: a shell's `workflows/*` also names the README), and a workflow file in a
/// folder that cannot be read (a link to nowhere), is a usage error.
pub fn collect(paths: &[String]) -> Result<Vec<PathBuf>, Failure> {
    let out = collect_all(paths)?;
    let mut seen = std::collections::HashSet::new();
    // The same name in the same folder, however the folder is written. Not the file a link
    // points to: a link is a file of its own, whose name may give another workflow's key.
    let identity = |p: &PathBuf| {
        let folder = p.parent().filter(|f| !f.as_os_str().is_empty());
        let folder = folder.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        (
            std::fs::canonicalize(&folder).unwrap_or(folder),
            p.file_name().map(|n| n.to_os_string()),
        )
    };
    Ok(out
        .into_iter()
        .filter(|p| seen.insert(identity(p)))
        .collect())
}

fn collect_all(paths: &[String]) -> Result<Vec<PathBuf>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            let mut found: Vec<PathBuf> = Vec::new();
            for entry in std::fs::read_dir(path)
                .map_err(|e| Failure::Usage(format!("cannot read folder {p}: {e}")))?
            {
                let entry =
                    entry.map_err(|e| Failure::Usage(format!("cannot read folder {p}: {e}")))?;
                let file = entry.path();
                // Names starting with `.` are an editor's lock and backup files (Emacs's
                // `.#flow.json` is a link to nowhere), and subfolders are not searched, also
                // one named like a workflow file (or a link to one).
                if entry.file_name().as_encoded_bytes().starts_with(b".")
                    || !source::is_workflow_file(&file)
                    || file.is_dir()
                {
                    continue;
                }
                // A workflow file that cannot be read stops the command: left out, `--prune`
                // would delete its workflow.
                if !file.is_file() {
                    return Err(Failure::Usage(unreadable(&file)));
                }
                found.push(file);
            }
            found.sort();
            out.extend(found);
        } else if path.is_file() {
            if !source::is_workflow_file(path) {
                return Err(Failure::Usage(format!(
                    "{p} is not a workflow file: a workflow file is .json, .yaml or .yml"
                )));
            }
            out.push(path.to_path_buf());
        } else if path.exists() {
            return Err(Failure::Usage(format!(
                "{p} is neither a file nor a folder (a device, a pipe or a socket)"
            )));
        } else {
            return Err(Failure::Usage(format!("no such file or folder: {p}")));
        }
    }
    Ok(out)
}

/// What the folders among `paths` hold that is named like a workflow file but is left out, with
/// why: a folder (`archive.json/`), or a name starting with `.` (but an editor's lock file,
/// `.#flow.json`).
pub fn left_out(paths: &[String]) -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    for p in paths.iter().map(Path::new).filter(|p| p.is_dir()) {
        let Ok(entries) = std::fs::read_dir(p) else {
            continue;
        };
        let mut found: Vec<(PathBuf, &'static str)> = entries
            .filter_map(Result::ok)
            .filter(|e| source::is_workflow_file(&e.path()))
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.as_encoded_bytes();
                if name.starts_with(b".#") {
                    None
                } else if name.starts_with(b".") {
                    Some((e.path(), "a name starting with `.`"))
                } else if e.path().is_dir() {
                    Some((e.path(), "a folder"))
                } else {
                    None
                }
            })
            .collect();
        found.sort();
        out.extend(found);
    }
    out
}

/// Why `file`, in a folder, named like a workflow file and neither a file nor a folder, cannot
/// be read: a link to nowhere (a submodule not checked out), or a special file.
fn unreadable(file: &Path) -> String {
    let shown = file.display();
    match (std::fs::read_link(file), std::fs::metadata(file)) {
        (Ok(target), Err(e)) => format!(
            "{shown} is a link to {}, which cannot be read ({e}); fix or remove the link",
            target.display()
        ),
        (_, Err(e)) => format!("cannot read {shown}: {e}"),
        (_, Ok(_)) => {
            format!("{shown} is not a regular file (a pipe, socket or device); move or rename it")
        }
    }
}

/// A usage error for the first folder given that holds no workflow file (`done` says what was
/// not done): a mistyped or emptied folder in a CI step does not pass with nothing done.
pub fn refuse_empty_folders(paths: &[String], done: &str) -> Result<(), Failure> {
    match folders_without_workflows(paths)?.first() {
        Some(folder) => Err(Failure::Usage(format!(
            "{folder} holds no workflow file (.json, .yaml or .yml; subfolders are not \
             searched): {done}"
        ))),
        None => Ok(()),
    }
}

/// The folders among `paths` that hold no workflow file (subfolders are not searched).
pub fn folders_without_workflows(paths: &[String]) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for p in paths {
        if Path::new(p).is_dir() && collect(std::slice::from_ref(p))?.is_empty() {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The file's own `key` member; `null` counts as no key, as the server reads it.
fn given_key(doc: &Document) -> Option<&Value> {
    doc.value.get("key").filter(|k| !k.is_null())
}

/// The key of a file: its `key` field, else its name without the extension.
fn key_of(doc: &Document) -> Result<String, (String, String)> {
    match given_key(doc) {
        Some(Value::String(k)) => Ok(k.clone()),
        Some(_) => Err(("key".into(), "must be a string".into())),
        None => {
            let stem = doc
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            if is_workflow_key(&stem) {
                Ok(stem)
            } else {
                Err((
                    "$".into(),
                    format!(
                        "the file name gives the key `{stem}`, which is not valid; rename the file or set `key`. {}",
                        key_rule(&stem)
                    ),
                ))
            }
        }
    }
}

/// Why the server would refuse `body` before reading it as a definition, with where (`None` for
/// the whole file): what `POST /api/workflows` checks first, on the body as sent (its JSON
/// budget) and as it would be stored (its size).
fn refused_by_the_server(body: &Value) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    // As the client sends it.
    let sent = body.to_string();
    match json_budget::check(sent.as_bytes()) {
        Ok(_) => {}
        Err(OverBudget::TooDeep { .. }) => out.push((
            too_deep(body, 1, String::new()),
            format!(
                "the definition is nested more than {MAX_DEPTH} levels deep here (arrays and \
                 objects inside each other); the server refuses it"
            ),
        )),
        Err(OverBudget::TooManyValues { .. }) => out.push((
            None,
            format!(
                "the definition has more than {MAX_VALUES} values (array elements and object \
                 members); the server refuses it"
            ),
        )),
    }
    // As the Worker measures it before storing.
    if let Some(message) = stored_definition_too_large(&sent) {
        out.push((None, message));
    }
    out
}

/// The JSON pointer of the first array or object in `value` (itself at `depth`, at `pointer`)
/// nested more than [`MAX_DEPTH`] levels deep.
fn too_deep(value: &Value, depth: usize, pointer: String) -> Option<String> {
    let children: Vec<(String, &Value)> = match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        Value::Object(map) => map.iter().map(|(k, v)| (source::escape(k), v)).collect(),
        _ => return None,
    };
    if depth > MAX_DEPTH {
        return Some(pointer);
    }
    children
        .into_iter()
        .find_map(|(name, v)| too_deep(v, depth + 1, format!("{pointer}/{name}")))
}

/// Reads and checks every file: the workflows, or every problem found (all files are read).
pub fn load(paths: &[PathBuf]) -> (Vec<Local>, Vec<Problem>) {
    let mut locals: Vec<Local> = Vec::new();
    let mut problems = Vec::new();
    let mut seen: Vec<(String, String)> = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(Problem {
                    file,
                    line: 1,
                    col: 1,
                    location: "$".into(),
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let doc = match source::parse(path, &text) {
            Ok(d) => d,
            Err(e) => {
                problems.push(Problem {
                    file,
                    line: e.pos.line,
                    col: e.pos.col,
                    location: e.location.unwrap_or_else(|| "$".into()),
                    message: e.message,
                });
                continue;
            }
        };
        let mut here = Vec::new();
        let problem = |location: &str, message: &str| {
            let Pos { line, col } = locate(&doc, location);
            Problem {
                file: file.clone(),
                line,
                col,
                location: location.to_string(),
                message: message.to_string(),
            }
        };
        let key = key_of(&doc);
        // The body `apply` would send (with no key when none could be read: it has problems).
        let body = body_for(&doc.value, key.as_deref().unwrap_or(""));
        for (pointer, message) in refused_by_the_server(&body) {
            let Pos { line, col } = pointer
                .and_then(|p| doc.positions.get(&p))
                .unwrap_or_default();
            here.push(Problem {
                file: file.clone(),
                line,
                col,
                location: "$".into(),
                message,
            });
        }
        if let Err(errors) = Definition::parse(&doc.value) {
            for e in errors.0 {
                here.push(problem(&e.location, &e.message));
            }
        }
        let key = match key {
            Ok(key) => Some(key),
            Err((location, message)) => {
                if given_key(&doc).is_none() {
                    here.push(problem(&location, &message));
                }
                None
            }
        };
        if let Some(key) = &key {
            if let Some((_, other)) = seen.iter().find(|(k, _)| k == key) {
                here.push(problem(
                    if given_key(&doc).is_some() {
                        "key"
                    } else {
                        "$"
                    },
                    &format!("key `{key}` is already used by {other}"),
                ));
            }
            seen.push((key.clone(), file.clone()));
        }
        match workflow_or_problems(key, here, || {
            problem(
                "$",
                "this file gives no workflow: no key could be read from it",
            )
        }) {
            Ok(key) => locals.push(Local { body, key, file }),
            Err(here) => problems.extend(here),
        }
    }
    (locals, problems)
}

/// What a checked file yields: its key when it has no problem, else its problems, and never
/// neither: a file that silently dropped out of the plan would have its workflow pruned from
/// the server, so a file without a key and without a problem gets the problem `no_key`.
fn workflow_or_problems(
    key: Option<String>,
    problems: Vec<Problem>,
    no_key: impl FnOnce() -> Problem,
) -> Result<String, Vec<Problem>> {
    match key {
        Some(key) if problems.is_empty() => Ok(key),
        None if problems.is_empty() => Err(vec![no_key()]),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems as printed, their paths relative to `dir`.
    fn rendered(problems: &[Problem], dir: &Path) -> Vec<String> {
        problems
            .iter()
            .map(|p| {
                p.render(Style::plain())
                    .replace(&format!("{}/", dir.display()), "")
            })
            .collect()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tripline-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn a_path_that_is_no_file_or_folder_says_what_it_is() {
        let e = collect(&["/dev/null".to_string()]).unwrap_err();
        assert_eq!(e.code(), 2);
        assert!(
            e.message().contains("neither a file nor a folder"),
            "{}",
            e.message()
        );
        let e = collect(&["/no/such/place.json".to_string()]).unwrap_err();
        assert_eq!(e.message(), "no such file or folder: /no/such/place.json");
    }

    #[test]
    fn a_file_named_twice_is_read_once_and_a_named_file_must_be_a_workflow_file() {
        let d = temp("named-twice");
        write(
            &d,
            "a.json",
            r#"{"name": "x", "trigger": {"type": "endpoint"}, "steps": []}"#,
        );
        write(&d, "notes.txt", "not a workflow");
        let dir = d.display().to_string();
        let file = d.join("a.json").display().to_string();
        let paths = collect(&[dir.clone(), file.clone(), file]).unwrap();
        assert_eq!(paths.len(), 1, "{paths:?}");
        // A link is a file of its own (its name gives its key).
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("a.json", d.join("b.json")).unwrap();
            let paths = collect(std::slice::from_ref(&dir)).unwrap();
            assert_eq!(paths.len(), 2, "{paths:?}");
            std::fs::remove_file(d.join("b.json")).unwrap();
        }
        let (_, problems) = load(&paths);
        assert_eq!(problems, []);
        let notes = d.join("notes.txt").display().to_string();
        match collect(&[dir, notes]) {
            Err(Failure::Usage(m)) => assert!(
                m.ends_with(
                    "notes.txt is not a workflow file: a workflow file is .json, .yaml or .yml"
                ),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_folder_skips_its_subfolders_and_its_dotfiles() {
        let d = temp("skips");
        let def = r#"{"name": "x", "trigger": {"type": "endpoint"}, "steps": []}"#;
        write(&d, "flow.json", def);
        // A subfolder named like a workflow file, and a dotfile that is no workflow.
        std::fs::create_dir_all(d.join("archive.json")).unwrap();
        write(&d, ".hidden.json", r#"{"name": "x"}"#);
        #[cfg(unix)]
        {
            // An editor's lock file: a link to nowhere, named with a leading `.`.
            std::os::unix::fs::symlink("user@host.1234:1700000000", d.join(".#flow.json")).unwrap();
            // A link to a folder is a folder.
            std::os::unix::fs::symlink("archive.json", d.join("old.yaml")).unwrap();
        }
        let dir = d.display().to_string();
        let paths = collect(std::slice::from_ref(&dir)).unwrap();
        assert_eq!(paths, [d.join("flow.json")]);
        let (locals, problems) = load(&paths);
        assert_eq!(problems, [], "{problems:#?}");
        assert_eq!(locals.len(), 1);
        // Named on the command line, a dotfile is read.
        let hidden = d.join(".hidden.json").display().to_string();
        assert_eq!(collect(&[hidden]).unwrap(), [d.join(".hidden.json")]);
        // A folder holding only what is skipped holds no workflow file.
        std::fs::remove_file(d.join("flow.json")).unwrap();
        assert_eq!(
            folders_without_workflows(std::slice::from_ref(&dir)).unwrap(),
            [dir]
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_broken_link_in_a_folder_is_a_usage_error_that_says_so() {
        let d = temp("broken-link");
        std::os::unix::fs::symlink("missing/lead.json", d.join("lead.json")).unwrap();
        match collect(&[d.display().to_string()]) {
            Err(Failure::Usage(m)) => assert_eq!(
                m,
                format!(
                    "{} is a link to missing/lead.json, which cannot be read (No such file or \
                     directory (os error 2)); fix or remove the link",
                    d.join("lead.json").display()
                )
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_member_given_twice_is_reported_at_its_own_location() {
        let d = temp("twice");
        write(
            &d,
            "a.json",
            "{\"name\": \"x\",\n \"trigger\": {\"type\": \"endpoint\", \"type\": \"poll\"}}",
        );
        write(
            &d,
            "b.json",
            r#"{"name": "x", "trigger": {"type": "endpoint"}, "steps": [{"type": "log", "message": "m", "message": "n"}]}"#,
        );
        write(&d, "c.json", r#"{"name": "x", "name": "y"}"#);
        write(
            &d,
            "d.yaml",
            "name: x\ntrigger: {type: endpoint}\nsteps:\n  - type: log\n    message: m\n  - type: http\n    headers:\n      a.b: 1\n      a.b: 2\n",
        );
        write(&d, "e.yaml", "name: x\nname: y\n");
        let paths = collect(&[d.display().to_string()]).unwrap();
        let (_, problems) = load(&paths);
        assert_eq!(
            rendered(&problems, &d),
            [
                "a.json:2:34: trigger.type: member `type` appears twice in this object",
                "b.json:1:90: steps[0].message: member `message` appears twice in this object",
                "c.json:1:15: name: member `name` appears twice in this object",
                "d.yaml:9:7: steps[1].headers.a.b: key `a.b` appears twice in this mapping",
                "e.yaml:2:1: name: key `name` appears twice in this mapping",
            ]
        );
    }

    #[test]
    fn control_characters_from_a_file_are_shown_escaped() {
        let p = Problem {
            file: "w/a.json".into(),
            line: 1,
            col: 2,
            location: "steps[0].\u{1b}[2J\u{202e}".into(),
            message: "unknown field `\u{1b}[2J`".into(),
        };
        assert_eq!(
            p.render(Style::plain()),
            "w/a.json:1:2: steps[0].\\u{1b}[2J\\u{202e}: unknown field `\\u{1b}[2J`"
        );
    }

    #[test]
    fn every_example_checks_clean() {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let paths = collect(&[examples.display().to_string()]).unwrap();
        assert!(paths.len() >= 7, "{paths:?}");
        let (locals, problems) = load(&paths);
        assert_eq!(problems, [], "{problems:#?}");
        assert_eq!(locals.len(), paths.len());
        assert!(locals.iter().any(|l| l.key == "every-5-seconds"));
    }

    #[test]
    fn problems_have_file_line_column_and_location() {
        let d = temp("problems");
        write(
            &d,
            "bad.yaml",
            "name: Bad\ntrigger:\n  type: schedule\n  schedule: {kind: seconds, every: 0}\nsteps:\n  - type: log\n    mesage: hi\n",
        );
        write(
            &d,
            "Bad Name.json",
            r#"{"name": "x", "trigger": {"type": "endpoint"}, "steps": []}"#,
        );
        write(&d, "broken.json", "{\n  \"name\": \"x\",\n}");
        write(
            &d,
            "dup.json",
            r#"{"key": "bad", "name": "x", "trigger": {"type": "endpoint"}, "steps": []}"#,
        );
        write(&d, "notes.txt", "not a workflow");
        let paths = collect(&[d.display().to_string()]).unwrap();
        assert_eq!(paths.len(), 4);
        let (locals, problems) = load(&paths);
        let lines = rendered(&problems, &d);
        assert_eq!(lines.len(), 6, "{lines:#?}");
        assert!(
            lines[0].starts_with("Bad Name.json:1:1: $: the file name gives the key `Bad Name`"),
            "{lines:#?}"
        );
        assert_eq!(
            lines[1],
            "bad.yaml:4:29: trigger.schedule.every: must be between 1 and 3600, got 0"
        );
        assert_eq!(lines[2], "bad.yaml:6:5: steps[0].message: is required");
        assert!(
            lines[3].starts_with("bad.yaml:7:5: steps[0].mesage: unknown field `mesage`"),
            "{lines:#?}"
        );
        assert!(
            lines[4].starts_with("broken.json:3:1: $: not valid JSON"),
            "{lines:#?}"
        );
        assert!(
            lines[5].starts_with("dup.json:1:2: key: key `bad` is already used by"),
            "{lines:#?}"
        );
        assert!(locals.is_empty());
    }

    #[test]
    fn a_null_key_is_no_key_and_the_file_name_gives_it() {
        let d = temp("null-key");
        let def = r#""name": "x", "trigger": {"type": "endpoint"}, "steps": []"#;
        write(&d, "from-json.json", &format!(r#"{{"key": null, {def}}}"#));
        let yaml = "name: x\ntrigger: {type: endpoint}\nsteps: []\n";
        write(&d, "empty-yaml.yaml", &format!("key:\n{yaml}"));
        write(&d, "tilde-yaml.yml", &format!("key: ~\n{yaml}"));
        let paths = collect(&[d.display().to_string()]).unwrap();
        let (locals, problems) = load(&paths);
        assert_eq!(problems, [], "{problems:#?}");
        let keys: Vec<&str> = locals.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["empty-yaml", "from-json", "tilde-yaml"]);
        assert_eq!(locals[1].body["key"], "from-json");
    }

    #[test]
    fn a_file_without_a_workflow_or_a_problem_is_a_problem() {
        let at = |location: &str, message: &str| Problem {
            file: "w.json".into(),
            line: 1,
            col: 1,
            location: location.into(),
            message: message.into(),
        };
        let no_key = || at("$", "no key");
        assert_eq!(
            workflow_or_problems(Some("k".into()), vec![], no_key),
            Ok("k".into())
        );
        assert_eq!(
            workflow_or_problems(None, vec![], no_key),
            Err(vec![no_key()])
        );
        let other = vec![at("name", "is required")];
        assert_eq!(
            workflow_or_problems(None, other.clone(), no_key),
            Err(other.clone())
        );
        assert_eq!(
            workflow_or_problems(Some("k".into()), other.clone(), no_key),
            Err(other)
        );
    }

    #[test]
    fn what_the_server_would_refuse_is_a_problem_of_the_file() {
        let d = temp("budget");
        let def = |json: &str| {
            format!(
                "{{\"name\": \"x\", \"trigger\": {{\"type\": \"endpoint\"}},\n\"steps\": [{{\"type\": \"http\", \"url\": \"https://example.com\",\n\"json\": {json}}}]}}"
            )
        };
        // 66 lists in a step (itself 3 deep): serde_json reads it, the server refuses it.
        write(
            &d,
            "deep.json",
            &def(&format!("{}1{}", "[".repeat(66), "]".repeat(66))),
        );
        write(
            &d,
            "many.json",
            &def(&format!("[{}0]", "0,".repeat(200_000))),
        );
        // 300 000 quotes: 600 000 bytes as sent, 1 200 000 as stored (escaped once more).
        let quotes = |n: usize| format!("\"{}\"", "\\\"".repeat(n));
        write(&d, "large.json", &def(&quotes(300_000)));
        write(&d, "fine.json", &def(&quotes(200_000)));
        let many_yaml = format!(
            "name: x\ntrigger: {{type: endpoint}}\nsteps:\n  - type: http\n    url: https://example.com\n    json: [{}0]\n",
            "0, ".repeat(200_000)
        );
        write(&d, "many-yaml.yaml", &many_yaml);
        let paths = collect(&[d.display().to_string()]).unwrap();
        let (locals, problems) = load(&paths);
        let lines = rendered(&problems, &d);
        assert_eq!(lines.len(), 4, "{lines:#?}");
        // The 62nd list of `json` is the 65th level.
        assert!(
            lines[0].starts_with(
                "deep.json:3:70: $: the definition is nested more than 64 levels deep"
            ),
            "{lines:#?}"
        );
        assert!(
            lines[1].starts_with("large.json:1:1: $: the definition is 1200")
                && lines[1].contains("at most 1000000 bytes are kept"),
            "{lines:#?}"
        );
        assert!(
            lines[2].starts_with("many-yaml.yaml:6:")
                && lines[2].contains("more than 200000 values"),
            "{lines:#?}"
        );
        assert!(
            lines[3].starts_with("many.json:1:1: $: the definition has more than 200000 values"),
            "{lines:#?}"
        );
        let keys: Vec<&str> = locals.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["fine"]);
    }

    #[test]
    fn missing_paths_are_usage_errors() {
        let f = collect(&["/nonexistent/tripline".into()]).unwrap_err();
        assert_eq!(f.code(), 2);
    }
}
