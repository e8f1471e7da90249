//! The `RootfsPlan` and `MountOp` of PROTOCOL.md ("RootfsPlan", "MountOp").
//!
//! Numbers stay the raw kernel values the TypeScript side computed (MS_*,
//! MOUNT_ATTR_*), because that is the contract; [`RootfsPlan::validate`] then
//! rejects every bit this crate does not know how to apply, naming the field,
//! before anything is mounted.

use serde::Deserialize;

use crate::error::MountError;

/// `rootfsPropagation`: how "/" is made before the rootfs is bound.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RootPropagation {
    Shared,
    Slave,
    Private,
    Unbindable,
    Rshared,
    #[default]
    Rslave,
    Rprivate,
    Runbindable,
}

impl RootPropagation {
    /// The propagation type without the recursion marker. "/" is always
    /// changed recursively (PROTOCOL.md): a non-recursive change would leave
    /// the host's shared submounts shared with the container namespace.
    pub fn kind(self) -> PropagationKind {
        match self {
            RootPropagation::Shared | RootPropagation::Rshared => PropagationKind::Shared,
            RootPropagation::Slave | RootPropagation::Rslave => PropagationKind::Slave,
            RootPropagation::Private | RootPropagation::Rprivate => PropagationKind::Private,
            RootPropagation::Unbindable | RootPropagation::Runbindable => {
                PropagationKind::Unbindable
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagationKind {
    Shared,
    Slave,
    Private,
    Unbindable,
}

/// One `linux.devices` entry (or a default device) to create in the rootfs.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceNode {
    /// Absolute path inside the container.
    pub path: String,
    #[serde(rename = "type")]
    pub kind: DeviceKind,
    #[serde(default)]
    pub major: u32,
    #[serde(default)]
    pub minor: u32,
    /// Permission bits; absent means 0o666 (runc's default). S_IFMT bits
    /// are accepted only when they agree with `type`.
    #[serde(default)]
    pub file_mode: Option<u32>,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub gid: Option<u32>,
}

/// Device type letters of config-linux.md "Devices".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum DeviceKind {
    /// Character device.
    #[serde(rename = "c")]
    Char,
    /// Unbuffered character device: the same node as `c` on Linux.
    #[serde(rename = "u")]
    CharUnbuffered,
    #[serde(rename = "b")]
    Block,
    #[serde(rename = "p")]
    Fifo,
}

impl DeviceKind {
    pub(crate) fn s_ifmt(self) -> u32 {
        match self {
            DeviceKind::Char | DeviceKind::CharUnbuffered => libc::S_IFCHR,
            DeviceKind::Block => libc::S_IFBLK,
            DeviceKind::Fifo => libc::S_IFIFO,
        }
    }
}

/// One mount, in config order.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountOp {
    /// Absolute, inside the container; resolved with RESOLVE_IN_ROOT.
    pub destination: String,
    /// Filesystem type; "bind" (or `bind: true`) for bind mounts.
    #[serde(rename = "type", default)]
    pub fs_type: String,
    /// For binds an absolute host path; otherwise the fs source ("proc", "tmpfs", …).
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub bind: bool,
    /// rbind: the whole subtree under `source` is bound.
    #[serde(default)]
    pub recursive: bool,
    /// MS_* flags to set, without propagation, bind, remount or move bits.
    #[serde(default)]
    pub flags: u64,
    /// MS_* flags the options explicitly cleared ("rw", "suid", "dev", "exec",
    /// "atime", …); used when a bind mount's flags are changed.
    #[serde(default)]
    pub clear_flags: u64,
    /// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, each optionally |MS_REC,
    /// applied in order after the mount.
    #[serde(default)]
    pub propagation: Vec<u64>,
    /// MOUNT_ATTR_* applied recursively with mount_setattr(AT_RECURSIVE).
    #[serde(default)]
    pub attr_set: u64,
    #[serde(default)]
    pub attr_clr: u64,
    /// Filesystem data: the comma-separated options that are not flags.
    #[serde(default)]
    pub data: String,
}

impl MountOp {
    /// Bind when the flag says so, and also for type "bind" (runc treats the
    /// type alone as a bind mount, and the TS side may forward it verbatim).
    pub fn is_bind(&self) -> bool {
        self.bind || self.fs_type == "bind"
    }
}

/// The whole rootfs part of the init plan.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RootfsPlan {
    /// Host path of the rootfs (root.path made absolute).
    pub root: String,
    #[serde(default)]
    pub readonly: bool,
    /// Absent or null means rslave.
    #[serde(default, deserialize_with = "null_as_default")]
    pub propagation: RootPropagation,
    #[serde(default)]
    pub no_pivot: bool,
    #[serde(default)]
    pub mounts: Vec<MountOp>,
    #[serde(default)]
    pub devices: Vec<DeviceNode>,
    /// True in a user namespace: bind the host node instead of mknod.
    #[serde(default)]
    pub bind_devices: bool,
    /// `[target, path in container]`.
    #[serde(default)]
    pub symlinks: Vec<(String, String)>,
    #[serde(default)]
    pub masked_paths: Vec<String>,
    #[serde(default)]
    pub readonly_paths: Vec<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// MS_* values (include/uapi/linux/mount.h); spelled out so the accepted set is
// visible in one place.
pub(crate) const MS_RDONLY: u64 = 1;
pub(crate) const MS_NOSUID: u64 = 2;
pub(crate) const MS_NODEV: u64 = 4;
pub(crate) const MS_NOEXEC: u64 = 8;
pub(crate) const MS_SYNCHRONOUS: u64 = 16;
pub(crate) const MS_MANDLOCK: u64 = 64;
pub(crate) const MS_DIRSYNC: u64 = 128;
pub(crate) const MS_NOSYMFOLLOW: u64 = 256;
pub(crate) const MS_NOATIME: u64 = 1024;
pub(crate) const MS_NODIRATIME: u64 = 2048;
pub(crate) const MS_REC: u64 = 16384;
pub(crate) const MS_SILENT: u64 = 32768;
pub(crate) const MS_UNBINDABLE: u64 = 1 << 17;
pub(crate) const MS_PRIVATE: u64 = 1 << 18;
pub(crate) const MS_SLAVE: u64 = 1 << 19;
pub(crate) const MS_SHARED: u64 = 1 << 20;
pub(crate) const MS_RELATIME: u64 = 1 << 21;
pub(crate) const MS_STRICTATIME: u64 = 1 << 24;
pub(crate) const MS_LAZYTIME: u64 = 1 << 25;

/// The MS_* bits a MountOp may carry in `flags` / `clearFlags`.
pub const KNOWN_MS_FLAGS: u64 = MS_RDONLY
    | MS_NOSUID
    | MS_NODEV
    | MS_NOEXEC
    | MS_SYNCHRONOUS
    | MS_MANDLOCK
    | MS_DIRSYNC
    | MS_NOSYMFOLLOW
    | MS_NOATIME
    | MS_NODIRATIME
    | MS_SILENT
    | MS_RELATIME
    | MS_STRICTATIME
    | MS_LAZYTIME;

pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub(crate) const MOUNT_ATTR_ATIME_MASK: u64 = 0x70;
pub(crate) const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub(crate) const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub(crate) const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub(crate) const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// The MOUNT_ATTR_* bits accepted in `attrSet` / `attrClr`. MOUNT_ATTR_IDMAP
/// is not among them: it needs a user namespace fd the plan does not carry.
pub const KNOWN_MOUNT_ATTRS: u64 = MOUNT_ATTR_RDONLY
    | MOUNT_ATTR_NOSUID
    | MOUNT_ATTR_NODEV
    | MOUNT_ATTR_NOEXEC
    | MOUNT_ATTR_ATIME_MASK
    | MOUNT_ATTR_NODIRATIME
    | MOUNT_ATTR_NOSYMFOLLOW;

impl RootfsPlan {
    /// Parses a plan from JSON (the `rootfs` member of the init plan).
    pub fn from_json(json: &str) -> Result<RootfsPlan, MountError> {
        let plan: RootfsPlan = serde_json::from_str(json)
            .map_err(|e| MountError::invalid("rootfs", format!("bad JSON: {e}")))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Checks everything that can be checked without touching the system,
    /// so a bad plan fails before the first mount. Called by
    /// [`crate::prepare_rootfs`]; callers that deserialize the plan as part of
    /// a bigger document may call it earlier.
    pub fn validate(&self) -> Result<(), MountError> {
        if !self.root.starts_with('/') {
            return Err(MountError::invalid(
                "rootfs.root",
                format!("{:?} is not an absolute path", self.root),
            ));
        }
        if self.root.contains('\0') {
            return Err(MountError::invalid("rootfs.root", "contains a NUL byte"));
        }
        for (i, m) in self.mounts.iter().enumerate() {
            m.validate(&format!("rootfs.mounts[{i}]"))?;
        }
        for (i, d) in self.devices.iter().enumerate() {
            d.validate(&format!("rootfs.devices[{i}]"))?;
        }
        for (i, (target, path)) in self.symlinks.iter().enumerate() {
            let field = format!("rootfs.symlinks[{i}]");
            if target.is_empty() || target.contains('\0') {
                return Err(MountError::invalid(
                    &field,
                    format!("bad symlink target {target:?}"),
                ));
            }
            check_container_path(&field, path, true)?;
        }
        for (i, p) in self.masked_paths.iter().enumerate() {
            check_container_path(&format!("rootfs.maskedPaths[{i}]"), p, false)?;
        }
        for (i, p) in self.readonly_paths.iter().enumerate() {
            check_container_path(&format!("rootfs.readonlyPaths[{i}]"), p, false)?;
        }
        Ok(())
    }
}

impl MountOp {
    fn validate(&self, field: &str) -> Result<(), MountError> {
        check_container_path(&format!("{field}.destination"), &self.destination, false)?;
        if is_root_path(&self.destination) {
            return Err(MountError::invalid(
                &format!("{field}.destination"),
                "mounting over the container's \"/\" is not supported (use root.path)",
            ));
        }
        if self.is_bind() {
            if !self.source.starts_with('/') {
                return Err(MountError::invalid(
                    &format!("{field}.source"),
                    format!(
                        "bind source {:?} must be an absolute host path",
                        self.source
                    ),
                ));
            }
        } else {
            if self.fs_type.is_empty() {
                return Err(MountError::invalid(
                    &format!("{field}.type"),
                    "a filesystem type is required for a non-bind mount",
                ));
            }
            if self.recursive {
                return Err(MountError::invalid(
                    &format!("{field}.recursive"),
                    "recursive is only meaningful for bind mounts",
                ));
            }
        }
        for (name, v) in [
            ("source", &self.source),
            ("type", &self.fs_type),
            ("data", &self.data),
        ] {
            if v.contains('\0') {
                return Err(MountError::invalid(
                    &format!("{field}.{name}"),
                    "contains a NUL byte",
                ));
            }
        }
        for (name, v) in [("flags", self.flags), ("clearFlags", self.clear_flags)] {
            let unknown = v & !KNOWN_MS_FLAGS;
            if unknown != 0 {
                return Err(MountError::invalid(
                    &format!("{field}.{name}"),
                    format!(
                        "unsupported MS_* bits {unknown:#x} (bind, recursion, propagation and \
                         remount are separate fields; known: {KNOWN_MS_FLAGS:#x})"
                    ),
                ));
            }
        }
        if self.flags & self.clear_flags != 0 {
            return Err(MountError::invalid(
                &format!("{field}.clearFlags"),
                format!(
                    "bits {:#x} are both set and cleared",
                    self.flags & self.clear_flags
                ),
            ));
        }
        let atime = self.flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME);
        if atime.count_ones() > 1 {
            return Err(MountError::invalid(
                &format!("{field}.flags"),
                "at most one of noatime, relatime and strictatime may be set",
            ));
        }
        for (i, p) in self.propagation.iter().enumerate() {
            let kind = p & !MS_REC;
            if ![MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE].contains(&kind) {
                return Err(MountError::invalid(
                    &format!("{field}.propagation[{i}]"),
                    format!(
                        "{p:#x} is not exactly one of MS_SHARED, MS_SLAVE, MS_PRIVATE, \
                         MS_UNBINDABLE (optionally with MS_REC)"
                    ),
                ));
            }
        }
        for (name, v) in [("attrSet", self.attr_set), ("attrClr", self.attr_clr)] {
            let unknown = v & !KNOWN_MOUNT_ATTRS;
            if unknown != 0 {
                return Err(MountError::invalid(
                    &format!("{field}.{name}"),
                    format!(
                        "unsupported MOUNT_ATTR_* bits {unknown:#x} (known: {KNOWN_MOUNT_ATTRS:#x})"
                    ),
                ));
            }
        }
        let atime_set = self.attr_set & MOUNT_ATTR_ATIME_MASK;
        if ![0, MOUNT_ATTR_NOATIME, MOUNT_ATTR_STRICTATIME].contains(&atime_set) {
            return Err(MountError::invalid(
                &format!("{field}.attrSet"),
                format!("{atime_set:#x} is not a single MOUNT_ATTR_* atime mode"),
            ));
        }
        Ok(())
    }
}

impl DeviceNode {
    fn validate(&self, field: &str) -> Result<(), MountError> {
        check_container_path(&format!("{field}.path"), &self.path, true)?;
        if let Some(mode) = self.file_mode {
            let fmt = mode & libc::S_IFMT;
            if fmt != 0 && fmt != self.kind.s_ifmt() {
                return Err(MountError::invalid(
                    &format!("{field}.fileMode"),
                    format!(
                        "{mode:#o} has a file type that disagrees with type {:?}",
                        self.kind
                    ),
                ));
            }
            if mode & !(libc::S_IFMT | 0o7777) != 0 {
                return Err(MountError::invalid(
                    &format!("{field}.fileMode"),
                    format!("{mode:#o} has bits beyond the file type and 0o7777"),
                ));
            }
        }
        if self.kind == DeviceKind::Fifo && (self.major != 0 || self.minor != 0) {
            return Err(MountError::invalid(
                &format!("{field}.major"),
                "a fifo has no major/minor numbers",
            ));
        }
        Ok(())
    }

    /// Permission bits to create the node with.
    pub fn permissions(&self) -> u32 {
        self.file_mode.map_or(0o666, |m| m & 0o7777)
    }
}

fn is_root_path(p: &str) -> bool {
    p.split('/').all(|c| c.is_empty() || c == ".")
}

/// Container paths are absolute and NUL-free. `needs_name` demands a last
/// component that can be created (not "/", ".", "..").
fn check_container_path(field: &str, p: &str, needs_name: bool) -> Result<(), MountError> {
    if !p.starts_with('/') {
        return Err(MountError::invalid(
            field,
            format!("{p:?} is not an absolute path inside the container"),
        ));
    }
    if p.contains('\0') {
        return Err(MountError::invalid(field, "contains a NUL byte"));
    }
    if needs_name {
        let last = p.split('/').rev().find(|c| !c.is_empty()).unwrap_or("");
        if last.is_empty() || last == "." || last == ".." {
            return Err(MountError::invalid(
                field,
                format!("{p:?} does not end in a file name"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes `//` comments outside strings (the PROTOCOL.md examples are
    /// JSONC).
    fn strip_jsonc(s: &str) -> String {
        let mut out = String::new();
        for line in s.lines() {
            let mut in_str = false;
            let mut escaped = false;
            let chars: Vec<char> = line.chars().collect();
            let mut cut = chars.len();
            for i in 0..chars.len() {
                let c = chars[i];
                if in_str {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        in_str = false;
                    }
                } else if c == '"' {
                    in_str = true;
                } else if c == '/' && chars.get(i + 1) == Some(&'/') {
                    cut = i;
                    break;
                }
            }
            out.extend(&chars[..cut]);
            out.push('\n');
        }
        out
    }

    /// The ```jsonc block that follows `marker` in PROTOCOL.md.
    fn protocol_block(doc: &str, marker: &str) -> String {
        let start = doc
            .find(marker)
            .unwrap_or_else(|| panic!("{marker:?} not in PROTOCOL.md"));
        let rest = &doc[start..];
        let open = rest.find("```jsonc").unwrap() + "```jsonc".len();
        let close = rest[open..].find("```").unwrap();
        strip_jsonc(&rest[open..open + close])
    }

    #[test]
    fn parses_the_protocol_md_examples() {
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tsoci-init/PROTOCOL.md"
        ))
        .expect("PROTOCOL.md is the contract this crate implements");
        let mount = protocol_block(&doc, "`MountOp`:");
        let op: MountOp = serde_json::from_str(&mount).unwrap();
        assert_eq!(op.destination, "/proc");
        assert_eq!(op.fs_type, "proc");
        assert_eq!(op.flags, 14);
        assert_eq!(op.data, "mode=755,size=65536k");
        op.validate("example").unwrap();

        let plan =
            protocol_block(&doc, "### RootfsPlan").replace("[ MountOp ]", &format!("[ {mount} ]"));
        let plan = RootfsPlan::from_json(&plan).unwrap();
        assert_eq!(plan.root, "/abs/bundle/rootfs");
        assert_eq!(plan.propagation, RootPropagation::Rslave);
        assert_eq!(plan.mounts, vec![op]);
        assert_eq!(plan.devices[0].kind, DeviceKind::Char);
        assert_eq!((plan.devices[0].major, plan.devices[0].minor), (1, 3));
        assert_eq!(plan.devices[0].permissions(), 0o666);
        assert_eq!(
            plan.symlinks,
            vec![("/proc/self/fd".to_string(), "/dev/fd".to_string())]
        );
        assert_eq!(plan.masked_paths, vec!["/proc/kcore"]);
        assert_eq!(plan.readonly_paths, vec!["/proc/sys"]);
    }

    const FULL: &str = r#"{
      "root": "/b/rootfs", "readonly": true, "propagation": "rprivate", "noPivot": true,
      "mounts": [
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "flags": 16777218,
         "data": "mode=755,size=65536k"},
        {"destination": "/data", "type": "bind", "source": "/host/data", "bind": true, "recursive": true,
         "flags": 1, "clearFlags": 2, "propagation": [1064960, 262144], "attrSet": 1, "attrClr": 0}
      ],
      "devices": [ {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 8630, "uid": 5, "gid": 6},
                   {"path": "/dev/pipe", "type": "p"} ],
      "bindDevices": true,
      "symlinks": [["pts/ptmx", "/dev/ptmx"]],
      "maskedPaths": [], "readonlyPaths": ["/proc/bus"]
    }"#;

    #[test]
    fn parses_every_field() {
        let p = RootfsPlan::from_json(FULL).unwrap();
        assert!(p.readonly && p.no_pivot && p.bind_devices);
        assert_eq!(p.propagation, RootPropagation::Rprivate);
        assert_eq!(p.propagation.kind(), PropagationKind::Private);
        assert_eq!(p.mounts[0].flags, MS_STRICTATIME | MS_NOSUID);
        assert!(!p.mounts[0].is_bind());
        let b = &p.mounts[1];
        assert!(b.is_bind() && b.recursive);
        assert_eq!((b.flags, b.clear_flags), (MS_RDONLY, MS_NOSUID));
        assert_eq!(b.propagation, vec![MS_SHARED | MS_REC, MS_PRIVATE]);
        assert_eq!(b.attr_set, MOUNT_ATTR_RDONLY);
        let fuse = &p.devices[0];
        // 8630 = 0o20666: S_IFCHR | 0666; the type bits agree with "c".
        assert_eq!(fuse.permissions(), 0o666);
        assert_eq!((fuse.uid, fuse.gid), (Some(5), Some(6)));
        assert_eq!(p.devices[1].kind, DeviceKind::Fifo);
        assert_eq!(p.devices[1].file_mode, None);
    }

    #[test]
    fn absent_fields_take_defaults() {
        let p = RootfsPlan::from_json(
            r#"{"root": "/r", "propagation": null,
            "mounts": [{"destination": "/proc", "type": "proc"}]}"#,
        )
        .unwrap();
        assert_eq!(p.propagation, RootPropagation::Rslave);
        assert!(!p.readonly && !p.no_pivot && !p.bind_devices);
        assert!(p.devices.is_empty() && p.symlinks.is_empty());
        let m = &p.mounts[0];
        assert_eq!(
            (m.flags, m.clear_flags, m.attr_set, m.attr_clr),
            (0, 0, 0, 0)
        );
        assert!(m.source.is_empty() && m.data.is_empty() && m.propagation.is_empty());
        assert!(!m.bind && !m.recursive);
    }

    fn err_of(json: &str) -> MountError {
        RootfsPlan::from_json(json).expect_err("plan must be rejected")
    }

    fn with_mount(mount: &str) -> String {
        format!(r#"{{"root": "/r", "mounts": [{mount}]}}"#)
    }

    #[test]
    fn rejects_unknown_fields_and_values() {
        let e = err_of(r#"{"root": "/r", "mountz": []}"#);
        assert!(e.to_string().contains("unknown field `mountz`"), "{e}");
        let e = err_of(r#"{"root": "/r", "propagation": "sideways"}"#);
        assert!(e.to_string().contains("sideways"), "{e}");
        let e = err_of(r#"{"root": "/r", "devices": [{"path": "/dev/x", "type": "x"}]}"#);
        assert!(e.to_string().contains("unknown variant `x`"), "{e}");
        assert_eq!(e.errno_name(), "EINVAL");
        assert!(!e.is_kernel_error());
    }

    #[test]
    fn rejects_unknown_and_misplaced_flag_bits() {
        // MS_BIND belongs in "bind", not in "flags".
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "flags": 4096}"#,
        ));
        assert!(
            matches!(&e, MountError::InvalidPlan { field, .. } if field == "rootfs.mounts[0].flags"),
            "{e}"
        );
        assert!(e.to_string().contains("0x1000"), "{e}");
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "clearFlags": 2147483648}"#,
        ));
        assert!(e.to_string().contains("rootfs.mounts[0].clearFlags"), "{e}");
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "flags": 1, "clearFlags": 1}"#,
        ));
        assert!(e.to_string().contains("both set and cleared"), "{e}");
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "flags": 16778240}"#,
        ));
        assert!(e.to_string().contains("at most one"), "{e}");
        // MS_SHARED|MS_SLAVE is not one propagation type.
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "propagation": [262144, 1572864]}"#,
        ));
        assert!(
            e.to_string().contains("rootfs.mounts[0].propagation[1]"),
            "{e}"
        );
        // MOUNT_ATTR_IDMAP needs a userns fd the plan cannot carry.
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "attrSet": 1048576}"#,
        ));
        assert!(e.to_string().contains("rootfs.mounts[0].attrSet"), "{e}");
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "attrSet": 48}"#,
        ));
        assert!(e.to_string().contains("atime"), "{e}");
    }

    #[test]
    fn rejects_bad_paths() {
        let e = err_of(r#"{"root": "rootfs"}"#);
        assert!(e.to_string().contains("rootfs.root"), "{e}");
        let e = err_of(&with_mount(r#"{"destination": "proc", "type": "proc"}"#));
        assert!(
            e.to_string().contains("rootfs.mounts[0].destination"),
            "{e}"
        );
        let e = err_of(&with_mount(r#"{"destination": "/./", "type": "tmpfs"}"#));
        assert!(e.to_string().contains("over the container's \"/\""), "{e}");
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "bind", "source": "rel/dir"}"#,
        ));
        assert!(e.to_string().contains("rootfs.mounts[0].source"), "{e}");
        let e = err_of(&with_mount(r#"{"destination": "/a", "type": ""}"#));
        assert!(e.to_string().contains("rootfs.mounts[0].type"), "{e}");
        let e = err_of(&with_mount(
            r#"{"destination": "/a", "type": "tmpfs", "recursive": true}"#,
        ));
        assert!(e.to_string().contains("recursive"), "{e}");
        let e = err_of(r#"{"root": "/r", "symlinks": [["x", "/dev/.."]]}"#);
        assert!(e.to_string().contains("rootfs.symlinks[0]"), "{e}");
        let e = err_of(r#"{"root": "/r", "maskedPaths": ["proc/kcore"]}"#);
        assert!(e.to_string().contains("rootfs.maskedPaths[0]"), "{e}");
        let e = err_of(
            r#"{"root": "/r", "devices": [{"path": "/dev/x", "type": "b", "fileMode": 8630}]}"#,
        );
        assert!(e.to_string().contains("rootfs.devices[0].fileMode"), "{e}");
        let e =
            err_of(r#"{"root": "/r", "devices": [{"path": "/dev/x", "type": "p", "major": 1}]}"#);
        assert!(e.to_string().contains("rootfs.devices[0].major"), "{e}");
    }

    #[test]
    fn type_bind_without_the_flag_is_a_bind() {
        let p = RootfsPlan::from_json(&with_mount(
            r#"{"destination": "/a", "type": "bind", "source": "/x"}"#,
        ))
        .unwrap();
        assert!(p.mounts[0].is_bind());
    }
}
