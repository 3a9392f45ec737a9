//! Landmarks: servers at known places that RTTs are measured to.
//!
//! A landmarks file is a JSON array of objects, JSON Lines, or CSV with a header; each entry has
//! `id`, `lat`, `lon` and optionally `radius_km` (how far the server may be from the given point,
//! default 0) and `name`. Landmarks can also be defined inline in `rtt` events. Landmarks must be
//! unicast hosts whose place is known: an anycast address answers from whichever site is nearest
//! and would make every bound wrong.

use crate::geo::LatLon;
use std::collections::HashMap;

/// One landmark.
#[derive(Clone, Debug, PartialEq)]
pub struct Landmark {
    /// Id used in events.
    pub id: String,
    /// Position.
    pub pos: LatLon,
    /// Uncertainty of the position, km.
    pub radius_km: f64,
    /// Unit vector of `pos`, cached.
    pub unit: [f64; 3],
}

/// The set of known landmarks, indexed densely.
#[derive(Clone, Debug, Default)]
pub struct Landmarks {
    list: Vec<Landmark>,
    by_id: HashMap<String, u32>,
}

/// A problem with one entry of a landmarks file.
#[derive(Clone, Debug, PartialEq)]
pub struct LandmarkFileError {
    /// 1-based line (for JSON arrays: the 1-based entry number).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

#[derive(serde::Deserialize)]
struct RawLm {
    id: Option<serde_json::Value>,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_km: Option<f64>,
}

impl Landmarks {
    /// No landmarks.
    pub fn new() -> Landmarks {
        Landmarks::default()
    }

    /// Number of landmarks.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Add a landmark. Returns its index; an id already present keeps its first definition and
    /// `Err` says how far the new one is from it when they differ by more than 1 km.
    pub fn add(&mut self, id: &str, pos: LatLon, radius_km: f64) -> Result<u32, String> {
        if let Some(&i) = self.by_id.get(id) {
            let d = crate::geo::distance_km(self.list[i as usize].pos, pos);
            if d > 1.0 {
                return Err(format!(
                    "landmark `{id}` redefined {d:.0} km away from its first definition; keeping the first"
                ));
            }
            return Ok(i);
        }
        let i = self.list.len() as u32;
        self.list.push(Landmark {
            id: id.to_owned(),
            pos,
            radius_km: radius_km.max(0.0),
            unit: pos.to_unit(),
        });
        self.by_id.insert(id.to_owned(), i);
        Ok(i)
    }

    /// Index of a landmark id.
    pub fn index(&self, id: &str) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    /// The landmark at an index.
    pub fn get(&self, i: u32) -> &Landmark {
        &self.list[i as usize]
    }

    /// All landmarks.
    pub fn iter(&self) -> impl Iterator<Item = &Landmark> {
        self.list.iter()
    }

    /// Parse a landmarks file (JSON array, JSON Lines or CSV). Bad entries are returned as errors
    /// and skipped; the good ones are kept.
    pub fn parse(text: &str) -> (Landmarks, Vec<LandmarkFileError>) {
        let mut lms = Landmarks::new();
        let mut errors = Vec::new();
        let trimmed = text.trim_start_matches('\u{feff}').trim_start();
        fn add(lms: &mut Landmarks, line: u64, raw: RawLm, errors: &mut Vec<LandmarkFileError>) {
            let id = match raw.id {
                Some(serde_json::Value::String(s)) if !s.is_empty() => s,
                Some(serde_json::Value::Number(n)) => n.to_string(),
                _ => {
                    errors.push(LandmarkFileError {
                        line,
                        message: "missing or empty `id`".into(),
                    });
                    return;
                }
            };
            let (Some(lat), Some(lon)) = (raw.lat, raw.lon) else {
                errors.push(LandmarkFileError {
                    line,
                    message: format!("landmark `{id}`: missing `lat` or `lon`"),
                });
                return;
            };
            let Some(pos) = LatLon::new(lat, lon) else {
                errors.push(LandmarkFileError {
                    line,
                    message: format!("landmark `{id}`: coordinates ({lat}, {lon}) out of range"),
                });
                return;
            };
            let r = raw.radius_km.unwrap_or(0.0);
            if !r.is_finite() || r < 0.0 {
                errors.push(LandmarkFileError {
                    line,
                    message: format!("landmark `{id}`: radius_km {r} is not a non-negative number"),
                });
                return;
            }
            if let Err(m) = lms.add(&id, pos, r) {
                errors.push(LandmarkFileError { line, message: m });
            }
        }
        if trimmed.starts_with('[') {
            match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
                Ok(items) => {
                    for (i, v) in items.into_iter().enumerate() {
                        match serde_json::from_value::<RawLm>(v) {
                            Ok(raw) => add(&mut lms, i as u64 + 1, raw, &mut errors),
                            Err(e) => errors.push(LandmarkFileError {
                                line: i as u64 + 1,
                                message: format!("entry {}: {e}", i + 1),
                            }),
                        }
                    }
                }
                Err(e) => errors.push(LandmarkFileError {
                    line: e.line() as u64,
                    message: format!("invalid JSON array: {e}"),
                }),
            }
        } else if trimmed.starts_with('{') {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<RawLm>(line) {
                    Ok(raw) => add(&mut lms, i as u64 + 1, raw, &mut errors),
                    Err(e) => errors.push(LandmarkFileError {
                        line: i as u64 + 1,
                        message: format!("invalid JSON: {e}"),
                    }),
                }
            }
        } else {
            let mut lines = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty());
            let Some((_, header)) = lines.next() else {
                return (lms, errors);
            };
            let cols: Vec<String> = header
                .trim_start_matches('\u{feff}')
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect();
            let col = |n: &str| cols.iter().position(|c| c == n);
            let (Some(ci), Some(cla), Some(clo)) = (col("id"), col("lat"), col("lon")) else {
                errors.push(LandmarkFileError {
                    line: 1,
                    message: "CSV header must name the columns id, lat and lon".into(),
                });
                return (lms, errors);
            };
            let cr = col("radius_km");
            for (i, line) in lines {
                let f: Vec<&str> = line.split(',').map(str::trim).collect();
                let num =
                    |j: Option<usize>| j.and_then(|j| f.get(j)).and_then(|s| s.parse::<f64>().ok());
                let raw = RawLm {
                    id: f
                        .get(ci)
                        .filter(|s| !s.is_empty())
                        .map(|s| serde_json::Value::String((*s).to_owned())),
                    lat: num(Some(cla)),
                    lon: num(Some(clo)),
                    radius_km: num(cr),
                };
                add(&mut lms, i as u64 + 1, raw, &mut errors);
            }
        }
        (lms, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_formats_agree() {
        let json = r#"[{"id":"fra","lat":50.11,"lon":8.68},{"id":"iad","lat":38.95,"lon":-77.45,"radius_km":20}]"#;
        let jsonl = "{\"id\":\"fra\",\"lat\":50.11,\"lon\":8.68}\n\n{\"id\":\"iad\",\"lat\":38.95,\"lon\":-77.45,\"radius_km\":20}\n";
        let csv = "id,lat,lon,radius_km\nfra,50.11,8.68,\niad,38.95,-77.45,20\n";
        for text in [json, jsonl, csv] {
            let (l, e) = Landmarks::parse(text);
            assert!(e.is_empty(), "{e:?}");
            assert_eq!(l.len(), 2);
            let iad = l.get(l.index("iad").unwrap());
            assert_eq!(iad.radius_km, 20.0);
            assert_eq!(l.get(l.index("fra").unwrap()).radius_km, 0.0);
        }
    }

    #[test]
    fn bad_entries_are_reported_and_skipped() {
        let text = "{\"id\":\"a\",\"lat\":1,\"lon\":2}\n{\"id\":\"b\",\"lat\":100,\"lon\":2}\nnot json\n{\"lat\":1,\"lon\":1}\n{\"id\":\"a\",\"lat\":40,\"lon\":2}\n";
        let (l, e) = Landmarks::parse(text);
        assert_eq!(l.len(), 1);
        let lines: Vec<u64> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        assert!(e[0].message.contains("out of range"));
        assert!(e[3].message.contains("redefined"));
        let (_, e) = Landmarks::parse("name,x\nfoo,1\n");
        assert!(e[0].message.contains("id, lat and lon"));
    }
}
