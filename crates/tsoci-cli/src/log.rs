//! Error reporting in the Node CLI's format: `tsoci: <message>` on stderr,
//! and a record in `--log` (text or JSON lines, runc's shapes) when one is set.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::args::Globals;

/// `2026-12-07T05:43:21.123Z`, the format of JavaScript's `toISOString()`.
pub fn iso_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm, written out here).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

pub fn format_record(g: &Globals, level: &str, msg: &str, time: SystemTime) -> String {
    let t = iso_time(time);
    if g.json_log {
        format!(
            "{{\"level\":{},\"msg\":{},\"time\":{}}}\n",
            json_string(level),
            json_string(msg),
            json_string(&t)
        )
    } else {
        format!("time=\"{t}\" level={level} msg={}\n", json_string(msg))
    }
}

/// Reports a failed command; the caller exits 1.
pub fn report_error(g: &Globals, msg: &str) {
    if let Some(path) = &g.log {
        let line = format_record(g, "error", msg, SystemTime::now());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path);
        if let Ok(mut f) = file {
            let _ = f.write_all(line.as_bytes());
        }
    }
    let _ = std::io::stderr().write_all(format!("tsoci: {msg}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    #[test]
    fn iso_time_matches_javascript() {
        // new Date(1765086201123).toISOString() === '2025-12-07T05:43:21.123Z'
        let t = UNIX_EPOCH + Duration::from_millis(1_765_086_201_123);
        assert_eq!(iso_time(t), "2025-12-07T05:43:21.123Z");
        assert_eq!(iso_time(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day.
        assert_eq!(
            iso_time(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn records_in_both_formats() {
        let mut g = Globals {
            root: PathBuf::from("/r"),
            log: None,
            json_log: false,
            debug: false,
        };
        let t = UNIX_EPOCH;
        assert_eq!(
            format_record(&g, "error", "bad \"x\"", t),
            "time=\"1970-01-01T00:00:00.000Z\" level=error msg=\"bad \\\"x\\\"\"\n"
        );
        g.json_log = true;
        assert_eq!(
            format_record(&g, "error", "m", t),
            "{\"level\":\"error\",\"msg\":\"m\",\"time\":\"1970-01-01T00:00:00.000Z\"}\n"
        );
    }
}
