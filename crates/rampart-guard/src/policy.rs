//! Policies: which checks run in which direction with which action, and which keys they apply to.
//!
//! In `rampart.toml`:
//!
//! ```toml
//! [guardrails]
//! # enabled = true                      # the section's presence turns guardrails on
//!
//! [guardrails.policies.default]         # keys matched by no other policy
//! inbound.secrets = "redact"
//! inbound.injection = "block"
//!
//! [guardrails.policies.support-bots]
//! keys = ["support-*", "helpdesk"]      # globs over key *names*
//! inbound.pii = "redact"
//! outbound.harm = "block"
//! outbound.safe_completion = "I can't help with that. If you are struggling, please reach out to someone you trust or a local crisis line."
//! ```
//!
//! A key takes the policy with the most specific (longest) glob matching its name; a key no
//! glob matches takes the policy named `default`; with no `default` policy it is not inspected.
//! With `[guardrails]` present but no policies at all, every key gets [`Policy::builtin`].
//!
//! Every check takes `"off" | "flag" | "redact" | "block"`. Checks with nothing to rewrite
//! (injection, harm, size, unknown parts) treat `redact` as `block`. Unset fields take the
//! built-in default: **inbound** secrets `block`, injection `block`, everything else off;
//! **outbound** secrets `block`, URLs `block` (verdict `malicious`), everything else off.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::Action;
use crate::pii::PiiKind;

/// A check's configured action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The check does not run.
    #[default]
    Off,
    /// Record, let pass.
    Flag,
    /// Rewrite the matched span (`[REDACTED:<rule>]`).
    Redact,
    /// Refuse.
    Block,
}

impl Mode {
    /// The action a hit of this check takes (`None` when off).
    pub fn action(self) -> Option<Action> {
        match self {
            Mode::Off => None,
            Mode::Flag => Some(Action::Flag),
            Mode::Redact => Some(Action::Redact),
            Mode::Block => Some(Action::Block),
        }
    }

    /// For checks with no span to rewrite: `redact` means `block`.
    pub fn unrewritable(self) -> Option<Action> {
        match self {
            Mode::Redact => Some(Action::Block),
            m => m.action(),
        }
    }
}

/// The classifier's setting: a bool (follow `injection`) or a mode of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Classifier {
    /// `true`: hits take the `injection` action; `false`: off.
    Bool(bool),
    /// A mode of its own (`redact` means `block`).
    Mode(Mode),
}

impl Classifier {
    /// The action a classifier hit takes, given the `injection` mode.
    pub fn action(self, injection: Mode) -> Option<Action> {
        match self {
            Classifier::Bool(true) => injection.unrewritable(),
            Classifier::Bool(false) => None,
            Classifier::Mode(m) => m.unrewritable(),
        }
    }
}

/// Which URL verdicts a URL check acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UrlLevel {
    /// `suspicious` and `malicious`.
    Suspicious,
    /// `malicious` only.
    #[default]
    Malicious,
}

/// Checks on requests (client → model).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inbound {
    /// Secrets (all scanner rules).
    pub secrets: Mode,
    /// Personal data.
    pub pii: Mode,
    /// Which personal data kinds (names as in [`PiiKind::as_str`]); all when empty.
    pub pii_kinds: Vec<String>,
    /// Prompt injection and jailbreaks (rules + classifier).
    pub injection: Mode,
    /// The classifier in addition to the rules: `true` (acts like `injection`), `false`, or
    /// its own mode, e.g. `"flag"` to record but not block what only the classifier sees.
    pub classifier: Classifier,
    /// The classifier score (0..=1) at or above which it fires. `None`: the model's own
    /// threshold (chosen at 1 % false positives on its training data, about 0.633). Higher
    /// values block fewer benign requests and catch fewer injections; the README's guardrails
    /// section has the measured trade-off.
    pub classifier_threshold: Option<f32>,
    /// Largest request body in bytes (`None`: no limit beyond the server's).
    pub max_bytes: Option<usize>,
    /// Largest estimated prompt size in tokens (about 4 bytes of text per token).
    pub max_tokens: Option<usize>,
    /// What to do with parts the checks cannot read (images, audio, files): `off` passes them.
    pub unknown_parts: Mode,
}

impl Default for Inbound {
    fn default() -> Self {
        Inbound {
            secrets: Mode::Block,
            pii: Mode::Off,
            pii_kinds: Vec::new(),
            injection: Mode::Block,
            classifier: Classifier::Bool(true),
            classifier_threshold: None,
            max_bytes: None,
            max_tokens: None,
            unknown_parts: Mode::Off,
        }
    }
}

/// Checks on responses (model → client).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Outbound {
    /// Secrets leaking back.
    pub secrets: Mode,
    /// Personal data leaking back.
    pub pii: Mode,
    /// Which personal data kinds; all when empty.
    pub pii_kinds: Vec<String>,
    /// Links whose verdict reaches `url_level`.
    pub urls: Mode,
    /// The lowest verdict the URL check acts on.
    pub url_level: UrlLevel,
    /// Self-harm and violence encouragement.
    pub harm: Mode,
    /// When `harm` blocks, answer with this message (as a normal completion) instead of an error.
    pub safe_completion: Option<String>,
    /// Largest non-streamed response body scanned whole; a larger one is blocked.
    pub max_response_bytes: usize,
    /// Bytes of streamed text held back so that matches split across chunks are still caught.
    pub stream_holdback_bytes: usize,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            secrets: Mode::Block,
            pii: Mode::Off,
            pii_kinds: Vec::new(),
            urls: Mode::Block,
            url_level: UrlLevel::Malicious,
            harm: Mode::Off,
            safe_completion: None,
            max_response_bytes: 8 * 1024 * 1024,
            stream_holdback_bytes: 512,
        }
    }
}

/// One policy.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Globs over key names this policy applies to.
    pub keys: Vec<String>,
    /// Request checks.
    pub inbound: Inbound,
    /// Response checks.
    pub outbound: Outbound,
}

/// A policy problem (names the field).
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    /// Dotted field path.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Policy {
    /// The built-in default: block injection/jailbreaks and secrets inbound; block malicious
    /// URLs and secrets outbound.
    pub fn builtin() -> Policy {
        Policy::default()
    }

    /// Parse a policy file (the body of one `[guardrails.policies.<name>]` table).
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError {
            field: "policy".into(),
            message: e.to_string(),
        })?;
        p.validate("")?;
        Ok(p)
    }

    /// Check names and values.
    pub fn validate(&self, prefix: &str) -> Result<(), PolicyError> {
        for (dir, kinds) in [
            ("inbound", &self.inbound.pii_kinds),
            ("outbound", &self.outbound.pii_kinds),
        ] {
            for k in kinds {
                if PiiKind::from_name(k).is_none() {
                    return Err(PolicyError {
                        field: format!("{prefix}{dir}.pii_kinds"),
                        message: format!(
                            "unknown kind `{k}` (known: {})",
                            PiiKind::ALL.map(PiiKind::as_str).join(", ")
                        ),
                    });
                }
            }
        }
        if let Some(t) = self.inbound.classifier_threshold
            && !(t > 0.0 && t <= 1.0)
        {
            return Err(PolicyError {
                field: format!("{prefix}inbound.classifier_threshold"),
                message: format!("{t} is not a score in (0, 1]"),
            });
        }
        for g in &self.keys {
            globset::Glob::new(g).map_err(|e| PolicyError {
                field: format!("{prefix}keys"),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    pub(crate) fn kinds(names: &[String]) -> Vec<PiiKind> {
        if names.is_empty() {
            PiiKind::ALL.to_vec()
        } else {
            names.iter().filter_map(|n| PiiKind::from_name(n)).collect()
        }
    }
}

/// `[guardrails]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardrailsConfig {
    /// Turn the guardrails off without deleting the section.
    pub enabled: bool,
    /// Policies by name.
    pub policies: BTreeMap<String, Policy>,
}

impl Default for GuardrailsConfig {
    fn default() -> Self {
        GuardrailsConfig {
            enabled: true,
            policies: BTreeMap::new(),
        }
    }
}

impl GuardrailsConfig {
    /// Validate every policy; the error names `guardrails.policies.<name>.<field>`.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (name, p) in &self.policies {
            p.validate(&format!("guardrails.policies.{name}."))?;
        }
        Ok(())
    }

    /// Compile into a resolver from key names to policies.
    pub fn resolver(&self) -> Result<Policies, PolicyError> {
        self.validate()?;
        let mut globs = Vec::new();
        for (name, p) in &self.policies {
            for g in &p.keys {
                let m = globset::Glob::new(g)
                    .map_err(|e| PolicyError {
                        field: format!("guardrails.policies.{name}.keys"),
                        message: e.to_string(),
                    })?
                    .compile_matcher();
                globs.push((g.len(), name.clone(), m));
            }
        }
        // Most specific first; ties by policy name.
        globs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let policies: BTreeMap<String, std::sync::Arc<Policy>> = if self.policies.is_empty() {
            BTreeMap::from([(
                "default".to_string(),
                std::sync::Arc::new(Policy::builtin()),
            )])
        } else {
            self.policies
                .iter()
                .map(|(k, v)| (k.clone(), std::sync::Arc::new(v.clone())))
                .collect()
        };
        Ok(Policies {
            enabled: self.enabled,
            globs: globs.into_iter().map(|(_, n, m)| (n, m)).collect(),
            policies,
        })
    }
}

/// Resolves a key name to its policy.
#[derive(Clone, Debug)]
pub struct Policies {
    enabled: bool,
    globs: Vec<(String, globset::GlobMatcher)>,
    policies: BTreeMap<String, std::sync::Arc<Policy>>,
}

impl Policies {
    /// The policy (and its name) for the key named `key_name`.
    pub fn for_key(&self, key_name: &str) -> Option<(&str, &std::sync::Arc<Policy>)> {
        if !self.enabled {
            return None;
        }
        let name = self
            .globs
            .iter()
            .find(|(_, g)| g.is_match(key_name))
            .map(|(n, _)| n.as_str())
            .unwrap_or("default");
        self.policies
            .get_key_value(name)
            .map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_the_most_specific_policy_or_default() {
        let c: GuardrailsConfig = toml::from_str(
            r#"
            [policies.default]
            inbound.pii = "flag"
            [policies.support]
            keys = ["support-*"]
            inbound.pii = "redact"
            [policies.vip]
            keys = ["support-vip-*"]
            inbound.injection = "off"
            "#,
        )
        .unwrap();
        let r = c.resolver().unwrap();
        assert_eq!(r.for_key("support-eu").unwrap().0, "support");
        assert_eq!(r.for_key("support-vip-1").unwrap().0, "vip");
        assert_eq!(r.for_key("batch").unwrap().0, "default");
        let vip = r.for_key("support-vip-1").unwrap().1;
        assert_eq!(vip.inbound.injection, Mode::Off);
        assert_eq!(
            vip.inbound.secrets,
            Mode::Block,
            "unset fields keep defaults"
        );
    }

    #[test]
    fn no_default_means_unmatched_keys_are_not_inspected_and_empty_means_builtin() {
        let c: GuardrailsConfig = toml::from_str("[policies.a]\nkeys = [\"a*\"]\n").unwrap();
        let r = c.resolver().unwrap();
        assert!(r.for_key("b").is_none());
        assert!(r.for_key("abc").is_some());
        let r = GuardrailsConfig::default().resolver().unwrap();
        assert_eq!(r.for_key("x").unwrap().1.outbound.urls, Mode::Block);
        let off: GuardrailsConfig = toml::from_str("enabled = false").unwrap();
        assert!(off.resolver().unwrap().for_key("x").is_none());
    }

    #[test]
    fn bad_fields_are_named() {
        let p = Policy::from_toml("inbound.classifier = \"flag\"").unwrap();
        assert_eq!(p.inbound.classifier.action(Mode::Block), Some(Action::Flag));
        let p = Policy::from_toml("inbound.classifier = false").unwrap();
        assert_eq!(p.inbound.classifier.action(Mode::Block), None);
        assert_eq!(
            Policy::builtin().inbound.classifier.action(Mode::Block),
            Some(Action::Block)
        );
        let e = Policy::from_toml("inbound.pii_kinds = [\"shoe_size\"]").unwrap_err();
        assert!(e.to_string().contains("inbound.pii_kinds"), "{e}");
        assert!(Policy::from_toml("inbound.secrets = \"maybe\"").is_err());
        assert!(Policy::from_toml("inbound.colour = \"red\"").is_err());
        // In a gateway config the error names the policy too.
        let c: GuardrailsConfig =
            toml::from_str("[policies.default]\ninbound.classifier_threshold = 1.5\n").unwrap();
        let e = c.resolver().unwrap_err();
        assert_eq!(
            e.field, "guardrails.policies.default.inbound.classifier_threshold",
            "{e}"
        );
    }
}
