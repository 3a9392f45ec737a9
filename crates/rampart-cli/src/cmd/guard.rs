//! `rampart guard check`: run the gateway's guardrail pipeline offline on standard input, to
//! test a policy before it guards traffic.
//!
//! Exit codes: 0 = allowed, flagged or redacted; 1 = blocked (with `--jsonl`: any line blocked);
//! 2 = usage error (bad policy file, unreadable input).

use super::out::outln;
use rampart_core::stderr_line;
use std::io::{BufRead, Read};
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
        /// Check many inputs: every line of standard input is one JSON value — a string, or an
        /// object whose `text` field is checked (with `--body`, the object is the API body) and
        /// whose `id` is echoed. One JSON result per line on stdout, in order; a bad line gets
        /// `{"line", "error"}` (and a message on stderr) and the rest go on.
        #[arg(long, conflicts_with = "format")]
        jsonl: bool,
        /// Also print the injection classifier's score (0..=1) of each plain-text input
        /// (`classifier_score`), whether or not it reaches the threshold: run a sample of your
        /// own traffic through it to choose `inbound.classifier_threshold`.
        #[arg(long, conflicts_with_all = ["body", "no_classifier"])]
        score: bool,
    },
}

/// What one check found, ready to print.
struct Checked {
    action: rampart_guard::Action,
    findings: Vec<rampart_guard::Finding>,
    text: String,
    /// With `--score`: the classifier's score of the input.
    score: Option<f32>,
}

/// What every check shares: the guard, the policy, the direction and the output options.
struct Ctx<'a> {
    guard: &'a Guard,
    policy: &'a Policy,
    dir: Direction,
    show_secrets: bool,
    score: bool,
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
        jsonl,
        score,
    } = args.command;
    if score && direction != "in" {
        bail!("--score applies to prompts (--direction in): the classifier checks requests only");
    }
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
    let mut guard = Guard::new();
    if no_classifier {
        guard = guard.without_classifier();
    }
    let ctx = Ctx {
        guard: &guard,
        policy: &policy,
        dir,
        show_secrets,
        score,
    };
    if jsonl {
        return check_lines(&ctx, body);
    }
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_INPUT + 1)
        .read_to_end(&mut input)
        .context("cannot read standard input")?;
    if input.len() as u64 > MAX_INPUT {
        bail!("standard input is larger than {MAX_INPUT} bytes");
    }
    let Checked {
        action,
        findings,
        text,
        score,
    } = if body {
        check_body(&ctx, &input)
    } else {
        let text = match String::from_utf8(input) {
            Ok(t) => t,
            Err(e) => {
                stderr_line!(
                    "rampart: warning: standard input is not valid UTF-8; invalid bytes read as U+FFFD"
                );
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        check_text(&ctx, &text)
    };
    match format.as_str() {
        "json" => {
            let mut v = serde_json::json!({
                "action": action,
                "findings": findings,
                "text": text,
            });
            if let Some(s) = score {
                v["classifier_score"] = serde_json::json!(s);
            }
            outln!("{v}");
        }
        _ => {
            outln!("action: {}", action.as_str());
            if let (Some(s), Some(t)) = (score, guard.classifier_threshold(&policy)) {
                outln!("classifier score: {s:.3} (fires at {t:.3})");
            }
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

fn check_text(ctx: &Ctx<'_>, text: &str) -> Checked {
    let out = ctx.guard.check_text(ctx.policy, ctx.dir, text);
    // Spans refer to the input; when the guard rewrote nothing they still apply.
    let shown = if ctx.show_secrets || !out.findings.iter().any(unredacted_secret) {
        out.text
    } else if out.text == text {
        mask_secrets(text, &out.findings)
    } else {
        WITHHELD.to_string()
    };
    Checked {
        action: out.action,
        findings: out.findings,
        text: shown,
        score: if ctx.score {
            ctx.guard.classifier_score(text)
        } else {
            None
        },
    }
}

fn check_body(ctx: &Ctx<'_>, input: &[u8]) -> Checked {
    let out = ctx.guard.check_body(ctx.policy, ctx.dir, input);
    let text = if out.findings.iter().any(unredacted_secret) && !ctx.show_secrets {
        WITHHELD.to_string()
    } else {
        String::from_utf8_lossy(out.body.as_deref().unwrap_or(input)).into_owned()
    };
    Checked {
        action: out.action,
        findings: out.findings,
        text,
        score: None,
    }
}

/// `--jsonl`: one check per input line, one result per output line.
fn check_lines(ctx: &Ctx<'_>, body: bool) -> anyhow::Result<u8> {
    use std::io::Write;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut line_no, mut blocked, mut errors) = (0u64, false, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut input)
            .take(MAX_INPUT + 1)
            .read_until(b'\n', &mut buf)
            .context("cannot read standard input")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let (id, result) = if buf.len() as u64 > MAX_INPUT {
            // Skip the rest of an over-long line.
            while !buf.ends_with(b"\n") {
                buf.clear();
                if (&mut input).take(MAX_INPUT).read_until(b'\n', &mut buf)? == 0 {
                    break;
                }
            }
            (None, Err(format!("line is larger than {MAX_INPUT} bytes")))
        } else {
            check_line(ctx, body, &buf)
        };
        let mut v = match result {
            Ok(c) => {
                blocked |= c.action == rampart_guard::Action::Block;
                let mut v = serde_json::json!({
                    "line": line_no,
                    "action": c.action,
                    "findings": c.findings,
                    "text": c.text,
                });
                if let Some(s) = c.score {
                    v["classifier_score"] = serde_json::json!(s);
                }
                v
            }
            Err(e) => {
                errors += 1;
                stderr_line!("rampart: stdin:{line_no}: {e}");
                serde_json::json!({"line": line_no, "error": e})
            }
        };
        if let Some(id) = id {
            v["id"] = id;
        }
        serde_json::to_writer(&mut out, &v)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    if errors > 0 {
        stderr_line!("rampart: {errors} of {line_no} lines could not be checked");
    }
    Ok(u8::from(blocked))
}

/// One `--jsonl` line: a JSON string, or an object with `text` (or, with `--body`, the body).
fn check_line(
    ctx: &Ctx<'_>,
    body: bool,
    line: &[u8],
) -> (Option<serde_json::Value>, Result<Checked, String>) {
    let v: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return (None, Err(format!("invalid JSON: {e}"))),
    };
    if body {
        if !v.is_object() {
            return (
                None,
                Err("with --body every line must be a JSON object (an API body)".into()),
            );
        }
        return (None, Ok(check_body(ctx, line)));
    }
    match v {
        serde_json::Value::String(t) => (None, Ok(check_text(ctx, &t))),
        serde_json::Value::Object(mut o) => {
            let id = o.remove("id");
            let checked = match o.remove("text") {
                Some(serde_json::Value::String(t)) => Ok(check_text(ctx, &t)),
                Some(_) => Err("field `text` is not a string".into()),
                None => Err("missing field `text`".into()),
            };
            (id, checked)
        }
        _ => (
            None,
            Err("expected a JSON string or an object with a `text` field".into()),
        ),
    }
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
