//! The URL detector: reports links whose verdict is `malicious` in any scanned text.

use crate::extract::find_urls;
use crate::judge::{Judge, Level};
use rampart_core::{Detections, Detector, Finding, Item, Kind, Severity};
use std::sync::Arc;

/// A [`Detector`] that finds URLs in an item's bytes ([`find_urls`]), judges each one, and emits a
/// finding of kind [`Kind::Url`] for every `malicious` verdict. Safe and suspicious links are not
/// reported. The rule id is `url-` plus the code of the weightiest reason (`url-typosquat`,
/// `url-userinfo-domain`…); the fingerprint covers the rule, the item's identity and the URL, not
/// its line, so it survives edits that move the link.
///
/// ```
/// use rampart_core::{Detections, Detector, Item, Location};
/// let det = rampart_url::UrlDetector::new(std::sync::Arc::new(rampart_url::Judge::default()));
/// let loc = Location::file("mail.txt");
/// let mut out = Detections::default();
/// det.detect(&Item { path: "mail.txt", data: b"Hi,\n  log in at https://paypa1.com/login\n", location: &loc }, &mut out);
/// assert_eq!(out.findings.len(), 1);
/// assert_eq!(out.findings[0].location.line, Some(2));
/// assert_eq!(out.findings[0].location.column, Some(13));
/// ```
#[derive(Debug, Clone)]
pub struct UrlDetector {
    judge: Arc<Judge>,
}

impl UrlDetector {
    /// A detector sharing `judge`.
    pub fn new(judge: Arc<Judge>) -> UrlDetector {
        UrlDetector { judge }
    }
}

impl Detector for UrlDetector {
    fn name(&self) -> &'static str {
        "urls"
    }

    fn detect(&self, item: &Item<'_>, out: &mut Detections) {
        let data = item.data;
        let identity = item.location.identity();
        let mut line: u32 = 1;
        let mut line_start = 0usize;
        let mut counted = 0usize;
        for (range, url) in find_urls(data) {
            for nl in memchr::memchr_iter(b'\n', &data[counted..range.start]) {
                line = line.saturating_add(1);
                line_start = counted + nl + 1;
            }
            counted = range.start;
            let v = self.judge.judge(url);
            if v.verdict != Level::Malicious {
                continue;
            }
            let top = v
                .reasons
                .first()
                .map(|r| r.code.as_str())
                .unwrap_or("malicious");
            let rule = format!("url-{top}");
            let column = u32::try_from(range.start - line_start + 1).unwrap_or(u32::MAX);
            let location = item.location.clone().with_line(line, column);
            let message = match &v.impersonates {
                Some(i) => format!(
                    "malicious link imitating {} ({}) by {}: {}",
                    i.brand, i.domain, i.technique, v.url
                ),
                None => format!(
                    "malicious link: {} ({})",
                    v.url,
                    v.reasons.first().map(|r| r.message.as_str()).unwrap_or("")
                ),
            };
            let mut f = Finding::new(Kind::Url, rule.clone(), Severity::High, message, location);
            f.fingerprint = rampart_core::fingerprint(&[&rule, &identity], v.url.as_bytes());
            f.remediation = Some(
                "Do not open or forward this link; remove it, or report it to your security team."
                    .into(),
            );
            let mut extra = serde_json::Map::new();
            extra.insert("url".into(), v.url.clone().into());
            extra.insert("host".into(), v.host.clone().into());
            extra.insert(
                "registrable_domain".into(),
                v.registrable_domain.clone().into(),
            );
            extra.insert("verdict".into(), v.verdict.as_str().into());
            extra.insert("score".into(), v.score.into());
            if let Ok(r) = serde_json::to_value(&v.reasons) {
                extra.insert("reasons".into(), r);
            }
            if let Some(i) = &v.impersonates
                && let Ok(j) = serde_json::to_value(i)
            {
                extra.insert("impersonates".into(), j);
            }
            f.extra = extra;
            out.findings.push(f);
        }
    }
}
