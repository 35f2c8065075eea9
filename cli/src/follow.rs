//! `runs --follow`: which runs are new and which changed status since the last poll. The
//! requests are passed in, so the rules are tested without a server.

use std::collections::HashMap;

use serde_json::Value;

use crate::client::Answer;
use crate::Failure;

/// Runs per listed page: the most the API gives.
pub const PAGE: u32 = 100;
/// Most pages one poll reads back from the newest run; older new runs are skipped.
pub const MAX_PAGES: usize = 10;
/// Most unfinished runs outside the listing one poll looks up by id.
pub const MAX_LOOKUPS: usize = 20;
/// Failed polls in a row (one a second) before the follow gives up.
pub const MAX_FAILED_POLLS: u32 = 30;

/// A run already printed: its status then, and the poll that last looked it up by id.
struct Shown {
    status: String,
    looked_up: u64,
}

/// What has been printed. A run is kept while it is in the newest listing, or outside it
/// while it has not finished (its later status changes are still to be printed); a finished
/// run outside the listing is forgotten, so this stays as small as a listing plus the runs
/// that are queued or running.
#[derive(Default)]
pub struct Follow {
    shown: HashMap<String, Shown>,
    /// The newest run id listed so far: a poll pages back until it reaches it (run ids sort
    /// by creation time).
    newest: Option<String>,
    polls: u64,
    /// Print only runs in this status (`--status`). The listings are not filtered: a run that
    /// reaches the status late, far behind newer runs already in it, is still tracked.
    only: Option<String>,
}

/// What one poll found.
#[derive(Debug, Default, PartialEq)]
pub struct Polled {
    /// New runs and runs whose status changed, oldest first.
    pub print: Vec<Value>,
    /// More new runs arrived than the pages read hold (`MAX_PAGES` × `PAGE`): the older
    /// ones were not printed.
    pub skipped: bool,
}

/// Why a request of a poll failed.
#[derive(Debug)]
pub enum Interrupted {
    /// The network or a 5xx (a server restarting, a proxy in between): try the poll again.
    Retry(Failure),
    /// Anything else (a 401, the workflow deleted): the follow ends.
    Stop(Failure),
}

fn id_of(run: &Value) -> &str {
    run["id"].as_str().unwrap_or("")
}

fn status_of(run: &Value) -> &str {
    run["status"].as_str().unwrap_or("")
}

fn finished(status: &str) -> bool {
    !matches!(status, "queued" | "running")
}

impl Follow {
    /// Starts from the first listing (newest first, one page of `PAGE`, not filtered): every
    /// run in it counts as printed, and the newest `show` of them in status `only` (any when
    /// `None`) are returned to print, oldest first.
    pub fn start(listing: &[Value], show: usize, only: Option<&str>) -> (Follow, Vec<Value>) {
        let mut follow = Follow {
            only: only.map(str::to_string),
            ..Follow::default()
        };
        for run in listing {
            follow.remember(run);
        }
        follow.newest = listing.first().map(|r| id_of(r).to_string());
        let mut print: Vec<Value> = listing
            .iter()
            .filter(|r| follow.wanted(r))
            .take(show)
            .cloned()
            .collect();
        print.reverse();
        (follow, print)
    }

    /// Whether `run` is printed when new or changed (its status is the one followed).
    fn wanted(&self, run: &Value) -> bool {
        self.only.as_deref().is_none_or(|s| status_of(run) == s)
    }

    /// Counts `runs` as printed in the status they have (the first runs shown, when they come
    /// from another listing than the one [`Follow::start`] took).
    pub fn printed(&mut self, runs: &[Value]) {
        for run in runs {
            self.remember(run);
        }
    }

    /// How many runs are kept.
    pub fn len(&self) -> usize {
        self.shown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    fn remember(&mut self, run: &Value) {
        let looked_up = self.polls;
        self.shown.insert(
            id_of(run).to_string(),
            Shown {
                status: status_of(run).to_string(),
                looked_up,
            },
        );
    }

    /// Whether a page (newest first) reaches the newest run listed before, so that paging back
    /// can stop there.
    fn reaches_newest(&self, page: &[Value]) -> bool {
        self.newest
            .as_deref()
            .is_some_and(|newest| page.iter().any(|r| id_of(r) <= newest))
    }

    /// One poll. `page(cursor)` lists runs newest first from a page cursor (`None`: the
    /// newest), with the next page's cursor; `run(id)` reads one run (`None`: it is gone).
    /// Nothing changes when a request fails, so a failed poll is simply run again.
    pub fn poll<E>(
        &mut self,
        mut page: impl FnMut(Option<&str>) -> Result<(Vec<Value>, Option<String>), E>,
        mut run: impl FnMut(&str) -> Result<Option<Value>, E>,
    ) -> Result<Polled, E> {
        let mut listing = Vec::new();
        let mut cursor: Option<String> = None;
        let mut skipped = false;
        for read in 1..=MAX_PAGES {
            let (runs, next) = page(cursor.as_deref())?;
            let reached = self.reaches_newest(&runs);
            listing.extend(runs);
            match next {
                Some(next) if !reached => {
                    skipped = read == MAX_PAGES;
                    cursor = Some(next);
                }
                _ => break,
            }
        }
        let mut looked_up = Vec::new();
        for id in self.to_look_up(&listing) {
            looked_up.push((id.clone(), run(&id)?));
        }
        let print = self.advance(&listing, looked_up);
        Ok(Polled { print, skipped })
    }

    /// The unfinished runs missing from `listing` (fallen out of it): those looked up longest
    /// ago first, at most `MAX_LOOKUPS`.
    fn to_look_up(&self, listing: &[Value]) -> Vec<String> {
        let listed: std::collections::HashSet<&str> = listing.iter().map(id_of).collect();
        let mut missing: Vec<(&String, &Shown)> = self
            .shown
            .iter()
            .filter(|(id, s)| !finished(&s.status) && !listed.contains(id.as_str()))
            .collect();
        missing.sort_by(|a, b| (a.1.looked_up, a.0).cmp(&(b.1.looked_up, b.0)));
        missing
            .into_iter()
            .take(MAX_LOOKUPS)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Takes in a poll's listing (newest first) and the runs looked up by id; returns what to
    /// print and forgets the finished runs that are no longer listed.
    fn advance(
        &mut self,
        listing: &[Value],
        looked_up: Vec<(String, Option<Value>)>,
    ) -> Vec<Value> {
        self.polls += 1;
        let mut print = Vec::new();
        for run in listing.iter().rev() {
            let changed = self
                .shown
                .get(id_of(run))
                .is_none_or(|s| s.status != status_of(run));
            if changed && self.wanted(run) {
                print.push(run.clone());
            }
            self.remember(run);
        }
        for (id, found) in looked_up {
            match found {
                Some(run) => {
                    if self.wanted(&run)
                        && self
                            .shown
                            .get(&id)
                            .is_some_and(|s| s.status != status_of(&run))
                    {
                        print.push(run.clone());
                    }
                    self.remember(&run);
                }
                None => {
                    self.shown.remove(&id);
                }
            }
        }
        let listed: std::collections::HashSet<&str> = listing.iter().map(id_of).collect();
        self.shown
            .retain(|id, s| listed.contains(id.as_str()) || !finished(&s.status));
        if let Some(first) = listing.first() {
            if self.newest.as_deref().is_none_or(|n| id_of(first) > n) {
                self.newest = Some(id_of(first).to_string());
            }
        }
        print
    }
}

/// Reads an answer of a poll's request: its JSON on a 2xx, `None` on a 404 when `gone_ok`
/// (a run deleted since), else why not. The network and a 5xx are worth a retry.
pub fn read_answer(
    path: &str,
    answer: Result<Answer, Failure>,
    gone_ok: bool,
) -> Result<Option<Value>, Interrupted> {
    match answer {
        Err(f @ Failure::Network(_)) => Err(Interrupted::Retry(f)),
        Err(f) => Err(Interrupted::Stop(f)),
        // A success that is not JSON (a proxy's page) is no answer of the server's: taken as
        // one it would read as an empty listing, and the runs after it would print again.
        Ok(a) if (200..300).contains(&a.status) => match serde_json::from_str(&a.text) {
            Ok(v) => Ok(Some(v)),
            Err(_) => Err(Interrupted::Retry(Failure::Server(format!(
                "GET {path} answered {} with something that is not JSON",
                a.status
            )))),
        },
        Ok(a) if a.status == 404 && gone_ok => Ok(None),
        Ok(a) if a.status >= 500 => Err(Interrupted::Retry(Failure::from_problem("GET", path, &a))),
        Ok(a) => Err(Interrupted::Stop(Failure::from_problem("GET", path, &a))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A workflow's runs as the server lists them: run `n` has id `run_{n:010}` (so ids sort by
    /// age), the newest first, `PAGE` a page, a cursor being the index to go on from.
    struct Server {
        runs: Vec<(u32, &'static str)>,
        pages_read: usize,
        looked_up: Vec<String>,
    }

    fn run(n: u32, status: &str) -> Value {
        json!({ "id": format!("run_{n:010}"), "status": status })
    }

    impl Server {
        fn new(count: u32) -> Server {
            let mut s = Server {
                runs: Vec::new(),
                pages_read: 0,
                looked_up: Vec::new(),
            };
            s.add(count, "succeeded");
            s
        }

        fn add(&mut self, count: u32, status: &'static str) {
            let next = self.runs.len() as u32;
            for n in next..next + count {
                self.runs.push((n, status));
            }
        }

        fn set(&mut self, n: u32, status: &'static str) {
            self.runs[n as usize].1 = status;
        }

        fn listing(&self) -> Vec<Value> {
            self.runs.iter().rev().map(|(n, s)| run(*n, s)).collect()
        }

        fn page(&mut self, cursor: Option<&str>) -> (Vec<Value>, Option<String>) {
            self.pages_read += 1;
            let from: usize = cursor.map_or(0, |c| c.parse().unwrap());
            let all = self.listing();
            let to = (from + PAGE as usize).min(all.len());
            let next = (to < all.len()).then(|| to.to_string());
            (all[from..to].to_vec(), next)
        }

        fn get(&mut self, id: &str) -> Option<Value> {
            self.looked_up.push(id.to_string());
            let n: u32 = id["run_".len()..].parse().unwrap();
            self.runs.get(n as usize).map(|(n, s)| run(*n, s))
        }

        fn poll(&mut self, follow: &mut Follow) -> Polled {
            self.pages_read = 0;
            self.looked_up.clear();
            let cell = std::cell::RefCell::new(self);
            follow
                .poll::<()>(
                    |c| Ok(cell.borrow_mut().page(c)),
                    |id| Ok(cell.borrow_mut().get(id)),
                )
                .unwrap()
        }

        fn start(&mut self, show: usize) -> (Follow, Vec<Value>) {
            let (first, _) = self.page(None);
            Follow::start(&first, show, None)
        }
    }

    fn ids(runs: &[Value]) -> Vec<u32> {
        runs.iter()
            .map(|r| id_of(r)["run_".len()..].parse().unwrap())
            .collect()
    }

    #[test]
    fn the_first_listing_shows_the_newest_limit_and_the_rest_count_as_seen() {
        let mut server = Server::new(150);
        let (mut follow, shown) = server.start(20);
        assert_eq!(ids(&shown), (130..150).collect::<Vec<_>>());
        assert_eq!(server.poll(&mut follow), Polled::default());
        assert_eq!(server.pages_read, 1);
    }

    #[test]
    fn every_new_run_is_printed_once_in_order_paging_back_to_the_last_seen() {
        let mut server = Server::new(150);
        let (mut follow, _) = server.start(20);
        server.add(250, "queued");
        let polled = server.poll(&mut follow);
        assert_eq!(ids(&polled.print), (150..400).collect::<Vec<_>>());
        assert!(!polled.skipped);
        assert_eq!(server.pages_read, 3);
        assert_eq!(server.poll(&mut follow), Polled::default());
        assert_eq!(server.pages_read, 1);
    }

    #[test]
    fn a_burst_larger_than_the_pages_read_shows_the_newest_and_says_older_were_skipped() {
        let mut server = Server::new(10);
        let (mut follow, _) = server.start(20);
        let burst = (MAX_PAGES as u32) * PAGE + 500;
        server.add(burst, "succeeded");
        let polled = server.poll(&mut follow);
        assert!(polled.skipped);
        assert_eq!(server.pages_read, MAX_PAGES);
        let newest = 10 + burst;
        let shown = newest - MAX_PAGES as u32 * PAGE;
        assert_eq!(ids(&polled.print), (shown..newest).collect::<Vec<_>>());
    }

    #[test]
    fn an_unfinished_run_pushed_out_of_the_listing_still_shows_its_status_changes() {
        let mut server = Server::new(5);
        server.add(1, "running");
        let (mut follow, _) = server.start(20);
        server.add(3 * PAGE, "succeeded");
        let polled = server.poll(&mut follow);
        assert_eq!(polled.print.len(), 3 * PAGE as usize);
        // The next poll lists the newest page only: the running run is looked up by id.
        assert_eq!(server.poll(&mut follow), Polled::default());
        assert_eq!(server.looked_up, ["run_0000000005"]);
        server.set(5, "succeeded");
        let polled = server.poll(&mut follow);
        assert_eq!(polled.print, [run(5, "succeeded")]);
        // Finished and out of the listing: forgotten, never looked up again.
        server.poll(&mut follow);
        assert_eq!(server.looked_up, Vec::<String>::new());
    }

    #[test]
    fn with_a_status_a_run_reaching_it_behind_many_newer_ones_in_it_is_printed() {
        let mut server = Server::new(3);
        server.add(1, "running");
        server.add(2, "failed");
        let (first, _) = server.page(None);
        let (mut follow, shown) = Follow::start(&first, 20, Some("failed"));
        assert_eq!(ids(&shown), [4, 5]);
        // More than a page of newer runs fail first (an outage), then the old run fails too.
        server.add(2 * PAGE, "failed");
        let polled = server.poll(&mut follow);
        assert_eq!(polled.print.len(), 2 * PAGE as usize);
        assert!(polled.print.iter().all(|r| status_of(r) == "failed"));
        server.set(3, "failed");
        assert_eq!(server.poll(&mut follow).print, [run(3, "failed")]);
        // Runs new in another status are not printed; their change to it is.
        server.add(1, "running");
        let newest = server.runs.len() as u32 - 1;
        assert_eq!(server.poll(&mut follow), Polled::default());
        server.set(newest, "succeeded");
        assert_eq!(server.poll(&mut follow), Polled::default());
        server.add(1, "running");
        server.poll(&mut follow);
        server.set(newest + 1, "failed");
        assert_eq!(server.poll(&mut follow).print, [run(newest + 1, "failed")]);
    }

    #[test]
    fn status_changes_in_the_listing_are_printed_and_what_is_kept_stays_bounded() {
        let mut server = Server::new(3);
        let (mut follow, _) = server.start(20);
        for round in 0..30u32 {
            server.add(PAGE, "queued");
            let newest = server.runs.len() as u32 - 1;
            server.poll(&mut follow);
            server.set(newest, "running");
            let polled = server.poll(&mut follow);
            assert_eq!(polled.print, [run(newest, "running")], "round {round}");
            for n in newest + 1 - PAGE..=newest {
                server.set(n, "succeeded");
            }
            assert_eq!(server.poll(&mut follow).print.len(), PAGE as usize);
        }
        assert!(follow.len() <= PAGE as usize, "{} runs kept", follow.len());
    }

    #[test]
    fn lookups_are_bounded_per_poll_and_a_run_that_is_gone_is_forgotten() {
        let mut server = Server::new(0);
        server.add(50, "queued");
        let (mut follow, _) = server.start(20);
        server.add(PAGE, "succeeded");
        server.poll(&mut follow);
        assert_eq!(server.looked_up.len(), 0, "the poll paged back over them");
        server.poll(&mut follow);
        assert_eq!(server.looked_up.len(), MAX_LOOKUPS);
        let first = server.looked_up.clone();
        server.poll(&mut follow);
        assert_eq!(server.looked_up.len(), MAX_LOOKUPS);
        assert!(server.looked_up.iter().all(|id| !first.contains(id)));
        server.runs.truncate(0);
        for _ in 0..3 {
            server.poll(&mut follow);
        }
        assert!(follow.is_empty());
    }

    #[test]
    fn a_failed_request_changes_nothing_so_the_poll_can_run_again() {
        let mut server = Server::new(150);
        let (mut follow, _) = server.start(20);
        server.add(120, "succeeded");
        let mut calls = 0;
        let failed = follow.poll(
            |c| {
                calls += 1;
                if calls == 2 {
                    Err("502")
                } else {
                    Ok(server.page(c))
                }
            },
            |_| Ok(None),
        );
        assert_eq!(failed, Err("502"));
        let polled = server.poll(&mut follow);
        assert_eq!(ids(&polled.print), (150..270).collect::<Vec<_>>());
    }

    #[test]
    fn the_network_and_5xx_are_retried_other_answers_end_the_follow() {
        let answer = |status: u16| {
            Ok(Answer {
                status,
                content_type: "application/json".into(),
                text: r#"{"detail":"x"}"#.into(),
                location: None,
                etag: None,
            })
        };
        let read = |a, gone_ok| read_answer("/api/runs/r", a, gone_ok);
        for status in [500, 502, 503] {
            assert!(matches!(
                read(answer(status), false),
                Err(Interrupted::Retry(_))
            ));
        }
        let network = Err(Failure::Network("cannot reach".into()));
        assert!(matches!(read(network, false), Err(Interrupted::Retry(_))));
        for status in [400, 401, 404] {
            assert!(matches!(
                read(answer(status), false),
                Err(Interrupted::Stop(_))
            ));
        }
        assert!(matches!(read(answer(404), true), Ok(None)));
        assert!(matches!(read(answer(200), false), Ok(Some(v)) if v["detail"] == "x"));
    }
}
