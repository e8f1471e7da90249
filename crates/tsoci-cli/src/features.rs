//! `tsoci features`, answered without Node.
//!
//! The document is made in TypeScript from the tables the code uses
//! (@ts-oci/runtime's `features.ts`); nothing of it is typed again here. The
//! cli's build writes its host-independent part to `dist/features.template`
//! (`packages/cli/scripts/build-features.mjs`), and this module applies the
//! host facts to it, with the same rules and the same code as the Node side:
//!
//! - capabilities: every `[name, number]` of the template's table up to
//!   `/proc/sys/kernel/cap_last_cap`, read by [`last_cap_from_text`] (the rule
//!   of `lastCapFromText` in features.ts);
//! - `supportedFlags`: [`tsoci_seccomp::supported_flags`], the probe the napi
//!   addon's `seccompTables` calls, once the template's `knownFlags` are
//!   checked to be this crate's [`tsoci_seccomp::KNOWN_FLAGS`];
//! - `archs` and the libseccomp version: facts of the libseccomp library,
//!   which this binary does not link. The template carries those the build
//!   saw with the identity of the file they came from (path, device, inode,
//!   size, mtime); they are used only when `dlopen` of the same soname loads
//!   that very file here.
//!
//! Anything else — no template, another format or version, a body whose
//! hash does not match, a shape this code does not know, another libseccomp —
//! hands the command to Node, which builds the document itself. The text is
//! printed as the Node CLI prints it: `JSON.stringify(doc, null, 4)` and a
//! newline.

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

/// The template's name in the CLI's `dist` directory.
pub const TEMPLATE_FILE: &str = "features.template";
/// The first words of the template's header line (build-features.mjs `FORMAT`).
const FORMAT: &str = "tsoci-features-template 1";
const CAP_LAST_CAP: &str = "/proc/sys/kernel/cap_last_cap";
const LIBSECCOMP_VERSION: &str = "io.github.seccomp.libseccomp.version";
/// A symbol every libseccomp since 2.3 exports: where dladdr finds the file.
const LIBSECCOMP_SYMBOL: &CStr = c"seccomp_version";

/// Where the host facts go; each is `null` in the template.
const CAPABILITIES: &str = "/linux/capabilities";
const ARCHS: &str = "/linux/seccomp/archs";
const SUPPORTED_FLAGS: &str = "/linux/seccomp/supportedFlags";
const KNOWN_FLAGS: &str = "/linux/seccomp/knownFlags";
const ANNOTATIONS: &str = "/annotations";

/// A file as `stat` sees it: which file, and whether it was rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileId {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileId {
    /// The identity of the file `path` resolves to.
    pub fn of(path: &Path) -> Option<FileId> {
        let path = std::fs::canonicalize(path).ok()?;
        let m = std::fs::metadata(&path).ok()?;
        Some(FileId {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            path,
        })
    }
}

/// The libseccomp facts the build saw.
#[derive(Debug, Clone)]
pub struct Library {
    pub soname: String,
    pub file: FileId,
    pub version: String,
    pub archs: Vec<String>,
}

/// A checked `dist/features.template`.
#[derive(Debug, Clone)]
pub struct Template {
    /// The document, with each host fact `null` in its place.
    document: Value,
    /// Every capability of the TypeScript table, with its number.
    capabilities: Vec<(String, u64)>,
    pub libseccomp: Library,
}

/// What this host says, gathered by [`host_facts`].
#[derive(Debug, Clone)]
pub struct HostFacts {
    /// The text of cap_last_cap; `None`: unreadable.
    pub cap_last_cap: Option<String>,
    pub supported_flags: Vec<&'static str>,
    /// The file `dlopen(soname)` loads here; `None`: none.
    pub libseccomp: Option<FileId>,
}

/// FNV-1a 64 as lowercase hex, as `fnv1a64` of build-snapshot.mjs prints it.
fn hash_hex(bytes: &[u8]) -> String {
    format!("{:016x}", crate::handoff::fnv1a64(bytes))
}

/// The last capability number this kernel knows, from the text of
/// cap_last_cap: trailing newlines removed, the text must be decimal digits;
/// anything else (or no text) is `table_max`, every capability. The same
/// rule as `lastCapFromText` in packages/runtime/src/features.ts.
pub fn last_cap_from_text(text: Option<&str>, table_max: u64) -> u64 {
    let digits = text.map(|t| t.trim_end_matches('\n'));
    match digits {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => {
            // All digits but too large for u64: larger than any table number too.
            d.parse().unwrap_or(u64::MAX)
        }
        _ => table_max,
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn decimal<T: std::str::FromStr>(v: &Value) -> Option<T> {
    let s = v.as_str()?;
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_soname(s: &str) -> bool {
    s.strip_prefix("libseccomp.so.")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_library(v: &Value) -> Option<Library> {
    let soname = v.get("soname")?.as_str()?;
    let path = PathBuf::from(v.get("path")?.as_str()?);
    if !is_soname(soname) || !path.is_absolute() {
        return None;
    }
    Some(Library {
        soname: soname.to_owned(),
        file: FileId {
            path,
            dev: decimal(v.get("dev")?)?,
            ino: decimal(v.get("ino")?)?,
            size: decimal(v.get("size")?)?,
            mtime_ns: decimal(v.get("mtimeNs")?)?,
        },
        version: v.get("version")?.as_str()?.to_owned(),
        archs: strings(v.get("archs")?)?,
    })
}

/// Checks and parses the template's bytes. `None` for anything but a
/// well-formed template of this format and of CLI version `version`.
pub fn parse_template(bytes: &[u8], version: &str) -> Option<Template> {
    let nl = bytes.iter().position(|b| *b == b'\n')?;
    let (header, body) = (std::str::from_utf8(&bytes[..nl]).ok()?, &bytes[nl + 1..]);
    let (v, hash) = header
        .strip_prefix(FORMAT)?
        .strip_prefix(' ')?
        .split_once(' ')?;
    if v != version || hash != hash_hex(body) {
        return None;
    }
    let mut body: Value = serde_json::from_slice(body).ok()?;
    let document = body.get_mut("document")?.take();
    let annotations = document.pointer(ANNOTATIONS)?.as_object()?;
    let placeholders = [CAPABILITIES, ARCHS, SUPPORTED_FLAGS].map(|p| document.pointer(p));
    if !placeholders.iter().all(|p| matches!(p, Some(Value::Null)))
        || !matches!(annotations.get(LIBSECCOMP_VERSION), Some(Value::Null))
    {
        return None;
    }
    strings(document.pointer(KNOWN_FLAGS)?)?;
    let capabilities = body
        .get("capabilities")?
        .as_array()?
        .iter()
        .map(|pair| match pair.as_array()?.as_slice() {
            [name, n] => Some((name.as_str()?.to_owned(), n.as_u64()?)),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    if capabilities.is_empty() {
        return None;
    }
    let libseccomp = parse_library(body.get("libseccomp")?)?;
    Some(Template {
        document,
        capabilities,
        libseccomp,
    })
}

/// The features document as the Node CLI prints it, or `None` when this
/// host's facts cannot be applied here (another libseccomp, or a template
/// whose seccomp flags are not this binary's).
pub fn render(t: &Template, facts: &HostFacts) -> Option<String> {
    if facts.libseccomp.as_ref() != Some(&t.libseccomp.file) {
        return None;
    }
    let mut doc = t.document.clone();
    let known: Vec<&str> = tsoci_seccomp::KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
    if strings(doc.pointer(KNOWN_FLAGS)?)? != known {
        return None;
    }
    let table_max = t.capabilities.iter().map(|(_, n)| *n).max()?;
    let last = last_cap_from_text(facts.cap_last_cap.as_deref(), table_max);
    let caps = t
        .capabilities
        .iter()
        .filter(|(_, n)| *n <= last)
        .map(|(name, _)| Value::from(name.as_str()))
        .collect();
    *doc.pointer_mut(CAPABILITIES)? = Value::Array(caps);
    *doc.pointer_mut(ARCHS)? = Value::from(t.libseccomp.archs.clone());
    *doc.pointer_mut(SUPPORTED_FLAGS)? = Value::from(facts.supported_flags.clone());
    *doc.pointer_mut(ANNOTATIONS)?
        .as_object_mut()?
        .get_mut(LIBSECCOMP_VERSION)? = Value::from(t.libseccomp.version.as_str());
    to_text(&doc)
}

/// `JSON.stringify(v, null, 4) + "\n"`: four spaces, `": "`, `[]` and `{}`
/// when empty, keys in their order (serde_json's `preserve_order`).
fn to_text(v: &Value) -> Option<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    v.serialize(&mut ser).ok()?;
    out.push(b'\n');
    String::from_utf8(out).ok()
}

/// This host's facts; `soname` is the template's (checked by [`parse_template`]).
pub fn host_facts(soname: &str) -> HostFacts {
    HostFacts {
        cap_last_cap: std::fs::read_to_string(CAP_LAST_CAP).ok(),
        supported_flags: tsoci_seccomp::supported_flags().to_vec(),
        libseccomp: CString::new(soname)
            .ok()
            .and_then(|name| loaded_file(&name, LIBSECCOMP_SYMBOL))
            .and_then(|p| FileId::of(&p)),
    }
}

/// The file the dynamic linker loads for `soname` in this process — the
/// one the runtime's addon gets when Node loads it with this environment.
/// The library stays loaded (never closed); nothing in it is called.
fn loaded_file(soname: &CStr, symbol: &CStr) -> Option<PathBuf> {
    // SAFETY: `soname` is NUL-terminated. dlopen maps the library and runs
    // its initialisers (libseccomp's only set up its own state), and returns
    // NULL on failure.
    let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL) };
    if handle.is_null() {
        return None;
    }
    // SAFETY: `handle` is a live dlopen handle (never closed) and `symbol`
    // is NUL-terminated; the address returned is only given to dladdr.
    let addr = unsafe { libc::dlsym(handle, symbol.as_ptr()) };
    if addr.is_null() {
        return None;
    }
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: `info` is writable memory for one Dl_info, which dladdr fills
    // when it returns non-zero.
    if unsafe { libc::dladdr(addr.cast_const(), info.as_mut_ptr()) } == 0 {
        return None;
    }
    // SAFETY: dladdr returned non-zero, so it initialised `info`.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: `dli_fname` is the dynamic linker's NUL-terminated name of the
    // object, valid while the object stays loaded (it is never closed).
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    Some(PathBuf::from(OsStr::from_bytes(name.to_bytes())))
}

/// The document for the template in `dist`, or `None`: hand off to Node.
pub fn answer(dist: &Path) -> Option<String> {
    let bytes = std::fs::read(dist.join(TEMPLATE_FILE)).ok()?;
    let t = parse_template(&bytes, env!("CARGO_PKG_VERSION"))?;
    render(&t, &host_facts(&t.libseccomp.soname))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VERSION: &str = "0.1.0";

    fn body(lib: &FileId) -> Value {
        json!({
            "document": {
                "ociVersionMin": "1.0.0",
                "hooks": ["prestart"],
                "linux": {
                    "namespaces": ["mount"],
                    "capabilities": null,
                    "seccomp": {
                        "enabled": true,
                        "archs": null,
                        "knownFlags": tsoci_seccomp::KNOWN_FLAGS.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                        "supportedFlags": null
                    },
                    "mountExtensions": { "idmap": { "enabled": false } }
                },
                "annotations": { "io.github.seccomp.libseccomp.version": null },
                "potentiallyUnsafeConfigAnnotations": []
            },
            "capabilities": [["CAP_CHOWN", 0], ["CAP_KILL", 5], ["CAP_BPF", 39], ["CAP_CHECKPOINT_RESTORE", 40]],
            "libseccomp": {
                "soname": "libseccomp.so.2",
                "path": lib.path.to_str().expect("utf-8"),
                "dev": lib.dev.to_string(),
                "ino": lib.ino.to_string(),
                "size": lib.size.to_string(),
                "mtimeNs": lib.mtime_ns.to_string(),
                "version": "2.5.4",
                "archs": ["SCMP_ARCH_X86_64"]
            }
        })
    }

    fn file(body: &Value) -> Vec<u8> {
        let text = format!("{}\n", serde_json::to_string(body).expect("json"));
        format!("{FORMAT} {VERSION} {}\n{text}", hash_hex(text.as_bytes())).into_bytes()
    }

    fn lib() -> FileId {
        FileId {
            path: PathBuf::from("/usr/lib/libseccomp.so.2.5.4"),
            dev: 65024,
            ino: 326757,
            size: 129312,
            mtime_ns: 1_716_662_212_000_000_000,
        }
    }

    fn facts(cap_last_cap: Option<&str>) -> HostFacts {
        HostFacts {
            cap_last_cap: cap_last_cap.map(str::to_owned),
            supported_flags: vec!["SECCOMP_FILTER_FLAG_TSYNC"],
            libseccomp: Some(lib()),
        }
    }

    #[test]
    fn a_template_is_parsed_and_printed_as_json_stringify_indents() {
        let t = parse_template(&file(&body(&lib())), VERSION).expect("parsed");
        assert_eq!(t.libseccomp.file, lib());
        assert_eq!(t.libseccomp.soname, "libseccomp.so.2");
        let text = render(&t, &facts(Some("39\n"))).expect("rendered");
        let flags = tsoci_seccomp::KNOWN_FLAGS
            .iter()
            .map(|(n, _)| format!("                \"{n}\""))
            .collect::<Vec<_>>()
            .join(",\n");
        assert_eq!(
            text,
            format!(
                r#"{{
    "ociVersionMin": "1.0.0",
    "hooks": [
        "prestart"
    ],
    "linux": {{
        "namespaces": [
            "mount"
        ],
        "capabilities": [
            "CAP_CHOWN",
            "CAP_KILL",
            "CAP_BPF"
        ],
        "seccomp": {{
            "enabled": true,
            "archs": [
                "SCMP_ARCH_X86_64"
            ],
            "knownFlags": [
{flags}
            ],
            "supportedFlags": [
                "SECCOMP_FILTER_FLAG_TSYNC"
            ]
        }},
        "mountExtensions": {{
            "idmap": {{
                "enabled": false
            }}
        }}
    }},
    "annotations": {{
        "io.github.seccomp.libseccomp.version": "2.5.4"
    }},
    "potentiallyUnsafeConfigAnnotations": []
}}
"#
            )
        );
    }

    #[test]
    fn cap_last_cap_follows_the_typescript_rule() {
        // The cases of features.test.ts (lastCapFromText).
        assert_eq!(last_cap_from_text(Some("40\n"), 40), 40);
        assert_eq!(last_cap_from_text(Some("37"), 40), 37);
        assert_eq!(last_cap_from_text(Some("0\n\n"), 40), 0);
        for bad in [
            None,
            Some(""),
            Some("\n"),
            Some(" 38"),
            Some("38 "),
            Some("3a"),
            Some("-1"),
            Some("1.5"),
        ] {
            assert_eq!(last_cap_from_text(bad, 40), 40, "{bad:?}");
        }
        assert_eq!(
            last_cap_from_text(Some("99999999999999999999999"), 40),
            u64::MAX
        );
        let t = parse_template(&file(&body(&lib())), VERSION).expect("parsed");
        let all = render(&t, &facts(None)).expect("rendered");
        assert!(all.contains("\"CAP_CHECKPOINT_RESTORE\""));
        let few = render(&t, &facts(Some("5\n"))).expect("rendered");
        assert!(few.contains("\"CAP_KILL\"\n        ]"), "{few}");
    }

    #[test]
    fn anything_but_a_sound_template_of_this_version_is_refused() {
        let good = file(&body(&lib()));
        assert!(parse_template(&good, VERSION).is_some());
        assert!(parse_template(&good, "0.2.0").is_none(), "another version");
        assert!(parse_template(b"", VERSION).is_none());
        assert!(parse_template(b"garbage", VERSION).is_none());
        assert!(
            parse_template(&good[..good.len() - 2], VERSION).is_none(),
            "cut short"
        );
        let other_format = String::from_utf8(good.clone()).expect("utf-8").replacen(
            "template 1 ",
            "template 2 ",
            1,
        );
        assert!(parse_template(other_format.as_bytes(), VERSION).is_none());
        // One byte of the body changed, hash kept: refused.
        let text = String::from_utf8(good.clone()).expect("utf-8");
        let edited = text.replacen("CAP_KILL", "CAP_KILK", 1);
        assert!(parse_template(edited.as_bytes(), VERSION).is_none());

        // Well hashed, but not the shape this code fills in.
        let edits: Vec<fn(&mut Value)> = vec![
            |b| b["document"]["linux"]["capabilities"] = json!(["CAP_CHOWN"]),
            |b| b["document"]["linux"]["seccomp"]["archs"] = json!([]),
            |b| b["document"]["linux"]["seccomp"]["supportedFlags"] = json!("x"),
            |b| b["document"]["annotations"] = json!({}),
            |b| b["document"]["linux"]["seccomp"]["knownFlags"] = json!(7),
            |b| b["document"]["linux"] = json!({}),
            |b| b["document"] = json!([]),
            |b| b["capabilities"] = json!([]),
            |b| b["capabilities"] = json!([["CAP_CHOWN", -1]]),
            |b| b["capabilities"] = json!([["CAP_CHOWN"]]),
            |b| b["libseccomp"]["soname"] = json!("/tmp/evil.so"),
            |b| b["libseccomp"]["soname"] = json!("libc.so.6"),
            |b| b["libseccomp"]["path"] = json!("relative.so"),
            |b| b["libseccomp"]["ino"] = json!(326757),
            |b| b["libseccomp"]["mtimeNs"] = json!("-1"),
            |b| b["libseccomp"]["archs"] = json!(null),
            |b| {
                b.as_object_mut().expect("object").remove("libseccomp");
            },
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut b = body(&lib());
            edit(&mut b);
            assert!(parse_template(&file(&b), VERSION).is_none(), "edit {i}");
        }
    }

    #[test]
    fn another_libseccomp_or_other_seccomp_flags_hand_off() {
        let t = parse_template(&file(&body(&lib())), VERSION).expect("parsed");
        let mut f = facts(Some("40\n"));
        assert!(render(&t, &f).is_some());
        f.libseccomp = None;
        assert!(render(&t, &f).is_none(), "no libseccomp here");
        for change in [
            |l: &mut FileId| l.ino += 1,
            |l: &mut FileId| l.size += 1,
            |l: &mut FileId| l.mtime_ns += 1,
            |l: &mut FileId| l.dev += 1,
            |l: &mut FileId| l.path = PathBuf::from("/lib/libseccomp.so.2.6.0"),
        ] {
            let mut other = lib();
            change(&mut other);
            f.libseccomp = Some(other);
            assert!(render(&t, &f).is_none());
        }
        let mut b = body(&lib());
        b["document"]["linux"]["seccomp"]["knownFlags"] = json!(["SECCOMP_FILTER_FLAG_TSYNC"]);
        let t = parse_template(&file(&b), VERSION).expect("parsed");
        assert!(
            render(&t, &facts(None)).is_none(),
            "the addon knows other flags than this binary"
        );
    }

    #[test]
    fn a_missing_or_malformed_template_file_hands_off() {
        let dir = std::env::temp_dir().join(format!("tsoci-cli-features-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        assert_eq!(answer(&dir), None, "no template");
        std::fs::write(dir.join(TEMPLATE_FILE), "{}").expect("write");
        assert_eq!(answer(&dir), None, "malformed");
        let unreadable = dir.join("unreadable");
        std::fs::create_dir_all(unreadable.join(TEMPLATE_FILE)).expect("mkdir");
        assert_eq!(answer(&unreadable), None, "a directory, not a file");

        // A template for the libseccomp this machine loads is answered.
        let loaded = CString::new("libseccomp.so.2")
            .ok()
            .and_then(|n| loaded_file(&n, LIBSECCOMP_SYMBOL))
            .and_then(|p| FileId::of(&p));
        if let Some(here) = loaded {
            assert!(here.path.is_absolute());
            std::fs::write(dir.join(TEMPLATE_FILE), file(&body(&here))).expect("write");
            let text = answer(&dir).expect("answered");
            assert!(text.contains("\"CAP_CHOWN\""), "{text}");
            assert!(text.ends_with("}\n"));
            let facts = host_facts("libseccomp.so.2");
            assert_eq!(facts.supported_flags, tsoci_seccomp::supported_flags());
            // And not for a template made with another copy of it.
            let mut other = here.clone();
            other.ino += 1;
            std::fs::write(dir.join(TEMPLATE_FILE), file(&body(&other))).expect("write");
            assert_eq!(answer(&dir), None);
        } else {
            eprintln!("no libseccomp.so.2 here: the dlopen case is not tested");
        }
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
