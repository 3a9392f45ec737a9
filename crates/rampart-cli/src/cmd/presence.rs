//! `rampart presence`: latency-based verification of where a user really is.

use super::out::outln;
use anyhow::Context;
use rampart_core::{stderr_line, terminal_safe as safe};
use rampart_presence::baseline::MODEL_VERSION;
use rampart_presence::simulate::{SimConfig, simulate};
use rampart_presence::{
    Analyzer, Config, Landmarks, Prior, SessionReport, TravelReport, UserBaseline, Verdict,
};
use rampart_store::Store;
use rampart_store::presence::{BaselineRecord, PresenceBaselines, PriorRecord};
use std::cell::RefCell;
use std::io::{BufRead, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Arguments of `rampart presence`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// What `rampart presence` does.
#[derive(clap::Subcommand, Debug)]
pub enum Action {
    /// Judge sessions: physical RTT bounds, delay region, relays, keystrokes, impossible travel.
    Analyze(AnalyzeArgs),
    /// Write a synthetic, physically grounded data set with ground-truth labels.
    Simulate(SimulateArgs),
    /// Which landmarks to measure for a claimed place: the nearest, and a ring spread in bearing.
    Plan(PlanArgs),
}

/// Output formats of `rampart presence analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One row per session, reasons below it, then impossible travel and a summary.
    Table,
    /// `{"sessions": [...], "travel": [...], "summary": {...}, "errors": [...]}`.
    Json,
    /// One JSON object per line: `{"session": ...}`, `{"travel": ...}`, then `{"summary": ...}`.
    Jsonl,
}

/// Arguments of `rampart presence analyze`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
EVENTS is JSON Lines (`-` for stdin), one event per line. Every line has `type`, `session` and
`t_ms` (server time, ms). By type:
  rtt          landmark (an id from --landmarks, or inline {\"id\",\"lat\",\"lon\"}), rtt_ms
  interaction  stimulus_ms, response_ms (server times of a stimulus and of the next input);
               optional rtt_ms (the connection's network RTT), optional landmark (the server)
  keystroke    (t_ms is the server receive time)
  login        user, claimed: {\"lat\",\"lon\"[,\"radius_km\"]} or {\"city\"[,\"country\"][,\"radius_km\"]}
  end          the session is over
Extra fields are ignored. The landmarks file is a JSON array, JSON Lines or CSV of id, lat, lon
[, radius_km]. City names resolve against the embedded GeoNames table (cities above 15,000
people; CC BY 4.0, geonames.org).

Verdicts: impossible (a minimum RTT below the vacuum speed-of-light bound for the claimed place,
at least 2 samples; never from statistics) > relay-suspected (interaction loops longer than the
network and the user's baseline explain, with keys typed apart arriving together as extra
evidence when the session typed >= 100 intervals; added delay with a 95 % CI) > suspicious
(claim outside the delay region of >= 3 landmarks, or far less likely than another place by a
likelihood-ratio test on those RTTs, RTT faster than fibre, keystroke bunching, impossible travel
faster than --travel-kmh) > consistent.

Per-user baselines and the population prior are kept in the SQLite store (--db, default
$RAMPART_HOME/rampart.db) and updated from sessions without a relay or impossibility verdict;
--no-store runs offline (baselines are then learned within the run only).

Bad lines are reported on stderr with their line number and skipped; the run goes on. Input is
streamed: memory is bounded by the number of open sessions, not the file size.

Exit codes:
  0  every session is consistent and no impossible travel was found
  1  at least one session is suspicious, relay-suspected or impossible, or impossible travel
  2  usage error, unreadable input or landmarks file, or a store error")]
pub struct AnalyzeArgs {
    /// Events file (JSON Lines); `-` reads stdin.
    pub events: PathBuf,
    /// Landmarks file (JSON array, JSON Lines or CSV with id, lat, lon[, radius_km]).
    #[arg(long, value_name = "FILE")]
    pub landmarks: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// SQLite store for baselines (default: $RAMPART_HOME/rampart.db; RAMPART_HOME defaults to
    /// the user data directory + /rampart).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Do not read or write the store: a pure offline run.
    #[arg(long, conflicts_with = "db")]
    pub no_store: bool,
    /// Analysis settings as JSON (any subset of the fields of `rampart_presence::Config`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Travel speed above which two logins are impossible travel, km/h.
    #[arg(long, value_name = "KMH")]
    pub travel_kmh: Option<f64>,
    /// z-score above which a session is relay-suspected (default 3.0): the loops' z, or the
    /// larger of it and (z_loops + z_keys)/√2 when the session has keystrokes to judge.
    #[arg(long, value_name = "Z")]
    pub relay_z: Option<f64>,
    /// Landmarks needed to judge a claim against the delay region and the likelihood test
    /// (default 3).
    #[arg(long, value_name = "N")]
    pub min_landmarks: Option<usize>,
    /// Stream-time idleness after which a session without an `end` event is judged, ms.
    #[arg(long, value_name = "MS")]
    pub session_idle_ms: Option<f64>,
    /// Do not update baselines or the prior (judge only).
    #[arg(long)]
    pub no_learn: bool,
    /// Line errors printed at most (all are counted).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_errors: usize,
    /// Print nothing on stderr but fatal errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Built-in simulator profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// The parameters the detectors were developed against.
    Default,
    /// Every distribution moved, other cities and landmarks: for testing on data not tuned on.
    Alternative,
}

/// Arguments of `rampart presence simulate`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
Writes time-sorted events (JSON Lines) to --out, one ground-truth label per session to --labels
(default OUT.labels.jsonl) and the landmarks to --landmarks-out (default OUT.landmarks.json).
Every parameter of every distribution can be set in a JSON --config file (see
rampart_presence::simulate::SimConfig; missing fields take the profile's values).

Exit codes: 0 written, 2 usage error, invalid configuration or write error.")]
pub struct SimulateArgs {
    /// Events output file; `-` writes to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Labels output file.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Landmarks output file.
    #[arg(long, value_name = "FILE")]
    pub landmarks_out: Option<PathBuf>,
    /// Starting profile.
    #[arg(long, value_enum, default_value = "default")]
    pub profile: Profile,
    /// JSON file overriding any profile parameter.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Random seed (overrides the profile and config).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Number of users (overrides the profile and config).
    #[arg(long)]
    pub users: Option<usize>,
    /// Print the effective configuration as JSON and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Arguments of `rampart presence plan`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = "\
RTTs to landmarks that all sit near the claimed place cannot tell \"here, on a slow access link\"
from \"1,000 km away on a fast one\"; a false claim is refuted only when some landmark lies
roughly towards where the user really is. The plan is the --near landmarks nearest the claim
(they pin down the access delay) plus --ring landmarks --ring-km away, spread evenly in bearing.
With the default 3 + 8, the simulated benchmark rejected 99.0-100 % of claims >= 1,000 km off
on all 23 of its scenarios at <= 0.4 % false rejections (BENCHMARKS.md, \"the landmark plan\");
with 2-4 ring landmarks, claims 1,000-1,500 km off are the usual misses. Those scenarios have
a landmark every 300-450 km. With landmarks only at the 64 metros of public cloud regions it
was 92-99 % at 0.2-0.4 %, lowest for users far from every region: claims with no landmark
within 800 km are the misses (and get a stricter likelihood threshold, fewer false
rejections). Directions count where people live: a city of over a million people on the ring
with no landmark within 45 degrees of its bearing is reported. Landmarks must be unicast hosts
at known places.

Exit codes:
  0  the plan is complete
  1  the ring has fewer landmarks than asked (topped up with the nearest others), a city of over
     a million people on the ring has no landmark within 45 degrees of its bearing, no landmark
     lies within 800 km of the claim, or the plan has fewer than 3 landmarks: the claim cannot
     be tested well
  2  usage error, unknown or ambiguous city, unreadable landmarks file")]
pub struct PlanArgs {
    /// Landmarks file (JSON array, JSON Lines or CSV with id, lat, lon[, radius_km]).
    #[arg(long, value_name = "FILE")]
    pub landmarks: PathBuf,
    /// Claimed city (`Phoenix, AZ`, `Paris, France`), resolved in the embedded GeoNames table.
    #[arg(long, value_name = "CITY", conflicts_with_all = ["lat", "lon"], required_unless_present = "lat")]
    pub claim: Option<String>,
    /// Claimed latitude (with --lon).
    #[arg(long, requires = "lon", allow_hyphen_values = true)]
    pub lat: Option<f64>,
    /// Claimed longitude (with --lat).
    #[arg(long, requires = "lat", allow_hyphen_values = true)]
    pub lon: Option<f64>,
    /// Landmarks nearest the claim.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub near: usize,
    /// Landmarks on the ring, spread in bearing.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub ring: usize,
    /// Distance band of the ring from the claim, km.
    #[arg(long, value_name = "MIN,MAX", value_delimiter = ',', num_args = 2, default_values_t = [800.0, 3000.0])]
    pub ring_km: Vec<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: PlanFormat,
}

/// Output formats of `rampart presence plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    /// One row per landmark, then the ring's widest gap.
    Table,
    /// `{"claim": {...}, "landmarks": [{"id", "role", "distance_km", "bearing_deg"}], ...}`.
    Json,
}

/// Run `rampart presence`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    match args.action {
        Action::Analyze(a) => analyze(a),
        Action::Simulate(a) => simulate_cmd(a),
        Action::Plan(a) => plan_cmd(a),
    }
}

fn default_db() -> anyhow::Result<PathBuf> {
    let home = match std::env::var_os("RAMPART_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => dirs::data_dir()
            .context("no user data directory; set RAMPART_HOME or pass --db or --no-store")?
            .join("rampart"),
    };
    Ok(home.join("rampart.db"))
}

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    let Some(p) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read config {}", p.display()))?;
    serde_json::from_str(&text).with_context(|| format!("invalid config {}", p.display()))
}

/// Read a landmarks file; bad entries are reported (unless `quiet`) and skipped. An empty file
/// gives no landmarks; a non-empty one without a usable landmark is an error.
fn load_landmarks(p: &Path, quiet: bool) -> anyhow::Result<Landmarks> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read landmarks file {}", p.display()))?;
    let (l, errors) = Landmarks::parse(&text);
    for e in &errors {
        if !quiet {
            stderr_line!("rampart: {}:{}: {}", p.display(), e.line, e.message);
        }
    }
    anyhow::ensure!(
        !l.is_empty() || text.trim().is_empty(),
        "landmarks file {} has no usable landmark",
        p.display()
    );
    Ok(l)
}

enum Out {
    Table,
    Json { first_session: bool },
    Jsonl,
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<u8> {
    let mut cfg = load_config(a.config.as_deref())?;
    if let Some(v) = a.travel_kmh {
        anyhow::ensure!(
            v.is_finite() && v > 0.0,
            "--travel-kmh must be a positive number"
        );
        cfg.travel_kmh = v;
    }
    if let Some(v) = a.relay_z {
        anyhow::ensure!(v.is_finite(), "--relay-z must be a number");
        cfg.relay_z = v;
    }
    if let Some(v) = a.min_landmarks {
        cfg.min_landmarks = v;
    }
    if let Some(v) = a.session_idle_ms {
        anyhow::ensure!(
            v.is_finite() && v >= 0.0,
            "--session-idle-ms must be a non-negative number"
        );
        cfg.session_idle_ms = v;
    }
    if a.no_learn {
        cfg.learn = false;
    }
    cfg.max_errors = a.max_errors;
    let quiet = a.quiet;
    let landmarks = match &a.landmarks {
        Some(p) => load_landmarks(p, quiet)?,
        None => Landmarks::new(),
    };
    // Store.
    let store: Option<Rc<RefCell<Store>>> = if a.no_store {
        None
    } else {
        let path = match &a.db {
            Some(p) => p.clone(),
            None => default_db()?,
        };
        let s =
            Store::open(&path).with_context(|| format!("cannot open store {}", path.display()))?;
        Some(Rc::new(RefCell::new(s)))
    };
    let mut prior = Prior::default();
    if let Some(s) = &store
        && let Some(rec) = s.borrow().load_prior("default")?
        && rec.model_version == MODEL_VERSION
    {
        match serde_json::from_str(&rec.data) {
            Ok(p) => prior = p,
            Err(e) => {
                if !quiet {
                    stderr_line!(
                        "rampart: warning: stored presence prior is unreadable ({e}); starting from defaults"
                    );
                }
            }
        }
    }
    let mut analyzer = Analyzer::new(cfg, landmarks, prior);
    if let Some(s) = &store {
        let s = Rc::clone(s);
        analyzer = analyzer.with_loader(Box::new(move |user: &str| {
            let rec = s.borrow().load_baseline(user).ok().flatten()?;
            if rec.model_version != MODEL_VERSION {
                return None;
            }
            serde_json::from_str::<UserBaseline>(&rec.data).ok()
        }));
    }
    // Input.
    let name = a.events.display().to_string();
    let (reader, total): (Box<dyn Read>, Option<u64>) = if a.events.as_os_str() == "-" {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f = std::fs::File::open(&a.events).with_context(|| format!("cannot open {name}"))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(f), len)
    };
    let bar = if std::io::stderr().is_terminal() && !quiet {
        let b = match total {
            Some(t) => indicatif::ProgressBar::new(t),
            None => indicatif::ProgressBar::new_spinner(),
        };
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar} {eta}",
        ) {
            b.set_style(style);
        }
        Some(b)
    } else {
        None
    };
    let mut input = std::io::BufReader::with_capacity(1 << 20, reader);
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mode = match a.format {
        Format::Table => {
            writeln!(
                out,
                "{:<16} {:<20} {:<16} {:>12}  CLAIM / REASONS",
                "VERDICT", "SESSION", "USER", "ADDED ms"
            )?;
            Out::Table
        }
        Format::Json => {
            out.write_all(b"{\"sessions\":[")?;
            Out::Json {
                first_session: true,
            }
        }
        Format::Jsonl => Out::Jsonl,
    };
    let mut sink = Sink {
        out,
        mode,
        travel_all: Vec::new(),
        errors_all: Vec::new(),
        name: &name,
        quiet,
        worst: Verdict::Consistent,
    };
    let mut buf = Vec::with_capacity(4096);
    let mut lines: u64 = 0;
    let mut bytes: u64 = 0;
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("read error in {name}"))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        lines += 1;
        analyzer.push_line(&buf);
        if lines % 8192 == 0 {
            sink.drain(&mut analyzer)?;
            if let Some(b) = &bar {
                b.set_position(bytes);
            }
        }
        if lines % 1_000_000 == 0
            && let Some(s) = &store
        {
            persist(&mut analyzer, &mut s.borrow_mut(), false)?;
            analyzer.evict_clean_baselines();
        }
    }
    analyzer.finish();
    sink.drain(&mut analyzer)?;
    let Sink {
        mut out,
        mode,
        travel_all,
        errors_all,
        worst,
        ..
    } = sink;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if let Some(s) = &store {
        persist(&mut analyzer, &mut s.borrow_mut(), true)?;
    }
    let summary = analyzer.summary().clone();
    match mode {
        Out::Table => {
            if !travel_all.is_empty() {
                writeln!(out, "\nIMPOSSIBLE TRAVEL")?;
                for t in &travel_all {
                    let speed = t.speed_kmh.map_or("∞".to_owned(), |s| format!("{s:.0}"));
                    writeln!(
                        out,
                        "  {}: {} ({}) → {} ({}): {:.0} km in {:.2} h = {} km/h",
                        safe(&t.user),
                        safe(&t.from),
                        safe(&t.from_session),
                        safe(&t.to),
                        safe(&t.to_session),
                        t.distance_km,
                        t.hours,
                        speed
                    )?;
                }
            }
            let v = summary.verdicts;
            writeln!(
                out,
                "\n{} sessions: {} consistent, {} suspicious, {} relay-suspected, {} impossible; {} impossible-travel pairs; {} events, {} lines with errors",
                summary.sessions,
                v[0],
                v[1],
                v[2],
                v[3],
                summary.travel,
                summary.events,
                summary.errors
            )?;
        }
        Out::Json { .. } => {
            out.write_all(b"],\"travel\":")?;
            serde_json::to_writer(&mut out, &travel_all)?;
            out.write_all(b",\"summary\":")?;
            serde_json::to_writer(&mut out, &summary)?;
            out.write_all(b",\"errors\":")?;
            serde_json::to_writer(&mut out, &errors_all)?;
            out.write_all(b"}\n")?;
        }
        Out::Jsonl => {
            out.write_all(b"{\"summary\":")?;
            serde_json::to_writer(&mut out, &summary)?;
            out.write_all(b"}\n")?;
        }
    }
    out.flush()?;
    if !quiet && summary.errors > a.max_errors as u64 {
        stderr_line!(
            "rampart: {} more line errors not shown (--max-errors {})",
            summary.errors - a.max_errors as u64,
            a.max_errors
        );
    }
    Ok(if worst == Verdict::Consistent && summary.travel == 0 {
        0
    } else {
        1
    })
}

/// Where `presence analyze` writes: reports are streamed as they are ready (table rows, JSONL
/// lines, or the `sessions` array of the JSON document); what the JSON document needs at its end
/// (travel pairs, line errors) is kept.
struct Sink<'a, W: Write> {
    out: W,
    mode: Out,
    travel_all: Vec<TravelReport>,
    errors_all: Vec<rampart_presence::LineError>,
    name: &'a str,
    quiet: bool,
    /// Worst verdict written so far (sets the exit code).
    worst: Verdict,
}

impl<W: Write> Sink<'_, W> {
    /// Write what the analyzer has finished since the last call.
    fn drain(&mut self, analyzer: &mut Analyzer<'_>) -> anyhow::Result<()> {
        let out = &mut self.out;
        for e in analyzer.drain_errors() {
            if !self.quiet {
                stderr_line!("rampart: {}:{}: {}", self.name, e.line, e.message);
            }
            if matches!(self.mode, Out::Json { .. }) {
                self.errors_all.push(e);
            }
        }
        let reports: Vec<SessionReport> = analyzer.drain_reports().collect();
        for r in &reports {
            self.worst = self.worst.max(r.verdict);
            match &mut self.mode {
                Out::Table => write_row(out, r)?,
                Out::Json { first_session } => {
                    if !*first_session {
                        out.write_all(b",")?;
                    }
                    *first_session = false;
                    serde_json::to_writer(&mut *out, r)?;
                }
                Out::Jsonl => {
                    out.write_all(b"{\"session\":")?;
                    serde_json::to_writer(&mut *out, r)?;
                    out.write_all(b"}\n")?;
                }
            }
        }
        for t in analyzer.drain_travel() {
            if matches!(self.mode, Out::Jsonl) {
                out.write_all(b"{\"travel\":")?;
                serde_json::to_writer(&mut *out, &t)?;
                out.write_all(b"}\n")?;
            } else {
                self.travel_all.push(t);
            }
        }
        Ok(())
    }
}

fn write_row(out: &mut impl Write, r: &SessionReport) -> anyhow::Result<()> {
    let added = match (r.added_delay_ms, r.added_delay_ci95_ms) {
        (Some(a), Some([lo, hi])) => format!("{a:.0} [{lo:.0},{hi:.0}]"),
        _ => "-".to_owned(),
    };
    let claim = r
        .claimed
        .as_ref()
        .map_or("(no claim)".to_owned(), |c| c.place.clone());
    writeln!(
        out,
        "{:<16} {:<20} {:<16} {:>12}  {}",
        r.verdict.as_str(),
        safe(&r.session),
        safe(r.user.as_deref().unwrap_or("-")),
        added,
        safe(&claim)
    )?;
    for reason in &r.reasons {
        writeln!(
            out,
            "{:>18}- [{}] {}",
            "",
            reason.code,
            safe(&reason.message)
        )?;
    }
    Ok(())
}

fn persist(analyzer: &mut Analyzer<'_>, store: &mut Store, with_prior: bool) -> anyhow::Result<()> {
    let dirty = analyzer.take_dirty_baselines();
    let records: Vec<BaselineRecord> = dirty
        .into_iter()
        .map(|(user, b)| {
            Ok(BaselineRecord {
                user,
                model_version: MODEL_VERSION,
                sessions: b.sessions,
                updated_ms: b.updated_ms as i64,
                data: serde_json::to_string(&b)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    if !records.is_empty() {
        store
            .save_baselines(&records)
            .context("cannot save presence baselines")?;
    }
    if with_prior && analyzer.prior_changed() {
        store
            .save_prior(&PriorRecord {
                name: "default".into(),
                model_version: MODEL_VERSION,
                updated_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64),
                data: serde_json::to_string(analyzer.prior())?,
            })
            .context("cannot save the presence prior")?;
    }
    Ok(())
}

fn simulate_cmd(a: SimulateArgs) -> anyhow::Result<u8> {
    let base = match a.profile {
        Profile::Default => SimConfig::default(),
        Profile::Alternative => SimConfig::alternative(),
    };
    let mut cfg = match &a.config {
        None => base,
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            // Missing fields take the profile's values.
            let mut v = serde_json::to_value(&base)?;
            let over: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("invalid JSON in {}", p.display()))?;
            let (Some(vo), Some(oo)) = (v.as_object_mut(), over.as_object()) else {
                anyhow::bail!("{}: the configuration must be a JSON object", p.display());
            };
            for (k, val) in oo {
                anyhow::ensure!(
                    vo.contains_key(k),
                    "{}: unknown simulator parameter `{k}`",
                    p.display()
                );
                vo.insert(k.clone(), val.clone());
            }
            serde_json::from_value(v)
                .with_context(|| format!("invalid simulator configuration in {}", p.display()))?
        }
    };
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(u) = a.users {
        cfg.users = u;
    }
    if a.print_config {
        let text = serde_json::to_string_pretty(&cfg)?;
        outln!("{text}");
        return Ok(0);
    }
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("invalid simulator configuration: {e}"))?;
    let to_stdout = a.out.as_os_str() == "-";
    let labels_path = a.labels.clone().unwrap_or_else(|| {
        if to_stdout {
            PathBuf::from("presence.labels.jsonl")
        } else {
            suffixed(&a.out, ".labels.jsonl")
        }
    });
    let lm_path = a.landmarks_out.clone().unwrap_or_else(|| {
        if to_stdout {
            PathBuf::from("presence.landmarks.json")
        } else {
            suffixed(&a.out, ".landmarks.json")
        }
    });
    let create = |p: &Path| {
        std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))
    };
    let mut labels = BufWriter::new(create(&labels_path)?);
    let (summary, lms) = if to_stdout {
        let stdout = std::io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        let r = simulate(&cfg, &mut w, &mut labels).map_err(|e| anyhow::anyhow!(e))?;
        w.flush()?;
        r
    } else {
        let mut w = BufWriter::with_capacity(1 << 20, create(&a.out)?);
        let r = simulate(&cfg, &mut w, &mut labels).map_err(|e| anyhow::anyhow!(e))?;
        w.flush()
            .with_context(|| format!("cannot write {}", a.out.display()))?;
        r
    };
    labels.flush()?;
    std::fs::write(&lm_path, serde_json::to_string_pretty(&lms)?)
        .with_context(|| format!("cannot write {}", lm_path.display()))?;
    stderr_line!(
        "rampart: wrote {} events in {} sessions ({} relayed, {} with a false location claim, {} impossible-travel logins); labels {}, landmarks {} ({})",
        summary.events,
        summary.sessions,
        summary.relayed,
        summary.location_fraud,
        summary.travel_fraud,
        labels_path.display(),
        lm_path.display(),
        summary.landmarks
    );
    Ok(0)
}

fn suffixed(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    let stem_ok = p.extension().is_some_and(|e| e == "jsonl");
    if stem_ok {
        s = p.with_extension("").into_os_string();
    }
    s.push(suffix);
    PathBuf::from(s)
}

fn plan_cmd(a: PlanArgs) -> anyhow::Result<u8> {
    use rampart_presence::geo::LatLon;
    use rampart_presence::plan::{
        COVER_DEG, COVER_MIN_POPULATION, NEAR_MAX_KM, PlanSpec, Role, plan, uncovered,
        widest_gap_deg,
    };
    let (claim, place) = match (&a.claim, a.lat, a.lon) {
        (Some(q), _, _) => {
            let found = rampart_presence::cities::lookup_all(q, None);
            let Some(first) = found.first() else {
                anyhow::bail!(
                    "claimed city `{q}` is not in the embedded GeoNames table (cities above 15,000 people); give --lat/--lon instead"
                );
            };
            let far: Vec<String> = found[1..]
                .iter()
                .filter(|c| rampart_presence::geo::distance_km(c.pos, first.pos) > 50.0)
                .map(|c| format!("{} ({:.2}, {:.2})", c.label(), c.pos.lat, c.pos.lon))
                .collect();
            anyhow::ensure!(
                far.is_empty(),
                "claimed city `{q}` names several places: {} ({:.2}, {:.2}); {}; qualify it (`Name, REGION, CC`) or give --lat/--lon",
                first.label(),
                first.pos.lat,
                first.pos.lon,
                far.join("; ")
            );
            (first.pos, first.label())
        }
        (None, Some(lat), Some(lon)) => {
            let Some(p) = LatLon::new(lat, lon) else {
                anyhow::bail!("--lat {lat} --lon {lon}: coordinates out of range");
            };
            (p, format!("{lat:.4}, {lon:.4}"))
        }
        _ => anyhow::bail!("give --claim CITY or --lat and --lon"),
    };
    let [lo, hi] = [a.ring_km[0], a.ring_km[1]];
    anyhow::ensure!(
        lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo <= hi,
        "--ring-km {lo},{hi}: give MIN,MAX with 0 <= MIN <= MAX"
    );
    let landmarks = load_landmarks(&a.landmarks, false)?;
    let positions: Vec<LatLon> = landmarks.iter().map(|l| l.pos).collect();
    let spec = PlanSpec {
        near: a.near,
        ring: a.ring,
        ring_km: [lo, hi],
        min_total: a.near.saturating_add(a.ring),
    };
    let chosen = plan(&positions, claim, &spec);
    let ring = chosen.iter().filter(|p| p.role == Role::Ring).count();
    let gap = widest_gap_deg(&chosen);
    let planned: Vec<LatLon> = chosen.iter().map(|p| positions[p.index]).collect();
    let open = uncovered(claim, &planned, [lo, hi], COVER_DEG, COVER_MIN_POPULATION);
    let mut warnings = Vec::new();
    if ring < a.ring {
        warnings.push(format!(
            "only {ring} of the {} ring landmarks asked for lie {lo:.0}-{hi:.0} km from the claim{}; a false claim whose true place lies in the widest gap ({gap:.0}°) may go unrejected: add landmarks in that band",
            a.ring,
            if chosen.iter().any(|p| p.role == Role::TopUp) {
                " (topped up with the nearest others)"
            } else {
                ""
            }
        ));
    }
    if !open.is_empty() {
        let names: Vec<String> = open
            .iter()
            .take(5)
            .map(|u| {
                format!(
                    "{} ({:.0}°, {:.0} km)",
                    u.city.label(),
                    u.bearing_deg,
                    u.distance_km
                )
            })
            .collect();
        warnings.push(format!(
            "{} {} of over a million people on the ring {} no landmark within {COVER_DEG:.0}° of {} bearing: {}{}; a false claim from there could pass: add landmarks in that direction",
            open.len(),
            if open.len() == 1 { "city" } else { "cities" },
            if open.len() == 1 { "has" } else { "have" },
            if open.len() == 1 { "its" } else { "their" },
            names.join(", "),
            if open.len() > 5 { ", …" } else { "" }
        ));
    }
    if let Some(n) = chosen
        .iter()
        .min_by(|x, y| x.distance_km.total_cmp(&y.distance_km))
        && n.distance_km > NEAR_MAX_KM
    {
        warnings.push(format!(
            "no landmark within {NEAR_MAX_KM:.0} km of the claim (nearest: {}, {:.0} km): the access delay cannot be pinned down, so a false claim is harder to refute and a genuine one is more often disputed: add a landmark near the claim",
            landmarks.get(n.index as u32).id,
            n.distance_km
        ));
    }
    if chosen.len() < 3 {
        warnings.push(format!(
            "the plan has {} landmark(s); the delay region and the likelihood test need at least 3",
            chosen.len()
        ));
    }
    match a.format {
        PlanFormat::Json => {
            let lms: Vec<serde_json::Value> = chosen
                .iter()
                .map(|p| {
                    let l = landmarks.get(p.index as u32);
                    serde_json::json!({
                        "id": l.id,
                        "lat": l.pos.lat,
                        "lon": l.pos.lon,
                        "role": p.role.as_str(),
                        "distance_km": (p.distance_km * 10.0).round() / 10.0,
                        "bearing_deg": (p.bearing_deg.rem_euclid(360.0) * 10.0).round() / 10.0,
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "claim": {"place": place, "lat": claim.lat, "lon": claim.lon},
                "landmarks": lms,
                "ring_widest_gap_deg": (gap * 10.0).round() / 10.0,
                "uncovered": open.iter().map(|u| serde_json::json!({
                    "city": u.city.label(),
                    "distance_km": u.distance_km.round(),
                    "bearing_deg": u.bearing_deg.round(),
                })).collect::<Vec<_>>(),
                "warnings": warnings,
            });
            let text = serde_json::to_string_pretty(&doc)?;
            outln!("{text}");
        }
        PlanFormat::Table => {
            outln!(
                "plan for {place} ({:.4}, {:.4}): {} landmarks",
                claim.lat,
                claim.lon,
                chosen.len()
            );
            outln!(
                "{:<24} {:<7} {:>12} {:>8}",
                "landmark",
                "role",
                "distance km",
                "bearing"
            );
            for p in &chosen {
                outln!(
                    "{:<24} {:<7} {:>12.0} {:>7.0}°",
                    landmarks.get(p.index as u32).id,
                    p.role.as_str(),
                    p.distance_km,
                    p.bearing_deg.rem_euclid(360.0)
                );
            }
            outln!("ring: {ring} landmarks, widest gap in bearing {gap:.0}°");
        }
    }
    for w in &warnings {
        stderr_line!("rampart: warning: {w}");
    }
    Ok(u8::from(!warnings.is_empty()))
}
