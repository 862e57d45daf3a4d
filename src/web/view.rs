//! Display strings for pages, computed before rendering so templates stay simple.

use crate::git::read::CommitInfo;

/// "3 days ago", as peers show commit ages.
pub fn age(time: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let secs = (now - time).max(0);
    let (n, unit) = match secs {
        s if s < 60 => return "just now".into(),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s if s < 30 * 86_400 => (s / 86_400, "day"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// `age` for a time that may lie ahead as well (a mirror's next sync): "in 5 minutes".
pub fn relative(time: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if time <= now {
        return age(time);
    }
    if time - now < 60 {
        return "in under a minute".into();
    }
    let ahead = age(now - (time - now));
    format!("in {}", ahead.trim_end_matches(" ago"))
}

/// A time as pages show it: relative text, the exact time for the element's `title`.
pub struct When {
    pub age: String,
    pub date: String,
}

impl When {
    pub fn at(t: time::OffsetDateTime) -> Self {
        let secs = t.unix_timestamp();
        When {
            age: relative(secs),
            date: date(secs),
        }
    }
}

/// `2026-11-26 12:00 UTC`.
pub fn date(time: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(time)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `2026-11-26`: a day, for columns where every row's date must line up (blame).
pub fn day(time: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::OffsetDateTime::from_unix_timestamp(time)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// `1 branch`, `2 branches`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A commit as rows of the log and tree pages show it.
pub struct CommitRow {
    pub id: String,
    pub short: String,
    pub subject: String,
    pub author: String,
    pub age: String,
    pub date: String,
    /// Its combined commit status, where the page shows one.
    pub mark: Option<StatusMark>,
}

/// A commit's combined status as a small mark: `✓` success, `✗` failure, `•` pending; the
/// title lists the first contexts' states (failures first) and counts the rest.
#[derive(Debug, Clone)]
pub struct StatusMark {
    /// `success`, `failure` or `pending`: the CSS class and the word for screen readers.
    pub state: &'static str,
    pub symbol: &'static str,
    pub title: String,
}

impl From<&crate::domain::statuses::CombinedStatus> for StatusMark {
    fn from(c: &crate::domain::statuses::CombinedStatus) -> Self {
        use crate::model::CommitState;
        let (state, symbol) = match c.state {
            CommitState::Success => ("success", "✓"),
            CommitState::Failure | CommitState::Error => ("failure", "✗"),
            _ => ("pending", "•"),
        };
        let mut title = c
            .statuses
            .iter()
            .map(|s| format!("{}: {}", s.context, s.state))
            .collect::<Vec<_>>()
            .join(", ");
        if c.more() > 0 {
            title.push_str(&format!(" and {} more", c.more()));
        }
        StatusMark {
            state,
            symbol,
            title,
        }
    }
}

impl From<&CommitInfo> for CommitRow {
    fn from(c: &CommitInfo) -> Self {
        Self {
            id: c.id.0.clone(),
            short: c.id.short().to_owned(),
            subject: c.subject.clone(),
            author: c.author_name.clone(),
            age: age(c.time),
            date: date(c.time),
            mark: None,
        }
    }
}

/// Links for a path, one per segment: `a/b/c` → [("a", "a"), ("b", "a/b"), ("c", "a/b/c")].
pub fn breadcrumbs(path: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut acc = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if !acc.is_empty() {
            acc.push('/');
        }
        acc.push_str(seg);
        out.push((seg.to_owned(), acc.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert_eq!(age(now), "just now");
        assert_eq!(age(now - 3 * 86_400), "3 days ago");
        assert_eq!(age(now - 3600), "1 hour ago");
        assert_eq!(day(1_764_158_400), "2025-11-26");
        assert_eq!(date(1_764_158_400), "2025-11-26 12:00 UTC");
    }

    #[test]
    fn times_ahead_read_naturally_too() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert_eq!(relative(now + 5 * 60 + 10), "in 5 minutes");
        assert_eq!(relative(now + 3600 + 30), "in 1 hour");
        assert_eq!(relative(now + 10), "in under a minute");
        assert_eq!(relative(now - 120), "2 minutes ago");
    }

    #[test]
    fn breadcrumbs_accumulate() {
        assert_eq!(
            breadcrumbs("a/b"),
            vec![("a".into(), "a".into()), ("b".into(), "a/b".into())]
        );
        assert!(breadcrumbs("").is_empty());
    }
}
