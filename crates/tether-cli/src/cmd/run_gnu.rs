//! The argument syntax of GNU `timeout`, for tether invoked through a link named `timeout`:
//! `timeout [OPTION] DURATION COMMAND [ARG]...`, read as glibc's `getopt_long` with the option
//! string `+k:s:v` reads it.
//!
//! Hand-written rather than with clap, because the drop-in promise is GNU's exact behaviour:
//! options end at the first operand (`timeout 5 -v true` runs a command named `-v`), long
//! options may be abbreviated to any unambiguous prefix (`--pres`, `--sig=KILL`), options are
//! acted on in order (the first bad one is the one reported), and diagnostics are getopt's
//! (`invalid option -- 'x'`, `option '--v' is ambiguous; possibilities: ...`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Whether an option takes a value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HasArg {
    No,
    Required,
}

/// Long name, short letter (if any), whether it takes a value. GNU's options first, then
/// tether's own (`--contain`, `--report`, `--json`).
const OPTIONS: [(&str, Option<u8>, HasArg); 10] = [
    ("kill-after", Some(b'k'), HasArg::Required),
    ("signal", Some(b's'), HasArg::Required),
    ("verbose", Some(b'v'), HasArg::No),
    ("foreground", None, HasArg::No),
    ("preserve-status", None, HasArg::No),
    ("help", None, HasArg::No),
    ("version", None, HasArg::No),
    ("contain", None, HasArg::Required),
    ("report", None, HasArg::Required),
    ("json", None, HasArg::No),
];

/// One thing found on the command line, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// An option by its long name, with its value when it takes one.
    Opt(&'static str, Option<OsString>),
    /// A getopt diagnostic (without the program name); parsing stopped there.
    Error(String),
}

/// The options (in order, up to the first error) and the operands after them.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub items: Vec<Item>,
    pub operands: Vec<OsString>,
}

/// Read `args` (without the program name).
pub fn parse(args: &[OsString]) -> Parsed {
    let mut items = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            i += 1;
            break;
        }
        if let Some(body) = a.strip_prefix(b"--") {
            i += 1;
            let (name, value) = match body.iter().position(|&b| b == b'=') {
                Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
                None => (body, None),
            };
            let item = match find_long(name) {
                Err(LongError::Unknown) => Item::Error(format!(
                    "unrecognized option '{}'",
                    String::from_utf8_lossy(a)
                )),
                Err(LongError::Ambiguous(all)) => Item::Error(format!(
                    "option '{}' is ambiguous; possibilities:{}",
                    String::from_utf8_lossy(a),
                    all.iter().map(|n| format!(" '--{n}'")).collect::<String>()
                )),
                Ok((long, HasArg::No)) if value.is_some() => {
                    Item::Error(format!("option '--{long}' doesn't allow an argument"))
                }
                Ok((long, HasArg::No)) => Item::Opt(long, None),
                Ok((long, HasArg::Required)) => match value {
                    Some(v) => Item::Opt(long, Some(OsStr::from_bytes(v).to_os_string())),
                    None if i < args.len() => {
                        i += 1;
                        Item::Opt(long, Some(args[i - 1].clone()))
                    }
                    None => Item::Error(format!("option '--{long}' requires an argument")),
                },
            };
            let stop = matches!(item, Item::Error(_));
            items.push(item);
            if stop {
                break;
            }
            continue;
        }
        if a.len() > 1 && a[0] == b'-' {
            i += 1;
            let mut j = 1;
            let mut stop = false;
            while j < a.len() {
                let c = a[j];
                j += 1;
                let Some((long, _, has)) = OPTIONS.iter().find(|(_, s, _)| *s == Some(c)) else {
                    items.push(Item::Error(format!(
                        "invalid option -- '{}'",
                        String::from_utf8_lossy(&[c])
                    )));
                    stop = true;
                    break;
                };
                if *has == HasArg::No {
                    items.push(Item::Opt(long, None));
                    continue;
                }
                // The value is the rest of this argument, or the next one.
                if j < a.len() {
                    items.push(Item::Opt(long, Some(OsStr::from_bytes(&a[j..]).into())));
                } else if i < args.len() {
                    items.push(Item::Opt(long, Some(args[i].clone())));
                    i += 1;
                } else {
                    items.push(Item::Error(format!(
                        "option requires an argument -- '{}'",
                        c as char
                    )));
                    stop = true;
                }
                break;
            }
            if stop {
                break;
            }
            continue;
        }
        // The first operand ends the options ('+' in GNU's option string).
        break;
    }
    Parsed {
        items,
        operands: args[i.min(args.len())..].to_vec(),
    }
}

enum LongError {
    Unknown,
    Ambiguous(Vec<&'static str>),
}

/// An exact long name, or the only one it is a prefix of.
fn find_long(name: &[u8]) -> Result<(&'static str, HasArg), LongError> {
    if let Some((l, _, h)) = OPTIONS.iter().find(|(l, _, _)| l.as_bytes() == name) {
        return Ok((l, *h));
    }
    let matches: Vec<_> = OPTIONS
        .iter()
        .filter(|(l, _, _)| !name.is_empty() && l.as_bytes().starts_with(name))
        .collect();
    match matches.as_slice() {
        [] => Err(LongError::Unknown),
        [(l, _, h)] => Ok((l, *h)),
        many => Err(LongError::Ambiguous(
            many.iter().map(|(l, _, _)| *l).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn opt(l: &'static str, v: Option<&str>) -> Item {
        Item::Opt(l, v.map(OsString::from))
    }

    fn err(s: &str) -> Item {
        Item::Error(s.into())
    }

    #[test]
    fn options_stop_at_the_first_operand() {
        let r = p(&["-v", "5", "-v", "true"]);
        assert_eq!(r.items, vec![opt("verbose", None)]);
        assert_eq!(r.operands, ["5", "-v", "true"]);
        let r = p(&["--", "-1", "true"]);
        assert!(r.items.is_empty());
        assert_eq!(r.operands, ["-1", "true"]);
    }

    #[test]
    fn values_clusters_and_abbreviations() {
        let r = p(&[
            "-vvs0",
            "-k1",
            "-s",
            "KILL",
            "--sig=HUP",
            "--kill",
            "2",
            "--pres",
            "1",
        ]);
        assert_eq!(
            r.items,
            vec![
                opt("verbose", None),
                opt("verbose", None),
                opt("signal", Some("0")),
                opt("kill-after", Some("1")),
                opt("signal", Some("KILL")),
                opt("signal", Some("HUP")),
                opt("kill-after", Some("2")),
                opt("preserve-status", None),
            ]
        );
        assert_eq!(r.operands, ["1"]);
        assert_eq!(
            p(&["--kill-after="]).items,
            vec![opt("kill-after", Some(""))]
        );
        assert_eq!(
            p(&["--s=KILL=3"]).items,
            vec![opt("signal", Some("KILL=3"))]
        );
    }

    #[test]
    fn getopt_diagnostics() {
        assert_eq!(
            p(&["--bogus=1"]).items,
            vec![err("unrecognized option '--bogus=1'")]
        );
        assert_eq!(p(&["-x", "5"]).items, vec![err("invalid option -- 'x'")]);
        assert_eq!(p(&["-h"]).items, vec![err("invalid option -- 'h'")]);
        assert_eq!(
            p(&["-vk"]).items,
            vec![
                opt("verbose", None),
                err("option requires an argument -- 'k'")
            ]
        );
        assert_eq!(
            p(&["--signal"]).items,
            vec![err("option '--signal' requires an argument")]
        );
        assert_eq!(
            p(&["--v=1"]).items,
            vec![err(
                "option '--v=1' is ambiguous; possibilities: '--verbose' '--version'"
            )]
        );
        assert_eq!(
            p(&["--foreground=x"]).items,
            vec![err("option '--foreground' doesn't allow an argument")]
        );
        // Parsing stops at the first error.
        assert_eq!(p(&["--bogus", "--help"]).items.len(), 1);
    }
}
