//! `registry://HOST[:PORT]/REPOSITORY[:TAG|@DIGEST]`: pull an image through the OCI distribution
//! API (anonymous, bearer-token or basic authentication) into a temporary OCI layout — blobs are
//! stored as they come, compressed, never extracted — and scan that layout like any other.

use crate::{Sink, SourceOptions};
use rampart_core::Skipped;
use serde_json::{Value, json};
use std::path::Path;

/// Largest manifest or index accepted.
const MAX_MANIFEST: u64 = 16 << 20;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// Credentials for a registry (`RAMPART_REGISTRY_USER` / `RAMPART_REGISTRY_PASSWORD`).
#[derive(Clone, Debug, Default)]
pub struct RegistryAuth {
    /// User name and password (or token), sent with basic authentication or to the token server.
    pub basic: Option<(String, String)>,
    /// Use plain HTTP even for a host that is not loopback.
    pub insecure: bool,
}

struct Ref {
    host: String,
    repo: String,
    reference: String,
}

fn parse(s: &str) -> Result<Ref, String> {
    let rest = s
        .strip_prefix("registry://")
        .ok_or("a registry reference starts with registry://")?;
    let (host, path) = rest
        .split_once('/')
        .ok_or("expected registry://HOST/REPOSITORY[:TAG]")?;
    if host.is_empty() || path.is_empty() {
        return Err("expected registry://HOST/REPOSITORY[:TAG]".into());
    }
    let (repo, reference) = if let Some((r, d)) = path.split_once('@') {
        (r.to_string(), d.to_string())
    } else {
        match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (path.to_string(), "latest".to_string()),
        }
    };
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c);
    if !repo.chars().all(ok)
        || !reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c))
    {
        return Err(format!("`{path}` is not a valid repository and tag"));
    }
    Ok(Ref {
        host: host.to_string(),
        repo,
        reference,
    })
}

struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
    auth: RegistryAuth,
    scope: String,
}

fn loopback(host: &str) -> bool {
    let h = host.rsplit_once(':').map_or(host, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(h, "localhost" | "127.0.0.1" | "[::1]") || h.starts_with("127.")
}

/// `key="value"` pairs of a WWW-Authenticate challenge.
fn challenge_params(h: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = h;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq]
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(v) = after.strip_prefix('"') {
            match v.find('"') {
                Some(end) => (v[..end].to_string(), &v[end + 1..]),
                None => (v.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((key, value));
        rest = next;
    }
    out
}

impl Client {
    fn new(r: &Ref, auth: RegistryAuth) -> Client {
        let scheme = if auth.insecure || loopback(&r.host) {
            "http"
        } else {
            "https"
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(std::time::Duration::from_secs(30)))
            .timeout_recv_response(Some(std::time::Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            agent,
            base: format!("{scheme}://{}/v2/{}", r.host, r.repo),
            token: None,
            auth,
            scope: format!("repository:{}:pull", r.repo),
        }
    }

    fn request(&self, url: &str, accept: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut req = self.agent.get(url).header("Accept", accept);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        } else if let Some((u, p)) = &self.auth.basic {
            req = req.header("Authorization", &basic(u, p));
        }
        req.call().map_err(|e| format!("{url}: {e}"))
    }

    /// GET with one round of authentication when the registry asks for it.
    fn get(&mut self, url: &str, accept: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
        let resp = self.request(url, accept)?;
        if resp.status() != 401 || self.token.is_some() {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if challenge.to_ascii_lowercase().starts_with("bearer") {
            let params = challenge_params(&challenge["bearer".len()..]);
            let get = |k: &str| {
                params
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            let realm = get("realm").ok_or("the registry's bearer challenge has no realm")?;
            let service = get("service").unwrap_or_default();
            let scope = get("scope").unwrap_or_else(|| self.scope.clone());
            let sep = if realm.contains('?') { '&' } else { '?' };
            let token_url = format!(
                "{realm}{sep}service={}&scope={}",
                enc(&service),
                enc(&scope)
            );
            let mut req = self.agent.get(&token_url);
            if let Some((u, p)) = &self.auth.basic {
                req = req.header("Authorization", &basic(u, p));
            }
            let mut tr = req
                .call()
                .map_err(|e| format!("token server {realm}: {e}"))?;
            if !tr.status().is_success() {
                return Err(format!(
                    "token server {realm} refused: HTTP {}",
                    tr.status()
                ));
            }
            let body = tr
                .body_mut()
                .with_config()
                .limit(1 << 20)
                .read_to_string()
                .map_err(|e| format!("token server: {e}"))?;
            let v: Value = serde_json::from_str(&body)
                .map_err(|e| format!("token server answer is not JSON: {e}"))?;
            let token = v["token"]
                .as_str()
                .or(v["access_token"].as_str())
                .ok_or("token server answer has no token")?;
            self.token = Some(token.to_string());
            self.request(url, accept)
        } else if self.auth.basic.is_none() {
            Err("the registry requires credentials (set RAMPART_REGISTRY_USER and RAMPART_REGISTRY_PASSWORD)".into())
        } else {
            Ok(resp)
        }
    }

    fn manifest(&mut self, reference: &str) -> Result<(Vec<u8>, String), String> {
        let url = format!("{}/manifests/{reference}", self.base);
        let mut resp = self.get(&url, ACCEPT)?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST)
            .read_to_vec()
            .map_err(|e| format!("{url}: {e}"))?;
        Ok((body, media))
    }

    fn blob(&mut self, digest: &str, into: &Path) -> Result<(), String> {
        let url = format!("{}/blobs/{digest}", self.base);
        let mut resp = self.get(&url, "*/*")?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let mut file =
            std::fs::File::create(into).map_err(|e| format!("{}: {e}", into.display()))?;
        let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
        std::io::copy(&mut reader, &mut file).map_err(|e| format!("{url}: {e}"))?;
        Ok(())
    }
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Pull `reference` into a temporary OCI layout and scan it. Problems become skip entries.
pub fn scan_registry(reference: &str, auth: RegistryAuth, opts: &SourceOptions, sink: &dyn Sink) {
    if let Err(e) = pull_and_scan(reference, auth, opts, sink) {
        sink.skipped(Skipped::new(reference, e));
    }
}

fn pull_and_scan(
    reference: &str,
    auth: RegistryAuth,
    opts: &SourceOptions,
    sink: &dyn Sink,
) -> Result<(), String> {
    let r = parse(reference)?;
    let mut client = Client::new(&r, auth);
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let blobs = dir.path().join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
    let save = |data: &[u8]| -> Result<String, String> {
        let hex = sha256_hex(data);
        std::fs::write(blobs.join(&hex), data).map_err(|e| e.to_string())?;
        Ok(format!("sha256:{hex}"))
    };
    let (top, media) = client.manifest(&r.reference)?;
    let top_digest = save(&top)?;
    if r.reference.starts_with("sha256:") && r.reference != top_digest {
        return Err(format!(
            "the registry answered {top_digest} for {}",
            r.reference
        ));
    }
    let doc: Value =
        serde_json::from_slice(&top).map_err(|e| format!("manifest is not JSON: {e}"))?;
    let mut manifests = Vec::new();
    if doc.get("manifests").is_some() {
        for m in doc["manifests"].as_array().cloned().unwrap_or_default() {
            if let (Some(want), Some(os), Some(arch)) = (
                &opts.platform,
                m["platform"]["os"].as_str(),
                m["platform"]["architecture"].as_str(),
            ) {
                if !format!("{os}/{arch}").starts_with(want.as_str())
                    && !want.starts_with(&format!("{os}/{arch}"))
                {
                    continue;
                }
            }
            let Some(d) = m["digest"].as_str() else {
                continue;
            };
            let (body, _) = client.manifest(d)?;
            save(&body)?;
            manifests.push(body);
        }
    } else {
        manifests.push(top.clone());
    }
    for body in &manifests {
        let m: Value =
            serde_json::from_slice(body).map_err(|e| format!("manifest is not JSON: {e}"))?;
        let mut wanted: Vec<String> = m["config"]["digest"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect();
        wanted.extend(
            m["layers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["digest"].as_str().map(str::to_string)),
        );
        for d in wanted {
            let Some(path) = crate::image::blob_path(&d) else {
                return Err(format!("malformed digest `{d}` in a manifest"));
            };
            let target = dir.path().join(path);
            if !target.exists() {
                if let Err(e) = client.blob(&d, &target) {
                    // The image scan reports the missing blob as an integrity finding.
                    sink.skipped(Skipped::new(
                        format!("{reference}@{d}"),
                        format!("cannot download blob: {e}"),
                    ));
                    let _ = std::fs::remove_file(&target);
                }
            }
        }
    }
    let media = if media.is_empty() {
        doc["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_string()
    } else {
        media
    };
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": media,
            "digest": top_digest,
            "size": top.len(),
            "annotations": {"org.opencontainers.image.ref.name": format!("{}:{}", r.repo, r.reference)},
        }],
    });
    std::fs::write(dir.path().join("index.json"), index.to_string()).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.path().join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .map_err(|e| e.to_string())?;
    crate::image::scan_oci_dir(dir.path(), reference, opts, sink);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = parse("registry://127.0.0.1:5000/team/app:1.2").unwrap();
        assert_eq!(
            (r.host.as_str(), r.repo.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "team/app", "1.2")
        );
        assert_eq!(
            parse("registry://ghcr.io/acme/api").unwrap().reference,
            "latest"
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(parse(&format!("registry://h/r@{d}")).unwrap().reference, d);
        assert!(parse("registry://host").is_err());
        assert!(parse("registry://h/UPPER:1").is_err());
    }

    #[test]
    fn challenges_and_basic_auth() {
        let p =
            challenge_params(r#" realm="http://a/token",service="reg",scope="repository:x:pull""#);
        assert_eq!(p[0], ("realm".into(), "http://a/token".into()));
        assert_eq!(p[2], ("scope".into(), "repository:x:pull".into()));
        assert_eq!(
            basic("aladdin", "opensesame"),
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l"
        );
        assert!(loopback("127.0.0.1:5000") && loopback("localhost") && !loopback("ghcr.io"));
    }
}
