//! Access and refresh tokens. Access tokens are short-lived JWTs signed with
//! HS256 (a key of at least 32 bytes) or EdDSA (an Ed25519 key pair), the
//! key always from the configuration or a file, never from code. Refresh
//! tokens are 256-bit random strings of which only the SHA-256 is stored.

use std::path::{Path, PathBuf};

use arus_schemas::Config;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Role when the token was issued (informational: requests use the
    /// role the person has now).
    pub role: String,
    /// The login session (refresh-token family); logout revokes it.
    pub sid: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: String,
}

/// Why keys could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write the generated JWT key to {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("JWT key in {what} is invalid: {reason}")]
    Invalid { what: String, reason: String },
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

/// Shortest HS256 key accepted, in bytes (RFC 7518 §3.2: at least the hash size).
const MIN_HS256_KEY: usize = 32;
/// Seconds of clock difference tolerated on `exp` and `nbf`.
const LEEWAY_S: u64 = 5;

impl TokenKeys {
    /// Keys from the configuration, in order: an Ed25519 key pair
    /// (`ARUS_JWT_PRIVATE_KEY_FILE` + `ARUS_JWT_PUBLIC_KEY_FILE`), an HS256
    /// key (`ARUS_JWT_SECRET` or `ARUS_JWT_SECRET_FILE`), else an HS256 key
    /// generated once into `{data_dir}/secrets/jwt-hs256.key` (mode 0600)
    /// so that a single-machine install works and keeps its sessions across
    /// restarts.
    pub fn from_config(config: &Config) -> Result<TokenKeys, KeyError> {
        if !config.jwt_private_key_file.is_empty() {
            let private = read(Path::new(&config.jwt_private_key_file))?;
            let public = read(Path::new(&config.jwt_public_key_file))?;
            let invalid = |what: &str, e: jsonwebtoken::errors::Error| KeyError::Invalid { what: what.into(), reason: e.to_string() };
            let encoding = EncodingKey::from_ed_pem(&private).map_err(|e| invalid("jwt_private_key_file", e))?;
            let decoding = DecodingKey::from_ed_pem(&public).map_err(|e| invalid("jwt_public_key_file", e))?;
            return Ok(Self::new(Algorithm::EdDSA, encoding, decoding, &config.jwt_issuer));
        }
        let secret = if config.jwt_secret.is_set() {
            config.jwt_secret.expose().as_bytes().to_vec()
        } else if !config.jwt_secret_file.is_empty() {
            trim_newline(read(Path::new(&config.jwt_secret_file))?)
        } else {
            generated_secret(&config.data_dir.join("secrets").join("jwt-hs256.key"))?
        };
        Self::hs256(&secret, &config.jwt_issuer)
    }

    /// HS256 keys from `secret`.
    pub fn hs256(secret: &[u8], issuer: &str) -> Result<TokenKeys, KeyError> {
        if secret.len() < MIN_HS256_KEY {
            return Err(KeyError::Invalid {
                what: "jwt_secret".into(),
                reason: format!("{} bytes; HS256 needs at least {MIN_HS256_KEY}", secret.len()),
            });
        }
        Ok(Self::new(Algorithm::HS256, EncodingKey::from_secret(secret), DecodingKey::from_secret(secret), issuer))
    }

    fn new(algorithm: Algorithm, encoding: EncodingKey, decoding: DecodingKey, issuer: &str) -> TokenKeys {
        // Only this one algorithm is accepted: `alg: none` and algorithm
        // confusion fail before any signature check.
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience(issuer)]);
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_S;
        TokenKeys { algorithm, encoding, decoding, validation, issuer: issuer.to_owned() }
    }

    /// A signed access token for `user_id` in session `sid`, valid for `ttl_s`.
    pub fn issue(&self, user_id: &str, role: &str, sid: &str, ttl_s: u64) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_owned(),
            role: role.to_owned(),
            sid: sid.to_owned(),
            iss: self.issuer.clone(),
            aud: audience(&self.issuer),
            iat: now,
            nbf: now,
            exp: now + ttl_s as i64,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(self.algorithm), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// The claims of `token` when its algorithm, signature, issuer,
    /// audience and validity window all check out.
    pub fn verify(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        Ok(jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)?.claims)
    }
}

fn audience(issuer: &str) -> String {
    format!("{issuer}-api")
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read { path: path.to_owned(), source })
}

fn trim_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| b.is_ascii_whitespace()) {
        bytes.pop();
    }
    bytes
}

/// The key in `path`, generating 48 random bytes (base64) there first when missing.
fn generated_secret(path: &Path) -> Result<Vec<u8>, KeyError> {
    if let Ok(existing) = std::fs::read(path) {
        return Ok(trim_newline(existing));
    }
    let write = |source| KeyError::Write { path: path.to_owned(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 48]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => std::io::Write::write_all(&mut file, key.as_bytes()).map_err(write)?,
        // Another process generated it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read(path).map(trim_newline),
        Err(e) => return Err(write(e)),
    }
    tracing::warn!(path = %path.display(), "no JWT key configured; generated one (set ARUS_JWT_SECRET or a key pair in production)");
    Ok(key.into_bytes())
}

/// A new refresh token: 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// What is stored of a refresh token: hex SHA-256.
pub fn refresh_token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::hs256(&[7u8; 32], "arus").unwrap()
    }

    #[test]
    fn issued_tokens_verify_and_tampered_ones_do_not() {
        let keys = keys();
        let (token, claims) = keys.issue("u1", "user", "s1", 60).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), claims);
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
        let forged = String::from_utf8(body).unwrap().replace("\"u1\"", "\"u2\"");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged);
        assert!(keys.verify(&parts.join(".")).is_err(), "a changed payload fails the signature");
        let other = TokenKeys::hs256(&[8u8; 32], "arus").unwrap();
        assert!(other.verify(&token).is_err(), "another key fails");
        assert!(keys.verify("not.a.jwt").is_err());
    }

    #[test]
    fn short_keys_are_refused() {
        let err = TokenKeys::hs256(b"short", "arus").unwrap_err().to_string();
        assert!(err.contains("at least 32"), "{err}");
    }

    #[test]
    fn a_generated_key_is_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets/jwt.key");
        let first = generated_secret(&path).unwrap();
        assert_eq!(generated_secret(&path).unwrap(), first);
        assert!(first.len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let a = new_refresh_token();
        assert_ne!(a, new_refresh_token());
        assert_eq!(a.len(), 43);
        assert_eq!(refresh_token_hash(&a).len(), 64);
        assert_ne!(refresh_token_hash(&a), a);
    }
}
