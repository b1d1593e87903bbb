//! The request body as bytes, before it is parsed: its longest array.
//!
//! Parsing builds a value per element, so a body of half a million short
//! strings costs a hundred milliseconds of allocation before any check on
//! the parsed request can refuse it. This scan is one loop over the bytes,
//! skipping strings, that stops as soon as one array passes the bound.

/// The length of the first array in `json` with more than `cap`
/// elements, or `None` when every array is within it. Malformed JSON is
/// scanned as far as it goes (the parser reports it).
pub fn array_over(json: &[u8], cap: usize) -> Option<usize> {
    // One counter per open bracket: elements so far, and whether the
    // current element has begun (`[]` has none, `[1]` one).
    let mut open: Vec<(bool, usize, bool)> = Vec::new(); // (is array, count, begun)
    let mut i = 0;
    while i < json.len() {
        let b = json[i];
        match b {
            b'"' => {
                begin(&mut open);
                i = skip_string(json, i + 1);
                continue;
            }
            b'[' | b'{' => {
                begin(&mut open);
                open.push((b == b'[', 0, false));
            }
            b']' | b'}' => {
                if let Some((true, count, begun)) = open.pop() {
                    let total = count + usize::from(begun);
                    if total > cap {
                        return Some(total);
                    }
                }
            }
            b',' => {
                if let Some((true, count, begun)) = open.last_mut() {
                    *count += usize::from(*begun);
                    *begun = false;
                    if *count > cap {
                        return Some(*count);
                    }
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' | b':' => {}
            _ => begin(&mut open),
        }
        i += 1;
    }
    None
}

/// Marks the innermost open array's current element as begun.
fn begin(open: &mut [(bool, usize, bool)]) {
    if let Some((true, _, begun)) = open.last_mut() {
        *begun = true;
    }
}

/// The index after a string whose opening quote ends at `i`.
fn skip_string(json: &[u8], mut i: usize) -> usize {
    while i < json.len() {
        match json[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    json.len()
}

#[cfg(test)]
mod tests {
    use super::array_over;

    #[test]
    fn counts_elements_of_every_array_at_any_depth() {
        assert_eq!(array_over(b"[]", 0), None);
        assert_eq!(array_over(b"[1]", 0), Some(1));
        assert_eq!(array_over(b"[1,2,3]", 3), None);
        assert_eq!(array_over(b"[1,2,3,4]", 3), Some(4));
        assert_eq!(array_over(br#"{"a":{"b":[[],[],[],[]]}}"#, 3), Some(4));
        assert_eq!(
            array_over(br#"[{"a":1,"b":2,"c":3,"d":4}]"#, 3),
            None,
            "object members are not elements"
        );
    }

    #[test]
    fn commas_and_brackets_inside_strings_do_not_count() {
        assert_eq!(array_over(br#"["a,b,c,d,e", "[[[,,,"]"#, 2), None);
        assert_eq!(array_over(br#"["\",\",\",", 1]"#, 2), None);
    }

    #[test]
    fn a_huge_array_is_found_early() {
        let mut body = b"{\"variables\":{\"f\":{\"types\":[".to_vec();
        for i in 0..500_000 {
            body.extend_from_slice(format!("\"T{i}\",").as_bytes());
        }
        body.extend_from_slice(b"\"end\"]}}}");
        assert_eq!(array_over(&body, 10_000), Some(10_001));
        assert_eq!(array_over(&body, 1_000_000), None);
    }
}
