//! Lore thread pages saved as text: every message opens with a `* Subject`
//! line, the thread tree, then `From: Name @ 2023-02-10 15:32 UTC
//! (permalink / raw)`, To/Cc lines, a blank line and the body, and ends with
//! `^ permalink raw reply`.

use super::mail::Message;

const END: &str = "^ permalink raw reply";
const FROM_TAIL: &str = "(permalink / raw)";

/// Is this the text of a lore thread page?
pub fn looks_like_lore(text: &str) -> bool {
    let mut has_end = false;
    let mut has_from = false;
    for l in text.lines() {
        has_end |= l.starts_with(END);
        has_from |= l.starts_with("From: ") && l.trim_end().ends_with(FROM_TAIL);
        if has_end && has_from {
            return true;
        }
    }
    false
}

/// The messages of a thread page, in page order.
pub fn messages(text: &str) -> Vec<Message> {
    let lines: Vec<&str> = super::patch::split_lines(text);
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        // The subject line that opens a message.
        let Some(rel) = lines[i..].iter().position(|l| l.starts_with("* ")) else {
            break;
        };
        let subject_at = i + rel;
        let Some(rel) = lines[subject_at..]
            .iter()
            .position(|l| l.starts_with(END) || is_from_line(l))
        else {
            break;
        };
        let from_at = subject_at + rel;
        if !is_from_line(lines[from_at]) {
            // A `* ` line that opened no message (e.g. a bullet in a body
            // outside any message): go on after its end marker.
            i = from_at + 1;
            continue;
        }
        let mut subject = lines[subject_at][2..].trim().to_owned();
        // Long subjects wrap onto indented lines before the thread tree.
        for l in &lines[subject_at + 1..from_at] {
            if l.starts_with("  ")
                && !l.trim_start().starts_with(|c: char| c.is_ascii_digit())
                && !l.trim_start().starts_with('@')
                && !l.trim_start().starts_with('`')
                && !l.trim_start().starts_with("...")
            {
                subject.push(' ');
                subject.push_str(l.trim());
            } else {
                break;
            }
        }
        let (from, date) = parse_from(lines[from_at]);
        // To:/Cc: and their continuation lines, then one blank line.
        let mut b = from_at + 1;
        while b < lines.len() && lines[b].starts_with([' ', '\t']) && !lines[b].trim().is_empty() {
            b += 1;
        }
        if lines.get(b).is_some_and(|l| l.trim().is_empty()) {
            b += 1;
        }
        let end = lines[b..]
            .iter()
            .position(|l| l.starts_with(END))
            .map_or(lines.len(), |r| b + r);
        let mut body = lines[b..end].join("\n");
        body.push('\n');
        out.push(Message {
            line: subject_at + 1,
            subject,
            from,
            date,
            body,
            body_line: b + 1,
        });
        i = end + 1;
    }
    out
}

fn is_from_line(l: &str) -> bool {
    l.starts_with("From: ") && l.trim_end().ends_with(FROM_TAIL)
}

/// `From: Ming Lei @ 2023-02-10 15:32 UTC (permalink / raw)`.
fn parse_from(l: &str) -> (Option<String>, Option<String>) {
    let rest = l["From: ".len()..].trim_end();
    let rest = rest.strip_suffix(FROM_TAIL).unwrap_or(rest).trim_end();
    match rest.rsplit_once(" @ ") {
        Some((name, date)) => (Some(name.trim().to_owned()), Some(date.trim().to_owned())),
        None => (Some(rest.to_owned()), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_line() {
        assert_eq!(
            parse_from("From: Ming Lei @ 2023-02-11  5:13 UTC (permalink / raw)"),
            (
                Some("Ming Lei".to_owned()),
                Some("2023-02-11  5:13 UTC".to_owned())
            )
        );
    }

    #[test]
    fn splits_a_small_page() {
        let page = "list archive mirror
* [PATCH 1/1] x: y
@ 2023-02-10 15:32 A Dev
  0 siblings, 0 replies; 1+ messages in thread
From: A Dev @ 2023-02-10 15:32 UTC (permalink / raw)
  To: B
  Cc: C,
\tD

Body line.
---
diff --git a/x b/x

^ permalink raw reply related\t[flat|nested] 1+ messages in thread
";
        assert!(looks_like_lore(page));
        let m = messages(page);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].subject, "[PATCH 1/1] x: y");
        assert_eq!(m[0].from.as_deref(), Some("A Dev"));
        assert_eq!(m[0].line, 2);
        assert_eq!(m[0].body_line, 10);
        assert!(m[0].body.starts_with("Body line.\n---\n"));
    }
}
