//! HMAC-SHA256, the one keyed digest the core signs and derives with (action links, the link
//! key's derived keys, `clientState` labels). RustCrypto's `hmac` rather than a C library keeps
//! the core free of native builds.

use hmac::{KeyInit as _, Mac as _};

pub type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A keyed MAC state for `key` (any length is valid for HMAC).
pub fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length: this cannot fail.
    HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// The tag of `data` under an already keyed state.
pub fn tag(key: &HmacSha256, data: &[u8]) -> [u8; 32] {
    let mut mac = key.clone();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Whether `tag` is `data`'s tag under `key`, compared in constant time.
pub fn verify(key: &HmacSha256, data: &[u8], tag: &[u8]) -> bool {
    let mut mac = key.clone();
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

/// SHA-256 of `parts`, each followed by a NUL so that no two lists share a digest.
pub fn sha256_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231, test case 2.
    #[test]
    fn matches_the_rfc_4231_vector() {
        let t = tag(&keyed(b"Jefe"), b"what do ya want for nothing?");
        let hex: String = t.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(verify(&keyed(b"Jefe"), b"what do ya want for nothing?", &t));
        assert!(!verify(
            &keyed(b"Jefe"),
            b"what do ya want for nothing!",
            &t
        ));
    }

    #[test]
    fn sha256_separates_its_parts() {
        assert_ne!(sha256_of(["ab", "c"]), sha256_of(["a", "bc"]));
    }
}
