//! The embedded world-cities table (GeoNames `cities15000`, CC BY 4.0; see
//! `data/ATTRIBUTION.md`): 34,006 places with a population above ~15,000.
//!
//! Used to resolve claimed locations given as city names (`{"city": "Phoenix, AZ"}`), to place
//! simulated users in real cities, and to name the nearest city to an estimated region.

use crate::geo::{LatLon, unit_distance_km};
use std::collections::HashMap;
use std::sync::OnceLock;

static CITIES_TSV: &str = include_str!("../data/cities15000.tsv");
static COUNTRIES_TSV: &str = include_str!("../data/countries.tsv");

/// One city of the table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct City {
    /// Name as in GeoNames (UTF-8).
    pub name: &'static str,
    /// ISO 3166-1 alpha-2 country code.
    pub country: &'static str,
    /// First-level administrative division code (e.g. the US state, `AZ`).
    pub admin1: &'static str,
    /// Position.
    pub pos: LatLon,
    /// Population.
    pub population: u64,
}

impl City {
    /// `Name, ADMIN1, CC` in the US (where admin1 codes are the well-known state codes) and
    /// `Name, CC` elsewhere.
    pub fn label(&self) -> String {
        if self.country == "US" && !self.admin1.is_empty() {
            format!("{}, {}, {}", self.name, self.admin1, self.country)
        } else {
            format!("{}, {}", self.name, self.country)
        }
    }
}

struct Table {
    cities: Vec<City>,
    units: Vec<[f64; 3]>,
    by_name: HashMap<String, Vec<u32>>,
    countries: HashMap<String, &'static str>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let mut cities = Vec::with_capacity(34_100);
        let mut by_name: HashMap<String, Vec<u32>> = HashMap::with_capacity(40_000);
        for line in CITIES_TSV.lines() {
            let f: Vec<&'static str> = line.split('\t').collect();
            if f.len() != 7 {
                continue;
            }
            let (Ok(lat), Ok(lon)) = (f[4].parse::<f64>(), f[5].parse::<f64>()) else {
                continue;
            };
            let Some(pos) = LatLon::new(lat, lon) else {
                continue;
            };
            let idx = cities.len() as u32;
            cities.push(City {
                name: f[0],
                country: f[2],
                admin1: f[3],
                pos,
                population: f[6].parse().unwrap_or(0),
            });
            by_name.entry(f[0].to_lowercase()).or_default().push(idx);
            if !f[1].is_empty() && f[1] != f[0] {
                by_name.entry(f[1].to_lowercase()).or_default().push(idx);
            }
        }
        let units = cities.iter().map(|c| c.pos.to_unit()).collect();
        let mut countries = HashMap::new();
        for line in COUNTRIES_TSV.lines() {
            if let Some((iso, name)) = line.split_once('\t') {
                countries.insert(name.to_lowercase(), iso);
                countries.insert(iso.to_lowercase(), iso);
            }
        }
        // Common short forms.
        for (alias, iso) in [
            ("usa", "US"),
            ("uk", "GB"),
            ("united states of america", "US"),
            ("england", "GB"),
        ] {
            countries.insert(alias.into(), iso);
        }
        Table {
            cities,
            units,
            by_name,
            countries,
        }
    })
}

/// All cities, most populous first.
pub fn all() -> &'static [City] {
    &table().cities
}

/// Unit vectors of [`all`]'s cities, in the same order.
pub fn units() -> &'static [[f64; 3]] {
    &table().units
}

/// The ISO code for a country given by code or English name (`"fr"`, `"France"`).
pub fn country_code(name: &str) -> Option<&'static str> {
    table().countries.get(&name.trim().to_lowercase()).copied()
}

/// Resolve a city name. Accepts `"Phoenix"`, `"Phoenix, AZ"`, `"Phoenix, US"`,
/// `"Phoenix, AZ, US"`, `"Paris, France"`, and an optional separate `country` (code or name).
/// Among several matches the most populous wins. Matching ignores case; accents may be left out
/// (`"Sao Paulo"`).
pub fn lookup(query: &str, country: Option<&str>) -> Option<City> {
    lookup_all(query, country).into_iter().next()
}

/// Every city matching a name (same rules as [`lookup`]), most populous first. A claim such as
/// `"Udaipur, IN"` names two cities 1,700 km apart; a conservative judgement must hold for all.
pub fn lookup_all(query: &str, country: Option<&str>) -> Vec<City> {
    lookup_inner(query, country).unwrap_or_default()
}

fn lookup_inner(query: &str, country: Option<&str>) -> Option<Vec<City>> {
    let t = table();
    let mut parts = query.split(',').map(str::trim).filter(|s| !s.is_empty());
    let name = parts.next()?.to_lowercase();
    let qualifiers: Vec<&str> = parts.collect();
    let given_country = match country {
        Some(c) => Some(country_code(c)?),
        None => None,
    };
    let ids = t.by_name.get(&name)?;
    let pick = |cc: Option<&str>, admin: Option<&str>| {
        let v: Vec<City> = ids
            .iter()
            .map(|&i| t.cities[i as usize])
            .filter(|c| {
                cc.is_none_or(|cc| c.country == cc)
                    && admin.is_none_or(|a| c.admin1.eq_ignore_ascii_case(a))
            })
            .collect();
        (!v.is_empty()).then_some(v)
    };
    match qualifiers.as_slice() {
        [] => pick(given_country, None),
        [q] => {
            // "Phoenix, AZ": AZ is both Azerbaijan and Arizona. Try the country reading first
            // (unless a country was given separately), then the admin1 reading.
            let as_country = if given_country.is_none() {
                country_code(q)
            } else {
                None
            };
            as_country
                .and_then(|cc| pick(Some(cc), None))
                .or_else(|| pick(given_country, Some(q)))
        }
        [admin, q, ..] => {
            let cc = country_code(q)?;
            if given_country.is_some_and(|g| g != cc) {
                return None;
            }
            pick(Some(cc), Some(admin))
        }
    }
}

/// The nearest city (of at least `min_population`) to a point, with its distance in km.
pub fn nearest(p: LatLon, min_population: u64) -> Option<(City, f64)> {
    let t = table();
    let u = p.to_unit();
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in t.cities.iter().enumerate() {
        if c.population < min_population {
            // Sorted by population: nothing further qualifies.
            break;
        }
        let v = t.units[i];
        let dot = u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
        if best.is_none_or(|(_, b)| dot > b) {
            best = Some((i, dot));
        }
    }
    best.map(|(i, _)| (t.cities[i], unit_distance_km(u, t.units[i])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_completely() {
        assert!(all().len() > 34_000, "{}", all().len());
        assert_eq!(all()[0].name, "Shanghai");
        assert!(all().windows(2).all(|w| w[0].population >= w[1].population));
    }

    #[test]
    fn lookups() {
        let p = lookup("Phoenix", None).unwrap();
        assert_eq!((p.country, p.admin1), ("US", "AZ"));
        assert!((p.pos.lat - 33.4484).abs() < 1e-3);
        assert_eq!(lookup("phoenix, az", None).unwrap(), p);
        assert_eq!(lookup("Phoenix, AZ, US", None).unwrap(), p);
        assert_eq!(lookup("Phoenix", Some("United States")).unwrap(), p);
        assert_eq!(lookup("Sao Paulo", None).unwrap().name, "São Paulo");
        assert_eq!(lookup("São Paulo", None).unwrap().country, "BR");
        assert_eq!(lookup("Paris", None).unwrap().country, "FR");
        assert_eq!(lookup("Paris, US", None).unwrap().country, "US");
        assert_eq!(lookup("Paris, TX", None).unwrap().admin1, "TX");
        assert_eq!(lookup("London, Canada", None).unwrap().country, "CA");
        assert!(lookup("Xyzzyville", None).is_none());
        assert!(lookup("Paris", Some("Narnia")).is_none());
        assert!(lookup("", None).is_none());
        // Ambiguous names give every candidate, most populous first.
        let all = lookup_all("Udaipur, IN", None);
        assert!(all.len() >= 2, "{all:?}");
        assert!(all.windows(2).all(|w| w[0].population >= w[1].population));
        assert_eq!(lookup_all("Phoenix, AZ, US", None).len(), 1);
        assert!(lookup(" , ,", None).is_none());
    }

    #[test]
    fn nearest_city() {
        let (c, d) = nearest(LatLon::new(48.86, 2.35).unwrap(), 1_000_000).unwrap();
        assert_eq!(c.name, "Paris");
        assert!(d < 5.0);
        assert_eq!(c.label(), "Paris, FR");
    }
}
