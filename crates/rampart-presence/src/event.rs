//! The event schema and its parser.
//!
//! Input is JSON Lines: one JSON object per line. Every line has
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `type` | string | `rtt`, `interaction`, `keystroke`, `login` or `end` |
//! | `session` | string (or integer) | the session the event belongs to |
//! | `t_ms` | number | server time of the event, milliseconds (any epoch, same for all lines) |
//!
//! and, by type:
//!
//! | type | fields |
//! |---|---|
//! | `rtt` | `landmark`: an id (`"fra-1"`) defined in the landmarks file or earlier inline, or an inline `{"id", "lat", "lon"}`; `rtt_ms`: one measured round-trip time to it |
//! | `interaction` | `stimulus_ms`: server time a stimulus (echo, screen update, prompt) was sent; `response_ms`: server time the next input event arrived; optional `rtt_ms`: the connection's network RTT at that time; optional `landmark`: the server (landmark id) that measured the loop |
//! | `keystroke` | nothing more: `t_ms` is the server receive time of the key event |
//! | `login` | `user`; `claimed`: `{"lat", "lon"}` (optional `radius_km`) or `{"city"}` (optional `country`, `radius_km`) |
//! | `end` | nothing more: the session is over and can be judged now |
//!
//! Extra fields are allowed and ignored. Values are checked: times must be finite and
//! non-negative, `rtt_ms` in (0, 60000], interaction loops in [0, 3600000] ms, coordinates in range.
//!
//! A line byte-identical to one of the last 16 lines of its session is a duplicate and is skipped
//! (with a warning). Two distinct key events received in the same millisecond are therefore only
//! kept apart if something else on their lines differs: give events an id (e.g. `"seq": 17`).

use crate::geo::LatLon;
use serde::Deserialize;
use std::borrow::Cow;

/// Largest accepted RTT sample, ms. Longer "round trips" are measurement errors.
pub const MAX_RTT_MS: f64 = 60_000.0;
/// Largest accepted interaction loop, ms (one hour).
pub const MAX_LOOP_MS: f64 = 3_600_000.0;

/// A landmark reference inside an `rtt` or `interaction` event.
#[derive(Clone, Debug, PartialEq)]
pub enum LandmarkRef<'a> {
    /// Just an id, to be resolved against known landmarks.
    Id(Cow<'a, str>),
    /// An inline definition.
    Inline {
        /// Id.
        id: Cow<'a, str>,
        /// Position.
        pos: LatLon,
    },
}

impl LandmarkRef<'_> {
    /// The id.
    pub fn id(&self) -> &str {
        match self {
            LandmarkRef::Id(id) | LandmarkRef::Inline { id, .. } => id,
        }
    }
}

/// A claimed location.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim<'a> {
    /// Coordinates, with an optional accuracy radius.
    Point {
        /// Position.
        pos: LatLon,
        /// Accuracy radius, km.
        radius_km: Option<f64>,
    },
    /// A city name to resolve against the embedded table.
    City {
        /// The name, e.g. `Phoenix, AZ`.
        city: Cow<'a, str>,
        /// Optional country (code or English name).
        country: Option<Cow<'a, str>>,
        /// Accuracy radius, km.
        radius_km: Option<f64>,
    },
}

/// What an event says, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind<'a> {
    /// One RTT measurement to a landmark.
    Rtt {
        /// Which landmark.
        landmark: LandmarkRef<'a>,
        /// Round-trip time, ms.
        rtt_ms: f64,
    },
    /// A stimulus → next-input loop.
    Interaction {
        /// Server time the stimulus left.
        stimulus_ms: f64,
        /// Server time the next input arrived.
        response_ms: f64,
        /// Network RTT of the connection at that time, when the server measured it.
        rtt_ms: Option<f64>,
        /// The server (landmark) that measured the loop.
        landmark: Option<LandmarkRef<'a>>,
    },
    /// A key event received by the server at `t_ms`.
    Keystroke,
    /// A login with a claimed location.
    Login {
        /// User id.
        user: Cow<'a, str>,
        /// Where the user says they are.
        claimed: Claim<'a>,
    },
    /// End of the session.
    End,
}

/// One parsed, validated event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<'a> {
    /// Session id.
    pub session: Cow<'a, str>,
    /// Server time, ms.
    pub t_ms: f64,
    /// The rest.
    pub kind: EventKind<'a>,
}

/// Why a line was rejected. The message names the field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or not an object, or a field of the wrong JSON type.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A required field is absent.
    #[error("missing field `{field}`{}", for_type(.ty))]
    Missing {
        /// The field.
        field: &'static str,
        /// The event type, if known.
        ty: Option<String>,
    },
    /// `type` is not one of the known types.
    #[error("unknown event type `{0}` (expected rtt, interaction, keystroke, login or end)")]
    UnknownType(String),
    /// A value is out of range or absurd.
    #[error("field `{field}`: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

fn for_type(ty: &Option<String>) -> String {
    match ty {
        Some(t) => format!(" for type `{t}`"),
        None => String::new(),
    }
}

/// A string or an integer id, borrowed when possible.
#[derive(Debug)]
struct Id<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Id<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Id<'a>, E> {
                Ok(Id(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLandmark<'a> {
    #[serde(borrow)]
    Id(Id<'a>),
    Obj {
        #[serde(borrow)]
        id: Option<Id<'a>>,
        lat: Option<f64>,
        lon: Option<f64>,
    },
}

#[derive(Deserialize)]
struct RawClaim<'a> {
    lat: Option<f64>,
    lon: Option<f64>,
    #[serde(borrow)]
    city: Option<Cow<'a, str>>,
    #[serde(borrow)]
    country: Option<Cow<'a, str>>,
    radius_km: Option<f64>,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    ty: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session: Option<Id<'a>>,
    t_ms: Option<f64>,
    #[serde(borrow)]
    landmark: Option<RawLandmark<'a>>,
    rtt_ms: Option<f64>,
    stimulus_ms: Option<f64>,
    response_ms: Option<f64>,
    #[serde(borrow)]
    user: Option<Id<'a>>,
    #[serde(borrow)]
    claimed: Option<RawClaim<'a>>,
}

fn time(field: &'static str, v: Option<f64>, ty: &str) -> Result<f64, EventError> {
    let v = v.ok_or_else(|| EventError::Missing {
        field,
        ty: Some(ty.to_owned()),
    })?;
    if !v.is_finite() || v < 0.0 {
        return Err(EventError::Invalid {
            field,
            reason: format!("{v} is not a non-negative time"),
        });
    }
    Ok(v)
}

fn rtt(field: &'static str, v: f64) -> Result<f64, EventError> {
    if !v.is_finite() || v <= 0.0 {
        return Err(EventError::Invalid {
            field,
            reason: format!("{v} ms is not a positive round-trip time"),
        });
    }
    if v > MAX_RTT_MS {
        return Err(EventError::Invalid {
            field,
            reason: format!("{v} ms is absurd for a round-trip time (limit {MAX_RTT_MS} ms)"),
        });
    }
    Ok(v)
}

fn landmark(raw: RawLandmark<'_>) -> Result<LandmarkRef<'_>, EventError> {
    match raw {
        RawLandmark::Id(Id(id)) => {
            if id.is_empty() {
                return Err(EventError::Invalid {
                    field: "landmark",
                    reason: "empty id".into(),
                });
            }
            Ok(LandmarkRef::Id(id))
        }
        RawLandmark::Obj { id, lat, lon } => {
            let id = id.ok_or(EventError::Missing {
                field: "landmark.id",
                ty: None,
            })?;
            if id.0.is_empty() {
                return Err(EventError::Invalid {
                    field: "landmark.id",
                    reason: "empty id".into(),
                });
            }
            match (lat, lon) {
                (None, None) => Ok(LandmarkRef::Id(id.0)),
                (Some(lat), Some(lon)) => {
                    let pos = LatLon::new(lat, lon).ok_or_else(|| EventError::Invalid {
                        field: "landmark",
                        reason: format!("coordinates ({lat}, {lon}) out of range"),
                    })?;
                    Ok(LandmarkRef::Inline { id: id.0, pos })
                }
                _ => Err(EventError::Invalid {
                    field: "landmark",
                    reason: "needs both `lat` and `lon`, or neither".into(),
                }),
            }
        }
    }
}

fn radius(r: Option<f64>) -> Result<Option<f64>, EventError> {
    match r {
        Some(r) if !r.is_finite() || !(0.0..=20_000.0).contains(&r) => Err(EventError::Invalid {
            field: "claimed.radius_km",
            reason: format!("{r} is not a radius in [0, 20000] km"),
        }),
        r => Ok(r),
    }
}

/// Parse one line (without its newline). Blank lines are not events: the caller skips them.
pub fn parse_line(line: &[u8]) -> Result<Event<'_>, EventError> {
    let raw: Raw<'_> = serde_json::from_slice(line).map_err(|e| EventError::Json(e.to_string()))?;
    let ty = raw.ty.ok_or(EventError::Missing {
        field: "type",
        ty: None,
    })?;
    let tys = ty.as_ref();
    let session = raw
        .session
        .ok_or_else(|| EventError::Missing {
            field: "session",
            ty: Some(tys.to_owned()),
        })?
        .0;
    if session.is_empty() {
        return Err(EventError::Invalid {
            field: "session",
            reason: "empty session id".into(),
        });
    }
    let t_ms = time("t_ms", raw.t_ms, tys)?;
    let missing = |field| EventError::Missing {
        field,
        ty: Some(tys.to_owned()),
    };
    let kind = match tys {
        "rtt" => {
            let lm = landmark(raw.landmark.ok_or_else(|| missing("landmark"))?)?;
            let r = rtt("rtt_ms", raw.rtt_ms.ok_or_else(|| missing("rtt_ms"))?)?;
            EventKind::Rtt {
                landmark: lm,
                rtt_ms: r,
            }
        }
        "interaction" => {
            let s = time("stimulus_ms", raw.stimulus_ms, tys)?;
            let r = time("response_ms", raw.response_ms, tys)?;
            if r < s {
                return Err(EventError::Invalid {
                    field: "response_ms",
                    reason: format!("response ({r}) is before the stimulus ({s})"),
                });
            }
            if r - s > MAX_LOOP_MS {
                return Err(EventError::Invalid {
                    field: "response_ms",
                    reason: format!("loop of {} ms is absurd (limit {MAX_LOOP_MS} ms)", r - s),
                });
            }
            let rtt_ms = raw.rtt_ms.map(|v| rtt("rtt_ms", v)).transpose()?;
            let landmark = raw.landmark.map(landmark).transpose()?;
            EventKind::Interaction {
                stimulus_ms: s,
                response_ms: r,
                rtt_ms,
                landmark,
            }
        }
        "keystroke" => EventKind::Keystroke,
        "end" => EventKind::End,
        "login" => {
            let user = raw.user.ok_or_else(|| missing("user"))?.0;
            if user.is_empty() {
                return Err(EventError::Invalid {
                    field: "user",
                    reason: "empty user id".into(),
                });
            }
            let c = raw.claimed.ok_or_else(|| missing("claimed"))?;
            let radius_km = radius(c.radius_km)?;
            let claimed = match (c.lat, c.lon, c.city) {
                (Some(lat), Some(lon), _) => Claim::Point {
                    pos: LatLon::new(lat, lon).ok_or_else(|| EventError::Invalid {
                        field: "claimed",
                        reason: format!("coordinates ({lat}, {lon}) out of range"),
                    })?,
                    radius_km,
                },
                (None, None, Some(city)) if !city.trim().is_empty() => Claim::City {
                    city,
                    country: c.country,
                    radius_km,
                },
                _ => {
                    return Err(EventError::Invalid {
                        field: "claimed",
                        reason: "needs `lat` and `lon`, or a non-empty `city`".into(),
                    });
                }
            };
            EventKind::Login { user, claimed }
        }
        other => return Err(EventError::UnknownType(other.to_owned())),
    };
    Ok(Event {
        session,
        t_ms,
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Event<'_> {
        parse_line(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }
    fn err(s: &str) -> String {
        parse_line(s.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_type() {
        let e = ok(
            r#"{"type":"rtt","session":"s1","t_ms":5,"landmark":"fra","rtt_ms":12.5,"extra":[1,2]}"#,
        );
        assert_eq!(e.session, "s1");
        assert_eq!(
            e.kind,
            EventKind::Rtt {
                landmark: LandmarkRef::Id("fra".into()),
                rtt_ms: 12.5
            }
        );
        let e = ok(
            r#"{"type":"rtt","session":7,"t_ms":5,"landmark":{"id":"x","lat":1,"lon":2},"rtt_ms":1}"#,
        );
        assert_eq!(e.session, "7");
        assert!(matches!(
            e.kind,
            EventKind::Rtt {
                landmark: LandmarkRef::Inline { .. },
                ..
            }
        ));
        let e = ok(
            r#"{"type":"interaction","session":"s","t_ms":1,"stimulus_ms":100,"response_ms":400.5,"rtt_ms":20}"#,
        );
        assert!(matches!(
            e.kind,
            EventKind::Interaction {
                rtt_ms: Some(20.0),
                ..
            }
        ));
        assert_eq!(
            ok(r#"{"type":"keystroke","session":"s","t_ms":1}"#).kind,
            EventKind::Keystroke
        );
        assert_eq!(
            ok(r#"{"type":"end","session":"s","t_ms":1}"#).kind,
            EventKind::End
        );
        let e = ok(
            r#"{"type":"login","session":"s","t_ms":1,"user":"u","claimed":{"city":"Phoenix, AZ"}}"#,
        );
        assert!(matches!(
            e.kind,
            EventKind::Login {
                claimed: Claim::City { .. },
                ..
            }
        ));
        let e = ok(
            r#"{"type":"login","session":"s","t_ms":1,"user":"u","claimed":{"lat":33.4,"lon":-112,"radius_km":5}}"#,
        );
        assert!(matches!(
            e.kind,
            EventKind::Login {
                claimed: Claim::Point {
                    radius_km: Some(5.0),
                    ..
                },
                ..
            }
        ));
        // Escaped strings are owned, not borrowed, and still fine.
        assert_eq!(
            ok(r#"{"type":"keystroke","session":"a\"b","t_ms":1}"#).session,
            "a\"b"
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert!(err("not json").starts_with("invalid JSON"));
        assert!(err("[1,2]").starts_with("invalid JSON"));
        assert_eq!(err(r#"{"session":"s","t_ms":1}"#), "missing field `type`");
        assert_eq!(
            err(r#"{"type":"rtt","t_ms":1}"#),
            "missing field `session` for type `rtt`"
        );
        assert_eq!(
            err(r#"{"type":"rtt","session":"s"}"#),
            "missing field `t_ms` for type `rtt`"
        );
        assert_eq!(
            err(r#"{"type":"rtt","session":"s","t_ms":1,"landmark":"x"}"#),
            "missing field `rtt_ms` for type `rtt`"
        );
        assert!(
            err(r#"{"type":"rtt","session":"s","t_ms":1,"landmark":"x","rtt_ms":-3}"#)
                .contains("not a positive")
        );
        assert!(
            err(r#"{"type":"rtt","session":"s","t_ms":1,"landmark":"x","rtt_ms":0}"#)
                .contains("not a positive")
        );
        assert!(
            err(r#"{"type":"rtt","session":"s","t_ms":1,"landmark":"x","rtt_ms":1e9}"#)
                .contains("absurd")
        );
        assert!(
            err(r#"{"type":"rtt","session":"s","t_ms":-1,"landmark":"x","rtt_ms":1}"#)
                .contains("t_ms")
        );
        assert!(err(r#"{"type":"rtt","session":"s","t_ms":1,"landmark":{"id":"x","lat":95,"lon":0},"rtt_ms":1}"#).contains("out of range"));
        assert!(
            err(
                r#"{"type":"interaction","session":"s","t_ms":1,"stimulus_ms":10,"response_ms":5}"#
            )
            .contains("before the stimulus")
        );
        assert!(
            err(r#"{"type":"login","session":"s","t_ms":1,"user":"u","claimed":{}}"#)
                .contains("claimed")
        );
        assert!(
            err(r#"{"type":"login","session":"s","t_ms":1,"claimed":{"city":"x"}}"#)
                .contains("`user`")
        );
        assert!(
            err(r#"{"type":"teleport","session":"s","t_ms":1}"#)
                .contains("unknown event type `teleport`")
        );
        assert!(err(r#"{"type":"rtt","session":"s","t_ms":"soon"}"#).starts_with("invalid JSON"));
        assert!(err(r#"{"type":"keystroke","session":"","t_ms":1}"#).contains("empty"));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let samples: &[&[u8]] = &[
            b"",
            b"{",
            b"\xff\xfe",
            b"{\"type\":null}",
            b"{\"type\":\"rtt\",\"landmark\":[]}",
            b"1e999999",
        ];
        for s in samples {
            let _ = parse_line(s);
        }
    }
}
