//! The server's storage going wrong under an asset: other bytes served than those
//! uploaded, while the asset's `digest` and `size` still say the uploaded ones (a
//! storage or CDN fault), and the bytes put back.

use super::GitHubServer;

impl GitHubServer {
    /// The objects host serves `bytes` for the asset from now on; its JSON (`digest`,
    /// `size`) is left as it was.
    pub fn serve_other_bytes(&self, asset_id: u64, bytes: &[u8]) {
        std::fs::write(self.shared.dir.join(asset_id.to_string()), bytes).unwrap();
    }
}
