//! End-to-end tests of the analyzer on constructed event streams.

use rampart_presence::geo::{KM_PER_RTT_MS_FIBRE, LatLon, destination, distance_km};
use rampart_presence::likelihood::LikelihoodConfig;
use rampart_presence::simulate::{SimConfig, simulate};
use rampart_presence::{Analyzer, Config, Landmarks, Prior, SessionReport, Verdict};

fn landmarks() -> Landmarks {
    let (l, e) = Landmarks::parse(
        r#"[{"id":"phx","lat":33.4484,"lon":-112.074},{"id":"lax","lat":34.0522,"lon":-118.2437},
            {"id":"den","lat":39.7392,"lon":-104.9903},{"id":"dfw","lat":32.7767,"lon":-96.797},
            {"id":"fra","lat":50.1109,"lon":8.6821},{"id":"server","lat":39.04,"lon":-77.49}]"#,
    );
    assert!(e.is_empty());
    l
}

fn run(
    cfg: Config,
    lines: &[String],
) -> (
    Vec<SessionReport>,
    Vec<rampart_presence::TravelReport>,
    Vec<rampart_presence::LineError>,
) {
    let mut a = Analyzer::new(cfg, landmarks(), Prior::default());
    for l in lines {
        a.push_line(l.as_bytes());
    }
    a.finish();
    let r = a.drain_reports().collect();
    let t = a.drain_travel().collect();
    let e = a.drain_errors().collect();
    (r, t, e)
}

fn rtt_from(truth: LatLon, lm: LatLon, access: f64, inflation: f64) -> f64 {
    access + inflation * distance_km(truth, lm) / KM_PER_RTT_MS_FIBRE
}

fn rtt_lines(sid: &str, t: f64, truth: LatLon, access: f64) -> Vec<String> {
    let lms = [
        ("phx", 33.4484, -112.074),
        ("lax", 34.0522, -118.2437),
        ("den", 39.7392, -104.9903),
        ("dfw", 32.7767, -96.797),
    ];
    rtt_lines_to(sid, t, truth, access, &lms, false)
}

/// Three RTT samples per landmark from `truth` (path inflation 1.5); `inline` defines each
/// landmark in the event instead of naming one from the landmarks file.
fn rtt_lines_to(
    sid: &str,
    t: f64,
    truth: LatLon,
    access: f64,
    lms: &[(&str, f64, f64)],
    inline: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, &(id, lat, lon)) in lms.iter().enumerate() {
        for k in 0..3 {
            let r = rtt_from(truth, LatLon { lat, lon }, access, 1.5) + k as f64 * 0.7;
            let landmark = if inline {
                format!(r#"{{"id":"{id}","lat":{lat},"lon":{lon}}}"#)
            } else {
                format!(r#""{id}""#)
            };
            out.push(format!(
                r#"{{"type":"rtt","session":"{sid}","t_ms":{},"landmark":{landmark},"rtt_ms":{r:.3}}}"#,
                t + (i * 3 + k) as f64
            ));
        }
    }
    out
}

fn login(sid: &str, user: &str, t: f64, claim: &str) -> String {
    format!(r#"{{"type":"login","session":"{sid}","t_ms":{t},"user":"{user}","claimed":{claim}}}"#)
}

/// Deterministic "human" loops: a spread-out pattern around `level` ms plus `added`.
fn loops(sid: &str, t: f64, n: usize, level: f64, added: f64, net: f64) -> Vec<String> {
    (0..n)
        .map(|i| {
            let h = level + ((i * 37) % 100) as f64 * 1.2 + if i % 25 == 0 { 2_000.0 } else { 0.0 };
            let s = t + i as f64 * 1_000.0;
            let r = s + net + h + added;
            format!(r#"{{"type":"interaction","session":"{sid}","t_ms":{r},"stimulus_ms":{s},"response_ms":{r},"rtt_ms":{net}}}"#)
        })
        .collect()
}

fn phoenix() -> LatLon {
    LatLon {
        lat: 33.4484,
        lon: -112.074,
    }
}

#[test]
fn genuine_session_is_consistent_and_its_region_contains_the_truth() {
    let mut lines = vec![login("s1", "ana", 0.0, r#"{"city":"Phoenix, AZ"}"#)];
    lines.extend(rtt_lines("s1", 10.0, phoenix(), 9.0));
    let (r, _, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(r.len(), 1);
    let s = &r[0];
    assert_eq!(s.verdict, Verdict::Consistent, "{s:#?}");
    assert_eq!(s.claimed.as_ref().unwrap().place, "Phoenix, AZ, US");
    let reg = s.region.as_ref().unwrap();
    assert_eq!(reg.claim_inside, Some(true));
    assert_eq!(reg.landmarks, 4);
    assert!(
        distance_km(reg.centroid.unwrap(), phoenix()) < 600.0,
        "{reg:?}"
    );
    // Only Denver (~20°) and Dallas (~86°) lie 800–3,000 km out. Mexico City (137°), the most
    // populous city on that ring, has no landmark within 45° of its bearing: the note names it.
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("tested in few directions") && n.contains("Mexico City, MX (137°")),
        "{:?}",
        s.notes
    );
}

#[test]
fn a_claim_with_no_landmark_near_it_gets_a_note_whatever_the_verdict() {
    // In Phoenix, claiming Phoenix, measuring only landmarks 940-1,800 km away: the access delay
    // and the distance trade off, so the note says the judgement is weak and the likelihood
    // test uses its larger threshold. With Phoenix's own landmarks there is neither.
    let far = [
        ("den", 39.7392, -104.9903),
        ("dfw", 32.7767, -96.797),
        ("sea", 47.6062, -122.3321),
        ("lap", 24.1426, -110.3128),
    ];
    let mut lines = vec![login("s1", "ana", 0.0, r#"{"city":"Phoenix, AZ"}"#)];
    lines.extend(rtt_lines_to("s1", 10.0, phoenix(), 9.0, &far, true));
    lines.push(login("s2", "bo", 1_000.0, r#"{"city":"Phoenix, AZ"}"#));
    lines.extend(rtt_lines("s2", 1_010.0, phoenix(), 9.0));
    let (r, _, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    let note = |s: &SessionReport| {
        s.notes
            .iter()
            .find(|n| n.contains("no landmark within 800 km"))
            .cloned()
    };
    let n = note(&r[0]).unwrap_or_else(|| panic!("{:#?}", r[0]));
    assert!(n.contains("nearest: den, 94"), "{n}");
    assert!(n.contains("above 6.4, not 5.3"), "{n}");
    assert_eq!(note(&r[1]), None, "{:#?}", r[1]);
    // The likelihood test asks for more evidence without a near landmark.
    let lik = LikelihoodConfig::default();
    let threshold = |s: &SessionReport| s.location_test.as_ref().map(|l| l.threshold);
    assert_eq!(threshold(&r[0]), Some(lik.threshold_far));
    assert_eq!(threshold(&r[1]), Some(lik.threshold));
}

#[test]
fn a_claim_tested_all_round_gets_no_coverage_note_and_a_rejected_one_needs_none() {
    // Phoenix's four landmarks plus Seattle (north-west) and La Paz, BCS (south), defined
    // inline: the ring now has bearings ~20°, 95°, 160° and 330°.
    let extra = [("sea", 47.6062, -122.3321), ("lap", 24.1426, -110.3128)];
    let session = |sid: &str, t: f64, claim: &str, truth: LatLon| {
        let mut v = vec![login(sid, "ana", t, claim)];
        v.extend(rtt_lines(sid, t + 10.0, truth, 9.0));
        v.extend(rtt_lines_to(sid, t + 100.0, truth, 9.0, &extra, true));
        v.push(format!(
            r#"{{"type":"end","session":"{sid}","t_ms":{}}}"#,
            t + 200.0
        ));
        v
    };
    let mut lines = session("s1", 0.0, r#"{"city":"Phoenix, AZ"}"#, phoenix());
    // Claims Phoenix, is in Denver (940 km away) a day later.
    let denver = LatLon {
        lat: 39.7392,
        lon: -104.9903,
    };
    lines.extend(session(
        "s2",
        86_400_000.0,
        r#"{"city":"Phoenix, AZ"}"#,
        denver,
    ));
    let (r, _, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(r[0].verdict, Verdict::Consistent, "{:#?}", r[0]);
    assert!(
        !r[0].notes.iter().any(|n| n.contains("few directions")),
        "{:?}",
        r[0].notes
    );
    assert_ne!(r[1].verdict, Verdict::Consistent, "{:#?}", r[1]);
    assert!(
        !r[1].notes.iter().any(|n| n.contains("few directions")),
        "{:?}",
        r[1].notes
    );
}

#[test]
fn a_claim_far_from_the_measured_place_is_impossible_and_says_why() {
    // Really in Phoenix, claims Madrid: 4–8 ms to Phoenix-area landmarks, Madrid is ≥ 9,000 km.
    let mut lines = vec![login("s1", "ana", 0.0, r#"{"city":"Madrid"}"#)];
    lines.extend(rtt_lines("s1", 10.0, phoenix(), 3.0));
    let (r, _, _) = run(Config::default(), &lines);
    let s = &r[0];
    assert_eq!(s.verdict, Verdict::Impossible);
    assert_eq!(s.reasons[0].code, "rtt-below-physical-bound");
    assert!(
        s.reasons[0].message.contains("km from the claimed place"),
        "{}",
        s.reasons[0].message
    );
    // A claim ~1,000 km off (Albuquerque→ no: El Paso is ~550 km; use Houston ~1,630 km).
    let mut lines = vec![login("s2", "bo", 0.0, r#"{"city":"Houston"}"#)];
    lines.extend(rtt_lines("s2", 10.0, phoenix(), 8.0));
    let (r, _, _) = run(Config::default(), &lines);
    assert_ne!(r[0].verdict, Verdict::Consistent, "{:#?}", r[0]);
}

#[test]
fn a_claim_1600_km_off_over_a_slow_link_is_unlikely_but_not_impossible() {
    // Really in Phoenix behind a 25 ms access link, claims Houston (~1,630 km away). Nothing is
    // faster than fibre from Houston, so physics alone cannot reject it; the likelihood test
    // does: the Phoenix landmark answers like a neighbour and Dallas like a far one.
    let mut lines = vec![login("far", "ana", 0.0, r#"{"city":"Houston"}"#)];
    lines.extend(rtt_lines("far", 10.0, phoenix(), 25.0));
    lines.push(login("home", "bo", 0.0, r#"{"city":"Phoenix, AZ"}"#));
    lines.extend(rtt_lines("home", 10.0, phoenix(), 25.0));
    let (r, _, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    let far = r.iter().find(|s| s.session == "far").unwrap();
    assert_eq!(far.verdict, Verdict::Suspicious, "{far:#?}");
    let reason = far
        .reasons
        .iter()
        .find(|x| x.code == "claim-unlikely-location")
        .unwrap_or_else(|| panic!("{far:#?}"));
    assert!(reason.message.contains("Houston"), "{}", reason.message);
    let lt = far.location_test.as_ref().unwrap();
    assert!(lt.t.unwrap() > lt.threshold, "{lt:?}");
    let home = r.iter().find(|s| s.session == "home").unwrap();
    assert_eq!(home.verdict, Verdict::Consistent, "{home:#?}");
    let lt = home.location_test.as_ref().unwrap();
    assert!(lt.t.unwrap() < 1.0, "{lt:?}");
    assert!(distance_km(lt.best, phoenix()) < 400.0, "{lt:?}");
}

#[test]
fn relay_is_caught_against_the_users_own_baseline() {
    let mut lines = Vec::new();
    let mut t = 0.0;
    // Eight clean sessions build the baseline.
    for k in 0..8 {
        let sid = format!("clean{k}");
        lines.push(login(&sid, "ana", t, r#"{"lat":33.45,"lon":-112.07}"#));
        lines.extend(loops(
            &sid,
            t + 100.0,
            200,
            260.0 + (k % 3) as f64 * 3.0,
            0.0,
            40.0,
        ));
        lines.push(format!(
            r#"{{"type":"end","session":"{sid}","t_ms":{}}}"#,
            t + 300_000.0
        ));
        t += 86_400_000.0;
    }
    // Relayed: +60 ms on every loop.
    lines.push(login("relayed", "ana", t, r#"{"lat":33.45,"lon":-112.07}"#));
    lines.extend(loops("relayed", t + 100.0, 200, 261.0, 60.0, 40.0));
    lines.push(format!(
        r#"{{"type":"end","session":"relayed","t_ms":{}}}"#,
        t + 300_000.0
    ));
    t += 86_400_000.0;
    // And a clean one afterwards is consistent again.
    lines.push(login("after", "ana", t, r#"{"lat":33.45,"lon":-112.07}"#));
    lines.extend(loops("after", t + 100.0, 200, 262.0, 0.0, 40.0));
    let (r, _, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    let get = |id: &str| r.iter().find(|s| s.session == id).unwrap();
    let rel = get("relayed");
    assert_eq!(rel.verdict, Verdict::RelaySuspected, "{rel:#?}");
    let added = rel.added_delay_ms.unwrap();
    let [lo, hi] = rel.added_delay_ci95_ms.unwrap();
    assert!((added - 60.0).abs() < 15.0, "{added}");
    assert!(lo < 60.0 && 60.0 < hi, "{lo}..{hi}");
    assert_eq!(rel.relay.as_ref().unwrap().baseline, "user");
    assert_eq!(
        get("after").verdict,
        Verdict::Consistent,
        "{:#?}",
        get("after")
    );
    for k in 3..8 {
        assert_eq!(get(&format!("clean{k}")).verdict, Verdict::Consistent);
    }
}

#[test]
fn unflagged_slow_sessions_do_not_teach_a_users_baseline_that_slow_is_normal() {
    // Eight clean sessions, then six relayed (+60 ms) ones that are not flagged (relay_z set out
    // of reach), then one more relayed session: with the learning gate (learn_max_z_user, default
    // 2.65) its z stays high; without it the baseline has absorbed the relay.
    let mut lines = Vec::new();
    let mut t = 0.0;
    let mut session = |sid: &str, level: f64, added: f64, t: f64| {
        lines.push(login(sid, "ana", t, r#"{"lat":33.45,"lon":-112.07}"#));
        lines.extend(loops(sid, t + 100.0, 200, level, added, 40.0));
        lines.push(format!(
            r#"{{"type":"end","session":"{sid}","t_ms":{}}}"#,
            t + 300_000.0
        ));
    };
    for k in 0..8 {
        session(&format!("clean{k}"), 260.0 + (k % 3) as f64 * 3.0, 0.0, t);
        t += 86_400_000.0;
    }
    for k in 0..7 {
        session(&format!("slow{k}"), 261.0, 60.0, t);
        t += 86_400_000.0;
    }
    let last_z = |cfg: Config| {
        let (r, _, e) = run(cfg, &lines);
        assert!(e.is_empty(), "{e:?}");
        r.iter()
            .find(|s| s.session == "slow6")
            .and_then(|s| s.relay.as_ref())
            .map(|j| j.z)
            .unwrap()
    };
    let never_flag = Config {
        relay_z: 1e9,
        ..Config::default()
    };
    let gated = last_z(never_flag.clone());
    let ungated = last_z(Config {
        learn_max_z_user: f64::INFINITY,
        ..never_flag
    });
    assert!(gated > 3.0, "{gated}");
    assert!(ungated < gated / 2.0, "{ungated} vs {gated}");
}

/// `n` keystrokes from `t`, typed ~150–200 ms apart; every `bunch_every`-th one (0: none)
/// arrives 4 ms after the previous one, as after a jittery second hop.
fn keys(sid: &str, t: f64, n: usize, bunch_every: usize) -> Vec<String> {
    let mut at = t;
    (0..n)
        .map(|i| {
            at += if bunch_every > 0 && i % bunch_every == 0 {
                4.0
            } else {
                150.0 + ((i * 53) % 50) as f64
            };
            format!(r#"{{"type":"keystroke","session":"{sid}","t_ms":{at}}}"#)
        })
        .collect()
}

#[test]
fn keystroke_bunching_and_loop_delay_add_up_to_a_relay() {
    // A new user (population prior only) whose loops are slow but not damning on their own;
    // with 1 in 12 key intervals bunched as well, the two independent signs of a second hop
    // together reach the relay threshold. Either sign alone does not.
    let session = |level: f64, bunch_every: usize| {
        let mut lines = vec![login("s1", "ana", 0.0, r#"{"lat":33.45,"lon":-112.07}"#)];
        lines.extend(loops("s1", 100.0, 200, level, 0.0, 40.0));
        lines.extend(keys("s1", 250_000.0, 300, bunch_every));
        lines.push(r#"{"type":"end","session":"s1","t_ms":400000}"#.to_owned());
        lines
    };
    let judge = |cfg: Config, lines: &[String]| {
        let (r, _, e) = run(cfg, lines);
        assert!(e.is_empty(), "{:?}", e.first());
        r.into_iter().next().unwrap()
    };
    let slow_bunched = judge(Config::default(), &session(420.0, 12));
    let j = slow_bunched.relay.as_ref().unwrap();
    // Precondition: the loops alone are below the threshold.
    assert!(j.z > 1.5 && j.z < 3.0, "{j:?}");
    let kz = j.keys_z.unwrap();
    assert!(kz > 2.0 && kz < 4.0, "{j:?}");
    assert!((j.evidence_z - (j.z + kz) / 2f64.sqrt()).abs() < 1e-12);
    assert!(j.evidence_z > j.z);
    assert_eq!(
        slow_bunched.verdict,
        Verdict::RelaySuspected,
        "{slow_bunched:#?}"
    );
    assert!(
        slow_bunched.reasons[0]
            .message
            .contains("keystrokes: 24 of 299 intervals ≤ 10 ms")
            && slow_bunched.reasons[0].message.contains("together z = "),
        "{:?}",
        slow_bunched.reasons
    );
    // The keys' z alone is below the bunching reason's own threshold (4).
    assert!(
        !slow_bunched
            .reasons
            .iter()
            .any(|r| r.code == "keystroke-bunching")
    );
    // Without the keystroke evidence, the same session is consistent.
    let loops_only = judge(
        Config {
            relay_use_keys: false,
            ..Config::default()
        },
        &session(420.0, 12),
    );
    assert_eq!(loops_only.verdict, Verdict::Consistent, "{loops_only:#?}");
    let j = loops_only.relay.unwrap();
    assert_eq!((j.keys_z, j.evidence_z), (None, j.z));
    // Slow loops with unbunched keys, or bunched keys with ordinary loops: consistent.
    for (level, every) in [(420.0, 0), (300.0, 12)] {
        let r = judge(Config::default(), &session(level, every));
        assert_eq!(r.verdict, Verdict::Consistent, "{level} {every}: {r:#?}");
    }
    // Unbunched keys do not dilute loops that are damning on their own.
    let r = judge(Config::default(), &session(520.0, 0));
    let j = r.relay.as_ref().unwrap();
    assert!(j.keys_z.unwrap() < 0.5 && j.z > 3.0, "{j:?}");
    assert_eq!(j.evidence_z, j.z);
    assert_eq!(r.verdict, Verdict::RelaySuspected);
}

#[test]
fn impossible_travel_pairs() {
    let h = 3_600_000.0;
    let lines = vec![
        login("a1", "ana", 0.0, r#"{"city":"Phoenix, AZ"}"#),
        // Phoenix → Paris (≈ 8,700 km) in 2 h: impossible.
        login("a2", "ana", 2.0 * h, r#"{"city":"Paris","country":"FR"}"#),
        login("b1", "bo", 0.0, r#"{"city":"Phoenix, AZ"}"#),
        // Phoenix → Los Angeles (≈ 570 km) in 2 h: ~240 km/h, fine.
        login("b2", "bo", 2.0 * h, r#"{"city":"Los Angeles"}"#),
        // Phoenix → Paris in 14 h: ~620 km/h, fine (a flight).
        login("c1", "cy", 0.0, r#"{"city":"Phoenix, AZ"}"#),
        login("c2", "cy", 14.0 * h, r#"{"city":"Paris, FR"}"#),
        // Same instant, 100 km apart beyond both radii: infinite speed.
        login("d1", "di", 0.0, r#"{"lat":10.0,"lon":10.0,"radius_km":1}"#),
        login("d2", "di", 0.0, r#"{"lat":11.0,"lon":10.0,"radius_km":1}"#),
    ];
    let (r, t, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(t.len(), 2, "{t:#?}");
    let ana = t.iter().find(|x| x.user == "ana").unwrap();
    assert_eq!(
        (ana.from_session.as_str(), ana.to_session.as_str()),
        ("a1", "a2")
    );
    assert!(ana.speed_kmh.unwrap() > 4_000.0);
    let di = t.iter().find(|x| x.user == "di").unwrap();
    assert_eq!(di.speed_kmh, None);
    let a2 = r.iter().find(|s| s.session == "a2").unwrap();
    assert_eq!(a2.verdict, Verdict::Suspicious);
    assert_eq!(a2.reasons[0].code, "impossible-travel");
    // A lower bound catches the flight too.
    let (_, t, _) = run(
        Config {
            travel_kmh: 500.0,
            ..Config::default()
        },
        &lines,
    );
    assert_eq!(t.len(), 3);
}

#[test]
fn a_false_claim_does_not_hide_the_next_login_from_impossible_travel() {
    let h = 3_600_000.0;
    // In Phoenix, claims Paris: the RTTs dispute it (the session is `impossible`).
    let disputed = |sid: &str, user: &str| {
        let mut v = vec![login(sid, user, 0.0, r#"{"city":"Paris, FR"}"#)];
        v.extend(rtt_lines(sid, 10.0, phoenix(), 9.0));
        v.push(format!(r#"{{"type":"end","session":"{sid}","t_ms":100}}"#));
        v
    };
    let mut lines = disputed("a1", "ana");
    // An hour later, London: 340 km from the claimed Paris (fine by the claims), 8,500 km from
    // where the RTTs put her (impossible).
    lines.push(login("a2", "ana", h, r#"{"city":"London, GB"}"#));
    // The same false claim, then Phoenix an hour later: impossible between the claims, and
    // reported from the claim (the higher speed), not from the measured place.
    lines.extend(disputed("b1", "bo"));
    lines.push(login("b2", "bo", h, r#"{"city":"Phoenix, AZ"}"#));
    let (r, t, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    let a1 = r.iter().find(|x| x.session == "a1").unwrap();
    assert_eq!(a1.verdict, Verdict::Impossible, "{a1:#?}");
    assert_eq!(t.len(), 2, "{t:#?}");
    let ta = t.iter().find(|x| x.user == "ana").unwrap();
    assert_eq!(
        (ta.from_session.as_str(), ta.to_session.as_str()),
        ("a1", "a2")
    );
    assert!(ta.from.contains("where its RTTs put the user"), "{ta:#?}");
    assert!(ta.from.contains("it claimed Paris, FR"), "{ta:#?}");
    assert!(ta.distance_km > 5_000.0, "{ta:#?}");
    let a2 = r.iter().find(|x| x.session == "a2").unwrap();
    assert!(
        a2.reasons.iter().any(|x| x.code == "impossible-travel"),
        "{a2:#?}"
    );
    let tb = t.iter().find(|x| x.user == "bo").unwrap();
    assert_eq!(tb.from, "Paris, FR", "{tb:#?}");
}

#[test]
fn bad_lines_are_reported_with_numbers_and_the_run_goes_on() {
    let lines: Vec<String> = [
        r#"{"type":"login","session":"s","t_ms":100000,"user":"u","claimed":{"city":"Phoenix, AZ"}}"#,
        "garbage",
        r#"{"type":"rtt","session":"s","t_ms":100001,"landmark":"nowhere","rtt_ms":5}"#,
        r#"{"type":"rtt","session":"s","t_ms":100002,"landmark":"phx","rtt_ms":-1}"#,
        r#"{"type":"rtt","session":"s","t_ms":100003,"landmark":"phx","rtt_ms":9}"#,
        r#"{"type":"rtt","session":"s","t_ms":100003,"landmark":"phx","rtt_ms":9}"#,
        r#"{"type":"rtt","session":"s","t_ms":1,"landmark":"phx","rtt_ms":9.5}"#,
        r#"{"type":"login","session":"s","t_ms":100004,"user":"other","claimed":{"city":"Phoenix, AZ"}}"#,
        r#"{"type":"login","session":"t","t_ms":100004,"user":"x","claimed":{"city":"Nowhereville"}}"#,
        r#"{"type":"rtt","session":"t","t_ms":100005,"rtt_ms":9}"#,
        "",
        r#"{"type":"rtt","session":"s","t_ms":100006,"landmark":{"id":"new","lat":33.5,"lon":-112.0},"rtt_ms":3}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (r, _, e) = run(Config::default(), &lines);
    let got: Vec<(u64, &str)> = e.iter().map(|x| (x.line, x.message.as_str())).collect();
    let lines_with_errors: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(lines_with_errors, vec![2, 3, 4, 6, 7, 8, 9, 10], "{got:#?}");
    assert!(got[0].1.starts_with("invalid JSON"));
    assert!(got[1].1.contains("unknown landmark `nowhere`"));
    assert!(got[2].1.contains("rtt_ms"));
    assert!(got[3].1.contains("duplicate"));
    assert!(got[4].1.contains("clock went backwards"));
    assert!(got[5].1.contains("already belongs to user `u`"));
    assert!(got[6].1.contains("Nowhereville"));
    assert!(got[7].1.contains("missing field `landmark`"));
    // Both sessions were still judged; the backwards event was kept, the duplicate was not.
    assert_eq!(r.len(), 2);
    let s = r.iter().find(|x| x.session == "s").unwrap();
    let phx = s.landmarks.iter().find(|l| l.id == "phx").unwrap();
    assert_eq!(phx.samples, 2);
    assert!(s.landmarks.iter().any(|l| l.id == "new"));
}

#[test]
fn unsorted_input_gives_the_same_judgements() {
    let mut lines = vec![login("s1", "ana", 0.0, r#"{"city":"Phoenix, AZ"}"#)];
    lines.extend(rtt_lines("s1", 10.0, phoenix(), 9.0));
    lines.extend(loops("s1", 100.0, 60, 250.0, 0.0, 30.0));
    let (a, _, _) = run(Config::default(), &lines);
    let mut shuffled = lines.clone();
    // Deterministic shuffle.
    let n = shuffled.len();
    for i in 0..n {
        shuffled.swap(i, (i * 7919 + 13) % n);
    }
    let cfg = Config {
        backwards_tolerance_ms: f64::INFINITY,
        ..Config::default()
    };
    let (b, _, e) = run(cfg, &shuffled);
    assert!(e.is_empty(), "{e:?}");
    assert_eq!(a[0].verdict, b[0].verdict);
    assert_eq!(a[0].landmarks, b[0].landmarks);
    assert!((a[0].added_delay_ms.unwrap() - b[0].added_delay_ms.unwrap()).abs() < 1e-9);
}

#[test]
fn sessions_are_judged_while_streaming_and_late_events_are_reported() {
    let cfg = Config {
        session_idle_ms: 60_000.0,
        session_idle_lines: 100,
        ..Config::default()
    };
    let mut a = Analyzer::new(cfg, landmarks(), Prior::default());
    let mut judged_before_end = 0;
    for i in 0..20_000u64 {
        let sid = format!("s{}", i / 10);
        let line = format!(
            r#"{{"type":"keystroke","session":"{sid}","t_ms":{}}}"#,
            i * 1_000
        );
        a.push_line(line.as_bytes());
        judged_before_end += a.drain_reports().count();
    }
    // Bounded memory: almost every session was judged (and freed) before the input ended.
    assert!(judged_before_end > 1_500, "{judged_before_end}");
    a.push_line(br#"{"type":"keystroke","session":"s0","t_ms":5}"#);
    let e: Vec<_> = a.drain_errors().collect();
    assert!(
        e.iter()
            .any(|x| x.line == 20_001 && x.message.contains("after the session was judged")),
        "{e:?}"
    );
    a.finish();
    assert_eq!(a.summary().sessions, 2_000);
}

/// Simulate `cfg`, analyze every event with the default config, and return the finished
/// analyzer and the labels.
fn analyze_simulated(cfg: &SimConfig) -> (Analyzer<'static>, String) {
    let (mut ev, mut lab) = (Vec::new(), Vec::new());
    let (_, lms) = simulate(cfg, &mut ev, &mut lab).unwrap();
    let mut landmarks = Landmarks::new();
    for l in &lms {
        landmarks
            .add(&l.id, LatLon::new(l.lat, l.lon).unwrap(), 0.0)
            .unwrap();
    }
    let mut a = Analyzer::new(Config::default(), landmarks, Prior::default());
    for line in ev.split(|&b| b == b'\n') {
        a.push_line(line);
    }
    a.finish();
    (a, String::from_utf8(lab).unwrap())
}

#[test]
fn never_impossible_on_simulated_genuine_sessions() {
    let cfg = SimConfig {
        users: 40,
        sessions_per_user: [3, 5],
        interactions: [30, 60],
        keystrokes: [10, 20],
        ..SimConfig::default()
    };
    let (mut a, lab) = analyze_simulated(&cfg);
    let reports: std::collections::HashMap<String, SessionReport> =
        a.drain_reports().map(|r| (r.session.clone(), r)).collect();
    assert!(a.drain_errors().next().is_none());
    let (mut genuine, mut unlikely) = (0, 0);
    for l in lab.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let r = &reports[v["session"].as_str().unwrap()];
        if v["claim_offset_km"].as_f64().unwrap() < 100.0 {
            genuine += 1;
            assert_ne!(r.verdict, Verdict::Impossible, "{r:#?}");
            unlikely += r
                .reasons
                .iter()
                .any(|x| x.code == "claim-unlikely-location") as usize;
        }
    }
    assert!(genuine > 100);
    // The likelihood test's nominal false-rejection rate is 0.5 %.
    assert!(unlikely * 100 <= genuine, "{unlikely} of {genuine}");
}

#[test]
fn a_stream_of_false_claims_does_not_widen_the_path_model() {
    // A "laptop farm": half of all sessions claim a place 1,000–4,000 km from where they are.
    // The location test's path model learns only from undisputed claims, so it ends close to
    // the one learnt from honest traffic instead of widening until the false claims fit.
    let learnt = |fraud: f64| {
        let cfg = SimConfig {
            users: 60,
            sessions_per_user: [4, 6],
            interactions: [30, 40],
            keystrokes: [10, 20],
            location_fraud_fraction: fraud,
            ..SimConfig::default()
        };
        let (a, _) = analyze_simulated(&cfg);
        let p = a.prior();
        (p.path_log_m, p.path_s, p.path_obs)
    };
    let honest = learnt(0.0);
    let farm = learnt(0.5);
    assert!(honest.2 > 200 && farm.2 > 100, "{honest:?} {farm:?}");
    assert!((farm.0 - honest.0).abs() < 0.15, "{honest:?} {farm:?}");
    assert!(farm.1 < honest.1 + 0.12, "{honest:?} {farm:?}");
}

#[test]
fn a_farm_of_relayed_users_does_not_drag_the_population_prior() {
    // Half of all users are relayed from their very first session, so the population prior is
    // all a new user is judged against. It learns only from sessions below 2 SD of itself
    // (corrected for the cut): the farm moves its level far less than the relays' added delay.
    let learnt = |relayed: f64| {
        let cfg = SimConfig {
            users: 80,
            sessions_per_user: [4, 6],
            interactions: [60, 80],
            keystrokes: [10, 20],
            relay_user_fraction: relayed,
            relay_from_start_fraction: 1.0,
            location_fraud_fraction: 0.0,
            travel_fraud_user_fraction: 0.0,
            ..SimConfig::default()
        };
        let (a, _) = analyze_simulated(&cfg);
        let p = a.prior();
        (p.mu, p.var_total.sqrt(), p.sessions)
    };
    let honest = learnt(0.0);
    let farm = learnt(0.5);
    assert!(honest.2 > 300 && farm.2 > 150, "{honest:?} {farm:?}");
    assert!(farm.0 - honest.0 < 25.0, "{honest:?} {farm:?}");
    assert!(farm.1 < honest.1 * 1.4, "{honest:?} {farm:?}");
}

#[test]
fn destination_helper_sanity() {
    // Used by the constructed cases above: keep it honest.
    let p = destination(phoenix(), 90.0, 1_000.0);
    assert!((distance_km(phoenix(), p) - 1_000.0).abs() < 1e-6);
}

#[test]
fn an_ambiguous_city_name_is_impossible_only_if_every_place_it_names_is() {
    // "Udaipur, IN" is both Udaipur in Rajasthan (most populous) and Udaipur in Tripura, ~1,800 km
    // east, next to Dhaka. 3 ms to Dhaka rules out Rajasthan but not Tripura.
    let rtts = |sid: &str| {
        vec![
            format!(
                r#"{{"type":"rtt","session":"{sid}","t_ms":1,"landmark":{{"id":"dhaka","lat":23.81,"lon":90.41}},"rtt_ms":3.0}}"#
            ),
            format!(
                r#"{{"type":"rtt","session":"{sid}","t_ms":2,"landmark":"dhaka","rtt_ms":3.2}}"#
            ),
        ]
    };
    let mut lines = vec![login("amb", "u", 0.0, r#"{"city":"Udaipur, IN"}"#)];
    lines.extend(rtts("amb"));
    lines.push(login("exact", "v", 0.0, r#"{"lat":24.58,"lon":73.71}"#));
    lines.extend(rtts("exact"));
    let (r, _, e) = run(Config::default(), &lines);
    assert!(e.is_empty(), "{e:?}");
    let amb = r.iter().find(|s| s.session == "amb").unwrap();
    assert_eq!(amb.verdict, Verdict::Consistent, "{amb:#?}");
    assert!(
        amb.notes.iter().any(|n| n.contains("ambiguous")),
        "{:?}",
        amb.notes
    );
    let exact = r.iter().find(|s| s.session == "exact").unwrap();
    assert_eq!(exact.verdict, Verdict::Impossible);
}
