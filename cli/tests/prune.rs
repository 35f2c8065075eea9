//! `--prune` deletes every workflow with a key that no file gives: with no workflow file in a
//! folder (a mistyped or reorganised one, or files only in subfolders, which are not searched)
//! that would be all of them, so it is a usage error (exit 2) before the server is asked anything.

mod stub;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn folder(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tripline-prune-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const DEF: &str = r#"{"name": "A", "trigger": {"type": "endpoint"}, "steps": []}"#;

/// Runs `tripline ARGS…` against a port nothing listens on.
fn run(args: &[&str]) -> Output {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .env("TRIPLINE_URL", format!("http://127.0.0.1:{port}"))
        .env("TRIPLINE_TOKEN", "t")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn prune_with_a_folder_without_workflow_files_is_exit_2_and_sends_nothing() {
    let empty = folder("empty");
    // Files only in a subfolder, and a file that is not a workflow: still none in the folder.
    std::fs::create_dir_all(empty.join("nested")).unwrap();
    std::fs::write(empty.join("nested/a.json"), DEF).unwrap();
    std::fs::write(empty.join("notes.txt"), "not a workflow").unwrap();
    let full = folder("full");
    std::fs::write(full.join("a.json"), DEF).unwrap();
    let empty = empty.display().to_string();
    let full = full.display().to_string();
    for command in ["apply", "diff"] {
        for paths in [vec![empty.as_str()], vec![full.as_str(), empty.as_str()]] {
            let mut args = vec![command];
            args.extend(&paths);
            args.extend(["--deploy", "--prune"]);
            let out = run(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{empty} holds no workflow file"))
                    && stderr.contains("nothing was sent"),
                "{args:?}: {stderr}"
            );
        }
    }
    // Without --prune too, before the server is asked: a folder with nothing to apply is a
    // mistake, not a no-op.
    let out = run(&["apply", &empty]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn prune_with_a_file_rather_than_a_folder_is_exit_2_and_sends_nothing() {
    let dir = folder("files");
    std::fs::write(dir.join("a.json"), DEF).unwrap();
    std::fs::write(
        dir.join("b.yaml"),
        "name: B\ntrigger: {type: endpoint}\nsteps: []\n",
    )
    .unwrap();
    let a = dir.join("a.json").display().to_string();
    let b = dir.join("b.yaml").display().to_string();
    let whole = dir.display().to_string();
    for command in ["apply", "diff"] {
        // One file, a shell's expansion of `*.json *.yaml`, a folder with a file, and a prefix.
        for paths in [
            vec![a.as_str()],
            vec![a.as_str(), b.as_str()],
            vec![whole.as_str(), a.as_str()],
            vec![a.as_str(), "--prune-prefix", "a"],
        ] {
            let mut args = vec![command];
            args.extend(&paths);
            args.push("--prune");
            let out = run(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("{a} is a file, not a folder"))
                    && stderr.contains("nothing was sent"),
                "{args:?}: {stderr}"
            );
        }
    }
    // Without --prune single files are fine (the server is then asked, and is not there).
    let out = run(&["apply", &a, &b]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn a_prune_prefix_needs_prune_and_the_shape_of_a_key() {
    let dir = folder("prefix");
    std::fs::write(dir.join("a.json"), DEF).unwrap();
    let dir = dir.display().to_string();
    for command in ["apply", "diff"] {
        let out = run(&[command, &dir, "--prune-prefix", "team-a-"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--prune"), "{stderr}");
        for bad in ["", "Team", "team/a"] {
            let out = run(&[command, &dir, "--prune", "--prune-prefix", bad]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
            assert!(stderr.contains("is not a valid key prefix"), "{stderr}");
        }
    }
    // A well-formed one with --prune: the server is then asked, and is not there.
    let out = run(&["apply", &dir, "--prune", "--prune-prefix", "team-a-"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn a_prune_prefix_leaves_other_keys_alone() {
    let stub = stub::Stub::start(|request| match request {
        r if r.starts_with("GET /api/workflows?") => (
            200,
            r#"{"workflows":[
                {"id":"wf_1","key":"team-a-sync","draft":{},"status":"draft"},
                {"id":"wf_2","key":"team-a-gone","draft":{},"status":"draft"},
                {"id":"wf_3","key":"team-b-report","draft":{},"status":"draft"}
            ],"next_cursor":null}"#
                .into(),
        ),
        _ => (404, r#"{"detail":"not in the stub"}"#.into()),
    });
    let dir = folder("prefix-plan");
    std::fs::write(dir.join("team-a-sync.json"), DEF).unwrap();
    let deletes = |args: &[&str]| {
        let out = stub.tripline(&dir, &[&["--json", "diff", "."][..], args].concat());
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let actions = v["actions"].as_array().unwrap().clone();
        actions
            .iter()
            .filter(|a| a["action"] == "delete")
            .map(|a| a["key"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(deletes(&["--prune"]), ["team-a-gone", "team-b-report"]);
    assert_eq!(
        deletes(&["--prune", "--prune-prefix", "team-a-"]),
        ["team-a-gone"]
    );
    assert_eq!(
        deletes(&["--prune", "--prune-prefix", "team-b"]),
        ["team-b-report"]
    );
}

#[test]
fn a_broken_link_among_the_workflow_files_is_exit_2_and_sends_nothing() {
    let dir = folder("broken-link");
    std::fs::write(dir.join("a.json"), DEF).unwrap();
    // A link into a folder that is not there (a submodule not checked out): left out of the
    // files, `--prune` would delete the workflow it names.
    std::os::unix::fs::symlink(dir.join("missing/lead.json"), dir.join("lead.json")).unwrap();
    let whole = dir.display().to_string();
    let link = dir.join("lead.json").display().to_string();
    for args in [
        vec!["apply", whole.as_str(), "--prune"],
        vec!["diff", whole.as_str(), "--prune"],
        vec!["apply", whole.as_str()],
        vec!["check", whole.as_str()],
    ] {
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{link} is a link to "))
                && stderr.contains("fix or remove the link"),
            "{args:?}: {stderr}"
        );
    }
    // A link to a readable file is read as the file.
    std::fs::remove_file(dir.join("lead.json")).unwrap();
    std::os::unix::fs::symlink(dir.join("a.json"), dir.join("lead.json")).unwrap();
    let out = run(&["check", &whole]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

/// A folder's entries named like workflow files but not read (a name starting with `.`, a
/// subfolder) are named in a warning under `--prune`, which deletes a workflow only they give;
/// an editor's lock file is not.
#[test]
fn prune_names_what_it_does_not_read() {
    let dir = folder("left-out");
    std::fs::write(dir.join("a.json"), DEF).unwrap();
    std::fs::write(dir.join(".b.json"), DEF).unwrap();
    std::fs::create_dir_all(dir.join("c.yaml")).unwrap();
    std::fs::write(dir.join(".#a.json"), "").unwrap();
    let path = dir.display().to_string();
    let out = run(&["apply", &path, "--prune"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 2, "{stderr}");
    assert!(
        warnings[0].contains(".b.json is not read (a name starting with `.`)"),
        "{stderr}"
    );
    assert!(
        warnings[1].contains("c.yaml is not read (a folder)"),
        "{stderr}"
    );
    // Without --prune nothing is said.
    let out = run(&["apply", &path]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("warning:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
