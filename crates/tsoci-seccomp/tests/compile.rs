//! Parsing and validation: every rejection names its JSON path.

use tsoci_seccomp::{
    compile_json, supported_arches, supported_flags, SeccompError, SeccompProfile, KNOWN_ARCHES, KNOWN_FLAGS,
    SUPPORTED_ACTIONS,
};

fn err(json: &str) -> SeccompError {
    match compile_json(json) {
        Ok(f) => panic!("expected an error for {json}, got a filter of {} instructions", f.instruction_count()),
        Err(e) => e,
    }
}

#[test]
fn unknown_action_names_the_path() {
    let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getcwd"],"action":"SCMP_ACT_ERRNO"},
        {"names":["getcwd"],"action":"SCMP_ACT_ERRNO"},
        {"names":["getcwd"],"action":"SCMP_ACT_ERRNO"},
        {"names":["getcwd"],"action":"SCMP_ACT_FOO"}]}"#);
    assert!(matches!(e, SeccompError::Invalid { .. }));
    assert_eq!(e.errno_name(), "EINVAL");
    assert!(e.to_string().starts_with(r#"linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO""#), "{e}");
}

#[test]
fn unknown_default_action() {
    let e = err(r#"{"defaultAction":"ALLOW"}"#);
    assert!(e.to_string().starts_with(r#"linux.seccomp.defaultAction: unknown action "ALLOW""#), "{e}");
}

#[test]
fn missing_default_action() {
    assert_eq!(err(r#"{"syscalls":[]}"#).to_string(), "linux.seccomp.defaultAction: is required");
    assert_eq!(err(r#"{"defaultAction":null}"#).to_string(), "linux.seccomp.defaultAction: is required");
}

#[test]
fn unknown_operator_names_the_path() {
    let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
        {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","args":[
            {"index":0,"value":1,"op":"SCMP_CMP_EQ"},
            {"index":1,"value":1,"op":"SCMP_CMP_BETWEEN"}]}]}"#);
    assert!(
        e.to_string().starts_with(r#"linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_BETWEEN""#),
        "{e}"
    );
}

#[test]
fn unknown_arch_names_the_path() {
    let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_VAX"]}"#);
    assert!(
        e.to_string().starts_with(r#"linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX""#),
        "{e}"
    );
}

#[test]
fn unknown_flag_names_the_path() {
    let e = err(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_NOPE"]}"#);
    assert!(e.to_string().starts_with(r#"linux.seccomp.flags[1]: unknown flag "SECCOMP_FILTER_FLAG_NOPE""#), "{e}");
}

#[test]
fn errno_ret_on_an_action_without_errno_is_an_error() {
    let e = err(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","errnoRet":5}]}"#,
    );
    assert_eq!(
        e.to_string(),
        "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_ALLOW"
    );
    let e = err(r#"{"defaultAction":"SCMP_ACT_KILL","defaultErrnoRet":1}"#);
    assert!(e.to_string().starts_with("linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO"), "{e}");
}

#[test]
fn errno_ret_must_fit_in_ret_data() {
    let e = err(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#);
    assert_eq!(e.to_string(), "linux.seccomp.defaultErrnoRet: 70000 does not fit in 16 bits");
}

#[test]
fn type_errors_name_the_path() {
    let cases = [
        (r#"[]"#, "linux.seccomp: expected an object, got an array"),
        (r#"{"defaultAction":1}"#, "linux.seccomp.defaultAction: expected a string, got a number"),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}"#,
            "linux.seccomp.syscalls: expected an array, got an object",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"read","action":"SCMP_ACT_LOG"}]}"#,
            "linux.seccomp.syscalls[0].names: expected an array, got a string",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read",7],"action":"SCMP_ACT_LOG"}]}"#,
            "linux.seccomp.syscalls[0].names[1]: expected a string, got a number",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"]}]}"#,
            "linux.seccomp.syscalls[0].action: is required",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_LOG"}]}"#,
            "linux.seccomp.syscalls[0].names: must contain at least one entry",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].value: expected an unsigned 64-bit integer, got -1",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index: 6 is out of range: syscalls have arguments 0 to 5",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","args":[{"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
            "linux.seccomp.syscalls[0].args[0].index: is required",
        ),
        (
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerMetadata":"x"}"#,
            "linux.seccomp.listenerMetadata: must not be set without listenerPath",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(err(json).to_string(), want, "for {json}");
    }
    assert!(err("{").to_string().starts_with("linux.seccomp: not valid JSON: "));
}

#[test]
fn notify_is_reported_as_unsupported() {
    let e = err(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(matches!(e, SeccompError::Unsupported { .. }));
    assert_eq!(e.errno_name(), "ENOTSUP");
    assert!(e.to_string().starts_with("linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported yet"), "{e}");
}

#[test]
fn flags_are_or_ed_and_wait_killable_recv_is_dropped() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#,
    )
    .unwrap();
    assert_eq!(f.flags, 1 | 2 | 4);
    assert_eq!(compile_json(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap().flags, 0);
}

#[test]
fn unknown_syscall_names_are_skipped_and_reported() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","no_such_syscall_xyz","socketcall","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    assert_eq!(f.skipped_syscalls, vec!["no_such_syscall_xyz".to_owned()]);
    assert!(f.instruction_count() > 4);
    assert_eq!(f.bpf.len(), f.instruction_count() * 8);
}

#[test]
fn rules_equal_to_the_default_action_are_skipped() {
    let base = compile_json(r#"{"defaultAction":"SCMP_ACT_ERRNO"}"#).unwrap();
    let same = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    assert_eq!(base.bpf, same.bpf);
    let differs = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":2}]}"#,
    )
    .unwrap();
    assert_ne!(base.bpf, differs.bpf);
}

#[test]
fn unknown_fields_are_ignored_and_nulls_mean_absent() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","x-vendor":{"a":1},"flags":null,"syscalls":[{"names":["read"],"action":"SCMP_ACT_LOG","comment":"hi","args":null}]}"#,
    );
    assert!(f.is_ok(), "{f:?}");
}

#[test]
fn every_supported_action_compiles_and_every_supported_arch_loads() {
    for action in SUPPORTED_ACTIONS {
        let json =
            format!(r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getpgid"],"action":"{action}"}}]}}"#);
        compile_json(&json).unwrap_or_else(|e| panic!("{action}: {e}"));
    }
    let supported = supported_arches();
    assert!(supported.contains(&"SCMP_ARCH_X86_64"), "{supported:?}");
    for arch in KNOWN_ARCHES {
        let json = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","architectures":["{arch}"],"syscalls":[{{"names":["getpgid"],"action":"SCMP_ACT_LOG"}}]}}"#
        );
        match compile_json(&json) {
            Ok(_) => assert!(supported.contains(&arch), "{arch} compiles but is not listed as supported"),
            Err(e) => {
                assert!(!supported.contains(&arch), "{arch} is listed as supported but fails: {e}");
                assert!(matches!(e, SeccompError::Unsupported { .. }), "{arch}: {e}");
                assert!(e.to_string().starts_with("linux.seccomp.architectures[0]: "), "{e}");
            }
        }
    }
}

#[test]
fn supported_flags_are_known_flags() {
    let supported = supported_flags();
    // Kernel 5.0+ has all three; this machine runs 6.x.
    for f in ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] {
        assert!(supported.contains(&f), "{f} missing from {supported:?}");
    }
    for f in supported {
        assert!(KNOWN_FLAGS.iter().any(|(n, _)| n == f));
    }
    assert!(!supported.contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
}

#[test]
fn profile_round_trips_through_serde() {
    let json = r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86"],"syscalls":[{"names":["clone"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#;
    let parsed = SeccompProfile::from_json(json).unwrap();
    let via_serde: SeccompProfile = serde_json::from_str(json).unwrap();
    assert_eq!(parsed, via_serde);
    assert_eq!(parsed.syscalls[0].args[0].value_two, Some(0));
    assert_eq!(parsed.default_errno_ret, Some(38));
}
