//! Values kept in the analyst's browser instead of the store: sealed (AES-256-GCM, a key derived
//! from the action-link key) so only this deployment can read or make them.
//!
//! A sign-in in flight lives in a cookie this way — its `state`, `nonce`, PKCE verifier and what
//! it is for — so that opening `/actions/signin/<link>`, which link scanners do, stores nothing:
//! the store is written only once Entra has signed an analyst in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::action_link::LinkKey;

/// Ties a sealed value to its use: a value sealed for one purpose does not open for another.
const PURPOSE: &str = "riskrelay actions sealed cookie v1";

/// AES-256-GCM's nonce: 96 bits, random per value (aws-lc-rs draws it).
const NONCE_LEN: usize = 12;

pub struct Sealer(aws_lc_rs::aead::RandomizedNonceKey);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    pub fn new(key: &LinkKey) -> Option<Self> {
        aws_lc_rs::aead::RandomizedNonceKey::new(
            &aws_lc_rs::aead::AES_256_GCM,
            &key.derive(PURPOSE),
        )
        .ok()
        .map(Self)
    }

    /// `value` as URL-safe text: nonce, ciphertext and tag. `aad` names what it is for.
    pub fn seal<T: Serialize>(&self, aad: &str, value: &T) -> Option<String> {
        let mut data = serde_json::to_vec(value).ok()?;
        let nonce = self
            .0
            .seal_in_place_append_tag(aws_lc_rs::aead::Aad::from(aad.as_bytes()), &mut data)
            .ok()?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&data);
        Some(B64.encode(out))
    }

    /// The value, if `text` was sealed by this deployment for `aad` and not changed since.
    pub fn open<T: DeserializeOwned>(&self, aad: &str, text: &str) -> Option<T> {
        let raw = B64.decode(text).ok()?;
        if raw.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = aws_lc_rs::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(
                nonce,
                aws_lc_rs::aead::Aad::from(aad.as_bytes()),
                &mut sealed,
            )
            .ok()?;
        serde_json::from_slice(plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(secret: &[u8]) -> Sealer {
        Sealer::new(&LinkKey::new(secret).unwrap()).unwrap()
    }

    #[test]
    fn only_this_key_and_purpose_open_an_unchanged_value() {
        let s = sealer(b"0123456789abcdef0123456789abcdef");
        let text = s.seal("login", &("state", 42)).unwrap();
        assert_eq!(
            s.open::<(String, u32)>("login", &text),
            Some(("state".into(), 42))
        );
        assert_ne!(
            text,
            s.seal("login", &("state", 42)).unwrap(),
            "a fresh nonce each time"
        );
        assert!(!text.contains("state"), "sealed, not merely signed");
        assert_eq!(s.open::<(String, u32)>("session", &text), None);
        let other = sealer(b"fedcba9876543210fedcba9876543210");
        assert_eq!(other.open::<(String, u32)>("login", &text), None);
        let mut bytes = B64.decode(&text).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(s.open::<(String, u32)>("login", &B64.encode(bytes)), None);
        for junk in ["", "AAAA", "!!!", &"A".repeat(5000)] {
            assert_eq!(s.open::<(String, u32)>("login", junk), None);
        }
    }
}
