//! The sync-socket framing: a 4-byte big-endian length, then that many bytes
//! of UTF-8 JSON (one object with a `type` field).

use serde::{Deserialize, Serialize};
use std::io::{self, Read};

/// PROTOCOL.md: frames above 16 MiB are refused in both directions.
pub const MAX_FRAME: usize = 16 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("sync socket closed by the parent")]
    Eof,
    #[error("truncated frame: expected {expected} bytes, got {got}")]
    Truncated { expected: usize, got: usize },
    #[error("frame of {0} bytes exceeds the 16 MiB limit")]
    TooLarge(usize),
    #[error("empty frame")]
    Empty,
    #[error("reading the sync socket: {0}")]
    Io(#[from] io::Error),
}

/// Reads as much of `buf` as the stream gives before EOF.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads one frame's payload.
pub fn read_frame(r: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut len = [0u8; 4];
    match read_full(r, &mut len)? {
        0 => return Err(FrameError::Eof),
        4 => {}
        got => return Err(FrameError::Truncated { expected: 4, got }),
    }
    let n = u32::from_be_bytes(len) as usize;
    if n > MAX_FRAME {
        return Err(FrameError::TooLarge(n));
    }
    if n == 0 {
        return Err(FrameError::Empty);
    }
    let mut body = vec![0u8; n];
    let got = read_full(r, &mut body)?;
    if got != n {
        return Err(FrameError::Truncated { expected: n, got });
    }
    Ok(body)
}

/// Encodes one frame (header + payload) into a single buffer, so it goes out
/// in one write and frames from two processes sharing the socket never interleave.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    if payload.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(payload.len()));
    }
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Init → parent messages.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ToParent<'a> {
    Log {
        level: &'a str,
        msg: &'a str,
    },
    Userns {
        pid: i32,
    },
    Child {
        pid: i32,
    },
    Mounted,
    Created,
    Error {
        msg: &'a str,
        errno: Option<&'a str>,
    },
}

/// Parent → init messages. The plan stays raw JSON here: it is parsed (and
/// its errors reported with positions) by `plan::parse`.
#[derive(Debug)]
pub enum FromParent {
    Plan {
        plan: Box<serde_json::value::RawValue>,
    },
    UsernsMapped,
    Continue,
}

/// The wire shape; serde's internally tagged enums cannot carry a RawValue,
/// so the tag is read as a plain field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    plan: Option<Box<serde_json::value::RawValue>>,
}

impl FromParent {
    pub fn decode(body: &[u8]) -> Result<FromParent, String> {
        let env: Envelope = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        match (env.ty.as_str(), env.plan) {
            ("plan", Some(plan)) => Ok(FromParent::Plan { plan }),
            ("plan", None) => Err("a \"plan\" message needs a \"plan\" field".into()),
            (_, Some(_)) => Err(format!("a {:?} message has no \"plan\" field", env.ty)),
            ("userns-mapped", None) => Ok(FromParent::UsernsMapped),
            ("continue", None) => Ok(FromParent::Continue),
            (other, None) => Err(format!("unknown message type {other:?}")),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            FromParent::Plan { .. } => "plan",
            FromParent::UsernsMapped => "userns-mapped",
            FromParent::Continue => "continue",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn round_trip() {
        let msg = serde_json::to_vec(&ToParent::Error {
            msg: "sethostname \"x\": operation not permitted",
            errno: Some("EPERM"),
        })
        .unwrap();
        let framed = encode_frame(&msg).unwrap();
        assert_eq!(&framed[..4], &(msg.len() as u32).to_be_bytes());
        let mut two = framed.clone();
        two.extend(encode_frame(br#"{"type":"continue"}"#).unwrap());
        let mut r = Cursor::new(two);
        let first = read_frame(&mut r).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["errno"], "EPERM");
        let second = FromParent::decode(&read_frame(&mut r).unwrap()).unwrap();
        assert!(matches!(second, FromParent::Continue));
        assert!(matches!(read_frame(&mut r), Err(FrameError::Eof)));
    }

    #[test]
    fn message_shapes_match_protocol() {
        let j = |m: ToParent| serde_json::to_string(&m).unwrap();
        assert_eq!(
            j(ToParent::Child { pid: 42 }),
            r#"{"type":"child","pid":42}"#
        );
        assert_eq!(
            j(ToParent::Userns { pid: 7 }),
            r#"{"type":"userns","pid":7}"#
        );
        assert_eq!(j(ToParent::Mounted), r#"{"type":"mounted"}"#);
        assert_eq!(j(ToParent::Created), r#"{"type":"created"}"#);
        assert_eq!(
            j(ToParent::Log {
                level: "debug",
                msg: "m"
            }),
            r#"{"type":"log","level":"debug","msg":"m"}"#
        );
        assert_eq!(
            j(ToParent::Error {
                msg: "m",
                errno: None
            }),
            r#"{"type":"error","msg":"m","errno":null}"#
        );
        let m = FromParent::decode(br#"{"type":"userns-mapped"}"#).unwrap();
        assert_eq!(m.name(), "userns-mapped");
        let FromParent::Plan { plan } =
            FromParent::decode(br#"{"type":"plan","plan":{"version":1}}"#).unwrap()
        else {
            panic!("not a plan")
        };
        assert_eq!(plan.get(), r#"{"version":1}"#);
        assert!(FromParent::decode(br#"{"type":"bogus"}"#)
            .unwrap_err()
            .contains("unknown message type"));
        assert!(FromParent::decode(br#"{"type":"plan"}"#).is_err());
        assert!(FromParent::decode(br#"{"type":"continue","extra":1}"#).is_err());
    }

    #[test]
    fn oversize_is_rejected_both_ways() {
        let mut hdr = Cursor::new(((MAX_FRAME + 1) as u32).to_be_bytes().to_vec());
        assert!(matches!(read_frame(&mut hdr), Err(FrameError::TooLarge(n)) if n == MAX_FRAME + 1));
        assert!(matches!(
            encode_frame(&vec![b' '; MAX_FRAME + 1]),
            Err(FrameError::TooLarge(_))
        ));
        assert!(encode_frame(&vec![b' '; MAX_FRAME]).is_ok());
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut short_hdr = Cursor::new(vec![0u8, 0]);
        assert!(matches!(
            read_frame(&mut short_hdr),
            Err(FrameError::Truncated {
                expected: 4,
                got: 2
            })
        ));
        let mut framed = encode_frame(br#"{"type":"continue"}"#).unwrap();
        framed.truncate(framed.len() - 3);
        let e = read_frame(&mut Cursor::new(framed)).unwrap_err();
        assert_eq!(e.to_string(), "truncated frame: expected 19 bytes, got 16");
        assert!(matches!(
            read_frame(&mut Cursor::new(vec![0u8; 4])),
            Err(FrameError::Empty)
        ));
    }
}
