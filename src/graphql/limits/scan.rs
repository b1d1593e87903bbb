//! The document as text, before it is parsed: how deep its brackets nest.
//!
//! The GraphQL parser and the code that turns its output into values
//! recurse once per level of `{`, `[` and `(`, so a few kilobytes of `[[[[`
//! would overflow the stack and abort the process before any check on the
//! parsed document could run. This scan is a loop, not a recursion: it
//! skips strings, block strings and comments (their brackets are text) and
//! reports the deepest nesting, so that a too-deep document is refused
//! without ever reaching the parser.

/// The deepest bracket nesting in `query`, stopping early (and reporting
/// `limit + 1`) as soon as it passes `limit`.
pub fn nesting(query: &str, limit: usize) -> usize {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = skip_comment(bytes, i),
            b'"' if bytes[i..].starts_with(b"\"\"\"") => i = skip_block_string(bytes, i + 3),
            b'"' => i = skip_string(bytes, i + 1),
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > limit {
                        return deepest;
                    }
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    deepest
}

/// The index after a `#` comment (which runs to the end of the line).
fn skip_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map_or(bytes.len(), |end| start + end + 1)
}

/// The index after a string whose opening quote ends at `start`.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            // A string never spans lines; the parser reports it.
            b'\n' | b'\r' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index after a block string whose opening `"""` ends at `start`;
/// `\"""` inside it is an escaped delimiter.
fn skip_block_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::nesting;

    #[test]
    fn counts_every_kind_of_bracket() {
        assert_eq!(nesting("{ a }", 10), 1);
        assert_eq!(nesting("{ a(x: [{ y: 1 }]) { b } }", 10), 4);
        assert_eq!(nesting("", 10), 0);
    }

    #[test]
    fn brackets_inside_strings_and_comments_do_not_count() {
        assert_eq!(nesting(r#"{ a(x: "[[[[\"[[") }"#, 10), 2);
        assert_eq!(nesting("{ a # [[[[[[\n }", 10), 1);
        assert_eq!(nesting("{ a(x: \"\"\" [[[ \\\"\"\" [[ \"\"\") }", 10), 2);
    }

    #[test]
    fn stops_as_soon_as_the_limit_is_passed() {
        let deep = format!("{{ stats(x: {}) }}", "[".repeat(1_000_000));
        assert_eq!(nesting(&deep, 64), 65);
    }

    #[test]
    fn unbalanced_closers_do_not_underflow() {
        assert_eq!(nesting("}}} { a }", 10), 1);
    }
}
