//! `rampart incidents`: the guardrail incidents the gateway opened (one per `block`): list,
//! show one, export as JSON Lines. Excerpts are redacted when stored.

use super::out::outln;
use anyhow::bail;
use rampart_gateway::rfc3339;
use rampart_store::incidents::{Incident, Incidents};
use serde_json::{Value, json};

/// Arguments of `rampart incidents`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

use super::audit::{Export, Source, open, parse_since};

#[derive(clap::Subcommand)]
enum Command {
    /// The newest incidents, newest first.
    List {
        /// Only incidents at or after this time: RFC 3339, YYYY-MM-DD, or a duration ago (24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format: text or json.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        #[command(flatten)]
        source: Source,
    },
    /// One incident in full.
    Show {
        /// The incident's id (from `list`).
        id: i64,
        /// Output format: text or json.
        #[arg(long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
        #[command(flatten)]
        source: Source,
    },
    /// All incidents as JSON Lines, oldest first.
    Export(Export),
}

/// An incident as exported.
pub fn incident_json(i: &Incident) -> Value {
    let e = &i.entry;
    json!({
        "id": i.id,
        "time": rfc3339(e.ts_ms),
        "ts_ms": e.ts_ms,
        "request_id": e.request_id,
        "key_id": e.key_id,
        "key_name": e.key_name,
        "direction": e.direction,
        "rule": e.rule,
        "check": e.check,
        "policy": e.policy,
        "note": e.note,
        "excerpt": e.excerpt,
    })
}

/// An excerpt (text a client sent) on one line of at most `max` characters: control characters
/// become spaces, and bidi controls, which would reorder the line on the terminal, are escaped
/// as everywhere else ([`rampart_core::terminal_safe`]).
fn one_line(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let s = if s.chars().count() > max {
        format!("{}…", s.chars().take(max).collect::<String>())
    } else {
        s
    };
    rampart_core::terminal_safe(&s).into_owned()
}

/// Run the command; returns the exit code.
pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.command {
        Command::List {
            since: s,
            limit,
            format,
            source,
        } => {
            let since_ms = parse_since(s)?;
            let store = open(&source)?;
            let list = store.list_incidents(since_ms, limit)?;
            if format == "json" {
                let v: Vec<Value> = list.iter().map(incident_json).collect();
                outln!("{}", Value::Array(v));
                return Ok(0);
            }
            if list.is_empty() {
                outln!("no incidents");
                return Ok(0);
            }
            outln!(
                "{:>5}  {:<24}  {:<3}  {:<16}  {:<28}  excerpt",
                "id",
                "time",
                "dir",
                "key",
                "rule"
            );
            for i in &list {
                let e = &i.entry;
                outln!(
                    "{:>5}  {:<24}  {:<3}  {:<16}  {:<28}  {}",
                    i.id,
                    rfc3339(e.ts_ms),
                    e.direction,
                    one_line(&e.key_name, 16),
                    e.rule,
                    one_line(&e.excerpt, 60)
                );
            }
            Ok(0)
        }
        Command::Show { id, format, source } => {
            let store = open(&source)?;
            let Some(i) = store.incident(id)? else {
                bail!("no incident with id {id}");
            };
            if format == "json" {
                outln!("{}", incident_json(&i));
                return Ok(0);
            }
            let e = &i.entry;
            outln!("incident {}", i.id);
            outln!("  time:       {}", rfc3339(e.ts_ms));
            outln!("  request:    {}", e.request_id);
            outln!("  key:        {} ({})", e.key_name, e.key_id);
            outln!("  direction:  {}", e.direction);
            outln!("  rule:       {} ({})", e.rule, e.check);
            outln!("  policy:     {}", e.policy);
            outln!("  note:       {}", e.note);
            outln!("  excerpt:    {}", one_line(&e.excerpt, 400));
            Ok(0)
        }
        Command::Export(export) => export.write_jsonl(|store, since_ms, emit| {
            store.for_each_incident(since_ms, &mut |i| {
                emit(&incident_json(&i));
                Ok(())
            })?;
            Ok(())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn excerpts_are_one_line_and_cannot_reorder_the_terminal() {
        assert_eq!(one_line("a\nb\x1b[2Jc", 60), "a b [2Jc");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(
            one_line("invoice\u{202E}fdp.exe", 60),
            "invoice\\u{202e}fdp.exe"
        );
    }
}
