//! Human output: aligned tables, and colour only when writing to a terminal (and `NO_COLOR` is unset).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// What to do when standard output's reader goes away (a broken pipe: `tripline schema | head`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenUnread {
    /// End the program at once without a message, as a command killed by SIGPIPE would: for
    /// commands that only read. The exit code is 0, or what the command has already found
    /// ([`exit_when_unread_with`]: `check` with problems is still exit 1).
    Exit,
    /// Drop the rest of the output and finish the work, exiting with its own code: for commands
    /// that change the server, which must not stop half-way (created but not deployed).
    Finish,
}

/// Set by the commands that change the server: see [`WhenUnread::Finish`].
static FINISH_WHEN_UNREAD: AtomicBool = AtomicBool::new(false);
/// Standard output failed while finishing: nothing more is written to it.
static DROPPED: AtomicBool = AtomicBool::new(false);
/// Standard output failed for another reason than its reader going away (a full disk): the
/// command, once finished, exits 3.
static FAILED: AtomicBool = AtomicBool::new(false);

/// Whether standard output failed for another reason than its reader going away.
pub fn output_failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}

/// The exit code of [`WhenUnread::Exit`].
static UNREAD_EXIT: AtomicU8 = AtomicU8::new(0);

/// Makes a reader that goes away end this run of the program with `code` rather than 0: for a
/// command that only reads but whose exit code says what it found, once it knows (`check`, and
/// `diff` or `preview FILE` before their plan, with problems: exit 1).
pub fn exit_when_unread_with(code: u8) {
    UNREAD_EXIT.store(code, Ordering::Relaxed);
}

/// Whether standard output is a pipe whose reader went away (`runs --follow | head -1`): a
/// command that waits between lines checks it, rather than noticing only at its next line.
#[cfg(unix)]
pub fn reader_gone() -> bool {
    let mut fd = libc::pollfd {
        fd: libc::STDOUT_FILENO,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd`, no timeout; `poll` only writes its `revents`.
    let ready = unsafe { libc::poll(&mut fd, 1, 0) };
    // Linux says a pipe without a reader with POLLERR, the BSDs and macOS with POLLHUP.
    ready == 1 && fd.revents & (libc::POLLERR | libc::POLLHUP) != 0
}

#[cfg(not(unix))]
pub fn reader_gone() -> bool {
    false
}

/// Makes this run of the program finish its work when the reader of its output goes away.
pub fn finish_when_unread() {
    FINISH_WHEN_UNREAD.store(true, Ordering::Relaxed);
}

/// What a line written to an output came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Done,
    /// The output failed: write nothing more to it, keep working.
    Dropped,
    /// The reader went away: end the program (exit 0 unless [`exit_when_unread_with`]).
    Exit,
    /// The output cannot be written (a full disk; why): end the program with exit 3.
    Failed(String),
    /// The same while finishing: write nothing more to it, keep working, then exit 3.
    Lost(String),
}

/// Writes one line to `w`; on failure, decides by `when` what comes next. A failure other than a
/// broken pipe is said on standard error: a command that only reads then ends (exit 3), one
/// that changes the server drops the rest of its output and finishes.
pub fn write_line(w: &mut impl Write, args: std::fmt::Arguments, when: WhenUnread) -> Written {
    let Err(e) = w.write_fmt(args).and_then(|()| w.write_all(b"\n")) else {
        return Written::Done;
    };
    match (when, e.kind()) {
        (WhenUnread::Exit, std::io::ErrorKind::BrokenPipe) => Written::Exit,
        (WhenUnread::Exit, _) => Written::Failed(e.to_string()),
        (WhenUnread::Finish, std::io::ErrorKind::BrokenPipe) => Written::Dropped,
        (WhenUnread::Finish, _) => Written::Lost(e.to_string()),
    }
}

/// Writes one line to standard output (the `out!` macro), following [`WhenUnread`] when the
/// reader has gone away.
pub fn line(args: std::fmt::Arguments) {
    if DROPPED.load(Ordering::Relaxed) {
        return;
    }
    let when = if FINISH_WHEN_UNREAD.load(Ordering::Relaxed) {
        WhenUnread::Finish
    } else {
        WhenUnread::Exit
    };
    match write_line(&mut std::io::stdout().lock(), args, when) {
        Written::Done => {}
        Written::Dropped => DROPPED.store(true, Ordering::Relaxed),
        Written::Exit => std::process::exit(UNREAD_EXIT.load(Ordering::Relaxed).into()),
        Written::Failed(e) => {
            err_line!("error: writing to standard output: {e}");
            std::process::exit(3)
        }
        Written::Lost(e) => {
            err_line!("warning: writing to standard output: {e}; the rest of it is dropped");
            FAILED.store(true, Ordering::Relaxed);
            DROPPED.store(true, Ordering::Relaxed);
        }
    }
}

#[derive(Clone, Copy)]
pub struct Style {
    colour: bool,
}

impl Style {
    pub fn detect() -> Style {
        Style {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// No colour (tests, files).
    #[cfg(test)]
    pub fn plain() -> Style {
        Style { colour: false }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    pub fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    pub fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    pub fn cyan(&self, t: &str) -> String {
        self.paint("36", t)
    }
    pub fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    pub fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }

    /// A status word in its colour (`succeeded` green, `failed` red, running/queued yellow).
    pub fn status(&self, s: &str) -> String {
        match s {
            "succeeded" | "deployed" => self.green(s),
            "failed" => self.red(s),
            "running" | "queued" => self.yellow(s),
            _ => s.to_string(),
        }
    }
}

/// Formats rows as columns separated by two spaces; `paint` colours a cell after padding.
pub fn table(
    header: &[&str],
    rows: &[Vec<String>],
    paint: impl Fn(usize, &str) -> String,
) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let padded = if i == last {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                };
                if i == last {
                    paint(i, &padded)
                } else {
                    // Colour the text, keep the padding outside the escape codes.
                    let pad = padded.len() - c.len();
                    format!("{}{}", paint(i, c), " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.iter().map(|h| h.to_string()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

/// `12ms`, `3.4s`, `2m05s` between two RFC 3339 instants; empty when either is missing.
pub fn duration(from: Option<&str>, to: Option<&str>) -> String {
    let parse = |s: Option<&str>| s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    match (parse(from), parse(to)) {
        (Some(a), Some(b)) => {
            let ms = (b - a).num_milliseconds().max(0);
            if ms < 1000 {
                format!("{ms}ms")
            } else if ms < 60_000 {
                format!("{:.1}s", ms as f64 / 1000.0)
            } else {
                format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["KEY", "STATUS"],
            &[
                vec!["a".into(), "deployed".into()],
                vec!["longer".into(), "draft".into()],
            ],
            |_, c| c.to_string(),
        );
        assert_eq!(t, "KEY     STATUS\na       deployed\nlonger  draft");
    }

    /// A reader that went away.
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_a_reading_command_and_is_dropped_by_one_that_changes_the_server() {
        let mut open = Vec::new();
        assert_eq!(
            write_line(&mut open, format_args!("a {}", 1), WhenUnread::Finish),
            Written::Done
        );
        assert_eq!(open, b"a 1\n");
        let when = [WhenUnread::Exit, WhenUnread::Finish];
        let written = when.map(|w| write_line(&mut Closed, format_args!("x"), w));
        assert_eq!(written, [Written::Exit, Written::Dropped]);
    }

    /// An output that cannot be written (a full disk).
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("No space left on device"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_output_fails_a_reading_command_and_is_dropped_by_one_that_changes_the_server() {
        let when = [WhenUnread::Exit, WhenUnread::Finish];
        let written = when.map(|w| write_line(&mut Full, format_args!("x"), w));
        let why = "No space left on device".to_string();
        assert_eq!(written, [Written::Failed(why.clone()), Written::Lost(why)]);
    }

    #[test]
    fn durations_read_well() {
        let d = |a, b| duration(Some(a), Some(b));
        assert_eq!(
            d("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.012Z"),
            "12ms"
        );
        assert_eq!(
            d("2026-01-01T00:00:00Z", "2026-01-01T00:00:03.400Z"),
            "3.4s"
        );
        assert_eq!(d("2026-01-01T00:00:00Z", "2026-01-01T00:02:05Z"), "2m05s");
        assert_eq!(duration(None, Some("2026-01-01T00:00:00Z")), "");
    }
}
