//! A container's `state.json` as the Node runtime writes it (`StoredState` in
//! @ts-oci/runtime's state.ts), and its live status (`liveStatus` there).

use std::path::Path;

use serde_json::{Map, Value};
use tsoci_state::StateError;

use crate::cgroup::Cgroup;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        }
    }
}

/// The stored state, kept whole (`value`) so a rewrite loses nothing.
#[derive(Debug, Clone)]
pub struct Stored {
    pub value: Map<String, Value>,
    pub id: String,
    pub recorded: String,
    pub pid: u32,
    pub start_time: u64,
    pub init_pid: u32,
    pub init_start_time: u64,
    pub cgroup: Option<Cgroup>,
}

fn pid_field(o: &Map<String, Value>, key: &str) -> Option<u32> {
    match o.get(key) {
        None | Some(Value::Null) => Some(0),
        Some(v) => u32::try_from(v.as_u64()?)
            .ok()
            .filter(|p| i32::try_from(*p).is_ok()),
    }
}

fn start_time_field(o: &Map<String, Value>, key: &str) -> Option<u64> {
    match o.get(key) {
        None | Some(Value::Null) => Some(0),
        Some(Value::String(s)) => s.parse().ok(),
        Some(v) => v.as_u64(),
    }
}

impl Stored {
    /// `None` when the text is not a state this code fully understands; the
    /// caller then hands the command to Node, which reports what is wrong.
    pub fn parse(text: &str) -> Option<Stored> {
        let Value::Object(value) = serde_json::from_str::<Value>(text).ok()? else {
            return None;
        };
        let id = value.get("id")?.as_str()?.to_owned();
        let recorded = value.get("status")?.as_str()?.to_owned();
        if !matches!(
            recorded.as_str(),
            "creating" | "created" | "running" | "stopped"
        ) {
            return None;
        }
        for key in ["ociVersion", "bundle", "rootfs", "created", "owner"] {
            value.get(key)?.as_str()?;
        }
        value.get("annotations")?.as_object()?;
        let pid = pid_field(&value, "pid")?;
        let start_time = start_time_field(&value, "startTime")?;
        let init_pid = pid_field(&value, "initPid")?;
        let init_start_time = start_time_field(&value, "initStartTime")?;
        let cgroup = match value.get("cgroup") {
            None | Some(Value::Null) => None,
            Some(c) => Some(Cgroup::from_state(c)?),
        };
        Some(Stored {
            value,
            id,
            recorded,
            pid,
            start_time,
            init_pid,
            init_start_time,
            cgroup,
        })
    }

    /// Whether `config.hooks.<kind>` lists at least one hook.
    pub fn has_hooks(&self, kind: &str) -> bool {
        self.value
            .get("config")
            .and_then(|c| c.get("hooks"))
            .and_then(|h| h.get(kind))
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    }

    /// True when the runtime made the bundle and `delete` must remove it.
    pub fn owns_bundle(&self) -> bool {
        self.value
            .get("ownedBundle")
            .and_then(Value::as_str)
            .is_some_and(|b| !b.is_empty())
    }

    /// The status now: what was recorded, corrected by what the kernel says.
    pub fn live_status(&self, container_dir: &Path) -> Result<Status, StateError> {
        let status = if self.recorded == "stopped" {
            Status::Stopped
        } else if self.pid == 0 {
            // Create was interrupted before the container process existed.
            if self.init_pid != 0 && tsoci_state::is_alive(self.init_pid, self.init_start_time)? {
                Status::Creating
            } else {
                Status::Stopped
            }
        } else if !tsoci_state::is_alive(self.pid, self.start_time)? {
            Status::Stopped
        } else if self.recorded == "creating" {
            Status::Creating
        } else if container_dir.join(tsoci_state::EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        };
        if matches!(status, Status::Running | Status::Created)
            && self.cgroup.as_ref().is_some_and(Cgroup::is_frozen)
        {
            return Ok(Status::Paused);
        }
        Ok(status)
    }

    /// The runtime-spec state document, with the keys in the order the Node
    /// CLI prints them.
    pub fn oci_state(&self, status: Status) -> Value {
        let mut out = Map::new();
        let copy = |out: &mut Map<String, Value>, key: &str| {
            out.insert(
                key.to_owned(),
                self.value.get(key).cloned().unwrap_or(Value::Null),
            );
        };
        copy(&mut out, "ociVersion");
        copy(&mut out, "id");
        out.insert(
            "pid".to_owned(),
            Value::from(if status == Status::Stopped {
                0
            } else {
                self.pid
            }),
        );
        out.insert("status".to_owned(), Value::from(status.as_str()));
        for key in ["bundle", "rootfs", "created", "owner"] {
            copy(&mut out, key);
        }
        if self
            .value
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty())
        {
            copy(&mut out, "annotations");
        }
        Value::Object(out)
    }

    pub fn set_recorded(&mut self, status: &str) {
        self.recorded = status.to_owned();
        self.value.insert("status".to_owned(), Value::from(status));
    }

    pub fn to_json(&self) -> String {
        // A Map of Values cannot fail to serialise.
        serde_json::to_string(&self.value).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"{"ociVersion":"1.3.0","id":"c1","status":"created","pid":0,"startTime":0,"initPid":0,"initStartTime":0,"bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00.000Z","annotations":{"z":"1","a":"2"},"owner":"","config":{"hooks":{"poststop":[{"path":"/bin/true"}],"prestart":[]}}}"#;

    #[test]
    fn parses_and_keeps_key_order() {
        let s = Stored::parse(STATE).expect("valid");
        assert_eq!(s.id, "c1");
        assert!(s.has_hooks("poststop"));
        assert!(!s.has_hooks("prestart"));
        assert!(!s.has_hooks("startContainer"));
        // Rewriting keeps every field and the order of the annotations.
        assert_eq!(s.to_json(), STATE);
        let oci = serde_json::to_string(&s.oci_state(Status::Stopped)).expect("json");
        assert_eq!(
            oci,
            r#"{"ociVersion":"1.3.0","id":"c1","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"2026-01-01T00:00:00.000Z","owner":"","annotations":{"z":"1","a":"2"}}"#
        );
    }

    #[test]
    fn no_pid_and_no_live_init_is_stopped() {
        let s = Stored::parse(STATE).expect("valid");
        assert_eq!(
            s.live_status(Path::new("/nonexistent")).expect("status"),
            Status::Stopped
        );
    }

    #[test]
    fn the_calling_process_is_alive() {
        let me = std::process::id();
        let st = tsoci_state::process_start_time(me).expect("own start time");
        let text = STATE.replace(
            r#""status":"created","pid":0,"startTime":0"#,
            &format!(r#""status":"created","pid":{me},"startTime":{st}"#),
        );
        let s = Stored::parse(&text).expect("valid");
        let dir = std::env::temp_dir().join(format!("tsoci-cli-status-{me}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        assert_eq!(s.live_status(&dir).expect("status"), Status::Running);
        std::fs::write(dir.join(tsoci_state::EXEC_FIFO), "").expect("fifo stand-in");
        assert_eq!(s.live_status(&dir).expect("status"), Status::Created);
        std::fs::remove_dir_all(&dir).expect("cleanup");
        // A start time that does not match is another process: stopped.
        let text = text.replace(
            &format!(r#""startTime":{st}"#),
            &format!(r#""startTime":{}"#, st + 1),
        );
        let s = Stored::parse(&text).expect("valid");
        assert_eq!(s.live_status(&dir).expect("status"), Status::Stopped);
    }

    #[test]
    fn shapes_it_does_not_know_are_refused() {
        for bad in [
            "[]",
            "not json",
            &STATE.replace(r#""status":"created""#, r#""status":"paused""#),
            &STATE.replace(r#""pid":0"#, r#""pid":-1"#),
            &STATE.replace(r#""pid":0"#, r#""pid":4294967296"#),
            &STATE.replace(r#""bundle":"/b","#, ""),
            &STATE.replace(r#""annotations":{"z":"1","a":"2"}"#, r#""annotations":[]"#),
            &STATE.replace(
                r#""owner":"""#,
                r#""owner":"","cgroup":{"driver":"systemd"}"#,
            ),
        ] {
            assert!(Stored::parse(bad).is_none(), "{bad}");
        }
    }
}
