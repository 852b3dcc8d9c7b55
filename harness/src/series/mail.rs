//! Mail: split an mbox into messages and read one message (headers decoded
//! by `mailparse`, body transfer-decoded but kept as the bytes it was).

use std::path::Path;

use mailparse::MailHeaderMap;

use super::SeriesError;

/// One message of a mailbox or a thread page.
#[derive(Debug, Clone)]
pub struct Message {
    /// 1-based line of the message in its file.
    pub line: usize,
    pub subject: String,
    pub from: Option<String>,
    pub date: Option<String>,
    pub body: String,
    /// 1-based line of the body's first line in the file.
    pub body_line: usize,
}

/// Splits an mbox into (1-based line, raw message) pieces. A message starts
/// at a `From ` line at the top of the file or after a blank line, when a
/// header line follows it. mboxrd's `>From ` escapes are undone.
pub fn split_mbox(bytes: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let mut starts = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let after_blank = i == 0 || is_blank(lines[i - 1]);
        if after_blank && l.starts_with(b"From ") && lines.get(i + 1).is_some_and(|n| is_header(n))
        {
            starts.push(i);
        }
    }
    if starts.is_empty() {
        return vec![(1, bytes.to_vec())];
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(lines.len());
        let mut msg = Vec::new();
        for l in &lines[s + 1..e] {
            msg.extend_from_slice(unescape_from(l));
        }
        out.push((s + 2, msg));
    }
    out
}

fn is_blank(l: &[u8]) -> bool {
    l.iter().all(|b| b.is_ascii_whitespace())
}

/// `Name: value` at the start of a line.
pub fn is_header(l: &[u8]) -> bool {
    let Some(colon) = l.iter().position(|b| *b == b':') else {
        return false;
    };
    colon > 0
        && l[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

/// mboxrd: `>From `, `>>From ` lose one `>`.
fn unescape_from(l: &[u8]) -> &[u8] {
    let gts = l.iter().take_while(|b| **b == b'>').count();
    if gts > 0 && l[gts..].starts_with(b"From ") {
        &l[1..]
    } else {
        l
    }
}

/// Parses one raw message that starts at `line` of `path`.
pub fn parse_message(path: &Path, line: usize, raw: &[u8]) -> Result<Message, SeriesError> {
    let mail = mailparse::parse_mail(raw).map_err(|e| SeriesError::Syntax {
        path: path.to_path_buf(),
        line,
        why: format!("not a mail message: {e}"),
    })?;
    let headers = mail.get_headers();
    let subject = headers.get_first_value("Subject").unwrap_or_default();
    let from = headers.get_first_value("From");
    let date = headers.get_first_value("Date");
    let body_bytes = if mail.subparts.is_empty() {
        mail.get_body_raw()
    } else {
        // A patch sent as an attachment: the text parts, in order.
        let mut all = Vec::new();
        for part in mail.parts().filter(|p| p.subparts.is_empty()) {
            if part.ctype.mimetype.starts_with("text/") {
                all.extend(part.get_body_raw().map_err(|e| SeriesError::Syntax {
                    path: path.to_path_buf(),
                    line,
                    why: format!("cannot decode a part of the message: {e}"),
                })?);
            }
        }
        Ok(all)
    }
    .map_err(|e| SeriesError::Syntax {
        path: path.to_path_buf(),
        line,
        why: format!("cannot decode the message body: {e}"),
    })?;
    let header_lines = raw_header_lines(raw);
    let body_line = line + header_lines;
    // Mail lines end in CRLF on the wire (and after quoted-printable
    // decoding); patches to the kernel do not.
    let body_bytes = crlf_to_lf(body_bytes);
    let body = String::from_utf8(body_bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        SeriesError::NotUtf8 {
            path: path.to_path_buf(),
            line: body_line + before.iter().filter(|b| **b == b'\n').count(),
        }
    })?;
    Ok(Message {
        line,
        subject,
        from,
        date,
        body,
        body_line,
    })
}

fn crlf_to_lf(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.windows(2).any(|w| w == b"\r\n") {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len());
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(*b);
    }
    out
}

/// How many lines the header block and its blank line take.
fn raw_header_lines(raw: &[u8]) -> usize {
    let mut n = 0;
    for l in raw.split_inclusive(|b| *b == b'\n') {
        n += 1;
        if is_blank(l) {
            return n;
        }
    }
    n
}

/// Does the file look like mail (an mbox `From ` line or a header first)?
pub fn looks_like_mail(bytes: &[u8]) -> bool {
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    first.starts_with(b"From ") || is_header(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: =?UTF-8?q?J=C3=B6rg=20Dev?= <j@example.org>
Date: Mon, 12 Jan 2026 10:00:00 +0000
Subject: [PATCH 1/2] splice: a long subject that git
 folds onto a second line

Body.
>From the start of a line.
---
diff --git a/x b/x
--- a/x
+++ b/x
@@ -1 +1 @@
-a
+b
-- 
2.47.3

From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: B <b@example.org>
Subject: [PATCH 2/2] two

x
";

    #[test]
    fn splits_and_decodes() {
        let msgs = split_mbox(TWO.as_bytes());
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].0, 2);
        assert_eq!(msgs[1].0, 20);
        let m = parse_message(Path::new("t.mbox"), msgs[0].0, &msgs[0].1).expect("parses");
        assert_eq!(
            m.subject,
            "[PATCH 1/2] splice: a long subject that git folds onto a second line"
        );
        assert_eq!(m.from.as_deref(), Some("Jörg Dev <j@example.org>"));
        assert_eq!(m.body_line, 7);
        assert!(m.body.starts_with("Body.\nFrom the start"), "{}", m.body);
    }

    #[test]
    fn quoted_printable_bodies_are_decoded() {
        let raw = b"Subject: [PATCH] q\nContent-Transfer-Encoding: quoted-printable\n\nline=\n joined =3D 1\n";
        let m = parse_message(Path::new("q"), 1, raw).expect("parses");
        assert_eq!(m.body, "line joined = 1\n");
    }

    #[test]
    fn a_from_line_inside_a_body_without_headers_does_not_split() {
        let t = "From x Mon\nSubject: a\n\nFrom here on\nbody\n";
        assert_eq!(split_mbox(t.as_bytes()).len(), 1);
    }
}
