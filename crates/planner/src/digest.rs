//! SHA-256 digests as stackfleet writes them: lowercase hex, and serde values streamed into the
//! hasher without an intermediate copy.

use sha2::{Digest, Sha256};

/// Lowercase hex of `bytes`, two digits a byte: how plan fingerprints, operation ids and NoEcho
/// digests are written.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Feeds serialized bytes straight into a SHA-256 digest.
pub(crate) struct HashWriter(pub Sha256);

impl HashWriter {
    /// A writer over a fresh digest.
    pub fn new() -> Self {
        HashWriter(Sha256::new())
    }
}

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::hex;

    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
    }
}
