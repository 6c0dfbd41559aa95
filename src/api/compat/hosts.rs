//! Django's `ALLOWED_HOSTS`: the `Host` a request names must be one this service answers as,
//! or the request is refused before any view runs (so a forged host never reaches a link).

/// Whether `host` (a `Host` header, port included or not) matches one of `allowed`, as Django's
/// `validate_host` decides: `*` allows any host, `.example.org` allows it and its subdomains,
/// anything else must match exactly; case does not matter. An empty list allows any host.
pub fn is_allowed(host: &str, allowed: &[String]) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(domain) = domain_of(host) else {
        return false;
    };
    // No allocation per request: `domain` is lower-case, patterns are compared without case.
    allowed.iter().any(|pattern| {
        pattern == "*"
            || pattern.eq_ignore_ascii_case(&domain)
            || pattern.strip_prefix('.').is_some_and(|parent| {
                domain.eq_ignore_ascii_case(parent)
                    || domain
                        .len()
                        .checked_sub(parent.len() + 1)
                        .is_some_and(|dot| {
                            domain.as_bytes()[dot] == b'.'
                                && domain[dot + 1..].eq_ignore_ascii_case(parent)
                        })
            })
    })
}

/// The host without its port, lower-cased, or `None` when it is not a valid host (Django's
/// `split_domain_port`: a name or an IPv4 address, or an IPv6 address in brackets).
fn domain_of(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    if host.starts_with('[') {
        let end = host.find(']')?;
        let rest = &host[end + 1..];
        let port_ok = rest.is_empty()
            || rest
                .strip_prefix(':')
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
        return port_ok.then(|| host[..=end].to_owned());
    }
    let (domain, port) = match host.rsplit_once(':') {
        Some((domain, port)) => (domain, Some(port)),
        None => (host.as_str(), None),
    };
    let valid_domain = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let valid_port = port.is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()));
    (valid_domain && valid_port).then(|| domain.trim_end_matches('.').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str]) -> Vec<String> {
        patterns.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn hosts_match_as_django_matches_them() {
        let list = allowed(&["api.example.org", ".nhs.uk"]);
        for host in [
            "api.example.org",
            "API.Example.org:8443",
            "nhs.uk",
            "data.nhs.uk:443",
        ] {
            assert!(is_allowed(host, &list), "{host}");
        }
        for host in [
            "evil.org",
            "api.example.org.evil.org",
            "xnhs.uk",
            "api.example.org:x",
            "",
        ] {
            assert!(!is_allowed(host, &list), "{host}");
        }
        assert!(is_allowed("anything.test", &allowed(&["*"])));
        assert!(
            is_allowed("anything.test", &[]),
            "no list allows every host"
        );
        assert!(is_allowed("[::1]:8000", &allowed(&["[::1]"])));
        assert!(!is_allowed("a b", &allowed(&["*"])), "not a host at all");
    }
}
