//! Fingerprints the schema and the demo fixtures, so the test harness rebuilds its template
//! database whenever either changes (and reuses it otherwise).

use std::path::Path;

use sha2::{Digest, Sha256};

fn main() {
    let mut hasher = Sha256::new();
    for dir in [
        "../migrations/src",
        "../fixtures/demo-city",
        "../fixtures/holidays",
    ] {
        println!("cargo:rerun-if-changed={dir}");
        hash_dir(Path::new(dir), &mut hasher);
    }
    let digest = hasher.finalize();
    let short: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=YOYAKU_TEST_TEMPLATE_FINGERPRINT={short}");
}

fn hash_dir(dir: &Path, hasher: &mut Sha256) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            hash_dir(&path, hasher);
        } else if let Ok(bytes) = std::fs::read(&path) {
            hasher.update(path.to_string_lossy().as_bytes());
            hasher.update(&bytes);
        }
    }
}
