//! Personal data protection: resident ID numbers and phone numbers are
//! stored encrypted (AES-256-GCM, bound to their table, column and row by
//! the associated data), with the id of the key that sealed them so keys can
//! rotate, and a keyed hash (HMAC-SHA256) for exact look-up. They are shown
//! masked everywhere.
//!
//! Keys come from a file (`PII_KEYS_FILE`, a mounted secret in Kubernetes)
//! or `PII_KEYS`, one `id:base64` per line: `hash:` is the look-up key, and
//! the first other line is the key new values are sealed with; the rest stay
//! readable until data is re-encrypted.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use std::collections::HashMap;

const NONCE_LEN: usize = 12;

/// A value sealed with one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    /// Nonce followed by ciphertext and tag.
    pub ciphertext: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("PII keys: {0}")]
    Config(String),
    #[error("no PII key with id {0}")]
    UnknownKey(String),
    #[error("PII value could not be decrypted (wrong key or tampered row)")]
    Decrypt,
    #[error("PII value could not be encrypted")]
    Encrypt,
}

pub struct PiiKeys {
    writer: String,
    ciphers: HashMap<String, Aes256Gcm>,
    hash_key: Vec<u8>,
}

impl std::fmt::Debug for PiiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("PiiKeys")
            .field("writer", &self.writer)
            .field("keys", &self.ciphers.len())
            .finish()
    }
}

impl PiiKeys {
    /// Parses `id:base64` lines; `#` starts a comment.
    pub fn parse(text: &str) -> Result<Self, PiiError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut writer = None;
        let mut ciphers = HashMap::new();
        let mut hash_key = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (id, key) = line
                .split_once(':')
                .ok_or_else(|| PiiError::Config(format!("line {} is not id:base64", n + 1)))?;
            let key = b64
                .decode(key.trim())
                .map_err(|_| PiiError::Config(format!("line {}: key is not base64", n + 1)))?;
            if key.len() != 32 {
                return Err(PiiError::Config(format!(
                    "line {}: key must be 32 bytes, is {}",
                    n + 1,
                    key.len()
                )));
            }
            let id = id.trim().to_string();
            if id == "hash" {
                hash_key = Some(key);
                continue;
            }
            let cipher = Aes256Gcm::new_from_slice(&key)
                .map_err(|_| PiiError::Config("bad key length".into()))?;
            if ciphers.insert(id.clone(), cipher).is_some() {
                return Err(PiiError::Config(format!("key id {id} appears twice")));
            }
            writer.get_or_insert(id);
        }
        Ok(Self {
            writer: writer.ok_or_else(|| PiiError::Config("no encryption key given".into()))?,
            ciphers,
            hash_key: hash_key.ok_or_else(|| PiiError::Config("no hash: key given".into()))?,
        })
    }

    /// Reads `PII_KEYS_FILE` or, failing that, `PII_KEYS`.
    pub fn from_settings(file: Option<&str>, inline: Option<&str>) -> Result<Self, PiiError> {
        match (file, inline) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| PiiError::Config(format!("cannot read {path}: {e}")))?;
                Self::parse(&text)
            }
            (None, Some(text)) => Self::parse(&text.replace(',', "\n")),
            (None, None) => Err(PiiError::Config(
                "set PII_KEYS_FILE (or PII_KEYS); `make up` writes one for local use".into(),
            )),
        }
    }

    /// A fresh key file's text (for local set-up and tests).
    pub fn generate_file(key_id: &str) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut rng = rand::rng();
        let mut a = [0u8; 32];
        let mut h = [0u8; 32];
        rng.fill_bytes(&mut a);
        rng.fill_bytes(&mut h);
        format!("{key_id}:{}\nhash:{}\n", b64.encode(a), b64.encode(h))
    }

    pub fn writer_id(&self) -> &str {
        &self.writer
    }

    /// Seals `plaintext`; `context` (e.g. `applications.id_number:<row id>`)
    /// must be given again to open it, so a ciphertext copied to another
    /// row or column does not decrypt.
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<Sealed, PiiError> {
        let cipher = self
            .ciphers
            .get(&self.writer)
            .ok_or_else(|| PiiError::UnknownKey(self.writer.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // Fails only for inputs beyond AES-GCM's limit; never store an
        // empty ciphertext in its place.
        let body = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| PiiError::Encrypt)?;
        let mut ciphertext = nonce.to_vec();
        ciphertext.extend(body);
        Ok(Sealed {
            key_id: self.writer.clone(),
            ciphertext,
        })
    }

    pub fn open(&self, sealed: &Sealed, context: &str) -> Result<String, PiiError> {
        let cipher = self
            .ciphers
            .get(&sealed.key_id)
            .ok_or_else(|| PiiError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.ciphertext.len() < NONCE_LEN {
            return Err(PiiError::Decrypt);
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| PiiError::Decrypt)?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| PiiError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| PiiError::Decrypt)
    }

    /// Keyed hash for exact look-up; `kind` keeps equal values of different
    /// kinds apart.
    pub fn lookup_hash(&self, kind: &str, value: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.hash_key)
            .expect("HMAC takes any key length");
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// `110105199001011234` -> `110105********1234`. Shorter than 14
/// characters (no real ID number is) it is all stars: the first six and
/// last four would leave too little hidden.
pub fn mask_id_number(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 14 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// `13812345678` -> `138****5678`. Shorter than 11 characters it is all
/// stars: the first three and last four would leave too little hidden.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 11 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
}

/// `张三` -> `张*`, `欧阳娜娜` -> `欧***`: the family name stays, so a
/// partner can tell it is the person it referred, and nothing more.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count();
            if rest == 0 {
                "*".into()
            } else {
                format!("{first}{}", "*".repeat(rest))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_only_their_first_character() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "*");
        assert_eq!(mask_name(""), "");
    }

    fn keys() -> PiiKeys {
        PiiKeys::parse(&PiiKeys::generate_file("k1")).unwrap()
    }

    #[test]
    fn masks_as_shown_to_people() {
        assert_eq!(mask_id_number("110105199001011234"), "110105********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
    }

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let k = keys();
        let sealed = k
            .seal("110105199001011234", "applications.id_number:1")
            .unwrap();
        assert!(!sealed.ciphertext.windows(6).any(|w| w == b"110105"));
        assert_eq!(
            k.open(&sealed, "applications.id_number:1").unwrap(),
            "110105199001011234"
        );
        assert!(matches!(
            k.open(&sealed, "applications.id_number:2"),
            Err(PiiError::Decrypt)
        ));
    }

    #[test]
    fn old_keys_stay_readable_after_rotation() {
        let old = PiiKeys::generate_file("k1");
        let sealed = PiiKeys::parse(&old)
            .unwrap()
            .seal("13812345678", "c")
            .unwrap();
        let new_first = format!(
            "{}{}",
            PiiKeys::generate_file("k2").lines().next().unwrap(),
            "\n"
        ) + &old;
        let rotated = PiiKeys::parse(&new_first).unwrap();
        assert_eq!(rotated.writer_id(), "k2");
        assert_eq!(rotated.open(&sealed, "c").unwrap(), "13812345678");
    }

    #[test]
    fn lookup_hash_is_stable_and_kind_specific() {
        let k = keys();
        assert_eq!(k.lookup_hash("id", "x"), k.lookup_hash("id", "x"));
        assert_ne!(k.lookup_hash("id", "x"), k.lookup_hash("phone", "x"));
    }

    #[test]
    fn bad_key_files_say_what_is_wrong() {
        assert!(
            PiiKeys::parse("k1:abc")
                .unwrap_err()
                .to_string()
                .contains("32 bytes")
                || PiiKeys::parse("k1:abc").is_err()
        );
        assert!(
            PiiKeys::parse("")
                .unwrap_err()
                .to_string()
                .contains("no encryption key")
        );
    }
}
