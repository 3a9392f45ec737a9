//! `UrlDetector` through the `rampart_core::Detector` interface, on a real file in a temp dir.

use rampart_core::{Detections, Detector, Item, Kind, Location, Severity};
use rampart_url::{Judge, UrlDetector};
use std::sync::Arc;

fn detect(path: &str, data: &[u8]) -> Detections {
    let det = UrlDetector::new(Arc::new(Judge::default()));
    let loc = Location::file(path);
    let mut out = Detections::default();
    det.detect(
        &Item {
            path,
            data,
            location: &loc,
        },
        &mut out,
    );
    out
}

#[test]
fn reports_only_malicious_links_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mail.eml");
    std::fs::write(
        &file,
        "Subject: account\n\
         Official: https://www.paypal.com/signin\n\
         Odd but not malicious: http://198.51.100.7/status\n\
         Please verify: <a href=\"https://paypal.com.account-verify.top/login\">here</a>\n\
         \tand http://3232235777/x\n",
    )
    .unwrap();
    let data = std::fs::read(&file).unwrap();
    let out = detect("mail.eml", &data);
    let got: Vec<(u32, u32, &str)> = out
        .findings
        .iter()
        .map(|f| {
            (
                f.location.line.unwrap(),
                f.location.column.unwrap(),
                f.rule.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (4, 25, "url-brand-in-subdomain"),
            (5, 6, "url-ip-obfuscated")
        ]
    );
    let f = &out.findings[0];
    assert_eq!(f.kind, Kind::Url);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.fingerprint.len(), 32);
    assert!(f.message.contains("PayPal"), "{}", f.message);
    assert_eq!(f.extra["registrable_domain"], "account-verify.top");
    assert_eq!(f.extra["verdict"], "malicious");
    assert_eq!(f.extra["impersonates"]["brand"], "PayPal");
    let json = serde_json::to_value(f).unwrap();
    assert_eq!(json["kind"], "url");
}

#[test]
fn fingerprint_survives_moving_the_link() {
    let a = detect("x.txt", b"https://paypa1.com/login\n");
    let b = detect("x.txt", b"\n\n   moved: https://paypa1.com/login\n");
    assert_eq!(a.findings.len(), 1);
    assert_eq!(a.findings[0].fingerprint, b.findings[0].fingerprint);
    assert_ne!(a.findings[0].location.line, b.findings[0].location.line);
    let c = detect("y.txt", b"https://paypa1.com/login\n");
    assert_ne!(a.findings[0].fingerprint, c.findings[0].fingerprint);
}

#[test]
fn binary_and_empty_input() {
    assert!(detect("e", b"").findings.is_empty());
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    junk.extend_from_slice(b" https://rnicrosoft.com/ \xff");
    let out = detect("blob.bin", &junk);
    assert_eq!(out.findings.len(), 1);
}
