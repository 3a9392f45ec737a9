//! `rampart guard check`: run the gateway's guardrail pipeline offline on standard input, to
//! test a policy before it guards traffic.
//!
//! Exit codes: 0 = allowed, flagged or redacted; 1 = blocked; 2 = usage error (bad policy file,
//! unreadable input).

use super::out::outln;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use rampart_guard::{Direction, Guard, Policy};

/// Largest input read from standard input.
const MAX_INPUT: u64 = 64 << 20;

/// Arguments of `rampart guard`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check text from standard input; print the action, the findings and the redacted text.
    Check {
        /// Which way the text travels: `in` (a prompt) or `out` (a model's answer).
        #[arg(long, value_parser = ["in", "out"])]
        direction: String,
        /// A policy file (the body of one `[guardrails.policies.<name>]` table); without it the
        /// built-in default: block injection/jailbreaks and secrets inbound, malicious URLs and
        /// secrets outbound.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Output format: json or text.
        #[arg(long, default_value = "json", value_parser = ["json", "text"])]
        format: String,
        /// The input is an API JSON body (OpenAI or Anthropic request/response), not plain text.
        #[arg(long)]
        body: bool,
        /// Rules only: do not run the injection classifier.
        #[arg(long)]
        no_classifier: bool,
        /// Print secrets the policy did not redact (flagged or blocked ones) in the output text;
        /// by default they are masked as `[REDACTED:<rule>]`.
        #[arg(long)]
        show_secrets: bool,
    },
}

/// Run the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let Command::Check {
        direction,
        policy,
        format,
        body,
        no_classifier,
        show_secrets,
    } = args.command;
    let dir = if direction == "in" {
        Direction::In
    } else {
        Direction::Out
    };
    let policy = match &policy {
        None => Policy::builtin(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read policy {}", p.display()))?;
            Policy::from_toml(&text).map_err(|e| anyhow::anyhow!("policy {}: {e}", p.display()))?
        }
    };
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)
        .context("cannot read standard input")?;
    if input.len() as u64 > MAX_INPUT {
        bail!("standard input is larger than {MAX_INPUT} bytes");
    }
    let mut guard = Guard::new();
    if no_classifier {
        guard = guard.without_classifier();
    }
    let (action, findings, text) = if body {
        let out = guard.check_body(&policy, dir, &input);
        let text = if out.findings.iter().any(unredacted_secret) && !show_secrets {
            WITHHELD.to_string()
        } else {
            String::from_utf8_lossy(out.body.as_deref().unwrap_or(&input)).into_owned()
        };
        (out.action, out.findings, text)
    } else {
        let text = match String::from_utf8(input) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "rampart: warning: standard input is not valid UTF-8; invalid bytes read as U+FFFD"
                );
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        let out = guard.check_text(&policy, dir, &text);
        // Spans refer to the input; when the guard rewrote nothing they still apply.
        let shown = if show_secrets || !out.findings.iter().any(unredacted_secret) {
            out.text
        } else if out.text == text {
            mask_secrets(&text, &out.findings)
        } else {
            WITHHELD.to_string()
        };
        (out.action, out.findings, shown)
    };
    match format.as_str() {
        "json" => {
            let v = serde_json::json!({
                "action": action,
                "findings": findings,
                "text": text,
            });
            outln!("{v}");
        }
        _ => {
            outln!("action: {}", action.as_str());
            for f in &findings {
                let at = match (f.start, f.end) {
                    (Some(s), Some(e)) => format!(" at bytes {s}..{e}"),
                    _ => String::new(),
                };
                let field = f
                    .field
                    .as_deref()
                    .map(|p| format!(" in {p}"))
                    .unwrap_or_default();
                outln!(
                    "  {:<6} {}{field}{at}: {}",
                    f.action.as_str(),
                    f.rule,
                    f.note
                );
            }
            outln!("text:\n{text}");
        }
    }
    Ok(u8::from(action == rampart_guard::Action::Block))
}

const WITHHELD: &str =
    "(withheld: the input holds a secret the policy did not redact; --show-secrets prints it)";

/// A secret the policy flagged or blocked: it is still in the text.
fn unredacted_secret(f: &rampart_guard::Finding) -> bool {
    f.check == "secrets" && f.action != rampart_guard::Action::Redact
}

/// `text` with the span of every secret still in it replaced by `[REDACTED:<rule>]`, the way the
/// guard redacts.
fn mask_secrets(text: &str, findings: &[rampart_guard::Finding]) -> String {
    let masks: Vec<rampart_guard::Finding> = findings
        .iter()
        .filter(|f| unredacted_secret(f) && f.field.is_none())
        .map(|f| rampart_guard::Finding {
            action: rampart_guard::Action::Redact,
            ..f.clone()
        })
        .collect();
    rampart_guard::redact(text, &masks)
}
