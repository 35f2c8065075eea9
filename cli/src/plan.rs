//! What `apply` would do: compares the workflows in a folder with those on the server, by key.

use std::time::Duration;

use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};

/// A workflow as the files describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Local {
    pub key: String,
    pub file: String,
    /// The body sent to the API: the file's definition with its `key`, without `$schema`.
    pub body: Value,
}

/// A workflow as the server has it (only those with a key take part).
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    pub id: String,
    pub key: String,
    pub draft: Value,
    pub deployed: bool,
    /// The draft differs from the live version: a deploy would change it.
    pub draft_changed: bool,
}

impl Remote {
    /// From a workflow resource of the API; `None` for workflows without a key.
    pub fn from_resource(v: &Value) -> Option<Remote> {
        Some(Remote {
            id: v["id"].as_str()?.to_string(),
            key: v["key"].as_str()?.to_string(),
            draft: v["draft"].clone(),
            deployed: v["status"] == "deployed",
            draft_changed: v["draft_changed"] == true,
        })
    }
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Create {
        key: String,
        file: String,
        body: Value,
    },
    Update {
        key: String,
        file: String,
        id: String,
        body: Value,
        /// The server's draft, for the line diff `diff` prints ([`Action::draft_diff`]).
        draft: Value,
    },
    /// Deploy; `id` is `None` for a workflow this plan creates. Only the draft `body` (the
    /// file's) is deployed: one saved on the server since is refused (`If-Match`).
    Deploy {
        key: String,
        file: String,
        id: Option<String>,
        body: Value,
    },
    Delete {
        key: String,
        id: String,
    },
    Unchanged {
        key: String,
        file: String,
        id: String,
    },
}

impl Action {
    pub fn key(&self) -> &str {
        match self {
            Action::Create { key, .. }
            | Action::Update { key, .. }
            | Action::Deploy { key, .. }
            | Action::Delete { key, .. }
            | Action::Unchanged { key, .. } => key,
        }
    }

    /// The verb shown to people and in `--json`.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Update { .. } => "update",
            Action::Deploy { .. } => "deploy",
            Action::Delete { .. } => "delete",
            Action::Unchanged { .. } => "unchanged",
        }
    }

    pub fn changes_something(&self) -> bool {
        !matches!(self, Action::Unchanged { .. })
    }

    /// For an update, a readable line diff of the draft (`-`/`+`/` ` lines). Computed only when
    /// it is printed: `apply` never needs it.
    pub fn draft_diff(&self) -> Option<Vec<String>> {
        match self {
            Action::Update { draft, body, .. } => Some(line_diff(&pretty(draft), &pretty(body))),
            _ => None,
        }
    }
}

/// The request body for a file's definition: `key` first, `$schema` dropped (it is for editors).
pub fn body_for(definition: &Value, key: &str) -> Value {
    let mut out = Map::new();
    out.insert("key".into(), Value::String(key.to_string()));
    if let Value::Object(map) = definition {
        for (k, v) in map {
            if k != "key" && k != "$schema" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// Whether a draft as the server holds it is the file's `body` (`$schema` aside).
pub fn is_draft_of(draft: &Value, body: &Value) -> bool {
    without_schema(draft) == *body
}

fn without_schema(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(map) = &mut v {
        map.remove("$schema");
    }
    v
}

/// The actions that bring the server to the files: creates and updates in file order, then
/// deploys (when `deploy`), then deletes of keyed workflows whose file is gone (when `prune`
/// is given: only those whose key starts with it, all of them for `Some("")`). Workflows
/// without a key (made by hand) are never touched.
pub fn plan(
    locals: &[Local],
    remotes: &[Remote],
    deploy: bool,
    prune: Option<&str>,
) -> Vec<Action> {
    let mut writes = Vec::new();
    let mut deploys = Vec::new();
    let mut unchanged = Vec::new();
    for local in locals {
        let remote = remotes.iter().find(|r| r.key == local.key);
        match remote {
            None => {
                writes.push(Action::Create {
                    key: local.key.clone(),
                    file: local.file.clone(),
                    body: local.body.clone(),
                });
                if deploy {
                    deploys.push(Action::Deploy {
                        key: local.key.clone(),
                        file: local.file.clone(),
                        id: None,
                        body: local.body.clone(),
                    });
                }
            }
            Some(remote) => {
                let same = is_draft_of(&remote.draft, &local.body);
                if !same {
                    writes.push(Action::Update {
                        key: local.key.clone(),
                        file: local.file.clone(),
                        id: remote.id.clone(),
                        body: local.body.clone(),
                        draft: remote.draft.clone(),
                    });
                }
                if deploy && (!same || !remote.deployed || remote.draft_changed) {
                    deploys.push(Action::Deploy {
                        key: local.key.clone(),
                        file: local.file.clone(),
                        id: Some(remote.id.clone()),
                        body: local.body.clone(),
                    });
                } else if same {
                    unchanged.push(Action::Unchanged {
                        key: local.key.clone(),
                        file: local.file.clone(),
                        id: remote.id.clone(),
                    });
                }
            }
        }
    }
    let mut actions = writes;
    actions.extend(deploys);
    if let Some(prefix) = prune {
        for remote in remotes {
            if remote.key.starts_with(prefix) && !locals.iter().any(|l| l.key == remote.key) {
                actions.push(Action::Delete {
                    key: remote.key.clone(),
                    id: remote.id.clone(),
                });
            }
        }
    }
    actions.extend(unchanged);
    actions
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&without_schema(v)).unwrap_or_default()
}

/// How long a line diff may search for the smallest one; past it, what is left is shown as
/// removed and added lines (drafts that share little).
const DIFF_TIME: Duration = Duration::from_secs(1);

/// A line diff (Myers', in linear space): `- old`, `+ new`, `  same` lines, with unchanged runs
/// longer than six lines shortened to their edges.
pub fn line_diff(old: &str, new: &str) -> Vec<String> {
    let diff = TextDiff::configure()
        .timeout(DIFF_TIME)
        .diff_lines(old, new);
    let raw: Vec<String> = diff
        .iter_all_changes()
        .map(|change| {
            let sign = match change.tag() {
                ChangeTag::Delete => "-",
                ChangeTag::Insert => "+",
                ChangeTag::Equal => " ",
            };
            format!("{sign} {}", change.value().trim_end_matches(['\n', '\r']))
        })
        .collect();
    // Keep 3 lines of context around changes.
    let changed: Vec<bool> = raw.iter().map(|l| !l.starts_with("  ")).collect();
    let near = |k: usize| {
        let lo = k.saturating_sub(3);
        let hi = (k + 3).min(raw.len() - 1);
        changed[lo..=hi].iter().any(|c| *c)
    };
    let mut out = Vec::new();
    let mut skipped = false;
    for (k, line) in raw.iter().enumerate() {
        if near(k) {
            out.push(line.clone());
            skipped = false;
        } else if !skipped {
            out.push("  …".to_string());
            skipped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn local(key: &str, name: &str) -> Local {
        Local {
            key: key.into(),
            file: format!("workflows/{key}.json"),
            body: body_for(&json!({"name": name, "trigger": {"type": "endpoint"}}), key),
        }
    }

    fn remote(key: &str, name: &str, deployed: bool) -> Remote {
        Remote {
            id: format!("wf_{key}"),
            key: key.into(),
            draft: body_for(&json!({"name": name, "trigger": {"type": "endpoint"}}), key),
            deployed,
            draft_changed: false,
        }
    }

    fn verbs(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .map(|a| format!("{} {}", a.verb(), a.key()))
            .collect()
    }

    #[test]
    fn body_puts_the_key_first_and_drops_the_schema_reference() {
        let b = body_for(
            &json!({"$schema": "x", "name": "n", "key": "old", "steps": []}),
            "new",
        );
        assert_eq!(b.to_string(), r#"{"key":"new","name":"n","steps":[]}"#);
    }

    #[test]
    fn fresh_server_creates_and_deploys_everything() {
        let p = plan(&[local("a", "A"), local("b", "B")], &[], true, None);
        assert_eq!(verbs(&p), ["create a", "create b", "deploy a", "deploy b"]);
        let p = plan(&[local("a", "A")], &[], false, None);
        assert_eq!(verbs(&p), ["create a"]);
    }

    #[test]
    fn equal_drafts_are_unchanged_whatever_the_member_order() {
        let mut r = remote("a", "A", true);
        r.draft = json!({"trigger": {"type": "endpoint"}, "name": "A", "key": "a", "$schema": "s"});
        let p = plan(&[local("a", "A")], &[r], true, Some(""));
        assert_eq!(verbs(&p), ["unchanged a"]);
        assert!(!p.iter().any(Action::changes_something));
    }

    #[test]
    fn an_edit_updates_and_redeploys_only_that_workflow() {
        let p = plan(
            &[local("a", "A"), local("b", "B2")],
            &[remote("a", "A", true), remote("b", "B", true)],
            true,
            None,
        );
        assert_eq!(verbs(&p), ["update b", "deploy b", "unchanged a"]);
        let diff = p[0].draft_diff().unwrap();
        assert!(
            diff.contains(&"-   \"name\": \"B\",".to_string()),
            "{diff:?}"
        );
        assert!(
            diff.contains(&"+   \"name\": \"B2\",".to_string()),
            "{diff:?}"
        );
    }

    #[test]
    fn undeployed_or_edited_on_the_server_is_deployed_when_asked() {
        let mut edited = remote("b", "B", true);
        edited.draft_changed = true;
        let p = plan(
            &[local("a", "A"), local("b", "B")],
            &[remote("a", "A", false), edited],
            true,
            None,
        );
        assert_eq!(verbs(&p), ["deploy a", "deploy b"]);
        let p = plan(&[local("a", "A")], &[remote("a", "A", false)], false, None);
        assert_eq!(verbs(&p), ["unchanged a"]);
    }

    #[test]
    fn prune_deletes_keyed_workflows_without_a_file() {
        let remotes = [remote("a", "A", true), remote("gone", "G", true)];
        let p = plan(&[local("a", "A")], &remotes, false, None);
        assert_eq!(verbs(&p), ["unchanged a"]);
        let p = plan(&[local("a", "A")], &remotes, false, Some(""));
        assert_eq!(verbs(&p), ["delete gone", "unchanged a"]);
    }

    #[test]
    fn a_prune_prefix_deletes_only_the_workflows_whose_key_starts_with_it() {
        let remotes = [
            remote("team-a-sync", "S", true),
            remote("team-a-gone", "G", true),
            remote("team-b-report", "R", true),
            remote("team-ab", "X", true),
        ];
        let p = plan(
            &[local("team-a-sync", "S")],
            &remotes,
            false,
            Some("team-a-"),
        );
        assert_eq!(verbs(&p), ["delete team-a-gone", "unchanged team-a-sync"]);
        let p = plan(
            &[local("team-a-sync", "S")],
            &remotes,
            false,
            Some("team-b"),
        );
        assert_eq!(verbs(&p), ["delete team-b-report", "unchanged team-a-sync"]);
    }

    #[test]
    fn resources_without_a_key_are_not_managed() {
        let v = json!({"id": "wf_1", "key": null, "draft": {}, "status": "deployed"});
        assert_eq!(Remote::from_resource(&v), None);
        let v = json!({"id": "wf_1", "key": "k", "draft": {}, "status": "deployed", "draft_changed": true});
        let r = Remote::from_resource(&v).unwrap();
        assert!(r.deployed && r.draft_changed);
    }

    /// A definition of `steps` log steps, pretty-printed to about 6 lines each.
    fn large(key: &str, steps: usize, message: &str) -> Value {
        let steps: Vec<Value> = (0..steps)
            .map(|i| json!({"type": "log", "name": format!("s{i}"), "message": format!("{message} {i}")}))
            .collect();
        body_for(
            &json!({"name": "big", "trigger": {"type": "endpoint"}, "steps": steps}),
            key,
        )
    }

    #[test]
    fn planning_a_large_update_computes_no_diff_and_a_diff_takes_linear_space() {
        // About 850 KB pretty-printed, 50 000 lines a side: a table of lines × lines would be
        // 10 GB; planning stays quick because nothing is diffed until it is printed.
        let local = Local {
            key: "big".into(),
            file: "workflows/big.json".into(),
            body: large("big", 10_000, "new"),
        };
        let mut remote = remote("big", "big", true);
        remote.draft = large("big", 10_000, "old");
        let old = pretty(&remote.draft);
        assert!(old.len() > 800_000 && old.lines().count() > 50_000);
        let started = std::time::Instant::now();
        let p = plan(std::slice::from_ref(&local), &[remote], true, None);
        assert_eq!(verbs(&p), ["update big", "deploy big"]);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Shown, every other line differs: the diff is found in linear space and bounded time.
        let started = std::time::Instant::now();
        let diff = p[0].draft_diff().unwrap();
        assert!(
            started.elapsed() < DIFF_TIME * 10,
            "{:?}",
            started.elapsed()
        );
        assert_eq!(diff.iter().filter(|l| l.starts_with('+')).count(), 10_000);
        assert_eq!(diff.iter().filter(|l| l.starts_with('-')).count(), 10_000);
    }

    #[test]
    fn line_diff_marks_changes_and_elides_long_runs() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj";
        let new = "a\nb\nc\nd\ne\nf\ng\nh\ni\nJ";
        let d = line_diff(old, new);
        assert_eq!(d, ["  …", "  g", "  h", "  i", "- j", "+ J"]);
        assert_eq!(line_diff("x", "x"), ["  …"]);
        assert_eq!(line_diff("", "y"), ["+ y"]);
    }
}
