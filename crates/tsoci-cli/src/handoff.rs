//! Handing a command line to the Node CLI: `execv(node, [node, bin.js,
//! args…])` with the environment, fds, signal mask and dispositions of this
//! process untouched (this is why the program has no Rust runtime `main`,
//! which would ignore SIGPIPE, and why `std::process::Command` is not used:
//! it resets the signal mask and SIGPIPE in the new program).
//!
//! When the build left a V8 startup snapshot of the CLI for this very node
//! binary (`dist/snapshot/<key>.blob`, see `scripts/build-snapshot.mjs`),
//! node starts from it (`node --snapshot-blob BLOB -- args…`): the modules
//! are then already loaded and their hot code compiled, which is most of a
//! `create`'s JavaScript start-up. The key names the node binary (path,
//! device, inode, size, mtime) and the CLI's dist directory, so a blob is
//! only ever given to the node that made it (node refuses a foreign blob
//! with an error instead of falling back). There are two blobs, for the
//! container commands and for the image commands (see `snapshot_kind`).

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The node that ran the build, as a last resort when PATH has none.
const BUILD_NODE: Option<&str> = option_env!("TSOCI_BUILD_NODE");

/// The Node CLI entry shipped beside this binary: `native/tsoci` → `dist/bin.js`.
pub fn node_cli(exe: &Path) -> PathBuf {
    match std::env::var_os("TSOCI_NODE_CLI") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("/"))
            .join("dist")
            .join("bin.js"),
    }
}

/// FNV-1a, 64 bits: the same function `scripts/build-snapshot.mjs` names
/// blobs with. Not a security boundary (whoever can write `dist/` can
/// replace the CLI itself); it only tells builds apart.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The name of the snapshot blob built by `node` for the CLI in `dist`, or
/// None when either cannot be resolved.
pub fn snapshot_key(node: &Path, dist: &Path) -> Option<String> {
    let node = std::fs::canonicalize(node).ok()?;
    let dist = std::fs::canonicalize(dist).ok()?;
    let m = std::fs::metadata(&node).ok()?;
    let mut text = b"tsoci-snapshot 1\n".to_vec();
    text.extend_from_slice(node.as_os_str().as_bytes());
    text.extend_from_slice(
        format!(
            "\n{}\n{}\n{}\n{}.{:09}\n",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec()
        )
        .as_bytes(),
    );
    text.extend_from_slice(dist.as_os_str().as_bytes());
    text.push(b'\n');
    Some(format!("{:016x}", fnv1a64(&text)))
}

/// Which of the build's two blobs suits a command line. Both hold every
/// module; they differ in which commands' code the build ran, hence had
/// compiled: the image blob also ran an image import and bundle, which makes
/// it half a megabyte larger and every start from it about 2 ms slower, so
/// the container commands start from the smaller one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotKind {
    Lifecycle,
    Image,
}

/// `image …`, `bundle …` and `run --image …` use the image blob. A wrong
/// guess costs only speed: each blob runs every command.
pub fn snapshot_kind(args: &[OsString]) -> SnapshotKind {
    let mut words = args.iter().map(|a| a.as_bytes());
    while let Some(word) = words.next() {
        match word {
            b"--root" | b"--log" | b"--log-format" | b"--rootless" => {
                words.next();
            }
            _ if word.starts_with(b"-") => {}
            b"image" | b"bundle" => return SnapshotKind::Image,
            b"run" => {
                let image = words.any(|w| w == b"--image" || w.starts_with(b"--image="));
                return if image {
                    SnapshotKind::Image
                } else {
                    SnapshotKind::Lifecycle
                };
            }
            _ => return SnapshotKind::Lifecycle,
        }
    }
    SnapshotKind::Lifecycle
}

/// The snapshot blob to start `node` from, when the build made one for it
/// (the lifecycle blob when the image one is missing).
fn snapshot_blob(node: &Path, script: &Path, kind: SnapshotKind) -> Option<PathBuf> {
    if matches!(
        std::env::var("TSOCI_SNAPSHOT").as_deref(),
        Ok("0" | "false" | "off" | "no")
    ) {
        return None;
    }
    let dist = script.parent()?;
    let key = snapshot_key(node, dist)?;
    let dir = dist.join("snapshot");
    let image = dir.join(format!("{key}.image.blob"));
    if kind == SnapshotKind::Image && image.is_file() {
        return Some(image);
    }
    let blob = dir.join(format!("{key}.blob"));
    blob.is_file().then_some(blob)
}

fn is_executable(p: &Path) -> bool {
    rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok() && p.is_file()
}

/// `TSOCI_NODE`, else `node` on PATH, else the build's node.
pub fn find_node(path_var: Option<&OsStr>) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TSOCI_NODE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(path) = path_var {
        for dir in std::env::split_paths(path) {
            let candidate = dir.join("node");
            if dir.is_absolute() && is_executable(&candidate) {
                return Some(candidate);
            }
        }
    }
    BUILD_NODE.map(PathBuf::from).filter(|p| is_executable(p))
}

fn cstring(s: &OsStr) -> Result<CString, String> {
    CString::new(s.as_bytes()).map_err(|_| format!("argument {s:?} contains a NUL byte"))
}

/// Replaces this process with the Node CLI; returns only on failure, with
/// the message to print. `use_snapshot` false always loads `dist/bin.js`
/// (the `TSOCI_FAST_PATH=0` path, so the e2e suite covers both start-ups).
pub fn exec_node(args: &[OsString], use_snapshot: bool) -> String {
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let script = node_cli(&exe);
    if !script.is_file() {
        return format!(
            "the Node CLI {} is missing (build @ts-oci/cli, or set TSOCI_NODE_CLI to its bin.js)",
            script.display()
        );
    }
    let Some(node) = find_node(std::env::var_os("PATH").as_deref()) else {
        return "this command needs Node.js, and no `node` is on PATH (set TSOCI_NODE to its path)"
            .to_owned();
    };
    let mut argv = vec![node.clone().into_os_string()];
    let kind = snapshot_kind(args.get(1..).unwrap_or_default());
    match snapshot_blob(&node, &script, kind).filter(|_| use_snapshot) {
        // `--` ends node's options: without it `tsoci --version` would be
        // node's own --version.
        Some(blob) => argv.extend(["--snapshot-blob".into(), blob.into_os_string(), "--".into()]),
        None => argv.push(script.into_os_string()),
    }
    argv.extend(args.iter().skip(1).cloned());
    let argv: Result<Vec<CString>, String> = argv.iter().map(|a| cstring(a)).collect();
    let (argv, node_c) = match (argv, cstring(node.as_os_str())) {
        (Ok(a), Ok(n)) => (a, n),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let err = execv(&node_c, &argv);
    format!("cannot run {}: {err}", node.display())
}

fn execv(file: &CString, argv: &[CString]) -> std::io::Error {
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: `file` and every element of `ptrs` point into CStrings that
    // outlive the call, and `ptrs` ends with the NULL execv requires. On
    // success execv does not return; on failure it only sets errno.
    unsafe { libc::execv(file.as_ptr(), ptrs.as_ptr()) };
    std::io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_script_sits_beside_the_native_dir() {
        if std::env::var_os("TSOCI_NODE_CLI").is_none() {
            assert_eq!(
                node_cli(Path::new("/x/cli/native/tsoci")),
                PathBuf::from("/x/cli/dist/bin.js")
            );
        }
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_snapshot_key_changes_with_the_node_binary() {
        let dir = std::env::temp_dir().join(format!("tsoci-cli-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let node = dir.join("node");
        std::fs::write(&node, "one").expect("write");
        let first = snapshot_key(&node, &dir).expect("key");
        assert_eq!(first.len(), 16);
        assert_eq!(snapshot_key(&node, &dir), Some(first.clone()));
        std::fs::write(&node, "three").expect("rewrite");
        assert_ne!(snapshot_key(&node, &dir), Some(first));
        assert_eq!(snapshot_key(&dir.join("missing"), &dir), None);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn image_commands_start_from_the_image_blob() {
        let kind = |line: &str| {
            let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
            snapshot_kind(&args)
        };
        assert_eq!(kind("bundle --overlay busybox /tmp/b"), SnapshotKind::Image);
        assert_eq!(
            kind("--root /image image pull busybox"),
            SnapshotKind::Image
        );
        assert_eq!(
            kind("--debug --log-format json bundle x y"),
            SnapshotKind::Image
        );
        assert_eq!(kind("run --image busybox c1"), SnapshotKind::Image);
        assert_eq!(kind("run -d --image=busybox c1"), SnapshotKind::Image);
        assert_eq!(
            kind("--root image create -b bundle c1"),
            SnapshotKind::Lifecycle
        );
        assert_eq!(kind("run -b image c1"), SnapshotKind::Lifecycle);
        assert_eq!(kind("create --bundle b image"), SnapshotKind::Lifecycle);
        assert_eq!(kind(""), SnapshotKind::Lifecycle);
    }

    #[test]
    fn node_is_searched_on_path() {
        if std::env::var_os("TSOCI_NODE").is_some() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("tsoci-cli-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let node = dir.join("node");
        std::fs::write(&node, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let path =
            std::env::join_paths(["relative/dir", "/nonexistent", dir.to_str().expect("utf-8")])
                .expect("join");
        assert_eq!(find_node(Some(&path)), Some(node.clone()));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
