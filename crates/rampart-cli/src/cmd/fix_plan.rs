//! `rampart fix-plan`: the smallest upgrades that fix the known advisories of a project.

use anyhow::{Result, bail};
use rampart_core::{stderr_line, terminal_safe as safe};
use rampart_deps::fixplan::{self, Action};
use rampart_deps::{DepsDetector, walk};

use std::path::PathBuf;

use super::out::{flush_out, outln};

/// Arguments of `rampart fix-plan`.
#[derive(clap::Args)]
#[command(after_help = "\
Reads Cargo.lock, package-lock.json/npm-shrinkwrap.json, yarn.lock, pnpm-lock.yaml, requirements*.txt
(with -r includes), poetry.lock, uv.lock, Pipfile.lock, pdm.lock, pylock.toml, go.mod, Gemfile.lock,
composer.lock, and installed packages (*.dist-info/METADATA, *.egg-info, node_modules/**/package.json,
var/lib/dpkg/status, lib/apk/db/installed) under PATH, matches them against the offline advisory
database (`rampart db update`), and proposes for each vulnerable package the lowest version that
fixes all its known advisories and is not itself affected or malicious (patch before minor before
major). Targets are the fixed versions named by advisories: the database does not list every
release. Exit codes: 0 = nothing vulnerable, 1 = vulnerable or malicious packages, 2 = error, or
nothing vulnerable found but a lockfile could not be read (it is named; the plan does not cover it).")]
pub struct Args {
    /// Directory or lockfile.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// Advisory database (default: $RAMPART_HOME/osv.rdb).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// List every skipped entry (unpinned requirements, local packages…), not only the first 20.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Run `rampart fix-plan`.
pub fn run(args: Args) -> Result<u8> {
    let r = run_inner(args);
    flush_out()?;
    r
}

fn run_inner(args: Args) -> Result<u8> {
    if !args.path.exists() {
        bail!("{}: no such file or directory", args.path.display());
    }
    let det =
        DepsDetector::open(args.db.as_deref())?.with_include_reader(walk::disk_include_reader());
    let out = super::scan::inventory(&args.path, &det);
    let limit = if args.verbose { usize::MAX } else { 20 };
    for s in out.skipped.iter().take(limit) {
        stderr_line!("rampart: skipped {}: {}", s.path, s.reason);
    }
    if out.skipped.len() > limit {
        stderr_line!(
            "rampart: … and {} more skipped entries (use --verbose)",
            out.skipped.len() - limit
        );
    }
    let inventory = det.take_inventory();
    let Some(db) = det.database() else {
        bail!("no advisory database");
    };
    let mut plan = fixplan::plan(db, &inventory)?;
    // A lockfile that produced a read error and no inventory was not checked at all.
    let unreadable = rampart_deps::unread_files(&out.skipped, &inventory);
    plan.unreadable = unreadable;
    if args.format == "json" {
        let json = serde_json::to_string_pretty(&plan)?;
        outln!("{json}");
    } else {
        print_table(&plan);
    }
    Ok(if !plan.manifests.is_empty() {
        1
    } else if !plan.unreadable.is_empty() {
        2
    } else {
        0
    })
}

fn print_table(plan: &fixplan::Plan) {
    let unreadable = || {
        if !plan.unreadable.is_empty() {
            outln!(
                "Not checked: {} file{} could not be read (listed above): {}.",
                plan.unreadable.len(),
                if plan.unreadable.len() == 1 { "" } else { "s" },
                plan.unreadable
                    .iter()
                    .map(|p| safe(p).into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    };
    if plan.manifests.is_empty() {
        outln!(
            "No known vulnerable or malicious packages among {} checked.",
            plan.packages_checked
        );
        unreadable();
        return;
    }
    for m in &plan.manifests {
        outln!("{}", safe(&m.manifest));
        let rows: Vec<([String; 4], String)> = m
            .items
            .iter()
            .map(|i| {
                let action = match &i.action {
                    Action::Upgrade { to, change } => {
                        let size = match change {
                            fixplan::Change::Patch => "patch",
                            fixplan::Change::Minor => "minor",
                            fixplan::Change::Major => "major",
                        };
                        let mut s = format!("upgrade to {to} ({size})");
                        if !i.unfixed.is_empty() {
                            s.push_str(&format!(", still open: {}", i.unfixed.join(", ")));
                        }
                        s
                    }
                    Action::Remove => {
                        "REMOVE: malicious release; treat the host as compromised".to_string()
                    }
                    Action::NoFix => "no fixed version known".to_string(),
                };
                // How a transitive package gets in (the direct dependency to look at first),
                // and whether only development needs it (it does not ship).
                let mut notes = Vec::new();
                if !i.via.is_empty() {
                    notes.push(format!("via {}", i.via.join(" > ")));
                }
                if i.package.dev {
                    notes.push("development dependency only".to_string());
                }
                let via = safe(&notes.join("; ")).into_owned();
                (
                    [
                        &i.package.name,
                        &i.package.version,
                        &action,
                        &i.advisories.join(", "),
                    ]
                    .map(|s| safe(s).into_owned()),
                    via,
                )
            })
            .collect();
        let header = (
            ["PACKAGE", "INSTALLED", "ACTION", "ADVISORIES"].map(String::from),
            String::new(),
        );
        let lines = || std::iter::once(&header).chain(&rows);
        let mut w = [0usize; 3];
        for (r, _) in lines() {
            for k in 0..3 {
                w[k] = w[k].max(r[k].chars().count());
            }
        }
        for (r, via) in lines() {
            outln!(
                "  {:<w0$}  {:<w1$}  {:<w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            );
            if !via.is_empty() {
                outln!("    {via}");
            }
        }
        outln!();
    }
    outln!(
        "{} ({} package{} checked).",
        plan.headline(),
        plan.packages_checked,
        if plan.packages_checked == 1 { "" } else { "s" }
    );
    unreadable();
    outln!("Note: {}", plan.note);
}
