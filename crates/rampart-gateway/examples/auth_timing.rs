//! Time `KeyRing::authenticate` for a valid, a revoked, an unknown well-formed, and a malformed
//! key, to check that failures cannot be told apart by timing (bench/gateway/run.sh runs it).
//!
//! cargo run --release -p rampart-gateway --example auth_timing [KEYS] [ROUNDS]

use std::time::Instant;

use rampart_gateway::keys::{KeyHasher, KeyRing, KeySpec, generate_key, new_key};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n_keys: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let ring = KeyRing::new(KeyHasher::new(b"auth-timing-secret-0123456789abcdef"));
    let spec = KeySpec {
        name: "t".into(),
        ..Default::default()
    };
    let mut recs = Vec::new();
    let mut valid = String::new();
    let mut revoked = String::new();
    for i in 0..n_keys {
        let (k, mut r) = new_key(ring.hasher(), &spec, 0, None).expect("key");
        if i == 0 {
            valid = k;
        } else if i == 1 {
            r.revoked_ms = Some(1);
            revoked = k;
        }
        recs.push(r);
    }
    ring.load(recs, &|_, _| (0, 0));
    let unknown = generate_key().expect("key");
    let malformed = "sk-this-is-not-a-rampart-key-at-all-0000".to_string();
    let cases = [
        ("valid", valid),
        ("revoked", revoked),
        ("unknown", unknown),
        ("malformed", malformed),
    ];
    // Interleave the cases so drift affects all alike; report the median of per-call times.
    let mut times: Vec<Vec<u32>> = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (i, (_, k)) in cases.iter().enumerate() {
            let t = Instant::now();
            let r = ring.authenticate(std::hint::black_box(k.as_bytes()), 10);
            std::hint::black_box(&r);
            times[i].push(t.elapsed().as_nanos() as u32);
        }
    }
    for (i, (name, _)) in cases.iter().enumerate() {
        let v = &mut times[i];
        v.sort_unstable();
        println!(
            "{{\"label\":\"auth-{name}\",\"keys\":{n_keys},\"rounds\":{rounds},\"p50_ns\":{},\"p90_ns\":{},\"p99_ns\":{}}}",
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() * 99 / 100]
        );
    }
}
