//! Signal names as `tsoci kill` accepts them. Only what is certainly valid is
//! parsed here; an unknown name returns `None` and the command goes to Node,
//! whose error message names the bad signal.

const SIGRTMIN: i32 = 34;
const SIGRTMAX: i32 = 64;

// Linux x86_64/aarch64 numbers (the generic table; tsoci targets no other ABI).
const NAMES: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal number from a name (`KILL`, `SIGKILL`, any case, `RTMIN+n`,
/// `RTMAX-n`) or a decimal number 1..=64.
pub fn parse_signal(text: &str) -> Option<i32> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i32>().ok().filter(|n| (1..=SIGRTMAX).contains(n));
    }
    let upper = t.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    let (base, rest) = if let Some(r) = name.strip_prefix("RTMIN") {
        (SIGRTMIN, r)
    } else if let Some(r) = name.strip_prefix("RTMAX") {
        (SIGRTMAX, r)
    } else {
        return None;
    };
    let offset = match rest.as_bytes().first() {
        None => 0,
        Some(b'+') | Some(b'-') => {
            let digits = &rest[1..];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: i32 = digits.parse().ok()?;
            if rest.starts_with('-') {
                -n
            } else {
                n
            }
        }
        Some(_) => return None,
    };
    Some(base + offset).filter(|n| (SIGRTMIN..=SIGRTMAX).contains(n))
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn names_numbers_and_realtime() {
        assert_eq!(parse_signal("KILL"), Some(9));
        assert_eq!(parse_signal("sigterm"), Some(15));
        assert_eq!(parse_signal("SIGHUP"), Some(1));
        assert_eq!(parse_signal(" 9 "), Some(9));
        assert_eq!(parse_signal("64"), Some(64));
        assert_eq!(parse_signal("RTMIN"), Some(34));
        assert_eq!(parse_signal("SIGRTMIN+3"), Some(37));
        assert_eq!(parse_signal("rtmax-4"), Some(60));
        assert_eq!(parse_signal("WINCH"), Some(28));
    }

    #[test]
    fn anything_doubtful_is_none() {
        for bad in [
            "",
            "0",
            "65",
            "999999999999",
            "-9",
            "NOPE",
            "SIG",
            "RTMIN+31",
            "RTMAX+1",
            "RTMIN+",
            "RTMINX",
            "UNUSED",
        ] {
            assert_eq!(parse_signal(bad), None, "{bad:?}");
        }
    }
}
