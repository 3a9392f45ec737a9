//! What the WHATWG parser normalises away but a judge must see: the raw authority as typed
//! (user-info, percent-escapes in the host, the written form of an IPv4 address).

use std::net::{Ipv4Addr, Ipv6Addr};

/// The authority of a URL as written, before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawAuthority<'a> {
    pub host: &'a str,
}

/// Find the authority of `input` (`scheme://[userinfo@]host[:port]`), as written. Backslashes
/// count as slashes, as in browsers for http(s).
pub(crate) fn raw_authority(input: &str) -> Option<RawAuthority<'_>> {
    let colon = input.find(':')?;
    let scheme = &input[..colon];
    if scheme.is_empty()
        || !scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let rest = input[colon + 1..].trim_start_matches(['/', '\\']);
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match authority.rfind('@') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    let host = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(i) => &host_port[..=i],
            None => host_port,
        }
    } else {
        match host_port.find(':') {
            Some(i) => &host_port[..i],
            None => host_port,
        }
    };
    Some(RawAuthority { host })
}

/// How an IPv4 host was written, when it is not the plain dotted-quad form.
pub(crate) fn ipv4_obfuscation(raw_host: &str) -> Option<&'static str> {
    let h = raw_host.trim_end_matches('.').to_ascii_lowercase();
    if h.contains('%') {
        return Some("percent-encoded");
    }
    let parts: Vec<&str> = h.split('.').collect();
    let hex = parts.iter().any(|p| p.starts_with("0x"));
    let octal = parts
        .iter()
        .any(|p| p.len() > 1 && p.starts_with('0') && !p.starts_with("0x"));
    if parts.len() == 1 {
        return Some(if hex {
            "a single hexadecimal number"
        } else if octal {
            "a single octal number"
        } else {
            "a single decimal number"
        });
    }
    if hex {
        return Some("hexadecimal parts");
    }
    if octal {
        return Some("octal parts");
    }
    if parts.len() != 4 {
        return Some("a shortened dotted form");
    }
    None
}

/// Whether an address is one no public phishing page can live at (loopback, private, link-local).
pub(crate) fn ipv4_is_local(ip: Ipv4Addr) -> bool {
    ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
}

/// The IPv6 counterpart of [`ipv4_is_local`] (loopback, unspecified, unique-local, link-local).
pub(crate) fn ipv6_is_local(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || ip.to_ipv4_mapped().is_some_and(ipv4_is_local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_as_written() {
        let a = |s| raw_authority(s).map(|a| a.host);
        assert_eq!(a("https://ftc.gov@evil.example/x"), Some("evil.example"));
        assert_eq!(a("http://0x7f.1:8080/"), Some("0x7f.1"));
        assert_eq!(a("http:\\\\exa%6dple.com\\x"), Some("exa%6dple.com"));
        assert_eq!(a("http://[::1]:80/"), Some("[::1]"));
        assert_eq!(a("http://u:p@h"), Some("h"));
        assert_eq!(a("no scheme"), None);
        assert_eq!(a(":x"), None);
    }

    #[test]
    fn ip_forms() {
        assert_eq!(
            ipv4_obfuscation("3232235777"),
            Some("a single decimal number")
        );
        assert_eq!(
            ipv4_obfuscation("0xC0A80101"),
            Some("a single hexadecimal number")
        );
        assert_eq!(ipv4_obfuscation("0300.0250.1.1"), Some("octal parts"));
        assert_eq!(ipv4_obfuscation("0xc0.0xa8.1.1"), Some("hexadecimal parts"));
        assert_eq!(ipv4_obfuscation("127.1"), Some("a shortened dotted form"));
        assert_eq!(ipv4_obfuscation("192.168.1.1"), None);
        assert_eq!(ipv4_obfuscation("0"), Some("a single decimal number"));
    }
}
