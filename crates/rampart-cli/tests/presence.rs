//! `rampart presence`: the real binary on temp files and a real SQLite store.

mod common;

use common::{json, rampart};
use rampart_store::Store;
use rampart_store::presence::PresenceBaselines;

const LANDMARKS: &str = r#"[{"id":"phx","lat":33.4484,"lon":-112.074},{"id":"lax","lat":34.0522,"lon":-118.2437},
{"id":"den","lat":39.7392,"lon":-104.9903}]"#;

fn session(
    sid: &str,
    user: &str,
    t0: f64,
    claim: &str,
    rtts: &[(&str, f64)],
    loops: usize,
) -> String {
    let mut s = format!(
        "{{\"type\":\"login\",\"session\":\"{sid}\",\"t_ms\":{t0},\"user\":\"{user}\",\"claimed\":{claim}}}\n"
    );
    for (i, (lm, r)) in rtts.iter().enumerate() {
        for k in 0..3 {
            s.push_str(&format!(
                "{{\"type\":\"rtt\",\"session\":\"{sid}\",\"t_ms\":{},\"landmark\":\"{lm}\",\"rtt_ms\":{}}}\n",
                t0 + 10.0 + (i * 3 + k) as f64,
                r + k as f64 * 0.5
            ));
        }
    }
    for i in 0..loops {
        let st = t0 + 1_000.0 + i as f64 * 1_000.0;
        let resp = st + 30.0 + 250.0 + ((i * 37) % 100) as f64;
        s.push_str(&format!(
            "{{\"type\":\"interaction\",\"session\":\"{sid}\",\"t_ms\":{resp},\"stimulus_ms\":{st},\"response_ms\":{resp},\"rtt_ms\":30}}\n"
        ));
    }
    s.push_str(&format!(
        "{{\"type\":\"end\",\"session\":\"{sid}\",\"t_ms\":{}}}\n",
        t0 + 1_000.0 + loops as f64 * 1_000.0
    ));
    s
}

const PHX_RTTS: &[(&str, f64)] = &[("phx", 9.0), ("lax", 17.0), ("den", 23.0)];

#[test]
fn consistent_sessions_exit_0_and_baselines_land_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lm.json"), LANDMARKS).unwrap();
    let mut ev = String::new();
    for k in 0..4 {
        ev.push_str(&session(
            &format!("s{k}"),
            "ana",
            k as f64 * 86_400_000.0,
            r#"{"city":"Phoenix, AZ"}"#,
            PHX_RTTS,
            40,
        ));
    }
    std::fs::write(dir.path().join("ev.jsonl"), ev).unwrap();
    let db = dir.path().join("home/rampart.db");
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            "ev.jsonl",
            "--landmarks",
            "lm.json",
            "--format",
            "json",
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 4);
    for s in sessions {
        assert_eq!(s["verdict"], "consistent", "{s}");
        assert!(s["added_delay_ms"].is_number());
        assert_eq!(s["user"], "ana");
    }
    assert_eq!(v["summary"]["sessions"], 4);
    // The baseline is in the SQLite file.
    let store = Store::open(&db).unwrap();
    let b = store.load_baseline("ana").unwrap().expect("baseline saved");
    assert_eq!(b.sessions, 4);
    assert!(store.load_prior("default").unwrap().is_some());
    drop(store);
    // RAMPART_HOME picks the default location.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "presence",
            "analyze",
            "ev.jsonl",
            "--landmarks",
            "lm.json",
            "--format",
            "json",
        ])
        .current_dir(dir.path())
        .env("RAMPART_HOME", dir.path().join("home2"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(dir.path().join("home2/rampart.db").exists());
}

#[test]
fn impossible_claim_exits_1_with_reasons_and_bad_lines_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("lm.csv"),
        "id,lat,lon\nphx,33.4484,-112.074\nlax,34.0522,-118.2437\nden,39.7392,-104.9903\n",
    )
    .unwrap();
    let mut ev = session("far", "bo", 0.0, r#"{"city":"Madrid"}"#, PHX_RTTS, 0);
    ev.push_str("this is not json\n{\"type\":\"rtt\",\"session\":\"far\",\"t_ms\":5}\n");
    std::fs::write(dir.path().join("ev.jsonl"), ev).unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            "ev.jsonl",
            "--landmarks",
            "lm.csv",
            "--format",
            "json",
            "--no-store",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let s = &v["sessions"][0];
    assert_eq!(s["verdict"], "impossible");
    assert_eq!(s["reasons"][0]["code"], "rtt-below-physical-bound");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ev.jsonl:12: invalid JSON"), "{stderr}");
    assert!(
        stderr.contains("ev.jsonl:13: missing field `landmark` for type `rtt`"),
        "{stderr}"
    );
    assert_eq!(v["errors"].as_array().unwrap().len(), 2);
    // Table output says the same.
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            "ev.jsonl",
            "--landmarks",
            "lm.csv",
            "--no-store",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("impossible") && table.contains("rtt-below-physical-bound"),
        "{table}"
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn usage_and_fatal_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(
        dir.path(),
        &["presence", "analyze", "missing.jsonl", "--no-store"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.jsonl"));
    let out = rampart(dir.path(), &["presence", "analyze"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.path().join("ev.jsonl"), "").unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            "ev.jsonl",
            "--no-store",
            "--db",
            "x.db",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.path().join("lm.json"), "[{\"id\":\"a\"}]").unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            "ev.jsonl",
            "--no-store",
            "--landmarks",
            "lm.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(dir.path().join("bad.json"), "{\"lapse_probability\": 3}").unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence", "simulate", "--out", "o.jsonl", "--config", "bad.json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lapse_probability"));
}

#[test]
fn simulate_then_analyze_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cfg.json"),
        r#"{"sessions_per_user":[2,3],"interactions":[25,30],"keystrokes":[10,20]}"#,
    )
    .unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "simulate",
            "--out",
            "sim.jsonl",
            "--users",
            "12",
            "--seed",
            "3",
            "--config",
            "cfg.json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["sim.jsonl", "sim.labels.jsonl", "sim.landmarks.json"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let labels = std::fs::read_to_string(dir.path().join("sim.labels.jsonl")).unwrap();
    let text = analyze_sim(dir.path(), &["--format", "jsonl", "--no-store"]);
    let sessions = text
        .lines()
        .filter(|l| l.starts_with("{\"session\":"))
        .count();
    assert_eq!(sessions, labels.lines().count());
    assert!(text.lines().last().unwrap().starts_with("{\"summary\":"));
}

/// The location test's path model is learnt into the SQLite prior and the next run starts from it.
#[test]
fn the_learnt_path_model_is_kept_in_the_store_and_used_by_the_next_run() {
    let dir = simulated_20_users();
    let db = dir.path().join("p.db");
    let analyze = || {
        analyze_sim(
            dir.path(),
            &["--format", "jsonl", "--db", db.to_str().unwrap()],
        )
    };
    let first_median = |text: &str| {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find_map(|v| v["session"]["location_test"]["inflation_median"].as_f64())
            .expect("a session with a location test")
    };
    let run1 = analyze();
    // The first session of a fresh store is judged with the a-priori model.
    assert!((first_median(&run1) - 0.6).abs() < 1e-9);
    let store = Store::open(&db).unwrap();
    let prior: serde_json::Value =
        serde_json::from_str(&store.load_prior("default").unwrap().unwrap().data).unwrap();
    drop(store);
    assert!(prior["path_obs"].as_u64().unwrap() > 20, "{prior}");
    let learnt = prior["path_log_m"].as_f64().unwrap().exp();
    assert!((learnt - 0.6).abs() > 1e-3, "{prior}");
    // The second run starts where the first ended.
    let run2 = analyze();
    assert!((first_median(&run2) - learnt).abs() < 1e-9, "{learnt}");
}

/// `rampart presence analyze sim.jsonl --landmarks sim.landmarks.json EXTRA…` in `dir`, which
/// must exit 0 or 1; its stdout.
fn analyze_sim(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec![
        "presence",
        "analyze",
        "sim.jsonl",
        "--landmarks",
        "sim.landmarks.json",
    ];
    args.extend_from_slice(extra);
    let out = rampart(dir, &args);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A temp dir holding `sim.jsonl` and `sim.landmarks.json` for 20 simulated users (seed 5).
fn simulated_20_users() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "simulate",
            "--out",
            "sim.jsonl",
            "--users",
            "20",
            "--seed",
            "5",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    dir
}

/// `rampart presence analyze … | head -c 10`: output into a pipe whose reader is gone ends
/// quietly (no panic, no "Broken pipe" error, exit 0), whatever the format.
#[test]
fn analyze_into_a_closed_pipe_ends_quietly() {
    let dir = simulated_20_users();
    for format in ["json", "jsonl", "table"] {
        let (code, err) = common::rampart_closed_stdout(
            dir.path(),
            &[
                "presence",
                "analyze",
                "sim.jsonl",
                "--landmarks",
                "sim.landmarks.json",
                "--no-store",
                "--format",
                format,
            ],
            None,
        );
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{format}: {err}"
        );
        assert_eq!(code, Some(0), "{format}: {err}");
    }
}

/// Per-line errors go to stderr; when its reader has gone (`2>&1 >/dev/null | head -c 1`) the
/// analysis still runs to the end with its usual exit code instead of panicking.
#[test]
fn analyze_with_a_closed_stderr_still_finishes() {
    use std::process::{Command, Stdio};
    let dir = simulated_20_users();
    let sim = std::fs::read_to_string(dir.path().join("sim.jsonl")).unwrap();
    let garbage: String = (0..200).map(|i| format!("garbage {i}\n")).collect();
    std::fs::write(dir.path().join("bad.jsonl"), format!("{garbage}{sim}")).unwrap();
    let expected = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            "bad.jsonl",
            "--landmarks",
            "sim.landmarks.json",
            "--no-store",
        ],
    )
    .status
    .code();
    assert!(matches!(expected, Some(0 | 1)), "{expected:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args([
            "presence",
            "analyze",
            "bad.jsonl",
            "--landmarks",
            "sim.landmarks.json",
        ])
        .args(["--no-store", "--max-errors", "1000"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rampart");
    drop(child.stderr.take());
    assert_eq!(child.wait().unwrap().code(), expected);
}

/// `rampart presence plan --landmarks lm.json ARGS…` in `dir`.
fn plan(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut a = vec!["presence", "plan", "--landmarks", "lm.json"];
    a.extend_from_slice(args);
    rampart(dir, &a)
}

#[test]
fn plan_picks_the_nearest_then_a_ring_and_says_when_the_ring_is_thin() {
    let dir = tempfile::tempdir().unwrap();
    // Near Phoenix: Phoenix itself, Tucson (~170 km), Los Angeles (~575 km). Ring (800–3,000
    // km): Salt Lake City N, Seattle NW, Dallas E, Chicago NE, Mexico City SE, Monterrey SE.
    // Beyond the ring: New York.
    let lms = r#"[{"id":"phx","lat":33.4484,"lon":-112.074},{"id":"tus","lat":32.2226,"lon":-110.9747},
{"id":"lax","lat":34.0522,"lon":-118.2437},{"id":"slc","lat":40.7608,"lon":-111.891},
{"id":"sea","lat":47.6062,"lon":-122.3321},{"id":"dal","lat":32.7767,"lon":-96.797},
{"id":"chi","lat":41.8781,"lon":-87.6298},{"id":"mex","lat":19.4326,"lon":-99.1332},
{"id":"mty","lat":25.6866,"lon":-100.3161},{"id":"nyc","lat":40.7128,"lon":-74.006}]"#;
    std::fs::write(dir.path().join("lm.json"), lms).unwrap();
    let out = plan(
        dir.path(),
        &[
            "--claim",
            "Phoenix, AZ",
            "--near",
            "3",
            "--ring",
            "4",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["claim"]["place"], "Phoenix, AZ, US");
    let got: Vec<(String, String)> = v["landmarks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_owned(),
                l["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let near: Vec<&str> = got[..3].iter().map(|x| x.0.as_str()).collect();
    assert_eq!(near, ["phx", "tus", "lax"]);
    assert!(got[..3].iter().all(|x| x.1 == "near"));
    let ring: Vec<&str> = got[3..].iter().map(|x| x.0.as_str()).collect();
    assert_eq!(ring.len(), 4);
    assert!(got[3..].iter().all(|x| x.1 == "ring"));
    // Spread in bearing (greedy: the farthest in the band, Chicago, then each time the one
    // whose bearing is farthest from those taken): Seattle, the only one to the north-west,
    // and Mexico City to the south-east, not the crowd near Dallas and Monterrey. New York is
    // beyond the ring.
    assert_eq!(ring, ["chi", "sea", "mex", "dal"]);
    assert!(!ring.contains(&"nyc"));
    assert!(v["warnings"].as_array().unwrap().is_empty());
    // Every populated direction on the ring has a landmark within 45° (west is the Pacific).
    assert_eq!(v["uncovered"], serde_json::json!([]));

    // One ring landmark (Chicago, north-east): Mexico City, Seattle's and others' directions
    // are untested; exit 1 and the cities are named.
    let out = plan(
        dir.path(),
        &["--claim", "Phoenix, AZ", "--ring", "1", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v = json(&out);
    let open: Vec<&str> = v["uncovered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["city"].as_str().unwrap())
        .collect();
    assert!(open.contains(&"Mexico City, MX"), "{open:?}");
    assert!(!open.contains(&"Chicago, IL, US"), "{open:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("of over a million people on the ring"),
        "{stderr}"
    );

    // Asking for more ring landmarks than the band holds: topped up, exit 1, a warning.
    let out = plan(
        dir.path(),
        &["--lat", "33.4484", "--lon", "-112.074", "--ring", "9"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("top-up") && stdout.contains("nyc"),
        "{stdout}"
    );
    assert!(
        stderr.contains("only 6 of the 9 ring landmarks"),
        "{stderr}"
    );

    // Honolulu: no landmark within 800 km (Los Angeles is ~4,100 km away) — the access delay
    // cannot be pinned down; exit 1 and the nearest is named.
    let out = plan(dir.path(), &["--lat", "21.3069", "--lon", "-157.8583"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no landmark within 800 km of the claim (nearest: lax, 41"),
        "{stderr}"
    );

    // Ambiguous and unknown cities, a bad band, a missing file: exit 2 with the reason.
    for (args, want) in [
        (vec!["--claim", "Udaipur"], "names several places"),
        (
            vec!["--claim", "Nowhere At All"],
            "not in the embedded GeoNames",
        ),
        (
            vec!["--claim", "Phoenix, AZ", "--ring-km", "3000,800"],
            "--ring-km",
        ),
        (vec!["--lat", "95", "--lon", "0"], "out of range"),
    ] {
        let out = plan(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "plan",
            "--landmarks",
            "missing.json",
            "--claim",
            "Phoenix, AZ",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}

/// Session ids and user names come from the events file: the table must not let their control
/// characters (an `ESC` sequence) or bidi overrides reach the terminal.
#[test]
fn table_escapes_control_characters_in_ids() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lm.json"), LANDMARKS).unwrap();
    let ev = session(
        "s\\u001b[2J",
        "bo\\u202egpj.exe",
        0.0,
        r#"{"city":"Phoenix"}"#,
        PHX_RTTS,
        0,
    );
    // ...and so do file names and the values quoted in per-line errors, on stderr.
    let name = "ev\x1b[2J.jsonl";
    let bad = r#"{"type":"rtt","session":"x","t_ms":1,"landmark":"\u001b]0;t\u0007","rtt_ms":5}"#;
    std::fs::write(dir.path().join(name), format!("{ev}{bad}\n")).unwrap();
    let out = rampart(
        dir.path(),
        &[
            "presence",
            "analyze",
            name,
            "--landmarks",
            "lm.json",
            "--no-store",
        ],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !table.contains('\x1b') && !table.contains('\u{202E}'),
        "{table}"
    );
    assert!(
        table.contains("s\\u{1b}[2J") && table.contains("bo\\u{202e}gpj.exe"),
        "{table}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains('\x1b') && !stderr.contains('\x07'),
        "{stderr}"
    );
    assert!(stderr.contains("ev\\u{1b}[2J.jsonl:"), "{stderr}");
}
