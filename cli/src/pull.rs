//! `pull`: the server's keyed workflows written into a folder as files, so that workflows made or
//! edited in the dashboard can be kept as code. `apply` of the folder right after changes
//! nothing.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::client::Client;
use crate::files;
use crate::output::Style;
use crate::plan::{is_draft_of, Local, Remote};
use crate::Failure;

/// What `pull` did with one workflow.
#[derive(Debug, Clone, PartialEq)]
pub enum Pulled {
    /// A new file was written.
    Created { key: String, file: String },
    /// The workflow's file was rewritten with the server's draft.
    Updated { key: String, file: String },
    /// The file already holds the server's draft.
    Unchanged { key: String, file: String },
    /// The file was left as it is (`why` says so); nothing of it was written.
    Kept {
        key: String,
        file: String,
        why: String,
    },
}

impl Pulled {
    fn verb(&self) -> &'static str {
        match self {
            Pulled::Created { .. } => "create",
            Pulled::Updated { .. } => "update",
            Pulled::Unchanged { .. } => "unchanged",
            Pulled::Kept { .. } => "kept",
        }
    }

    fn json(&self) -> Value {
        match self {
            Pulled::Created { key, file }
            | Pulled::Updated { key, file }
            | Pulled::Unchanged { key, file } => {
                json!({"action": self.verb(), "key": key, "file": file})
            }
            Pulled::Kept { key, file, why } => {
                json!({"action": self.verb(), "key": key, "file": file, "reason": why})
            }
        }
    }
}

/// A draft as the file `file` holds it, as indented JSON with a final line break: the server's
/// draft with the file's `$schema` first when it had one, and without `key` when the file's name
/// gives it (`KEY.json`); a file named otherwise keeps its `key`, so that it still names the
/// same workflow.
pub fn file_text(draft: &Value, file: &str, schema: Option<&Value>) -> String {
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let mut out = Map::new();
    if let Some(schema) = schema {
        out.insert("$schema".into(), schema.clone());
    }
    if let Value::Object(map) = draft {
        for (k, v) in map {
            let named_by_file = k == "key" && v.as_str() == Some(stem);
            if !named_by_file && k != "$schema" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default();
    text.push('\n');
    text
}

/// What to do with each keyed workflow on the server, given the folder's files: its file when
/// one has the key (rewritten only when it is JSON and differs, keeping its `$schema` as
/// `schema_of` reads it), else `DIR/KEY.json` (unless a file of that name holds another
/// workflow). Ordered by key; with each, the text to write.
pub fn plan(
    dir: &Path,
    locals: &[Local],
    remotes: &[Remote],
    schema_of: impl Fn(&str) -> Option<Value>,
) -> Vec<(Pulled, Option<String>)> {
    let mut remotes: Vec<&Remote> = remotes.iter().collect();
    remotes.sort_by(|a, b| a.key.cmp(&b.key));
    remotes
        .into_iter()
        .map(|r| {
            let key = r.key.clone();
            match locals.iter().find(|l| l.key == r.key) {
                Some(l) if is_draft_of(&r.draft, &l.body) => (
                    Pulled::Unchanged {
                        key,
                        file: l.file.clone(),
                    },
                    None,
                ),
                Some(l) if is_json(&l.file) => (
                    Pulled::Updated {
                        key,
                        file: l.file.clone(),
                    },
                    Some(file_text(&r.draft, &l.file, schema_of(&l.file).as_ref())),
                ),
                Some(l) => (
                    Pulled::Kept {
                        key,
                        file: l.file.clone(),
                        why: "a YAML file differs from the server's draft; pull writes JSON \
                              only, so it is left as it is (`diff` shows how they differ)"
                            .into(),
                    },
                    None,
                ),
                // Never a path from a key that is not one (an answer from something else).
                None if !tripline_core::definition::is_workflow_key(&r.key) => (
                    Pulled::Kept {
                        file: "(none)".into(),
                        why: "the server's key is not a valid key, so it names no file".into(),
                        key,
                    },
                    None,
                ),
                None => {
                    let file = dir.join(format!("{}.json", r.key)).display().to_string();
                    match locals.iter().find(|l| l.file == file) {
                        Some(other) => (
                            Pulled::Kept {
                                key,
                                file,
                                why: format!(
                                    "the file holds the workflow `{}` (its `key` field)",
                                    other.key
                                ),
                            },
                            None,
                        ),
                        None => {
                            let text = file_text(&r.draft, &file, None);
                            (Pulled::Created { key, file }, Some(text))
                        }
                    }
                }
            }
        })
        .collect()
}

/// Whether `file` is a JSON workflow file (its extension in any case, as `check` reads it).
fn is_json(file: &str) -> bool {
    Path::new(file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// Writes `text` to `file` whole or not at all: a new file beside it, then renamed over it, or,
/// for a new file (`replace` false), linked to its name, which fails rather than replace a file
/// there (one whose name differs only in case, on a file system that ignores case).
fn write_whole(file: &str, text: &str, replace: bool) -> Result<(), Failure> {
    let path = PathBuf::from(file);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{name}.pulling"));
    let written = std::fs::write(&partial, text).and_then(|()| match replace {
        true => std::fs::rename(&partial, &path),
        // Where links cannot be made (FAT, some network mounts): created only if absent.
        false => std::fs::hard_link(&partial, &path)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => Err(e),
                _ => std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes())),
            })
            .and_then(|()| std::fs::remove_file(&partial)),
    });
    written.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        Failure::Usage(format!("cannot write {file}: {e}"))
    })
}

/// `pull DIR`: writes the server's keyed workflows into `dir` (created when missing).
pub fn pull(client: &Client, dir: &str, json_out: bool, style: Style) -> Result<(), Failure> {
    let path = Path::new(dir);
    if path.exists() && !path.is_dir() {
        return Err(Failure::Usage(format!(
            "{dir} is not a folder: pull writes one file per workflow into a folder"
        )));
    }
    let found = if path.is_dir() {
        files::collect(&[dir.to_string()])?
    } else {
        Vec::new()
    };
    let (locals, problems) = files::load(&found);
    if !problems.is_empty() {
        crate::commands::print_problems(&problems, json_out, style);
        if !json_out {
            err_line!(
                "{}: nothing was written (fix them first: pull would not know which workflow a \
                 file holds)",
                crate::commands::problems_summary(&problems)
            );
        }
        return Err(Failure::Reported);
    }
    let all = client.workflows()?;
    let remotes: Vec<Remote> = all.iter().filter_map(Remote::from_resource).collect();
    let without_key: Vec<&str> = all
        .iter()
        .filter(|w| !w["key"].is_string())
        .filter_map(|w| w["id"].as_str())
        .collect();
    let steps = plan(path, &locals, &remotes, schema_of);
    if steps.iter().any(|(_, text)| text.is_some()) {
        std::fs::create_dir_all(path)
            .map_err(|e| Failure::Usage(format!("cannot create folder {dir}: {e}")))?;
    }
    let mut done = Vec::new();
    for (mut pulled, text) in steps {
        // A new file's name taken meanwhile, or by a name that differs only in case.
        if let (Pulled::Created { key, file }, Some(_)) = (&pulled, &text) {
            if Path::new(file).exists() {
                pulled = Pulled::Kept {
                    key: key.clone(),
                    file: file.clone(),
                    why: "a file of that name is there already (its name may differ in case) and \
                          holds another workflow"
                        .into(),
                };
                print_or_keep(&pulled, json_out, style, &mut done);
                continue;
            }
        }
        // A file rewritten through a link, or that another file links to, would change what
        // another name holds too.
        if let (Pulled::Updated { key, file }, Some(_)) = (&pulled, &text) {
            if let Some(why) = linked(file, &locals) {
                pulled = Pulled::Kept {
                    key: key.clone(),
                    file: file.clone(),
                    why,
                };
                print_or_keep(&pulled, json_out, style, &mut done);
                continue;
            }
        }
        if let Some(text) = text {
            let replace = matches!(pulled, Pulled::Updated { .. });
            if let Err(e) = write_whole(pulled_file(&pulled), &text, replace) {
                if json_out {
                    out!(
                        "{}",
                        json!({"pulled": false, "actions": done.iter().map(Pulled::json).collect::<Vec<_>>(),
                               "failed": pulled.json(), "error": e.message()})
                    );
                }
                return Err(e);
            }
        }
        print_or_keep(&pulled, json_out, style, &mut done);
    }
    if json_out {
        out!(
            "{}",
            json!({"pulled": true, "actions": done.iter().map(Pulled::json).collect::<Vec<_>>(),
                   "without_key": without_key})
        );
        return Ok(());
    }
    let written = done
        .iter()
        .filter(|p| matches!(p, Pulled::Created { .. } | Pulled::Updated { .. }))
        .count();
    out!(
        "{} {written} of {} keyed workflow{} written to {dir}",
        style.green("pulled:"),
        done.len(),
        if done.len() == 1 { "" } else { "s" }
    );
    if !without_key.is_empty() {
        err_line!(
            "note: {} workflow{} without a key {} not pulled ({}); add a \"key\" to a draft to keep it as a file",
            without_key.len(),
            if without_key.len() == 1 { "" } else { "s" },
            if without_key.len() == 1 { "was" } else { "were" },
            without_key.join(", ")
        );
    }
    Ok(())
}

/// The `$schema` a JSON workflow file has, if it has one.
fn schema_of(file: &str) -> Option<Value> {
    let text = std::fs::read_to_string(file).ok()?;
    let doc: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).ok()?;
    doc.get("$schema").cloned()
}

/// Why `file` is not rewritten when it is a link, or another workflow file links to it.
fn linked(file: &str, locals: &[Local]) -> Option<String> {
    if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Some("the file is a link: pull does not write through links".into());
    }
    let target = std::fs::canonicalize(file).ok()?;
    locals
        .iter()
        .find(|l| l.file != file && std::fs::canonicalize(&l.file).ok() == Some(target.clone()))
        .map(|l| {
            format!(
                "{} is a link to it: rewritten, it would change that workflow's file too",
                l.file
            )
        })
}

/// Prints what was done with one workflow (unless `--json`) and keeps it for the summary.
fn print_or_keep(pulled: &Pulled, json_out: bool, style: Style, done: &mut Vec<Pulled>) {
    if !json_out {
        print_pulled(pulled, style);
    }
    done.push(pulled.clone());
}

fn pulled_file(p: &Pulled) -> &str {
    match p {
        Pulled::Created { file, .. }
        | Pulled::Updated { file, .. }
        | Pulled::Unchanged { file, .. }
        | Pulled::Kept { file, .. } => file,
    }
}

fn print_pulled(p: &Pulled, style: Style) {
    // A key comes from the server: shown escaped, as a file's text is.
    let shown = |key: &str| crate::files::visible(key);
    match p {
        Pulled::Created { key, file } => {
            out!(
                "{} {}  {}",
                style.green("+ wrote"),
                shown(key),
                style.dim(file)
            )
        }
        Pulled::Updated { key, file } => {
            out!(
                "{} {}  {}",
                style.yellow("~ rewrote"),
                shown(key),
                style.dim(file)
            )
        }
        Pulled::Unchanged { key, file } => {
            out!(
                "{} {}  {}",
                style.dim("= unchanged"),
                shown(key),
                style.dim(file)
            )
        }
        Pulled::Kept { key, file, why } => {
            out!(
                "{} {}  {}",
                style.red("! kept"),
                shown(key),
                style.dim(file)
            );
            err_line!("warning: {file}: {why}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(key: &str, draft: Value) -> Remote {
        Remote {
            id: format!("wf_{key}"),
            key: key.into(),
            draft,
            deployed: false,
            draft_changed: false,
        }
    }

    fn local(key: &str, file: &str, definition: Value) -> Local {
        Local {
            key: key.into(),
            file: file.into(),
            body: crate::plan::body_for(&definition, key),
        }
    }

    #[test]
    fn a_file_holds_the_draft_without_the_key_its_name_gives() {
        let draft = json!({"key": "a", "name": "A", "trigger": {"type": "endpoint"}, "steps": []});
        assert_eq!(
            file_text(&draft, "w/a.json", None),
            "{\n  \"name\": \"A\",\n  \"trigger\": {\n    \"type\": \"endpoint\"\n  },\n  \"steps\": []\n}\n"
        );
        // A file named otherwise keeps the key, and its `$schema` comes first.
        let text = file_text(
            &draft,
            "w/lead-file.json",
            Some(&json!("https://t.example/s")),
        );
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            back.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["$schema", "key", "name", "trigger", "steps"]
        );
        assert_eq!(back["key"], "a");
        let local = local("a", "w/lead-file.json", back);
        assert!(is_draft_of(&draft, &local.body));
    }

    #[test]
    fn each_workflow_goes_to_its_file_or_a_new_one() {
        let def = |name: &str| json!({"name": name, "trigger": {"type": "endpoint"}, "steps": []});
        let with_key = |key: &str, name: &str| {
            let mut d = def(name);
            d["key"] = json!(key);
            d
        };
        let dir = Path::new("w");
        let locals = [
            local("same", "w/same.json", def("Same")),
            local("edited", "w/edited.json", def("Old")),
            local("yaml", "w/yaml.yaml", def("Old")),
            // `w/taken.json` holds the workflow `other`.
            local("other", "w/taken.json", def("Other")),
        ];
        let remotes = [
            remote("same", with_key("same", "Same")),
            remote("edited", with_key("edited", "New")),
            remote("yaml", with_key("yaml", "New")),
            remote("taken", with_key("taken", "T")),
            remote("fresh", with_key("fresh", "F")),
        ];
        let got: Vec<(String, bool)> = plan(dir, &locals, &remotes, |_| None)
            .into_iter()
            .map(|(p, text)| (format!("{} {}", p.verb(), pulled_file(&p)), text.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("update w/edited.json".to_string(), true),
                ("create w/fresh.json".to_string(), true),
                ("unchanged w/same.json".to_string(), false),
                ("kept w/taken.json".to_string(), false),
                ("kept w/yaml.yaml".to_string(), false),
            ]
        );
    }
}
