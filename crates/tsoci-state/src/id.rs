//! Container ids. The same rule as runc (`^[\w+-\.]+$`, no `.`/`..`), so an
//! id is always a single, harmless path component under the root.

use crate::{Result, StateError};

/// Longest accepted id, in bytes.
pub const MAX_ID_LEN: usize = 1024;

// Errors quote the id; a megabyte of garbage should not become the message.
const SHOWN_ID_LEN: usize = 80;

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')
}

fn invalid(id: &str, reason: String) -> StateError {
    let shown = if id.len() > SHOWN_ID_LEN {
        let mut end = SHOWN_ID_LEN;
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &id[..end])
    } else {
        id.to_owned()
    };
    StateError::InvalidId { id: shown, reason }
}

/// Checks that `id` may name a container: 1 to 1024 bytes of
/// `[A-Za-z0-9_+.-]`, and neither `.` nor `..`.
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(invalid(id, "must not be empty".to_owned()));
    }
    if id.len() > MAX_ID_LEN {
        return Err(invalid(id, format!("is {} bytes long, the limit is {MAX_ID_LEN}", id.len())));
    }
    if id == "." || id == ".." {
        return Err(invalid(id, "must not be \".\" or \"..\"".to_owned()));
    }
    if id.contains('/') {
        return Err(invalid(id, "must not contain '/'".to_owned()));
    }
    if let Some(c) = id.chars().find(|c| !allowed(*c)) {
        return Err(invalid(
            id,
            format!("character {c:?} is not allowed (use letters, digits, '_', '+', '-' and '.')"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(id: &str) -> String {
        match validate_id(id) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("{id:?} was accepted"),
        }
    }

    #[test]
    fn accepts_runc_style_ids() {
        for id in ["a", "my-container", "A_b+c.d-1", "...x", ".hidden", "x..y", &"a".repeat(MAX_ID_LEN)] {
            assert!(validate_id(id).is_ok(), "{id:?}");
        }
    }

    #[test]
    fn rejections_name_the_id() {
        assert_eq!(reason(""), r#"invalid container id "": must not be empty"#);
        assert_eq!(reason("."), r#"invalid container id ".": must not be "." or "..""#);
        assert_eq!(reason(".."), r#"invalid container id "..": must not be "." or "..""#);
        assert_eq!(reason("a/b"), r#"invalid container id "a/b": must not contain '/'"#);
        assert_eq!(reason("../etc"), r#"invalid container id "../etc": must not contain '/'"#);
        assert_eq!(
            reason("a b"),
            r#"invalid container id "a b": character ' ' is not allowed (use letters, digits, '_', '+', '-' and '.')"#
        );
        assert!(reason("é").contains("character 'é' is not allowed"));
        assert!(reason("a\0b").contains(r"character '\0' is not allowed"));
        assert!(reason("x\n").contains(r"character '\n' is not allowed"));
    }

    #[test]
    fn too_long_ids_are_rejected_and_shortened_in_the_message() {
        let long = "b".repeat(MAX_ID_LEN + 1);
        let msg = reason(&long);
        assert!(msg.contains("is 1025 bytes long, the limit is 1024"), "{msg}");
        assert!(msg.len() < 200, "{msg}");
        // Truncation never splits a UTF-8 sequence.
        let mut multi = "é".repeat(600);
        multi.push('/');
        assert!(reason(&multi).contains('…'));
    }

    #[test]
    fn errno_is_einval() {
        assert_eq!(validate_id("a/b").unwrap_err().errno_name(), "EINVAL");
    }
}
