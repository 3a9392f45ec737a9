/// Redact a secret for display: the first four and last two characters survive, joined by `…`.
///
/// Secrets shorter than 12 characters keep only their first two characters, so that a short
/// password is never mostly revealed.
pub fn redact(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 12 {
        let head: String = chars[..4].iter().collect();
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("{head}…{tail}")
    } else if chars.len() >= 4 {
        let head: String = chars[..2].iter().collect();
        format!("{head}…")
    } else {
        "…".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn keeps_four_and_two() {
        assert_eq!(
            redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            "ghp_…89"
        );
    }

    #[test]
    fn short_secrets_reveal_little() {
        assert_eq!(redact("hunter2"), "hu…");
        assert_eq!(redact("abc"), "…");
        assert_eq!(redact(""), "…");
    }

    #[test]
    fn multibyte_is_safe() {
        assert_eq!(redact("ééééééééééééé"), "éééé…éé");
    }
}
