//! Human output: aligned tables, and colour only when writing to a terminal (and `NO_COLOR` is unset).

use std::io::{IsTerminal, Write};

/// Writes one line to standard output (the `out!` macro). When the reader has gone away (a
/// broken pipe: `tripline schema | head`), the program ends at once with exit 0, as a command
/// killed by SIGPIPE would, without a message.
pub fn line(args: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout
        .write_fmt(args)
        .and_then(|()| stdout.write_all(b"\n"))
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        panic!("writing to standard output: {e}");
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
