//! Guardrails on the inspection seam: runs `rampart_guard`'s checks per the key's policy
//! (`[guardrails]` in `rampart.toml`), turns findings into [`Decision`]s for the audit trail,
//! and opens an incident (written behind the response, with the audit batch) for every block.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use rampart_guard::{
    Direction, Finding, Guard, GuardrailsConfig, Mode, Policies, Policy, StreamScanner,
};
use rampart_store::incidents::NewIncident;

use crate::inspect::{Action, ChunkOutcome, Decision, Inspector, RequestInfo, ResponseInspector};
use crate::metrics::Route;
use crate::writer::AuditSender;

/// The guardrails inspector.
pub struct GuardInspector {
    guard: Arc<Guard>,
    policies: Policies,
    sink: AuditSender,
}

impl GuardInspector {
    /// Compile the policies; incidents go to `sink`.
    pub fn new(
        config: &GuardrailsConfig,
        sink: AuditSender,
    ) -> Result<GuardInspector, rampart_guard::PolicyError> {
        Ok(GuardInspector {
            guard: Arc::new(Guard::new()),
            policies: config.resolver()?,
            sink,
        })
    }
}

/// One decision per (action, rule), strongest first; notes name fields, never content. All
/// blocking rules fold into one decision (the first), so the client's error and the audit
/// record's `decision` name the same guardrail.
fn decisions(dir: Direction, findings: &[Finding]) -> Vec<Decision> {
    let mut out = per_rule(dir, findings);
    let blocks: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].action == Action::Block)
        .collect();
    if blocks.len() > 1 {
        let first = findings
            .iter()
            .find(|f| f.action == rampart_guard::Action::Block)
            .map(|f| f.rule.clone())
            .unwrap_or_default();
        let notes: Vec<String> = blocks
            .iter()
            .map(|&i| format!("{} ({})", out[i].rule, out[i].note))
            .collect();
        let mut merged = out[blocks[0]].clone();
        merged.rule = first;
        merged.note = notes.join("; ");
        out.retain(|d| d.action != Action::Block);
        out.insert(0, merged);
    }
    out
}

fn per_rule(dir: Direction, findings: &[Finding]) -> Vec<Decision> {
    let mut by: BTreeMap<(std::cmp::Reverse<rampart_guard::Action>, &str), (usize, &Finding)> =
        BTreeMap::new();
    for f in findings {
        by.entry((std::cmp::Reverse(f.action), f.rule.as_str()))
            .or_insert((0, f))
            .0 += 1;
    }
    by.into_iter()
        .map(|((a, rule), (n, f))| Decision {
            action: a.0,
            rule: rule.to_string(),
            note: format!(
                "{}: {}{}{}",
                dir.as_str(),
                f.note,
                f.field
                    .as_deref()
                    .map(|p| format!(" at {p}"))
                    .unwrap_or_default(),
                if n > 1 {
                    format!(" (×{n})")
                } else {
                    String::new()
                }
            ),
        })
        .collect()
}

fn incident(
    info: &RequestInfo,
    policy: &str,
    dir: Direction,
    findings: &[Finding],
    excerpt: Option<&str>,
) -> Option<NewIncident> {
    let f = findings
        .iter()
        .find(|f| f.action == rampart_guard::Action::Block)?;
    Some(NewIncident {
        ts_ms: crate::now_ms(),
        request_id: info.request_id.clone(),
        key_id: info.key_id.clone(),
        key_name: info.key_name.clone(),
        direction: dir.as_str().into(),
        rule: f.rule.clone(),
        check: f.check.into(),
        policy: policy.into(),
        excerpt: excerpt.unwrap_or_default().into(),
        note: f.note.clone(),
    })
}

fn inspects_responses(p: &Policy) -> bool {
    let o = &p.outbound;
    [o.secrets, o.pii, o.urls, o.harm]
        .iter()
        .any(|m| *m != Mode::Off)
}

impl Inspector for GuardInspector {
    fn inspect_request(&self, info: &RequestInfo, body: &mut Bytes) -> Vec<Decision> {
        let Some((name, policy)) = self.policies.for_key(&info.key_name) else {
            return Vec::new();
        };
        let out = self.guard.check_body(policy, Direction::In, body);
        if out.action == rampart_guard::Action::Block {
            if let Some(i) = incident(
                info,
                name,
                Direction::In,
                &out.findings,
                out.excerpt.as_deref(),
            ) {
                self.sink.incident(i);
            }
        } else if let Some(b) = out.body {
            *body = Bytes::from(b);
        }
        decisions(Direction::In, &out.findings)
    }

    fn response_inspector(&self, info: &RequestInfo) -> Option<Box<dyn ResponseInspector>> {
        let (name, policy) = self.policies.for_key(&info.key_name)?;
        // Embeddings and token counts carry no generated text.
        if matches!(info.route, Route::Embeddings | Route::CountTokens)
            || !inspects_responses(policy)
        {
            return None;
        }
        Some(Box::new(GuardResponse {
            scanner: StreamScanner::new(
                Arc::clone(&self.guard),
                Arc::clone(policy),
                info.route.is_anthropic(),
            ),
            info: info.clone(),
            policy: name.to_string(),
            sink: self.sink.clone(),
            reported: false,
        }))
    }
}

struct GuardResponse {
    scanner: StreamScanner,
    info: RequestInfo,
    policy: String,
    sink: AuditSender,
    reported: bool,
}

impl GuardResponse {
    fn report(&mut self) -> Vec<Finding> {
        let fs = self.scanner.take_findings();
        if self.scanner.blocked()
            && !self.reported
            && let Some(i) = incident(
                &self.info,
                &self.policy,
                Direction::Out,
                &fs,
                self.scanner.excerpt(),
            )
        {
            self.reported = true;
            self.sink.incident(i);
        }
        fs
    }
}

impl ResponseInspector for GuardResponse {
    fn on_chunk(&mut self, chunk: Bytes) -> ChunkOutcome {
        let out = self.scanner.push(&chunk);
        if out.end {
            ChunkOutcome::End(Bytes::from(out.bytes))
        } else {
            ChunkOutcome::Send(Bytes::from(out.bytes))
        }
    }

    fn on_end(&mut self) -> Bytes {
        Bytes::from(self.scanner.finish().bytes)
    }

    fn decisions(&mut self) -> Vec<Decision> {
        let fs = self.report();
        decisions(Direction::Out, &fs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_guardrails_section_parses_when_uncommented() {
        let ex = crate::config::EXAMPLE;
        let at = ex
            .find("# ── Guardrails")
            .expect("the example documents guardrails");
        let mut text = ex[..at].to_string();
        for line in ex[at..].lines() {
            let l = line.strip_prefix("# ").unwrap_or(line);
            let is_toml = l.starts_with("[guardrails")
                || ["enabled", "inbound.", "outbound.", "keys"]
                    .iter()
                    .any(|p| l.starts_with(p));
            if is_toml {
                text.push_str(l);
                text.push('\n');
            }
        }
        let c = crate::Config::parse(&text, "example".as_ref(), ".".as_ref()).unwrap();
        let g = c.guardrails.expect("section present");
        let r = g.resolver().unwrap();
        let (name, p) = r.for_key("support-eu").unwrap();
        assert_eq!(name, "support");
        assert_eq!(p.inbound.pii, Mode::Redact);
        let (name, p) = r.for_key("batch").unwrap();
        assert_eq!(name, "default");
        assert_eq!(p.outbound.harm, Mode::Block);
        assert!(p.outbound.safe_completion.is_some());
        // And a bad value names its field.
        let bad = format!("{text}\n[guardrails.policies.x]\ninbound.pii_kinds = [\"shoe\"]\n");
        let e = crate::Config::parse(&bad, "example".as_ref(), ".".as_ref()).unwrap_err();
        assert!(
            e.to_string()
                .contains("guardrails.policies.x.inbound.pii_kinds"),
            "{e}"
        );
    }

    #[test]
    fn several_blocks_fold_into_one_decision_naming_the_first() {
        let mk = |rule: &str, action| Finding {
            check: "x",
            rule: rule.into(),
            action,
            field: None,
            start: None,
            end: None,
            note: "n".into(),
        };
        let d = decisions(
            Direction::In,
            &[
                mk("injection.override", rampart_guard::Action::Block),
                mk("pii.email", rampart_guard::Action::Flag),
                mk("injection.prompt_leak", rampart_guard::Action::Block),
            ],
        );
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].action, Action::Block);
        assert_eq!(d[0].rule, "injection.override");
        assert!(d[0].note.contains("injection.prompt_leak"));
        assert_eq!(d[1].rule, "pii.email");
    }
}
