//! The console's HTML: an escaping wrapper for every value that is not markup the console wrote
//! itself ([`esc`]), the page frame (head, navigation, flash message, embedded assets), and
//! small formatters for times, durations and byte strings. Templates are plain `format!` calls:
//! a value reaches the page only through [`esc`] (or a formatter that escapes), so what a
//! webhook sender chose (ids, types, headers, bodies, error texts) can never become markup.

use std::fmt::{self, Write};

/// Displays a string with `& < > " '` replaced by entities: safe in text and quoted attributes.
pub struct Esc<'a>(pub &'a str);

pub fn esc(s: &str) -> Esc<'_> {
    Esc(s)
}

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let entity = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(entity)?;
            last = i + 1;
        }
        f.write_str(&self.0[last..])
    }
}

/// A query-string component, percent-encoded (for links that carry filters).
pub fn url_part(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Headers on every console page: not cached, not framed, no script, style, form target or
/// fetch but the console's own (a second wall behind the escaping), no MIME sniffing.
pub const PAGE_HEADERS: [(&str, &str); 4] = [
    ("Cache-Control", "no-store"),
    (
        "Content-Security-Policy",
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
];

pub const CSS: &str = include_str!("assets/console.css");
pub const JS: &str = include_str!("assets/console.js");

/// Which navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Events,
    DeadLetters,
    Targets,
    Configuration,
    Login,
}

/// A whole page: `body` is markup the console built (values inside it already escaped).
/// `csrf` is the session's token, for the log-out form; `None` on the login page.
pub fn page(title: &str, section: Section, csrf: Option<&str>, flash: &str, body: &str) -> String {
    let mut nav = String::new();
    if section != Section::Login {
        nav.push_str(r#"<nav aria-label="Console sections"><ul>"#);
        for (s, href, label) in [
            (Section::Events, "/ui/events", "Events"),
            (Section::DeadLetters, "/ui/dlq", "Dead letters"),
            (Section::Targets, "/ui/targets", "Targets"),
            (Section::Configuration, "/ui/config", "Configuration"),
        ] {
            let current = if s == section {
                r#" aria-current="page""#
            } else {
                ""
            };
            let _ = write!(nav, r#"<li><a href="{href}"{current}>{label}</a></li>"#);
        }
        nav.push_str("</ul>");
        if let Some(csrf) = csrf {
            let _ = write!(
                nav,
                r#"<form method="post" action="/ui/logout" class="logout"><input type="hidden" name="csrf" value="{}"><button type="submit">Log out</button></form>"#,
                esc(csrf)
            );
        }
        nav.push_str("</nav>");
    }
    let flash = if flash.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="flash" role="status">{}</p>"#, esc(flash))
    };
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · hookroute</title>
<link rel="stylesheet" href="/ui/assets/console.css">
<script src="/ui/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><span class="brand">hookroute</span>{nav}</header>
<main id="main">
<h1>{title}</h1>
{flash}{body}
</main>
</body>
</html>
"##,
        title = esc(title),
    )
}

/// A hidden CSRF field for a form.
pub fn csrf_field(csrf: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(csrf))
}

/// `2026-12-08 00:12:03Z` for a unix time in milliseconds (UTC).
pub fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `<time>` element for a unix time in milliseconds.
pub fn time_tag(ms: u64) -> String {
    format!(
        r#"<time datetime="{}">{}</time>"#,
        time(ms).replace(' ', "T"),
        time(ms)
    )
}

/// A short duration: `850 ms`, `12.3 s`, `4 min 05 s`, `3 h 02 min`, `2 d 04 h`.
pub fn duration_ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", ms / 60_000, ms / 1000 % 60),
        3_600_000..86_400_000 => format!("{} h {:02} min", ms / 3_600_000, ms / 60_000 % 60),
        _ => format!("{} d {:02} h", ms / 86_400_000, ms / 3_600_000 % 24),
    }
}

/// Parses `YYYY-MM-DDTHH:MM` (an `<input type="datetime-local">`, read as UTC), optionally
/// with `:SS`, into unix milliseconds.
pub fn parse_datetime(s: &str) -> Option<u64> {
    let (date, clock) = s.trim().split_once(['T', ' '])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut c = clock
        .trim_end_matches('Z')
        .split(':')
        .map(|p| p.parse::<i64>().ok());
    let (h, min) = (c.next()??, c.next()??);
    let sec = c.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    let days = days_from_civil(y, m, day);
    let secs = days * 86_400 + h * 3600 + min * 60 + sec;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// The value of a `datetime-local` input for a unix time in milliseconds.
pub fn datetime_value(ms: u64) -> String {
    time(ms)[..16].replace(' ', "T")
}

// Howard Hinnant's algorithms (proleptic Gregorian calendar, days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>é"#).to_string(),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;é"
        );
        assert_eq!(esc("plain").to_string(), "plain");
    }

    #[test]
    fn times_round_trip_through_the_datetime_input() {
        let ms = 1_796_689_923_000; // 2026-12-08 00:32:03Z
        assert_eq!(time(ms), "2026-12-08 00:32:03Z");
        assert_eq!(datetime_value(ms), "2026-12-08T00:32");
        assert_eq!(parse_datetime("2026-12-08T00:32:03"), Some(ms));
        assert_eq!(parse_datetime("2026-12-08T00:32"), Some(ms - 3000));
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
        assert_eq!(parse_datetime("2024-02-29T12:00"), Some(1_709_208_000_000));
        assert_eq!(parse_datetime("2026-13-01T00:00"), None);
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(12_345), "12.3 s");
        assert_eq!(duration_ms(245_000), "4 min 05 s");
        assert_eq!(duration_ms(3 * 3_600_000 + 120_000), "3 h 02 min");
        assert_eq!(duration_ms(2 * 86_400_000 + 4 * 3_600_000), "2 d 04 h");
    }
}
