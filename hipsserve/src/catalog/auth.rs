//! Access control for restricted HiPS (DMS-REQ-0380, DMS-REQ-0340): who the caller is, and whether they may read.
//!
//! Identities come from bearer tokens (Authorization header, or a cookie for browsers) or, only when the configuration
//! says an authenticating ingress is in front, from identity headers it sets. Tokens are kept as SHA-256 digests only
//! (the file may already hold digests) and every presented token is compared against every stored digest in constant
//! time, so neither timing nor early exit reveals which token was close.

use std::collections::BTreeMap;

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{Access, AuthConfig, ResolvedSettings};

/// Errors while loading tokens; each names the source and line.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token file could not be read.
    #[error("cannot read tokens file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `user:token` or `user:sha256:<64 hex>`.
    #[error("{origin} line {line}: expected `user:token` or `user:sha256:<64 hex digits>`")]
    Syntax {
        /// File or variable.
        origin: String,
        /// 1-based line number.
        line: usize,
    },
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name.
    pub user: String,
    /// Groups the user belongs to.
    pub groups: Vec<String>,
}

/// The outcome of an access check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Serve it.
    Allow,
    /// No (valid) credentials: 401 with a challenge; `invalid` when a token was given but unknown.
    Unauthenticated {
        /// A credential was presented but not recognised.
        invalid: bool,
    },
    /// Authenticated but not allowed: 403.
    Forbidden,
}

/// The authenticator built from [`AuthConfig`].
pub struct Auth {
    tokens: Vec<([u8; 32], String)>,
    groups: BTreeMap<String, Vec<String>>,
    cfg: AuthConfig,
}

/// Counts only: the token hashes and the names they map to stay out of logs.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("tokens", &self.tokens.len())
            .field("groups", &self.groups.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Load tokens from the configured file and environment variable.
    ///
    /// # Errors
    /// When the file cannot be read or a line is malformed.
    pub fn new(cfg: &AuthConfig, env: impl Fn(&str) -> Option<String>) -> Result<Auth, AuthError> {
        let mut tokens = Vec::new();
        if let Some(p) = &cfg.tokens_file {
            let text = std::fs::read_to_string(p)
                .map_err(|source| AuthError::Read { path: p.display().to_string(), source })?;
            parse_tokens(&text, &p.display().to_string(), '\n', &mut tokens)?;
        }
        if !cfg.tokens_env.is_empty() {
            if let Some(v) = env(&cfg.tokens_env) {
                parse_tokens(&v.replace(',', "\n"), &cfg.tokens_env, '\n', &mut tokens)?;
            }
        }
        Ok(Auth { tokens, groups: cfg.groups.clone(), cfg: cfg.clone() })
    }

    /// Number of tokens loaded.
    #[must_use]
    pub fn token_count(&self) -> usize {
        self.tokens.len()
    }

    /// The realm for WWW-Authenticate.
    #[must_use]
    pub fn realm(&self) -> &str {
        &self.cfg.realm
    }

    fn user_for_token(&self, token: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found: Option<String> = None;
        for (h, user) in &self.tokens {
            if bool::from(h.ct_eq(&digest)) && found.is_none() {
                found = Some(user.clone());
            }
        }
        found
    }

    /// Identify the caller: `Ok(None)` anonymous, `Err(())` when a credential was presented but is invalid.
    ///
    /// # Errors
    /// `Err(())` for an invalid credential (the caller answers 401).
    #[allow(clippy::result_unit_err)]
    pub fn identify(&self, headers: &HeaderMap) -> Result<Option<Identity>, ()> {
        let bearer = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            // The scheme is case-insensitive (RFC 9110 §11.1).
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_string());
        let cookie = (!self.cfg.token_cookie.is_empty())
            .then(|| {
                headers.get_all(http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
                    c.split(';').find_map(|kv| {
                        let (k, v) = kv.trim().split_once('=')?;
                        (k == self.cfg.token_cookie).then(|| v.to_string())
                    })
                })
            })
            .flatten();
        if let Some(tok) = bearer.or(cookie) {
            let Some(user) = self.user_for_token(&tok) else { return Err(()) };
            let groups = self.groups.iter().filter(|(_, m)| m.contains(&user)).map(|(g, _)| g.clone()).collect();
            return Ok(Some(Identity { user, groups }));
        }
        if self.cfg.trusted_ingress {
            if let Some(user) = headers.get(self.cfg.user_header.as_str()).and_then(|v| v.to_str().ok()) {
                let user = user.trim();
                if !user.is_empty() {
                    let mut groups: Vec<String> = headers
                        .get(self.cfg.groups_header.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(|g| g.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
                        .unwrap_or_default();
                    for (g, m) in &self.groups {
                        if m.iter().any(|u| u == user) && !groups.contains(g) {
                            groups.push(g.clone());
                        }
                    }
                    return Ok(Some(Identity { user: user.to_string(), groups }));
                }
            }
        }
        Ok(None)
    }

    /// Decide whether the request may read a HiPS with these settings.
    #[must_use]
    pub fn check(&self, settings: &ResolvedSettings, headers: &HeaderMap) -> Decision {
        if settings.access == Access::Public {
            return Decision::Allow;
        }
        let id = match self.identify(headers) {
            Err(()) => return Decision::Unauthenticated { invalid: true },
            Ok(None) => return Decision::Unauthenticated { invalid: false },
            Ok(Some(id)) => id,
        };
        let allowed = settings.owner.as_deref() == Some(id.user.as_str())
            || settings.users.contains(&id.user)
            || settings.groups.iter().any(|g| id.groups.contains(g));
        if allowed {
            Decision::Allow
        } else {
            Decision::Forbidden
        }
    }
}

fn parse_tokens(text: &str, origin: &str, _sep: char, out: &mut Vec<([u8; 32], String)>) -> Result<(), AuthError> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = || AuthError::Syntax { origin: origin.to_string(), line: i + 1 };
        let (user, rest) = line.split_once(':').ok_or_else(err)?;
        if user.is_empty() || rest.is_empty() {
            return Err(err());
        }
        let digest: [u8; 32] = if let Some(hexd) = rest.strip_prefix("sha256:") {
            let v = hex::decode(hexd).map_err(|_| err())?;
            v.try_into().map_err(|_| err())?
        } else {
            Sha256::digest(rest.as_bytes()).into()
        };
        out.push((digest, user.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(http::HeaderName::from_bytes(k.as_bytes()).expect("name"), v.parse().expect("value"));
        }
        h
    }

    #[test]
    fn rules() {
        let cfg = Config::from_toml(
            "[auth]\ntrusted_ingress = true\n[auth.groups]\nrubin = [\"carol\"]\n\
             [hips.r]\naccess = \"restricted\"\nowner = \"alice\"\nusers = [\"bob\"]\ngroups = [\"rubin\"]\n",
            std::path::Path::new("t"),
        )
        .expect("cfg");
        let bob_digest = hex::encode(Sha256::digest(b"bobtok"));
        let env = move |_: &str| Some(format!("alice:alicetok,bob:sha256:{bob_digest},carol:caroltok,dave:davetok"));
        let a = Auth::new(&cfg.auth, env).expect("auth");
        let s = cfg.settings_for("r");
        assert_eq!(a.check(&s, &hm(&[])), Decision::Unauthenticated { invalid: false });
        assert_eq!(a.check(&s, &hm(&[("authorization", "Bearer nope")])), Decision::Unauthenticated { invalid: true });
        assert_eq!(a.check(&s, &hm(&[("authorization", "Bearer alicetok")])), Decision::Allow);
        assert_eq!(a.check(&s, &hm(&[("authorization", "BEARER alicetok")])), Decision::Allow);
        assert_eq!(a.check(&s, &hm(&[("authorization", "bEaReR alicetok")])), Decision::Allow);
        assert_eq!(a.check(&s, &hm(&[("authorization", "Bearer bobtok")])), Decision::Allow);
        assert_eq!(a.check(&s, &hm(&[("cookie", "x=1; hips_token=caroltok")])), Decision::Allow);
        assert_eq!(a.check(&s, &hm(&[("authorization", "Bearer davetok")])), Decision::Forbidden);
        assert_eq!(a.check(&s, &hm(&[("x-auth-request-user", "erin")])), Decision::Forbidden);
        assert_eq!(
            a.check(&s, &hm(&[("x-auth-request-user", "erin"), ("x-auth-request-groups", "a, rubin")])),
            Decision::Allow
        );
        assert_eq!(a.check(&cfg.settings_for("pub"), &hm(&[])), Decision::Allow);
    }

    #[test]
    fn ingress_headers_ignored_unless_trusted() {
        let cfg =
            Config::from_toml("[hips.r]\naccess = \"restricted\"\nowner = \"alice\"\n", std::path::Path::new("t"))
                .expect("cfg");
        let a = Auth::new(&cfg.auth, |_| None).expect("auth");
        let d = a.check(&cfg.settings_for("r"), &hm(&[("x-auth-request-user", "alice")]));
        assert_eq!(d, Decision::Unauthenticated { invalid: false });
    }
}
