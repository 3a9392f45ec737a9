//! Package ecosystems and their naming rules.

use std::fmt;

/// A package ecosystem, as OSV names them (release suffixes such as `Debian:12` are kept apart,
/// in the OSV ecosystem string of a [`crate::Package`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// Python packages.
    PyPI,
    /// JavaScript packages.
    Npm,
    /// Rust crates.
    CratesIo,
    /// Go modules (and the Go standard library as `stdlib`).
    Go,
    /// Debian source packages (`Debian:12`).
    Debian,
    /// Ubuntu source packages (`Ubuntu:22.04:LTS`).
    Ubuntu,
    /// Alpine packages (`Alpine:v3.19`), keyed by origin package.
    Alpine,
    /// Ruby gems.
    RubyGems,
    /// PHP packages (Composer).
    Packagist,
    /// Anything else (Maven, NuGet, …): stored and matched by exact `versions` only.
    Other,
}

impl Ecosystem {
    /// The ecosystem of an OSV ecosystem string (`"Debian:12"` → `Debian`).
    pub fn from_osv(s: &str) -> Ecosystem {
        let base = s.split(':').next().unwrap_or("");
        match base {
            "PyPI" => Ecosystem::PyPI,
            "npm" => Ecosystem::Npm,
            "crates.io" => Ecosystem::CratesIo,
            "Go" => Ecosystem::Go,
            "Debian" => Ecosystem::Debian,
            "Ubuntu" => Ecosystem::Ubuntu,
            "Alpine" => Ecosystem::Alpine,
            "RubyGems" => Ecosystem::RubyGems,
            "Packagist" => Ecosystem::Packagist,
            _ => Ecosystem::Other,
        }
    }

    /// The OSV spelling of the ecosystem (without release suffix).
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::Other => "other",
        }
    }

    /// The ecosystems whose official OSV export `rampart db update` fetches by default.
    pub fn default_exports() -> &'static [&'static str] {
        &[
            "PyPI",
            "npm",
            "crates.io",
            "Go",
            "RubyGems",
            "Packagist",
            "Debian",
            "Alpine",
        ]
    }

    /// The name as the database keys it: PEP 503 for PyPI (`Foo_Bar.baz` → `foo-bar-baz`),
    /// lowercase with `_` as `-` for crates.io (crates.io treats them as the same crate), lowercase
    /// for Packagist, unchanged elsewhere (npm, Go, RubyGems and distributions are case-sensitive).
    ///
    /// ```
    /// use rampart_deps::Ecosystem;
    /// assert_eq!(Ecosystem::PyPI.normalize_name("LiteLLM__proxy.Extras"), "litellm-proxy-extras");
    /// ```
    pub fn normalize_name(self, name: &str) -> String {
        let name = name.trim();
        match self {
            Ecosystem::PyPI => {
                let mut out = String::with_capacity(name.len());
                let mut sep = false;
                for c in name.chars() {
                    if matches!(c, '-' | '_' | '.') {
                        sep = true;
                    } else {
                        if sep && !out.is_empty() {
                            out.push('-');
                        }
                        sep = false;
                        out.extend(c.to_lowercase());
                    }
                }
                out
            }
            Ecosystem::CratesIo => name.to_ascii_lowercase().replace('_', "-"),
            Ecosystem::Packagist => name.to_ascii_lowercase(),
            _ => name.to_string(),
        }
    }

    /// The package-url type (`pkg:<type>/…`).
    pub fn purl_type(self) -> &'static str {
        match self {
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "cargo",
            Ecosystem::Go => "golang",
            Ecosystem::Debian | Ecosystem::Ubuntu => "deb",
            Ecosystem::Alpine => "apk",
            Ecosystem::RubyGems => "gem",
            Ecosystem::Packagist => "composer",
            Ecosystem::Other => "generic",
        }
    }
}

impl serde::Serialize for Ecosystem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep503() {
        for (a, b) in [
            ("Django", "django"),
            ("zope.interface", "zope-interface"),
            ("a__b--c..d", "a-b-c-d"),
            ("Foo_Bar", "foo-bar"),
            ("litellm", "litellm"),
        ] {
            assert_eq!(Ecosystem::PyPI.normalize_name(a), b);
        }
    }

    #[test]
    fn other_ecosystems() {
        assert_eq!(
            Ecosystem::CratesIo.normalize_name("Serde_JSON"),
            "serde-json"
        );
        assert_eq!(Ecosystem::Npm.normalize_name("@Scope/Pkg"), "@Scope/Pkg");
        assert_eq!(
            Ecosystem::Packagist.normalize_name("Symfony/HTTP-Kernel"),
            "symfony/http-kernel"
        );
        assert_eq!(Ecosystem::from_osv("Debian:12"), Ecosystem::Debian);
        assert_eq!(Ecosystem::from_osv("Maven"), Ecosystem::Other);
    }
}
