//! The command lines the fast path answers, parsed strictly.
//!
//! Only the exact forms the Node CLI documents are recognised. Anything else
//! — an unknown flag, a missing or extra argument, `--help`, combined short
//! flags, a value the Node CLI would reject — makes [`parse`] return `None`
//! and the whole command line goes to Node, which owns every usage error and
//! its wording.

use std::ffi::OsString;
use std::path::PathBuf;

/// The options that go before the subcommand, as in runc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Globals {
    pub root: PathBuf,
    /// `--log FILE`; `None` (or `/dev/stderr`) means stderr.
    pub log: Option<PathBuf>,
    pub json_log: bool,
    pub debug: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Version,
    /// `features`: printed from the build's template (features.rs).
    Features,
    State {
        id: String,
    },
    Start {
        id: String,
    },
    /// `signal` is the text given (positional first, then `--signal`), parsed later.
    Kill {
        id: String,
        signal: Option<String>,
        all: bool,
    },
    Delete {
        id: String,
        force: bool,
    },
    List {
        format: ListFormat,
        quiet: bool,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
}

const DEFAULT_ROOT: &str = tsoci_state::DEFAULT_ROOT;

/// A flag of a subcommand: its names, and whether it takes a value.
struct Flag {
    short: Option<&'static str>,
    long: &'static str,
    takes_value: bool,
}

const fn flag(short: Option<&'static str>, long: &'static str, takes_value: bool) -> Flag {
    Flag {
        short,
        long,
        takes_value,
    }
}

/// The flags and positionals one subcommand line holds.
#[derive(Default)]
struct Parsed {
    positionals: Vec<String>,
    values: Vec<(&'static str, Option<String>)>,
}

impl Parsed {
    fn has(&self, long: &str) -> bool {
        self.values.iter().any(|(l, _)| *l == long)
    }
    /// The last value given for `long` (commander keeps the last one).
    fn value(&self, long: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(l, _)| *l == long)
            .and_then(|(_, v)| v.as_deref())
    }
}

fn parse_flags(args: &[String], flags: &[Flag]) -> Option<Parsed> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if !a.starts_with('-') || a == "-" {
            out.positionals.push(a.clone());
            continue;
        }
        // `--`, `--help`, combined short flags and unknown flags: Node's business.
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let f = flags
            .iter()
            .find(|f| f.short == Some(name) || format!("--{}", f.long) == name)?;
        let value = if f.takes_value {
            match inline {
                Some(v) => Some(v),
                None => {
                    let v = args.get(i)?.clone();
                    i += 1;
                    Some(v)
                }
            }
        } else {
            if inline.is_some() {
                return None;
            }
            None
        };
        out.values.push((f.long, value));
    }
    Some(out)
}

/// Exactly one positional: the container id.
fn one_id(p: &Parsed) -> Option<String> {
    match p.positionals.as_slice() {
        [id] => Some(id.clone()),
        _ => None,
    }
}

/// Parses a whole command line (without the program name). `None`: not a
/// line the fast path answers.
pub fn parse(argv: &[OsString], cwd: &std::path::Path) -> Option<(Globals, Command)> {
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.to_str().map(str::to_owned))
        .collect::<Option<_>>()?;
    let mut g = Globals {
        root: PathBuf::from(DEFAULT_ROOT),
        log: None,
        json_log: false,
        debug: false,
    };
    let mut i = 0;
    let command = loop {
        let a = args.get(i)?;
        i += 1;
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_owned())),
            _ => (a.as_str(), None),
        };
        let mut value = || -> Option<String> {
            if let Some(v) = inline.clone() {
                return Some(v);
            }
            let v = args.get(i)?.clone();
            i += 1;
            Some(v)
        };
        match name {
            "--root" => g.root = cwd.join(value()?),
            "--log" => {
                let v = value()?;
                g.log = if v == "/dev/stderr" {
                    None
                } else {
                    Some(cwd.join(v))
                };
            }
            "--log-format" => match value()?.as_str() {
                "text" => g.json_log = false,
                "json" => g.json_log = true,
                _ => return None,
            },
            "--rootless" => match value()?.as_str() {
                "true" | "false" | "auto" => {}
                _ => return None,
            },
            "--debug" if inline.is_none() => g.debug = true,
            "-v" | "--version" if inline.is_none() => return Some((g, Command::Version)),
            // --systemd-cgroup is refused by Node with its own message.
            _ if a.starts_with('-') => return None,
            _ => break a.clone(),
        }
    };
    let rest = &args[i..];
    let cmd = match command.as_str() {
        "features" => {
            if !parse_flags(rest, &[])?.positionals.is_empty() {
                return None;
            }
            Command::Features
        }
        "state" => Command::State {
            id: one_id(&parse_flags(rest, &[])?)?,
        },
        "start" => Command::Start {
            id: one_id(&parse_flags(rest, &[])?)?,
        },
        "pause" => Command::Pause {
            id: one_id(&parse_flags(rest, &[])?)?,
        },
        "resume" => Command::Resume {
            id: one_id(&parse_flags(rest, &[])?)?,
        },
        "delete" => {
            let p = parse_flags(rest, &[flag(Some("-f"), "force", false)])?;
            Command::Delete {
                id: one_id(&p)?,
                force: p.has("force"),
            }
        }
        "kill" => {
            let p = parse_flags(
                rest,
                &[
                    flag(Some("-a"), "all", false),
                    flag(Some("-s"), "signal", true),
                ],
            )?;
            let (id, positional) = match p.positionals.as_slice() {
                [id] => (id.clone(), None),
                [id, sig] => (id.clone(), Some(sig.clone())),
                _ => return None,
            };
            let signal = positional.or_else(|| p.value("signal").map(str::to_owned));
            Command::Kill {
                id,
                signal,
                all: p.has("all"),
            }
        }
        "list" => {
            let p = parse_flags(
                rest,
                &[
                    flag(Some("-f"), "format", true),
                    flag(Some("-q"), "quiet", false),
                ],
            )?;
            if !p.positionals.is_empty() {
                return None;
            }
            let format = match p.value("format").unwrap_or("table") {
                "table" => ListFormat::Table,
                "json" => ListFormat::Json,
                _ => return None,
            };
            Command::List {
                format,
                quiet: p.has("quiet"),
            }
        }
        _ => return None,
    };
    Some((g, cmd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Option<(Globals, Command)> {
        let argv: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        parse(&argv, std::path::Path::new("/cwd"))
    }

    fn cmd(line: &str) -> Option<Command> {
        p(line).map(|(_, c)| c)
    }

    #[test]
    fn globals_before_the_command() {
        let (g, c) = p("--root /r --log l.json --log-format json --debug state a").expect("parsed");
        assert_eq!(g.root, PathBuf::from("/r"));
        assert_eq!(g.log, Some(PathBuf::from("/cwd/l.json")));
        assert!(g.json_log && g.debug);
        assert_eq!(c, Command::State { id: "a".into() });
        let (g, _) = p("--root=rel --log=/dev/stderr --rootless=auto state a").expect("parsed");
        assert_eq!(g.root, PathBuf::from("/cwd/rel"));
        assert_eq!(g.log, None);
        assert_eq!(
            p("state a").expect("parsed").0.root,
            PathBuf::from("/run/tsoci")
        );
    }

    #[test]
    fn the_hot_commands() {
        assert_eq!(cmd("start x"), Some(Command::Start { id: "x".into() }));
        assert_eq!(
            cmd("delete -f x"),
            Some(Command::Delete {
                id: "x".into(),
                force: true
            })
        );
        assert_eq!(
            cmd("delete x --force"),
            Some(Command::Delete {
                id: "x".into(),
                force: true
            })
        );
        assert_eq!(
            cmd("kill x"),
            Some(Command::Kill {
                id: "x".into(),
                signal: None,
                all: false
            })
        );
        assert_eq!(
            cmd("kill --all x KILL"),
            Some(Command::Kill {
                id: "x".into(),
                signal: Some("KILL".into()),
                all: true
            })
        );
        assert_eq!(
            cmd("kill -s 9 x"),
            Some(Command::Kill {
                id: "x".into(),
                signal: Some("9".into()),
                all: false
            })
        );
        assert_eq!(
            cmd("kill --signal=HUP x"),
            Some(Command::Kill {
                id: "x".into(),
                signal: Some("HUP".into()),
                all: false
            })
        );
        // The positional signal wins over --signal, as in the Node CLI.
        assert_eq!(
            cmd("kill -s 9 x TERM"),
            Some(Command::Kill {
                id: "x".into(),
                signal: Some("TERM".into()),
                all: false
            })
        );
        assert_eq!(
            cmd("list"),
            Some(Command::List {
                format: ListFormat::Table,
                quiet: false
            })
        );
        assert_eq!(
            cmd("list -f json -q"),
            Some(Command::List {
                format: ListFormat::Json,
                quiet: true
            })
        );
        assert_eq!(
            cmd("list --format=json"),
            Some(Command::List {
                format: ListFormat::Json,
                quiet: false
            })
        );
        assert_eq!(cmd("pause x"), Some(Command::Pause { id: "x".into() }));
        assert_eq!(cmd("resume x"), Some(Command::Resume { id: "x".into() }));
        assert_eq!(cmd("--version"), Some(Command::Version));
        assert_eq!(cmd("--root /r -v"), Some(Command::Version));
        assert_eq!(cmd("features"), Some(Command::Features));
        assert_eq!(cmd("--root /r --debug features"), Some(Command::Features));
    }

    #[test]
    fn everything_else_goes_to_node() {
        for line in [
            "",
            "create x",
            "run x",
            "exec x ls",
            "features extra",
            "features --help",
            "features -- x",
            "spec",
            "state",
            "state a b",
            "state --help a",
            "state -- a",
            "kill",
            "kill a b c",
            "kill -as 9 a",
            "kill -s",
            "delete -x a",
            "delete --force=true a",
            "list extra",
            "list -f yaml",
            "list -fq",
            "--systemd-cgroup state a",
            "--log-format xml state a",
            "--rootless maybe state a",
            "--debug=true state a",
            "--root",
            "--help",
            "help",
            "--unknown state a",
        ] {
            assert_eq!(p(line), None, "{line:?} must go to Node");
        }
    }

    #[test]
    fn non_utf8_arguments_go_to_node() {
        use std::os::unix::ffi::OsStringExt;
        let argv = vec![
            OsString::from("state"),
            OsString::from_vec(vec![0xff, 0xfe]),
        ];
        assert_eq!(parse(&argv, std::path::Path::new("/")), None);
    }
}
