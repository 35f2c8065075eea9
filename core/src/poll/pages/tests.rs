use super::*;
use crate::poll::cursor::{HttpCursor, RecentIds};
use crate::poll::{HttpSource, PollSource, PollTrigger};
use serde_json::json;

fn parse(source: Value) -> Result<HttpSource, Vec<(String, String)>> {
    let mut s = json!({"kind": "http", "url": "https://api.example.com/items"});
    for (k, v) in source.as_object().unwrap() {
        s[k] = v.clone();
    }
    let mut errors = Errors::new();
    match PollTrigger::parse(
        &json!({"type": "poll", "source": s}),
        "trigger",
        &mut errors,
    ) {
        Some(PollTrigger {
            source: PollSource::Http(h),
            ..
        }) => Ok(h),
        _ => Err(errors
            .0
            .into_iter()
            .map(|e| (e.location, e.message))
            .collect()),
    }
}

fn source(extra: Value) -> HttpSource {
    parse(extra).expect("a valid source")
}

fn locations(extra: Value) -> Vec<String> {
    parse(extra)
        .expect_err("errors")
        .into_iter()
        .map(|(l, _)| l)
        .collect()
}

#[test]
fn pagination_defaults_to_link_headers_read_to_the_end() {
    assert_eq!(source(json!({})).pagination, Pagination::default());
    assert_eq!(
        Pagination::default(),
        Pagination {
            next: NextPage::Link,
            order: Order::OldestFirst,
            max_pages: 10
        }
    );
}

#[test]
fn pagination_options_parse() {
    let s = source(
        json!({"pagination": {"next_url": "/links/next", "order": "newest_first", "max_pages": 100}}),
    );
    assert_eq!(
        s.pagination,
        Pagination {
            next: NextPage::NextUrl("/links/next".into()),
            order: Order::NewestFirst,
            max_pages: 100
        }
    );
    let s = source(json!({"pagination": {"cursor": "/meta/next", "param": "page[after]"}}));
    assert_eq!(
        s.pagination.next,
        NextPage::Cursor {
            pointer: "/meta/next".into(),
            param: "page[after]".into()
        }
    );
}

#[test]
fn bad_pagination_options_are_located() {
    let at = |l: &str| format!("trigger.source.pagination.{l}");
    assert_eq!(
        locations(json!({"pagination": {"next_url": "links"}})),
        [at("next_url")]
    );
    assert_eq!(
        locations(json!({"pagination": {"next_url": ""}})),
        [at("next_url")]
    );
    assert_eq!(
        locations(json!({"pagination": {"cursor": "/c"}})),
        [at("param")]
    );
    assert_eq!(
        locations(json!({"pagination": {"param": "after"}})),
        [at("param")]
    );
    assert_eq!(
        locations(json!({"pagination": {"next_url": "/n", "cursor": "/c", "param": "a"}})),
        [at("cursor")]
    );
    assert_eq!(
        locations(json!({"pagination": {"cursor": "/c", "param": "a b"}})),
        [at("param")]
    );
    assert_eq!(
        locations(json!({"pagination": {"order": "random"}})),
        [at("order")]
    );
    assert_eq!(
        locations(json!({"pagination": {"max_pages": 0}})),
        [at("max_pages")]
    );
    assert_eq!(
        locations(json!({"pagination": {"max_pages": 101}})),
        [at("max_pages")]
    );
    assert_eq!(
        locations(json!({"pagination": {"pages": 3}})),
        [at("pages")]
    );
    assert_eq!(
        locations(json!({"pagination": "link"})),
        ["trigger.source.pagination"]
    );
    let errs = parse(json!({"pagination": {"cursor": "/c"}})).unwrap_err();
    assert!(errs[0].1.contains("starting_after"), "{errs:?}");
}

#[test]
fn cursor_templates_need_a_greatest_cursor_and_a_known_field() {
    let s = source(
        json!({"url": "https://api.example.com/items?since={{cursor.greatest}}",
        "dedupe": "greatest", "greatest": "/created_at"}),
    );
    assert!(s.is_incremental());
    assert!(!source(json!({})).is_incremental());
    let errs = parse(json!({"url": "https://x/items?since={{cursor.greatest}}"})).unwrap_err();
    assert_eq!(errs[0].0, "trigger.source.url");
    assert!(errs[0].1.contains("\"dedupe\": \"greatest\""), "{errs:?}");
    assert_eq!(
        locations(
            json!({"dedupe": "greatest", "headers": {"x-since": "{{cursor.greatest}}"}, "url": "https://x/{{cursor.newest}}"})
        ),
        ["trigger.source.url"]
    );
    assert_eq!(
        locations(json!({"headers": {"x-since": "{{cursor.greatest}}"}})),
        ["trigger.source.headers.x-since"]
    );
    assert_eq!(
        locations(json!({"url": "https://x/{{event.record.id}}"})),
        ["trigger.source.url"]
    );
}

#[test]
fn the_cursor_is_encoded_in_the_url_and_written_as_is_in_headers() {
    let s = source(
        json!({"url": "https://api.example.com/items?since={{cursor.greatest}}&k={{secrets.K}}",
        "headers": {"x-since": "{{ cursor.greatest }}"},
        "dedupe": "greatest", "greatest": "/created_at"}),
    );
    let secret = |_: &str| Some("k/1".to_string());
    let mark = json!("2024-05-01T10:00:00+02:00");
    let r = s.page_request(None, Some(&mark), secret).unwrap();
    assert_eq!(
        r.url,
        "https://api.example.com/items?since=2024-05-01T10%3A00%3A00%2B02%3A00&k=k/1"
    );
    assert_eq!(
        r.headers,
        [(
            "x-since".to_string(),
            "2024-05-01T10:00:00+02:00".to_string()
        )]
    );
    // Nothing taken yet: an empty value; a number: its JSON text.
    let r = s.page_request(None, None, secret).unwrap();
    assert_eq!(r.url, "https://api.example.com/items?since=&k=k/1");
    assert_eq!(r.headers[0].1, "");
    let r = s.page_request(None, Some(&json!(1234)), secret).unwrap();
    assert!(r.url.contains("since=1234&"), "{}", r.url);
}

#[test]
fn next_pages_from_link_headers_body_urls_and_tokens() {
    let page = "https://api.example.com/v1/items?page=1";
    let link = source(json!({}));
    assert_eq!(
        link.next_request(page, Some(r#"<?page=2>; rel="next""#), &json!([]))
            .unwrap(),
        Some(NextRequest::Url {
            url: "https://api.example.com/v1/items?page=2".into()
        })
    );
    assert_eq!(
        link.next_request(page, Some(r#"</v2/items?p=2>; rel="next""#), &json!([]))
            .unwrap(),
        Some(NextRequest::Url {
            url: "https://api.example.com/v2/items?p=2".into()
        })
    );
    assert_eq!(link.next_request(page, None, &json!([])).unwrap(), None);
    // Another origin (host, scheme or port) is refused, naming only the origin.
    for other in [
        "https://evil.example/items?page=2",
        "http://api.example.com/v1/items?page=2",
        "https://api.example.com:8443/v1/items?page=2",
        "//evil.example/x",
    ] {
        let err = link
            .next_request(page, Some(&format!("<{other}>; rel=next")), &json!([]))
            .unwrap_err();
        assert!(matches!(err, PollError::OtherOrigin { .. }), "{other}");
        assert!(err.to_string().contains("never sent elsewhere"));
    }

    let body_url = source(json!({"pagination": {"next_url": "/links/next"}}));
    let body = json!({"links": {"next": "/v1/items?page=2"}});
    assert_eq!(
        body_url.next_request(page, None, &body).unwrap(),
        Some(NextRequest::Url {
            url: "https://api.example.com/v1/items?page=2".into()
        })
    );
    for end in [
        json!({}),
        json!({"links": {"next": null}}),
        json!({"links": {"next": ""}}),
    ] {
        assert_eq!(body_url.next_request(page, None, &end).unwrap(), None);
    }
    assert!(body_url
        .next_request(page, None, &json!({"links": {"next": 2}}))
        .is_err());
    // A Link header is not used when the body says where the next page is.
    assert_eq!(
        body_url
            .next_request(page, Some("</x>; rel=next"), &json!({}))
            .unwrap(),
        None
    );

    let token = source(
        json!({"url": "https://api.example.com/items?limit=10&starting_after=old#f",
        "pagination": {"cursor": "/meta/next", "param": "starting_after"}}),
    );
    let next = token
        .next_request(page, None, &json!({"meta": {"next": "it 9/&"}}))
        .unwrap();
    assert_eq!(
        next,
        Some(NextRequest::Token {
            token: "it 9/&".into()
        })
    );
    let r = token.page_request(next.as_ref(), None, |_| None).unwrap();
    assert_eq!(
        r.url,
        "https://api.example.com/items?limit=10&starting_after=it%209%2F%26#f"
    );
    assert_eq!(
        token
            .next_request(page, None, &json!({"meta": {"next": 42}}))
            .unwrap(),
        Some(NextRequest::Token { token: "42".into() })
    );
    assert_eq!(
        token
            .next_request(page, None, &json!({"meta": {"next": false}}))
            .unwrap(),
        None
    );
}

#[test]
fn a_stored_next_url_on_another_origin_is_refused_when_requested() {
    let s = source(json!({}));
    let next = NextRequest::Url {
        url: "https://evil.example/items".into(),
    };
    assert!(matches!(
        s.page_request(Some(&next), None, |_| None),
        Err(PollError::OtherOrigin { .. })
    ));
}

#[test]
fn with_query_param_replaces_or_appends() {
    assert_eq!(with_query_param("https://x/a", "p", "1"), "https://x/a?p=1");
    assert_eq!(
        with_query_param("https://x/a?p=0&q=1&pp=2", "p", "1"),
        "https://x/a?q=1&pp=2&p=1"
    );
    assert_eq!(
        with_query_param("https://x/a?q=1#frag", "p", "a b"),
        "https://x/a?q=1&p=a%20b#frag"
    );
}

fn rec(key: &str) -> NewRecord {
    NewRecord {
        dedup_key: key.into(),
        record: json!({"id": key}),
        greatest: None,
        unreadable: None,
        withheld: None,
    }
}

fn url(n: u32) -> Option<NextRequest> {
    Some(NextRequest::Url {
        url: format!("https://x/items?page={n}"),
    })
}

fn page(items: usize, seen: usize, next: Option<NextRequest>) -> Page {
    Page {
        items,
        seen: Seen {
            before: seen,
            at_mark: 0,
        },
        next,
    }
}

#[test]
fn newest_first_stops_at_the_first_page_with_a_seen_item() {
    let mut w = PageWalk::new(false);
    assert_eq!(
        w.after_page(Order::NewestFirst, page(10, 0, url(2)), &[rec("a")]),
        AfterPage::Next(url(2).unwrap())
    );
    assert_eq!(
        w.after_page(Order::NewestFirst, page(10, 3, url(3)), &[rec("b")]),
        AfterPage::End {
            reached_seen: true,
            boundary_all_new: false
        }
    );
    assert_eq!(w.pages, 2);
    assert_eq!(w.taken.len(), 2);
}

/// A newest-first list with ties at the mark split over pages: a tie seen before does not end
/// the walk (the next page may hold ties not seen yet); an older item does.
#[test]
fn newest_first_reads_on_past_ties_at_the_mark_and_stops_at_an_older_item() {
    let src = source(json!({"dedupe": "greatest", "greatest": "/ts",
                            "pagination": {"order": "newest_first"}}));
    let (mut cur, _) = HttpCursor::resume(None, &src);
    let at = |id: &str, ts: &str| json!({"id": id, "ts": format!("2024-05-01T10:00:{ts}Z")});
    cur.advance(
        &cur.select_new(&[at("a", "00")], "/id", Some("/ts"))
            .unwrap(),
    );
    let mut w = PageWalk::new(false);
    let read = |w: &mut PageWalk, items: &[Value], next| {
        let (fresh, seen) = cur.select_page(items, "/id", Some("/ts")).unwrap();
        let page = Page {
            items: items.len(),
            seen,
            next,
        };
        let keys: Vec<String> = fresh.iter().map(|r| r.dedup_key.clone()).collect();
        (w.after_page(Order::NewestFirst, page, &fresh), keys)
    };
    let (after, keys) = read(&mut w, &[at("x", "01"), at("a", "00")], url(2));
    assert_eq!(
        (after, keys),
        (AfterPage::Next(url(2).unwrap()), vec!["x".to_string()])
    );
    let (after, keys) = read(&mut w, &[at("c", "00"), at("b", "00")], url(3));
    assert_eq!(after, AfterPage::Next(url(3).unwrap()));
    assert_eq!(keys, ["c", "b"], "ties keep the list's order");
    // A page reaching an item older than the mark ends the walk, with no gap.
    let older = json!({"id": "o", "ts": "2024-05-01T09:59:59Z"});
    let (after, keys) = read(&mut w, &[at("d", "00"), older], url(4));
    assert_eq!(keys, ["d"]);
    assert_eq!(
        after,
        AfterPage::End {
            reached_seen: true,
            boundary_all_new: false
        }
    );
}

/// Ties seen at the mark on the last page: the list ends there, with no gap. A `unique`
/// cursor has no mark: any item seen ends the walk, as before.
#[test]
fn ties_at_the_mark_on_the_last_page_end_the_walk_and_unique_cursors_have_none() {
    let greatest = source(json!({"dedupe": "greatest", "greatest": "/ts"}));
    let (mut cur, _) = HttpCursor::resume(None, &greatest);
    let a = json!({"id": "a", "ts": 5});
    cur.advance(
        &cur.select_new(std::slice::from_ref(&a), "/id", Some("/ts"))
            .unwrap(),
    );
    let (fresh, seen) = cur
        .select_page(
            &[json!({"id": "b", "ts": 5}), a.clone()],
            "/id",
            Some("/ts"),
        )
        .unwrap();
    assert_eq!(
        seen,
        Seen {
            before: 1,
            at_mark: 1
        }
    );
    let mut w = PageWalk::new(false);
    let page = Page {
        items: 2,
        seen,
        next: None,
    };
    assert_eq!(
        w.after_page(Order::NewestFirst, page, &fresh),
        AfterPage::End {
            reached_seen: true,
            boundary_all_new: false
        }
    );
    let unique = source(json!({"greatest": "/ts"}));
    let mut cur = HttpCursor::for_source(&unique);
    cur.advance(
        &cur.select_new(std::slice::from_ref(&a), "/id", Some("/ts"))
            .unwrap(),
    );
    let (_, seen) = cur
        .select_page(&[json!({"id": "b", "ts": 5}), a], "/id", Some("/ts"))
        .unwrap();
    assert_eq!(
        seen,
        Seen {
            before: 1,
            at_mark: 0
        }
    );
    let mut w = PageWalk::new(false);
    assert_eq!(
        w.after_page(
            Order::NewestFirst,
            Page {
                items: 2,
                seen,
                next: url(2)
            },
            &[]
        ),
        AfterPage::End {
            reached_seen: true,
            boundary_all_new: false
        }
    );
}

#[test]
fn newest_first_without_a_seen_item_reads_to_the_end_and_the_last_page_is_the_boundary() {
    let mut w = PageWalk::new(false);
    w.after_page(Order::NewestFirst, page(10, 0, url(2)), &[]);
    assert_eq!(
        w.after_page(Order::NewestFirst, page(5, 0, None), &[]),
        AfterPage::End {
            reached_seen: false,
            boundary_all_new: true
        }
    );
    // An empty last page proves nothing either way.
    let mut w = PageWalk::new(false);
    w.after_page(Order::NewestFirst, page(10, 0, url(2)), &[]);
    assert_eq!(
        w.after_page(Order::NewestFirst, page(0, 0, url(3)), &[]),
        AfterPage::End {
            reached_seen: false,
            boundary_all_new: false
        }
    );
}

#[test]
fn oldest_first_reads_past_seen_items_and_its_first_page_is_the_boundary() {
    let mut w = PageWalk::new(false);
    assert_eq!(
        w.after_page(Order::OldestFirst, page(10, 10, url(2)), &[]),
        AfterPage::Next(url(2).unwrap())
    );
    assert_eq!(
        w.after_page(Order::OldestFirst, page(10, 0, None), &[]),
        AfterPage::End {
            reached_seen: true,
            boundary_all_new: false
        }
    );
    let mut w = PageWalk::new(false);
    w.after_page(Order::OldestFirst, page(3, 0, url(2)), &[]);
    assert_eq!(
        w.after_page(Order::OldestFirst, page(3, 1, None), &[]),
        AfterPage::End {
            reached_seen: true,
            boundary_all_new: true
        }
    );
}

#[test]
fn a_page_linking_to_itself_ends_the_walk() {
    let mut w = PageWalk::new(false);
    w.after_page(Order::OldestFirst, page(2, 0, url(2)), &[]);
    assert!(matches!(
        w.after_page(Order::OldestFirst, page(2, 0, url(2)), &[]),
        AfterPage::End { .. }
    ));
}

#[test]
fn positioning_a_newest_first_list_reads_only_its_first_page() {
    let mut w = PageWalk::new(true);
    assert!(matches!(
        w.after_page(Order::NewestFirst, page(10, 0, url(2)), &[]),
        AfterPage::End { .. }
    ));
    let mut w = PageWalk::new(true);
    assert_eq!(
        w.after_page(Order::OldestFirst, page(10, 0, url(2)), &[]),
        AfterPage::Next(url(2).unwrap())
    );
}

/// A newest-first API of `total` items (ids 1..=total), `per_page` a page, as the cursor sees it.
fn api_page(total: u32, per_page: u32, page_no: u32) -> (Vec<Value>, Option<NextRequest>) {
    let newest = total as i64 - ((page_no - 1) * per_page) as i64;
    let items: Vec<Value> = (0..per_page as i64)
        .map(|i| newest - i)
        .filter(|id| *id >= 1)
        .map(|id| json!({"id": id}))
        .collect();
    let more = newest - per_page as i64 >= 1;
    (items, more.then(|| url(page_no + 1)).flatten())
}

/// Walks the API as the runtime does, `max_pages` per poll; returns the ids run per poll.
fn poll(
    cursor: &mut HttpCursor,
    walk: &mut Option<PageWalk>,
    total: u32,
    max_pages: u32,
) -> Vec<String> {
    poll_holding(cursor, walk, total, max_pages, 0).0
}

/// [`poll`] with records of `item_bytes` each: also the pause that ended it, if any.
fn poll_holding(
    cursor: &mut HttpCursor,
    walk: &mut Option<PageWalk>,
    total: u32,
    max_pages: u32,
    item_bytes: usize,
) -> (Vec<String>, Option<Pause>) {
    let pagination = Pagination {
        max_pages,
        ..Pagination::default()
    };
    let mut w = walk.take().unwrap_or_default();
    let mut run = Vec::new();
    let mut pages = 0;
    let mut held = 0;
    loop {
        let page_no = match &w.next {
            None => 1,
            Some(NextRequest::Url { url }) => url.rsplit('=').next().unwrap().parse().unwrap(),
            Some(_) => unreachable!(),
        };
        let (items, next) = api_page(total, 10, page_no);
        let (fresh, seen) = cursor.select_page(&items, "/id", None).unwrap();
        let fresh = w.not_taken(fresh);
        let after = w.after_page(
            Order::NewestFirst,
            Page {
                items: items.len(),
                seen,
                next,
            },
            &fresh,
        );
        held += fresh.len() * item_bytes;
        run.extend(fresh.into_iter().map(|r| r.dedup_key));
        pages += 1;
        match after {
            AfterPage::Next(_) => match pagination.pause_after(pages, 0, held, false, false) {
                None => continue,
                Some(pause) => {
                    *walk = Some(w);
                    return (run, Some(pause));
                }
            },
            AfterPage::End { .. } => {
                cursor.advance_over(w.taken.iter().map(|t| (t.key.as_str(), None)));
                return (run, None);
            }
        }
    }
}

/// A unique cursor that has seen ids 1 to 30.
fn seen_1_to_30() -> HttpCursor {
    let mut cursor = HttpCursor::Unique(crate::poll::cursor::RecentIds::new(1000));
    cursor.advance_over(
        (1..=30)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .iter()
            .map(|k| (k.as_str(), None)),
    );
    cursor
}

#[test]
fn a_walk_cut_by_the_page_bound_resumes_without_losing_or_repeating_items() {
    // 30 items seen; 25 new arrive: 10 a page, newest first, 2 pages a poll.
    let mut cursor = seen_1_to_30();
    let mut walk = None;
    let first = poll(&mut cursor, &mut walk, 55, 2);
    assert_eq!(first.len(), 20);
    assert!(walk.is_some(), "the walk goes on next poll");
    // Nothing of the walk is in the cursor yet: the older pages still look new.
    assert!(!cursor
        .select_new(&[json!({"id": 40})], "/id", None)
        .unwrap()
        .is_empty());
    // Meanwhile 5 more arrive on top; the resumed walk reads by its next URL, where the
    // items have shifted down by 5: those it took are not taken twice.
    let second = poll(&mut cursor, &mut walk, 60, 2);
    assert!(walk.is_none(), "the walk reached seen items");
    let third = poll(&mut cursor, &mut walk, 60, 2);
    let mut all: Vec<i64> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|k| k.parse().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (31..=60).collect::<Vec<i64>>());
}

#[test]
fn a_poll_pauses_at_its_page_bound_or_once_it_holds_enough_bytes() {
    let p = Pagination {
        max_pages: 3,
        ..Pagination::default()
    };
    assert_eq!(p.pause_after(1, 0, 0, false, false), None);
    assert_eq!(p.pause_after(2, 0, MAX_BATCH_BYTES - 1, false, false), None);
    assert_eq!(p.pause_after(3, 0, 10, false, false), Some(Pause::MaxPages));
    assert_eq!(
        p.pause_after(1, 0, MAX_BATCH_BYTES, false, false),
        Some(Pause::AtOnce)
    );
    // Both: the bytes decide, so that the next poll comes at once.
    assert_eq!(
        p.pause_after(3, 0, MAX_BATCH_BYTES, false, false),
        Some(Pause::AtOnce)
    );
    // Positioning reads past `max_pages`, up to the most any poll may read, then goes on at once.
    assert_eq!(p.pause_after(3, 0, 0, true, false), None);
    assert_eq!(p.pause_after(MAX_MAX_PAGES - 1, 0, 0, true, false), None);
    assert_eq!(
        p.pause_after(MAX_MAX_PAGES, 0, 0, true, false),
        Some(Pause::AtOnce)
    );
    // Out of time: the walk is kept and goes on at once, positioning or not, unless the page
    // bound stops it anyway (the next poll then waits for the interval).
    assert_eq!(p.pause_after(1, 0, 0, false, true), Some(Pause::AtOnce));
    assert_eq!(p.pause_after(1, 0, 0, true, true), Some(Pause::AtOnce));
    assert_eq!(p.pause_after(3, 0, 0, false, true), Some(Pause::MaxPages));
    // Pages read by polls that went on at once count toward `max_pages` (not while positioning).
    assert_eq!(p.pause_after(1, 1, 0, false, false), None);
    assert_eq!(p.pause_after(1, 2, 0, false, false), Some(Pause::MaxPages));
    assert_eq!(p.pause_after(1, 2, 0, false, true), Some(Pause::MaxPages));
    assert_eq!(p.pause_after(1, 1, 0, false, true), Some(Pause::AtOnce));
    assert_eq!(p.pause_after(1, 50, 0, true, false), None);
}

/// A walk carries the pages of the polls that went on at once, and starts the count again when
/// it waits for the interval.
#[test]
fn a_walk_counts_pages_across_polls_that_go_on_at_once() {
    let mut w = PageWalk::new(false);
    w.paused(Pause::AtOnce, 2);
    w.paused(Pause::AtOnce, 3);
    assert_eq!(w.pages_at_once, 5);
    let kept: PageWalk = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
    assert_eq!(kept.pages_at_once, 5);
    w.paused(Pause::MaxPages, 1);
    assert_eq!(w.pages_at_once, 0);
    // A walk kept before the count existed reads as none.
    let old: PageWalk = serde_json::from_str(r#"{"pages": 3}"#).unwrap();
    assert_eq!(old.pages_at_once, 0);
}

#[test]
fn a_walk_paused_by_its_bytes_resumes_without_losing_or_repeating_items() {
    // 30 items seen, 25 new, 10 a page newest first, 10 pages a poll; items of 1 MiB: every
    // page of new items passes the byte bound, so each poll reads one page.
    let mut cursor = seen_1_to_30();
    let mut walk = None;
    let mut all = Vec::new();
    let mut pauses = Vec::new();
    for _ in 0..5 {
        let (ran, pause) = poll_holding(&mut cursor, &mut walk, 55, 10, 1 << 20);
        all.extend(ran.iter().map(|k| k.parse::<i64>().unwrap()));
        pauses.push(pause);
        if walk.is_none() {
            break;
        }
    }
    assert_eq!(
        pauses,
        [Some(Pause::AtOnce), Some(Pause::AtOnce), None],
        "one page a poll until the seen items"
    );
    all.sort();
    assert_eq!(all, (31..=55).collect::<Vec<i64>>());
}

#[test]
fn a_kept_page_that_fails_twice_in_a_row_starts_the_walk_again_keeping_what_it_took() {
    let mut walk = PageWalk {
        next: Some(NextRequest::Url {
            url: "https://api.example.com/items?after=4".into(),
        }),
        pages: 2,
        taken: vec![Taken {
            key: "4".into(),
            greatest: None,
        }],
        positioning: true,
        ..PageWalk::default()
    };
    assert!(!walk.kept_page_failed());
    assert_eq!(walk.kept_page_failures, 1);
    assert!(walk.next.is_some(), "the first failure keeps the page");
    assert!(walk.kept_page_failed());
    assert_eq!(walk.next, None);
    assert_eq!(walk.pages, 0);
    assert_eq!(walk.kept_page_failures, 0);
    assert!(walk.positioning);
    assert_eq!(walk.taken.len(), 1);
    // Not stored while zero; read back when not.
    assert!(!serde_json::to_string(&walk)
        .unwrap()
        .contains("kept_page_failures"));
    walk.kept_page_failures = 1;
    let back: PageWalk = serde_json::from_str(&serde_json::to_string(&walk).unwrap()).unwrap();
    assert_eq!(back, walk);
}

/// A list whose links come back to a page the walk read (the first page, or any other) ends
/// there: the walk never goes round for ever.
#[test]
fn a_link_back_to_a_page_read_ends_the_walk() {
    let mut w = PageWalk::new(true);
    w.first_page("https://x/items?page=1");
    for n in 2..=3 {
        assert_eq!(
            w.after_page(Order::OldestFirst, page(10, 0, url(n)), &[]),
            AfterPage::Next(url(n).unwrap())
        );
    }
    // Page 3 links back to page 1.
    assert!(matches!(
        w.after_page(Order::OldestFirst, page(10, 0, url(1)), &[]),
        AfterPage::End { .. }
    ));
    // A → B → A, by tokens.
    let token = |t: &str| {
        Some(NextRequest::Token {
            token: t.to_string(),
        })
    };
    let mut w = PageWalk::new(false);
    w.first_page("https://x/items");
    assert!(matches!(
        w.after_page(Order::OldestFirst, page(1, 0, token("a")), &[]),
        AfterPage::Next(_)
    ));
    assert!(matches!(
        w.after_page(Order::OldestFirst, page(1, 0, token("b")), &[]),
        AfterPage::Next(_)
    ));
    assert!(matches!(
        w.after_page(Order::OldestFirst, page(1, 0, token("a")), &[]),
        AfterPage::End { .. }
    ));
    // Kept between polls, and bounded.
    let kept: PageWalk = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
    assert_eq!(kept.visited.len(), 3);
    for n in 0..MAX_VISITED + 5 {
        w.visit(&n.to_string());
    }
    assert_eq!(w.visited.len(), 8);
}

/// A kept next page reads back as written, either kind; anything else is refused.
#[test]
fn a_next_page_reads_back_as_it_was_kept() {
    for next in [
        NextRequest::Url {
            url: "https://api.example.com/items?page=2".into(),
        },
        NextRequest::Token {
            token: "tok-2".into(),
        },
    ] {
        let text = serde_json::to_string(&next).unwrap();
        assert_eq!(serde_json::from_str::<NextRequest>(&text).unwrap(), next);
    }
    assert_eq!(
        serde_json::to_string(&NextRequest::Token { token: "t".into() }).unwrap(),
        r#"{"kind":"token","token":"t"}"#
    );
    for bad in [
        r#"{"kind":"url"}"#,
        r#"{"kind":"page","url":"x"}"#,
        r#"{"url":"x"}"#,
        r#""x""#,
    ] {
        assert!(serde_json::from_str::<NextRequest>(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_newest_first_walk_keeps_its_records_oldest_first_so_compacting_keeps_the_newest() {
    let keys = |w: &PageWalk| -> Vec<String> { w.taken.iter().map(|t| t.key.clone()).collect() };
    // In the list's order (newest first) within each page.
    let mut w = PageWalk::new(false);
    w.after_page(
        Order::NewestFirst,
        page(2, 0, url(2)),
        &[rec("f"), rec("e")],
    );
    w.after_page(
        Order::NewestFirst,
        page(2, 0, url(3)),
        &[rec("d"), rec("c")],
    );
    w.after_page(Order::NewestFirst, page(2, 0, None), &[rec("b"), rec("a")]);
    assert_eq!(keys(&w), ["a", "b", "c", "d", "e", "f"]);
    // A long walk keeps what a 3-id cursor remembers: the newest.
    let cursor = HttpCursor::Unique(RecentIds::new(3));
    cursor.compact_taken(&mut w.taken);
    assert_eq!(keys(&w), ["d", "e", "f"]);
    // Sorted by an ordering value within each page (oldest first already).
    let at = |k: &str, v: u32| NewRecord {
        greatest: Some(json!(v)),
        ..rec(k)
    };
    let mut w = PageWalk::new(false);
    w.after_page(
        Order::NewestFirst,
        page(2, 0, url(2)),
        &[at("c", 3), at("d", 4)],
    );
    w.after_page(
        Order::NewestFirst,
        page(2, 0, None),
        &[at("a", 1), at("b", 2)],
    );
    assert_eq!(keys(&w), ["a", "b", "c", "d"]);
    // An oldest-first list: in page order.
    let mut w = PageWalk::new(false);
    w.after_page(
        Order::OldestFirst,
        page(2, 0, url(2)),
        &[rec("a"), rec("b")],
    );
    w.after_page(Order::OldestFirst, page(1, 0, None), &[rec("c")]);
    assert_eq!(keys(&w), ["a", "b", "c"]);
}
